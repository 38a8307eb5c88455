//! Will Xen boot this kernel as a PV guest? The kernel inspector.
//!
//! This module owns one question: given the file that would be published as
//! `netboot/xen/vmlinuz`, would Xen's PV domain builder (the one eliloader hands it to) load and
//! start it, and for which `installer-<arch>`? It reads the file the way Xen's toolstack does
//! (`xg_dom_bzimageloader.c`, `xg_dom_elfloader.c`, `libelf-dominfo.c`):
//!
//! * the container (`bzimage.rs`): a bzImage (also with an `MZ` EFI stub), a plain ELF, or a
//!   whole-file gzip of an ELF ([`Container`]); for a bzImage, the setup header (boot protocol,
//!   kernel version string) and the compressed payload ([`Compression`]), decompressed as a
//!   **stream**;
//! * the ELF image (`elf.rs`): bounded random access to it, plain or streamed, the ELF header and
//!   one reader for its program and section header tables;
//! * the notes (`notes.rs`): the `Xen` notes of the PT_NOTE segments (SHT_NOTE sections as a
//!   fallback, then a legacy `__xen_guest` section string), decoded as Xen reads them;
//! * Xen's acceptance rules (`rules.rs`), turned into a [`Verdict`] with human-readable reasons;
//! * the report (`report.rs`): [`KernelReport`], its text and its JSON.
//!
//! This file holds the entry points ([`inspect_kernel_file`], [`inspect_kernel_with`], ...),
//! [`InspectOptions`], [`XenError`] and the limits. It does not own the initrd
//! ([`crate::initrd`]), the decompressors ([`crate::compress`]), choosing a kernel among several
//! in an nfsroot, or printing.
//!
//! # Bounded work
//!
//! Kernels are hostile input. The inspector never holds the decompressed kernel in memory: it
//! skips forward through the decompressed stream and keeps only the ELF header, the program (and,
//! if needed, section) header tables and the note segments, each capped (see the `MAX_*`
//! constants). If a needed offset lies behind the stream position, the decompressor is opened
//! again from the start (at most [`MAX_PASSES`] times). Decompression never produces more than the
//! size the payload declares plus one byte, and that size must be at most Xen's 1 GiB
//! ([`MAX_KERNEL_SIZE`]). All header arithmetic is checked: a lying header gives a typed
//! [`XenError`], never a panic, a hang or an unbounded allocation.
//!
//! # When the stream is read to the end
//!
//! Xen decompresses the whole payload and insists that it yields exactly the size stored in the
//! payload's last four bytes. Checking that needs the whole stream, while the verdict is usually
//! known from the notes (about a third of the way into Debian's kernel). The rule here:
//!
//! * a kernel that would be refused anyway ([`Verdict::NoXen`], [`Verdict::PvhOnly`],
//!   [`Verdict::NotBootable`]) is not read further than needed: the answer is "do not publish"
//!   whatever the rest holds;
//! * a [`Verdict::PvCapable`] kernel is read to the end (not stored) by default, so that a corrupt
//!   tail or a lying size trailer is caught before eliloader ships it. The report's
//!   [`PayloadInfo::size_verified`] says whether that happened; [`InspectOptions::verify_payload`]
//!   turns it off for a quick look.
//!
//! # Example
//!
//! ```no_run
//! let report = elirepo::xen::inspect_kernel_file("boot/vmlinuz-6.1.0-26-amd64".as_ref())?;
//! if report.verdict.is_pv_capable() {
//!     println!("publish under installer-{}", report.arch().unwrap_or("?"));
//! }
//! print!("{report}");
//! # Ok::<(), elirepo::xen::XenError>(())
//! ```
//!
//! # JSON shape
//!
//! [`KernelReport`] serialises (serde) to one object with snake_case keys; optional parts are
//! `null` when unknown. Keys are only ever added, never renamed:
//!
//! ```text
//! { "path": "vmlinuz", "file_size": 8247232,
//!   "container": "bzimage" | "elf" | "gzip_elf",
//!   "efi_stub": true, "boot_protocol": "2.15",
//!   "kernel_version": "6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP ...",
//!   "release": "6.1.0-56-amd64", "arch": "amd64" | "i386" | null,
//!   "payload": { "compression": "gzip"|"bzip2"|"xz"|"lzma"|"zstd"|"lzo"|"lz4_legacy",
//!                "offset": 21196, "length": 8122480, "declared_size": 65906612,
//!                "decompressed_bytes": 65906612, "passes": 1, "size_verified": true,
//!                "trailing_bytes": 0 } | null,
//!   "elf": { "bits": 64, "machine": 62, "machine_name": "x86_64", "entry": 16777216,
//!            "phnum": 5, "paddr_start": 16777216, "paddr_end": 59834368,
//!            "linux_build_salt": "6.1.0-56-amd64" } | null,
//!   "note_source": "pt_note" | "sht_note" | "xen_guest" | "none",
//!   "notes": [ { "type": 6, "name": "GUEST_OS", "kind": "string", "value": "linux" },
//!              { "type": 1, "name": "ENTRY", "kind": "integer", "value": 18446744071615320512 },
//!              { "type": 13, "name": "L1_MFN_VALID", "kind": "bytes", "value": "0100..." } ],
//!   "guest_info": "GUEST_OS=linux,XEN_VER=xen-3.0,..." | null,
//!   "xen": { "guest_os": "linux", "xen_version": "xen-3.0", "loader": "generic",
//!            "pae": "none"|"yes"|"extended_cr3"|"bimodal", "features": "...",
//!            "virt_base": ..., "paddr_offset": ..., "virt_kstart": ..., "virt_kend": ...,
//!            "virt_entry": ..., "entry_note": true, "phys32_entry": 16779344 } | null,
//!   "verdict": "pv_capable" | "pvh_only" | "no_xen" | "not_bootable" | "cannot_check",
//!   "reasons": ["..."], "warnings": ["..."] }
//! ```
//!
//! Integers are JSON numbers (u64; addresses above 2^53 need a 64-bit-exact JSON reader).

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

mod bzimage;
mod elf;
mod notes;
mod report;
mod rules;
#[cfg(test)]
#[path = "../../tests/common/synth.rs"]
pub(crate) mod synth;

pub use crate::compress::Compression;
pub use notes::note_type_name;
pub use report::{
    Container, ElfInfo, KernelReport, NoteSource, NoteValue, Pae, PayloadInfo, Verdict, XenNote,
    XenParams,
};

use crate::compress::{read_at_most, ReadSeek, Shared};
use crate::hash::hex;
use elf::{load_range, machine_name, parse_phdr, parse_shdr, read_table, table_len};
use elf::{ElfSource, SeekElf};
use notes::NoteScan;

/// Xen's limit on a decompressed kernel (`XC_DOM_DECOMPRESS_MAX`, 1 GiB).
pub const MAX_KERNEL_SIZE: u64 = 1 << 30;
/// Largest program or section header table read (65535 ELF64 program headers fit).
pub const MAX_TABLE_BYTES: u64 = 4 << 20;
/// Largest total of note segments / sections read.
pub const MAX_NOTE_BYTES: u64 = 4 << 20;
/// Xen's `ELF_MAX_TOTAL_NOTE_COUNT`.
pub const MAX_NOTES: u64 = 65536;
/// Largest section-name string table read.
pub const MAX_STRTAB_BYTES: u64 = 1 << 20;
/// Largest `__xen_guest` string read.
pub const MAX_GUEST_INFO_BYTES: u64 = 64 << 10;
/// How many times one payload may be decompressed from its start.
pub const MAX_PASSES: u32 = 4;

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a kernel file could not be inspected. Display reads `<path>: <what is wrong>`:
/// [`XenError::path`], then [`XenError::reason`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XenError {
    /// Opening or reading the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Not a bzImage, an ELF or a gzip-compressed ELF.
    NotAKernel {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The bzImage setup header is inconsistent (payload outside the file, ...).
    BadBzImage {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The compressed payload (or whole-file gzip) is unusable: unknown format, size trailer
    /// above Xen's limit, corrupt data, or a size that does not match the trailer.
    BadPayload {
        /// The file.
        path: PathBuf,
        /// The payload's compression.
        compression: Compression,
        /// What is wrong.
        reason: String,
    },
    /// The ELF structure is invalid (tables or segments outside the image, ...).
    BadElf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An ELF note is malformed (sizes running past its segment or section).
    BadNote {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Something is larger than elirepo is willing to read.
    Limit {
        /// The file.
        path: PathBuf,
        /// What is too large.
        what: String,
        /// The limit (bytes, passes or notes, as `what` says).
        limit: u64,
    },
}

impl XenError {
    /// The file the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            XenError::Io { path, .. }
            | XenError::NotAKernel { path, .. }
            | XenError::BadBzImage { path, .. }
            | XenError::BadPayload { path, .. }
            | XenError::BadElf { path, .. }
            | XenError::BadNote { path, .. }
            | XenError::Limit { path, .. } => path,
        }
    }

    /// What is wrong, without the path: for a message that names the file its own way.
    pub fn reason(&self) -> impl std::fmt::Display + '_ {
        Reason(self)
    }
}

/// [`XenError::reason`].
struct Reason<'a>(&'a XenError);

impl std::fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            XenError::Io { source, .. } => write!(f, "{source}"),
            XenError::NotAKernel { reason, .. } => write!(f, "not a kernel image: {reason}"),
            XenError::BadBzImage { reason, .. } => write!(f, "bzImage: {reason}"),
            XenError::BadPayload {
                compression,
                reason,
                ..
            } => write!(f, "{compression} payload: {reason}"),
            XenError::BadElf { reason, .. } => write!(f, "ELF: {reason}"),
            XenError::BadNote { reason, .. } => write!(f, "ELF note: {reason}"),
            XenError::Limit { what, limit, .. } => {
                write!(f, "{what} exceeds elirepo's limit of {limit}")
            }
        }
    }
}

impl std::fmt::Display for XenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.reason())
    }
}

/// Options for [`inspect_kernel_with`].
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// Read a PV-capable kernel's payload to its end to check that it decompresses cleanly to
    /// exactly its declared size, as Xen does. Default `true`.
    pub verify_payload: bool,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            verify_payload: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Entry points

/// Inspect a kernel file with the default options (see the module docs).
pub fn inspect_kernel_file(path: &Path) -> Result<KernelReport, XenError> {
    inspect_kernel_file_with(path, &InspectOptions::default())
}

/// Inspect a kernel file.
pub fn inspect_kernel_file_with(
    path: &Path,
    opts: &InspectOptions,
) -> Result<KernelReport, XenError> {
    let file = crate::hash::open_regular(path).map_err(|source| XenError::Io {
        path: path.to_owned(),
        source,
    })?;
    inspect_core(Box::new(file), path, opts)
}

/// Inspect a kernel read from `r`; `name` is used in the report and in errors.
pub fn inspect_kernel<R: Read + Seek>(r: R, name: &Path) -> Result<KernelReport, XenError> {
    inspect_kernel_with(r, name, &InspectOptions::default())
}

/// Inspect a kernel read from `r` with options; `name` is used in the report and in errors.
pub fn inspect_kernel_with<R: Read + Seek>(
    r: R,
    name: &Path,
    opts: &InspectOptions,
) -> Result<KernelReport, XenError> {
    inspect_core(Box::new(r), name, opts)
}

/// Error constructors that know the file.
#[derive(Clone, Copy)]
struct Ctx<'p> {
    path: &'p Path,
}

impl Ctx<'_> {
    fn io(self, source: io::Error) -> XenError {
        XenError::Io {
            path: self.path.to_owned(),
            source,
        }
    }
    fn not_kernel(self, reason: impl Into<String>) -> XenError {
        XenError::NotAKernel {
            path: self.path.to_owned(),
            reason: reason.into(),
        }
    }
    fn bzimage(self, reason: impl Into<String>) -> XenError {
        XenError::BadBzImage {
            path: self.path.to_owned(),
            reason: reason.into(),
        }
    }
    fn payload(self, compression: Compression, reason: impl Into<String>) -> XenError {
        XenError::BadPayload {
            path: self.path.to_owned(),
            compression,
            reason: reason.into(),
        }
    }
    fn elf(self, reason: impl Into<String>) -> XenError {
        XenError::BadElf {
            path: self.path.to_owned(),
            reason: reason.into(),
        }
    }
    fn note(self, reason: impl Into<String>) -> XenError {
        XenError::BadNote {
            path: self.path.to_owned(),
            reason: reason.into(),
        }
    }
    fn limit(self, what: impl Into<String>, limit: u64) -> XenError {
        XenError::Limit {
            path: self.path.to_owned(),
            what: what.into(),
            limit,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Byte fields shared by the container, ELF and note readers

/// The little-endian u16 at `off` (0 where `b` is too short: lengths are checked apart).
fn u16le(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

/// The little-endian u32 at `off` (0 where `b` is too short).
fn u32le(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

/// The little-endian u64 at `off` (0 where `b` is too short).
fn u64le(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// The bytes up to the first NUL, as (lossy) UTF-8.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The inspection

fn inspect_core<'a>(
    src: Box<dyn ReadSeek + 'a>,
    path: &Path,
    opts: &InspectOptions,
) -> Result<KernelReport, XenError> {
    let ctx = Ctx { path };
    let src: Shared<'a> = Rc::new(RefCell::new(src));
    let file_size = src
        .borrow_mut()
        .seek(SeekFrom::End(0))
        .map_err(|e| ctx.io(e))?;
    if file_size == 0 {
        return Err(ctx.not_kernel("empty file"));
    }
    let head = read_at_most(&src, 0, 0x250).map_err(|e| ctx.io(e))?;
    let mut report = KernelReport::empty(path, file_size);
    if file_size > crate::eliloader::KERNEL_LIMIT {
        report.warnings.push(format!(
            "the file is {file_size} bytes: eliloader refuses kernels over 32 MiB by default"
        ));
    }
    examine_container(ctx, &src, &head, &mut report, opts)?;
    if report.release.is_none() {
        report.release = report
            .kernel_version
            .as_deref()
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_owned)
            .or_else(|| report.elf.as_ref().and_then(|e| e.linux_build_salt.clone()));
    }
    Ok(report)
}

/// Tell the container from the first bytes (`head`) and examine what it holds. Xen gunzips a
/// whole gzip file first, then tries the bzImage loader, then the ELF loader.
fn examine_container(
    ctx: Ctx<'_>,
    src: &Shared<'_>,
    head: &[u8],
    report: &mut KernelReport,
    opts: &InspectOptions,
) -> Result<(), XenError> {
    if head.starts_with(b"\x1f\x8b") {
        report.container = Container::GzipElf;
        bzimage::gzip_elf(ctx, src, report, opts)
    } else if head.len() >= 0x250 && &head[0x202..0x206] == b"HdrS" {
        report.container = Container::Bzimage;
        bzimage::bzimage(ctx, src, head, report, opts)
    } else if head.starts_with(b"\x7fELF") {
        report.container = Container::Elf;
        let mut s = SeekElf::new(ctx, src.clone(), report.file_size);
        examine_elf(ctx, &mut s, report)
    } else {
        let what = match Compression::sniff(head) {
            Some(c) => {
                format!("a whole-file {c} stream (Xen only unpacks gzip around a kernel ELF)")
            }
            None => format!(
                "no ELF magic, no gzip magic and no bzImage header (HdrS at 0x202); starts with {}",
                hex(&head[..head.len().min(8)])
            ),
        };
        Err(ctx.not_kernel(what))
    }
}

/// Read the ELF header, program headers and notes (falling back to sections), then judge.
fn examine_elf(
    ctx: Ctx<'_>,
    s: &mut dyn ElfSource,
    report: &mut KernelReport,
) -> Result<(), XenError> {
    let size = s.size();
    let eh = elf::read_ehdr(ctx, s)?;
    let ph_len = table_len(
        ctx,
        eh.phoff,
        eh.phentsize,
        eh.phnum,
        size,
        "program header table",
    )?;
    let sh_len = table_len(
        ctx,
        eh.shoff,
        eh.shentsize,
        eh.shnum,
        size,
        "section header table",
    )?;
    let phdrs = read_table(ctx, s, &eh.program_headers(ph_len), parse_phdr)?;
    let (pstart, pend) = load_range(ctx, &phdrs)?;
    let loadable = pstart <= pend;
    report.elf = Some(ElfInfo {
        bits: if eh.class64 { 64 } else { 32 },
        machine: eh.machine,
        machine_name: machine_name(eh.machine),
        entry: eh.entry,
        phnum: eh.phnum,
        paddr_start: loadable.then_some(pstart),
        paddr_end: loadable.then_some(pend),
        linux_build_salt: None,
    });

    let mut scan = NoteScan::default();
    let mut source = notes::scan_segments(ctx, s, &phdrs, &mut scan)?;
    if source == NoteSource::None && eh.shnum > 0 {
        let shdrs = read_table(ctx, s, &eh.section_headers(sh_len), parse_shdr)?;
        source = notes::scan_sections(
            ctx,
            s,
            &shdrs,
            eh.shstrndx,
            &mut scan,
            &mut report.guest_info,
        )?;
    }
    if source == NoteSource::None {
        if let Some(what) = not_linux(&eh, &phdrs) {
            return Err(ctx.not_kernel(format!("{what}, not a Linux kernel")));
        }
    }
    if let Some(e) = report.elf.as_mut() {
        e.linux_build_salt = scan.build_salt.take();
    }
    report.notes = scan.xen;
    report.note_source = source;
    rules::judge_report(report, &eh, pstart, pend);
    Ok(())
}

/// What an ELF image without Xen notes is when it cannot be a Linux kernel:
/// a vmlinux is an `ET_EXEC` image with neither a program interpreter nor a
/// dynamic section (a program, a shared library or an object file has one of
/// them, or another `e_type`). `None` when it may be a kernel built without Xen.
fn not_linux(eh: &elf::Ehdr, phdrs: &[elf::Phdr]) -> Option<String> {
    const ET_EXEC: u16 = 2;
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    if phdrs.iter().any(|p| p.p_type == PT_INTERP) {
        return Some("an ELF program (it names a program interpreter)".into());
    }
    if phdrs.iter().any(|p| p.p_type == PT_DYNAMIC) {
        return Some("a dynamically linked ELF file".into());
    }
    let what = match eh.etype {
        ET_EXEC => return None,
        1 => "an ELF object file (ET_REL)",
        3 => "a position-independent ELF file (ET_DYN): a program or shared library",
        4 => "an ELF core dump",
        _ => "an ELF file of an unknown type",
    };
    Some(what.into())
}

#[cfg(test)]
mod tests {
    use super::synth;
    use super::*;
    use std::io::Cursor;

    #[test]
    fn inspect_plain_elf_through_the_public_api() {
        let elf = synth::ElfSpec::amd64(&synth::amd64_notes()).build();
        let r = inspect_kernel(Cursor::new(elf), Path::new("vmlinux")).unwrap();
        assert_eq!(r.verdict, Verdict::PvCapable);
        assert_eq!(r.path, "vmlinux");
        assert_eq!(r.release(), Some("6.1.0-99-amd64"));
    }

    #[test]
    fn an_elf_without_xen_notes_is_a_kernel_only_if_it_could_be_linux() {
        let mut spec = synth::ElfSpec::amd64(&[]);
        spec.notes = None;
        let exec = spec.build();
        let r = inspect_kernel(Cursor::new(exec.clone()), Path::new("vmlinux")).unwrap();
        assert_eq!(r.verdict, Verdict::NoXen);
        // The same image as ET_DYN (a PIE program, a shared library): no kernel.
        let mut dyn_ = exec;
        dyn_[16] = 3;
        let e = inspect_kernel(Cursor::new(dyn_), Path::new("prog")).unwrap_err();
        assert!(matches!(e, XenError::NotAKernel { .. }), "{e}");
        assert!(e.to_string().ends_with(", not a Linux kernel"), "{e}");
    }
}
