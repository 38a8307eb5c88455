//! Replays the fuzzers' interesting inputs on stable `cargo test`.
//!
//! Every file under `fuzz/regressions/<target>/` goes through the same check as the
//! cargo-fuzz target of that name (`fuzz/checks.rs`): no panic, no broken property.
//! The inputs that once crashed, hung or exhausted memory are also listed in
//! [`EXPECTED`] with the typed error (or success) they must give now.
//!
//! `cargo test --test fuzz_regressions -- --ignored write_fuzz_seeds` writes the seed
//! corpora into `fuzz/corpus/<target>/` (see `fuzz/README.md`).

mod common;

#[path = "../fuzz/checks.rs"]
mod checks;
use common::synth;

use std::fs;
use std::path::{Path, PathBuf};

/// A check of `fuzz/checks.rs`: `Ok`, or the error text the reader gave.
type Check = fn(&[u8]) -> Result<(), String>;

/// The fuzz targets, each with its check.
const TARGETS: &[(&str, Check)] = &[
    ("deb_info", checks::deb_info),
    ("control", checks::control),
    ("kernel", checks::kernel),
    ("initrd", checks::initrd),
    ("overrides", checks::overrides),
];

/// Former crashers, hangs and memory hogs: (target, file, what the check must return:
/// `Ok` or a substring of the error).
const EXPECTED: &[(&str, &str, Result<(), &str>)] = &[
    // Hand-made (write_directed_regressions), one per finding they pin.
    (
        "deb_info",
        "control-long-name-1mib.deb",
        Err("a GNU long name of 1048576 bytes"),
    ),
    (
        "deb_info",
        "control-truncated.deb",
        Err("control is truncated (20 of 100 bytes)"),
    ),
    (
        "deb_info",
        "debian-binary-cut.deb",
        Err("truncated archive"),
    ),
    (
        "deb_info",
        "control-xz-4gib-dictionary.deb",
        Err("control.tar.xz: memory limit reached"),
    ),
    ("kernel", "bz-lz4-empty-blocks", Ok(())),
    ("initrd", "lz4-empty-blocks", Ok(())),
    // Found by the fuzzers.
    (
        "kernel",
        "gzip-elf-distance-too-far-back",
        Err("fuzz-input: "),
    ),
];

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn every_regression_input_passes_its_check() {
    let mut count = 0;
    for (target, check) in TARGETS {
        for f in files(&regressions_dir().join(target)) {
            let data = fs::read(&f).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{target}: {} panics", f.display());
            count += 1;
        }
    }
    assert!(count > 0, "no regression inputs found");
}

#[test]
fn former_crashers_give_their_typed_error() {
    for (target, file, want) in EXPECTED {
        let check = TARGETS.iter().find(|(t, _)| t == target).unwrap().1;
        let path = regressions_dir().join(target).join(file);
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match (check(&data), want) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err(w)) => assert!(e.contains(w), "{target}/{file}: {e:?} lacks {w:?}"),
            (got, want) => panic!("{target}/{file}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn every_listed_file_exists_and_every_target_has_inputs() {
    for (target, file, _) in EXPECTED {
        assert!(
            regressions_dir().join(target).join(file).is_file(),
            "{target}/{file} is listed but missing"
        );
    }
    for (target, _) in TARGETS {
        assert!(
            !files(&regressions_dir().join(target)).is_empty(),
            "fuzz/regressions/{target}/ is empty"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Seed corpora

/// A newc cpio archive of `(name, data)` entries, with its trailer.
fn cpio(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |name: &str, data: &[u8], mode: u32| {
        let namesize = name.len() + 1;
        out.extend_from_slice(
            format!(
                "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
                1, mode, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, namesize, 0
            )
            .as_bytes(),
        );
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    };
    for (name, data) in entries {
        let mode = if name.ends_with('/') {
            0o40755
        } else {
            0o100644
        };
        put(name.trim_end_matches('/'), data, mode);
    }
    put("TRAILER!!!", b"", 0);
    out
}

/// The `control` file of a .deb, found with elirepo's own ar reader.
fn control_of(deb: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut ar = elirepo::deb::ArReader::new(deb, Some(deb.len() as u64)).ok()?;
    while let Some(h) = ar.next_member().ok()? {
        let Some(suffix) = h.name.strip_prefix(b"control.tar") else {
            continue;
        };
        let c = elirepo::compress::Compression::from_suffix(suffix)?;
        let mut tar = tar::Archive::new(c.decoder(ar.member()).ok()?);
        for e in tar.entries().ok()? {
            let mut e = e.ok()?;
            let p = e.path_bytes().into_owned();
            if p == b"./control" || p == b"control" {
                let mut v = Vec::new();
                e.read_to_end(&mut v).ok()?;
                return Some(v);
            }
        }
    }
    None
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "writes the fuzz seed corpora; run by hand"]
fn write_fuzz_seeds() {
    use synth::*;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("fuzz/corpus");
    let write = |target: &str, name: &str, data: &[u8]| {
        let d = corpus.join(target);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(name), data).unwrap();
    };

    // .debs: the fixtures, good and broken; their control files.
    let mut debs = Vec::new();
    walk(&root.join("fixtures/packages"), &mut debs);
    walk(&root.join("fixtures/broken"), &mut debs);
    debs.sort();
    let mut controls = Vec::new();
    for (i, p) in debs.iter().enumerate() {
        let data = fs::read(p).unwrap();
        if !data.starts_with(b"!<arch>") && !p.to_string_lossy().contains("broken") {
            continue;
        }
        let base = p.file_name().unwrap().to_string_lossy();
        write("deb_info", &format!("{i:02}-{base}"), &data);
        if let Some(c) = control_of(&data) {
            write("control", &format!("{i:02}-{base}.control"), &c);
            controls.push(c);
        }
    }

    // Overrides: the fixture override file, 0xff, a control paragraph.
    let ov = fs::read(root.join("fixtures/override")).unwrap();
    for (i, c) in controls.iter().enumerate().take(8) {
        let mut seed = ov.clone();
        seed.push(0xff);
        seed.extend_from_slice(c);
        write("overrides", &format!("{i:02}"), &seed);
    }

    // Kernels: small synthetic ones of every shape.
    let small = |mut s: ElfSpec| {
        s.filler = 32;
        s.tail = 32;
        s
    };
    let amd64 = small(ElfSpec::amd64(&amd64_notes())).build();
    let i386 = small(ElfSpec::i386(&pv32_notes(true))).build();
    let pvh = small(ElfSpec::i386(&pvh32_notes())).build();
    let sect = small(ElfSpec {
        notes_in_phdr: false,
        notes_in_section: true,
        phdrs_at_end: true,
        ..ElfSpec::amd64(&amd64_notes())
    })
    .build();
    let guest = small(ElfSpec {
        notes: None,
        xen_guest: Some("GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xC0000000,PAE=yes".into()),
        ..ElfSpec::i386(&[])
    })
    .build();
    let noxen = small(ElfSpec::amd64(&[])).build();
    for (name, elf) in [
        ("amd64", &amd64),
        ("i386", &i386),
        ("pvh", &pvh),
        ("sect", &sect),
        ("guest", &guest),
        ("noxen", &noxen),
    ] {
        write("kernel", &format!("elf-{name}"), elf);
    }
    for c in ALL_COMPS {
        let spec = BzSpec {
            setup_sects: 1,
            payload_offset: 0x80,
            tail: 4,
            version: Some("6.1.0-99-amd64 (x@y) #1".into()),
            ..BzSpec::default()
        };
        write(
            "kernel",
            &format!("bz-{c:?}"),
            &bzimage(&payload(c, &amd64), &spec),
        );
    }
    write(
        "kernel",
        "bz-old-protocol",
        &bzimage(
            &payload(Comp::Gzip, &i386),
            &BzSpec {
                protocol: 0x0206,
                ..BzSpec::default()
            },
        ),
    );
    write("kernel", "gzip-elf", &compress_raw(Comp::Gzip, &i386));

    // Initrds: cpio, compressed, with an early cpio in front, several streams.
    let main = cpio(&[
        ("lib/", b""),
        ("lib/modules/", b""),
        ("lib/modules/6.1.0-99-amd64/", b""),
        ("lib/modules/6.1.0-99-amd64/modules.dep", b"kernel/x.ko:\n"),
        ("usr/lib/modules/5.10.0-1-amd64/x", b"y"),
        ("init", b"#!/bin/sh\n"),
    ]);
    let early = cpio(&[("kernel/x86/microcode/GenuineIntel.bin", b"\x01\x02")]);
    write("initrd", "cpio", &main);
    for c in ALL_COMPS {
        let packed = compress_raw(c, &main);
        write("initrd", &format!("{c:?}"), &packed);
        let mut both = early.clone();
        while both.len() % 512 != 0 {
            both.push(0);
        }
        both.extend_from_slice(&packed);
        write("initrd", &format!("early+{c:?}"), &both);
    }
    let mut two = compress_raw(Comp::Gzip, &early);
    two.extend_from_slice(&compress_raw(
        Comp::Xz,
        &[main.clone(), vec![0; 8], main].concat(),
    ));
    write("initrd", "gzip+xz", &two);
}

/// A gzip of `data`.
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

use common::ar_archive as ar;

/// A tar header for `name`, `size` bytes of type `kind`.
fn tar_header(name: &str, size: u64, kind: tar::EntryType) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_path(name).unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn control_tar(control: &[u8]) -> Vec<u8> {
    let mut t = tar_header("./control", control.len() as u64, tar::EntryType::Regular);
    t.extend_from_slice(control);
    t.resize(t.len().div_ceil(512) * 512 + 1024, 0);
    t
}

#[test]
#[ignore = "writes the hand-made regression inputs; run by hand"]
fn write_directed_regressions() {
    use synth::*;
    let dir = regressions_dir();
    let write = |target: &str, name: &str, data: &[u8]| {
        let d = dir.join(target);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(name), data).unwrap();
    };
    let deb = |name: &[u8], control: &[u8]| {
        ar(&[
            (b"debian-binary", b"2.0\n"),
            (name, control),
            (b"data.tar", b""),
        ])
    };

    // A 1 MiB GNU long name in the control member.
    let mut t = tar_header("././@LongLink", 1 << 20, tar::EntryType::GNULongName);
    t.resize(512 + (1 << 20), 0);
    t.extend_from_slice(&control_tar(b"Package: p\n"));
    write(
        "deb_info",
        "control-long-name-1mib.deb",
        &deb(b"control.tar.gz", &gzip(&t)),
    );
    // ./control says 100 bytes, the tar ends after 20.
    let mut t = tar_header("./control", 100, tar::EntryType::Regular);
    t.extend_from_slice(b"Package: truncated\n\n");
    write(
        "deb_info",
        "control-truncated.deb",
        &deb(b"control.tar", &t),
    );
    // The file ends inside debian-binary.
    let d = ar(&[(b"debian-binary", b"2.0\n")]);
    write("deb_info", "debian-binary-cut.deb", &d[..d.len() - 2]);
    // An xz control member asking for a 4 GiB dictionary.
    let mut x = elirepo::compress::Compression::Xz
        .compress(&control_tar(b"Package: p\n"))
        .unwrap();
    x[16] = 40;
    let mut crc = flate2::Crc::new();
    crc.update(&x[12..20]);
    x[20..24].copy_from_slice(&crc.sum().to_le_bytes());
    write(
        "deb_info",
        "control-xz-4gib-dictionary.deb",
        &deb(b"control.tar.xz", &x),
    );

    // A legacy lz4 kernel payload starting with 2000 empty blocks.
    let elf = ElfSpec {
        filler: 32,
        tail: 32,
        ..ElfSpec::amd64(&amd64_notes())
    }
    .build();
    let mut p = 0x184C_2102u32.to_le_bytes().to_vec();
    p.extend_from_slice(&[1, 0, 0, 0, 0].repeat(2000));
    p.extend_from_slice(&compress_raw(Comp::Lz4, &elf)[4..]);
    p.extend_from_slice(&(elf.len() as u32).to_le_bytes());
    let spec = BzSpec {
        setup_sects: 1,
        payload_offset: 0x80,
        tail: 4,
        ..BzSpec::default()
    };
    write("kernel", "bz-lz4-empty-blocks", &bzimage(&p, &spec));

    // An initrd of lz4 empty blocks. (Zero padding past the cap is in tests/hostile.rs:
    // walking 64 MiB of zeros three times is too slow for this replay.)
    let mut i = 0x184C_2102u32.to_le_bytes().to_vec();
    i.extend_from_slice(&[1, 0, 0, 0, 0].repeat(2000));
    write("initrd", "lz4-empty-blocks", &i);
}
