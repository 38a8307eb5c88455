//! Reading .deb archives: the ar container, the control member, the data member.
//!
//! A .deb is an ar archive holding `debian-binary` (`2.x`), `control.tar[.gz|.xz|.zst]`
//! and `data.tar[.gz|.xz|.bz2|.lzma|.zst]`. This module reads one as a stream, never
//! holding the whole file: [`ArReader`] walks the members (GNU `name/` and BSD
//! `#1/len` names), [`read_info`] reads a package's control paragraph and, in the
//! same single pass over the file, its size and four digests, without decompressing
//! the data member. [`open_data`] streams the decompressed `data.tar` for callers
//! that extract files from it.
//!
//! The acceptance rules follow apt's own reader (`ARArchive`, `debDebFile`), so
//! that `elirepo packages` skips exactly the files apt-ftparchive skips, with one
//! deliberate difference: `debian-binary` must say `2.x`, as dpkg requires. Every
//! error names the file and says what is wrong. Decompression is bounded by
//! [`MAX_CONTROL_TAR`] and [`MAX_CONTROL_FILE`]. This module writes nothing.
//!
//! One file per layer, as cargo-deb has them:
//!
//! * `mod.rs`: the entry points ([`read_info`], [`read_info_from`], [`open_data`]), [`DebInfo`],
//!   [`DebError`] and the checks that need every member;
//! * `ar.rs`: the ar container ([`ArReader`]);
//! * `tar.rs`: tar walking with bounded extension headers ([`MAX_TAR_EXTENSION`]);
//! * `control.rs`: the control member and its `control` file;
//! * `batch.rs`: many .debs on all cores, through the cache ([`read_infos`]).

use std::fmt;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

mod ar;
mod batch;
mod control;
mod tar;

pub use ar::{ArHeader, ArReader, MemberReader};
pub use batch::{for_each_info, read_infos, read_infos_with};
pub(crate) use tar::walk_tar;
pub use tar::MAX_TAR_EXTENSION;

use crate::compress::Compression;
use crate::control::Paragraph;
use crate::hash::{Hashes, HashingReader, BUF_SIZE};
use crate::progress::Progress;
use control::extract_control;

/// Most bytes the decompressed control members of one .deb may hold together (a bound on
/// a bomb).
pub const MAX_CONTROL_TAR: u64 = 256 << 20;
/// Largest control file accepted inside the control member.
pub const MAX_CONTROL_FILE: u64 = 4 << 20;

/// Compressions apt accepts for the control member, in apt's order of preference.
const CONTROL_COMPRESSIONS: [Compression; 4] = [
    Compression::None,
    Compression::Gzip,
    Compression::Xz,
    Compression::Zstd,
];
/// Compressions apt and dpkg accept for the data member.
const DATA_COMPRESSIONS: [Compression; 6] = [
    Compression::None,
    Compression::Gzip,
    Compression::Xz,
    Compression::Bzip2,
    Compression::Lzma,
    Compression::Zstd,
];

/// What is wrong with a .deb.
#[derive(Debug)]
#[non_exhaustive]
pub enum DebErrorKind {
    /// Reading the file failed.
    Io(io::Error),
    /// The file does not start with `!<arch>\n`.
    BadMagic,
    /// An ar member header is malformed.
    BadHeader(String),
    /// The file ends before a header or member it announces.
    Truncated(String),
    /// A required member is absent.
    MissingMember(&'static str),
    /// `debian-binary` does not say `2.x`.
    UnsupportedVersion(String),
    /// A control or data member uses a compression that is not supported.
    UnsupportedCompression(String),
    /// Reading a member failed (corrupt compression or tar).
    Member(String, io::Error),
    /// The control member has no `control` file.
    NoControlFile(String),
    /// The control file is larger than [`MAX_CONTROL_FILE`].
    ControlTooLarge(u64),
    /// The control paragraph has no `Package` field.
    NoPackageField,
    /// The file's length changed while it was read.
    Changed(crate::hash::lanes::Changed),
}

impl fmt::Display for DebErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DebErrorKind::*;
        match self {
            Io(e) => write!(f, "{e}"),
            BadMagic => f.write_str("not a Debian package: bad ar magic (expected \"!<arch>\\n\")"),
            BadHeader(m) => write!(f, "invalid ar member header: {m}"),
            Truncated(m) => write!(f, "truncated archive: {m}"),
            MissingMember(m) => write!(f, "not a valid Debian package: no {m} member"),
            UnsupportedVersion(v) => write!(
                f,
                "unsupported package format version {v:?} in debian-binary (expected 2.x)"
            ),
            UnsupportedCompression(m) => write!(
                f,
                "unsupported compression of member {m} (control: none, .gz, .xz, .zst; \
                 data: also .bz2, .lzma)"
            ),
            Member(m, e) => write!(f, "{m}: {e}"),
            NoControlFile(m) => write!(f, "{m}: no control file"),
            ControlTooLarge(n) => write!(
                f,
                "control file is {n} bytes, more than the {} bytes allowed",
                MAX_CONTROL_FILE
            ),
            NoPackageField => f.write_str("control file has no Package field"),
            Changed(c) => write!(f, "{c}"),
        }
    }
}

/// An error reading a .deb: the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct DebError {
    /// The .deb concerned.
    pub path: PathBuf,
    /// What is wrong.
    pub kind: DebErrorKind,
}

impl std::error::Error for DebErrorKind {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DebErrorKind::Io(e) | DebErrorKind::Member(_, e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for DebErrorKind {
    fn from(e: io::Error) -> Self {
        DebErrorKind::Io(e)
    }
}

/// What [`read_info`] learns about a .deb.
#[derive(Debug, Clone)]
pub struct DebInfo {
    /// The control paragraph, byte for byte.
    pub control: Paragraph,
    /// Size and digests of the whole .deb file.
    pub hashes: Hashes,
    /// Compression of the data member.
    pub data_compression: Compression,
}

/// Reads the control paragraph and the digests of the .deb at `path`, in one pass.
pub fn read_info(path: &Path) -> Result<DebInfo, DebError> {
    read_info_counted(path, &Progress::none())
}

/// [`read_info`], adding the bytes read to `progress`.
pub(super) fn read_info_counted(path: &Path, progress: &Progress) -> Result<DebInfo, DebError> {
    let wrap = |kind| DebError {
        path: path.to_path_buf(),
        kind,
    };
    let mut start = Vec::new();
    let open = open_parsed(path, &mut start)?;
    let hashes =
        crate::hash::lanes::hash_started(open.file, open.len, start, open.eof, progress.clone())
            .map_err(|e| wrap(hash_error(e)))?;
    Ok(open.parsed.with(hashes))
}

/// A .deb opened and parsed, its digests still to compute from its start.
pub(crate) struct Opened {
    /// The open file; its digests must come from it (the bytes parsed).
    pub file: std::fs::File,
    /// Its length when opened, the length the parse checked the members against.
    pub len: u64,
    /// The first bytes of the file are in the caller's buffer up to its end, if true.
    pub eof: bool,
    /// What the parse found.
    pub parsed: Parsed,
}

/// What a .deb holds, but its digests.
pub(crate) struct Parsed {
    control: Paragraph,
    data_compression: Compression,
}

impl Parsed {
    /// The [`DebInfo`] of the file with `hashes`.
    pub(crate) fn with(self, hashes: Hashes) -> DebInfo {
        DebInfo {
            control: self.control,
            hashes,
            data_compression: self.data_compression,
        }
    }
}

/// The error of a .deb whose hashing failed: [`DebErrorKind::Changed`] if it changed length.
pub(crate) fn hash_error(e: io::Error) -> DebErrorKind {
    match e
        .get_ref()
        .and_then(|c| c.downcast_ref::<crate::hash::lanes::Changed>())
    {
        Some(c) => DebErrorKind::Changed(*c),
        None => DebErrorKind::Io(e),
    }
}

/// Opens the .deb at `path` and parses it (the checks of [`read_info`]), reading its first
/// bytes into `start` (see [`crate::hash::lanes::read_start`]) and seeking over its data
/// member; the digests are the caller's to compute from the open file.
pub(crate) fn open_parsed(path: &Path, start: &mut Vec<u8>) -> Result<Opened, DebError> {
    let wrap = |kind| DebError {
        path: path.to_path_buf(),
        kind,
    };
    let file = crate::hash::open_regular(path).map_err(|e| wrap(e.into()))?;
    let len = file.metadata().map_err(|e| wrap(e.into()))?.len();
    let eof = crate::hash::lanes::read_start(&file, len, start).map_err(|e| wrap(e.into()))?;
    let parsed = if eof {
        parse(io::Cursor::new(&start[..]), len)
    } else {
        let r = StartThenFile {
            start,
            file: &file,
            pos: 0,
        };
        parse(BufReader::with_capacity(8 << 10, r), len)
    }
    .map_err(wrap)?;
    Ok(Opened {
        file,
        len,
        eof,
        parsed,
    })
}

/// The checks of [`read_info_from`] over a seekable reader of a `len`-byte file.
fn parse<R: Read + io::Seek>(r: R, len: u64) -> Result<Parsed, DebErrorKind> {
    let mut ar = ArReader::seekable(r, len)?;
    let (control, data_compression) = Members::read(&mut ar)?.check()?;
    Ok(Parsed {
        control,
        data_compression,
    })
}

/// A file read from memory for its first bytes, then from the file.
struct StartThenFile<'a> {
    start: &'a [u8],
    file: &'a std::fs::File,
    pos: u64,
}

impl Read for StartThenFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = if self.pos < self.start.len() as u64 {
            let rest = &self.start[self.pos as usize..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            n
        } else {
            self.file.read_at(buf, self.pos)?
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Seek for StartThenFile<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let pos = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(_) => None,
        };
        self.pos = pos.ok_or_else(|| io::Error::other("seek out of the file"))?;
        Ok(self.pos)
    }
}

/// [`read_info`] over any reader; `total_len` enables apt's length checks.
pub fn read_info_from<R: Read>(r: R, total_len: Option<u64>) -> Result<DebInfo, DebErrorKind> {
    let tee = HashingReader::new(r);
    // Small .debs are the common case: a buffer no bigger than the file avoids an
    // mmap'd 256 KiB allocation (and its page faults) per file.
    let cap = total_len.map_or(BUF_SIZE, |n| (n as usize).clamp(4096, BUF_SIZE));
    let mut ar = ArReader::new(BufReader::with_capacity(cap, tee), total_len)?;
    let members = Members::read(&mut ar)?;
    let tee = ar.into_inner();
    // Whatever a reader without a known length still holds is part of the file.
    let mut rest = tee;
    io::copy(&mut rest, &mut io::sink())?;
    let hashes = rest.into_inner().finish()?;
    members.into_info(hashes)
}

/// What the members of a .deb hold, before the checks that need all of them.
struct Members {
    /// The contents of `debian-binary`.
    version: Option<Vec<u8>>,
    /// The last member of each accepted control name, decoded (or why not).
    controls: Vec<(Compression, Result<Vec<u8>, DebErrorKind>)>,
    /// The compression of the first data member.
    data: Option<Compression>,
    /// The last control or data member of an unsupported compression.
    unsupported: Option<String>,
}

impl Members {
    /// Walk the members: keep `debian-binary`, decode the control members, note the data
    /// member's compression.
    fn read<R: Read>(ar: &mut ArReader<R>) -> Result<Members, DebErrorKind> {
        let mut m = Members {
            version: None,
            controls: Vec::new(),
            data: None,
            unsupported: None,
        };
        let mut control_used = 0u64;
        while let Some(head) = ar.next_member()? {
            let name = head.name.as_slice();
            if name == b"debian-binary" {
                let mut v = Vec::new();
                ar.member()
                    .take(64)
                    .read_to_end(&mut v)
                    .map_err(|e| match e.kind() {
                        io::ErrorKind::UnexpectedEof => {
                            DebErrorKind::Truncated("member debian-binary".into())
                        }
                        _ => DebErrorKind::Io(e),
                    })?;
                m.version = Some(v);
            } else if let Some(suffix) = name.strip_prefix(b"control.tar") {
                match Compression::from_suffix(suffix).filter(|c| CONTROL_COMPRESSIONS.contains(c))
                {
                    Some(c) => {
                        let shown = String::from_utf8_lossy(name).into_owned();
                        let decoded = extract_control(ar.member(), c, &shown, &mut control_used);
                        m.controls.retain(|(k, _)| *k != c);
                        m.controls.push((c, decoded));
                    }
                    None => m.unsupported = Some(String::from_utf8_lossy(name).into_owned()),
                }
            } else if let Some(suffix) = name.strip_prefix(b"data.tar") {
                match Compression::from_suffix(suffix).filter(|c| DATA_COMPRESSIONS.contains(c)) {
                    Some(c) => m.data = m.data.or(Some(c)),
                    None => m.unsupported = Some(String::from_utf8_lossy(name).into_owned()),
                }
            }
        }
        Ok(m)
    }

    /// The checks apt makes once every member is known, in its order; the file's `hashes`.
    fn into_info(self, hashes: Hashes) -> Result<DebInfo, DebErrorKind> {
        let (control, data_compression) = self.check()?;
        Ok(DebInfo {
            control,
            hashes,
            data_compression,
        })
    }

    /// The checks apt makes once every member is known, in its order: the control paragraph
    /// and the compression of the data member.
    fn check(mut self) -> Result<(Paragraph, Compression), DebErrorKind> {
        let version = self
            .version
            .ok_or(DebErrorKind::MissingMember("debian-binary"))?;
        let control = CONTROL_COMPRESSIONS
            .iter()
            .find_map(|c| self.controls.iter().position(|(k, _)| k == c))
            .map(|i| self.controls.swap_remove(i).1);
        let control = match control {
            Some(c) => c,
            None => {
                return Err(match self.unsupported {
                    Some(m) if m.starts_with("control.tar") => {
                        DebErrorKind::UnsupportedCompression(m)
                    }
                    _ => DebErrorKind::MissingMember("control.tar"),
                })
            }
        };
        let data_compression = match self.data {
            Some(d) => d,
            None => {
                return Err(match self.unsupported {
                    Some(m) if m.starts_with("data.tar") => DebErrorKind::UnsupportedCompression(m),
                    _ => DebErrorKind::MissingMember("data.tar"),
                })
            }
        };
        if !version.starts_with(b"2.") {
            let shown = String::from_utf8_lossy(crate::control::trim(&version)).into_owned();
            return Err(DebErrorKind::UnsupportedVersion(shown));
        }
        let control = Paragraph::parse(&control?);
        if control.get("Package").is_none_or(|p| p.is_empty()) {
            return Err(DebErrorKind::NoPackageField);
        }
        Ok((control, data_compression))
    }
}

/// Opens the decompressed `data.tar` stream of the .deb at `path`.
///
/// The returned reader owns the file; it stops at the end of the data member.
pub fn open_data(path: &Path) -> Result<Box<dyn Read>, DebError> {
    let wrap = |kind| DebError {
        path: path.to_path_buf(),
        kind,
    };
    let file = crate::hash::open_regular(path).map_err(|e| wrap(e.into()))?;
    let len = file.metadata().map_err(|e| wrap(e.into()))?.len();
    let mut ar = ArReader::new(BufReader::new(file), Some(len)).map_err(wrap)?;
    while let Some(head) = ar.next_member().map_err(wrap)? {
        if let Some(suffix) = head.name.strip_prefix(b"data.tar") {
            let name = String::from_utf8_lossy(&head.name).into_owned();
            let c = Compression::from_suffix(suffix)
                .filter(|c| DATA_COMPRESSIONS.contains(c))
                .ok_or_else(|| wrap(DebErrorKind::UnsupportedCompression(name.clone())))?;
            let member = OwnedMember {
                left: head.size,
                ar,
            };
            return c
                .decoder(member)
                .map_err(|e| wrap(DebErrorKind::Member(name, e)));
        }
    }
    Err(wrap(DebErrorKind::MissingMember("data.tar")))
}

/// A member reader that owns its archive.
struct OwnedMember<R> {
    ar: ArReader<R>,
    left: u64,
}

impl<R: Read> Read for OwnedMember<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _ = self.left;
        self.ar.member().read(buf)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::ar::AR_MAGIC;
    use super::tar::tar_name;
    use super::*;
    // The tar crate, not `super::tar`.
    use ::tar;

    fn ar(members: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = AR_MAGIC.to_vec();
        for (name, data) in members {
            let mut head = format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                "",
                0,
                0,
                0,
                100644,
                data.len()
            )
            .into_bytes();
            head[..name.len()].copy_from_slice(name);
            out.extend_from_slice(&head);
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn control_tar(control: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(control.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "./control", control).unwrap();
        b.into_inner().unwrap()
    }

    fn deb(control: &[u8]) -> Vec<u8> {
        ar(&[
            (b"debian-binary", b"2.0\n"),
            (b"control.tar", &control_tar(control)),
            (b"data.tar", &control_tar(b"x")),
        ])
    }

    /// A small .deb of package `name`.
    pub(crate) fn deb_named(name: &str) -> Vec<u8> {
        deb(format!("Package: {name}\nVersion: 1\n").as_bytes())
    }

    fn info(bytes: &[u8]) -> Result<DebInfo, DebErrorKind> {
        read_info_from(bytes, Some(bytes.len() as u64))
    }

    #[test]
    fn reads_control_and_hashes_the_whole_file() {
        let d = deb(b"Package: foo\nVersion: 1\n");
        let i = info(&d).unwrap();
        assert_eq!(i.control.get("Package").unwrap(), b"foo");
        assert_eq!(i.hashes, Hashes::of_bytes(&d));
        // Also without a known length.
        assert_eq!(
            read_info_from(&d[..], None).unwrap().hashes.size,
            d.len() as u64
        );
    }

    #[test]
    fn gnu_and_bsd_names() {
        let tar = control_tar(b"Package: b\n");
        let mut d = AR_MAGIC.to_vec();
        for (name, data) in [
            (&b"debian-binary"[..], &b"2.0\n"[..]),
            (b"control.tar", &tar[..]),
            (b"data.tar", &tar[..]),
        ] {
            // BSD ar pads the name with NULs to a multiple of 4.
            let mut padded = name.to_vec();
            padded.resize(name.len().div_ceil(4) * 4, 0);
            let head = format!(
                "#1/{:<13}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                padded.len(),
                0,
                0,
                0,
                100644,
                data.len() + padded.len()
            );
            d.extend_from_slice(head.as_bytes());
            d.extend_from_slice(&padded);
            d.extend_from_slice(data);
            if data.len() % 2 == 1 {
                d.push(b'\n');
            }
        }
        assert_eq!(info(&d).unwrap().control.get("Package").unwrap(), b"b");
        let gnu = ar(&[
            (b"debian-binary/", b"2.0\n"),
            (b"control.tar/", &tar),
            (b"data.tar/", &tar),
        ]);
        assert_eq!(info(&gnu).unwrap().control.get("Package").unwrap(), b"b");
    }

    #[test]
    fn every_broken_archive_is_a_named_error() {
        let good = deb(b"Package: foo\n");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "empty file"),
            (b"!<arch>".to_vec(), "bad ar magic"),
            (b"PK\x03\x04 not an ar file".to_vec(), "bad ar magic"),
            (good[..good.len() - 100].to_vec(), "truncated"),
            (good[..70].to_vec(), "truncated"),
            (
                ar(&[(b"debian-binary", b"2.0\n"), (b"data.tar", b"")]),
                "no control.tar member",
            ),
            (
                ar(&[
                    (b"debian-binary", b"2.0\n"),
                    (b"control.tar.bz2", b"x"),
                    (b"data.tar", b""),
                ]),
                "unsupported compression of member control.tar.bz2",
            ),
            (
                ar(&[
                    (b"debian-binary", b"3.0\n"),
                    (b"control.tar", &control_tar(b"Package: x\n")),
                    (b"data.tar", b""),
                ]),
                "unsupported package format version",
            ),
            (
                ar(&[
                    (b"debian-binary", b"2.0\n"),
                    (b"control.tar", &control_tar(b"Version: 1\n")),
                    (b"data.tar", b""),
                ]),
                "no Package field",
            ),
            (
                ar(&[
                    (b"debian-binary", b"2.0\n"),
                    (b"control.tar", &control_tar(b"Package: x\n")),
                ]),
                "no data.tar member",
            ),
            (
                ar(&[
                    (b"debian-binary", b"2.0\n"),
                    (b"control.tar.gz", b"garbage"),
                    (b"data.tar", b""),
                ]),
                "control.tar.gz:",
            ),
            (
                ar(&[
                    (b"control.tar", &control_tar(b"Package: x\n")),
                    (b"data.tar", b""),
                ]),
                "no debian-binary member",
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        let mut errs = Vec::new();
        for (k, (bytes, want)) in cases.into_iter().enumerate() {
            let err = info(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "expected {want:?} in {err:?}");
            // The same error from a file, parsed with seeks and hashed apart.
            let p = dir.path().join(format!("{k}.deb"));
            std::fs::write(&p, &bytes).unwrap();
            assert_eq!(read_info(&p).unwrap_err().kind.to_string(), err);
            paths.push(p);
            errs.push(err);
        }
        for (r, err) in read_infos(&paths, None).into_iter().zip(errs) {
            assert_eq!(r.unwrap_err().kind.to_string(), err);
        }
    }

    use crate::hash::noise;

    #[test]
    fn files_parsed_with_seeks_and_hashed_in_lanes_read_as_the_stream_does() {
        let mut big_control = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("./md5sums", noise(1, 200_001)),
            ("./control", b"Package: late\n".to_vec()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            big_control.append_data(&mut h, name, &data[..]).unwrap();
        }
        let big_control = big_control.into_inner().unwrap();
        let edge_control = control_tar(b"Package: edge\n");
        let debs = [
            deb(b"Package: foo\nVersion: 1\n"),
            // An odd-sized data member (a padding byte) bigger than a read, then a member
            // after it: the seek over the data lands on the next header.
            ar(&[
                (b"debian-binary", b"2.0\n"),
                (b"control.tar", &control_tar(b"Package: big\n")),
                (b"data.tar", &noise(2, 300_001)),
                (b"_extra", b"abc"),
            ]),
            // A control member that goes past the first read.
            ar(&[
                (b"debian-binary", b"2.0\n"),
                (b"control.tar", &big_control),
                (b"data.tar", &noise(3, 1000)),
            ]),
            // A data member that ends exactly at a 64 KiB read.
            ar(&[
                (b"debian-binary", b"2.0\n"),
                (b"control.tar", &edge_control),
                (
                    b"data.tar",
                    &noise(4, 65_536 - 8 - 3 * 60 - 4 - edge_control.len()),
                ),
            ]),
        ];
        assert_eq!(debs[3].len(), 65_536);
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = debs
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let p = dir.path().join(format!("{k}.deb"));
                std::fs::write(&p, d).unwrap();
                p
            })
            .collect();
        let batch = read_infos(&paths, None);
        for ((d, p), b) in debs.iter().zip(&paths).zip(batch) {
            let want = info(d).unwrap();
            assert_eq!(want.hashes, Hashes::of_bytes(d));
            for got in [read_info(p).unwrap(), b.unwrap()] {
                assert_eq!(got.control.source(), want.control.source());
                assert_eq!(got.hashes, want.hashes);
                assert_eq!(got.data_compression, want.data_compression);
            }
        }
    }

    #[test]
    fn the_first_data_member_names_the_compression() {
        // As open_data streams the first data member, read_info reports its compression.
        let data = control_tar(b"x");
        let d = ar(&[
            (b"debian-binary", b"2.0\n"),
            (b"control.tar", &control_tar(b"Package: foo\n")),
            (b"data.tar.xz", &Compression::Xz.compress(&data).unwrap()),
            (b"data.tar", &data),
        ]);
        assert_eq!(info(&d).unwrap().data_compression, Compression::Xz);
    }

    #[test]
    fn a_member_larger_than_the_file_is_caught_before_reading() {
        let mut d = deb(b"Package: foo\n");
        // Claim a gigantic control member.
        let at = 8 + 60 + 4 + 48;
        d[at..at + 10].copy_from_slice(b"9999999999");
        let err = info(&d).unwrap_err().to_string();
        assert!(err.contains("announces 9999999999 bytes"), "{err}");
    }

    #[test]
    fn control_bombs_are_bounded() {
        // A control file declared larger than the limit is refused before allocation.
        let mut h = tar::Header::new_gnu();
        h.set_size(MAX_CONTROL_FILE + 1);
        h.set_path("./control").unwrap();
        h.set_cksum();
        let mut t = h.as_bytes().to_vec();
        t.extend(std::iter::repeat_n(0, 1024));
        let d = ar(&[
            (b"debian-binary", b"2.0\n"),
            (b"control.tar", &t),
            (b"data.tar", b""),
        ]);
        assert!(matches!(info(&d), Err(DebErrorKind::ControlTooLarge(_))));
    }

    #[test]
    fn open_data_streams_the_data_member() {
        let d = deb(b"Package: foo\n");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.deb");
        std::fs::write(&p, &d).unwrap();
        let mut tar = tar::Archive::new(open_data(&p).unwrap());
        let names: Vec<_> = tar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path_bytes().into_owned())
            .collect();
        assert_eq!(names.len(), 1);
        assert_eq!(tar_name(&names[0]), b"control");
    }
}
