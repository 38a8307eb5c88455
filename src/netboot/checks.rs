//! The checks of a found pair: the kernel suits the tree ([`crate::eliloader::kernel_problem`]),
//! both files are within eliloader's limits, the initrd is an initrd with modules for the
//! kernel; and their digests, from the cache when the file did not change.

use std::fs;
use std::path::Path;

use crate::cache::Cache;
use crate::eliloader;
use crate::hash::Hashes;
use crate::progress::ProgressReader;
use crate::xen::{self, KernelReport, XenError};

use super::choose::Found;
use super::error::{Image, NetbootError, Refusal, UnsuitableKernel};
use super::{Checks, Chosen, ProgressFn};

/// Checks `found` for the `installer-<arch>` tree and hashes it.
pub(super) fn check(
    found: Found,
    arch: &str,
    checks: Checks,
    cache: &mut Cache,
    warn: &mut dyn FnMut(&str),
    progress: &mut ProgressFn,
) -> Result<Chosen, NetbootError> {
    let unsuitable = eliloader::kernel_problem(&found.report, arch).map(|problem| {
        Refusal::Kernel(UnsuitableKernel {
            problem,
            arch: arch.to_string(),
        })
    });
    refuse_unless_forced(&found.kernel, unsuitable, checks, warn)?;
    let (kernel_hashes, initrd_hashes) = hash_pair(&found.kernel, &found.initrd, cache, progress)?;
    if !checks.allow_oversize {
        within_limit(&found.kernel, Image::Kernel, &kernel_hashes)?;
        within_limit(&found.initrd, Image::Initrd, &initrd_hashes)?;
    }
    check_initrd(
        &found.initrd,
        found.report.release(),
        checks,
        warn,
        progress,
    )?;
    Ok(Chosen {
        arch: arch.to_string(),
        kernel: found.kernel,
        kernel_hashes,
        kernel_report: found.report,
        initrd: found.initrd,
        initrd_hashes,
        source: found.source,
        _temp: found.temp,
    })
}

/// With `--force`, warns of `refusal`; without, refuses `path` for it.
fn refuse_unless_forced(
    path: &Path,
    refusal: Option<Refusal>,
    checks: Checks,
    warn: &mut dyn FnMut(&str),
) -> Result<(), NetbootError> {
    match refusal {
        None => Ok(()),
        Some(refusal) if checks.force => {
            warn(&format!(
                "{}: {refusal}; publishing it anyway because of --force",
                path.display()
            ));
            Ok(())
        }
        Some(refusal) => Err(NetbootError::Refused {
            path: path.to_path_buf(),
            refusal,
        }),
    }
}

/// Refuses an image over eliloader's limit.
fn within_limit(path: &Path, image: Image, hashes: &Hashes) -> Result<(), NetbootError> {
    if hashes.size > image.limit() {
        return Err(NetbootError::OverLimit {
            path: path.to_path_buf(),
            image,
            size: hashes.size,
        });
    }
    Ok(())
}

/// The digests of the kernel and initrd: from the cache when the file did not change;
/// else hashed, with progress.
fn hash_pair(
    kernel: &Path,
    initrd: &Path,
    cache: &mut Cache,
    progress: &mut ProgressFn,
) -> Result<(Hashes, Hashes), NetbootError> {
    let size = |p: &Path| fs::metadata(p).map_or(0, |m| m.len());
    let hashing = progress("hashing the kernel and initrd", size(kernel) + size(initrd));
    let mut hash = |p: &Path| -> Result<Hashes, NetbootError> {
        let meta = fs::metadata(p).map_err(|e| NetbootError::io(p, e))?;
        if let Some(e) = cache.get(p, &meta) {
            return Ok(e.hashes.clone());
        }
        let h = fs::File::open(p)
            .and_then(|f| crate::hash::hash_reader(ProgressReader::new(f, hashing.clone())))
            .map_err(|e| NetbootError::io(p, e))?;
        cache.insert(p, &meta, h.clone(), None, 0);
        Ok(h)
    };
    Ok((hash(kernel)?, hash(initrd)?))
}

/// [`xen::inspect_kernel_file`], counting the bytes read (the payload is decompressed).
pub(super) fn inspect_file(
    kernel: &Path,
    progress: &mut ProgressFn,
) -> Result<KernelReport, XenError> {
    let file = fs::File::open(kernel).map_err(|source| XenError::Io {
        path: kernel.to_owned(),
        source,
    })?;
    let len = file.metadata().map_or(0, |m| m.len());
    let name = kernel
        .file_name()
        .unwrap_or(kernel.as_os_str())
        .to_string_lossy();
    let p = progress(&format!("decompressing {name}"), len);
    xen::inspect_kernel_with(
        ProgressReader::new(file, p),
        kernel,
        &xen::InspectOptions::default(),
    )
}

/// [`inspect_file`], its error said as the build's.
pub(super) fn inspect(
    kernel: &Path,
    progress: &mut ProgressFn,
) -> Result<KernelReport, NetbootError> {
    inspect_file(kernel, progress).map_err(|source| NetbootError::Kernel {
        path: kernel.to_path_buf(),
        source,
    })
}

/// Refuses a file that is not an initrd; a module-version mismatch is refused unless forced.
fn check_initrd(
    initrd: &Path,
    release: Option<&str>,
    checks: Checks,
    warn: &mut dyn FnMut(&str),
    progress: &mut ProgressFn,
) -> Result<(), NetbootError> {
    let file = fs::File::open(initrd).map_err(|source| NetbootError::OpenInitrd {
        path: initrd.to_path_buf(),
        source,
    })?;
    let len = file.metadata().map_or(0, |m| m.len());
    let reading = progress("reading the initrd", len);
    let report = crate::initrd::inspect_initrd(ProgressReader::new(file, reading), initrd, release)
        .map_err(|source| NetbootError::NotAnInitrd {
            path: initrd.to_path_buf(),
            source,
        })?;
    let mismatch = match (report.matches, release) {
        (Some(false), Some(release)) => Some(Refusal::InitrdModules {
            found: report.module_versions,
            release: release.to_string(),
        }),
        _ => None,
    };
    refuse_unless_forced(initrd, mismatch, checks, warn)
}
