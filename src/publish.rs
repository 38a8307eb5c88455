//! Publishing into a repository directory: the lock, the staging area, the atomic switch.
//!
//! A [`Publisher`] holds an exclusive lock on `<repo>/.elirepo/lock` (flock: the
//! kernel drops it when a build dies, so a killed build never leaves a stale
//! lock), clears what a killed build left in `<repo>/.elirepo/staging`, and then
//! works in two steps:
//!
//! 1. [`Publisher::stage`] puts every new file into the staging directory (same
//!    file system as the repository), fsynced, with mode 0644 whatever the umask.
//!    A file whose published copy already has the same content is not staged.
//!    Nothing published changes in this step: if it fails (disk full, I/O
//!    error), dropping the publisher removes the staging area and the repository
//!    is exactly as it was.
//! 2. [`Publisher::commit`] renames the staged files into place in the order they
//!    were staged (callers stage pool files first and Release files last), then
//!    fsyncs the directories.
//!
//! Removals ([`Publisher::remove`]) come after the commit. This module parses
//! nothing; it only moves bytes and names.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::hash::Hashes;

/// The state directory inside a repository.
pub const STATE_DIR: &str = ".elirepo";

/// What went wrong while publishing, with the path concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A file-system operation failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The operation.
        what: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// Another build holds the lock and we were asked not to wait.
    #[error("{}: another elirepo build is running on this repository{holder}; retry later or drop --no-wait to wait for it", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, if known.
        holder: String,
    },
    /// A path would leave the repository.
    #[error("{}: refusing to write outside the repository", path.display())]
    Escape {
        /// The offending relative path.
        path: PathBuf,
    },
}

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(io::Error) -> PublishError + 'a {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// What to publish at a path.
#[derive(Debug, Clone)]
pub enum Content {
    /// These bytes.
    Bytes(Vec<u8>),
    /// A copy of this file, whose digests are known. Never a hard link: the
    /// published file must not change when the input is rewritten in place
    /// (`cp new.deb debs/`), nor share the input's owner and mode.
    File(PathBuf, Hashes),
    /// A symbolic link with this target.
    Symlink(PathBuf),
}

/// One staged change.
#[derive(Debug)]
struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
}

/// Creates `dir` and its parents with mode 0755 whatever the umask.
pub fn create_dirs(dir: &Path) -> Result<(), PublishError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() {
            create_dirs(parent)?;
        }
    }
    match fs::create_dir(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(io_err(dir, "cannot set permissions")),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(io_err(dir, "cannot create directory")(e)),
    }
}

/// Checks that `rel` is a plain relative path (no `..`, not absolute).
pub fn check_relative(rel: &Path) -> Result<(), PublishError> {
    let ok =
        !rel.as_os_str().is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(PublishError::Escape {
            path: rel.to_path_buf(),
        })
    }
}

fn sync_dir(dir: &Path) -> Result<(), PublishError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "cannot sync directory"))
}

/// The lock, the staging area and the ordered switch of one build.
pub struct Publisher {
    repo: PathBuf,
    staging: PathBuf,
    staged: Vec<Staged>,
    counter: usize,
    touched_dirs: BTreeSet<PathBuf>,
    progress: crate::progress::Progress,
    _lock: File,
}

impl Publisher {
    /// Opens (creating if needed) the repository at `repo` and takes its lock,
    /// waiting for another build unless `wait` is false.
    pub fn open(
        repo: &Path,
        wait: bool,
        on_wait: &mut dyn FnMut(&str),
    ) -> Result<Publisher, PublishError> {
        let state = repo.join(STATE_DIR);
        create_dirs(&state)?;
        let lock_path = state.join("lock");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&lock_path)
            .map_err(io_err(&lock_path, "cannot open lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = (&lock).read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => String::new(),
                    h => format!(" (pid {h})"),
                };
                if !wait {
                    return Err(PublishError::Locked {
                        path: lock_path,
                        holder,
                    });
                }
                on_wait(&format!(
                    "waiting for another elirepo build{holder} to finish"
                ));
                lock.lock()
                    .map_err(io_err(&lock_path, "cannot take lock"))?;
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(io_err(&lock_path, "cannot take lock")(e))
            }
        }
        lock.set_len(0)
            .map_err(io_err(&lock_path, "cannot write lock file"))?;
        (&lock)
            .write_all(format!("{}\n", std::process::id()).as_bytes())
            .map_err(io_err(&lock_path, "cannot write lock file"))?;
        let staging = state.join("staging");
        // Whatever is here was left by a build that died: we hold the lock.
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err(
                &staging,
                "cannot clean up a previous build's staging area",
            ))?;
        }
        create_dirs(&staging)?;
        Ok(Publisher {
            repo: repo.to_path_buf(),
            staging,
            staged: Vec::new(),
            counter: 0,
            touched_dirs: BTreeSet::new(),
            progress: crate::progress::Progress::none(),
            _lock: lock,
        })
    }

    /// Counts the bytes of files copied by [`Publisher::stage`] into `progress`.
    pub fn set_progress(&mut self, progress: crate::progress::Progress) {
        self.progress = progress;
    }

    /// The repository directory.
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// True if the published file at `rel` already holds `content`.
    pub fn is_current(&self, rel: &Path, content: &Content) -> bool {
        let dest = self.repo.join(rel);
        match content {
            Content::Symlink(target) => fs::read_link(&dest).map_or(false, |t| &t == target),
            Content::Bytes(bytes) => {
                let Ok(meta) = fs::symlink_metadata(&dest) else {
                    return false;
                };
                meta.is_file()
                    && meta.len() == bytes.len() as u64
                    && meta.mode() & 0o777 == 0o644
                    && fs::read(&dest).map_or(false, |b| &b == bytes)
            }
            Content::File(src, hashes) => {
                let Ok(meta) = fs::symlink_metadata(&dest) else {
                    return false;
                };
                if !meta.is_file() || meta.len() != hashes.size {
                    return false;
                }
                if let Ok(s) = fs::metadata(src) {
                    if s.dev() == meta.dev() && s.ino() == meta.ino() {
                        return true;
                    }
                }
                crate::hash::hash_file(&dest).map_or(false, |h| &h == hashes)
            }
        }
    }

    /// Stages `content` for `rel` unless it is already published; returns true if staged.
    pub fn stage(&mut self, rel: &Path, content: &Content) -> Result<bool, PublishError> {
        check_relative(rel)?;
        if self.is_current(rel, content) {
            return Ok(false);
        }
        self.counter += 1;
        let tmp = self.staging.join(format!("{:06}", self.counter));
        match content {
            Content::Bytes(bytes) => write_new(&tmp, bytes)?,
            Content::Symlink(target) => std::os::unix::fs::symlink(target, &tmp)
                .map_err(io_err(&tmp, "cannot create symlink"))?,
            Content::File(src, hashes) => copy_checked(src, &tmp, hashes, &self.progress)?,
        }
        self.staged.push(Staged {
            tmp,
            dest: self.repo.join(rel),
        });
        Ok(true)
    }

    /// Number of files staged so far.
    pub fn staged_count(&self) -> usize {
        self.staged.len()
    }

    /// Renames every staged file into place, in staging order, then syncs directories.
    pub fn commit(&mut self) -> Result<usize, PublishError> {
        fsync_hook("before-commit");
        let staged = std::mem::take(&mut self.staged);
        let n = staged.len();
        for (i, s) in staged.into_iter().enumerate() {
            let parent = s
                .dest
                .parent()
                .expect("a published path has a parent")
                .to_path_buf();
            create_dirs(&parent)?;
            // A published directory (e.g. `current` with --no-symlinks) cannot be renamed over.
            if let Ok(m) = fs::symlink_metadata(&s.dest) {
                if m.is_dir() {
                    fs::remove_dir_all(&s.dest)
                        .map_err(io_err(&s.dest, "cannot replace directory"))?;
                }
            }
            match fs::rename(&s.tmp, &s.dest) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(18) => {
                    // EXDEV: the destination is another file system; copy next to it, then rename.
                    let near = parent.join(format!(".{}.elirepo-tmp", std::process::id()));
                    fs::copy(&s.tmp, &near).map_err(io_err(&near, "cannot copy"))?;
                    File::open(&near)
                        .and_then(|f| f.sync_all())
                        .map_err(io_err(&near, "cannot sync"))?;
                    fs::rename(&near, &s.dest)
                        .map_err(io_err(&s.dest, "cannot rename into place"))?;
                }
                Err(e) => return Err(io_err(&s.dest, "cannot rename into place")(e)),
            }
            self.touched_dirs.insert(parent);
            fsync_hook(&format!("commit-{i}"));
        }
        for d in std::mem::take(&mut self.touched_dirs) {
            sync_dir(&d)?;
        }
        Ok(n)
    }

    /// Removes a published file (after the commit), and its directory if now empty.
    pub fn remove(&mut self, rel: &Path) -> Result<(), PublishError> {
        check_relative(rel)?;
        let path = self.repo.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(&path, "cannot remove")(e)),
        }
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == self.repo || !d.starts_with(&self.repo) || fs::remove_dir(&d).is_err() {
                self.touched_dirs.insert(d);
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    /// Removes a published directory tree (after the commit).
    pub fn remove_dir(&mut self, rel: &Path) -> Result<(), PublishError> {
        check_relative(rel)?;
        let path = self.repo.join(rel);
        match fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, "cannot remove")(e)),
        }
    }

    /// Syncs the directories touched by removals.
    pub fn finish(mut self) -> Result<(), PublishError> {
        for d in std::mem::take(&mut self.touched_dirs) {
            if d.exists() {
                sync_dir(&d)?;
            }
        }
        Ok(())
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}

/// Test hook for crash-consistency tests: with `ELIREPO_FAULT=<point>` set, the
/// process aborts (as a `kill -9` would stop it) when it reaches that point.
fn fsync_hook(point: &str) {
    if let Some(want) = std::env::var_os("ELIREPO_FAULT") {
        if want == point {
            std::process::abort();
        }
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(io_err(path, "cannot create"))?;
    f.write_all(bytes).map_err(io_err(path, "cannot write"))?;
    f.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io_err(path, "cannot set permissions"))?;
    f.sync_all().map_err(io_err(path, "cannot sync"))
}

/// Copies `src` to `tmp` (mode 0644), checking the copy's digests against `hashes`.
fn copy_checked(
    src: &Path,
    tmp: &Path,
    hashes: &Hashes,
    progress: &crate::progress::Progress,
) -> Result<(), PublishError> {
    let input = File::open(src).map_err(io_err(src, "cannot read"))?;
    let mut input = crate::progress::ProgressReader::new(input, progress.clone());
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(tmp)
        .map_err(io_err(tmp, "cannot create"))?;
    let mut tee = crate::hash::HashingReader::new(&mut input);
    io::copy(&mut tee, &mut out).map_err(io_err(tmp, "cannot copy"))?;
    let got = tee.finish().map_err(io_err(src, "cannot read"))?;
    if &got != hashes {
        return Err(PublishError::Io {
            path: src.to_path_buf(),
            what: "changed while being published",
            source: io::Error::new(
                io::ErrorKind::Other,
                "its digests no longer match what was indexed",
            ),
        });
    }
    out.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io_err(tmp, "cannot set permissions"))?;
    out.sync_all().map_err(io_err(tmp, "cannot sync"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_then_commit_and_unchanged_files_are_not_restaged() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        let mut p = Publisher::open(&repo, true, &mut |_| {}).unwrap();
        let c = Content::Bytes(b"hello\n".to_vec());
        assert!(p.stage(Path::new("dists/s/Release"), &c).unwrap());
        assert!(
            !repo.join("dists/s/Release").exists(),
            "nothing visible before commit"
        );
        assert_eq!(p.commit().unwrap(), 1);
        assert_eq!(fs::read(repo.join("dists/s/Release")).unwrap(), b"hello\n");
        let mode = fs::metadata(repo.join("dists/s/Release")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(!p.stage(Path::new("dists/s/Release"), &c).unwrap());
        drop(p);
        assert!(!repo.join(STATE_DIR).join("staging").exists());
    }

    #[test]
    fn escaping_paths_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let mut p = Publisher::open(t.path(), true, &mut |_| {}).unwrap();
        for bad in ["../x", "/etc/passwd", "a/../../b", ""] {
            assert!(matches!(
                p.stage(Path::new(bad), &Content::Bytes(vec![])),
                Err(PublishError::Escape { .. })
            ));
        }
    }

    #[test]
    fn a_second_publisher_fails_fast_with_no_wait() {
        let t = tempfile::tempdir().unwrap();
        let _first = Publisher::open(t.path(), true, &mut |_| {}).unwrap();
        match Publisher::open(t.path(), false, &mut |_| {}) {
            Err(PublishError::Locked { holder, .. }) => {
                assert!(holder.contains(&std::process::id().to_string()))
            }
            other => panic!("expected Locked, got {:?}", other.err()),
        }
    }

    #[test]
    fn files_are_copied_and_checked() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("a.deb");
        fs::write(&src, b"deb bytes").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o600)).unwrap();
        let h = Hashes::of_bytes(b"deb bytes");
        let repo = t.path().join("repo");
        let mut p = Publisher::open(&repo, true, &mut |_| {}).unwrap();
        p.stage(
            Path::new("pool/a.deb"),
            &Content::File(src.clone(), h.clone()),
        )
        .unwrap();
        p.commit().unwrap();
        let m = fs::metadata(repo.join("pool/a.deb")).unwrap();
        assert_eq!(
            m.mode() & 0o777,
            0o644,
            "a private input is copied world-readable"
        );
        assert_ne!(
            m.ino(),
            fs::metadata(&src).unwrap().ino(),
            "never a hard link to the input"
        );
        assert!(!p
            .stage(Path::new("pool/a.deb"), &Content::File(src.clone(), h))
            .unwrap());
        let wrong = Hashes::of_bytes(b"other");
        let wrong = Hashes { size: 9, ..wrong };
        assert!(p
            .stage(Path::new("pool/b.deb"), &Content::File(src, wrong))
            .is_err());
    }
}
