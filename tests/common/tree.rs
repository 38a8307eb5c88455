//! What "left exactly as it was" means for a directory tree: a [`Snapshot`] of
//! every path under a root and what a change to it would alter, and
//! [`assert_same_snapshot`], which names each path that differs.

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// What a snapshot records of one path: a rewrite with the same bytes shows
/// in the mtime (nanoseconds), a replacement by rename in the inode.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// `dir`, `file`, `symlink`, `fifo`, `socket` or `device`.
    pub kind: &'static str,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i128,
    pub ino: u64,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// A symlink's target.
    pub link: Option<String>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} size {} mtime {}.{:09} ino {} mode {:o}",
            self.kind,
            self.size,
            self.mtime_ns.div_euclid(1_000_000_000),
            self.mtime_ns.rem_euclid(1_000_000_000),
            self.ino,
            self.mode
        )?;
        if let Some(l) = &self.link {
            write!(f, " -> {l}")?;
        }
        Ok(())
    }
}

/// Every path under a root, the root itself included (as `.`), but not
/// `.elirepo/` (elirepo's lock, cache and staging area), by path relative to
/// the root. A root that does not exist gives an empty snapshot.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<String, Entry>);

impl std::ops::Deref for Snapshot {
    type Target = BTreeMap<String, Entry>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} path(s):", self.0.len())?;
        for (p, e) in &self.0 {
            writeln!(f, "  {p}: {e:?}")?;
        }
        Ok(())
    }
}

/// The [`Snapshot`] of `root` now. Symlinks are recorded, not followed.
pub fn snapshot_tree(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    match root.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Snapshot(out),
        Err(e) => panic!("snapshot of {}: {e}", root.display()),
        Ok(_) => {}
    }
    for e in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| !(e.depth() == 1 && e.file_name() == ".elirepo"))
    {
        let e = e.unwrap_or_else(|e| panic!("snapshot of {}: {e}", root.display()));
        let p = e.path();
        let m = p
            .symlink_metadata()
            .unwrap_or_else(|err| panic!("snapshot: {}: {err}", p.display()));
        let t = m.file_type();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let rel = if rel.is_empty() { ".".to_string() } else { rel };
        let kind = if t.is_dir() {
            "dir"
        } else if t.is_symlink() {
            "symlink"
        } else if t.is_file() {
            "file"
        } else if t.is_fifo() {
            "fifo"
        } else if t.is_socket() {
            "socket"
        } else {
            "device"
        };
        let link = t.is_symlink().then(|| {
            std::fs::read_link(p)
                .unwrap_or_else(|err| panic!("snapshot: {}: {err}", p.display()))
                .display()
                .to_string()
        });
        out.insert(
            rel,
            Entry {
                kind,
                size: m.len(),
                mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
                ino: m.ino(),
                mode: m.mode() & 0o7777,
                link,
            },
        );
    }
    Snapshot(out)
}

/// The paths removed, changed (with both records) and added between two snapshots.
pub fn snapshot_diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut diffs = Vec::new();
    for (k, v) in before.iter() {
        match after.get(k) {
            None => diffs.push(format!("removed: {k}")),
            Some(w) if w != v => diffs.push(format!("changed: {k}: {v:?} -> {w:?}")),
            _ => {}
        }
    }
    for (k, w) in after.iter().filter(|(k, _)| !before.contains_key(*k)) {
        diffs.push(format!("added: {k}: {w:?}"));
    }
    diffs
}

/// Panics, naming `context` and each path that differs, unless the two
/// snapshots are equal.
#[track_caller]
pub fn assert_same_snapshot(before: &Snapshot, after: &Snapshot, context: &str) {
    if before == after {
        return;
    }
    panic!(
        "{context}: the tree changed:\n  {}",
        snapshot_diff(before, after).join("\n  ")
    );
}
