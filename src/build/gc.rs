//! Pool garbage collection, after the switch: a pool file stays while some
//! suite's published Packages index names it or one of the last generations
//! of some suite (`.elirepo/pool-<suite>`) does, so that a client holding a
//! previous Release still finds the packages its indexes name. The rest is
//! removed.
//!
//! The walk costs a read of every index, so a marker (`.elirepo/pool-clean`)
//! says the last collection finished; a build that changes nothing skips it.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::hash::Hasher;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::previous::{Step, Words};
use super::BuildError;
use crate::compress::{Compression, LimitReader};
use crate::publish::{Publisher, STATE_DIR};

/// `.elirepo/pool-clean`: present when the last collection finished.
pub(super) struct CleanMarker(PathBuf);

impl CleanMarker {
    /// The marker of the repository at `repo`.
    pub fn new(repo: &Path) -> CleanMarker {
        CleanMarker(repo.join(STATE_DIR).join("pool-clean"))
    }

    /// Something changes: the pool must be collected after this build.
    pub fn clear(&self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Removes the pool files nothing references any more, unless the marker says
/// the last collection finished; returns how many went.
pub(super) fn collect(
    repo: &Path,
    marker: &CleanMarker,
    publisher: &mut Publisher,
) -> Result<usize, BuildError> {
    if marker.0.exists() {
        return Ok(0);
    }
    let mut refs = Refs::default();
    referenced_pool_files(repo, &mut refs);
    recent_pool_files(repo, &mut refs);
    let unreferenced = unreferenced(repo, &refs);
    for rel in &unreferenced {
        publisher.remove(rel)?;
    }
    fs::write(&marker.0, b"").map_err(|source| BuildError::State {
        path: marker.0.clone(),
        source,
    })?;
    Ok(unreferenced.len())
}

/// The pool files something references (paths relative to the repository),
/// by a 64-bit hash of each path: 16 bytes a file, not the paths. Two paths of
/// one hash make a file kept that could have gone (naming too much, never too
/// little).
#[derive(Default)]
struct Refs(HashSet<u64>);

impl Refs {
    fn key(path: &[u8]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write(path);
        h.finish()
    }

    fn insert(&mut self, path: &[u8]) {
        self.0.insert(Refs::key(path));
    }

    fn contains(&self, path: &[u8]) -> bool {
        self.0.contains(&Refs::key(path))
    }
}

/// The `.deb`, `.udeb` and `.ddeb` files under `<repo>/pool` that `refs` (paths
/// relative to the repository) does not name, relative to the repository.
fn unreferenced(repo: &Path, refs: &Refs) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(repo.join("pool"))
        .into_iter()
        .flatten()
    {
        let p = entry.path();
        if entry.file_type().is_file()
            && p.extension()
                .is_some_and(|e| e == "deb" || e == "udeb" || e == "ddeb")
        {
            let rel = p.strip_prefix(repo).unwrap_or(p).to_path_buf();
            if !refs.contains(rel.as_os_str().as_bytes()) {
                out.push(rel);
            }
        }
    }
    out
}

/// The Filenames listed by every suite's Packages indexes in the repository.
///
/// A plain line scan, not a deb822 parse: for deciding what to keep, a
/// malformed index must name too much rather than too little.
fn referenced_pool_files(repo: &Path, refs: &mut Refs) {
    for path in one_index_per_directory(&repo.join("dists")) {
        let _ = for_each_line(&path, &mut |line| {
            if let Some(v) = line.strip_prefix(b"Filename:") {
                refs.insert(crate::control::trim(v));
            }
        });
    }
}

/// One Packages index per directory under `dists` (by-hash copies aside): the
/// uncompressed one when there is one.
fn one_index_per_directory(dists: &Path) -> Vec<PathBuf> {
    let walker = walkdir::WalkDir::new(dists)
        .into_iter()
        .filter_entry(|e| e.file_name() != "by-hash");
    let mut candidates = Vec::new();
    for entry in walker.flatten() {
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file()
            && (name == "Packages" || name == "Packages.xz" || name == "Packages.gz")
        {
            candidates.push(entry.into_path());
        }
    }
    candidates.sort_by_key(|p| {
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (p.parent().map(Path::to_path_buf), n != "Packages")
    });
    let mut seen_dirs: BTreeMap<PathBuf, bool> = BTreeMap::new();
    candidates
        .into_iter()
        .filter(|path| {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            seen_dirs.insert(dir, true).is_none()
        })
        .collect()
}

/// Calls `line` with each line of a Packages index, decompressed (at most 1
/// GiB), as it is read: a large index is never whole in memory. An index
/// that cannot be read names nothing (an error).
fn for_each_line(path: &Path, line: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
    let comp = match path.extension().and_then(|e| e.to_str()) {
        Some("xz") => Compression::Xz,
        Some("gz") => Compression::Gzip,
        _ => Compression::None,
    };
    let dec = comp.decoder(fs::File::open(path)?)?;
    let mut r = BufReader::with_capacity(1 << 16, LimitReader::new(dec, 1 << 30, "Packages"));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        line(buf.strip_suffix(b"\n").unwrap_or(&buf));
    }
}

/// Pool files of the last few generations of every suite elirepo builds in
/// the repository, read word by word.
fn recent_pool_files(repo: &Path, refs: &mut Refs) {
    let Ok(rd) = fs::read_dir(repo.join(STATE_DIR)) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_name().to_string_lossy().starts_with("pool-") {
            continue;
        }
        let Some(mut words) = Words::open(&e.path()) else {
            continue;
        };
        loop {
            match words.step() {
                Step::Word => refs.insert(&words.word),
                Step::EndOfLine => {}
                Step::End => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(repo: &Path, rel: &str, bytes: &[u8]) {
        let p = repo.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }

    fn filename(rel: &str) -> Vec<u8> {
        format!("Package: x\nFilename: {rel}\nSize: 1\n\n").into_bytes()
    }

    /// A repository whose pool holds files named by an index of suite `a`,
    /// by the `.xz` index of suite `b` only, by a by-hash copy only, by the
    /// generations of `a` only, and by nothing.
    fn repo() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(
            r,
            "dists/a/main/binary-amd64/Packages",
            &filename("pool/main/x/x/x_1_amd64.deb"),
        );
        let xz = Compression::Xz
            .compress(&filename("pool/main/y/y/y_1_amd64.deb"))
            .unwrap();
        write(r, "dists/b/main/binary-amd64/Packages.xz", &xz);
        // Preferred over the .xz beside it, which names another file.
        write(
            r,
            "dists/b/main/binary-i386/Packages",
            &filename("pool/main/y/y/y_1_i386.deb"),
        );
        let other = Compression::Xz
            .compress(&filename("pool/main/n/n/n_1_i386.deb"))
            .unwrap();
        write(r, "dists/b/main/binary-i386/Packages.xz", &other);
        write(
            r,
            "dists/a/main/binary-amd64/by-hash/SHA256/0123",
            &filename("pool/main/z/z/z_1_amd64.deb"),
        );
        write(
            r,
            ".elirepo/pool-a",
            b"pool/main/w/w/w_1_amd64.deb pool/main/v/v/v_1_all.deb\npool/main/u/u/u_0_all.deb\n",
        );
        write(r, ".elirepo/by-hash-a", b"pool/main/t/t/t_1_all.deb\n");
        for f in [
            "x/x/x_1_amd64.deb",
            "y/y/y_1_amd64.deb",
            "y/y/y_1_i386.deb",
            "n/n/n_1_i386.deb",
            "z/z/z_1_amd64.deb",
            "w/w/w_1_amd64.deb",
            "v/v/v_1_all.deb",
            "u/u/u_0_all.deb",
            "t/t/t_1_all.deb",
            "s/s/s_1_amd64.udeb",
            "s/s/README",
        ] {
            write(r, &format!("pool/main/{f}"), b"deb");
        }
        t
    }

    #[test]
    fn what_no_index_and_no_kept_generation_names_is_garbage() {
        let t = repo();
        let mut refs = Refs::default();
        referenced_pool_files(t.path(), &mut refs);
        recent_pool_files(t.path(), &mut refs);
        let mut got: Vec<String> = unreferenced(t.path(), &refs)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "pool/main/n/n/n_1_i386.deb",
                "pool/main/s/s/s_1_amd64.udeb",
                "pool/main/t/t/t_1_all.deb",
                "pool/main/z/z/z_1_amd64.deb",
            ]
        );
    }

    #[test]
    fn collecting_removes_garbage_once_and_leaves_the_marker() {
        let t = repo();
        let marker = CleanMarker::new(t.path());
        let mut publisher = Publisher::open(t.path(), false, &mut |_| {}).unwrap();
        assert_eq!(collect(t.path(), &marker, &mut publisher).unwrap(), 4);
        publisher.finish().unwrap();
        assert!(!t.path().join("pool/main/z/z/z_1_amd64.deb").exists());
        assert!(t.path().join("pool/main/u/u/u_0_all.deb").exists());
        assert!(t.path().join("pool/main/s/s/README").exists());
        assert!(marker.0.exists());
        // With the marker, the pool is not walked: new garbage stays until a change.
        write(t.path(), "pool/main/q/q/q_1_all.deb", b"deb");
        let mut publisher = Publisher::open(t.path(), false, &mut |_| {}).unwrap();
        assert_eq!(collect(t.path(), &marker, &mut publisher).unwrap(), 0);
        marker.clear();
        assert_eq!(collect(t.path(), &marker, &mut publisher).unwrap(), 1);
        publisher.finish().unwrap();
        assert!(!t.path().join("pool/main/q/q/q_1_all.deb").exists());
    }
}
