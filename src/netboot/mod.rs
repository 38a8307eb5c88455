//! The eliloader netboot tree: which kernel and initrd to publish, and where.
//!
//! eliloader fetches `dists/<suite>/main/installer-<arch>/current/images/netboot/xen/`
//! `vmlinuz` and `initrd.gz` and boots them without checking anything. This
//! module is the check it lacks and the layout it expects ([`crate::eliloader`] says
//! what eliloader is; this module applies it):
//!
//! * `choose`: [`prepare`] finds the pair, in a FAI nfsroot ([`crate::nfsroot`]), in a
//!   linux-image .deb, or given as files;
//! * `extract`: [`extract_kernel`] streams `boot/vmlinuz-*` out of a .deb, bounded;
//! * `checks`: the pair is proven a Xen PV kernel of the tree's architecture
//!   ([`crate::xen`]) and an initrd for it ([`crate::initrd`]) within eliloader's size
//!   limits, and hashed;
//! * `plan`: [`plan()`] lays out `installer-<arch>/<VERSION>/images/` like a Debian mirror's
//!   debian-installer tree, with `MD5SUMS` and `SHA256SUMS`, a `current` link to the
//!   newest VERSION, and the last [`KEEP_VERSIONS`] versions kept;
//! * `error`: [`NetbootError`], why no tree can be published.
//!
//! It writes nothing into the repository: [`plan()`] says what `build` publishes.

mod checks;
mod choose;
mod error;
mod extract;
mod plan;

use std::path::PathBuf;

use crate::hash::Hashes;
use crate::xen::KernelReport;

pub use choose::{prepare, prepare_with};
pub use error::{Image, NetbootError, Refusal, Rejected, Rejection, UnsuitableKernel};
pub use extract::{extract_kernel, MAX_DATA_TAR};
pub use plan::{plan, sums, TreePlan, KEEP_VERSIONS};

/// A checked kernel and initrd for one architecture.
#[derive(Debug)]
pub struct Chosen {
    /// `i386` or `amd64`.
    pub arch: String,
    /// The kernel file.
    pub kernel: PathBuf,
    /// Its digests.
    pub kernel_hashes: Hashes,
    /// What the Xen check said.
    pub kernel_report: KernelReport,
    /// The initrd file.
    pub initrd: PathBuf,
    /// Its digests.
    pub initrd_hashes: Hashes,
    /// Where the pair came from, for messages.
    pub source: String,
    /// Keeps a kernel extracted from a .deb alive.
    _temp: Option<tempfile::TempDir>,
}

/// Options of the checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checks {
    /// Allow images over eliloader's default limits.
    pub allow_oversize: bool,
    /// Publish a kernel that fails the PV check (loudly).
    pub force: bool,
}

/// Reports the bytes of a task as they are read: called with the task and its total
/// bytes (see [`crate::progress`]).
type ProgressFn<'a> = dyn FnMut(&str, u64) -> crate::progress::Progress + 'a;
