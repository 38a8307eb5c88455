//! What the inspector learnt about one kernel: [`KernelReport`] and its parts, the
//! [`Verdict`], and their text (`Display`) and JSON (serde) forms. The JSON shape is in the
//! [module docs](super).

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::compress::Compression;

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

/// eliloader's rule ([`crate::eliloader::kernel_problem`]) asks these of a kernel.
impl crate::eliloader::KernelFacts for KernelReport {
    fn pv_verdict(&self) -> Result<(), &'static str> {
        if self.verdict.is_pv_capable() {
            Ok(())
        } else {
            Err(self.verdict.label())
        }
    }
    fn install_arch(&self) -> Option<&'static str> {
        self.arch()
    }
}

impl KernelReport {
    /// A report on `path` before anything but its size is known.
    pub(super) fn empty(path: &Path, file_size: u64) -> KernelReport {
        KernelReport {
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
        }
    }

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

/// A number as `0x`-prefixed lowercase hexadecimal (`{:#x}`), as Xen's messages show addresses.
pub(super) fn hex_number(v: u64) -> String {
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
                hex_number(e.entry)
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
                NoteValue::Integer(i) => hex_number(*i),
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
