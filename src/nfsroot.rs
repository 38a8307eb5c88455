//! Finding the kernel and initrd in a FAI nfsroot, never leaving it.
//!
//! An nfsroot is another system's root file system: its symbolic links mean
//! what they would mean inside it. `/vmlinuz -> /boot/vmlinuz-6.1.0-56-amd64`
//! names the nfsroot's own `boot/`, not the host's. [`resolve_in_root`] follows
//! links component by component with that meaning, refuses any that would climb
//! above the nfsroot, stops after 40 links (a loop), and accepts only regular
//! files. [`find_kernels`] lists the kernels of `boot/` with the initrd of the
//! same version and tells which one the `vmlinuz` link names. Nothing here reads
//! file contents.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Links followed before a path is declared a loop (as Linux's ELOOP limit).
const MAX_LINKS: usize = 40;

/// Why a path inside the nfsroot cannot be used. Display reads `<nfsroot>: <what is wrong>`:
/// [`NfsrootError::root`], then [`NfsrootError::reason`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NfsrootError {
    /// The nfsroot itself is missing or not a directory.
    Root {
        /// The nfsroot.
        root: PathBuf,
        /// Why.
        reason: String,
    },
    /// A path or a link in it is unusable.
    Path {
        /// The nfsroot.
        root: PathBuf,
        /// The path inside it, as asked for.
        path: String,
        /// Why.
        reason: String,
    },
    /// No kernel, or no initrd for it.
    NotFound {
        /// The nfsroot.
        root: PathBuf,
        /// What is missing and what to do.
        reason: String,
    },
}

impl NfsrootError {
    /// The nfsroot concerned.
    pub fn root(&self) -> &Path {
        match self {
            NfsrootError::Root { root, .. }
            | NfsrootError::Path { root, .. }
            | NfsrootError::NotFound { root, .. } => root,
        }
    }

    /// What is wrong, without the nfsroot: for a message that names it its own way.
    pub fn reason(&self) -> impl fmt::Display + '_ {
        Reason(self)
    }
}

/// [`NfsrootError::reason`].
struct Reason<'a>(&'a NfsrootError);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            NfsrootError::Root { reason, .. } => write!(f, "not an nfsroot directory: {reason}"),
            NfsrootError::Path { path, reason, .. } => write!(f, "{path}: {reason}"),
            NfsrootError::NotFound { reason, .. } => write!(f, "{reason}"),
        }
    }
}

impl fmt::Display for NfsrootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.root().display(), self.reason())
    }
}

/// Resolves `rel` (a path inside the nfsroot, absolute or relative to its top)
/// to a regular file on the host, following links as the nfsroot would.
pub fn resolve_in_root(root: &Path, rel: &Path) -> Result<PathBuf, NfsrootError> {
    let path = resolve_path(root, rel)?;
    let meta = fs::metadata(&path).map_err(|e| NfsrootError::Path {
        root: root.to_path_buf(),
        path: rel.display().to_string(),
        reason: e.to_string(),
    })?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (device, fifo or socket)"
        };
        return Err(NfsrootError::Path {
            root: root.to_path_buf(),
            path: rel.display().to_string(),
            reason: format!("is {what}, not a kernel or initrd file"),
        });
    }
    Ok(path)
}

/// Resolves `rel` inside the nfsroot to a host path with no link left in it.
fn resolve_path(root: &Path, rel: &Path) -> Result<PathBuf, NfsrootError> {
    let err = |reason: String| NfsrootError::Path {
        root: root.to_path_buf(),
        path: rel.display().to_string(),
        reason,
    };
    // Components still to walk, and the resolved components so far (inside root).
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, rel);
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0usize;
    while let Some(c) = todo.pop() {
        if c == ".." {
            if done.pop().is_none() {
                return Err(err("climbs above the nfsroot".into()));
            }
            continue;
        }
        let mut here: PathBuf = root.to_path_buf();
        here.extend(&done);
        here.push(&c);
        let meta = fs::symlink_metadata(&here)
            .map_err(|e| err(format!("{}: {e}", describe(&done, &c))))?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(err("too many levels of symbolic links (a link loop)".into()));
            }
            let target = fs::read_link(&here).map_err(|e| err(format!("cannot read link: {e}")))?;
            if target.is_absolute() {
                done.clear();
            }
            push_components(&mut todo, &target);
        } else {
            if !todo.is_empty() && !meta.is_dir() {
                return Err(err(format!("{} is not a directory", describe(&done, &c))));
            }
            done.push(c);
        }
    }
    let mut path = root.to_path_buf();
    path.extend(&done);
    Ok(path)
}

/// Pushes the components of `p` onto `todo` so that the first component pops first.
fn push_components(todo: &mut Vec<OsString>, p: &Path) {
    let mut parts: Vec<OsString> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_os_string()),
            Component::ParentDir => parts.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    todo.extend(parts.into_iter().rev());
}

fn describe(done: &[OsString], c: &OsString) -> String {
    let mut p = PathBuf::from("/");
    p.extend(done);
    p.push(c);
    p.display().to_string()
}

/// A kernel of the nfsroot with its initrd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPair {
    /// The version suffix (`6.1.0-56-amd64`).
    pub version: String,
    /// The kernel file on the host (resolved inside the nfsroot).
    pub kernel: PathBuf,
    /// The initrd of the same version, if any.
    pub initrd: Option<PathBuf>,
}

/// What [`find_kernels`] found.
#[derive(Debug, Clone, Default)]
pub struct Kernels {
    /// Every `boot/vmlinuz-*`, sorted by version.
    pub pairs: Vec<KernelPair>,
    /// The version the top-level `vmlinuz` link names, if it resolves to one of them.
    pub default_version: Option<String>,
    /// `boot/vmlinuz-*` entries that cannot be used (a link escaping the nfsroot, a
    /// directory, ...), with why: never candidates.
    pub skipped: Vec<String>,
}

/// Lists the kernels of an nfsroot's `boot/`, each with the initrd of its version
/// (`initrd.img-V`, `initrd-V.img`, `initrd-V`), and the version `vmlinuz` names.
pub fn find_kernels(root: &Path) -> Result<Kernels, NfsrootError> {
    let meta = fs::metadata(root).map_err(|e| NfsrootError::Root {
        root: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(NfsrootError::Root {
            root: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let boot = match resolve_dir(root, Path::new("boot")) {
        Ok(b) => b,
        Err(_) => {
            return Err(NfsrootError::NotFound {
                root: root.to_path_buf(),
                reason: "has no boot/ directory; is this a FAI nfsroot (fai-make-nfsroot)?".into(),
            })
        }
    };
    let names = list(&boot).map_err(|e| NfsrootError::Root {
        root: root.to_path_buf(),
        reason: format!("cannot list boot/: {e}"),
    })?;
    let mut pairs = Vec::new();
    let mut skipped = Vec::new();
    for name in &names {
        let Some(version) = name.strip_prefix("vmlinuz-") else {
            continue;
        };
        if version.is_empty() {
            continue;
        }
        let kernel = match resolve_in_root(root, &Path::new("boot").join(name)) {
            Ok(k) => k,
            Err(NfsrootError::Path { path, reason, .. }) => {
                skipped.push(format!("{path}: {reason}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        let initrd = [
            format!("initrd.img-{version}"),
            format!("initrd-{version}.img"),
            format!("initrd-{version}"),
        ]
        .iter()
        .filter(|n| names.contains(n))
        .find_map(|n| resolve_in_root(root, &Path::new("boot").join(n)).ok());
        pairs.push(KernelPair {
            version: version.to_string(),
            kernel,
            initrd,
        });
    }
    pairs.sort_by(|a, b| a.version.cmp(&b.version));
    let default_version = resolve_in_root(root, Path::new("vmlinuz"))
        .ok()
        .and_then(|k| {
            pairs
                .iter()
                .find(|p| p.kernel == k)
                .map(|p| p.version.clone())
        });
    Ok(Kernels {
        pairs,
        default_version,
        skipped,
    })
}

/// Resolves a directory inside the root (links followed inside it).
fn resolve_dir(root: &Path, rel: &Path) -> Result<PathBuf, NfsrootError> {
    let path = resolve_path(root, rel)?;
    if path.is_dir() {
        Ok(path)
    } else {
        Err(NfsrootError::Path {
            root: root.to_path_buf(),
            path: rel.display().to_string(),
            reason: "is not a directory".into(),
        })
    }
}

fn list(dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Picks the pair to publish: `want` if given, else the one `vmlinuz` names,
/// else the only one; several candidates without a choice is an error listing them.
pub fn choose<'a>(
    root: &Path,
    kernels: &'a Kernels,
    candidates: &[&'a KernelPair],
    want: Option<&str>,
) -> Result<&'a KernelPair, NfsrootError> {
    let listing = || {
        candidates
            .iter()
            .map(|p| p.version.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(v) = want {
        return candidates
            .iter()
            .copied()
            .find(|p| p.version == v)
            .ok_or_else(|| NfsrootError::NotFound {
                root: root.to_path_buf(),
                reason: format!(
                    "no usable kernel of version {v} (candidates: {})",
                    listing()
                ),
            });
    }
    if candidates.is_empty() {
        return Err(NfsrootError::NotFound {
            root: root.to_path_buf(),
            reason: "no Xen PV-capable kernel in boot/ (add XenServer's linux-image-2.6-xen to /etc/fai/NFSROOT, or use --kernel-deb)".into(),
        });
    }
    if let Some(d) = &kernels.default_version {
        if let Some(p) = candidates.iter().copied().find(|p| &p.version == d) {
            return Ok(p);
        }
    }
    if candidates.len() == 1 {
        return Ok(candidates[0]);
    }
    Err(NfsrootError::NotFound {
        root: root.to_path_buf(),
        reason: format!(
            "several usable kernels ({}) and vmlinuz names none of them; choose one with --kernel-version",
            listing()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn nfsroot() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("boot")).unwrap();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(r.join("boot/vmlinuz-6.1.0-56-amd64"), b"k1").unwrap();
        fs::write(r.join("boot/initrd.img-6.1.0-56-amd64"), b"i1").unwrap();
        fs::write(r.join("boot/vmlinuz-2.6.32-4-amd64"), b"k2").unwrap();
        fs::write(r.join("boot/initrd.img-2.6.32-4-amd64"), b"i2").unwrap();
        symlink("boot/vmlinuz-6.1.0-56-amd64", r.join("vmlinuz")).unwrap();
        symlink("/boot/vmlinuz-2.6.32-4-amd64", r.join("vmlinuz.old")).unwrap();
        symlink("../../../../../../etc/passwd", r.join("boot/escape")).unwrap();
        symlink("/etc/shadow", r.join("etc/abs-host")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        symlink(
            "../../../../../../boot/vmlinuz-host",
            r.join("boot/vmlinuz-9.9-evil"),
        )
        .unwrap();
        t
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let t = nfsroot();
        let r = t.path();
        assert_eq!(
            resolve_in_root(r, Path::new("vmlinuz")).unwrap(),
            r.join("boot/vmlinuz-6.1.0-56-amd64")
        );
        // An absolute link means the nfsroot's /boot, not the host's.
        assert_eq!(
            resolve_in_root(r, Path::new("/vmlinuz.old")).unwrap(),
            r.join("boot/vmlinuz-2.6.32-4-amd64")
        );
    }

    #[test]
    fn escapes_loops_and_non_files_are_refused() {
        let t = nfsroot();
        let r = t.path();
        let e = resolve_in_root(r, Path::new("boot/escape"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("climbs above the nfsroot"), "{e}");
        // /etc/shadow of the host is never looked at: it means <root>/etc/shadow, which is absent.
        let e = resolve_in_root(r, Path::new("etc/abs-host"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/etc/shadow"), "{e}");
        let e = resolve_in_root(r, Path::new("loop1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("loop"), "{e}");
        let e = resolve_in_root(r, Path::new("boot"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("directory"), "{e}");
        let e = resolve_in_root(r, Path::new("../x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("climbs above"), "{e}");
    }

    #[test]
    fn kernels_are_paired_with_their_initrd_and_the_default_is_known() {
        let t = nfsroot();
        let k = find_kernels(t.path()).unwrap();
        assert_eq!(
            k.pairs.len(),
            2,
            "the escaping vmlinuz-9.9-evil is no candidate"
        );
        assert!(
            k.skipped[0].contains("climbs above the nfsroot"),
            "{:?}",
            k.skipped
        );
        assert!(k.pairs.iter().all(|p| p.initrd.is_some()));
        assert_eq!(k.default_version.as_deref(), Some("6.1.0-56-amd64"));
        let all: Vec<&KernelPair> = k.pairs.iter().collect();
        assert_eq!(
            choose(t.path(), &k, &all, None).unwrap().version,
            "6.1.0-56-amd64"
        );
        assert_eq!(
            choose(t.path(), &k, &all, Some("2.6.32-4-amd64"))
                .unwrap()
                .version,
            "2.6.32-4-amd64"
        );
        let none = Kernels {
            default_version: None,
            ..k.clone()
        };
        let e = choose(t.path(), &none, &all, None).unwrap_err().to_string();
        assert!(
            e.contains("2.6.32-4-amd64, 6.1.0-56-amd64") && e.contains("--kernel-version"),
            "{e}"
        );
    }

    #[test]
    fn a_boot_link_pointing_to_an_absolute_dir_stays_inside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("real-boot")).unwrap();
        fs::write(r.join("real-boot/vmlinuz-1"), b"k").unwrap();
        symlink("/real-boot", r.join("boot")).unwrap();
        let k = find_kernels(r).unwrap();
        assert_eq!(k.pairs[0].kernel, r.join("real-boot/vmlinuz-1"));
        assert_eq!(k.pairs[0].initrd, None);
    }
}
