//! Hostile input, one protection per test: .debs, control files, kernels, initrds and
//! nfsroots made to crash, hang, exhaust memory or escape, each of which must instead give
//! a typed error naming the file and the reason.
//!
//! Two helpers turn "never hangs" and "never allocates much" into assertions:
//! [`within`] runs the work on a thread and fails the test if it is still running after a
//! minute (the unprotected code takes hours); [`peak_alloc`] measures the most heap the work
//! held at once, through a counting global allocator (Rust allocations only: liblzma and
//! zstd allocate in C).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use elirepo::deb::{read_info_from, DebErrorKind};

// ---------------------------------------------------------------------------------------
// Helpers

/// Counts the heap bytes each thread holds, and the peak.
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = HELD.try_with(|h| {
        let now = h.get() + delta;
        h.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the bookkeeping uses
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            note(l.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            note(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        note(-(l.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            note(new as isize - l.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the most heap (bytes, Rust allocations on this
/// thread) it held at once.
fn peak_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = HELD.with(|h| h.get());
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(|p| p.get()) - base;
    (r, peak.max(0) as usize)
}

const MIB: usize = 1 << 20;

/// Runs `f` on its own thread; fails if it is still running after a minute.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after a minute: a hang")
        }
        Err(_) => panic!("{what}: the work panicked"),
    }
}

use common::ar_archive as ar;

/// A raw tar header (GNU format) for `name` of `size` bytes and type `kind`.
fn tar_header(name: &[u8], size: u64, kind: tar::EntryType) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    *h.as_bytes()
}

/// A tar entry: header, data, padding to 512.
fn tar_entry(name: &[u8], data: &[u8], kind: tar::EntryType) -> Vec<u8> {
    let mut v = tar_header(name, data.len() as u64, kind).to_vec();
    v.extend_from_slice(data);
    v.resize(v.len().div_ceil(512) * 512, 0);
    v
}

/// The end of a tar archive.
fn tar_end() -> Vec<u8> {
    vec![0; 1024]
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `n` MiB of zeros as a multi-member gzip (each member 1 MiB), built in milliseconds.
fn gzip_zeros_mib(n: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0; MIB]).unwrap();
    e.finish().unwrap().repeat(n)
}

/// A .deb with these raw control and data members.
fn deb_with(control_name: &[u8], control: &[u8], data_name: &[u8], data: &[u8]) -> Vec<u8> {
    ar(&[
        (b"debian-binary", b"2.0\n"),
        (control_name, control),
        (data_name, data),
    ])
}

fn control_tar(control: &[u8]) -> Vec<u8> {
    [
        tar_entry(b"./control", control, tar::EntryType::Regular),
        tar_end(),
    ]
    .concat()
}

fn info(d: &[u8]) -> Result<elirepo::deb::DebInfo, DebErrorKind> {
    read_info_from(d, Some(d.len() as u64))
}

fn err_text<T, E: std::fmt::Display>(r: Result<T, E>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// .deb: the ar container

#[test]
fn every_cut_of_a_deb_is_a_typed_error() {
    let d = common::DebBuilder::new("cut").build();
    assert!(info(&d).is_ok());
    for cut in 0..d.len() {
        let part = &d[..cut];
        for len in [Some(cut as u64), None] {
            // Without a length, apt (and elirepo) forgive a missing final padding byte.
            if len.is_none() && cut == d.len() - 1 && d.ends_with(b"\n") {
                continue;
            }
            match read_info_from(part, len) {
                Ok(_) => panic!("cut at {cut} of {} ({len:?}) accepted", d.len()),
                Err(DebErrorKind::Io(e)) => panic!("cut at {cut}: a bare I/O error: {e}"),
                Err(_) => {}
            }
        }
    }
}

#[test]
fn ar_sizes_that_lie() {
    let good = deb_with(
        b"control.tar",
        &control_tar(b"Package: p\n"),
        b"data.tar",
        b"",
    );
    // The size field of the control.tar header: 8 (magic) + 60 + 4 (debian-binary) + 48.
    let at = 8 + 60 + 4 + 48;
    let with_size = |s: &[u8; 10]| {
        let mut d = good.clone();
        d[at..at + 10].copy_from_slice(s);
        d
    };
    // Smaller than the member: the rest of the member is read as the next header.
    for size in [b"100       ", b"0         ", b"511       "] {
        let d = with_size(size);
        for len in [Some(d.len() as u64), None] {
            match read_info_from(&d[..], len) {
                Ok(_) => panic!("size {size:?} accepted"),
                Err(DebErrorKind::Io(e)) => panic!("size {size:?}: a bare I/O error: {e}"),
                Err(_) => {}
            }
        }
    }
    // Not a number.
    let e = err_text(info(&with_size(b"abc       ")));
    assert!(e.contains("invalid ar member header"), "{e}");
    let e = err_text(info(&with_size(b"-5        ")));
    assert!(e.contains("invalid ar member header"), "{e}");
    // Larger than the file, length known: refused before reading.
    let e = err_text(info(&with_size(b"9999999999")));
    assert!(e.contains("announces 9999999999 bytes"), "{e}");
    // Larger than the file, length unknown: a truncation, and nothing allocated for it.
    let d = with_size(b"9999999999");
    let (r, peak) = peak_alloc(|| read_info_from(&d[..], None));
    let e = err_text(r);
    assert!(e.contains("truncated"), "{e}");
    assert!(peak < 4 * MIB, "{peak} bytes allocated");
}

#[test]
fn bsd_long_names_that_lie() {
    let tar = control_tar(b"Package: p\n");
    let bsd = |name_len: &str, size: usize, name: &[u8]| {
        let mut d = b"!<arch>\n".to_vec();
        d.extend_from_slice(
            format!(
                "#1/{name_len:<13}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0, 0, 0, 100644, size
            )
            .as_bytes(),
        );
        d.extend_from_slice(name);
        d.extend_from_slice(&tar);
        d
    };
    // A name longer than apt allows.
    let e = err_text(info(&bsd("300", 400, b"control.tar")));
    assert!(e.contains("invalid ar member header"), "{e}");
    // A name longer than the member.
    let e = err_text(info(&bsd("12", 4, b"control.tar\0")));
    assert!(e.contains("smaller than its name"), "{e}");
    // A name running past the end of the file.
    let d = bsd("200", 300, b"short");
    let e = err_text(read_info_from(&d[..d.len() - tar.len()], None));
    assert!(e.contains("truncated"), "{e}");
}

// ---------------------------------------------------------------------------------------
// .deb: the control member

#[test]
fn a_control_tar_of_300_mib_of_zeros_ends_at_its_first_block() {
    // A small gzip of 300 MiB of zeros: tar sees the end-of-archive block at once.
    let bomb = gzip_zeros_mib(300);
    assert!(bomb.len() < MIB);
    let d = deb_with(b"control.tar.gz", &bomb, b"data.tar", b"");
    let (r, peak) = within("zero bomb", move || peak_alloc(|| info(&d).map(|_| ())));
    assert!(matches!(r, Err(DebErrorKind::NoControlFile(_))), "{r:?}");
    assert!(peak < 16 * MIB, "{peak} bytes allocated");
}

#[test]
fn a_control_tar_bomb_hits_the_expansion_limit() {
    // "./junk" claims 300 MiB of zeros before "./control": decompression stops at the limit.
    let mut bomb = gzip(&tar_header(b"./junk", 300 << 20, tar::EntryType::Regular));
    bomb.extend_from_slice(&gzip_zeros_mib(300));
    bomb.extend_from_slice(&gzip(&control_tar(b"Package: p\n")));
    let d = deb_with(b"control.tar.gz", &bomb, b"data.tar", b"");
    let (r, peak) = within("junk bomb", move || peak_alloc(|| info(&d).map(|_| ())));
    let e = err_text(r);
    assert!(
        e.contains("control.tar.gz: control data expands to more than 268435456 bytes"),
        "{e}"
    );
    assert!(peak < 16 * MIB, "{peak} bytes allocated");
}

#[test]
fn several_control_members_share_one_expansion_budget() {
    // Each member stays under the limit; together they would decompress 3 × 200 MiB.
    let mut one = gzip(&tar_header(b"./junk", 200 << 20, tar::EntryType::Regular));
    one.extend_from_slice(&gzip_zeros_mib(200));
    one.extend_from_slice(&gzip(&control_tar(b"Package: p\n")));
    let d = ar(&[
        (b"debian-binary", b"2.0\n"),
        (b"control.tar.gz", &one),
        (b"control.tar.gz", &one),
        (b"control.tar.gz", &one),
        (b"data.tar", b""),
    ]);
    let e = err_text(within("three bombs", move || info(&d).map(|_| ())));
    assert!(e.contains("expands to more than"), "{e}");
}

#[test]
fn a_gnu_long_name_bomb_in_control_is_refused_without_allocating_it() {
    // A GNU long-name entry of 200 MiB (zeros): tar-rs would read it whole into memory.
    let mut bomb = gzip(&tar_header(
        b"././@LongLink",
        200 << 20,
        tar::EntryType::GNULongName,
    ));
    bomb.extend_from_slice(&gzip_zeros_mib(200));
    bomb.extend_from_slice(&gzip(&control_tar(b"Package: p\n")));
    let d = deb_with(b"control.tar.gz", &bomb, b"data.tar", b"");
    let (r, peak) = within("long name bomb", move || {
        peak_alloc(|| info(&d).map(|_| ()))
    });
    let e = err_text(r);
    assert!(
        e.contains("control.tar.gz") && e.contains("long name"),
        "{e}"
    );
    assert!(peak < 16 * MIB, "{peak} bytes allocated");
}

#[test]
fn a_control_file_shorter_than_its_tar_header_is_refused() {
    // The header says 100 bytes; the (uncompressed) tar ends after 20.
    let mut t = tar_header(b"./control", 100, tar::EntryType::Regular).to_vec();
    t.extend_from_slice(b"Package: truncated\n\n");
    let d = deb_with(b"control.tar", &t, b"data.tar", b"");
    let e = err_text(info(&d));
    assert!(e.contains("control.tar") && e.contains("truncated"), "{e}");
}

#[test]
fn control_files_over_the_limit_are_refused_before_reading() {
    let big = elirepo::deb::MAX_CONTROL_FILE + 1;
    let mut t = tar_header(b"./control", big, tar::EntryType::Regular).to_vec();
    t.extend_from_slice(&[b'a'; 4096]);
    let d = deb_with(b"control.tar", &t, b"data.tar", b"");
    let (r, peak) = peak_alloc(|| info(&d).map(|_| ()));
    assert!(matches!(r, Err(DebErrorKind::ControlTooLarge(n)) if n == big));
    assert!(peak < 2 * MIB, "{peak} bytes allocated");
}

#[test]
fn a_gigantic_field_under_the_limit_is_read_and_written() {
    let mut c = b"Package: big\nDescription: x\n".to_vec();
    while c.len() < (elirepo::deb::MAX_CONTROL_FILE as usize) - 100 {
        c.extend_from_slice(b" a line of a very long description\n");
    }
    let d = deb_with(
        b"control.tar.xz",
        &common::Comp::Xz.compress(&control_tar(&c)),
        b"data.tar",
        b"",
    );
    let i = info(&d).unwrap();
    let mut out = Vec::new();
    elirepo::index::write_stanza(
        &mut out,
        &i.control,
        &i.hashes,
        b"pool/b/big.deb",
        &Default::default(),
        &elirepo::index::Overrides::default(),
        None,
    );
    // The whole field, byte for byte, after the fields the index adds.
    let head = format!(
        "Package: big\nFilename: pool/b/big.deb\nSize: {}\n",
        d.len()
    );
    assert!(
        out.starts_with(head.as_bytes()),
        "{}",
        out[..out.len().min(300)].escape_ascii()
    );
    let description = &c[b"Package: big\n".len()..];
    assert!(
        out.ends_with(&[description, b"\n"].concat()),
        "the description is not written whole: {} bytes, ending {}",
        out.len(),
        out[out.len().saturating_sub(200)..].escape_ascii()
    );
    // And the stanza is apt-ftparchive's for the same .deb.
    if common::have_tool("apt-ftparchive") {
        let t = common::tempdir();
        fs::create_dir_all(t.path().join("pool/b")).unwrap();
        fs::write(t.path().join("pool/b/big.deb"), &d).unwrap();
        let apt = common::output_of(
            std::process::Command::new("apt-ftparchive")
                .args(["packages", "pool"])
                .current_dir(t.path()),
        );
        assert!(
            apt.status.success(),
            "{}",
            String::from_utf8_lossy(&apt.stderr)
        );
        common::assert_bytes_eq(&apt.stdout, &out, "a 4 MiB control file vs apt-ftparchive");
    }
}

#[test]
fn a_control_file_of_many_distinct_fields_is_written_in_linear_time() {
    // 200 000 distinct field names: writing looked each one up from the end (quadratic).
    let mut c = b"Package: many\n".to_vec();
    for i in 0..200_000 {
        c.extend_from_slice(format!("X-{i}: {i}\n").as_bytes());
    }
    let out = within("many fields", move || {
        let p = elirepo::control::Paragraph::parse(&c);
        let mut out = Vec::new();
        p.write(&mut out, elirepo::index::PACKAGE_ORDER, &[]);
        out
    });
    assert!(out.ends_with(b"X-199999: 199999\n"));
}

#[test]
fn non_utf8_names_and_values_are_shown_lossily() {
    // Latin-1 and invalid UTF-8 in the control file are kept byte for byte.
    let c = b"Package: p\xe9\nMaintainer: J\xfcrgen \xff\xfe <j@x>\n";
    let i = info(&deb_with(b"control.tar", &control_tar(c), b"data.tar", b"")).unwrap();
    assert_eq!(
        i.control.get("Maintainer").unwrap(),
        b"J\xfcrgen \xff\xfe <j@x>"
    );
    // Member names and versions that are not UTF-8 appear in errors, lossily.
    let e = err_text(info(&deb_with(
        b"control.tar",
        &control_tar(b"Package: p\n"),
        b"data.tar.\xff\xfe",
        b"",
    )));
    assert!(e.contains("data.tar.\u{fffd}\u{fffd}"), "{e}");
    let e = err_text(info(&ar(&[
        (b"debian-binary", b"\xff\xfe\n"),
        (b"control.tar", &control_tar(b"Package: p\n")),
        (b"data.tar", b""),
    ])));
    assert!(e.contains("unsupported package format version"), "{e}");
    // A name field that is not UTF-8 at all.
    let e = err_text(info(&ar(&[(b"\xff\xff\xff", b"x")])));
    assert!(e.contains("no debian-binary member"), "{e}");
}

// ---------------------------------------------------------------------------------------
// netboot::extract_kernel: a kernel out of a .deb's data.tar

/// A linux-image-like .deb whose data.tar (gzip) is `data_tar`.
fn kernel_deb(dir: &Path, data_tar: &[u8]) -> PathBuf {
    let p = dir.join("linux-image.deb");
    let d = deb_with(
        b"control.tar",
        &control_tar(b"Package: linux-image-x\n"),
        b"data.tar.gz",
        &gzip(data_tar),
    );
    fs::write(&p, d).unwrap();
    p
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            e.unwrap()
                .path()
                .strip_prefix(dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn kernel_extraction_never_writes_outside_its_directory() {
    let t = common::tempdir();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let tar = [
        tar_entry(b"../../evil", b"x", tar::EntryType::Regular),
        tar_entry(b"/tmp/evil-abs", b"x", tar::EntryType::Regular),
        tar_entry(
            b"./boot/vmlinuz-1/../../../evil",
            b"x",
            tar::EntryType::Regular,
        ),
        tar_entry(b"boot/vmlinuz-2/x", b"x", tar::EntryType::Regular),
        tar_entry(b"./boot/vmlinuz-..", b"dots", tar::EntryType::Regular),
        tar_end(),
    ]
    .concat();
    let deb = kernel_deb(t.path(), &tar);
    let (k, v) = elirepo::netboot::extract_kernel(&deb, &out, None, 1 << 20).unwrap();
    assert_eq!(v, "..");
    assert_eq!(k, out.join("vmlinuz-.."));
    assert_eq!(fs::read(&k).unwrap(), b"dots");
    assert_eq!(
        listing(t.path()),
        ["linux-image.deb", "out", "out/vmlinuz-.."]
    );
}

#[test]
fn kernel_extraction_never_follows_links_in_the_package() {
    let t = common::tempdir();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let secret = t.path().join("secret");
    fs::write(&secret, b"host file").unwrap();
    let mut sym = tar::Header::new_gnu();
    sym.set_entry_type(tar::EntryType::Symlink);
    sym.set_size(0);
    sym.set_path("boot/vmlinuz-1").unwrap();
    sym.set_link_name(&secret).unwrap();
    sym.set_cksum();
    let mut hard = sym.clone();
    hard.set_entry_type(tar::EntryType::Link);
    hard.set_path("boot/vmlinuz-2").unwrap();
    hard.set_cksum();
    let tar = [sym.as_bytes().to_vec(), hard.as_bytes().to_vec(), tar_end()].concat();
    let deb = kernel_deb(t.path(), &tar);
    let e = err_text(elirepo::netboot::extract_kernel(&deb, &out, None, 1 << 20));
    assert!(
        e.contains("1 (not a regular file), 2 (not a regular file)"),
        "{e}"
    );
    assert!(listing(&out).is_empty());
}

#[test]
fn kernel_extraction_never_writes_through_a_link_in_its_directory() {
    let t = common::tempdir();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let victim = t.path().join("victim");
    fs::write(&victim, b"untouched").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("vmlinuz-1")).unwrap();
    let tar = [
        tar_entry(b"./boot/vmlinuz-1", b"kernel", tar::EntryType::Regular),
        tar_end(),
    ]
    .concat();
    let deb = kernel_deb(t.path(), &tar);
    let e = err_text(elirepo::netboot::extract_kernel(&deb, &out, None, 1 << 20));
    assert!(e.contains("vmlinuz-1"), "{e}");
    assert_eq!(fs::read(&victim).unwrap(), b"untouched");
}

#[test]
fn kernel_entries_that_lie_about_their_size() {
    let t = common::tempdir();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    // Larger than the limit: refused before writing anything.
    let mut big = tar_header(b"./boot/vmlinuz-1", 1 << 40, tar::EntryType::Regular).to_vec();
    big.extend_from_slice(&[0; 512]);
    let deb = kernel_deb(t.path(), &big);
    let e = err_text(elirepo::netboot::extract_kernel(&deb, &out, None, 32 << 20));
    assert!(e.contains("over the 33554432-byte kernel limit"), "{e}");
    assert!(listing(&out).is_empty());
    // The data ends before the size the header gives.
    let mut short = tar_header(b"./boot/vmlinuz-1", 5000, tar::EntryType::Regular).to_vec();
    short.extend_from_slice(&[7; 1000]);
    let deb = kernel_deb(t.path(), &short);
    let e = err_text(elirepo::netboot::extract_kernel(&deb, &out, None, 32 << 20));
    assert!(
        e.contains("boot/vmlinuz-1") && e.contains("1000 of 5000"),
        "{e}"
    );
}

#[test]
fn a_gnu_long_name_bomb_in_data_tar_is_refused_without_allocating_it() {
    let t = common::tempdir();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    // 1 GiB of long name (zeros), 1 MiB of gzip.
    let mut data = gzip(&tar_header(
        b"././@LongLink",
        1 << 30,
        tar::EntryType::GNULongName,
    ));
    data.extend_from_slice(&gzip_zeros_mib(1024));
    let p = t.path().join("bomb.deb");
    fs::write(
        &p,
        deb_with(
            b"control.tar",
            &control_tar(b"Package: linux-image-x\n"),
            b"data.tar.gz",
            &data,
        ),
    )
    .unwrap();
    let (r, peak) = within("data long name bomb", move || {
        peak_alloc(|| elirepo::netboot::extract_kernel(&p, &out, None, 32 << 20).map(|_| ()))
    });
    let e = err_text(r);
    assert!(e.contains("data.tar") && e.contains("long name"), "{e}");
    assert!(peak < 16 * MIB, "{peak} bytes allocated");
}

#[test]
fn long_names_are_still_honoured_when_they_are_small() {
    let t = common::tempdir();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let name = format!("./boot/vmlinuz-{}", "9".repeat(120));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    b.append_data(&mut h, &name, &b"kernel"[..]).unwrap();
    let deb = kernel_deb(t.path(), &b.into_inner().unwrap());
    let (k, v) = elirepo::netboot::extract_kernel(&deb, &out, None, 1 << 20).unwrap();
    assert_eq!(v, "9".repeat(120));
    assert_eq!(fs::read(k).unwrap(), b"kernel");
}

// ---------------------------------------------------------------------------------------
// Kernels

use common::synth;

fn kernel(bytes: &[u8]) -> Result<elirepo::xen::KernelReport, elirepo::xen::XenError> {
    elirepo::xen::inspect_kernel(Cursor::new(bytes.to_vec()), Path::new("vmlinuz"))
}

#[test]
fn empty_lz4_blocks_cost_their_size_not_a_block_each() {
    // 200 000 blocks of one byte that decompress to nothing: each used to cost an 8 MiB memset.
    let mut p = 0x184C_2102u32.to_le_bytes().to_vec();
    for _ in 0..200_000 {
        p.extend_from_slice(&[1, 0, 0, 0, 0]);
    }
    let elf = synth::ElfSpec::amd64(&synth::amd64_notes()).build();
    p.extend_from_slice(&synth::compress_raw(synth::Comp::Lz4, &elf)[4..]);
    p.extend_from_slice(&(elf.len() as u32).to_le_bytes());
    let k = synth::bzimage(&p, &synth::BzSpec::default());
    let r = within("lz4 empty blocks", move || kernel(&k).map(|r| r.verdict));
    assert_eq!(r.unwrap(), elirepo::xen::Verdict::PvCapable);
    // The same in an initrd.
    let mut i = 0x184C_2102u32.to_le_bytes().to_vec();
    for _ in 0..200_000 {
        i.extend_from_slice(&[1, 0, 0, 0, 0]);
    }
    let r = within("lz4 empty blocks in an initrd", move || {
        elirepo::initrd::inspect_initrd(Cursor::new(i), Path::new("initrd"), None)
            .map(|r| r.parts.len())
    });
    assert_eq!(r.unwrap(), 1);
}

#[test]
fn a_version_pointer_past_the_end_gives_no_version() {
    let mut k = synth::bz(
        synth::Comp::Gzip,
        &synth::ElfSpec::amd64(&synth::amd64_notes()).build(),
    );
    synth::put16(&mut k, 0x20e, 0xffff);
    let r = kernel(&k).unwrap();
    assert_eq!(r.kernel_version, None);
    assert_eq!(
        r.release(),
        Some("6.1.0-99-amd64"),
        "from the build-salt note"
    );
}

#[test]
fn overlapping_note_segments_are_read_once_and_capped_together() {
    let elf = synth::ElfSpec::amd64(&synth::amd64_notes()).build();
    // Program headers: PT_LOAD at 64, PT_NOTE at 120. Copy the PT_NOTE over the PT_LOAD:
    // the same bytes described twice are read once and give their notes twice.
    let (ph0, ph1) = (64, 64 + 56);
    let mut e = elf.clone();
    let note_ph: Vec<u8> = e[ph1..ph1 + 56].to_vec();
    e[ph0..ph0 + 56].copy_from_slice(&note_ph);
    assert_eq!(kernel(&e).unwrap().notes.len(), 2 * 15);
    // Segment 0 now covers the whole image but one byte, overlapping segment 1: not notes,
    // a typed error.
    let size = e.len() as u64;
    let mut bad = e.clone();
    synth::put64(&mut bad, ph0 + 8, 1);
    synth::put64(&mut bad, ph0 + 32, size - 1);
    let r = kernel(&bad);
    assert!(
        matches!(r, Err(elirepo::xen::XenError::BadNote { .. })),
        "{r:?}"
    );
    // Two 3 MiB segments over the same bytes: 6 MiB of notes, over the cap together even
    // though they overlap.
    let mut big = e;
    big.resize(4 << 20, 0);
    for ph in [ph0, ph1] {
        synth::put64(&mut big, ph + 8, 4096);
        synth::put64(&mut big, ph + 32, 3 << 20);
    }
    let r = kernel(&big);
    assert!(
        matches!(r, Err(elirepo::xen::XenError::Limit { .. })),
        "{r:?}"
    );
}

#[test]
fn huge_program_header_tables_hit_the_cap_inside_a_big_image() {
    // 65535 entries of 65535 bytes (4 GiB) in a small image, then 100 of them (6.5 MiB) in an
    // 8 MiB image, over the 4 MiB cap: both refused before reading the table.
    let mut elf = synth::ElfSpec::amd64(&synth::amd64_notes()).build();
    synth::put16(&mut elf, 54, 0xffff);
    synth::put16(&mut elf, 56, 0xffff);
    let e = kernel(&elf).unwrap_err();
    assert!(e.to_string().contains("program header table"), "{e}");
    let mut elf = synth::ElfSpec::amd64(&synth::amd64_notes()).build();
    elf.resize(8 << 20, 0);
    synth::put16(&mut elf, 54, 0xffff);
    synth::put16(&mut elf, 56, 100);
    let e = kernel(&elf).unwrap_err();
    assert!(matches!(e, elirepo::xen::XenError::Limit { .. }), "{e}");
}

// ---------------------------------------------------------------------------------------
// Initrds

#[test]
fn zero_padding_inside_a_compressed_initrd_counts_against_the_limit() {
    // A small zstd frame of 512 MiB of zeros (RLE blocks) after a cpio archive: the zeros
    // are padding between archives, and walking them is work like any other.
    let mut cpio = Vec::new();
    cpio.extend_from_slice(
        format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0
        )
        .as_bytes(),
    );
    cpio.extend_from_slice(b"TRAILER!!!\0");
    while cpio.len() % 4 != 0 {
        cpio.push(0);
    }
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
    enc.write_all(&cpio).unwrap();
    let zeros = vec![0u8; MIB];
    for _ in 0..512 {
        enc.write_all(&zeros).unwrap();
    }
    let z = enc.finish().unwrap();
    assert!(z.len() < 64 << 10, "{}", z.len());
    let limits = elirepo::initrd::Limits {
        max_unpacked: 64 << 20,
        ..Default::default()
    };
    let r = within("zero padding", move || {
        elirepo::initrd::inspect_initrd_with(
            Cursor::new(z),
            Path::new("initrd"),
            Some("1"),
            &limits,
        )
    })
    .unwrap();
    assert_eq!(r.matches, None, "the cap leaves the answer open");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("unpacked bytes (limit)")),
        "{:?}",
        r.warnings
    );
}

// ---------------------------------------------------------------------------------------
// nfsroot: links resolved inside the root

#[test]
fn a_chain_of_links_longer_than_linux_allows_is_a_loop() {
    let t = common::tempdir();
    let r = t.path();
    fs::create_dir(r.join("boot")).unwrap();
    fs::write(r.join("boot/vmlinuz-1"), b"k").unwrap();
    // l0 -> l1 -> ... -> l40 -> boot/vmlinuz-1: 41 links.
    for i in 0..41 {
        std::os::unix::fs::symlink(format!("l{}", i + 1), r.join(format!("l{i}"))).unwrap();
    }
    std::os::unix::fs::symlink("boot/vmlinuz-1", r.join("l41")).unwrap();
    let e = elirepo::nfsroot::resolve_in_root(r, Path::new("l0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("too many levels of symbolic links"), "{e}");
    // 40 links are fine, as for Linux.
    assert_eq!(
        elirepo::nfsroot::resolve_in_root(r, Path::new("l2")).unwrap(),
        r.join("boot/vmlinuz-1")
    );
    // A link to itself.
    std::os::unix::fs::symlink("self", r.join("self")).unwrap();
    let e = elirepo::nfsroot::resolve_in_root(r, Path::new("self"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("loop"), "{e}");
}

#[test]
fn links_escaping_the_nfsroot_are_refused() {
    let t = common::tempdir();
    let r = t.path().join("root");
    fs::create_dir_all(r.join("boot")).unwrap();
    fs::write(t.path().join("outside"), b"host").unwrap();
    let link = |target: &str, name: &str| std::os::unix::fs::symlink(target, r.join(name)).unwrap();
    link("../../outside", "boot/vmlinuz-up");
    link("/../outside", "boot/vmlinuz-abs-up");
    link("../../../../../../outside", "boot/vmlinuz-deep");
    link("..", "boot/parent");
    for name in [
        "boot/vmlinuz-up",
        "boot/vmlinuz-abs-up",
        "boot/vmlinuz-deep",
        "boot/parent/../outside",
    ] {
        let e = elirepo::nfsroot::resolve_in_root(&r, Path::new(name))
            .unwrap_err()
            .to_string();
        assert!(e.contains("climbs above the nfsroot"), "{name}: {e}");
    }
    let k = elirepo::nfsroot::find_kernels(&r).unwrap();
    assert!(k.pairs.is_empty(), "{:?}", k.pairs);
    assert_eq!(k.skipped.len(), 3, "{:?}", k.skipped);
}

#[test]
fn a_kernel_that_is_a_device_a_fifo_a_socket_or_a_directory_is_never_opened() {
    let t = common::tempdir();
    let r = t.path();
    fs::create_dir_all(r.join("boot/vmlinuz-dir")).unwrap();
    fs::create_dir_all(r.join("dev")).unwrap();
    // The host's /dev/null means the nfsroot's dev/null here: absent.
    std::os::unix::fs::symlink("/dev/null", r.join("boot/vmlinuz-null")).unwrap();
    // A socket stands for the nfsroot's own device nodes (creating those needs root).
    let _sock = std::os::unix::net::UnixListener::bind(r.join("dev/sock")).unwrap();
    std::os::unix::fs::symlink("/dev/sock", r.join("boot/vmlinuz-sock")).unwrap();
    // A FIFO: opening it would block forever.
    let fifo = r.join("boot/vmlinuz-fifo");
    // Without a FIFO only that case is skipped (a failure under ELIREPO_REQUIRE_TOOLS=1).
    let have_fifo = common::make_fifo(&fifo);
    let root = r.to_path_buf();
    let k = within("find_kernels", move || {
        elirepo::nfsroot::find_kernels(&root)
    })
    .unwrap();
    assert!(k.pairs.is_empty(), "{:?}", k.pairs);
    let skipped = k.skipped.join("\n");
    assert!(
        skipped.contains("boot/vmlinuz-dir: is a directory"),
        "{skipped}"
    );
    assert!(skipped.contains("/dev/null: No such file"), "{skipped}");
    assert!(
        skipped.contains("boot/vmlinuz-sock: is not a regular file"),
        "{skipped}"
    );
    if have_fifo {
        assert!(
            skipped.contains("boot/vmlinuz-fifo: is not a regular file"),
            "{skipped}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Files that are not files

#[test]
fn fifos_sockets_devices_and_directories_are_never_opened() {
    let t = common::tempdir();
    let fifo = t.path().join("fifo");
    // Without a FIFO only that case is skipped (a failure under ELIREPO_REQUIRE_TOOLS=1).
    let have_fifo = common::make_fifo(&fifo);
    let sock = t.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut paths = vec![
        (sock, "is a socket"),
        (PathBuf::from("/dev/null"), "is a device"),
        (t.path().to_path_buf(), "is a directory"),
    ];
    if have_fifo {
        paths.push((fifo, "is a FIFO"));
    }
    for (p, want) in paths {
        let errors = within("opening", move || {
            [
                elirepo::deb::read_info(&p)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                elirepo::deb::open_data(&p)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                elirepo::xen::inspect_kernel_file(&p)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                elirepo::initrd::inspect_initrd_file(&p, None)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                elirepo::hash::hash_file(&p)
                    .map(|_| ())
                    .map_err(|e| format!("{}: {e}", p.display())),
            ]
        });
        for e in errors {
            let e = e.unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
