//! The eliloader netboot tree: which kernel and initrd to publish, and where.
//!
//! eliloader fetches `dists/<suite>/main/installer-<arch>/current/images/netboot/xen/`
//! `vmlinuz` and `initrd.gz` and boots them without checking anything. This
//! module is the check it lacks and the layout it expects: [`prepare`] finds the
//! pair (in a FAI nfsroot, in a linux-image .deb, or given as files), proves the
//! kernel is a Xen PV kernel of the tree's architecture ([`crate::xen`]) and the
//! initrd an initrd ([`crate::initrd`]), and enforces eliloader's size limits;
//! [`plan`] lays out `installer-<arch>/<VERSION>/images/` like a Debian mirror's
//! debian-installer tree, with `MD5SUMS` and `SHA256SUMS`, a `current` link to
//! the newest VERSION, and the last [`KEEP_VERSIONS`] versions kept.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::config::NetbootInput;
use crate::eliloader::{
    self, KernelProblem, CURRENT, INITRD_LIMIT, INITRD_NAME, KERNEL_LIMIT, KERNEL_NAME,
};
use crate::hash::{hex, Hashes};
use crate::nfsroot;
use crate::progress::{Progress, ProgressReader};
use crate::publish::Content;
use crate::xen::{self, KernelReport};

/// Versions of the tree kept published.
pub const KEEP_VERSIONS: usize = 3;

/// Why no netboot tree can be published: the file and the reason, with what to do.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct NetbootError {
    /// The input concerned.
    pub path: PathBuf,
    /// What is wrong and what to do.
    pub reason: String,
}

fn nerr(path: &Path, reason: impl Into<String>) -> NetbootError {
    NetbootError {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl From<nfsroot::NfsrootError> for NetbootError {
    fn from(e: nfsroot::NfsrootError) -> Self {
        let path = match &e {
            nfsroot::NfsrootError::Root { root, .. }
            | nfsroot::NfsrootError::Path { root, .. }
            | nfsroot::NfsrootError::NotFound { root, .. } => root.clone(),
            #[allow(unreachable_patterns)]
            _ => PathBuf::new(),
        };
        let full = e.to_string();
        let prefix = format!("{}: ", path.display());
        NetbootError {
            path,
            reason: full.strip_prefix(&prefix).unwrap_or(&full).to_string(),
        }
    }
}

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

/// Why a kernel does not suit `arch` ([`eliloader::kernel_problem`]), said for a build.
fn kernel_problem(report: &KernelReport, arch: &str) -> Option<String> {
    eliloader::kernel_problem(report, arch).map(|p| match p {
        KernelProblem::NotPv(verdict) => format!(
            "is not a Xen PV kernel ({}): eliloader would hand it to Xen and the guest would not boot",
            verdict.label()
        ),
        KernelProblem::OtherArch(a) => {
            format!("is an {a} kernel, but this is the installer-{arch} tree")
        }
        KernelProblem::NotX86 => format!("is not an x86 kernel for installer-{arch}"),
    })
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
    let arch = input.arch.as_str();
    let mut temp = None;
    let (kernel, initrd, source, report) = if let Some(k) = &input.kernel {
        let initrd = match &input.initrd {
            Some(i) => i.clone(),
            None => {
                return Err(nerr(
                    k,
                    "a kernel without an initrd: give --initrd FILE too",
                ))
            }
        };
        let report = inspect(k, progress)?;
        (k.clone(), initrd, format!("{}", k.display()), report)
    } else if let Some(deb) = &input.kernel_deb {
        let dir = tempfile::Builder::new()
            .prefix("elirepo-kernel-")
            .tempdir()
            .map_err(|e| nerr(deb, format!("cannot create a temporary directory: {e}")))?;
        let limit = if checks.allow_oversize {
            1 << 30
        } else {
            KERNEL_LIMIT
        };
        let (kernel, version) =
            extract_kernel(deb, dir.path(), input.kernel_version.as_deref(), limit)?;
        temp = Some(dir);
        let report = inspect(&kernel, progress)?;
        let initrd = match (&input.initrd, &input.nfsroot) {
            (Some(i), _) => i.clone(),
            (None, Some(root)) => {
                let kernels = nfsroot::find_kernels(root)?;
                kernels
                    .pairs
                    .iter()
                    .find(|p| p.version == version)
                    .and_then(|p| p.initrd.clone())
                    .ok_or_else(|| {
                        nerr(
                            root,
                            format!(
                                "has no initrd for kernel {version} (boot/initrd.img-{version})"
                            ),
                        )
                    })?
            }
            (None, None) => {
                return Err(nerr(
                    deb,
                    "a kernel package without an initrd: give --initrd FILE or --nfsroot DIR",
                ))
            }
        };
        (
            kernel,
            initrd,
            format!("{} ({version})", deb.display()),
            report,
        )
    } else if let Some(root) = &input.nfsroot {
        let kernels = nfsroot::find_kernels(root)?;
        let mut reports = Vec::new();
        for p in &kernels.pairs {
            match inspect_file(&p.kernel, progress) {
                Ok(r) => reports.push((p, Some(r))),
                Err(_) => reports.push((p, None)),
            }
        }
        let usable: Vec<&nfsroot::KernelPair> = reports
            .iter()
            .filter(|(p, r)| {
                p.initrd.is_some()
                    && (checks.force
                        || r.as_ref()
                            .is_some_and(|r| kernel_problem(r, arch).is_none()))
            })
            .map(|(p, _)| *p)
            .collect();
        if usable.is_empty() && !kernels.pairs.is_empty() {
            let why: Vec<String> = reports
                .iter()
                .map(|(p, r)| {
                    let what = match (r, &p.initrd) {
                        (_, None) => "no initrd of the same version".to_string(),
                        (None, _) => "cannot be inspected".to_string(),
                        (Some(r), _) => kernel_problem(r, arch).unwrap_or_default(),
                    };
                    format!("{}: {what}", p.version)
                })
                .collect();
            return Err(nerr(
                root,
                format!(
                    "no kernel in boot/ can be published for installer-{arch} ({}{}); install a Xen PV kernel in the nfsroot (e.g. XenServer's linux-image-2.6-xen) or use --kernel-deb",
                    why.join("; "),
                    kernels.skipped.iter().map(|s| format!("; {s}")).collect::<String>()
                ),
            ));
        }
        let pair = nfsroot::choose(root, &kernels, &usable, input.kernel_version.as_deref())?;
        // Already inspected above: never decompress the same kernel twice.
        let report = match reports.iter().find(|(p, _)| p.kernel == pair.kernel) {
            Some((_, Some(r))) => r.clone(),
            _ => inspect(&pair.kernel, progress)?,
        };
        let initrd = pair.initrd.clone().expect("usable pairs have an initrd");
        (
            pair.kernel.clone(),
            initrd,
            format!("{} ({})", root.display(), pair.version),
            report,
        )
    } else {
        return Err(nerr(
            Path::new(&input.arch),
            "netboot needs a source: --nfsroot DIR, --kernel-deb FILE, or --kernel FILE --initrd FILE",
        ));
    };

    if let Some(problem) = kernel_problem(&report, arch) {
        if checks.force {
            warn(&format!(
                "{}: {problem}; publishing it anyway because of --force",
                kernel.display()
            ));
        } else {
            return Err(nerr(
                &kernel,
                format!("{problem} (use --force to publish it anyway)"),
            ));
        }
    }
    // Digests from the cache when the file did not change; else hashed with progress.
    let size = |p: &Path| fs::metadata(p).map_or(0, |m| m.len());
    let hashing = progress(
        "hashing the kernel and initrd",
        size(&kernel) + size(&initrd),
    );
    let mut hash = |p: &Path| -> Result<Hashes, NetbootError> {
        let meta = fs::metadata(p).map_err(|e| nerr(p, e.to_string()))?;
        if let Some(e) = cache.get(p, &meta) {
            return Ok(e.hashes.clone());
        }
        let h = fs::File::open(p)
            .and_then(|f| crate::hash::hash_reader(ProgressReader::new(f, hashing.clone())))
            .map_err(|e| nerr(p, e.to_string()))?;
        cache.insert(p, &meta, h.clone(), None, 0);
        Ok(h)
    };
    let kernel_hashes = hash(&kernel)?;
    let initrd_hashes = hash(&initrd)?;
    drop(hashing);
    if !checks.allow_oversize {
        if kernel_hashes.size > KERNEL_LIMIT {
            return Err(nerr(&kernel, format!(
                "is {} bytes, over eliloader's 32 MiB kernel limit: the install would abort (use --allow-oversize if your hosts raised the limit)",
                kernel_hashes.size
            )));
        }
        if initrd_hashes.size > INITRD_LIMIT {
            return Err(nerr(&initrd, format!(
                "is {} bytes, over eliloader's 128 MiB initrd limit: the install would abort (use --allow-oversize if your hosts raised the limit)",
                initrd_hashes.size
            )));
        }
    }
    check_initrd(&initrd, report.release(), checks, warn, progress)?;
    Ok(Chosen {
        arch: arch.to_string(),
        kernel,
        kernel_hashes,
        kernel_report: report,
        initrd,
        initrd_hashes,
        source,
        _temp: temp,
    })
}

/// [`xen::inspect_kernel_file`], counting the bytes read (the payload is decompressed).
fn inspect_file(
    kernel: &Path,
    progress: &mut dyn FnMut(&str, u64) -> Progress,
) -> Result<KernelReport, xen::XenError> {
    let file = fs::File::open(kernel).map_err(|source| xen::XenError::Io {
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

fn inspect(
    kernel: &Path,
    progress: &mut dyn FnMut(&str, u64) -> Progress,
) -> Result<KernelReport, NetbootError> {
    inspect_file(kernel, progress).map_err(|e| {
        let s = e.to_string();
        let prefix = format!("{}: ", kernel.display());
        nerr(kernel, s.strip_prefix(&prefix).unwrap_or(&s).to_string())
    })
}

/// Refuses a file that is not an initrd; a module-version mismatch is refused unless forced.
fn check_initrd(
    initrd: &Path,
    release: Option<&str>,
    checks: Checks,
    warn: &mut dyn FnMut(&str),
    progress: &mut dyn FnMut(&str, u64) -> Progress,
) -> Result<(), NetbootError> {
    let file = fs::File::open(initrd).map_err(|e| nerr(initrd, format!("cannot open: {e}")))?;
    let len = file.metadata().map_or(0, |m| m.len());
    let reading = progress("reading the initrd", len);
    let report = crate::initrd::inspect_initrd(ProgressReader::new(file, reading), initrd, release)
        .map_err(|e| {
            let s = e.to_string();
            let prefix = format!("{}: ", initrd.display());
            nerr(
                initrd,
                format!(
                    "is not a usable initrd: {}",
                    s.strip_prefix(&prefix).unwrap_or(&s)
                ),
            )
        })?;
    if let (Some(false), Some(rel)) = (report.matches, release) {
        let found = if report.module_versions.is_empty() {
            "none".to_string()
        } else {
            report.module_versions.join(", ")
        };
        let msg = format!("carries modules for {found}, not for the kernel's {rel}: the installer would find no drivers");
        if checks.force {
            warn(&format!(
                "{}: {msg}; publishing it anyway because of --force",
                initrd.display()
            ));
        } else {
            return Err(nerr(
                initrd,
                format!("{msg} (use --force to publish it anyway)"),
            ));
        }
    }
    Ok(())
}

/// Most bytes of decompressed `data.tar` [`extract_kernel`] reads looking for the kernel: a
/// bound on the time a decompression bomb can take (Debian's kernel packages unpack to
/// well under 1 GiB, and their `boot/` comes first).
pub const MAX_DATA_TAR: u64 = 4 << 30;

/// Streams `boot/vmlinuz-*` out of a linux-image .deb into `dir`; returns its path and version.
///
/// Only a regular file is taken (a link in a package is never followed), under its version
/// alone (`dir/vmlinuz-<version>`, no `/` in it), into a file that must not exist yet (a link
/// planted in `dir` is not written through). GNU long names and pax headers are bounded
/// ([`crate::deb::MAX_TAR_EXTENSION`]), and so is the `data.tar` read ([`MAX_DATA_TAR`]).
pub fn extract_kernel(
    deb: &Path,
    dir: &Path,
    want: Option<&str>,
    limit: u64,
) -> Result<(PathBuf, String), NetbootError> {
    extract_kernel_capped(deb, dir, want, limit, MAX_DATA_TAR)
}

fn extract_kernel_capped(
    deb: &Path,
    dir: &Path,
    want: Option<&str>,
    limit: u64,
    max_data: u64,
) -> Result<(PathBuf, String), NetbootError> {
    let data = crate::deb::open_data(deb).map_err(|e| nerr(deb, e.kind.to_string()))?;
    let data = crate::compress::LimitReader::new(data, max_data, "the decompressed stream");
    let mut seen = Vec::new();
    let mut found = None;
    let kernel = |e| Walk::Kernel(e);
    crate::deb::walk_tar(data, |raw, entry| -> Result<bool, Walk> {
        let name = String::from_utf8_lossy(raw).into_owned();
        let clean = name.strip_prefix("./").unwrap_or(&name);
        let Some(version) = clean.strip_prefix("boot/vmlinuz-") else {
            return Ok(false);
        };
        if version.is_empty() || version.contains('/') {
            return Ok(false);
        }
        if !entry.header().entry_type().is_file() {
            // A link inside a package is never followed: it could point anywhere.
            seen.push(format!("{version} (not a regular file)"));
            return Ok(false);
        }
        seen.push(version.to_string());
        if want.is_some_and(|w| w != version) {
            return Ok(false);
        }
        let size = entry.size();
        if size > limit {
            return Err(kernel(nerr(deb, format!(
                "{clean} is {size} bytes, over the {limit}-byte kernel limit (use --allow-oversize if your hosts raised it)"
            ))));
        }
        let out_path = dir.join(format!("vmlinuz-{version}"));
        // create_new: never through a link (or over a file) already there.
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&out_path)
            .map_err(|e| kernel(nerr(&out_path, e.to_string())))?;
        let copied = io::copy(&mut entry.take(size), &mut out)
            .map_err(|e| kernel(nerr(deb, format!("{clean}: {e}"))))?;
        if copied != size {
            return Err(kernel(nerr(
                deb,
                format!("{clean}: truncated ({copied} of {size} bytes)"),
            )));
        }
        found = Some((out_path, version.to_string()));
        Ok(true)
    })
    .map_err(|e| match e {
        Walk::Tar(e) => nerr(deb, format!("data.tar: {e}")),
        Walk::Kernel(e) => e,
    })?;
    if let Some(f) = found {
        return Ok(f);
    }
    Err(nerr(
        deb,
        match (want, seen.is_empty()) {
            (_, true) => "holds no boot/vmlinuz-* kernel: is it a linux-image package?".to_string(),
            (Some(w), false) => format!("holds no kernel {w} (it has: {})", seen.join(", ")),
            (None, false) => format!("holds no usable kernel (found: {})", seen.join(", ")),
        },
    ))
}

/// Why the walk of `data.tar` stopped: the tar stream itself, or a kernel entry.
enum Walk {
    Tar(io::Error),
    Kernel(NetbootError),
}

impl From<io::Error> for Walk {
    fn from(e: io::Error) -> Self {
        Walk::Tar(e)
    }
}

/// What publishing the trees takes.
#[derive(Debug, Default)]
pub struct TreePlan {
    /// Files of new VERSION directories (staged with the pool files).
    pub files: Vec<(PathBuf, Content)>,
    /// The `current` switch (staged just before the Release).
    pub switch: Vec<(PathBuf, Content)>,
    /// Files the suite Release lists, relative to the suite directory.
    pub listed: BTreeMap<String, Hashes>,
    /// Files of the kept older VERSIONs, carried into the new tree.
    pub wanted: Vec<PathBuf>,
    /// Per architecture: the published VERSION.
    pub versions: BTreeMap<String, String>,
}

/// `MD5SUMS`/`SHA256SUMS` of an images directory: `<hex>  ./netboot/xen/<name>`, sorted.
pub fn sums(kernel: &Hashes, initrd: &Hashes) -> (Vec<u8>, Vec<u8>) {
    // Sorted by name: initrd.gz before vmlinuz.
    let list = |initrd_digest: &[u8], kernel_digest: &[u8]| {
        format!(
            "{}  {}\n{}  {}\n",
            hex(initrd_digest),
            eliloader::sums_entry(INITRD_NAME),
            hex(kernel_digest),
            eliloader::sums_entry(KERNEL_NAME)
        )
    };
    let md5 = list(&initrd.md5, &kernel.md5);
    let sha = list(&initrd.sha256, &kernel.sha256);
    (md5.into_bytes(), sha.into_bytes())
}

/// Orders VERSION names (`20261125`, `20261125.1`, ...) by date, then counter.
fn version_key(v: &str) -> Option<(u32, u32)> {
    let (date, n) = v.split_once('.').unwrap_or((v, "0"));
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((date.parse().ok()?, n.parse().ok()?))
}

/// Plans the trees of `chosen` inside `repo`/`suite_dir`, reusing a VERSION whose
/// images are already these.
pub fn plan(
    chosen: &[Chosen],
    repo: &Path,
    suite_dir: &Path,
    now: i64,
    no_symlinks: bool,
    cache: &mut Cache,
) -> Result<TreePlan, NetbootError> {
    let mut tp = TreePlan::default();
    let day = {
        let d = crate::release::format_date(now);
        // "Wed, 25 Nov 2026 ..." -> 20261125
        let parts: Vec<&str> = d.split_whitespace().collect();
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let m = months.iter().position(|x| *x == parts[2]).unwrap_or(0) + 1;
        format!("{}{:02}{}", parts[3], m, parts[1])
    };
    for c in chosen {
        let base_rel = suite_dir.join(eliloader::installer_dir(&c.arch));
        let base = repo.join(&base_rel);
        let mut versions: Vec<String> = fs::read_dir(&base)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| version_key(n).is_some())
                    // Complete: a build stopped renaming its files (--no-symlinks) left a
                    // part, which is not kept but written again, or removed.
                    .filter(|n| {
                        let images = base.join(n).join("images");
                        let kernel = eliloader::in_images(KERNEL_NAME);
                        let initrd = eliloader::in_images(INITRD_NAME);
                        ["MD5SUMS", "SHA256SUMS", &kernel, &initrd]
                            .iter()
                            .all(|f| images.join(f).is_file())
                    })
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_by_key(|v| version_key(v));
        let mut same = |v: &str| {
            let images = base.join(v).join("images");
            let mut eq = |p: PathBuf, h: &Hashes| {
                fs::metadata(&p).is_ok_and(|m| m.len() == h.size)
                    && cache.hash_file(&p).is_ok_and(|g| &g == h)
            };
            eq(
                images.join(eliloader::in_images(KERNEL_NAME)),
                &c.kernel_hashes,
            ) && eq(
                images.join(eliloader::in_images(INITRD_NAME)),
                &c.initrd_hashes,
            )
        };
        let version = match versions.iter().rev().find(|v| same(v)) {
            Some(v) => v.clone(),
            None => {
                // Always above every version of the same day, even removed ones' successors.
                let today = version_key(&day).map(|k| k.0);
                let last = versions
                    .iter()
                    .filter_map(|v| version_key(v))
                    .filter(|k| Some(k.0) == today)
                    .map(|k| k.1)
                    .max();
                let v = match last {
                    None if !versions.contains(&day) => day.clone(),
                    None => format!("{day}.1"),
                    Some(n) => format!("{day}.{}", n + 1),
                };
                versions.push(v.clone());
                versions.sort_by_key(|v| version_key(v));
                v
            }
        };
        // Keep the newest versions, and always the published one.
        let mut keep: Vec<String> = versions.iter().rev().take(KEEP_VERSIONS).cloned().collect();
        if !keep.contains(&version) {
            keep.pop();
            keep.push(version.clone());
        }
        let (md5sums, sha256sums) = sums(&c.kernel_hashes, &c.initrd_hashes);
        let images = |v: &str| base_rel.join(v).join("images");
        let new_files = [
            (
                eliloader::in_images(KERNEL_NAME),
                Content::File(c.kernel.clone(), c.kernel_hashes.clone()),
            ),
            (
                eliloader::in_images(INITRD_NAME),
                Content::File(c.initrd.clone(), c.initrd_hashes.clone()),
            ),
            ("MD5SUMS".to_string(), Content::Bytes(md5sums.clone())),
            ("SHA256SUMS".to_string(), Content::Bytes(sha256sums.clone())),
        ];
        for (name, content) in &new_files {
            tp.files
                .push((images(&version).join(name), content.clone()));
        }
        if no_symlinks {
            for (name, content) in &new_files {
                tp.switch
                    .push((images(CURRENT).join(name), content.clone()));
            }
        } else {
            tp.switch.push((
                base_rel.join(CURRENT),
                Content::Symlink(PathBuf::from(&version)),
            ));
        }
        tp.wanted.push(base_rel.join(CURRENT));
        for v in keep.iter().chain(std::iter::once(&CURRENT.to_string())) {
            // `current/...` goes through the link (or is planned in `switch`).
            if v != CURRENT {
                for (name, _) in &new_files {
                    tp.wanted.push(images(v).join(name));
                }
            }
            let rel_to_suite = |n: &str| {
                base_rel
                    .strip_prefix(suite_dir)
                    .unwrap_or(&base_rel)
                    .join(v)
                    .join("images")
                    .join(n)
                    .display()
                    .to_string()
            };
            if *v == version || v == CURRENT {
                tp.listed
                    .insert(rel_to_suite("MD5SUMS"), Hashes::of_bytes(&md5sums));
                tp.listed
                    .insert(rel_to_suite("SHA256SUMS"), Hashes::of_bytes(&sha256sums));
            } else {
                for n in ["MD5SUMS", "SHA256SUMS"] {
                    let p = repo.join(images(v)).join(n);
                    let bytes = fs::read(&p)
                        .map_err(|e| nerr(&p, format!("cannot read a kept version's sums: {e}")))?;
                    tp.listed.insert(rel_to_suite(n), Hashes::of_bytes(&bytes));
                }
            }
        }
        tp.versions.insert(c.arch.clone(), version);
    }
    Ok(tp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_sorted_and_in_debian_format() {
        let (md5, sha) = sums(&Hashes::of_bytes(b"k"), &Hashes::of_bytes(b"i"));
        let md5 = String::from_utf8(md5).unwrap();
        assert!(md5.starts_with(&format!(
            "{}  ./netboot/xen/initrd.gz\n",
            Hashes::of_bytes(b"i").md5_hex()
        )));
        assert!(String::from_utf8(sha)
            .unwrap()
            .ends_with("  ./netboot/xen/vmlinuz\n"));
    }

    #[test]
    fn versions_order_by_date_then_counter() {
        let mut v = vec!["20261125.10", "20261125", "20251231", "20261125.2", "junk"];
        v.retain(|x| version_key(x).is_some());
        v.sort_by_key(|x| version_key(x));
        assert_eq!(v, ["20251231", "20261125", "20261125.2", "20261125.10"]);
    }

    #[test]
    fn the_data_tar_read_for_a_kernel_is_bounded() {
        use std::io::Write;
        // data.tar.gz: 64 MiB of zeros in "./junk", then the kernel; read with a 16 MiB cap.
        let mut junk = tar::Header::new_gnu();
        junk.set_path("./junk").unwrap();
        junk.set_size(64 << 20);
        junk.set_cksum();
        let mut kernel = tar::Header::new_gnu();
        kernel.set_path("./boot/vmlinuz-1").unwrap();
        kernel.set_size(6);
        kernel.set_cksum();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(junk.as_bytes()).unwrap();
        gz.write_all(&vec![0; 64 << 20]).unwrap();
        gz.write_all(kernel.as_bytes()).unwrap();
        gz.write_all(b"kernel").unwrap();
        gz.write_all(&[0; 506 + 1024]).unwrap();
        let data = gz.finish().unwrap();
        let mut deb = b"!<arch>\n".to_vec();
        for (name, body) in [("debian-binary", &b"2.0\n"[..]), ("data.tar.gz", &data[..])] {
            let head = format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                100644,
                body.len()
            );
            deb.extend_from_slice(head.as_bytes());
            deb.extend_from_slice(body);
            if body.len() % 2 == 1 {
                deb.push(b'\n');
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.deb");
        fs::write(&p, deb).unwrap();
        let e = extract_kernel_capped(&p, dir.path(), None, 1 << 20, 16 << 20).unwrap_err();
        assert!(
            e.to_string()
                .contains("data.tar: the decompressed stream expands to more than 16777216"),
            "{e}"
        );
        let (k, v) = extract_kernel_capped(&p, dir.path(), None, 1 << 20, 128 << 20).unwrap();
        assert_eq!(
            (fs::read(k).unwrap(), v.as_str()),
            (b"kernel".to_vec(), "1")
        );
    }
}
