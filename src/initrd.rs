//! What an initrd is made of, and whether it carries modules for a given kernel.
//!
//! This module owns sniffing the file published as `netboot/xen/initrd.gz` (whatever its real
//! format): Xen copies it as-is and the guest kernel unpacks it, so it must be a sequence the
//! kernel's `unpack_to_rootfs` accepts:
//!
//! * uncompressed newc cpio archives (`070701` / `070702`), each ending with `TRAILER!!!`;
//! * compressed streams (gzip, bzip2, xz, lzma, zstd, legacy lz4, lzo) holding cpio archives;
//! * zero padding between parts, as dracut and initramfs-tools write when they put an
//!   uncompressed early-microcode cpio in front of the compressed main archive.
//!
//! It walks the parts in order, streaming the cpio headers (data is skipped, never stored), and
//! collects the kernel releases found under `lib/modules/<release>/` or
//! `usr/lib/modules/<release>/`. With an expected release it stops as soon as that release is
//! seen. The work is capped by [`Limits`]; hitting a cap leaves the answer open
//! (`matches: null`) rather than guessing.
//!
//! It does not own the kernel ([`crate::xen`]), the decompressors ([`crate::compress`], whose
//! first-stream decoders and windows it reads the parts through) or pairing a kernel with its
//! initrd.
//!
//! # JSON shape
//!
//! ```text
//! { "path": "initrd.img", "file_size": 52504164, "format": "cpio + gzip",
//!   "parts": [ { "offset": 0, "compression": null, "entries": 4,
//!                "unpacked_bytes": 31744, "compressed_size": null, "complete": true },
//!              { "offset": 32256, "compression": "gzip", "entries": 812,
//!                "unpacked_bytes": 9123456, "compressed_size": null, "complete": false } ],
//!   "module_versions": ["6.1.0-26-amd64"], "expected_release": "6.1.0-26-amd64",
//!   "matches": true | false | null, "scanned_to_end": false, "warnings": [] }
//! ```
//!
//! `compression` uses the names of [`Compression`] (`null` for an uncompressed cpio);
//! `compressed_size` is known once a compressed part has been read to its end.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use crate::compress::{open_window_decoder, read_at_most, Compression, ReadSeek, Shared, Window};

/// Linux's PATH_MAX: longest cpio name accepted.
const MAX_NAME: u64 = 4096;
/// How many distinct module releases are kept.
const MAX_VERSIONS: usize = 256;

/// Caps on the work done for one initrd.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Unpacked bytes walked over, all parts together (default 2 GiB).
    pub max_unpacked: u64,
    /// cpio entries walked over (default 2 million).
    pub max_entries: u64,
    /// Parts (cpio archives and compressed streams at top level; default 64).
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_unpacked: 2 << 30,
            max_entries: 2_000_000,
            max_parts: 64,
        }
    }
}

/// Why an initrd could not be inspected. Display reads `<path>: <what is wrong>`:
/// [`InitrdError::path`], then [`InitrdError::reason`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitrdError {
    /// Opening or reading the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is empty (or only zeros).
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Neither a cpio archive nor a known compression at `offset`.
    Unrecognised {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What was found.
        reason: String,
    },
    /// A cpio archive is malformed.
    BadCpio {
        /// The file.
        path: PathBuf,
        /// Offset of the part (in the file) holding the archive.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A compressed part does not decompress.
    Decompress {
        /// The file.
        path: PathBuf,
        /// Offset of the part in the file.
        offset: u64,
        /// Its compression.
        compression: Compression,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// A format the Linux kernel cannot unpack.
    KernelCannotUnpack {
        /// The file.
        path: PathBuf,
        /// Offset of the part in the file.
        offset: u64,
        /// Its compression.
        compression: Compression,
        /// Why.
        reason: String,
    },
}

impl InitrdError {
    /// The file the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            InitrdError::Io { path, .. }
            | InitrdError::Empty { path }
            | InitrdError::Unrecognised { path, .. }
            | InitrdError::BadCpio { path, .. }
            | InitrdError::Decompress { path, .. }
            | InitrdError::KernelCannotUnpack { path, .. } => path,
        }
    }

    /// What is wrong, without the path: for a message that names the file its own way.
    pub fn reason(&self) -> impl fmt::Display + '_ {
        Reason(self)
    }
}

/// [`InitrdError::reason`].
struct Reason<'a>(&'a InitrdError);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            InitrdError::Io { source, .. } => write!(f, "{source}"),
            InitrdError::Empty { .. } => write!(f, "empty initrd"),
            InitrdError::Unrecognised { offset, reason, .. } => {
                write!(f, "not an initrd: {reason} at offset {offset}")
            }
            InitrdError::BadCpio { offset, reason, .. } => {
                write!(f, "cpio archive at offset {offset}: {reason}")
            }
            InitrdError::Decompress {
                offset,
                compression,
                source,
                ..
            } => write!(f, "{compression} part at offset {offset}: {source}"),
            InitrdError::KernelCannotUnpack {
                offset,
                compression,
                reason,
                ..
            } => write!(f, "{compression} part at offset {offset}: {reason}"),
        }
    }
}

impl fmt::Display for InitrdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.reason())
    }
}

/// One top-level part of the initrd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InitrdPart {
    /// Offset in the file.
    pub offset: u64,
    /// `None` for an uncompressed cpio archive.
    pub compression: Option<Compression>,
    /// cpio entries walked (the trailers not counted).
    pub entries: u64,
    /// Unpacked bytes walked.
    pub unpacked_bytes: u64,
    /// Compressed length, once the stream was read to its end.
    pub compressed_size: Option<u64>,
    /// Whether the part was read to its end.
    pub complete: bool,
}

impl InitrdPart {
    fn name(&self) -> &'static str {
        self.compression.map_or("cpio", Compression::name)
    }
}

/// What an initrd holds. See the module docs for the JSON shape.
#[derive(Clone, Debug, Serialize)]
pub struct InitrdReport {
    /// The name the initrd was inspected under.
    pub path: String,
    /// File size.
    pub file_size: u64,
    /// The parts' formats joined by " + ", e.g. "cpio + zstd".
    pub format: String,
    /// The parts, in file order.
    pub parts: Vec<InitrdPart>,
    /// Kernel releases under `lib/modules/` or `usr/lib/modules/`, sorted.
    pub module_versions: Vec<String>,
    /// The release asked about.
    pub expected_release: Option<String>,
    /// Whether modules for `expected_release` are present: `None` when not asked, or when the
    /// scan could not finish without finding them.
    pub matches: Option<bool>,
    /// Whether every part was read to its end.
    pub scanned_to_end: bool,
    /// Remarks (caps hit, parts not examined, eliloader's size limit).
    pub warnings: Vec<String>,
}

impl InitrdReport {
    /// The report as human-readable lines. Same as `Display`.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InitrdReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "initrd: {} ({} bytes)", self.path, self.file_size)?;
        writeln!(f, "format: {}", self.format)?;
        for (i, p) in self.parts.iter().enumerate() {
            writeln!(
                f,
                "part {i}: {} at offset {}, {} entries, {} bytes unpacked{}",
                p.name(),
                p.offset,
                p.entries,
                p.unpacked_bytes,
                if p.complete {
                    ""
                } else {
                    " (not read to the end)"
                }
            )?;
        }
        if self.module_versions.is_empty() {
            writeln!(f, "modules: none found")?;
        } else {
            writeln!(f, "modules: {}", self.module_versions.join(", "))?;
        }
        if let Some(r) = &self.expected_release {
            let m = match self.matches {
                Some(true) => "found",
                Some(false) => "NOT found",
                None => "unknown (scan incomplete)",
            };
            writeln!(f, "modules for {r}: {m}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// Inspect an initrd file with default [`Limits`].
pub fn inspect_initrd_file(
    path: &Path,
    expect_release: Option<&str>,
) -> Result<InitrdReport, InitrdError> {
    let file = crate::hash::open_regular(path).map_err(|source| InitrdError::Io {
        path: path.to_owned(),
        source,
    })?;
    inspect_core(Box::new(file), path, expect_release, &Limits::default())
}

/// Inspect an initrd read from `r`; `name` is used in the report and in errors.
pub fn inspect_initrd<R: Read + Seek>(
    r: R,
    name: &Path,
    expect_release: Option<&str>,
) -> Result<InitrdReport, InitrdError> {
    inspect_core(Box::new(r), name, expect_release, &Limits::default())
}

/// Inspect an initrd with explicit limits.
pub fn inspect_initrd_with<R: Read + Seek>(
    r: R,
    name: &Path,
    expect_release: Option<&str>,
    limits: &Limits,
) -> Result<InitrdReport, InitrdError> {
    inspect_core(Box::new(r), name, expect_release, limits)
}

/// The release named by a cpio path under `lib/modules/` or `usr/lib/modules/`.
fn module_release(name: &[u8]) -> Option<&[u8]> {
    let mut n = name;
    loop {
        if let Some(rest) = n.strip_prefix(b"./") {
            n = rest;
        } else if let Some(rest) = n.strip_prefix(b"/") {
            n = rest;
        } else {
            break;
        }
    }
    let rest = n
        .strip_prefix(b"usr/lib/modules/")
        .or_else(|| n.strip_prefix(b"lib/modules/"))?;
    let end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
    let v = &rest[..end];
    (!v.is_empty()).then_some(v)
}

/// State shared by all parts.
struct Scan<'e> {
    expect: Option<&'e str>,
    versions: BTreeSet<String>,
    found: bool,
    entries: u64,
    unpacked: u64,
    capped: Option<String>,
}

enum Stop {
    /// The stream ended (after zero or more complete archives).
    End,
    /// Stopped early: expected modules found, or a cap hit.
    Early,
}

/// A `BufRead` with a position.
struct Pos<'r> {
    r: &'r mut dyn BufRead,
    pos: u64,
}

impl Pos<'_> {
    /// Fill `buf`; returns how many bytes came (fewer only at end of stream).
    fn read_full(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            let n = self.r.read(&mut buf[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        self.pos += got as u64;
        Ok(got)
    }

    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let got = io::copy(&mut self.r.take(n), &mut io::sink())?;
        self.pos += got;
        Ok(got)
    }

    /// Skip zero bytes, at most `max` of them; returns how many were skipped and what
    /// follows them (the next byte is not consumed).
    fn skip_zeros(&mut self, max: u64) -> io::Result<(u64, Zeros)> {
        let mut skipped = 0u64;
        loop {
            let buf = self.r.fill_buf()?;
            let Some(zeros) =
                (!buf.is_empty()).then(|| buf.iter().take_while(|&&b| b == 0).count())
            else {
                return Ok((skipped, Zeros::End));
            };
            if zeros < buf.len() && (zeros as u64) <= max - skipped {
                let next = buf[zeros];
                self.r.consume(zeros);
                self.pos += zeros as u64;
                return Ok((skipped + zeros as u64, Zeros::Next(next)));
            }
            if skipped == max {
                return Ok((skipped, Zeros::Capped));
            }
            let take = zeros.min(usize::try_from(max - skipped).unwrap_or(usize::MAX));
            self.r.consume(take);
            self.pos += take as u64;
            skipped += take as u64;
        }
    }
}

/// What [`Pos::skip_zeros`] stopped at.
enum Zeros {
    /// The end of the stream.
    End,
    /// This non-zero byte.
    Next(u8),
    /// More zeros than allowed.
    Capped,
}

fn pad4(n: u64) -> u64 {
    (4 - n % 4) % 4
}

/// Problems found while walking cpio data.
enum WalkError {
    Io(io::Error),
    Bad(String),
}

impl From<io::Error> for WalkError {
    fn from(e: io::Error) -> Self {
        WalkError::Io(e)
    }
}

/// Walk newc cpio archives from `r`. With `one_archive`, stop after the first trailer (an
/// uncompressed part: what follows is sniffed again at top level); otherwise go on through
/// zero padding and further archives until the stream ends, as the kernel does inside a
/// compressed stream.
fn walk_cpio(
    r: &mut Pos<'_>,
    scan: &mut Scan<'_>,
    part: &mut InitrdPart,
    limits: &Limits,
    one_archive: bool,
) -> Result<Stop, WalkError> {
    loop {
        if !one_archive {
            if let Some(stop) = skip_padding(r, scan, part, limits)? {
                return Ok(stop);
            }
        }
        if let Stop::Early = walk_archive(r, scan, part, limits)? {
            return Ok(Stop::Early);
        }
        if one_archive {
            return Ok(Stop::End);
        }
    }
}

/// Inside a stream: zero padding, then another archive (`None`: go on) or the end. The
/// padding is work like the rest: a small stream can expand to terabytes of zeros.
fn skip_padding(
    r: &mut Pos<'_>,
    scan: &mut Scan<'_>,
    part: &mut InitrdPart,
    limits: &Limits,
) -> Result<Option<Stop>, WalkError> {
    let budget = limits.max_unpacked.saturating_sub(scan.unpacked);
    let (skipped, next) = r.skip_zeros(budget)?;
    scan.unpacked += skipped;
    part.unpacked_bytes += skipped;
    match next {
        Zeros::Capped => {
            scan.capped = Some(format!(
                "stopped after {} unpacked bytes (limit)",
                scan.unpacked
            ));
            return Ok(Some(Stop::Early));
        }
        Zeros::End => return Ok(Some(Stop::End)),
        Zeros::Next(b'0') => {}
        Zeros::Next(b) => {
            return Err(WalkError::Bad(format!(
                "junk byte {b:#04x} after an archive at unpacked offset {}",
                r.pos
            )))
        }
    }
    if !r.pos.is_multiple_of(4) {
        return Err(WalkError::Bad(format!(
            "archive at unpacked offset {} is not 4-byte aligned",
            r.pos
        )));
    }
    Ok(None)
}

/// One archive, up to its trailer (`End`), or until the expected modules are found or a cap
/// is hit (`Early`).
fn walk_archive(
    r: &mut Pos<'_>,
    scan: &mut Scan<'_>,
    part: &mut InitrdPart,
    limits: &Limits,
) -> Result<Stop, WalkError> {
    loop {
        let h = read_header(r)?;
        let name = &h.name[..h.name.iter().position(|&c| c == 0).unwrap_or(h.name.len())];
        let trailer = name == b"TRAILER!!!";
        scan.unpacked = scan.unpacked.saturating_add(110 + h.namesize);
        part.unpacked_bytes = part.unpacked_bytes.saturating_add(110 + h.namesize);
        if !trailer {
            if let Some(stop) = count_entry(name, scan, part, limits) {
                return Ok(stop);
            }
        }
        if let Some(stop) = skip_data(r, &h, trailer, scan, part, limits)? {
            return Ok(stop);
        }
        if trailer {
            return Ok(Stop::End);
        }
    }
}

/// A newc entry header and the name after it.
struct Header {
    /// Its unpacked offset.
    at: u64,
    filesize: u64,
    namesize: u64,
    /// `namesize` bytes, the terminating NUL included.
    name: Vec<u8>,
}

/// Read a newc header (`070701` or `070702`) and the entry's name.
fn read_header(r: &mut Pos<'_>) -> Result<Header, WalkError> {
    let mut h = [0u8; 110];
    let at = r.pos;
    if r.read_full(&mut h)? < h.len() {
        return Err(WalkError::Bad(format!(
            "the data ends inside a cpio header at unpacked offset {at}"
        )));
    }
    if &h[..6] != b"070701" && &h[..6] != b"070702" {
        return Err(WalkError::Bad(format!(
            "no newc cpio header at unpacked offset {at} (found {:?})",
            String::from_utf8_lossy(&h[..6])
        )));
    }
    let field = |i: usize| -> Result<u64, WalkError> {
        let s = &h[6 + 8 * i..14 + 8 * i];
        std::str::from_utf8(s)
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or_else(|| WalkError::Bad(format!("bad hex field in the cpio header at {at}")))
    };
    let filesize = field(6)?;
    let namesize = field(11)?;
    if namesize == 0 || namesize > MAX_NAME {
        return Err(WalkError::Bad(format!(
            "name size {namesize} in the cpio header at {at}"
        )));
    }
    let mut name = vec![0u8; namesize as usize];
    if r.read_full(&mut name)? < name.len() {
        return Err(WalkError::Bad(format!(
            "the data ends inside a name at {at}"
        )));
    }
    Ok(Header {
        at,
        filesize,
        namesize,
        name,
    })
}

/// Count an entry (not a trailer) and note the module release its name carries; `Early` when
/// the expected release is found or the entry cap is hit.
fn count_entry(
    name: &[u8],
    scan: &mut Scan<'_>,
    part: &mut InitrdPart,
    limits: &Limits,
) -> Option<Stop> {
    part.entries += 1;
    scan.entries += 1;
    if scan.entries > limits.max_entries {
        scan.capped = Some(format!(
            "stopped after {} cpio entries (limit)",
            limits.max_entries
        ));
        return Some(Stop::Early);
    }
    if let Some(v) = module_release(name) {
        let v = String::from_utf8_lossy(v).into_owned();
        if scan.expect == Some(v.as_str()) {
            scan.found = true;
        }
        if scan.versions.len() < MAX_VERSIONS {
            scan.versions.insert(v);
        }
        if scan.found {
            return Some(Stop::Early);
        }
    }
    None
}

/// Skip an entry's data and padding, within what is left of the budget (`Early` when it runs
/// out).
fn skip_data(
    r: &mut Pos<'_>,
    h: &Header,
    trailer: bool,
    scan: &mut Scan<'_>,
    part: &mut InitrdPart,
    limits: &Limits,
) -> Result<Option<Stop>, WalkError> {
    let skip = pad4(110 + h.namesize) + h.filesize + pad4(h.filesize);
    let budget = limits.max_unpacked.saturating_sub(scan.unpacked);
    let want = skip.min(budget);
    let got = r.skip(want)?;
    scan.unpacked += got;
    part.unpacked_bytes += got;
    if got < want {
        // The last entry's padding may be missing at the very end of a stream.
        if !(trailer && r.pos >= h.at + 110 + h.namesize + h.filesize) {
            return Err(WalkError::Bad(format!(
                "the data ends inside the entry at unpacked offset {}",
                h.at
            )));
        }
    } else if want < skip {
        scan.capped = Some(format!(
            "stopped after {} unpacked bytes (limit)",
            scan.unpacked
        ));
        return Ok(Some(Stop::Early));
    }
    Ok(None)
}

fn inspect_core<'a>(
    src: Box<dyn ReadSeek + 'a>,
    path: &Path,
    expect: Option<&str>,
    limits: &Limits,
) -> Result<InitrdReport, InitrdError> {
    let src: Shared<'a> = Rc::new(RefCell::new(src));
    let file_size = src
        .borrow_mut()
        .seek(SeekFrom::End(0))
        .map_err(|source| io_error(path, source))?;
    let mut report = InitrdReport {
        path: path.display().to_string(),
        file_size,
        format: String::new(),
        parts: Vec::new(),
        module_versions: Vec::new(),
        expected_release: expect.map(str::to_owned),
        matches: None,
        scanned_to_end: false,
        warnings: Vec::new(),
    };
    if file_size > crate::eliloader::INITRD_LIMIT {
        report.warnings.push(format!(
            "the file is {file_size} bytes: eliloader refuses initrds over 128 MiB by default"
        ));
    }
    let mut scan = Scan {
        expect,
        versions: BTreeSet::new(),
        found: false,
        entries: 0,
        unpacked: 0,
        capped: None,
    };
    let input = Input {
        src: &src,
        path,
        file_size,
        limits,
    };
    let finished = walk_parts(&input, &mut scan, &mut report)?;
    if report.parts.is_empty() {
        return Err(InitrdError::Empty {
            path: path.to_owned(),
        });
    }
    conclude(&mut report, scan, finished);
    Ok(report)
}

fn io_error(path: &Path, source: io::Error) -> InitrdError {
    InitrdError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What every part of one initrd is read from and against.
struct Input<'s, 'a> {
    src: &'s Shared<'a>,
    path: &'s Path,
    file_size: u64,
    limits: &'s Limits,
}

/// Walk the top-level parts in file order, skipping the zero padding between them. True when
/// the end of the file was reached.
fn walk_parts(
    input: &Input<'_, '_>,
    scan: &mut Scan<'_>,
    report: &mut InitrdReport,
) -> Result<bool, InitrdError> {
    let mut off = 0u64;
    loop {
        off = skip_file_zeros(input.src, off, input.file_size)
            .map_err(|source| io_error(input.path, source))?;
        if off >= input.file_size {
            return Ok(true);
        }
        if report.parts.len() >= input.limits.max_parts {
            scan.capped = Some(format!("stopped after {} parts", input.limits.max_parts));
            return Ok(false);
        }
        match walk_part(input, off, scan, report)? {
            Some(next) => off = next,
            None => return Ok(false),
        }
    }
}

/// Walk the part at `off` and add it to the report. Returns where the next part may start, or
/// `None` to stop (modules found, a cap hit, a part that cannot be examined).
fn walk_part(
    input: &Input<'_, '_>,
    off: u64,
    scan: &mut Scan<'_>,
    report: &mut InitrdReport,
) -> Result<Option<u64>, InitrdError> {
    let magic = read_at_most(input.src, off, 8).map_err(|source| io_error(input.path, source))?;
    let mut part = InitrdPart {
        offset: off,
        compression: None,
        entries: 0,
        unpacked_bytes: 0,
        compressed_size: None,
        complete: false,
    };
    if magic.starts_with(b"070701") || magic.starts_with(b"070702") {
        return walk_cpio_part(input, part, scan, report);
    }
    let compression = match Compression::sniff(&magic) {
        Some(c) => c,
        None => {
            return Err(InitrdError::Unrecognised {
                path: input.path.to_owned(),
                offset: off,
                reason: unrecognised(&magic, report.parts.is_empty()),
            })
        }
    };
    part.compression = Some(compression);
    if compression == Compression::Lz4Frame {
        return Err(InitrdError::KernelCannotUnpack {
            path: input.path.to_owned(),
            offset: off,
            compression,
            reason: "Linux only unpacks the legacy lz4 format (lz4 -l)".into(),
        });
    }
    if !compression.decodable() {
        report.warnings.push(format!(
            "the {compression} part at offset {off} was not examined: elirepo has no \
             {compression} decoder"
        ));
        report.parts.push(part);
        return Ok(None);
    }
    walk_compressed_part(input, compression, part, scan, report)
}

/// Why the bytes `magic` at the start of a part are not an initrd part (`first`: no part came
/// before).
fn unrecognised(magic: &[u8], first: bool) -> String {
    if !first {
        "junk after the previous part (the kernel stops unpacking here)".to_owned()
    } else if magic.starts_with(b"070707") {
        "an old-style (odc) cpio archive; the kernel only unpacks newc".to_owned()
    } else {
        format!(
            "no cpio header and no known compression (starts with {})",
            crate::hash::hex(magic)
        )
    }
}

/// An uncompressed cpio archive: one archive, then the top level again.
fn walk_cpio_part(
    input: &Input<'_, '_>,
    mut part: InitrdPart,
    scan: &mut Scan<'_>,
    report: &mut InitrdReport,
) -> Result<Option<u64>, InitrdError> {
    let off = part.offset;
    if !off.is_multiple_of(4) {
        return Err(InitrdError::BadCpio {
            path: input.path.to_owned(),
            offset: off,
            reason: "the archive is not 4-byte aligned, the kernel would not read it".into(),
        });
    }
    let mut buffered = BufReader::with_capacity(
        64 << 10,
        Window::new(input.src.clone(), off, input.file_size),
    );
    let mut r = Pos {
        r: &mut buffered,
        pos: 0,
    };
    let stop = walk_cpio(&mut r, scan, &mut part, input.limits, true)
        .map_err(|e| walk_error(input.path, off, None, e))?;
    let end = r.pos;
    let early = matches!(stop, Stop::Early);
    part.complete = !early;
    report.parts.push(part);
    Ok((!early).then_some(off + end))
}

/// A compressed stream: every archive in it, then the top level again after the stream.
fn walk_compressed_part(
    input: &Input<'_, '_>,
    compression: Compression,
    mut part: InitrdPart,
    scan: &mut Scan<'_>,
    report: &mut InitrdReport,
) -> Result<Option<u64>, InitrdError> {
    let off = part.offset;
    let (dec, consumed) = open_window_decoder(compression, input.src, off, input.file_size)
        .map_err(|source| InitrdError::Decompress {
            path: input.path.to_owned(),
            offset: off,
            compression,
            source,
        })?;
    let mut buffered = BufReader::with_capacity(64 << 10, dec);
    let mut r = Pos {
        r: &mut buffered,
        pos: 0,
    };
    let stop = walk_cpio(&mut r, scan, &mut part, input.limits, false)
        .map_err(|e| walk_error(input.path, off, Some(compression), e))?;
    let early = matches!(stop, Stop::Early);
    part.complete = !early;
    if !early {
        part.compressed_size = Some(consumed.get());
    }
    report.parts.push(part);
    if early {
        return Ok(None);
    }
    let used = consumed.get();
    if used == 0 {
        return Ok(None); // cannot happen with a magic present; never loop forever
    }
    Ok(Some(off.saturating_add(used)))
}

/// Fill in what the walk found: the format, the versions, whether it matches.
fn conclude(report: &mut InitrdReport, scan: Scan<'_>, finished: bool) {
    report.format = report
        .parts
        .iter()
        .map(InitrdPart::name)
        .collect::<Vec<_>>()
        .join(" + ");
    report.scanned_to_end = finished && report.parts.iter().all(|p| p.complete);
    report.module_versions = scan.versions.into_iter().collect();
    if let Some(c) = scan.capped {
        report.warnings.push(c);
    }
    report.matches = match scan.expect {
        None => None,
        Some(_) if scan.found => Some(true),
        Some(_) if report.scanned_to_end => Some(false),
        Some(_) => None,
    };
}

fn walk_error(
    path: &Path,
    offset: u64,
    compression: Option<Compression>,
    e: WalkError,
) -> InitrdError {
    match (e, compression) {
        (WalkError::Io(source), Some(compression)) => InitrdError::Decompress {
            path: path.to_owned(),
            offset,
            compression,
            source,
        },
        (WalkError::Io(source), None) => InitrdError::Io {
            path: path.to_owned(),
            source,
        },
        (WalkError::Bad(reason), _) => InitrdError::BadCpio {
            path: path.to_owned(),
            offset,
            reason,
        },
    }
}

/// The offset of the first non-zero byte at or after `off` (or `size`).
fn skip_file_zeros(src: &Shared<'_>, mut off: u64, size: u64) -> io::Result<u64> {
    while off < size {
        let chunk = read_at_most(src, off, 64 << 10)?;
        if chunk.is_empty() {
            return Ok(size);
        }
        match chunk.iter().position(|&b| b != 0) {
            Some(i) => return Ok(off + i as u64),
            None => off += chunk.len() as u64,
        }
    }
    Ok(off)
}

#[cfg(test)]
mod synth {
    //! Synthetic initrds: newc cpio archives, compressed as the initramfs tools do.
    use crate::compress::Compression;
    use crate::xen::synth::{compress_raw, Comp as K};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Comp {
        None,
        Gzip,
        Bzip2,
        Xz,
        Lzma,
        Zstd,
        Lz4,
    }

    pub const ALL: [Comp; 7] = [
        Comp::None,
        Comp::Gzip,
        Comp::Bzip2,
        Comp::Xz,
        Comp::Lzma,
        Comp::Zstd,
        Comp::Lz4,
    ];

    pub fn compression_of(c: Comp) -> Option<Compression> {
        Some(match c {
            Comp::None => return None,
            Comp::Gzip => Compression::Gzip,
            Comp::Bzip2 => Compression::Bzip2,
            Comp::Xz => Compression::Xz,
            Comp::Lzma => Compression::Lzma,
            Comp::Zstd => Compression::Zstd,
            Comp::Lz4 => Compression::Lz4Legacy,
        })
    }

    pub fn compress(c: Comp, data: &[u8]) -> Vec<u8> {
        let k = match c {
            Comp::None => return data.to_vec(),
            Comp::Gzip => K::Gzip,
            Comp::Bzip2 => K::Bzip2,
            Comp::Xz => K::Xz,
            Comp::Lzma => K::Lzma,
            Comp::Zstd => K::Zstd,
            Comp::Lz4 => K::Lz4,
        };
        compress_raw(k, data)
    }

    fn pad4(v: &mut Vec<u8>) {
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
    }

    /// A newc archive of (name, data, is_dir) entries, with its trailer.
    pub fn cpio(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let trailer: (&str, &[u8], bool) = ("TRAILER!!!", b"", false);
        for (ino, &(name, data, dir)) in entries.iter().chain([&trailer]).enumerate() {
            let mode: u32 = if name == "TRAILER!!!" {
                0
            } else if dir {
                0o040755
            } else {
                0o100644
            };
            let fields = [
                ino as u32 + 1,
                mode,
                0,
                0,
                1,
                0,
                data.len() as u32,
                0,
                0,
                0,
                0,
                name.len() as u32 + 1,
                0,
            ];
            out.extend_from_slice(b"070701");
            for f in fields {
                out.extend_from_slice(format!("{f:08X}").as_bytes());
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            pad4(&mut out);
            out.extend_from_slice(data);
            pad4(&mut out);
        }
        out
    }

    /// A main archive with 6 entries, modules for `rel` under usr/lib/modules.
    pub fn main_cpio(rel: &str) -> Vec<u8> {
        let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 253) as u8).collect();
        cpio(&[
            ("init", b"#!/bin/sh\n" as &[u8], false),
            ("bin", b"", true),
            ("bin/busybox", &big, false),
            (&format!("usr/lib/modules/{rel}"), b"", true),
            (
                &format!("usr/lib/modules/{rel}/kernel/drivers/xen/xen-blkfront.ko"),
                b"\x7fELF",
                false,
            ),
            (&format!("usr/lib/modules/{rel}/modules.dep"), b"", false),
        ])
    }

    /// An early microcode archive (4 entries), zero-padded to 512 bytes.
    pub fn early_cpio() -> Vec<u8> {
        let mut v = cpio(&[
            ("kernel", b"" as &[u8], true),
            ("kernel/x86", b"", true),
            ("kernel/x86/microcode", b"", true),
            (
                "kernel/x86/microcode/GenuineIntel.bin",
                &[0xaa; 1000],
                false,
            ),
        ]);
        while v.len() % 512 != 0 {
            v.push(0);
        }
        v
    }

    /// `[early cpio +] compress(main)`.
    pub fn image(c: Comp, main: &[u8], early: bool) -> Vec<u8> {
        let mut v = if early { early_cpio() } else { Vec::new() };
        v.extend(compress(c, main));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::synth::*;
    use super::*;
    use std::io::Cursor;

    fn inspect(bytes: &[u8], expect: Option<&str>) -> Result<InitrdReport, InitrdError> {
        inspect_initrd(Cursor::new(bytes), Path::new("initrd.gz"), expect)
    }

    const REL: &str = "6.1.0-26-amd64";

    #[test]
    fn every_compression_with_and_without_early_cpio() {
        let main = main_cpio(REL);
        for c in ALL {
            for early in [false, true] {
                let img = image(c, &main, early);
                let r = inspect(&img, Some(REL)).unwrap_or_else(|e| panic!("{c:?}: {e}"));
                assert_eq!(r.matches, Some(true), "{c:?} early={early}");
                assert_eq!(r.module_versions, vec![REL.to_string()]);
                let want = compression_of(c);
                let fmt = match (early, want) {
                    (false, None) => "cpio".to_string(),
                    (true, None) => "cpio + cpio".to_string(),
                    (false, Some(w)) => w.name().to_string(),
                    (true, Some(w)) => format!("cpio + {}", w.name()),
                };
                assert_eq!(r.format, fmt, "{c:?}");
                assert_eq!(r.parts.len(), 1 + usize::from(early));
                if early {
                    assert_eq!(r.parts[0].compression, None);
                    assert_eq!(r.parts[0].entries, 4);
                    assert!(r.parts[0].complete);
                    assert_eq!(r.parts[1].offset % 512, 0);
                }
                // Found before the end: the scan stopped early.
                assert!(!r.scanned_to_end, "{c:?}");
                assert!(!r.parts.last().unwrap().complete);
            }
        }
    }

    #[test]
    fn the_trailer_may_lack_its_padding_at_the_very_end() {
        let mut plain = cpio(&[("init", b"#!/bin/sh\n", false)]);
        // The trailer's header and name are 121 bytes: 3 bytes of padding follow.
        assert_eq!(&plain[plain.len() - 3..], &[0, 0, 0]);
        plain.truncate(plain.len() - 3);
        for (c, img) in [
            (Comp::None, plain.clone()),
            (Comp::Gzip, compress(Comp::Gzip, &plain)),
        ] {
            let r = inspect(&img, None).unwrap_or_else(|e| panic!("{c:?}: {e}"));
            assert!(r.scanned_to_end, "{c:?}");
            assert_eq!(r.parts.len(), 1, "{c:?}");
            assert_eq!(r.parts[0].entries, 1, "{c:?}");
        }
        // Cut inside the trailer's name instead: an error.
        plain.truncate(plain.len() - 1);
        let e = inspect(&plain, None).unwrap_err();
        assert!(matches!(e, InitrdError::BadCpio { .. }), "{e}");
    }

    #[test]
    fn mismatch_reads_everything_and_lists_versions() {
        let main = main_cpio(REL);
        for c in ALL {
            let img = image(c, &main, true);
            let r = inspect(&img, Some("6.1.0-99-amd64")).unwrap();
            assert_eq!(r.matches, Some(false), "{c:?}");
            assert!(r.scanned_to_end, "{c:?}");
            assert_eq!(r.module_versions, vec![REL.to_string()]);
            let last = r.parts.last().unwrap();
            assert!(last.complete);
            assert_eq!(last.entries, 6);
            if c != Comp::None {
                assert!(last.compressed_size.unwrap() > 0);
            }
            // No expectation: matches is None but versions are still reported.
            let r = inspect(&img, None).unwrap();
            assert_eq!(r.matches, None);
            assert_eq!(r.module_versions, vec![REL.to_string()]);
        }
    }

    #[test]
    fn usr_lib_modules_and_several_versions() {
        let a = cpio(&[
            ("usr", b"" as &[u8], true),
            ("usr/lib/modules/6.1.0-1-amd64/kernel/x.ko", b"x", false),
            ("./lib/modules/5.10.0-9-amd64", b"", true),
        ]);
        let r = inspect(&a, Some("nope")).unwrap();
        assert_eq!(
            r.module_versions,
            vec!["5.10.0-9-amd64".to_string(), "6.1.0-1-amd64".into()]
        );
        assert_eq!(r.matches, Some(false));
        let r = inspect(&a, Some("5.10.0-9-amd64")).unwrap();
        assert_eq!(r.matches, Some(true));
        // "lib/modules" alone, "lib/modulesX/..." are not versions.
        assert_eq!(module_release(b"lib/modules"), None);
        assert_eq!(module_release(b"lib/modules/"), None);
        assert_eq!(module_release(b"lib/modulesX/1/a"), None);
        assert_eq!(module_release(b"/usr/lib/modules/1.2/a"), Some(&b"1.2"[..]));
    }

    #[test]
    fn several_compressed_parts_and_archives_in_one_stream() {
        // Two cpio archives inside one gzip stream, then a second gzip part.
        let mut inner = cpio(&[("a", b"1" as &[u8], false)]);
        inner.extend_from_slice(&[0; 8]);
        inner.extend(cpio(&[("lib/modules/1.0/b", b"2" as &[u8], false)]));
        let mut img = compress(Comp::Gzip, &inner);
        img.extend(compress(
            Comp::Xz,
            &cpio(&[("lib/modules/2.0/c", b"3" as &[u8], false)]),
        ));
        let r = inspect(&img, Some("3.0")).unwrap();
        assert_eq!(r.format, "gzip + xz");
        assert_eq!(r.module_versions, vec!["1.0".to_string(), "2.0".into()]);
        assert_eq!(r.parts[0].entries, 2);
        assert_eq!(r.parts[1].offset, r.parts[0].compressed_size.unwrap());
        assert_eq!(r.matches, Some(false));
        let r = inspect(&img, Some("2.0")).unwrap();
        assert_eq!(r.matches, Some(true));
    }

    #[test]
    fn empty_garbage_and_unsupported() {
        assert!(matches!(inspect(b"", None), Err(InitrdError::Empty { .. })));
        assert!(matches!(
            inspect(&[0; 4096], None),
            Err(InitrdError::Empty { .. })
        ));
        let e = inspect(b"hello, this is not an initrd", None).unwrap_err();
        assert!(
            matches!(e, InitrdError::Unrecognised { offset: 0, .. }),
            "{e}"
        );
        assert!(e.to_string().starts_with("initrd.gz: not an initrd"), "{e}");
        let e = inspect(b"070707000000000000000000000000", None).unwrap_err();
        assert!(e.to_string().contains("odc"), "{e}");
        let e = inspect(b"\x04\x22\x4d\x18\x64\x40\xa7\x00\x00\x00\x00", None).unwrap_err();
        assert!(matches!(e, InitrdError::KernelCannotUnpack { .. }), "{e}");
        // Junk after a valid part.
        let mut img = image(Comp::None, &main_cpio(REL), false);
        img.extend_from_slice(b"JUNK");
        let e = inspect(&img, Some("x")).unwrap_err();
        assert!(
            e.to_string().contains("junk after the previous part"),
            "{e}"
        );
        // LZO: recognised, not examined.
        let mut lzo = b"\x89LZO\x00\x0d\x0a\x1a\x0a".to_vec();
        lzo.extend_from_slice(&[1; 32]);
        let r = inspect(&lzo, Some(REL)).unwrap();
        assert_eq!(r.format, "lzo");
        assert_eq!(r.matches, None);
        assert!(!r.scanned_to_end);
        assert!(r.warnings[0].contains("not examined"));
    }

    #[test]
    fn broken_archives_are_typed_errors() {
        let main = main_cpio(REL);
        // Truncated uncompressed cpio.
        let e = inspect(&main[..main.len() / 2], Some("x")).unwrap_err();
        assert!(matches!(e, InitrdError::BadCpio { .. }), "{e}");
        // Truncated compressed stream.
        for c in [
            Comp::Gzip,
            Comp::Xz,
            Comp::Zstd,
            Comp::Bzip2,
            Comp::Lzma,
            Comp::Lz4,
        ] {
            let img = compress(c, &main);
            let e = inspect(&img[..img.len() - 5], Some("x")).unwrap_err();
            assert!(
                matches!(
                    e,
                    InitrdError::Decompress { .. } | InitrdError::BadCpio { .. }
                ),
                "{c:?}: {e}"
            );
        }
        // Bad hex, huge name size.
        let mut bad = main.clone();
        bad[6 + 8 * 6] = b'Z';
        assert!(matches!(
            inspect(&bad, None),
            Err(InitrdError::BadCpio { .. })
        ));
        let mut bad = main.clone();
        bad[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"FFFFFFFF");
        assert!(inspect(&bad, None)
            .unwrap_err()
            .to_string()
            .contains("name size"));
        // A file size running far past the end.
        let mut bad = main;
        bad[6 + 8 * 6..6 + 8 * 7].copy_from_slice(b"7FFFFFFF");
        assert!(matches!(
            inspect(&bad, None),
            Err(InitrdError::BadCpio { .. })
        ));
    }

    #[test]
    fn caps_leave_the_answer_open() {
        let img = image(Comp::Gzip, &main_cpio(REL), true);
        let limits = Limits {
            max_entries: 3,
            ..Limits::default()
        };
        let r = inspect_initrd_with(Cursor::new(&img), Path::new("i"), Some("x"), &limits).unwrap();
        assert_eq!(r.matches, None);
        assert!(!r.scanned_to_end);
        assert!(r.warnings.iter().any(|w| w.contains("cpio entries")));
        let limits = Limits {
            max_unpacked: 1000,
            ..Limits::default()
        };
        let r = inspect_initrd_with(Cursor::new(&img), Path::new("i"), Some("x"), &limits).unwrap();
        assert_eq!(r.matches, None);
        assert!(r.warnings.iter().any(|w| w.contains("unpacked bytes")));
    }

    #[test]
    fn json_and_text() {
        let img = image(Comp::Zstd, &main_cpio(REL), true);
        let r = inspect(&img, Some(REL)).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["format"], "cpio + zstd");
        assert_eq!(v["matches"], true);
        assert_eq!(v["parts"][0]["compression"], serde_json::Value::Null);
        assert_eq!(v["parts"][1]["compression"], "zstd");
        assert_eq!(v["module_versions"][0], REL);
        assert_eq!(v["expected_release"], REL);
        let t = r.to_text();
        assert!(t.contains("format: cpio + zstd"), "{t}");
        assert!(t.contains(&format!("modules for {REL}: found")), "{t}");
        let lz4 =
            serde_json::to_value(inspect(&image(Comp::Lz4, &main_cpio(REL), false), None).unwrap())
                .unwrap();
        assert_eq!(lz4["parts"][0]["compression"], "lz4_legacy");
    }
}
