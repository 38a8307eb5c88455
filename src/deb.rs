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

use std::fmt;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::compress::{Compression, LimitReader};
use crate::control::Paragraph;
use crate::hash::{Hashes, HashingReader, BUF_SIZE};
use crate::progress::{Progress, ProgressReader};

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

/// One ar member header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArHeader {
    /// The member name, trailing spaces and `/` removed (or the BSD long name).
    pub name: Vec<u8>,
    /// Size of the member's data in bytes.
    pub size: u64,
}

/// Streams the members of an ar archive, as apt's `ARArchive` accepts them.
///
/// When the total length is known, every announced member (and its padding byte)
/// must fit inside it and the members must fill the archive exactly.
pub struct ArReader<R> {
    inner: R,
    /// Bytes of the archive not yet consumed, when known.
    left: Option<u64>,
    /// Unread bytes of the current member.
    member_left: u64,
    /// Padding byte owed after the current member.
    pad: bool,
}

const AR_MAGIC: &[u8; 8] = b"!<arch>\n";

/// apt's `StrToNum`: all spaces is zero; otherwise leading spaces, then digits
/// up to the first non-digit, at least one digit.
fn ar_number(field: &[u8], radix: u32) -> Option<u64> {
    let s: Vec<u8> = field.iter().copied().take_while(|&b| b != 0).collect();
    let s = &s[s.iter().take_while(|&&b| b == b' ').count()..];
    if s.is_empty() {
        return Some(0);
    }
    let s = &s[s
        .iter()
        .take_while(|b| crate::control::is_space(**b))
        .count()..];
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let digits = s
        .iter()
        .take_while(|b| (**b as char).is_digit(radix))
        .count();
    if digits == 0 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in &s[..digits] {
        n = n
            .checked_mul(radix as u64)?
            .checked_add((b as char).to_digit(radix)? as u64)?;
    }
    Some(n)
}

impl<R: Read> ArReader<R> {
    /// Checks the ar magic of `inner`; `total_len` is the archive's length if known.
    pub fn new(mut inner: R, total_len: Option<u64>) -> Result<Self, DebErrorKind> {
        let mut magic = [0u8; 8];
        let got = read_full(&mut inner, &mut magic)?;
        if got < magic.len() {
            return Err(if got == 0 {
                DebErrorKind::Truncated("empty file".into())
            } else {
                DebErrorKind::BadMagic
            });
        }
        if &magic != AR_MAGIC {
            return Err(DebErrorKind::BadMagic);
        }
        Ok(ArReader {
            inner,
            left: total_len.map(|n| n.saturating_sub(8)),
            member_left: 0,
            pad: false,
        })
    }

    /// Skips what is left of the current member, then reads the next header.
    pub fn next_member(&mut self) -> Result<Option<ArHeader>, DebErrorKind> {
        self.skip_rest()?;
        if self.left == Some(0) {
            return Ok(None);
        }
        let mut head = [0u8; 60];
        let got = read_full(&mut self.inner, &mut head)?;
        if got == 0 && self.left.is_none() {
            return Ok(None);
        }
        if got < head.len() {
            return Err(DebErrorKind::Truncated(format!(
                "{got} bytes where a 60-byte member header should be"
            )));
        }
        self.consume(60);
        let raw_name = &head[0..16];
        let shown = String::from_utf8_lossy(raw_name).trim_end().to_string();
        let bad = || DebErrorKind::BadHeader(format!("member {shown:?}"));
        ar_number(&head[16..28], 10).ok_or_else(bad)?;
        ar_number(&head[28..34], 10).ok_or_else(bad)?;
        ar_number(&head[34..40], 10).ok_or_else(bad)?;
        ar_number(&head[40..48], 8).ok_or_else(bad)?;
        let mut size = ar_number(&head[48..58], 10).ok_or_else(bad)?;
        let name = if raw_name.starts_with(b"#1/") {
            let len = ar_number(&head[3..10], 10)
                .filter(|&l| l < 300)
                .ok_or_else(bad)?;
            let mut long = vec![0u8; len as usize];
            if read_full(&mut self.inner, &mut long)? < long.len() {
                return Err(DebErrorKind::Truncated(format!(
                    "BSD name of member {shown:?}"
                )));
            }
            self.consume(len);
            size = size.checked_sub(len).ok_or_else(|| {
                DebErrorKind::BadHeader(format!("member {shown:?} is smaller than its name"))
            })?;
            let end = long.iter().position(|&b| b == 0).unwrap_or(long.len());
            long.truncate(end);
            long
        } else {
            let keep = raw_name
                .iter()
                .rposition(|&b| b != b' ' && b != b'/')
                .map_or(0, |i| i + 1);
            raw_name[..keep].to_vec()
        };
        let pad = size % 2 == 1;
        if let Some(left) = self.left {
            let need = size + pad as u64;
            if need > left {
                return Err(DebErrorKind::Truncated(format!(
                    "member {} announces {size} bytes but only {left} remain",
                    String::from_utf8_lossy(&name)
                )));
            }
        }
        self.member_left = size;
        self.pad = pad;
        Ok(Some(ArHeader { name, size }))
    }

    /// A reader over the rest of the current member's data.
    pub fn member(&mut self) -> MemberReader<'_, R> {
        MemberReader { ar: self }
    }

    fn consume(&mut self, n: u64) {
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(n);
        }
    }

    fn skip_rest(&mut self) -> Result<(), DebErrorKind> {
        let owed = self.member_left + self.pad as u64;
        if owed == 0 {
            return Ok(());
        }
        let skipped = io::copy(&mut (&mut self.inner).take(owed), &mut io::sink())?;
        self.consume(skipped);
        let missing_pad_at_eof = self.left.is_none() && self.pad && skipped + 1 == owed;
        if skipped < owed && !missing_pad_at_eof {
            return Err(DebErrorKind::Truncated(format!(
                "{} bytes missing",
                owed - skipped
            )));
        }
        self.member_left = 0;
        self.pad = false;
        Ok(())
    }

    /// Gives back the underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// The data of the current ar member; ends with an error if the file is shorter.
pub struct MemberReader<'a, R> {
    ar: &'a mut ArReader<R>,
}

impl<R: Read> Read for MemberReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ar.member_left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(self.ar.member_left.min(usize::MAX as u64) as usize);
        let n = self.ar.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive member is truncated",
            ));
        }
        self.ar.member_left -= n as u64;
        self.ar.consume(n as u64);
        Ok(n)
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
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
fn read_info_counted(path: &Path, progress: &Progress) -> Result<DebInfo, DebError> {
    let wrap = |kind| DebError {
        path: path.to_path_buf(),
        kind,
    };
    let file = crate::hash::open_regular(path).map_err(|e| wrap(e.into()))?;
    let len = file.metadata().map_err(|e| wrap(e.into()))?.len();
    read_info_from(ProgressReader::new(file, progress.clone()), Some(len)).map_err(wrap)
}

/// [`read_info`] over any reader; `total_len` enables apt's length checks.
pub fn read_info_from<R: Read>(r: R, total_len: Option<u64>) -> Result<DebInfo, DebErrorKind> {
    let tee = HashingReader::new(r);
    // Small .debs are the common case: a buffer no bigger than the file avoids an
    // mmap'd 256 KiB allocation (and its page faults) per file.
    let cap = total_len.map_or(BUF_SIZE, |n| (n as usize).clamp(4096, BUF_SIZE));
    let mut ar = ArReader::new(BufReader::with_capacity(cap, tee), total_len)?;
    let mut version: Option<Vec<u8>> = None;
    // The last member of each accepted control name, decoded (or why not).
    let mut controls: Vec<(Compression, Result<Vec<u8>, DebErrorKind>)> = Vec::new();
    let mut data: Option<Compression> = None;
    let mut unsupported: Option<String> = None;
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
            version = Some(v);
        } else if let Some(suffix) = name.strip_prefix(b"control.tar") {
            match Compression::from_suffix(suffix).filter(|c| CONTROL_COMPRESSIONS.contains(c)) {
                Some(c) => {
                    let shown = String::from_utf8_lossy(name).into_owned();
                    let decoded = extract_control(ar.member(), c, &shown, &mut control_used);
                    controls.retain(|(k, _)| *k != c);
                    controls.push((c, decoded));
                }
                None => unsupported = Some(String::from_utf8_lossy(name).into_owned()),
            }
        } else if let Some(suffix) = name.strip_prefix(b"data.tar") {
            match Compression::from_suffix(suffix).filter(|c| DATA_COMPRESSIONS.contains(c)) {
                Some(c) => data = data.or(Some(c)),
                None => unsupported = Some(String::from_utf8_lossy(name).into_owned()),
            }
        }
    }
    let tee = ar.into_inner();
    // Whatever a reader without a known length still holds is part of the file.
    let mut rest = tee;
    io::copy(&mut rest, &mut io::sink())?;
    let hashes = rest.into_inner().finish()?;

    let version = version.ok_or(DebErrorKind::MissingMember("debian-binary"))?;
    let control = CONTROL_COMPRESSIONS
        .iter()
        .find_map(|c| controls.iter().position(|(k, _)| k == c))
        .map(|i| controls.swap_remove(i).1);
    let control = match control {
        Some(c) => c,
        None => {
            return Err(match unsupported {
                Some(m) if m.starts_with("control.tar") => DebErrorKind::UnsupportedCompression(m),
                _ => DebErrorKind::MissingMember("control.tar"),
            })
        }
    };
    let data_compression = match data {
        Some(d) => d,
        None => {
            return Err(match unsupported {
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
    Ok(DebInfo {
        control,
        hashes,
        data_compression,
    })
}

/// Reads [`read_info`] of every path on all cores; results come back in input order.
///
/// With a cache, a file whose device, inode, size, mtime and ctime match its entry
/// is not read at all. The others are read largest first, so that one big kernel
/// package does not leave a core idle at the end.
pub fn read_infos(
    paths: &[PathBuf],
    cache: Option<&mut crate::cache::Cache>,
) -> Vec<Result<DebInfo, DebError>> {
    read_infos_with(paths, cache, &mut |_| Progress::none())
}

/// [`read_infos`], adding the bytes read (from every thread) to `progress`.
/// `progress` is called once, with the bytes that really have to be read (cache
/// misses), and counts them as they are read.
pub fn read_infos_with(
    paths: &[PathBuf],
    mut cache: Option<&mut crate::cache::Cache>,
    progress: &mut dyn FnMut(u64) -> Progress,
) -> Vec<Result<DebInfo, DebError>> {
    // stat every file on all cores: with a warm cache that is most of the work.
    let metas: Vec<Option<std::fs::Metadata>> = std::thread::scope(|s| {
        let chunk = paths.len().div_ceil(2).max(1);
        let parts: Vec<_> = paths
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|p| std::fs::metadata(p).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("stat thread"))
            .collect()
    });
    let mut results: Vec<Option<Result<DebInfo, DebError>>> = Vec::new();
    results.resize_with(paths.len(), || None);
    if let Some(c) = cache.as_deref_mut() {
        for (i, (p, m)) in paths.iter().zip(&metas).enumerate() {
            let Some(m) = m else { continue };
            if let Some(e) = c.get(p, m) {
                if let (Some(control), Some(data_compression)) =
                    (&e.control, tag_compression(e.tag))
                {
                    results[i] = Some(Ok(DebInfo {
                        control: Paragraph::parse(control),
                        hashes: e.hashes.clone(),
                        data_compression,
                    }));
                }
            }
        }
    }
    let mut todo: Vec<usize> = (0..paths.len()).filter(|&i| results[i].is_none()).collect();
    todo.sort_by_key(|&i| std::cmp::Reverse(metas[i].as_ref().map_or(0, |m| m.len())));
    let progress = &progress(
        todo.iter()
            .filter_map(|&i| metas[i].as_ref())
            .map(|m| m.len())
            .sum(),
    );
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(todo.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let fresh: std::sync::Mutex<Vec<(usize, Result<DebInfo, DebError>)>> =
        std::sync::Mutex::new(Vec::with_capacity(todo.len()));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = todo.get(k) else { break };
                let r = read_info_counted(&paths[i], progress);
                fresh.lock().unwrap_or_else(|e| e.into_inner()).push((i, r));
            });
        }
    });
    for (i, r) in fresh.into_inner().unwrap_or_else(|e| e.into_inner()) {
        if let (Some(c), Ok(info), Some(m)) = (cache.as_deref_mut(), &r, &metas[i]) {
            c.insert(
                &paths[i],
                m,
                info.hashes.clone(),
                Some(info.control.source().to_vec()),
                compression_tag(info.data_compression),
            );
        }
        results[i] = Some(r);
    }
    results
        .into_iter()
        .map(|r| r.expect("every slot is filled"))
        .collect()
}

fn compression_tag(c: Compression) -> u8 {
    DATA_COMPRESSIONS
        .iter()
        .position(|&d| d == c)
        .map_or(0, |i| i as u8 + 1)
}

fn tag_compression(t: u8) -> Option<Compression> {
    DATA_COMPRESSIONS.get((t as usize).checked_sub(1)?).copied()
}

/// Strips apt's `./` prefix from a tar member name.
fn tar_name(path: &[u8]) -> &[u8] {
    match path.strip_prefix(b"./") {
        Some(rest) if !rest.is_empty() => rest,
        _ => path,
    }
}

/// Decompresses a control member and returns its `control` file (the last one, as apt).
///
/// `used` counts the decompressed bytes of all the package's control members so far: they
/// share one [`MAX_CONTROL_TAR`] budget, so that a .deb repeating its control member cannot
/// multiply the work.
fn extract_control<R: Read>(
    member: R,
    c: Compression,
    shown: &str,
    used: &mut u64,
) -> Result<Vec<u8>, DebErrorKind> {
    let member_err = |e: io::Error| DebErrorKind::Member(shown.to_string(), e);
    let dec = c.decoder(member).map_err(member_err)?;
    let mut limited = LimitReader::continuing(dec, MAX_CONTROL_TAR, *used, "control data");
    let mut found: Option<Vec<u8>> = None;
    let walked = walk_tar(&mut limited, |name, entry| {
        if tar_name(name) != b"control" {
            return Ok(false);
        }
        let size = entry.size();
        if size > MAX_CONTROL_FILE {
            return Err(DebErrorKind::ControlTooLarge(size));
        }
        let mut buf = Vec::with_capacity(size as usize);
        entry.take(size).read_to_end(&mut buf).map_err(member_err)?;
        // tar-rs ends an entry quietly where its stream ends: a short file is a truncation.
        if (buf.len() as u64) < size {
            return Err(member_err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("control is truncated ({} of {size} bytes)", buf.len()),
            )));
        }
        found = Some(buf);
        Ok(false)
    });
    *used = limited.count();
    walked.map_err(|e| match e {
        DebErrorKind::Io(e) => member_err(e),
        other => other,
    })?;
    found.ok_or_else(|| DebErrorKind::NoControlFile(shown.to_string()))
}

/// Most bytes of one GNU long name, long link or pax header accepted in a tar member (Linux's
/// `PATH_MAX` is 4096; pax headers also carry extended attributes).
pub const MAX_TAR_EXTENSION: u64 = 64 << 10;

/// Walks the entries of a tar stream as tar-rs's `entries()` does, but reads GNU long names
/// and pax headers itself so that their size is checked before they are read into memory:
/// tar-rs reads them whole, so a compressed 1 GiB long name costs 1 GiB of heap.
///
/// `f` gets each entry that is not an extension header, with its full name (GNU long name,
/// else pax `path`, else the header's, as tar-rs picks); it returns `true` to stop. A pax
/// `size` record (files over 8 GiB) is refused: the raw walk cannot honour it.
pub(crate) fn walk_tar<R: Read, E: From<io::Error>>(
    r: R,
    mut f: impl FnMut(&[u8], &mut tar::Entry<'_, R>) -> Result<bool, E>,
) -> Result<(), E> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut archive = tar::Archive::new(r);
    let mut long_name: Option<Vec<u8>> = None;
    let mut pax: Option<Vec<u8>> = None;
    for entry in archive.entries()?.raw(true) {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        let what = if kind.is_gnu_longname() {
            "GNU long name"
        } else if kind.is_gnu_longlink() {
            "GNU long link name"
        } else if kind.is_pax_local_extensions() {
            "pax header"
        } else if kind.is_pax_global_extensions() {
            "pax global header"
        } else {
            let name = match (&long_name, &pax) {
                (Some(n), _) => n.strip_suffix(b"\0").unwrap_or(n).to_vec(),
                (None, Some(p)) => tar::PaxExtensions::new(p)
                    .filter_map(Result::ok)
                    .find(|x| x.key_bytes() == b"path")
                    .map(|x| x.value_bytes().to_vec())
                    .unwrap_or_else(|| entry.path_bytes().into_owned()),
                (None, None) => entry.path_bytes().into_owned(),
            };
            (long_name, pax) = (None, None);
            if f(&name, &mut entry)? {
                return Ok(());
            }
            continue;
        };
        let size = entry.size();
        if size > MAX_TAR_EXTENSION {
            return Err(bad(format!(
                "a {what} of {size} bytes (at most {MAX_TAR_EXTENSION} accepted)"
            ))
            .into());
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry).take(size).read_to_end(&mut data)?;
        let slot = if kind.is_gnu_longname() {
            &mut long_name
        } else if kind.is_pax_local_extensions() {
            if tar::PaxExtensions::new(&data)
                .filter_map(Result::ok)
                .any(|x| x.key_bytes() == b"size")
            {
                return Err(bad("a pax size record (a file over 8 GiB)".into()).into());
            }
            &mut pax
        } else {
            continue; // link names and global headers do not matter here
        };
        if slot.replace(data).is_some() {
            return Err(bad(format!("two {what}s describing the same member")).into());
        }
    }
    if long_name.is_some() || pax.is_some() {
        return Err(bad("the archive ends after a header describing a member".into()).into());
    }
    Ok(())
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
mod tests {
    use super::*;

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
            padded.resize((name.len() + 3) / 4 * 4, 0);
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
        for (bytes, want) in cases {
            let err = info(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "expected {want:?} in {err:?}");
        }
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
    fn ar_numbers_follow_apt() {
        assert_eq!(ar_number(b"          ", 10), Some(0));
        assert_eq!(ar_number(b"123       ", 10), Some(123));
        assert_eq!(ar_number(b"  42x     ", 10), Some(42));
        assert_eq!(ar_number(b"abc       ", 10), None);
        assert_eq!(ar_number(b"100644  ", 8), Some(0o100644));
        assert_eq!(ar_number(b"99999999999999999999999", 10), None);
    }

    #[test]
    fn control_bombs_are_bounded() {
        // A control file declared larger than the limit is refused before allocation.
        let mut h = tar::Header::new_gnu();
        h.set_size(MAX_CONTROL_FILE + 1);
        h.set_path("./control").unwrap();
        h.set_cksum();
        let mut t = h.as_bytes().to_vec();
        t.extend(std::iter::repeat(0).take(1024));
        let d = ar(&[
            (b"debian-binary", b"2.0\n"),
            (b"control.tar", &t),
            (b"data.tar", b""),
        ]);
        assert!(matches!(info(&d), Err(DebErrorKind::ControlTooLarge(_))));
    }

    #[test]
    fn walk_tar_names_entries_as_tar_rs_does() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        // A GNU long name, a pax path, a plain name.
        let long = format!("./{}/control", "d".repeat(150));
        b.append_data(&mut h.clone(), &long, &b"x"[..]).unwrap();
        b.append_pax_extensions([("path", &b"pax/name"[..]), ("mtime", b"1")])
            .unwrap();
        b.append_data(&mut h.clone(), "short", &b"y"[..]).unwrap();
        b.append_data(&mut h, "./control", &b"z"[..]).unwrap();
        let t = b.into_inner().unwrap();
        let mut names = Vec::new();
        walk_tar::<_, io::Error>(&t[..], |n, _| {
            names.push(n.to_vec());
            Ok(false)
        })
        .unwrap();
        let want: Vec<Vec<u8>> = tar::Archive::new(&t[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path_bytes().into_owned())
            .collect();
        assert_eq!(names, want);
        assert_eq!(names[1], b"pax/name");
        // Stopping early.
        let mut n = 0;
        walk_tar::<_, io::Error>(&t[..], |_, _| {
            n += 1;
            Ok(true)
        })
        .unwrap();
        assert_eq!(n, 1);
        // A long name describing nothing, two long names for one member.
        let first = &t[..1024]; // the long-name header and its data block
        let dangling = [first, &[0u8; 1024][..]].concat();
        let twice = [first, first, &t[1024..]].concat();
        for (bytes, want) in [
            (dangling, "ends after a header"),
            (twice, "two GNU long names"),
        ] {
            let e = walk_tar::<_, io::Error>(&bytes[..], |_, _| Ok(false)).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
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
