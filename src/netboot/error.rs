//! Why no netboot tree can be published: [`NetbootError`], one variant per refusal, each
//! with the file concerned in `path` and, where there is one, the cause as its `source`.
//! Every message reads `<path>: <what is wrong and what to do>`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::deb::DebError;
use crate::eliloader::{KernelProblem, INITRD_LIMIT, KERNEL_LIMIT};
use crate::initrd::InitrdError;
use crate::nfsroot::NfsrootError;
use crate::xen::XenError;

/// Why no netboot tree can be published: the file and the reason, with what to do.
///
/// Display reads `<path>: <reason>` and already says what the cause said; `source()`
/// gives the cause itself (an I/O, kernel, initrd, nfsroot or .deb error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetbootError {
    /// No source of a kernel was given (`path` is the architecture).
    #[error("{}: netboot needs a source: --nfsroot DIR, --kernel-deb FILE, or --kernel FILE --initrd FILE", path.display())]
    NoSource {
        /// The architecture, as a path.
        path: PathBuf,
    },
    /// `--kernel` without `--initrd`.
    #[error("{}: a kernel without an initrd: give --initrd FILE too", path.display())]
    KernelWithoutInitrd {
        /// The kernel.
        path: PathBuf,
    },
    /// `--kernel-deb` without `--initrd` or `--nfsroot`.
    #[error("{}: a kernel package without an initrd: give --initrd FILE or --nfsroot DIR", path.display())]
    DebWithoutInitrd {
        /// The kernel package.
        path: PathBuf,
    },
    /// The nfsroot has no initrd for the version of the kernel taken from a package.
    #[error("{}: has no initrd for kernel {version} (boot/initrd.img-{version})", path.display())]
    NoInitrdForVersion {
        /// The nfsroot.
        path: PathBuf,
        /// The kernel's version.
        version: String,
    },
    /// No kernel of the nfsroot can be published.
    #[error("{}: no kernel in boot/ can be published for installer-{arch} ({}{}); install a Xen PV kernel in the nfsroot (e.g. XenServer's linux-image-2.6-xen) or use --kernel-deb",
        path.display(), list(rejected, "; "), skipped.iter().map(|s| format!("; {s}")).collect::<String>())]
    NoPublishableKernel {
        /// The nfsroot.
        path: PathBuf,
        /// The tree's architecture.
        arch: String,
        /// Every kernel of `boot/`, with why it cannot be published.
        rejected: Vec<Rejected>,
        /// `boot/vmlinuz-*` entries that are no kernel at all (see [`crate::nfsroot::Kernels`]).
        skipped: Vec<String>,
    },
    /// The nfsroot cannot be used.
    #[error("{}: {}", path.display(), source.reason())]
    Nfsroot {
        /// The nfsroot.
        path: PathBuf,
        /// Why.
        source: NfsrootError,
    },
    /// The kernel cannot be inspected.
    #[error("{}: {}", path.display(), source.reason())]
    Kernel {
        /// The kernel.
        path: PathBuf,
        /// Why.
        source: XenError,
    },
    /// The kernel or initrd fails a check that `--force` overrides.
    #[error("{}: {refusal} (use --force to publish it anyway)", path.display())]
    Refused {
        /// The kernel or initrd.
        path: PathBuf,
        /// What is wrong.
        refusal: Refusal,
    },
    /// The kernel or initrd is over eliloader's limit.
    #[error("{}: is {size} bytes, over eliloader's {} MiB {image} limit: the install would abort (use --allow-oversize if your hosts raised the limit)",
        path.display(), image.limit() >> 20)]
    OverLimit {
        /// The kernel or initrd.
        path: PathBuf,
        /// Which.
        image: Image,
        /// Its size.
        size: u64,
    },
    /// The initrd cannot be opened.
    #[error("{}: cannot open: {source}", path.display())]
    OpenInitrd {
        /// The initrd.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The initrd is not one.
    #[error("{}: is not a usable initrd: {}", path.display(), source.reason())]
    NotAnInitrd {
        /// The initrd.
        path: PathBuf,
        /// Why.
        source: InitrdError,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// No temporary directory for the kernel of a package.
    #[error("{}: cannot create a temporary directory: {source}", path.display())]
    TempDir {
        /// The kernel package.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The kernel package is no .deb.
    #[error("{}: {}", path.display(), source.kind)]
    Deb {
        /// The kernel package.
        path: PathBuf,
        /// Why.
        source: DebError,
    },
    /// The package's `data.tar` cannot be read.
    #[error("{}: data.tar: {source}", path.display())]
    DataTar {
        /// The kernel package.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The package's kernel is over the limit.
    #[error("{}: {entry} is {size} bytes, over the {limit}-byte kernel limit (use --allow-oversize if your hosts raised it)", path.display())]
    KernelEntryOverLimit {
        /// The kernel package.
        path: PathBuf,
        /// The kernel's name in `data.tar`.
        entry: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The package's kernel cannot be read.
    #[error("{}: {entry}: {source}", path.display())]
    KernelEntry {
        /// The kernel package.
        path: PathBuf,
        /// The kernel's name in `data.tar`.
        entry: String,
        /// Why.
        source: io::Error,
    },
    /// The package's kernel ends before its size.
    #[error("{}: {entry}: truncated ({copied} of {size} bytes)", path.display())]
    KernelEntryTruncated {
        /// The kernel package.
        path: PathBuf,
        /// The kernel's name in `data.tar`.
        entry: String,
        /// The bytes read.
        copied: u64,
        /// The size its header gives.
        size: u64,
    },
    /// The package holds no kernel to take.
    #[error("{}: {}", path.display(), no_kernel(want.as_deref(), found))]
    NoKernelInDeb {
        /// The kernel package.
        path: PathBuf,
        /// The version asked for.
        want: Option<String>,
        /// The `boot/vmlinuz-*` entries seen.
        found: Vec<String>,
    },
    /// A kept VERSION's `MD5SUMS` or `SHA256SUMS` cannot be read.
    #[error("{}: cannot read a kept version's sums: {source}", path.display())]
    KeptSums {
        /// The sums file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl NetbootError {
    /// The file (or nfsroot, or package) concerned.
    pub fn path(&self) -> &Path {
        match self {
            NetbootError::NoSource { path }
            | NetbootError::KernelWithoutInitrd { path }
            | NetbootError::DebWithoutInitrd { path }
            | NetbootError::NoInitrdForVersion { path, .. }
            | NetbootError::NoPublishableKernel { path, .. }
            | NetbootError::Nfsroot { path, .. }
            | NetbootError::Kernel { path, .. }
            | NetbootError::Refused { path, .. }
            | NetbootError::OverLimit { path, .. }
            | NetbootError::OpenInitrd { path, .. }
            | NetbootError::NotAnInitrd { path, .. }
            | NetbootError::Io { path, .. }
            | NetbootError::TempDir { path, .. }
            | NetbootError::Deb { path, .. }
            | NetbootError::DataTar { path, .. }
            | NetbootError::KernelEntryOverLimit { path, .. }
            | NetbootError::KernelEntry { path, .. }
            | NetbootError::KernelEntryTruncated { path, .. }
            | NetbootError::NoKernelInDeb { path, .. }
            | NetbootError::KeptSums { path, .. } => path,
        }
    }

    /// `source` read or written at `path`.
    pub(super) fn io(path: &Path, source: io::Error) -> NetbootError {
        NetbootError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<NfsrootError> for NetbootError {
    fn from(source: NfsrootError) -> Self {
        NetbootError::Nfsroot {
            path: source.root().to_path_buf(),
            source,
        }
    }
}

/// The kernel or the initrd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    /// The kernel (`vmlinuz`).
    Kernel,
    /// The initrd (`initrd.gz`).
    Initrd,
}

impl Image {
    /// eliloader's limit on its size.
    pub fn limit(self) -> u64 {
        match self {
            Image::Kernel => KERNEL_LIMIT,
            Image::Initrd => INITRD_LIMIT,
        }
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Image::Kernel => "kernel",
            Image::Initrd => "initrd",
        })
    }
}

/// A check that `--force` overrides: refused without it, a warning with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The kernel does not suit the tree.
    Kernel(UnsuitableKernel),
    /// The initrd's modules are for another kernel.
    InitrdModules {
        /// The module versions the initrd carries.
        found: Vec<String>,
        /// The kernel's release.
        release: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Kernel(k) => write!(f, "{k}"),
            Refusal::InitrdModules { found, release } => {
                let found = if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                };
                write!(f, "carries modules for {found}, not for the kernel's {release}: the installer would find no drivers")
            }
        }
    }
}

/// Why a kernel does not suit `installer-<arch>` ([`crate::eliloader::kernel_problem`]),
/// said for a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsuitableKernel {
    /// What eliloader's rule says.
    pub problem: KernelProblem,
    /// The tree's architecture.
    pub arch: String,
}

impl fmt::Display for UnsuitableKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arch = &self.arch;
        match &self.problem {
            KernelProblem::NotPv(verdict) => write!(
                f,
                "is not a Xen PV kernel ({verdict}): eliloader would hand it to Xen and the guest would not boot"
            ),
            KernelProblem::OtherArch(a) => {
                write!(f, "is an {a} kernel, but this is the installer-{arch} tree")
            }
            KernelProblem::NotX86 => write!(f, "is not an x86 kernel for installer-{arch}"),
        }
    }
}

/// A kernel of an nfsroot that cannot be published, and why.
#[derive(Debug)]
pub struct Rejected {
    /// Its version.
    pub version: String,
    /// Why.
    pub why: Rejection,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.version, self.why)
    }
}

/// Why a kernel of an nfsroot cannot be published.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// No initrd of the same version.
    NoInitrd,
    /// The kernel cannot be inspected.
    CannotInspect(XenError),
    /// The kernel does not suit the tree.
    Unsuitable(UnsuitableKernel),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NoInitrd => f.write_str("no initrd of the same version"),
            Rejection::CannotInspect(_) => f.write_str("cannot be inspected"),
            Rejection::Unsuitable(k) => write!(f, "{k}"),
        }
    }
}

fn list(items: &[impl fmt::Display], sep: &str) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// What a package without the wanted kernel holds.
fn no_kernel(want: Option<&str>, found: &[String]) -> String {
    match (want, found.is_empty()) {
        (_, true) => "holds no boot/vmlinuz-* kernel: is it a linux-image package?".to_string(),
        (Some(w), false) => format!("holds no kernel {w} (it has: {})", found.join(", ")),
        (None, false) => format!("holds no usable kernel (found: {})", found.join(", ")),
    }
}
