//! Finding .deb files in a tree the way apt-ftparchive's `FTWScanner` does.
//!
//! apt-ftparchive walks with ftw(3): it follows symbolic links (to files and to
//! directories), visits each real directory once (by device and inode, so a
//! second path to the same directory is not walked again), selects files whose
//! base name matches a glob, then sorts the full walked paths bytewise. A file
//! that is itself a symbolic link is listed under its absolute real path when
//! that lies inside the scanned tree, else under the link's path. This module
//! owns those rules and nothing else: it opens no .deb.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file selected by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The name apt-ftparchive would print (before any path prefix).
    pub name: Vec<u8>,
    /// The path to open.
    pub path: PathBuf,
}

/// The base-name globs of `apt-ftparchive packages`: `*.deb`, `*.ddeb`, `*.udeb`,
/// or with an architecture `*_ARCH.deb` (and `*_all.deb` unless excluded).
#[derive(Debug, Clone)]
pub struct Patterns {
    suffixes: Vec<Vec<u8>>,
}

impl Patterns {
    /// Patterns for `arch` (none: every package), with or without `_all` packages.
    pub fn packages(arch: Option<&str>, include_all: bool) -> Patterns {
        let exts = [".deb", ".ddeb", ".udeb"];
        let mut suffixes = Vec::new();
        match arch {
            None => suffixes.extend(exts.iter().map(|e| e.as_bytes().to_vec())),
            Some(a) => {
                for e in exts {
                    suffixes.push(format!("_{a}{e}").into_bytes());
                    if include_all {
                        suffixes.push(format!("_all{e}").into_bytes());
                    }
                }
            }
        }
        Patterns { suffixes }
    }

    /// True if the base name matches one of the globs (each is `*` + a literal suffix).
    pub fn matches(&self, base: &[u8]) -> bool {
        self.suffixes.iter().any(|s| base.ends_with(s))
    }
}

/// Walks `dir` as apt-ftparchive does and returns the selected files in its order.
///
/// Fails only if `dir` cannot be resolved; unreadable entries are skipped, as
/// ftw reports them and goes on.
pub fn scan(dir: &OsStr, patterns: &Patterns) -> io::Result<Vec<Found>> {
    let prefix = std::fs::canonicalize(dir)?;
    let prefix = prefix.as_os_str().as_bytes().to_vec();
    // ftw drops trailing slashes from its root (keeping at least one byte).
    let mut root = dir.as_bytes().to_vec();
    while root.len() > 1 && root.ends_with(b"/") {
        root.pop();
    }
    let root = PathBuf::from(OsStr::from_bytes(&root));

    let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
    let mut found = Vec::new();
    let mut walk = walkdir::WalkDir::new(&root).follow_links(true).into_iter();
    while let Some(entry) = walk.next() {
        let entry = match entry {
            Ok(e) => e,
            // ftw gives up on a link that loops onto itself (ELOOP); so do we.
            Err(e) if e.io_error().and_then(io::Error::raw_os_error) == Some(40) => {
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                return Err(io::Error::other(format!(
                    "tree walking failed at {path}: too many levels of symbolic links"
                )));
            }
            // Dangling links and unreadable entries are skipped, as ftw reports them and goes on.
            Err(_) => continue,
        };
        if entry.file_type().is_dir() {
            let Ok(meta) = entry.metadata() else { continue };
            if !seen_dirs.insert((meta.dev(), meta.ino())) {
                walk.skip_current_dir();
            }
            continue;
        }
        let path = entry.path();
        let base = entry.file_name().as_bytes();
        if patterns.matches(base) {
            found.push(path.as_os_str().as_bytes().to_vec());
        }
    }
    found.sort();
    Ok(found
        .into_iter()
        .map(|name| {
            let path = PathBuf::from(OsStr::from_bytes(&name));
            let name = link_name(&path, &prefix).unwrap_or(name);
            Found { name, path }
        })
        .collect())
}

/// For a file that is itself a symbolic link: its real path if that lies under
/// `prefix` (a plain string-prefix test, as apt does), else `None`.
fn link_name(path: &Path, prefix: &[u8]) -> Option<Vec<u8>> {
    if !std::fs::symlink_metadata(path)
        .ok()?
        .file_type()
        .is_symlink()
    {
        return None;
    }
    let real = std::fs::canonicalize(path).ok()?;
    let real = real.as_os_str().as_bytes();
    (prefix.len() < real.len() && real.starts_with(prefix)).then(|| real.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn names(dir: &Path, arg: &str, p: &Patterns) -> Vec<String> {
        let cwd = std::env::current_dir().unwrap();
        let _ = cwd;
        scan(dir.join(arg).as_os_str(), p)
            .unwrap()
            .into_iter()
            .map(|f| String::from_utf8(f.name).unwrap())
            .collect()
    }

    #[test]
    fn bytewise_order_of_full_paths_and_globs() {
        let t = tempfile::tempdir().unwrap();
        let pool = t.path().join("pool");
        for d in ["B", "_x", "a-b", "a.b", "a", ".hidden"] {
            fs::create_dir_all(pool.join(d)).unwrap();
            fs::write(pool.join(d).join("p_1_amd64.deb"), b"").unwrap();
        }
        fs::write(pool.join("Zcow.deb"), b"").unwrap();
        fs::write(pool.join("X.DEB"), b"").unwrap();
        fs::write(pool.join("x.deb.bak"), b"").unwrap();
        fs::write(pool.join("a").join("q_1_all.udeb"), b"").unwrap();
        fs::write(pool.join("a").join("r_1_i386.ddeb"), b"").unwrap();
        let all = names(t.path(), "pool/", &Patterns::packages(None, true));
        let base = t.path().join("pool").display().to_string();
        let rel: Vec<String> = all
            .iter()
            .map(|n| n.strip_prefix(&base).unwrap().to_string())
            .collect();
        assert_eq!(
            rel,
            [
                "/.hidden/p_1_amd64.deb",
                "/B/p_1_amd64.deb",
                "/Zcow.deb",
                "/_x/p_1_amd64.deb",
                "/a-b/p_1_amd64.deb",
                "/a.b/p_1_amd64.deb",
                "/a/p_1_amd64.deb",
                "/a/q_1_all.udeb",
                "/a/r_1_i386.ddeb",
            ]
        );
        let amd64 = names(t.path(), "pool", &Patterns::packages(Some("amd64"), false));
        assert_eq!(amd64.len(), 6);
        assert!(amd64.iter().all(|n| n.ends_with("_amd64.deb")));
        let with_all = names(t.path(), "pool", &Patterns::packages(Some("i386"), true));
        assert_eq!(with_all.len(), 2, "{with_all:?}");
    }

    #[test]
    fn links_inside_become_real_paths_and_a_directory_is_walked_once() {
        let t = tempfile::tempdir().unwrap();
        let pool = t.path().join("pool");
        fs::create_dir_all(pool.join("main")).unwrap();
        fs::write(pool.join("main/a_1_all.deb"), b"").unwrap();
        fs::write(t.path().join("outside_1_all.deb"), b"").unwrap();
        std::os::unix::fs::symlink("main/a_1_all.deb", pool.join("in_1_all.deb")).unwrap();
        std::os::unix::fs::symlink("../outside_1_all.deb", pool.join("out_1_all.deb")).unwrap();
        std::os::unix::fs::symlink("main", pool.join("alias")).unwrap();
        std::os::unix::fs::symlink("nowhere.deb", pool.join("dangling.deb")).unwrap();
        std::os::unix::fs::symlink(".", pool.join("main/loop")).unwrap();
        let got = scan(pool.as_os_str(), &Patterns::packages(None, true)).unwrap();
        let real_a = fs::canonicalize(pool.join("main/a_1_all.deb")).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|f| String::from_utf8(f.name.clone()).unwrap())
            .collect();
        assert!(names.contains(&real_a.display().to_string()), "{names:?}");
        assert!(
            names.contains(&pool.join("out_1_all.deb").display().to_string()),
            "{names:?}"
        );
        // main/ and alias/ are the same directory: its file appears once.
        let a_count = names.iter().filter(|n| n.ends_with("/a_1_all.deb")).count();
        assert_eq!(
            a_count, 2,
            "the file itself and the link resolved to it: {names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("dangling")));
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        assert!(scan(
            OsStr::new("/nonexistent/elirepo"),
            &Patterns::packages(None, true)
        )
        .is_err());
    }
}
