//! Choosing the pair to publish: explicit files, a linux-image .deb (with an initrd given
//! or taken from an nfsroot), or an nfsroot's `boot/`, where every kernel is inspected and
//! the one publishable for the tree is taken.

use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::config::NetbootInput;
use crate::eliloader::{self, KERNEL_LIMIT};
use crate::nfsroot::{self, KernelPair};
use crate::progress::Progress;
use crate::xen::{KernelReport, XenError};

use super::checks::{self, inspect, inspect_file};
use super::error::{NetbootError, Rejected, Rejection, UnsuitableKernel};
use super::extract::extract_kernel;
use super::{Checks, Chosen, ProgressFn};

/// A kernel and its initrd, found but not yet checked.
pub(super) struct Found {
    /// The kernel file.
    pub kernel: PathBuf,
    /// The initrd file.
    pub initrd: PathBuf,
    /// Where the pair came from, for messages.
    pub source: String,
    /// What the Xen check said of the kernel.
    pub report: KernelReport,
    /// Holds a kernel extracted from a .deb.
    pub temp: Option<tempfile::TempDir>,
}

/// Finds and checks the pair described by `input`.
pub fn prepare(
    input: &NetbootInput,
    checks: Checks,
    cache: &mut Cache,
    warn: &mut dyn FnMut(&str),
) -> Result<Chosen, NetbootError> {
    prepare_with(input, checks, cache, warn, &mut |_, _| Progress::none())
}

/// [`prepare`], reporting the bytes decompressed and hashed through `progress`
/// (called with a task and its total bytes; see [`crate::progress`]).
pub fn prepare_with(
    input: &NetbootInput,
    checks: Checks,
    cache: &mut Cache,
    warn: &mut dyn FnMut(&str),
    progress: &mut dyn FnMut(&str, u64) -> Progress,
) -> Result<Chosen, NetbootError> {
    let found = if let Some(kernel) = &input.kernel {
        from_files(kernel, input.initrd.as_deref(), progress)?
    } else if let Some(deb) = &input.kernel_deb {
        from_deb(deb, input, checks, progress)?
    } else if let Some(root) = &input.nfsroot {
        from_nfsroot(root, input, checks, progress)?
    } else {
        return Err(NetbootError::NoSource {
            path: PathBuf::from(&input.arch),
        });
    };
    checks::check(found, &input.arch, checks, cache, warn, progress)
}

/// `--kernel FILE --initrd FILE`.
fn from_files(
    kernel: &Path,
    initrd: Option<&Path>,
    progress: &mut ProgressFn,
) -> Result<Found, NetbootError> {
    let Some(initrd) = initrd else {
        return Err(NetbootError::KernelWithoutInitrd {
            path: kernel.to_path_buf(),
        });
    };
    let report = inspect(kernel, progress)?;
    Ok(Found {
        kernel: kernel.to_path_buf(),
        initrd: initrd.to_path_buf(),
        source: kernel.display().to_string(),
        report,
        temp: None,
    })
}

/// `--kernel-deb FILE` with `--initrd FILE` or `--nfsroot DIR` (the initrd of the same version).
fn from_deb(
    deb: &Path,
    input: &NetbootInput,
    checks: Checks,
    progress: &mut ProgressFn,
) -> Result<Found, NetbootError> {
    let dir = tempfile::Builder::new()
        .prefix("elirepo-kernel-")
        .tempdir()
        .map_err(|source| NetbootError::TempDir {
            path: deb.to_path_buf(),
            source,
        })?;
    let limit = if checks.allow_oversize {
        1 << 30
    } else {
        KERNEL_LIMIT
    };
    let (kernel, version) =
        extract_kernel(deb, dir.path(), input.kernel_version.as_deref(), limit)?;
    let report = inspect(&kernel, progress)?;
    let initrd = match (&input.initrd, &input.nfsroot) {
        (Some(initrd), _) => initrd.clone(),
        (None, Some(root)) => nfsroot_initrd(root, &version)?,
        (None, None) => {
            return Err(NetbootError::DebWithoutInitrd {
                path: deb.to_path_buf(),
            })
        }
    };
    Ok(Found {
        kernel,
        initrd,
        source: format!("{} ({version})", deb.display()),
        report,
        temp: Some(dir),
    })
}

/// The nfsroot's initrd for kernel `version`.
fn nfsroot_initrd(root: &Path, version: &str) -> Result<PathBuf, NetbootError> {
    nfsroot::find_kernels(root)?
        .pairs
        .into_iter()
        .find(|p| p.version == version)
        .and_then(|p| p.initrd)
        .ok_or_else(|| NetbootError::NoInitrdForVersion {
            path: root.to_path_buf(),
            version: version.to_string(),
        })
}

/// A kernel of the nfsroot and what inspecting it said.
struct Candidate {
    pair: KernelPair,
    report: Result<KernelReport, XenError>,
}

impl Candidate {
    /// True if it can be published in `installer-<arch>`: it has an initrd and, unless
    /// `force`, it is a kernel eliloader can boot there.
    fn usable(&self, arch: &str, force: bool) -> bool {
        self.pair.initrd.is_some()
            && (force
                || self
                    .report
                    .as_ref()
                    .is_ok_and(|r| eliloader::kernel_problem(r, arch).is_none()))
    }

    /// Why it cannot be published in `installer-<arch>` (`None` if it can).
    fn rejected(self, arch: &str) -> Option<Rejected> {
        let why = match (&self.pair.initrd, self.report) {
            (None, _) => Rejection::NoInitrd,
            (Some(_), Err(e)) => Rejection::CannotInspect(e),
            (Some(_), Ok(r)) => Rejection::Unsuitable(UnsuitableKernel {
                problem: eliloader::kernel_problem(&r, arch)?,
                arch: arch.to_string(),
            }),
        };
        Some(Rejected {
            version: self.pair.version,
            why,
        })
    }
}

/// `--nfsroot DIR`: the publishable kernel of `boot/` (`--kernel-version`, else the one
/// `vmlinuz` names, else the only one), each kernel inspected once.
fn from_nfsroot(
    root: &Path,
    input: &NetbootInput,
    checks: Checks,
    progress: &mut ProgressFn,
) -> Result<Found, NetbootError> {
    let arch = input.arch.as_str();
    let kernels = nfsroot::find_kernels(root)?;
    let candidates: Vec<Candidate> = kernels
        .pairs
        .iter()
        .map(|pair| Candidate {
            pair: pair.clone(),
            report: inspect_file(&pair.kernel, progress),
        })
        .collect();
    let usable: Vec<&KernelPair> = kernels
        .pairs
        .iter()
        .zip(&candidates)
        .filter(|(_, c)| c.usable(arch, checks.force))
        .map(|(p, _)| p)
        .collect();
    if usable.is_empty() && !kernels.pairs.is_empty() {
        return Err(NetbootError::NoPublishableKernel {
            path: root.to_path_buf(),
            arch: arch.to_string(),
            rejected: candidates
                .into_iter()
                .filter_map(|c| c.rejected(arch))
                .collect(),
            skipped: kernels.skipped.clone(),
        });
    }
    let pair = nfsroot::choose(root, &kernels, &usable, input.kernel_version.as_deref())?;
    // Already inspected above: never decompress the same kernel twice.
    let report = match candidates.iter().find(|c| c.pair.kernel == pair.kernel) {
        Some(Candidate { report: Ok(r), .. }) => r.clone(),
        _ => inspect(&pair.kernel, progress)?,
    };
    Ok(Found {
        kernel: pair.kernel.clone(),
        initrd: pair.initrd.clone().expect("usable pairs have an initrd"),
        source: format!("{} ({})", root.display(), pair.version),
        report,
        temp: None,
    })
}

#[cfg(test)]
mod tests {
    use std::error::Error;
    use std::fs;

    use super::*;
    use crate::nfsroot::NfsrootError;

    fn refused(input: NetbootInput) -> NetbootError {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = Cache::load(&dir.path().join("cache"));
        prepare(&input, Checks::default(), &mut cache, &mut |_| {}).unwrap_err()
    }

    #[test]
    fn a_kernel_that_is_none_keeps_the_xen_error_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("vmlinuz");
        fs::write(&kernel, b"hello, I am not a kernel").unwrap();
        let e = refused(NetbootInput {
            arch: "amd64".into(),
            kernel: Some(kernel.clone()),
            initrd: Some(dir.path().join("initrd")),
            ..Default::default()
        });
        let NetbootError::Kernel { path, source } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(path, &kernel);
        assert!(matches!(source, XenError::NotAKernel { .. }), "{source:?}");
        // The message names the kernel once, then says what the kernel check said.
        assert_eq!(e.to_string(), source.to_string());
        assert!(e.source().is_some());
    }

    #[test]
    fn an_unusable_nfsroot_is_the_nfsroot_error_with_its_root_as_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("no-such-nfsroot");
        let e = refused(NetbootInput {
            arch: "amd64".into(),
            nfsroot: Some(root.clone()),
            ..Default::default()
        });
        let NetbootError::Nfsroot { path, source } = &e else {
            panic!("{e:?}");
        };
        assert_eq!((path, source.root()), (&root, root.as_path()));
        assert!(matches!(source, NfsrootError::Root { .. }), "{source:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: not an nfsroot directory: No such file or directory (os error 2)",
                root.display()
            )
        );
    }

    #[test]
    fn every_rejected_kernel_of_an_nfsroot_is_named_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot");
        fs::create_dir_all(&boot).unwrap();
        fs::write(boot.join("vmlinuz-1-garbage"), b"garbage").unwrap();
        fs::write(boot.join("initrd.img-1-garbage"), b"x").unwrap();
        fs::write(boot.join("vmlinuz-2-alone"), b"garbage").unwrap();
        let e = refused(NetbootInput {
            arch: "amd64".into(),
            nfsroot: Some(dir.path().to_path_buf()),
            ..Default::default()
        });
        let NetbootError::NoPublishableKernel { rejected, .. } = &e else {
            panic!("{e:?}");
        };
        assert!(
            matches!(
                rejected.as_slice(),
                [
                    Rejected {
                        why: Rejection::CannotInspect(XenError::NotAKernel { .. }),
                        ..
                    },
                    Rejected {
                        why: Rejection::NoInitrd,
                        ..
                    }
                ]
            ),
            "{rejected:?}"
        );
        assert!(
            e.to_string().contains(
                "(1-garbage: cannot be inspected; 2-alone: no initrd of the same version)"
            ),
            "{e}"
        );
    }
}
