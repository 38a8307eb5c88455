//! Will Xen boot this kernel as a PV guest? The kernel inspector.
//!
//! This module owns one question: given the file that would be published as
//! `netboot/xen/vmlinuz`, would Xen's PV domain builder (the one eliloader hands it to) load and
//! start it, and for which `installer-<arch>`? It reads the file the way Xen's toolstack does
//! (`xg_dom_bzimageloader.c`, `xg_dom_elfloader.c`, `libelf-dominfo.c`):
//!
//! * the container: a bzImage (also with an `MZ` EFI stub), a plain ELF, or a whole-file gzip of
//!   an ELF ([`Container`]);
//! * for a bzImage, the setup header (boot protocol, kernel version string) and the compressed
//!   payload ([`Compression`]), decompressed as a **stream**;
//! * the ELF header, program headers and the `Xen` notes of the PT_NOTE segments (SHT_NOTE
//!   sections as a fallback, then a legacy `__xen_guest` section string);
//! * Xen's acceptance rules, turned into a [`Verdict`] with human-readable reasons.
//!
//! It does not own the initrd ([`crate::initrd`] sniffs that; it borrows this module's
//! decompressors), choosing a kernel among several in an nfsroot, or printing.
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
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

pub use crate::compress::Compression;
use crate::compress::{open_window_decoder, read_at_most, CountedDecoder, ReadSeek, Shared};

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
/// eliloader's default download limit for the kernel.
const ELILOADER_KERNEL_LIMIT: u64 = 32 << 20;

const EM_386: u16 = 3;
const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const SHT_NOTE: u32 = 7;

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a kernel file could not be inspected. Display reads `<path>: <what is wrong>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XenError {
    /// Opening or reading the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Not a bzImage, an ELF or a gzip-compressed ELF.
    #[error("{}: not a kernel image: {reason}", path.display())]
    NotAKernel {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The bzImage setup header is inconsistent (payload outside the file, ...).
    #[error("{}: bzImage: {reason}", path.display())]
    BadBzImage {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The compressed payload (or whole-file gzip) is unusable: unknown format, size trailer
    /// above Xen's limit, corrupt data, or a size that does not match the trailer.
    #[error("{}: {compression} payload: {reason}", path.display())]
    BadPayload {
        /// The file.
        path: PathBuf,
        /// The payload's compression.
        compression: Compression,
        /// What is wrong.
        reason: String,
    },
    /// The ELF structure is invalid (tables or segments outside the image, ...).
    #[error("{}: ELF: {reason}", path.display())]
    BadElf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An ELF note is malformed (sizes running past its segment or section).
    #[error("{}: ELF note: {reason}", path.display())]
    BadNote {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Something is larger than elirepo is willing to read.
    #[error("{}: {what} exceeds elirepo's limit of {limit}", path.display())]
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
}

// ---------------------------------------------------------------------------------------------
// Report types

/// How the kernel file is packaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Container {
    /// A Linux bzImage (boot protocol ≥ 2.08 carries an ELF payload).
    Bzimage,
    /// A plain ELF image.
    Elf,
    /// A gzip-compressed ELF (2.6.18-era Xen kernels).
    GzipElf,
}

impl Container {
    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Container::Bzimage => "bzImage",
            Container::Elf => "ELF",
            Container::GzipElf => "gzip-compressed ELF",
        }
    }
}

/// The outcome of the Xen checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Xen's PV loader accepts it and the kernel has a PV entry point (ENTRY note, or a legacy
    /// `__xen_guest` kernel). Publishable for eliloader.
    PvCapable,
    /// PHYS32_ENTRY (PVH) but no ENTRY: built without CONFIG_XEN_PV. Not bootable by eliloader.
    PvhOnly,
    /// No Xen notes and no `__xen_guest` section: "Not a Xen-ELF image".
    NoXen,
    /// Carries Xen information but Xen would refuse it as a PV guest, or it has no PV entry
    /// point; the reasons say which.
    NotBootable,
    /// The payload cannot be examined (LZO compression); nothing is known about its notes.
    CannotCheck,
}

impl Verdict {
    /// True only for [`Verdict::PvCapable`].
    pub fn is_pv_capable(self) -> bool {
        self == Verdict::PvCapable
    }

    /// Human label ("PV-capable", "PVH-only", ...).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::PvCapable => "PV-capable",
            Verdict::PvhOnly => "PVH-only",
            Verdict::NoXen => "no Xen support",
            Verdict::NotBootable => "not bootable as a PV guest",
            Verdict::CannotCheck => "cannot check",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where the Xen information came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoteSource {
    /// `Xen` notes in PT_NOTE program segments (the normal case).
    PtNote,
    /// `Xen` notes in SHT_NOTE sections (fallback).
    ShtNote,
    /// A legacy `__xen_guest` section string.
    XenGuest,
    /// None found (or not looked for).
    None,
}

/// The compressed payload of a bzImage, or the whole file of a gzip-compressed ELF.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PayloadInfo {
    /// Compression format.
    pub compression: Compression,
    /// Offset of the payload in the file.
    pub offset: u64,
    /// Length of the payload in the file, size trailer included.
    pub length: u64,
    /// Uncompressed size from the payload's last four bytes (gzip: its ISIZE).
    pub declared_size: u64,
    /// Decompressed bytes produced, over all passes.
    pub decompressed_bytes: u64,
    /// How many times the payload was decompressed from its start.
    pub passes: u32,
    /// True when the stream was read to its end and produced exactly `declared_size` bytes.
    pub size_verified: bool,
    /// Compressed bytes after the end of the compressed stream (size trailer excluded; known only
    /// when `size_verified`).
    pub trailing_bytes: Option<u64>,
}

/// What the ELF header and program headers say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ElfInfo {
    /// 32 or 64.
    pub bits: u8,
    /// `e_machine` (3 = i386, 62 = x86-64).
    pub machine: u16,
    /// "i386", "x86_64" or null.
    pub machine_name: Option<&'static str>,
    /// `e_entry`.
    pub entry: u64,
    /// Number of program headers.
    pub phnum: u16,
    /// Lowest physical address of the loadable segments (null if none).
    pub paddr_start: Option<u64>,
    /// End of the highest loadable segment (null if none).
    pub paddr_end: Option<u64>,
    /// Linux's build-salt note (`Linux`, type 0x100): the release on Debian kernels.
    pub linux_build_salt: Option<String>,
}

/// Decoded value of a Xen note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum NoteValue {
    /// A NUL-terminated string note.
    String(String),
    /// An integer note (1, 2, 4 or 8 bytes LE).
    Integer(u64),
    /// Anything else, as lowercase hex (at most 64 bytes shown, then "...").
    Bytes(String),
}

/// One `Xen` ELF note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct XenNote {
    /// The note type (`XEN_ELFNOTE_*`).
    #[serde(rename = "type")]
    pub note_type: u32,
    /// Xen's name for the type, null if unknown.
    pub name: Option<&'static str>,
    /// The decoded value.
    #[serde(flatten)]
    pub value: NoteValue,
}

/// PAE support of a 32-bit kernel, as Xen reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pae {
    /// No PAE (or no PAE note).
    None,
    /// Legacy `PAE=yes`.
    Yes,
    /// PAE_MODE note `yes` or legacy `PAE=yes[extended-cr3]`.
    ExtendedCr3,
    /// PAE_MODE containing `bimodal`.
    Bimodal,
}

/// Xen's parsed parameters and computed addresses (`struct elf_dom_parms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct XenParams {
    /// GUEST_OS.
    pub guest_os: Option<String>,
    /// XEN_VERSION.
    pub xen_version: Option<String>,
    /// LOADER.
    pub loader: Option<String>,
    /// GUEST_VERSION.
    pub guest_version: Option<String>,
    /// PAE mode.
    pub pae: Pae,
    /// FEATURES string.
    pub features: Option<String>,
    /// VIRT_BASE (0 when unset, as Xen assumes).
    pub virt_base: u64,
    /// ELF_PADDR_OFFSET (Xen's default when unset).
    pub paddr_offset: u64,
    /// Kernel start in the guest's virtual address space.
    pub virt_kstart: u64,
    /// Kernel end in the guest's virtual address space.
    pub virt_kend: u64,
    /// Where Xen would start a PV guest (ENTRY, VIRT_ENTRY or `e_entry`).
    pub virt_entry: u64,
    /// Whether an ENTRY note (the PV entry point) is present.
    pub entry_note: bool,
    /// PHYS32_ENTRY (the PVH entry point), if present.
    pub phys32_entry: Option<u64>,
}

/// Everything learnt about one kernel file. See the module docs for the JSON shape.
#[derive(Clone, Debug, Serialize)]
pub struct KernelReport {
    /// The name the kernel was inspected under.
    pub path: String,
    /// File size in bytes.
    pub file_size: u64,
    /// Packaging.
    pub container: Container,
    /// bzImage starting with `MZ` (EFI stub).
    pub efi_stub: bool,
    /// bzImage boot protocol, e.g. "2.15".
    pub boot_protocol: Option<String>,
    /// The setup header's kernel version string.
    pub kernel_version: Option<String>,
    /// The bare release (first word of `kernel_version`, else Linux's build-salt note).
    pub release: Option<String>,
    /// The eliloader `install-arch` this kernel belongs to: "amd64" or "i386" (32-bit PAE).
    pub arch: Option<&'static str>,
    /// The compressed payload, if any.
    pub payload: Option<PayloadInfo>,
    /// The ELF, if it was reached.
    pub elf: Option<ElfInfo>,
    /// Where the Xen information came from.
    pub note_source: NoteSource,
    /// The `Xen` notes, in file order.
    pub notes: Vec<XenNote>,
    /// The legacy `__xen_guest` string.
    pub guest_info: Option<String>,
    /// Xen's parameters, when there was Xen information.
    pub xen: Option<XenParams>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why: each check passed or failed, in order.
    pub reasons: Vec<String>,
    /// Things that do not decide the verdict but deserve a look.
    pub warnings: Vec<String>,
}

impl KernelReport {
    /// The eliloader architecture: "amd64" for x86-64, "i386" for 32-bit x86 with PAE, else
    /// `None`.
    pub fn arch(&self) -> Option<&'static str> {
        self.arch
    }

    /// The bare kernel release, e.g. `6.1.0-26-amd64`.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// Bitness of the ELF (32 or 64), if it was reached.
    pub fn bits(&self) -> Option<u8> {
        self.elf.as_ref().map(|e| e.bits)
    }

    /// The last note of a type, as Xen would use it.
    pub fn note(&self, note_type: u32) -> Option<&XenNote> {
        self.notes.iter().rev().find(|n| n.note_type == note_type)
    }

    /// The report as human-readable lines (`verdict: PV-capable`, ...). Same as `Display`.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

impl fmt::Display for KernelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "kernel: {} ({} bytes)", self.path, self.file_size)?;
        write!(f, "container: {}", self.container.name())?;
        if self.efi_stub {
            write!(f, " (EFI stub)")?;
        }
        if let Some(p) = &self.boot_protocol {
            write!(f, ", boot protocol {p}")?;
        }
        writeln!(f)?;
        if let Some(v) = &self.kernel_version {
            writeln!(f, "version: {v}")?;
        }
        if let Some(r) = &self.release {
            writeln!(f, "release: {r}")?;
        }
        if let Some(p) = &self.payload {
            write!(
                f,
                "payload: {}, {} bytes at offset {}, declares {} bytes",
                p.compression, p.length, p.offset, p.declared_size
            )?;
            if p.size_verified {
                write!(f, " (verified)")?;
            } else {
                write!(f, " (not read to the end)")?;
            }
            writeln!(f)?;
        }
        if let Some(e) = &self.elf {
            writeln!(
                f,
                "elf: {}-bit, machine {} ({}), entry {}",
                e.bits,
                e.machine,
                e.machine_name.unwrap_or("unknown"),
                hex(e.entry)
            )?;
        }
        writeln!(f, "arch: {}", self.arch.unwrap_or("none"))?;
        let source = match self.note_source {
            NoteSource::PtNote => "PT_NOTE segment",
            NoteSource::ShtNote => "SHT_NOTE section",
            NoteSource::XenGuest => "__xen_guest section",
            NoteSource::None => "none",
        };
        writeln!(f, "xen notes: {} ({source})", self.notes.len())?;
        for n in &self.notes {
            let value = match &n.value {
                NoteValue::String(s) => format!("{s:?}"),
                NoteValue::Integer(i) => hex(*i),
                NoteValue::Bytes(b) => format!("bytes {b}"),
            };
            writeln!(
                f,
                "  {:>2} {:<18} {value}",
                n.note_type,
                n.name.unwrap_or("?")
            )?;
        }
        if let Some(g) = &self.guest_info {
            writeln!(f, "__xen_guest: {g}")?;
        }
        writeln!(f, "verdict: {}", self.verdict)?;
        for r in &self.reasons {
            writeln!(f, "  - {r}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
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

fn u16le(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

fn u32le(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn u64le(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn hex_bytes(b: &[u8]) -> String {
    let mut s: String = b.iter().take(64).map(|x| format!("{x:02x}")).collect();
    if b.len() > 64 {
        s.push_str("...");
    }
    s
}

/// The bytes up to the first NUL, as (lossy) UTF-8.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

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
    let mut report = KernelReport {
        path: path.display().to_string(),
        file_size,
        container: Container::Elf,
        efi_stub: false,
        boot_protocol: None,
        kernel_version: None,
        release: None,
        arch: None,
        payload: None,
        elf: None,
        note_source: NoteSource::None,
        notes: Vec::new(),
        guest_info: None,
        xen: None,
        verdict: Verdict::NoXen,
        reasons: Vec::new(),
        warnings: Vec::new(),
    };
    if file_size > ELILOADER_KERNEL_LIMIT {
        report.warnings.push(format!(
            "the file is {file_size} bytes: eliloader refuses kernels over 32 MiB by default"
        ));
    }

    // Xen gunzips a whole gzip file first, then tries the bzImage loader, then the ELF loader.
    if head.starts_with(b"\x1f\x8b") {
        report.container = Container::GzipElf;
        gzip_elf(ctx, &src, &mut report, opts)?;
    } else if head.len() >= 0x250 && &head[0x202..0x206] == b"HdrS" {
        report.container = Container::Bzimage;
        bzimage(ctx, &src, &head, &mut report, opts)?;
    } else if head.starts_with(b"\x7fELF") {
        report.container = Container::Elf;
        let mut s = SeekElf {
            ctx,
            src: src.clone(),
            size: file_size,
        };
        examine_elf(ctx, &mut s, &mut report)?;
    } else {
        let what = match Compression::sniff(&head) {
            Some(c) => {
                format!("a whole-file {c} stream (Xen only unpacks gzip around a kernel ELF)")
            }
            None => format!(
                "no ELF magic, no gzip magic and no bzImage header (HdrS at 0x202); starts with {}",
                hex_bytes(&head[..head.len().min(8)])
            ),
        };
        return Err(ctx.not_kernel(what));
    }
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

fn bzimage(
    ctx: Ctx<'_>,
    src: &Shared<'_>,
    head: &[u8],
    report: &mut KernelReport,
    opts: &InspectOptions,
) -> Result<(), XenError> {
    let file_size = report.file_size;
    report.efi_stub = head.starts_with(b"MZ");
    let protocol = u16le(head, 0x206);
    report.boot_protocol = Some(format!("{}.{:02}", protocol >> 8, protocol & 0xff));
    let kv = u16le(head, 0x20e);
    if kv != 0 {
        let raw = read_at_most(src, u64::from(kv) + 0x200, 256).map_err(|e| ctx.io(e))?;
        let v = c_string(&raw);
        let v = v.trim();
        if !v.is_empty() {
            report.kernel_version = Some(v.to_owned());
        }
    }
    if protocol < 0x0208 {
        report.verdict = Verdict::NotBootable;
        report.reasons.push(format!(
            "FAIL: boot protocol {} is older than 2.08: Xen only loads bzImages that carry an ELF \
             payload (Linux 2.6.26 and later)",
            report.boot_protocol.as_deref().unwrap_or("?")
        ));
        return Ok(());
    }
    let setup_sects = u64::from(head[0x1f1]);
    let start = (setup_sects + 1) * 512 + u64::from(u32le(head, 0x248));
    let length = u64::from(u32le(head, 0x24c));
    if start >= file_size {
        return Err(ctx.bzimage(format!(
            "payload offset {start} is past the end of the {file_size}-byte file"
        )));
    }
    let end = start + length; // both below 2^34: no overflow
    if end > file_size {
        return Err(ctx.bzimage(format!(
            "payload of {length} bytes at offset {start} runs past the end of the \
             {file_size}-byte file (truncated?)"
        )));
    }
    let magic = read_at_most(src, start, 8).map_err(|e| ctx.io(e))?;
    let compression = match Compression::sniff(&magic) {
        Some(c) if c != Compression::Lz4Frame => c,
        _ => {
            return Err(ctx.bzimage(format!(
                "unknown payload compression (starts with {})",
                hex_bytes(&magic)
            )))
        }
    };
    if length <= 8 {
        return Err(ctx.payload(
            compression,
            format!("only {length} bytes: too short for data and a size trailer"),
        ));
    }
    let trailer = read_at_most(src, end - 4, 4).map_err(|e| ctx.io(e))?;
    let declared = u64::from(u32le(&trailer, 0));
    report.payload = Some(PayloadInfo {
        compression,
        offset: start,
        length,
        declared_size: declared,
        decompressed_bytes: 0,
        passes: 0,
        size_verified: false,
        trailing_bytes: None,
    });
    if !matches!(compression, Compression::Gzip | Compression::Xz) {
        report.warnings.push(format!(
            "Xen decompresses {compression} kernels only when its toolstack was built with \
             {compression} support; gzip or xz are safe"
        ));
    }
    if !compression.decodable() {
        report.verdict = Verdict::CannotCheck;
        report.reasons.push(format!(
            "the payload is {compression}-compressed and elirepo has no {compression} decoder: \
             its ELF notes cannot be checked"
        ));
        return Ok(());
    }
    if declared > MAX_KERNEL_SIZE {
        return Err(ctx.payload(
            compression,
            format!("its size trailer declares {declared} bytes, above Xen's 1 GiB limit"),
        ));
    }
    // Xen hands gzip the whole payload (its trailer holds the size) and the other decoders
    // the payload without the 4-byte size trailer.
    let input_end = if compression == Compression::Gzip {
        end
    } else {
        end - 4
    };
    let mut s = StreamElf::new(ctx, src.clone(), compression, start, input_end, declared);
    let result = examine_elf(ctx, &mut s, report);
    let verify = result.is_ok() && report.verdict.is_pv_capable() && opts.verify_payload;
    let trailing = if verify { Some(s.finish()?) } else { None };
    if let Some(p) = report.payload.as_mut() {
        p.decompressed_bytes = s.total;
        p.passes = s.passes;
        p.size_verified = verify;
        p.trailing_bytes = trailing;
    }
    result
}

fn gzip_elf(
    ctx: Ctx<'_>,
    src: &Shared<'_>,
    report: &mut KernelReport,
    opts: &InspectOptions,
) -> Result<(), XenError> {
    let size = report.file_size;
    if size < 18 {
        return Err(ctx.payload(Compression::Gzip, "too short for a gzip stream"));
    }
    let trailer = read_at_most(src, size - 4, 4).map_err(|e| ctx.io(e))?;
    let declared = u64::from(u32le(&trailer, 0));
    report.payload = Some(PayloadInfo {
        compression: Compression::Gzip,
        offset: 0,
        length: size,
        declared_size: declared,
        decompressed_bytes: 0,
        passes: 0,
        size_verified: false,
        trailing_bytes: None,
    });
    if declared > MAX_KERNEL_SIZE {
        return Err(ctx.payload(
            Compression::Gzip,
            format!("its ISIZE declares {declared} bytes, above Xen's 1 GiB limit"),
        ));
    }
    let mut s = StreamElf::new(ctx, src.clone(), Compression::Gzip, 0, size, declared);
    let result = examine_elf(ctx, &mut s, report);
    let verify = result.is_ok() && report.verdict.is_pv_capable() && opts.verify_payload;
    let trailing = if verify { Some(s.finish()?) } else { None };
    if let Some(p) = report.payload.as_mut() {
        p.decompressed_bytes = s.total;
        p.passes = s.passes;
        p.size_verified = verify;
        p.trailing_bytes = trailing;
    }
    match result {
        Err(XenError::BadElf { reason, .. }) if reason.starts_with("not an ELF image") => {
            Err(ctx.not_kernel(format!("gzip-compressed, but {reason}")))
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Random access to the ELF image, plain or streamed

/// Bounded random access to an ELF image of a known size.
trait ElfSource {
    /// The image size (file size, or the size the payload declares).
    fn size(&self) -> u64;
    /// Exactly `len` bytes at `off`; `what` names them in errors.
    fn read_at(&mut self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, XenError>;
}

fn check_range(ctx: Ctx<'_>, off: u64, len: u64, size: u64, what: &str) -> Result<(), XenError> {
    match off.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(ctx.elf(format!(
            "{what} ({len} bytes at offset {off}) lies outside the {size}-byte image"
        ))),
    }
}

/// A plain ELF file.
struct SeekElf<'a, 'p> {
    ctx: Ctx<'p>,
    src: Shared<'a>,
    size: u64,
}

impl ElfSource for SeekElf<'_, '_> {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&mut self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, XenError> {
        check_range(self.ctx, off, len, self.size, what)?;
        let v = read_at_most(&self.src, off, len).map_err(|e| self.ctx.io(e))?;
        if (v.len() as u64) < len {
            return Err(self.ctx.elf(format!("the file ends inside the {what}")));
        }
        Ok(v)
    }
}

/// An ELF image streamed out of a decompressor: reads go forward, skipping what is not needed;
/// a read behind the current position restarts the decompressor (at most `MAX_PASSES` times).
struct StreamElf<'a, 'p> {
    ctx: Ctx<'p>,
    src: Shared<'a>,
    compression: Compression,
    start: u64,
    end: u64,
    size: u64,
    cur: Option<CountedDecoder<'a>>,
    pos: u64,
    passes: u32,
    total: u64,
}

impl<'a, 'p> StreamElf<'a, 'p> {
    fn new(
        ctx: Ctx<'p>,
        src: Shared<'a>,
        compression: Compression,
        start: u64,
        end: u64,
        size: u64,
    ) -> Self {
        StreamElf {
            ctx,
            src,
            compression,
            start,
            end,
            size,
            cur: None,
            pos: 0,
            passes: 0,
            total: 0,
        }
    }

    fn reopen(&mut self) -> Result<(), XenError> {
        self.cur = None;
        if self.passes >= MAX_PASSES {
            return Err(self.ctx.limit(
                "the number of decompression passes the ELF layout needs",
                u64::from(MAX_PASSES),
            ));
        }
        self.passes += 1;
        let dec = open_window_decoder(self.compression, &self.src, self.start, self.end).map_err(
            |e| {
                self.ctx
                    .payload(self.compression, format!("cannot start: {e}"))
            },
        )?;
        self.cur = Some(dec);
        self.pos = 0;
        Ok(())
    }

    /// Copy up to `n` decompressed bytes into `out` (or discard them); returns how many came.
    fn pull(&mut self, n: u64, out: Option<&mut Vec<u8>>) -> Result<u64, XenError> {
        let (ctx, compression, pos) = (self.ctx, self.compression, self.pos);
        let dec = match self.cur.as_mut() {
            Some((dec, _)) => dec,
            None => return Ok(0),
        };
        let mut limited = dec.by_ref().take(n);
        let got = match out {
            Some(v) => limited.read_to_end(v).map(|g| g as u64),
            None => io::copy(&mut limited, &mut io::sink()),
        };
        let got = got.map_err(|e| {
            ctx.payload(
                compression,
                format!("decompression failed after about {pos} output bytes: {e}"),
            )
        })?;
        self.pos += got;
        self.total += got;
        Ok(got)
    }

    fn short(&self) -> XenError {
        self.ctx.payload(
            self.compression,
            format!(
                "the data ends after {} bytes, but the size trailer declares {}",
                self.pos, self.size
            ),
        )
    }

    /// Read the rest of the stream (discarding it) and check it ends exactly at the declared
    /// size. Returns the compressed bytes left after the end of the stream.
    fn finish(&mut self) -> Result<u64, XenError> {
        if self.cur.is_none() {
            self.reopen()?;
        }
        let want = self.size.saturating_sub(self.pos);
        self.pull(want.saturating_add(1), None)?;
        if self.pos < self.size {
            return Err(self.short());
        }
        if self.pos > self.size {
            return Err(self.ctx.payload(
                self.compression,
                format!(
                    "the data is longer than the {} bytes its size trailer declares",
                    self.size
                ),
            ));
        }
        let consumed = self.cur.as_ref().map_or(0, |(_, c)| c.get());
        Ok((self.end - self.start).saturating_sub(consumed))
    }
}

impl ElfSource for StreamElf<'_, '_> {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&mut self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, XenError> {
        check_range(self.ctx, off, len, self.size, what)?;
        if self.cur.is_none() || off < self.pos {
            self.reopen()?;
        }
        let skip = off - self.pos;
        if self.pull(skip, None)? < skip {
            return Err(self.short());
        }
        let mut v = Vec::new();
        if self.pull(len, Some(&mut v))? < len {
            return Err(self.short());
        }
        Ok(v)
    }
}

/// Read several ranges (capped in total), each once, in ascending file order; returns them in
/// the order asked.
fn read_ranges(
    ctx: Ctx<'_>,
    s: &mut dyn ElfSource,
    ranges: &[(u64, u64)],
    what: &str,
    cap: u64,
) -> Result<Vec<Vec<u8>>, XenError> {
    let mut total = 0u64;
    for &(_, len) in ranges {
        total = total.saturating_add(len);
    }
    if total > cap {
        return Err(ctx.limit(format!("{what} ({total} bytes)"), cap));
    }
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    let mut out = vec![Vec::new(); ranges.len()];
    let mut i = 0;
    while i < order.len() {
        // Merge overlapping or touching ranges into one span.
        let span_start = ranges[order[i]].0;
        let mut span_end = span_start + ranges[order[i]].1; // checked by the caller
        let mut j = i + 1;
        while j < order.len() && ranges[order[j]].0 <= span_end {
            span_end = span_end.max(ranges[order[j]].0 + ranges[order[j]].1);
            j += 1;
        }
        let span = s.read_at(span_start, span_end - span_start, what)?;
        for &k in &order[i..j] {
            let (off, len) = ranges[k];
            let a = (off - span_start) as usize;
            out[k] = span[a..a + len as usize].to_vec();
        }
        i = j;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// ELF structure

struct Ehdr {
    class64: bool,
    machine: u16,
    entry: u64,
    phoff: u64,
    shoff: u64,
    phentsize: u16,
    phnum: u16,
    shentsize: u16,
    shnum: u16,
    shstrndx: u16,
}

struct Phdr {
    p_type: u32,
    flags: u32,
    offset: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
}

struct Shdr {
    name: u32,
    sh_type: u32,
    offset: u64,
    size: u64,
}

fn parse_ehdr(h: &[u8], class64: bool) -> Ehdr {
    if class64 {
        Ehdr {
            class64,
            machine: u16le(h, 18),
            entry: u64le(h, 24),
            phoff: u64le(h, 32),
            shoff: u64le(h, 40),
            phentsize: u16le(h, 54),
            phnum: u16le(h, 56),
            shentsize: u16le(h, 58),
            shnum: u16le(h, 60),
            shstrndx: u16le(h, 62),
        }
    } else {
        Ehdr {
            class64,
            machine: u16le(h, 18),
            entry: u64::from(u32le(h, 24)),
            phoff: u64::from(u32le(h, 28)),
            shoff: u64::from(u32le(h, 32)),
            phentsize: u16le(h, 42),
            phnum: u16le(h, 44),
            shentsize: u16le(h, 46),
            shnum: u16le(h, 48),
            shstrndx: u16le(h, 50),
        }
    }
}

fn parse_phdr(b: &[u8], class64: bool) -> Phdr {
    if class64 {
        Phdr {
            p_type: u32le(b, 0),
            flags: u32le(b, 4),
            offset: u64le(b, 8),
            paddr: u64le(b, 24),
            filesz: u64le(b, 32),
            memsz: u64le(b, 40),
        }
    } else {
        Phdr {
            p_type: u32le(b, 0),
            offset: u64::from(u32le(b, 4)),
            paddr: u64::from(u32le(b, 12)),
            filesz: u64::from(u32le(b, 16)),
            memsz: u64::from(u32le(b, 20)),
            flags: u32le(b, 24),
        }
    }
}

fn parse_shdr(b: &[u8], class64: bool) -> Shdr {
    if class64 {
        Shdr {
            name: u32le(b, 0),
            sh_type: u32le(b, 4),
            offset: u64le(b, 24),
            size: u64le(b, 32),
        }
    } else {
        Shdr {
            name: u32le(b, 0),
            sh_type: u32le(b, 4),
            offset: u64::from(u32le(b, 16)),
            size: u64::from(u32le(b, 20)),
        }
    }
}

fn machine_name(m: u16) -> Option<&'static str> {
    match m {
        EM_386 => Some("i386"),
        EM_X86_64 => Some("x86_64"),
        40 => Some("arm"),
        183 => Some("aarch64"),
        _ => None,
    }
}

/// Check a header table like libelf's `elf_init` (`off + entsize * num <= size`) and return its
/// byte length.
fn table_len(
    ctx: Ctx<'_>,
    off: u64,
    entsize: u16,
    num: u16,
    size: u64,
    what: &str,
) -> Result<u64, XenError> {
    let len = u64::from(entsize) * u64::from(num); // < 2^32
    match off.checked_add(len) {
        Some(end) if end <= size => Ok(len),
        _ => Err(ctx.elf(format!(
            "{what} ({num} entries of {entsize} bytes at offset {off}) ends past the end of \
             the {size}-byte image"
        ))),
    }
}

/// Notes found while scanning.
#[derive(Default)]
struct NoteScan {
    xen: Vec<XenNote>,
    total: u64,
    build_salt: Option<String>,
}

fn align4(n: u64) -> u64 {
    (n + 3) & !3 // n < 2^32 + 3
}

/// Parse the notes of one segment or section; returns how many `Xen` notes it held.
fn parse_notes(
    ctx: Ctx<'_>,
    data: &[u8],
    scan: &mut NoteScan,
    what: &str,
) -> Result<u32, XenError> {
    let len = data.len() as u64;
    let mut pos = 0u64;
    let mut xen = 0;
    while pos < len {
        let p = pos as usize;
        if len - pos < 12 {
            if data[p..].iter().all(|&b| b == 0) {
                break;
            }
            return Err(ctx.note(format!(
                "{what}: {} stray bytes at offset {pos}, too few for a note header",
                len - pos
            )));
        }
        let namesz = u64::from(u32le(data, p));
        let descsz = u64::from(u32le(data, p + 4));
        let ntype = u32le(data, p + 8);
        let name_at = pos + 12;
        let desc_at = name_at + align4(namesz);
        let desc_end = desc_at + descsz; // all below 2^35: no overflow
        if desc_end > len || name_at + namesz > len {
            return Err(ctx.note(format!(
                "{what}: the note at offset {pos} (name {namesz} bytes, value {descsz} bytes) \
                 runs past the end of its {len} bytes"
            )));
        }
        scan.total += 1;
        if scan.total > MAX_NOTES {
            return Err(ctx.limit("the number of ELF notes", MAX_NOTES));
        }
        let name = &data[name_at as usize..(name_at + namesz) as usize];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
        let desc = &data[desc_at as usize..desc_end as usize];
        if name == b"Xen" {
            scan.xen.push(decode_note(ntype, desc));
            xen += 1;
        } else if name == b"Linux" && ntype == 0x100 && scan.build_salt.is_none() {
            let salt = c_string(desc);
            if !salt.is_empty() {
                scan.build_salt = Some(salt);
            }
        }
        pos = desc_at + align4(descsz);
    }
    Ok(xen)
}

/// Xen's name for a note type (`public/elfnote.h`).
pub fn note_type_name(t: u32) -> Option<&'static str> {
    const NAMES: [&str; 20] = [
        "INFO",
        "ENTRY",
        "HYPERCALL_PAGE",
        "VIRT_BASE",
        "PADDR_OFFSET",
        "XEN_VERSION",
        "GUEST_OS",
        "GUEST_VERSION",
        "LOADER",
        "PAE_MODE",
        "FEATURES",
        "BSD_SYMTAB",
        "HV_START_LOW",
        "L1_MFN_VALID",
        "SUSPEND_CANCEL",
        "INIT_P2M",
        "MOD_START_PFN",
        "SUPPORTED_FEATURES",
        "PHYS32_ENTRY",
        "PHYS32_RELOC",
    ];
    NAMES.get(t as usize).copied()
}

fn decode_note(t: u32, desc: &[u8]) -> XenNote {
    let int = || match desc.len() {
        1 => Some(u64::from(desc[0])),
        2 => Some(u64::from(u16le(desc, 0))),
        4 => Some(u64::from(u32le(desc, 0))),
        8 => Some(u64le(desc, 0)),
        _ => None,
    };
    let printable = |d: &[u8]| {
        d.last() == Some(&0)
            && d.len() > 1
            && d[..d.len() - 1].iter().all(|&c| (0x20..0x7f).contains(&c))
    };
    let value = match t {
        // Xen decodes these as strings.
        5..=11 => NoteValue::String(c_string(desc)),
        // Xen decodes the rest of its table as integers (1, 2, 4 or 8 bytes; else 0).
        1..=4 | 12..=19 => match int() {
            Some(v) => NoteValue::Integer(v),
            None => NoteValue::Bytes(hex_bytes(desc)),
        },
        // Unknown to Xen: show what it looks like.
        _ if printable(desc) => NoteValue::String(c_string(desc)),
        _ => match int() {
            Some(v) => NoteValue::Integer(v),
            None => NoteValue::Bytes(hex_bytes(desc)),
        },
    };
    XenNote {
        note_type: t,
        name: note_type_name(t),
        value,
    }
}

/// Read the ELF header, program headers and notes (falling back to sections), then judge.
fn examine_elf(
    ctx: Ctx<'_>,
    s: &mut dyn ElfSource,
    report: &mut KernelReport,
) -> Result<(), XenError> {
    let size = s.size();
    let h = s.read_at(0, size.min(64), "ELF header")?;
    if !h.starts_with(b"\x7fELF") {
        return Err(ctx.elf(format!(
            "not an ELF image (starts with {})",
            hex_bytes(&h[..h.len().min(8)])
        )));
    }
    let class64 = match h.get(4) {
        Some(1) => false,
        Some(2) => true,
        other => {
            return Err(ctx.elf(format!(
                "unknown ELF class {}",
                other.map_or("(none)".into(), |c| c.to_string())
            )))
        }
    };
    let ehsize = if class64 { 64 } else { 52 };
    if h.len() < ehsize {
        return Err(ctx.elf(format!(
            "the image is {size} bytes, too short for an ELF header"
        )));
    }
    if h[5] != 1 {
        return Err(ctx.elf(format!(
            "byte order {} is not little-endian: not an x86 kernel",
            h[5]
        )));
    }
    let eh = parse_ehdr(&h, class64);
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
    let (ph_min, sh_min) = if class64 { (56, 64) } else { (32, 40) };
    if eh.phnum > 0 && eh.phentsize < ph_min {
        return Err(ctx.elf(format!(
            "program header size {} is smaller than {ph_min}",
            eh.phentsize
        )));
    }
    if ph_len > MAX_TABLE_BYTES {
        return Err(ctx.limit(
            format!("the program header table ({ph_len} bytes)"),
            MAX_TABLE_BYTES,
        ));
    }
    let table = s.read_at(eh.phoff, ph_len, "program header table")?;
    let phdrs: Vec<Phdr> = (0..usize::from(eh.phnum))
        .map(|i| parse_phdr(&table[i * usize::from(eh.phentsize)..], class64))
        .collect();

    // Xen's elf_parse_binary: the physical range of loadable segments.
    let mut pstart = u64::MAX;
    let mut pend = 0u64;
    for (i, p) in phdrs.iter().enumerate() {
        if p.p_type != PT_LOAD || p.flags & 7 == 0 {
            continue;
        }
        let end = p.paddr.checked_add(p.memsz).ok_or_else(|| {
            ctx.elf(format!(
                "PT_LOAD segment {i}: physical address {:#x} + size {:#x} overflows",
                p.paddr, p.memsz
            ))
        })?;
        pstart = pstart.min(p.paddr);
        pend = pend.max(end);
    }
    let loadable = pstart <= pend;
    report.elf = Some(ElfInfo {
        bits: if class64 { 64 } else { 32 },
        machine: eh.machine,
        machine_name: machine_name(eh.machine),
        entry: eh.entry,
        phnum: eh.phnum,
        paddr_start: loadable.then_some(pstart),
        paddr_end: loadable.then_some(pend),
        linux_build_salt: None,
    });

    // Notes in PT_NOTE segments (Xen skips those with p_offset 0).
    let mut segs = Vec::new();
    for (i, p) in phdrs.iter().enumerate() {
        if p.p_type == PT_NOTE && p.offset != 0 {
            check_range(
                ctx,
                p.offset,
                p.filesz,
                size,
                &format!("PT_NOTE segment {i}"),
            )?;
            segs.push((i, (p.offset, p.filesz)));
        }
    }
    let ranges: Vec<(u64, u64)> = segs.iter().map(|&(_, r)| r).collect();
    let datas = read_ranges(ctx, s, &ranges, "the PT_NOTE segments", MAX_NOTE_BYTES)?;
    let mut scan = NoteScan::default();
    let mut xen_notes = 0;
    for ((i, _), data) in segs.iter().zip(&datas) {
        xen_notes += parse_notes(ctx, data, &mut scan, &format!("PT_NOTE segment {i}"))?;
    }
    let mut source = if xen_notes > 0 {
        NoteSource::PtNote
    } else {
        NoteSource::None
    };

    // Fallbacks: SHT_NOTE sections, then a __xen_guest section.
    if xen_notes == 0 && eh.shnum > 0 {
        if eh.shentsize < sh_min {
            return Err(ctx.elf(format!(
                "section header size {} is smaller than {sh_min}",
                eh.shentsize
            )));
        }
        if sh_len > MAX_TABLE_BYTES {
            return Err(ctx.limit(
                format!("the section header table ({sh_len} bytes)"),
                MAX_TABLE_BYTES,
            ));
        }
        let table = s.read_at(eh.shoff, sh_len, "section header table")?;
        let shdrs: Vec<Shdr> = (0..usize::from(eh.shnum))
            .map(|i| parse_shdr(&table[i * usize::from(eh.shentsize)..], class64))
            .collect();
        let mut wanted = Vec::new();
        let mut note_secs = Vec::new();
        for (i, sh) in shdrs.iter().enumerate().skip(1) {
            if sh.sh_type == SHT_NOTE {
                check_range(
                    ctx,
                    sh.offset,
                    sh.size,
                    size,
                    &format!("SHT_NOTE section {i}"),
                )?;
                note_secs.push(i);
                wanted.push((sh.offset, sh.size));
            }
        }
        // The section-name table comes along in the same pass when it is small enough.
        let strndx = usize::from(eh.shstrndx);
        let strtab = shdrs
            .get(strndx)
            .filter(|_| strndx != 0)
            .filter(|sh| sh.size <= MAX_STRTAB_BYTES)
            .filter(|sh| check_range(ctx, sh.offset, sh.size, size, "").is_ok())
            .map(|sh| (sh.offset, sh.size));
        if let Some(r) = strtab {
            wanted.push(r);
        }
        let mut datas = read_ranges(
            ctx,
            s,
            &wanted,
            "the SHT_NOTE sections and section names",
            MAX_NOTE_BYTES + MAX_STRTAB_BYTES,
        )?;
        let names = if strtab.is_some() { datas.pop() } else { None };
        for (i, data) in note_secs.iter().zip(&datas) {
            xen_notes += parse_notes(ctx, data, &mut scan, &format!("SHT_NOTE section {i}"))?;
        }
        if xen_notes > 0 {
            source = NoteSource::ShtNote;
        } else if let Some(names) = names {
            let found = shdrs.iter().find(|sh| {
                names
                    .get(sh.name as usize..)
                    .is_some_and(|n| n.starts_with(b"__xen_guest\0"))
            });
            if let Some(sh) = found {
                let len = sh.size.min(MAX_GUEST_INFO_BYTES);
                check_range(ctx, sh.offset, len, size, "__xen_guest section")?;
                let raw = s.read_at(sh.offset, len, "__xen_guest section")?;
                report.guest_info = Some(c_string(&raw));
                source = NoteSource::XenGuest;
            }
        }
    }
    if let Some(e) = report.elf.as_mut() {
        e.linux_build_salt = scan.build_salt.take();
    }
    report.notes = scan.xen;
    report.note_source = source;

    let judged = judge(&JudgeInput {
        machine: eh.machine,
        class64: eh.class64,
        e_entry: eh.entry,
        pstart,
        pend,
        source,
        notes: &report.notes,
        guest_info: report.guest_info.as_deref(),
    });
    report.verdict = judged.verdict;
    report.reasons = judged.reasons;
    report.warnings.extend(judged.warnings);
    report.arch = match &judged.params {
        _ if eh.machine == EM_X86_64 && eh.class64 => Some("amd64"),
        Some(p) if eh.machine == EM_386 && !eh.class64 && p.pae != Pae::None => Some("i386"),
        _ => None,
    };
    report.xen = judged.params;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Xen's acceptance rules

struct JudgeInput<'n> {
    machine: u16,
    class64: bool,
    e_entry: u64,
    /// Xen's `elf->pstart` / `pend` (`u64::MAX` / 0 without loadable segments).
    pstart: u64,
    pend: u64,
    source: NoteSource,
    notes: &'n [XenNote],
    guest_info: Option<&'n str>,
}

struct Judged {
    verdict: Verdict,
    reasons: Vec<String>,
    warnings: Vec<String>,
    params: Option<XenParams>,
}

/// Xen feature names and bits (`libelf-dominfo.c`, `elf_xen_feature_names`).
const FEATURES: [&str; 7] = [
    "writable_page_tables",
    "writable_descriptor_tables",
    "auto_translated_physmap",
    "supervisor_mode_kernel",
    "pae_pgdir_above_4gb",
    "hvm_callback_vector",
    "dom0",
];

#[derive(Default)]
struct FeatureCheck {
    unknown_required: Vec<String>,
    dom0_required: bool,
}

/// Split a FEATURES string as Xen does (`|`-separated, tokens of at most 63 bytes) and note
/// required (`!`) features Xen does not know, and a required `dom0`.
fn check_features(s: &str, out: &mut FeatureCheck) {
    let b = s.as_bytes();
    let mut pos = 0;
    while pos < b.len() {
        let mut len = 0;
        let mut token = Vec::new();
        loop {
            if len >= 63 || pos + len >= b.len() {
                break;
            }
            if b[pos + len] == b'|' {
                len += 1;
                break;
            }
            token.push(b[pos + len]);
            len += 1;
        }
        pos += len;
        if let Some(name) = token.strip_prefix(b"!") {
            let name = String::from_utf8_lossy(name).into_owned();
            if !FEATURES.contains(&name.as_str()) {
                out.unknown_required.push(name);
            } else if name == "dom0" {
                out.dom0_required = true;
            }
        }
    }
}

/// C's `strtoull(s, NULL, 0)`: decimal, `0x` hex or `0` octal prefix; stops at the first
/// invalid digit; saturates.
fn c_strtoull(s: &str) -> u64 {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = if lower.starts_with("0x")
        && lower[2..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, &t[2..])
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let mut v: u64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        match v
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(n) => v = n,
            None => return u64::MAX,
        }
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

fn judge(input: &JudgeInput<'_>) -> Judged {
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    let mut failed = false;
    let mut fail = |reasons: &mut Vec<String>, r: String| {
        failed = true;
        reasons.push(format!("FAIL: {r}"));
    };

    let x86 = matches!(input.machine, EM_386 | EM_X86_64);
    if !x86 {
        fail(
            &mut reasons,
            format!(
                "machine {} ({}) is not x86: Xen's x86 PV loader does not take it",
                input.machine,
                machine_name(input.machine).unwrap_or("unknown")
            ),
        );
    } else if (input.machine == EM_X86_64) != input.class64 {
        fail(
            &mut reasons,
            format!(
                "a {}-bit ELF for machine {}: not a consistent x86 kernel",
                if input.class64 { 64 } else { 32 },
                input.machine
            ),
        );
    }
    if input.source == NoteSource::None {
        reasons.push(
            "FAIL: no `Xen` ELF notes and no __xen_guest section: Xen refuses it as \"Not a \
             Xen-ELF image\" (a kernel built without Xen guest support)"
                .into(),
        );
        return Judged {
            verdict: Verdict::NoXen,
            reasons,
            warnings,
            params: None,
        };
    }

    // Gather Xen's parameters: notes in order (a later note of a type wins), or the string.
    let mut loader = None;
    let mut guest_os = None;
    let mut guest_version = None;
    let mut xen_version = None;
    let mut pae = Pae::None;
    let mut features: Option<String> = None;
    let mut virt_base = None;
    let mut virt_entry = None;
    let mut paddr_offset = None;
    let mut p2m_base = None;
    let mut phys32_entry = None;
    let mut entry_note = false;
    let mut feat = FeatureCheck::default();
    let legacy = input.source == NoteSource::XenGuest;
    if legacy {
        for pair in input.guest_info.unwrap_or("").split(',') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "LOADER" => loader = Some(value.to_owned()),
                "GUEST_OS" => guest_os = Some(value.to_owned()),
                "GUEST_VER" => guest_version = Some(value.to_owned()),
                "XEN_VER" => xen_version = Some(value.to_owned()),
                "PAE" if value == "yes[extended-cr3]" => pae = Pae::ExtendedCr3,
                "PAE" if value.starts_with("yes") => pae = Pae::Yes,
                "VIRT_BASE" => virt_base = Some(c_strtoull(value)),
                "VIRT_ENTRY" => virt_entry = Some(c_strtoull(value)),
                "ELF_PADDR_OFFSET" => paddr_offset = Some(c_strtoull(value)),
                "FEATURES" => {
                    check_features(value, &mut feat);
                    features = Some(value.to_owned());
                }
                _ => {}
            }
        }
    } else {
        for n in input.notes {
            let text = match &n.value {
                NoteValue::String(s) => s.clone(),
                _ => String::new(),
            };
            let num = match n.value {
                NoteValue::Integer(v) => v,
                _ => {
                    // Notes whose value Xen uses as an address (arrays such as
                    // L1_MFN_VALID and SUPPORTED_FEATURES are fine).
                    if matches!(n.note_type, 1..=4 | 12 | 15 | 18) {
                        warnings.push(format!(
                            "Xen note {} ({}) has a value of an odd size; Xen reads it as 0",
                            n.note_type,
                            n.name.unwrap_or("?")
                        ));
                    }
                    0
                }
            };
            match n.note_type {
                1 => {
                    virt_entry = Some(num);
                    entry_note = true;
                }
                3 => virt_base = Some(num),
                4 => paddr_offset = Some(num),
                5 => xen_version = Some(text),
                6 => guest_os = Some(text),
                7 => guest_version = Some(text),
                8 => loader = Some(text),
                9 => {
                    if text == "yes" {
                        pae = Pae::ExtendedCr3;
                    }
                    if text.contains("bimodal") {
                        pae = Pae::Bimodal;
                    }
                }
                10 => {
                    check_features(&text, &mut feat);
                    features = Some(text);
                }
                15 => p2m_base = Some(num),
                // Xen keeps PHYS32_ENTRY in 32 bits.
                18 => phys32_entry = Some(num & 0xffff_ffff),
                _ => {}
            }
        }
    }

    for f in &feat.unknown_required {
        fail(
            &mut reasons,
            format!("FEATURES requires \"!{f}\", a feature Xen does not know: Xen refuses it"),
        );
    }
    if feat.dom0_required {
        fail(
            &mut reasons,
            "FEATURES requires \"!dom0\": the kernel only runs as dom0, Xen refuses it as a guest"
                .into(),
        );
    }

    let starts = |v: &Option<String>, p: &str| v.as_deref().is_some_and(|s| s.starts_with(p));
    if starts(&guest_os, "linux") {
        reasons.push(format!(
            "ok: GUEST_OS {:?}",
            guest_os.as_deref().unwrap_or("")
        ));
    } else if starts(&loader, "generic") {
        reasons.push(format!("ok: LOADER {:?}", loader.as_deref().unwrap_or("")));
    } else {
        fail(
            &mut reasons,
            format!(
                "Xen wants GUEST_OS starting with \"linux\" or LOADER starting with \"generic\"; \
                 found GUEST_OS {:?}, LOADER {:?}",
                guest_os.as_deref().unwrap_or("(none)"),
                loader.as_deref().unwrap_or("(none)")
            ),
        );
    }
    if starts(&xen_version, "xen-3.0") {
        reasons.push(format!(
            "ok: XEN_VERSION {:?}",
            xen_version.as_deref().unwrap_or("")
        ));
    } else {
        fail(
            &mut reasons,
            format!(
                "XEN_VERSION {:?} does not start with \"xen-3.0\"",
                xen_version.as_deref().unwrap_or("(none)")
            ),
        );
    }
    if input.class64 {
        reasons.push("ok: 64-bit kernel (xen-3.0-x86_64; PAE_MODE does not matter)".into());
    } else if pae == Pae::None {
        fail(
            &mut reasons,
            "32-bit kernel without PAE: a 64-bit Xen only offers xen-3.0-x86_32p, so Xen \
             refuses it"
                .into(),
        );
    } else {
        reasons.push(format!(
            "ok: 32-bit PAE kernel ({}; xen-3.0-x86_32p)",
            match pae {
                Pae::Yes => "PAE=yes",
                Pae::ExtendedCr3 => "PAE_MODE yes",
                _ => "PAE_MODE bimodal",
            }
        ));
    }

    // elf_xen_addr_calc_check, with Xen's wrapping u64 arithmetic.
    if paddr_offset.is_some() && virt_base.is_none() {
        fail(
            &mut reasons,
            "ELF_PADDR_OFFSET is set but VIRT_BASE is not".into(),
        );
    }
    let base = virt_base.unwrap_or(0);
    let poff = paddr_offset.unwrap_or(if legacy { base } else { 0 });
    let offset = base.wrapping_sub(poff);
    let kstart = input.pstart.wrapping_add(offset);
    let kend = input.pend.wrapping_add(offset);
    let entry = virt_entry.unwrap_or(input.e_entry);
    if kstart > kend || entry < kstart || entry > kend || base > kstart {
        fail(
            &mut reasons,
            format!(
                "addresses out of bounds: Xen needs virt_base <= kernel start <= entry <= \
                 kernel end; have virt_base {}, start {}, entry {}, end {}",
                hex(base),
                hex(kstart),
                hex(entry),
                hex(kend)
            ),
        );
    } else {
        reasons.push(format!(
            "ok: virt_base {} <= kernel start {} <= entry {} <= kernel end {}",
            hex(base),
            hex(kstart),
            hex(entry),
            hex(kend)
        ));
    }
    if let Some(p) = p2m_base {
        if p >= kstart && p < kend {
            fail(
                &mut reasons,
                format!("INIT_P2M {} lies inside the kernel", hex(p)),
            );
        }
    }

    let verdict = if legacy {
        reasons.push(format!(
            "ok: legacy __xen_guest kernel: Xen starts it at {}",
            hex(entry)
        ));
        if failed {
            Verdict::NotBootable
        } else {
            Verdict::PvCapable
        }
    } else if entry_note {
        reasons.push(format!("ok: ENTRY note: PV entry point {}", hex(entry)));
        if failed {
            Verdict::NotBootable
        } else {
            Verdict::PvCapable
        }
    } else if let Some(p) = phys32_entry {
        reasons.push(format!(
            "FAIL: PHYS32_ENTRY {} but no ENTRY note: a PVH-only kernel (built without \
             CONFIG_XEN_PV); as a PV guest Xen would jump to e_entry {} and it would not boot",
            hex(p),
            hex(input.e_entry)
        ));
        Verdict::PvhOnly
    } else {
        reasons.push(format!(
            "FAIL: no ENTRY note (and no PHYS32_ENTRY): no Xen PV entry point; Xen would jump \
             to e_entry {}",
            hex(input.e_entry)
        ));
        Verdict::NotBootable
    };

    Judged {
        verdict,
        reasons,
        warnings,
        params: Some(XenParams {
            guest_os,
            xen_version,
            loader,
            guest_version,
            pae,
            features,
            virt_base: base,
            paddr_offset: poff,
            virt_kstart: kstart,
            virt_kend: kend,
            virt_entry: entry,
            entry_note,
            phys32_entry,
        }),
    }
}

#[cfg(test)]
pub(crate) mod synth;

#[cfg(test)]
mod tests {
    use super::synth::{self, Comp};
    use super::*;
    use std::io::Cursor;

    fn ctx() -> Ctx<'static> {
        Ctx {
            path: Path::new("k"),
        }
    }

    fn shared(bytes: Vec<u8>) -> Shared<'static> {
        crate::compress::shared_bytes(bytes)
    }

    fn stream_elf(data: &[u8]) -> StreamElf<'static, 'static> {
        let raw = synth::compress_raw(Comp::Gzip, data);
        let len = raw.len() as u64;
        StreamElf::new(
            ctx(),
            shared(raw),
            Compression::Gzip,
            0,
            len,
            data.len() as u64,
        )
    }

    #[test]
    fn stream_reads_forward_and_reopens_backwards_a_bounded_number_of_times() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut s = stream_elf(&data);
        assert_eq!(s.read_at(10, 5, "x").unwrap(), &data[10..15]);
        assert_eq!(s.read_at(50_000, 3, "x").unwrap(), &data[50_000..50_003]);
        assert_eq!(s.passes, 1);
        for pass in 2..=MAX_PASSES {
            assert_eq!(s.read_at(0, 4, "x").unwrap(), &data[..4]);
            assert_eq!(s.passes, pass);
        }
        assert!(matches!(s.read_at(0, 4, "x"), Err(XenError::Limit { .. })));
    }

    #[test]
    fn stream_bounds_and_finish() {
        let data = vec![1u8; 10_000];
        let mut s = stream_elf(&data);
        assert!(matches!(
            s.read_at(9_999, 2, "thing"),
            Err(XenError::BadElf { .. })
        ));
        assert!(matches!(
            s.read_at(u64::MAX, 2, "thing"),
            Err(XenError::BadElf { .. })
        ));
        s.read_at(100, 10, "x").unwrap();
        assert_eq!(s.finish().unwrap(), 0);
        assert_eq!(s.total, 10_000);

        // Declared size larger than the stream.
        let raw = synth::compress_raw(Comp::Xz, &data);
        let len = raw.len() as u64;
        let mut s = StreamElf::new(ctx(), shared(raw), Compression::Xz, 0, len, 10_001);
        assert!(s
            .finish()
            .unwrap_err()
            .to_string()
            .contains("ends after 10000"));
    }

    #[test]
    fn read_ranges_merges_overlaps_and_keeps_order() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
        let mut s = stream_elf(&data);
        let ranges = [(3000, 10), (100, 50), (120, 100), (4990, 10), (100, 0)];
        let got = read_ranges(ctx(), &mut s, &ranges, "r", 1 << 20).unwrap();
        for (g, &(o, l)) in got.iter().zip(&ranges) {
            assert_eq!(g.as_slice(), &data[o as usize..(o + l) as usize]);
        }
        assert_eq!(s.passes, 1);
        assert!(matches!(
            read_ranges(ctx(), &mut s, &[(0, 600), (0, 600)], "r", 1000),
            Err(XenError::Limit { .. })
        ));
    }

    #[test]
    fn notes_parse_and_decode() {
        let bytes = synth::encode_notes(&synth::amd64_notes());
        let mut scan = NoteScan::default();
        let n = parse_notes(ctx(), &bytes, &mut scan, "seg").unwrap();
        assert_eq!(n, 15);
        assert_eq!(scan.total, 17);
        assert_eq!(scan.build_salt.as_deref(), Some("6.1.0-99-amd64"));
        assert_eq!(scan.xen[0].name, Some("GUEST_OS"));
        assert_eq!(scan.xen[0].value, NoteValue::String("linux".into()));
        assert_eq!(
            decode_note(1, &0x1234u32.to_le_bytes()).value,
            NoteValue::Integer(0x1234)
        );
        assert_eq!(
            decode_note(1, &[1, 2, 3]).value,
            NoteValue::Bytes("010203".into())
        );
        assert_eq!(
            decode_note(99, b"hello\0").value,
            NoteValue::String("hello".into())
        );
        assert_eq!(decode_note(99, &[5]).value, NoteValue::Integer(5));
        assert_eq!(
            decode_note(99, &[0xff; 3]).value,
            NoteValue::Bytes("ffffff".into())
        );
        assert_eq!(decode_note(99, &[]).name, None);
        let long = decode_note(13, &[0xaa; 100]);
        assert!(matches!(long.value, NoteValue::Bytes(ref s) if s.len() == 128 + 3));
        // A note named "Xenophobe" is not a Xen note.
        let other = synth::encode_notes(&[synth::Note {
            name: b"Xenophobe\0".to_vec(),
            ntype: 1,
            desc: vec![0; 8],
        }]);
        assert_eq!(
            parse_notes(ctx(), &other, &mut NoteScan::default(), "s").unwrap(),
            0
        );
    }

    #[test]
    fn features_like_xen() {
        let mut f = FeatureCheck::default();
        check_features("!writable_page_tables|pae_pgdir_above_4gb", &mut f);
        assert!(f.unknown_required.is_empty() && !f.dom0_required);
        check_features("!dom0", &mut f);
        assert!(f.dom0_required);
        let mut f = FeatureCheck::default();
        check_features("|!|!bogus||x", &mut f);
        assert_eq!(f.unknown_required, vec!["".to_string(), "bogus".into()]);
        // Tokens are cut at 63 bytes, as Xen's buffer does.
        let mut f = FeatureCheck::default();
        let long = format!("!{}dom0", "a".repeat(62));
        check_features(&long, &mut f);
        assert_eq!(f.unknown_required, vec!["a".repeat(62)]);
    }

    #[test]
    fn strtoull_like_c() {
        assert_eq!(c_strtoull("0xC0000000"), 0xc000_0000);
        assert_eq!(c_strtoull("  42,"), 42);
        assert_eq!(c_strtoull("010"), 8);
        assert_eq!(c_strtoull("0x"), 0);
        assert_eq!(c_strtoull("zz"), 0);
        assert_eq!(c_strtoull("-1"), u64::MAX);
        assert_eq!(c_strtoull("99999999999999999999999"), u64::MAX);
    }

    fn judge_notes(notes: &[synth::Note], class64: bool, machine: u16) -> Judged {
        let mut scan = NoteScan::default();
        parse_notes(ctx(), &synth::encode_notes(notes), &mut scan, "s").unwrap();
        judge(&JudgeInput {
            machine,
            class64,
            e_entry: 0x0100_0000,
            pstart: 0x0100_0000,
            pend: 0x0400_0000,
            source: NoteSource::PtNote,
            notes: &scan.xen,
            guest_info: None,
        })
    }

    #[test]
    fn judge_classifies() {
        let j = judge_notes(&synth::amd64_notes(), true, EM_X86_64);
        assert_eq!(j.verdict, Verdict::PvCapable, "{:?}", j.reasons);
        assert!(j.reasons.iter().all(|r| r.starts_with("ok: ")));
        let j = judge_notes(&synth::pvh32_notes(), false, EM_386);
        assert_eq!(j.verdict, Verdict::PvhOnly);
        // 64-bit ELF claiming EM_386 is inconsistent.
        let j = judge_notes(&synth::amd64_notes(), true, EM_386);
        assert_eq!(j.verdict, Verdict::NotBootable);
        // PAE bimodal counts as PAE.
        let mut n = synth::pv32_notes(false);
        n.push(synth::xen_str(9, "yes,bimodal"));
        let j = judge_notes(&n, false, EM_386);
        assert_eq!(j.params.unwrap().pae, Pae::Bimodal);
        assert_eq!(j.verdict, Verdict::PvCapable);
        // PAE_MODE "no" is not PAE.
        let mut n = synth::pv32_notes(false);
        n.push(synth::xen_str(9, "no"));
        assert_eq!(judge_notes(&n, false, EM_386).verdict, Verdict::NotBootable);
    }

    #[test]
    fn judge_uses_wrapping_arithmetic_like_xen() {
        // PADDR_OFFSET above VIRT_BASE wraps around and back, as in C.
        let notes = vec![
            synth::xen_str(6, "linux"),
            synth::xen_str(5, "xen-3.0"),
            synth::xen_u64(3, 0x1000),
            synth::xen_u64(4, 0x2000),
            synth::xen_u64(1, 0x0100_0000 - 0x1000),
        ];
        let j = judge_notes(&notes, true, EM_X86_64);
        let p = j.params.unwrap();
        assert_eq!(p.virt_kstart, 0x0100_0000 - 0x1000);
        assert_eq!(j.verdict, Verdict::PvCapable, "{:?}", j.reasons);
    }

    #[test]
    fn odd_sized_address_notes_warn() {
        let mut n = synth::amd64_notes();
        n.push(synth::Note {
            name: b"Xen\0".to_vec(),
            ntype: 3,
            desc: vec![0; 3],
        });
        let j = judge_notes(&n, true, EM_X86_64);
        assert!(j.warnings.iter().any(|w| w.contains("VIRT_BASE")));
        assert_eq!(j.params.unwrap().virt_base, 0);
    }

    #[test]
    fn inspect_plain_elf_through_the_public_api() {
        let elf = synth::ElfSpec::amd64(&synth::amd64_notes()).build();
        let r = inspect_kernel(Cursor::new(elf), Path::new("vmlinux")).unwrap();
        assert_eq!(r.verdict, Verdict::PvCapable);
        assert_eq!(r.path, "vmlinux");
        assert_eq!(r.release(), Some("6.1.0-99-amd64"));
    }
}
