//! eliloader's view of a suite: the kernel and initrd fetched at exactly the URLs eliloader
//! builds ([`crate::eliloader::urls`]), within its limits, with an honest Content-Length;
//! the kernel a Xen PV kernel of the tree's architecture, the initrd an initrd with modules
//! for it; and both listed with the same digests in the Release-listed `SHA256SUMS` and
//! `MD5SUMS`.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::eliloader::{self, KernelProblem, INITRD_LIMIT, INITRD_NAME, KERNEL_LIMIT, KERNEL_NAME};
use crate::hash::{hex, Hashes};
use crate::release::ParsedRelease;

use super::source::{Source, METADATA_LIMIT};
use super::{Suite, VerifyReport};

/// The tree of each architecture of `archs`: missing is a problem if the architecture was
/// asked for, else a warning (a repository may have packages only for an architecture).
pub(super) fn check_trees(
    suite: &Suite,
    parsed: &ParsedRelease,
    archs: &[String],
    report: &mut VerifyReport,
) {
    for arch in archs {
        let sums = format!("{}SHA256SUMS", eliloader::images_dir(arch));
        if !parsed.files.contains_key(&sums) {
            let loc = suite.location(&eliloader::images_dir(arch));
            let what = format!("no eliloader tree for {arch} (the Release lists none): eliloader installs of {arch} guests from this repository will fail");
            if suite.opts.archs.contains(arch) {
                report.problem(loc, what);
            } else {
                report.warn(loc, what);
            }
            continue;
        }
        check_tree(suite, arch, report);
    }
}

/// A kernel or initrd as eliloader fetched it.
struct Image {
    /// [`KERNEL_NAME`] or [`INITRD_NAME`].
    name: &'static str,
    /// Where it was saved.
    path: PathBuf,
    /// Its digests.
    hashes: Hashes,
    /// Its URL or file, for messages.
    loc: String,
}

/// The tree of `arch`: fetched like eliloader, then each file's content and the sums.
fn check_tree(suite: &Suite, arch: &str, report: &mut VerifyReport) {
    let (kernel_url, initrd_url) = eliloader_urls(suite.source, suite.name, arch);
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            report.problem("temporary directory", e.to_string());
            return;
        }
    };
    let mut images = Vec::new();
    for (url, name, limit, what) in [
        (&kernel_url, KERNEL_NAME, KERNEL_LIMIT, "kernel"),
        (&initrd_url, INITRD_NAME, INITRD_LIMIT, "initrd"),
    ] {
        let saved = fetch_image(suite, url, limit, what, &tmp.path().join(name), report);
        images.extend(saved.map(|(path, hashes, loc)| Image {
            name,
            path,
            hashes,
            loc,
        }));
    }
    let kernel = images.iter().find(|i| i.name == KERNEL_NAME);
    let initrd = images.iter().find(|i| i.name == INITRD_NAME);
    let release_of_kernel = kernel.and_then(|k| check_kernel(k, arch, report));
    if let Some(initrd) = initrd {
        check_initrd(initrd, release_of_kernel.as_deref(), report);
    }
    check_sums(suite, arch, &images, report);
}

/// The URLs eliloader fetches; relative to the repository for a directory.
fn eliloader_urls(source: &Source, suite: &str, arch: &str) -> (String, String) {
    match source {
        Source::Http(r) | Source::Ftp(r) => eliloader::urls(&r.base, suite, arch),
        Source::Dir(_) => {
            let (k, i) = eliloader::urls("", suite, arch);
            (
                k.trim_start_matches('/').to_string(),
                i.trim_start_matches('/').to_string(),
            )
        }
    }
}

/// Fetches `url` into `path` as eliloader would: the file, its digests and its location,
/// or `None` with the problem reported (unfetchable, over `limit`, empty). A dishonest
/// Content-Length is reported and the file still checked.
fn fetch_image(
    suite: &Suite,
    url: &str,
    limit: u64,
    what: &str,
    path: &Path,
    report: &mut VerifyReport,
) -> Option<(PathBuf, Hashes, String)> {
    let source = suite.source;
    let loc = source.location(url);
    report.eliloader_urls.push(loc.clone());
    let mut f = File::create(path).ok()?;
    let got = match source.fetch(url, limit, &mut f) {
        Ok(got) => got,
        Err(e) => {
            let why = format!("eliloader cannot fetch the {what}: {}", e.kind);
            suite.fetch_failed(report, &e, why);
            return None;
        }
    };
    if got.over_limit {
        report.problem(
            loc,
            format!(
                "the {what} is over eliloader's {} MiB limit: the install would abort",
                limit >> 20
            ),
        );
        return None;
    }
    if let Some(cl) = got.content_length {
        if cl != got.bytes {
            report.problem(
                loc.clone(),
                format!(
                    "Content-Length says {cl} bytes but {} arrived: eliloader aborts",
                    got.bytes
                ),
            );
        }
    }
    if got.bytes == 0 {
        report.problem(loc, format!("the {what} is empty"));
        return None;
    }
    Some((path.to_path_buf(), got.hashes, loc))
}

/// The kernel must be a Xen PV kernel of `arch`; returns its release, if it is a kernel.
fn check_kernel(kernel: &Image, arch: &str, report: &mut VerifyReport) -> Option<String> {
    let r = match crate::xen::inspect_kernel_file(&kernel.path) {
        Ok(r) => r,
        Err(e) => {
            report.problem(
                &kernel.loc,
                format!("not a bootable kernel: {}", e.reason()),
            );
            return None;
        }
    };
    if let Some(problem) = eliloader::kernel_problem(&r, arch) {
        report.problem(&kernel.loc, unsuitable(&problem, arch));
    }
    r.release().map(str::to_string)
}

/// Why eliloader cannot boot a kernel of the `installer-<arch>` tree, said for a check.
fn unsuitable(problem: &KernelProblem, arch: &str) -> String {
    match problem {
        KernelProblem::NotPv(verdict) => {
            format!("not a Xen PV kernel ({verdict}): the guest will not boot")
        }
        KernelProblem::OtherArch(a) => format!("a {a} kernel in the installer-{arch} tree"),
        KernelProblem::NotX86 => format!("a non-x86 kernel in the installer-{arch} tree"),
    }
}

/// The initrd must be one, with modules for the kernel's `release` if it names its modules.
fn check_initrd(initrd: &Image, release: Option<&str>, report: &mut VerifyReport) {
    match crate::initrd::inspect_initrd_file(&initrd.path, release) {
        Err(e) => report.problem(&initrd.loc, format!("not an initrd: {}", e.reason())),
        Ok(r) if r.matches == Some(false) => report.problem(
            &initrd.loc,
            format!(
                "carries modules for {}, not for the kernel's {}",
                if r.module_versions.is_empty() {
                    "no kernel".to_string()
                } else {
                    r.module_versions.join(", ")
                },
                release.unwrap_or("?")
            ),
        ),
        Ok(_) => {}
    }
}

/// Release -> `SHA256SUMS`/`MD5SUMS` -> images: each must list both images, and with the
/// digest of what was fetched.
fn check_sums(suite: &Suite, arch: &str, images: &[Image], report: &mut VerifyReport) {
    for (sums, sha256) in [("SHA256SUMS", true), ("MD5SUMS", false)] {
        let rel = format!("{}{sums}", eliloader::images_dir(arch));
        let bytes = match suite.fetch_small(&rel, METADATA_LIMIT, "a checksum file") {
            Ok(bytes) => bytes,
            Err(e) => {
                let what = if e.kind.is_absent() {
                    "missing".to_string()
                } else {
                    e.kind.to_string()
                };
                suite.fetch_failed(report, &e, what);
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        for name in [KERNEL_NAME, INITRD_NAME] {
            let entry = eliloader::sums_entry(name);
            let Some(want) = sums_digest(&text, &entry) else {
                report.problem(suite.location(&rel), format!("does not list {entry}"));
                continue;
            };
            if let Some(image) = images.iter().find(|i| i.name == name) {
                let h = &image.hashes;
                let have = if sha256 { hex(&h.sha256) } else { hex(&h.md5) };
                if !want.eq_ignore_ascii_case(&have) {
                    report.problem(
                        image.loc.clone(),
                        format!("does not match {sums}: the file was replaced or damaged"),
                    );
                }
            }
        }
    }
}

/// The digest a `SHA256SUMS`/`MD5SUMS` text gives `entry` (`<digest>  <entry>` lines).
fn sums_digest<'a>(text: &'a str, entry: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        l.split_once("  ")
            .filter(|(_, p)| *p == entry)
            .map(|(h, _)| h)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sums_line_is_found_by_its_exact_entry() {
        let text = "aa  ./netboot/xen/initrd.gz\nbb  ./netboot/xen/vmlinuz\ncc  ./netboot/xen/vmlinuz.old\n";
        assert_eq!(sums_digest(text, "./netboot/xen/vmlinuz"), Some("bb"));
        assert_eq!(sums_digest(text, "./netboot/xen/initrd.gz"), Some("aa"));
        assert_eq!(sums_digest(text, "netboot/xen/vmlinuz"), None);
    }
}
