//! What each fuzz target does with one input: call an elirepo reader of hostile input and
//! check what must hold whatever the bytes are.
//!
//! Shared (through `#[path]`) by the cargo-fuzz targets in `fuzz/fuzz_targets/` and by
//! `tests/fuzz_regressions.rs`, which replays `fuzz/regressions/<target>/*` on stable
//! `cargo test`. A broken property panics; otherwise each check returns `Ok` or the error
//! text the reader gave, so that the replay can also pin the expected typed error.
//!
//! It depends on `elirepo` and `serde_json` only (both available to the main crate's tests).
#![allow(dead_code)]

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use elirepo::control::{Change, Paragraph};
use elirepo::deb::{read_info_from, DebErrorKind, DebInfo};
use elirepo::hash::Hashes;
use elirepo::index::{write_stanza, Overrides, StanzaOptions, PACKAGE_ORDER};
use elirepo::initrd::{inspect_initrd_with, Limits};
use elirepo::xen::{inspect_kernel_with, InspectOptions};

/// The name kernels and initrds are inspected under; every error must start with it.
pub const NAME: &str = "fuzz-input";

/// A reader that hands out at most 1 to 7 bytes per call (cycling): every short-read path
/// of the reader under test gets exercised.
pub struct Trickle<'a> {
    data: &'a [u8],
    pos: usize,
    step: usize,
}

impl<'a> Trickle<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Trickle {
            data,
            pos: 0,
            step: 0,
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step = self.step % 7 + 1;
        let n = buf.len().min(self.step).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Seek for Trickle<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.data.len() as i128;
        let new = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(d) => len + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if new < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before 0"));
        }
        // Past the end reads nothing, as with a file.
        self.pos = new.min(len) as usize;
        Ok(new as u64)
    }
}

fn deb_summary(r: &Result<DebInfo, DebErrorKind>) -> String {
    match r {
        Ok(i) => {
            let mut out = Vec::new();
            i.control.write(&mut out, PACKAGE_ORDER, &[]);
            format!(
                "ok {} bytes, {:?}, {}",
                i.hashes.size,
                i.data_compression,
                String::from_utf8_lossy(&out)
            )
        }
        Err(e) => format!("error: {e}"),
    }
}

/// `deb::read_info_from` with and without the total length, and through short reads.
pub fn deb_info(data: &[u8]) -> Result<(), String> {
    let len = data.len() as u64;
    let known = read_info_from(data, Some(len));
    let trickled = read_info_from(Trickle::new(data), Some(len));
    let unknown = read_info_from(Trickle::new(data), None);
    for r in [&known, &trickled, &unknown] {
        // The bytes are in memory: an I/O error can only be a mistyped format error.
        if let Err(DebErrorKind::Io(e)) = r {
            panic!("a bare I/O error instead of a typed one: {e}");
        }
        if let Ok(i) = r {
            // The digests cover the whole file, whatever the reader does with it.
            assert_eq!(i.hashes.size, len, "hashed size");
            assert!(
                i.control.get("Package").is_some_and(|p| !p.is_empty()),
                "accepted without a Package"
            );
        }
    }
    // Short reads never change what is accepted. (Errors may differ: miniz_oxide, the
    // gzip decoder, notices some corruption later when fed in small pieces.)
    if known.is_ok() && trickled.is_ok() {
        assert_eq!(deb_summary(&known), deb_summary(&trickled), "short reads");
    }
    // Without a length fewer checks are possible, never more: what is accepted with the
    // length is accepted without it, with the same control paragraph.
    if known.is_ok() {
        assert_eq!(deb_summary(&known), deb_summary(&unknown), "unknown length");
    }
    known.map(|_| ()).map_err(|e| e.to_string())
}

/// `control::Paragraph::parse` and `write`: no panic, and parsing what was written gives
/// the same known fields back (written once more, the same bytes).
pub fn control(data: &[u8]) -> Result<(), String> {
    let p = Paragraph::parse(data);
    let _ = (
        p.len(),
        p.is_empty(),
        p.fields().count(),
        p.get_str("Package"),
    );
    let changes = [
        Change::Rewrite("Size", b"42".to_vec()),
        Change::Remove("Status"),
        Change::Rewrite("Priority", Vec::new()),
        Change::Rewrite("X-Fuzz", b"added".to_vec()),
    ];
    let mut out = Vec::new();
    p.write(&mut out, PACKAGE_ORDER, &changes);
    let q = Paragraph::parse(&out);
    for name in PACKAGE_ORDER {
        let want = match *name {
            "Size" => Some(&b"42"[..]),
            "Status" | "Priority" => None,
            _ => p.get(name),
        };
        assert_eq!(
            q.get(name).map(String::from_utf8_lossy),
            want.map(String::from_utf8_lossy),
            "field {name} after parse(write(parse(input)))\nwritten: {:?}",
            String::from_utf8_lossy(&out)
        );
    }
    assert_eq!(q.get("X-Fuzz"), Some(&b"added"[..]));
    let mut again = Vec::new();
    q.write(&mut again, PACKAGE_ORDER, &changes);
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&out),
        "write is not stable"
    );
    Ok(())
}

/// `xen::inspect_kernel` on an in-memory file: no panic, errors name the file, the quick
/// look agrees with the full check, and the report renders as text and JSON.
pub fn kernel(data: &[u8]) -> Result<(), String> {
    let name = Path::new(NAME);
    let full = inspect_kernel_with(Cursor::new(data), name, &InspectOptions::default());
    let quick = inspect_kernel_with(
        Cursor::new(data),
        name,
        &InspectOptions {
            verify_payload: false,
        },
    );
    match (&full, &quick) {
        (Ok(f), Ok(q)) => {
            assert_eq!(
                f.verdict, q.verdict,
                "verdict with and without verification"
            );
            assert_eq!(f.notes, q.notes);
        }
        (Ok(f), Err(e)) => panic!("full check accepts ({}), quick look fails: {e}", f.verdict),
        (Err(_), Ok(_)) => {} // only the full check reads the payload to its end
        (Err(f), Err(q)) => assert_eq!(f.to_string(), q.to_string()),
    }
    // Short reads: no panic, and a kernel accepted either way gets the same verdict. (Errors
    // may differ: miniz_oxide, the gzip decoder, notices some corruption later when fed in
    // small pieces.)
    let trickled = inspect_kernel_with(Trickle::new(data), name, &InspectOptions::default());
    if let (Ok(f), Ok(t)) = (&full, &trickled) {
        assert_eq!((f.verdict, &f.notes), (t.verdict, &t.notes), "short reads");
    }
    match full {
        Ok(r) => {
            assert_eq!(r.file_size, data.len() as u64);
            let _ = r.to_text();
            serde_json::to_string(&r).expect("the report serialises");
            Ok(())
        }
        Err(e) => {
            let s = e.to_string();
            assert!(
                s.starts_with(&format!("{NAME}: ")),
                "error without the file: {s}"
            );
            assert_eq!(e.path(), name);
            Err(s)
        }
    }
}

/// The caps the initrd target runs under: the defaults' semantics at a size a fuzzer
/// can afford (the default caps themselves are tested in `src/initrd.rs`).
pub fn initrd_limits() -> Limits {
    Limits {
        max_unpacked: 64 << 20,
        max_entries: 100_000,
        max_parts: 64,
    }
}

/// The release the initrd target asks about.
pub const RELEASE: &str = "6.1.0-99-amd64";

/// `initrd::inspect_initrd_with` on an in-memory file, with and without an expected
/// release: no panic, errors name the file, the answers agree.
pub fn initrd(data: &[u8]) -> Result<(), String> {
    let name = Path::new(NAME);
    let limits = initrd_limits();
    let asked = inspect_initrd_with(Cursor::new(data), name, Some(RELEASE), &limits);
    let plain = inspect_initrd_with(Cursor::new(data), name, None, &limits);
    match (&asked, &plain) {
        (Ok(a), Ok(p)) => {
            assert_eq!(a.file_size, data.len() as u64);
            assert_eq!(p.matches, None);
            match a.matches {
                Some(true) => assert!(a.module_versions.iter().any(|v| v == RELEASE)),
                Some(false) => assert!(a.scanned_to_end && p.scanned_to_end),
                None => {}
            }
            if a.scanned_to_end {
                assert_eq!(a.module_versions, p.module_versions);
            }
            let _ = (a.to_text(), p.to_text());
            serde_json::to_string(a).expect("the report serialises");
        }
        (Err(a), Err(p)) => assert_eq!(a.to_string(), p.to_string()),
        // Asking for a release may stop the scan early, before an error further on.
        (Ok(a), Err(_)) => assert_eq!(a.matches, Some(true)),
        (Err(a), Ok(p)) => panic!("fails when asked ({a}), not without: {}", p.format),
    }
    // Short reads: no panic, and an initrd read to its end either way lists the same
    // modules. (Errors may differ, as for kernels.)
    let trickled = inspect_initrd_with(Trickle::new(data), name, None, &limits);
    if let (Ok(p), Ok(t)) = (&plain, &trickled) {
        if p.scanned_to_end && t.scanned_to_end {
            assert_eq!(p.module_versions, t.module_versions, "short reads");
        }
    }
    match asked {
        Ok(_) => Ok(()),
        Err(e) => {
            let s = e.to_string();
            assert!(
                s.starts_with(&format!("{NAME}: ")),
                "error without the file: {s}"
            );
            assert_eq!(e.path(), name);
            Err(s)
        }
    }
}

/// `index::Overrides::parse`, then a Packages stanza with it: the input is an override
/// file, a 0xff byte, and a control paragraph.
pub fn overrides(data: &[u8]) -> Result<(), String> {
    let cut = data.iter().position(|&b| b == 0xff).unwrap_or(data.len());
    let (text, control) = (&data[..cut], data.get(cut + 1..).unwrap_or_default());
    let o = Overrides::parse(text, "fuzz-override");
    for w in &o.warnings {
        assert!(w.contains("fuzz-override"), "warning without the file: {w}");
    }
    let p = Paragraph::parse(control);
    let hashes = Hashes::of_bytes(control);
    for (arch, long) in [(None, true), (Some("amd64"), false)] {
        let opts = StanzaOptions {
            long_description: long,
            ..StanzaOptions::default()
        };
        let mut out = Vec::new();
        write_stanza(
            &mut out,
            &p,
            &hashes,
            b"pool/main/f/fuzz.deb",
            &opts,
            &o,
            arch,
        );
        assert!(out.ends_with(b"\n\n"), "a stanza ends with a blank line");
        let q = Paragraph::parse(&out);
        assert_eq!(q.get("Filename"), Some(&b"pool/main/f/fuzz.deb"[..]));
        assert_eq!(
            q.get("Size").map(|s| s.to_vec()),
            Some(control.len().to_string().into_bytes())
        );
    }
    Ok(())
}
