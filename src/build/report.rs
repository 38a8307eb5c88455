//! What a build did: [`BuildReport`] (the `--json` keys are its field names),
//! and how it is put together from the phases' results.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::eliloader;
use crate::hash::Hashes;
use crate::netboot::{Chosen, TreePlan};

/// What a build did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BuildReport {
    /// True if anything published changed.
    pub changed: bool,
    /// Packages in the suite, as `name version arch`.
    pub packages: Vec<String>,
    /// Packages that were not in the previous Release.
    pub added: Vec<String>,
    /// Packages that were in the previous Release and are gone.
    pub removed: Vec<String>,
    /// Files renamed into place.
    pub files_written: usize,
    /// Files removed.
    pub files_removed: usize,
    /// SHA256 of the suite Release.
    pub release_sha256: String,
    /// Whether the Release is signed.
    pub signed: bool,
    /// The published public key, relative to the repository.
    pub keyring: Option<String>,
    /// The fingerprint of that key (upper-case hex, as gpg shows it).
    pub keyring_fingerprint: Option<String>,
    /// The netboot trees: architecture, VERSION, kernel and initrd.
    pub netboot: Vec<NetbootReport>,
    /// Every file the suite Release lists (relative to `dists/<suite>/`), with its
    /// size and SHA256.
    pub release_files: BTreeMap<String, ReleaseFile>,
}

/// One file listed in the suite Release.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseFile {
    /// Size in bytes.
    pub size: u64,
    /// SHA256, lowercase hex.
    pub sha256: String,
}

/// One published netboot tree.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NetbootReport {
    /// `i386` or `amd64`.
    pub arch: String,
    /// The VERSION directory `current` points to.
    pub version: String,
    /// Kernel release, from its setup header.
    pub kernel_release: Option<String>,
    /// SHA256 of the kernel.
    pub kernel_sha256: String,
    /// Size of the kernel.
    pub kernel_size: u64,
    /// SHA256 of the initrd.
    pub initrd_sha256: String,
    /// Size of the initrd.
    pub initrd_size: u64,
    /// The kernel as eliloader fetches it, relative to the repository.
    pub kernel_path: String,
    /// The initrd as eliloader fetches it, relative to the repository.
    pub initrd_path: String,
    /// The kernel file that was published.
    pub kernel_source: PathBuf,
    /// The initrd file that was published.
    pub initrd_source: PathBuf,
}

/// The packages of this build against the previous suite's: (all, added, removed).
pub(super) fn package_changes(
    now: BTreeSet<String>,
    before: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = now.difference(before).cloned().collect();
    let removed = before.difference(&now).cloned().collect();
    (now.into_iter().collect(), added, removed)
}

/// One [`NetbootReport`] per published tree.
pub(super) fn netboot_reports(
    chosen: &[Chosen],
    tree: &TreePlan,
    suite_dir: &Path,
) -> Vec<NetbootReport> {
    chosen
        .iter()
        .map(|c| NetbootReport {
            arch: c.arch.clone(),
            version: tree.versions.get(&c.arch).cloned().unwrap_or_default(),
            kernel_release: c.kernel_report.release().map(str::to_string),
            kernel_sha256: c.kernel_hashes.sha256_hex(),
            kernel_size: c.kernel_hashes.size,
            initrd_sha256: c.initrd_hashes.sha256_hex(),
            initrd_size: c.initrd_hashes.size,
            kernel_path: netboot_path(suite_dir, &c.arch, eliloader::KERNEL_NAME),
            initrd_path: netboot_path(suite_dir, &c.arch, eliloader::INITRD_NAME),
            kernel_source: c.kernel.clone(),
            initrd_source: c.initrd.clone(),
        })
        .collect()
}

/// `dists/<suite>/main/installer-<arch>/current/images/netboot/xen/<name>`.
fn netboot_path(suite_dir: &Path, arch: &str, name: &str) -> String {
    suite_dir
        .join(eliloader::image_path(arch, name))
        .display()
        .to_string()
}

/// The suite Release's files, as the report lists them.
pub(super) fn release_files(listed: &BTreeMap<String, Hashes>) -> BTreeMap<String, ReleaseFile> {
    listed
        .iter()
        .map(|(p, h)| {
            (
                p.clone(),
                ReleaseFile {
                    size: h.size,
                    sha256: h.sha256_hex(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_and_removed_are_the_two_differences() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let (all, added, removed) =
            package_changes(set(&["a 1 all", "b 2 all"]), &set(&["b 2 all", "c 1 all"]));
        assert_eq!(all, ["a 1 all", "b 2 all"]);
        assert_eq!(added, ["a 1 all"]);
        assert_eq!(removed, ["c 1 all"]);
    }
}
