//! Publishing into a repository directory: the lock, the staging area, the atomic switch.
//!
//! A [`Publisher`] holds an exclusive lock on `<repo>/.elirepo/lock` (flock: the
//! kernel drops it when a build dies, so a killed build never leaves a stale
//! lock), clears what a killed build left in `<repo>/.elirepo/staging`, and then
//! works in two steps:
//!
//! 1. [`Publisher::stage`] puts every new file into the staging directory (same
//!    file system as the repository), with mode 0644 whatever the umask.
//!    A file whose published copy already has the same content is not staged.
//!    Nothing published changes in this step: if it fails (disk full, I/O
//!    error), dropping the publisher removes the staging area and the repository
//!    is exactly as it was.
//! 2. [`Publisher::commit`] makes the staged bytes durable with one sync of the
//!    file system, then renames the staged files into place in the order they
//!    were staged (callers stage pool files first and Release files last): a name
//!    never appears before its bytes are on disk.
//!
//! Durability comes from syncs of the whole file system (`syncfs(2)`), not from
//! an fsync per file: one before the staged files are renamed into place, one
//! before a suite's switch (its generation's files and the pool's renames), an
//! fsync of `dists/` right after the switch, and one in [`Publisher::finish`]
//! (the state, the removals) before the build reports success. Elsewhere than
//! on Linux every file and directory is fsynced instead. Removals
//! ([`Publisher::remove`]) come after the commit. This module parses nothing; it
//! only moves bytes and names.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::hash::Hashes;

/// The state directory inside a repository.
pub const STATE_DIR: &str = ".elirepo";

/// In [`STATE_DIR`]: the copy of a linked tree becoming a real `dists/<suite>`
/// (`--no-symlinks` after links), or, after the swap, the old link.
const UNLINKED: &str = "unlinked";

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
        Ok(()) => set_dir_mode(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(io_err(dir, "cannot create directory")(e)),
    }
}

/// Sets mode 0755 on a directory just created, unless the umask left it so.
fn set_dir_mode(dir: &Path) -> Result<(), PublishError> {
    if umask() & 0o755 == 0 {
        return Ok(());
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(io_err(dir, "cannot set permissions"))
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

/// The key of a directory in [`Publisher::known_dirs`].
fn dir_key(dir: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    h.finish()
}

/// Whether each written file and directory is fsynced on its own: where there is
/// no `syncfs(2)` to make a whole file system durable at once.
const PER_FILE_SYNC: bool = !cfg!(target_os = "linux");

/// Syncs everything written to the file system that holds `dir` (`syncfs(2)`);
/// where there is none, nothing (files and directories were synced one by one).
fn sync_file_system(dir: &Path) -> Result<(), PublishError> {
    #[cfg(target_os = "linux")]
    {
        let d = File::open(dir).map_err(io_err(dir, "cannot open to sync"))?;
        rustix::fs::syncfs(&d).map_err(|e| io_err(dir, "cannot sync the file system")(e.into()))?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
    Ok(())
}

/// Fsyncs an open file just written, where file systems are not synced whole.
fn sync_written(f: &File, path: &Path) -> Result<(), PublishError> {
    if PER_FILE_SYNC {
        f.sync_all().map_err(io_err(path, "cannot sync"))?;
    }
    Ok(())
}

/// Sets mode 0644 on a file just created with it, unless the umask left it so.
fn set_mode_644(f: &File, path: &Path) -> Result<(), PublishError> {
    if umask() & 0o644 == 0 {
        return Ok(());
    }
    f.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io_err(path, "cannot set permissions"))
}

/// The process's umask, read once (Linux says it in `/proc/self/status`); where
/// it cannot be read, one that strips everything (so that modes are always set).
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o777)
    })
}

/// Swaps the names `a` and `b`, both existing, in one step (Linux `renameat2` with
/// `RENAME_EXCHANGE`): a directory and a symbolic link trade places with no instant
/// where either name is missing, which `rename(2)` cannot do (it puts a directory
/// over an empty directory only). `Ok(false)`: this kernel or file system cannot
/// (`EINVAL`, `ENOSYS`, `EOPNOTSUPP`: an old kernel, some network file systems) and
/// nothing changed.
fn exchange(a: &Path, b: &Path) -> Result<bool, PublishError> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        use rustix::io::Errno;
        match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
            Ok(()) => Ok(true),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => Ok(false),
            Err(e) => Err(io_err(b, "cannot swap in the new tree")(e.into())),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// The lock, the staging area and the ordered switch of one build.
pub struct Publisher {
    repo: PathBuf,
    staging: PathBuf,
    staged: Vec<Staged>,
    counter: usize,
    /// Directories to fsync at the next sync: all of those changed where file
    /// systems are not synced whole, else those on another file system.
    touched_dirs: BTreeSet<PathBuf>,
    /// Something was renamed or removed since the last sync.
    unsynced: bool,
    /// Directories known to exist (created or found by this build), by a hash of
    /// their path: each is created once, and never stat'ed. A collision only makes
    /// a rename find no directory, which creates it then.
    known_dirs: HashSet<u64>,
    /// The copy buffer, reused from one staged file to the next.
    buf: Vec<u8>,
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
        // A copy or a link left by a build that died changing the layout.
        let unlinked = state.join(UNLINKED);
        if fs::symlink_metadata(&unlinked).is_ok() {
            fs::remove_dir_all(&unlinked).map_err(io_err(
                &unlinked,
                "cannot clean up a previous build's copy of the tree",
            ))?;
        }
        Ok(Publisher {
            repo: repo.to_path_buf(),
            staging,
            staged: Vec::new(),
            counter: 0,
            touched_dirs: BTreeSet::new(),
            unsynced: false,
            known_dirs: HashSet::new(),
            buf: Vec::new(),
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
        Publisher::probe(&self.repo.join(rel)).is_current_at(content)
    }
}

/// One absolute path, compared with a planned content.
struct Probe(PathBuf);

impl Probe {
    fn is_current_at(&self, content: &Content) -> bool {
        let dest = &self.0;
        match content {
            Content::Symlink(target) => fs::read_link(dest).is_ok_and(|t| &t == target),
            Content::Bytes(bytes) => {
                let Ok(meta) = fs::symlink_metadata(dest) else {
                    return false;
                };
                meta.is_file()
                    && meta.len() == bytes.len() as u64
                    && meta.mode() & 0o777 == 0o644
                    && fs::read(dest).is_ok_and(|b| &b == bytes)
            }
            Content::File(src, hashes) => {
                let Ok(meta) = fs::symlink_metadata(dest) else {
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
                crate::hash::sha256_check_file(dest).is_ok_and(|c| c.matches(hashes))
            }
        }
    }
}

impl Publisher {
    /// A view of one absolute path, to compare it with a content.
    fn probe(path: &Path) -> Probe {
        Probe(path.to_path_buf())
    }

    /// Stages `content` for `rel` unless it is already published; returns true if staged.
    pub fn stage(&mut self, rel: &Path, content: &Content) -> Result<bool, PublishError> {
        check_relative(rel)?;
        if self.is_current(rel, content) {
            return Ok(false);
        }
        self.stage_new(rel, content)?;
        Ok(true)
    }

    /// Stages `content` for `rel`, which the caller knows holds nothing published
    /// (it found no file there): the same as [`Publisher::stage`] with one stat less.
    pub fn stage_new(&mut self, rel: &Path, content: &Content) -> Result<(), PublishError> {
        check_relative(rel)?;
        self.counter += 1;
        let tmp = self.staging.join(format!("{:06}", self.counter));
        let staged = match content {
            Content::Bytes(bytes) => write_new(&tmp, bytes),
            Content::Symlink(target) => std::os::unix::fs::symlink(target, &tmp)
                .map_err(io_err(&tmp, "cannot create symlink")),
            Content::File(src, hashes) => {
                copy_checked(src, &tmp, hashes, &self.progress, &mut self.buf)
            }
        };
        // Name the file being published, not the staging area's temporary name.
        staged.map_err(|e| match e {
            PublishError::Io { path, what, source } if path == tmp => PublishError::Io {
                path: self.repo.join(rel),
                what,
                source,
            },
            e => e,
        })?;
        self.staged.push(Staged {
            tmp,
            dest: self.repo.join(rel),
        });
        fault_at("staged", rel);
        Ok(())
    }

    /// Number of files staged so far.
    pub fn staged_count(&self) -> usize {
        self.staged.len()
    }

    /// Syncs the staged files' bytes to disk, then renames every staged file into
    /// place, in staging order. The renames are made durable by the next sync (a
    /// suite's switch, [`Publisher::finish`]): until then a power cut may lose a
    /// name, never give one to bytes that are not on disk.
    pub fn commit(&mut self) -> Result<usize, PublishError> {
        let staged = std::mem::take(&mut self.staged);
        let n = staged.len();
        if n == 0 {
            return Ok(0);
        }
        self.sync("staged")?;
        for s in staged {
            let parent = s
                .dest
                .parent()
                .expect("a published path has a parent")
                .to_path_buf();
            self.ensure_dir(&parent)?;
            if let Err(e) = self.rename_into_place(&s.tmp, &s.dest, &parent) {
                // Its directory went, or was never made (a hash collision): once more.
                if !matches!(&e, PublishError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
                {
                    return Err(e);
                }
                self.known_dirs.remove(&dir_key(&parent));
                self.ensure_dir(&parent)?;
                self.rename_into_place(&s.tmp, &s.dest, &parent)?;
            }
            if PER_FILE_SYNC {
                self.touched_dirs.insert(parent);
            }
            fault_at("commit", s.dest.strip_prefix(&self.repo).unwrap_or(&s.dest));
        }
        self.unsynced = true;
        Ok(n)
    }

    /// Makes durable everything written, renamed and removed so far on the
    /// repository's file system (and the directories noted on others), then passes
    /// the fault point `synced:<what>`.
    pub fn sync(&mut self, what: &str) -> Result<(), PublishError> {
        self.sync_with(None, what)
    }

    /// [`Publisher::sync`], and the file system holding `also` too if it is another.
    fn sync_with(&mut self, also: Option<&Path>, what: &str) -> Result<(), PublishError> {
        sync_file_system(&self.staging)?;
        if let Some(also) = also {
            let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).ok();
            if dev(also) != dev(&self.staging) {
                sync_file_system(also)?;
            }
        }
        for d in std::mem::take(&mut self.touched_dirs) {
            if d.exists() {
                sync_dir(&d)?;
            }
        }
        self.unsynced = false;
        fault_point(&format!("synced:{what}"));
        Ok(())
    }

    /// Creates `dir` and its parents (mode 0755) unless this build knows it exists.
    fn ensure_dir(&mut self, dir: &Path) -> Result<(), PublishError> {
        if self.known_dirs.contains(&dir_key(dir)) {
            return Ok(());
        }
        match fs::create_dir(dir) {
            Ok(()) => set_dir_mode(dir)?,
            // A file there: the rename into it says so.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => match dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => {
                    self.ensure_dir(parent)?;
                    match fs::create_dir(dir) {
                        Ok(()) => set_dir_mode(dir)?,
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(io_err(dir, "cannot create directory")(e)),
                    }
                }
                _ => return Err(io_err(dir, "cannot create directory")(e)),
            },
            Err(e) => return Err(io_err(dir, "cannot create directory")(e)),
        }
        self.known_dirs.insert(dir_key(dir));
        Ok(())
    }

    /// Renames the staged `tmp` to `dest` (in `parent`), over a published directory
    /// if there is one there (`current` with --no-symlinks), or by a copy next to it
    /// when `dest` is on another file system.
    fn rename_into_place(
        &mut self,
        tmp: &Path,
        dest: &Path,
        parent: &Path,
    ) -> Result<(), PublishError> {
        let mut result = fs::rename(tmp, dest);
        if result.is_err() && fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
            // A directory cannot be renamed over: it goes first (stat'ed only then).
            fs::remove_dir_all(dest).map_err(io_err(dest, "cannot replace directory"))?;
            result = fs::rename(tmp, dest);
        }
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(18) => {
                // EXDEV: the destination is another file system; copy next to it
                // (synced: no sync of this file system comes), then rename.
                let near = parent.join(format!(".{}.elirepo-tmp", std::process::id()));
                fs::copy(tmp, &near).map_err(io_err(&near, "cannot copy"))?;
                File::open(&near)
                    .and_then(|f| f.sync_all())
                    .map_err(io_err(&near, "cannot sync"))?;
                fs::rename(&near, dest).map_err(io_err(dest, "cannot rename into place"))?;
                self.touched_dirs.insert(parent.to_path_buf());
                Ok(())
            }
            Err(e) => Err(io_err(dest, "cannot rename into place")(e)),
        }
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
                if PER_FILE_SYNC {
                    self.touched_dirs.insert(d);
                }
                break;
            }
            // Removed: an earlier removal may have marked it to be synced, and a
            // later commit must create it again.
            self.touched_dirs.remove(&d);
            self.known_dirs.remove(&dir_key(&d));
            dir = d.parent().map(Path::to_path_buf);
        }
        self.unsynced = true;
        fault_at("removed", rel);
        Ok(())
    }

    /// Makes the last renames and removals durable (one sync, if any happened since
    /// the last): after this a power cut loses nothing the build published.
    pub fn finish(mut self) -> Result<(), PublishError> {
        if self.unsynced || !self.touched_dirs.is_empty() {
            self.sync("finish")?;
        }
        Ok(())
    }
}

/// One suite's `dists/<suite>` tree, published as a whole.
///
/// With symbolic links allowed (the default), `dists/<suite>` is a link to a
/// complete generation directory `dists/.generations/<suite>/<n>`. A build writes
/// the next generation beside it (unchanged files hard-linked from the current one,
/// so they keep their inode and mtime), syncs it, and switches the link with one
/// rename: a client sees the old tree or the new one, never a mix, at every instant.
/// Without links (`--no-symlinks`, for hosts that cannot serve them) the files are
/// renamed into a real directory one by one, Release files last.
///
/// A change of layout swaps the real directory and the link in one step (`renameat2`
/// `RENAME_EXCHANGE`), so that `dists/<suite>` never goes missing: to links, with a
/// link to the new generation; to a real directory, with a copy of the published
/// generation (hard links; its own links, the netboot `current`, become real
/// directories), which the files are then renamed into. Where the file system
/// cannot exchange, the directory is moved aside or the link removed first.
pub struct SuiteTree {
    repo: PathBuf,
    /// `dists/<suite>`, relative to the repository.
    rel: PathBuf,
    /// The published tree's real directory, if there is one.
    current: Option<PathBuf>,
    /// Whether `dists/<suite>` is a real directory (an older layout or --no-symlinks).
    legacy: bool,
    symlinks: bool,
    /// Planned content, by path relative to `rel`; `None`: keep the current file.
    files: std::collections::BTreeMap<PathBuf, Option<Content>>,
    /// Files and links of the published tree (links not followed).
    published: BTreeSet<PathBuf>,
}

/// Copies the published tree `from` into `to` for `--no-symlinks`, which publishes
/// no links: a link to a directory or a file of the tree (the netboot `current`)
/// becomes a copy of it, so that nothing is later written through it into the
/// VERSION it names; any other link stays a link. Files are hard-linked (a
/// generation's files are never written again: renames replace them), or copied
/// and synced on a file system without hard links.
fn unlinked_copy(from: &Path, to: &Path) -> Result<(), PublishError> {
    let root = fs::canonicalize(from).map_err(io_err(from, "cannot resolve"))?;
    let share = |src: &Path, dest: &Path| -> Result<(), PublishError> {
        create_dirs(dest.parent().expect("a file has a parent"))?;
        let m = fs::symlink_metadata(src).map_err(io_err(src, "cannot read"))?;
        if m.file_type().is_symlink() {
            let t = fs::read_link(src).map_err(io_err(src, "cannot read link"))?;
            return std::os::unix::fs::symlink(t, dest)
                .map_err(io_err(dest, "cannot create symlink"));
        }
        fs::hard_link(src, dest)
            .or_else(|_| {
                fs::copy(src, dest)?;
                if PER_FILE_SYNC {
                    File::open(dest)?.sync_all()?;
                }
                Ok(())
            })
            .map_err(io_err(dest, "cannot copy"))
    };
    for inner in tree_files(from) {
        let (src, dest) = (from.join(&inner), to.join(&inner));
        let target = fs::symlink_metadata(&src)
            .is_ok_and(|m| m.file_type().is_symlink())
            .then(|| fs::canonicalize(&src).ok())
            .flatten()
            .filter(|t| t.starts_with(&root));
        match target {
            // Not a directory above the link (that would copy it into itself).
            Some(t) if t.is_dir() && !root.join(&inner).starts_with(&t) => {
                create_dirs(&dest)?;
                for f in tree_files(&t) {
                    share(&t.join(&f), &dest.join(&f))?;
                }
            }
            Some(t) if t.is_file() => share(&t, &dest)?,
            _ => share(&src, &dest)?,
        }
    }
    Ok(())
}

/// Files and links under `dir`, relative to it.
fn tree_files(dir: &Path) -> BTreeSet<PathBuf> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| e.path().strip_prefix(dir).ok().map(Path::to_path_buf))
        .collect()
}

impl SuiteTree {
    /// Reads what is published at `rel` (`dists/<suite>`).
    pub fn open(repo: &Path, rel: &Path, symlinks: bool) -> Result<SuiteTree, PublishError> {
        check_relative(rel)?;
        let path = repo.join(rel);
        let (current, legacy) = match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::canonicalize(&path).map_err(io_err(&path, "cannot resolve"))?;
                (Some(target), false)
            }
            Ok(m) if m.is_dir() => (Some(path.clone()), true),
            Ok(_) => (None, true),
            Err(_) => (None, false),
        };
        let published = current.as_deref().map(tree_files).unwrap_or_default();
        Ok(SuiteTree {
            repo: repo.to_path_buf(),
            rel: rel.to_path_buf(),
            current,
            legacy,
            symlinks,
            files: Default::default(),
            published,
        })
    }

    fn inner(&self, rel: &Path) -> Result<PathBuf, PublishError> {
        check_relative(rel)?;
        rel.strip_prefix(&self.rel)
            .map(Path::to_path_buf)
            .map_err(|_| PublishError::Escape {
                path: rel.to_path_buf(),
            })
    }

    /// Plans `content` at `rel` (a path under `dists/<suite>`).
    pub fn put(&mut self, rel: &Path, content: Content) -> Result<(), PublishError> {
        let inner = self.inner(rel)?;
        self.files.insert(inner, Some(content));
        Ok(())
    }

    /// Keeps the published file at `rel`, if there is one and nothing else is planned there.
    /// A path through a published link (`current/...`) is not a file of its own.
    pub fn keep(&mut self, rel: &Path) -> Result<(), PublishError> {
        let inner = self.inner(rel)?;
        if self.published.contains(&inner) {
            self.files.entry(inner).or_insert(None);
        }
        Ok(())
    }

    fn same(&self, inner: &Path, content: &Content) -> bool {
        let Some(cur) = &self.current else {
            return false;
        };
        let probe = Publisher::probe(&cur.join(inner));
        probe.is_current_at(content)
    }

    /// True when the published tree already holds exactly the planned files.
    pub fn unchanged(&self) -> bool {
        let Some(cur) = &self.current else {
            return self.files.is_empty();
        };
        if !self.symlinks && !self.legacy {
            return false;
        }
        if self.symlinks && self.legacy {
            return false;
        }
        let planned: BTreeSet<PathBuf> = self.files.keys().cloned().collect();
        let _ = cur;
        planned == self.published
            && self
                .files
                .iter()
                .all(|(p, c)| c.as_ref().is_none_or(|c| self.same(p, c)))
    }

    /// Publishes the planned tree; returns the number of files written (0: unchanged).
    pub fn publish(&self, publisher: &mut Publisher) -> Result<usize, PublishError> {
        if self.unchanged() {
            self.remove_stale_generations()?;
            return Ok(0);
        }
        if self.symlinks {
            self.publish_generation(publisher)
        } else {
            self.publish_in_place(publisher)
        }
    }

    /// The generations directory of this suite.
    fn generations_dir(&self) -> PathBuf {
        let suite = self.rel.file_name().expect("dists/<suite> has a name");
        self.repo
            .join(self.rel.parent().unwrap_or(Path::new("")))
            .join(".generations")
            .join(suite)
    }

    /// Removes what a build that died left: every generation but the published one.
    /// Returns the highest number among the kept ones.
    fn remove_stale_generations(&self) -> Result<u64, PublishError> {
        // A build killed between making its switch link and renaming it left the
        // link (pointing at a generation removed below). The lock is held: no
        // other build is switching.
        let suite = self.rel.file_name().expect("dists/<suite> has a name");
        let tmp = self
            .repo
            .join(self.rel.parent().unwrap_or(Path::new("")))
            .join(format!(".{}.new", suite.to_string_lossy()));
        if fs::symlink_metadata(&tmp).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(&tmp).map_err(io_err(&tmp, "cannot remove a stale switch link"))?;
            fault_point("stale-switch-link-removed");
        }
        let gens = self.generations_dir();
        let mut highest = 0u64;
        let Ok(entries) = fs::read_dir(&gens) else {
            return Ok(0);
        };
        for e in entries.flatten() {
            let p = e.path();
            // Compare real paths: the repository may be given as a relative path.
            let is_current = fs::canonicalize(&p).ok().as_ref() == self.current.as_ref();
            if !is_current {
                fs::remove_dir_all(&p).map_err(io_err(&p, "cannot remove a stale generation"))?;
                fault_at("stale-generation-removed", Path::new(&e.file_name()));
            } else if let Some(n) = e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) {
                highest = highest.max(n);
            }
        }
        Ok(highest)
    }

    fn publish_generation(&self, publisher: &mut Publisher) -> Result<usize, PublishError> {
        let suite = self
            .rel
            .file_name()
            .expect("dists/<suite> has a name")
            .to_os_string();
        let dists = self.repo.join(self.rel.parent().unwrap_or(Path::new("")));
        let gens = dists.join(".generations").join(&suite);
        create_dirs(&gens)?;
        let highest = self.remove_stale_generations()?;
        let name = (highest + 1).to_string();
        let new = gens.join(&name);
        create_dirs(&new)?;
        fault_point("generation-created");
        let mut written = 0usize;
        let mut dirs = BTreeSet::new();
        for (inner, content) in &self.files {
            let dest = new.join(inner);
            let parent = dest.parent().expect("a file has a parent").to_path_buf();
            create_dirs(&parent)?;
            dirs.insert(parent);
            let old = self.current.as_ref().map(|c| c.join(inner));
            let reuse = match content {
                None => true,
                Some(c) => self.same(inner, c),
            };
            match (reuse, old) {
                (true, Some(old)) => {
                    let m = fs::symlink_metadata(&old).map_err(io_err(&old, "cannot read"))?;
                    if m.file_type().is_symlink() {
                        let t = fs::read_link(&old).map_err(io_err(&old, "cannot read link"))?;
                        std::os::unix::fs::symlink(t, &dest)
                            .map_err(io_err(&dest, "cannot create symlink"))?;
                    } else {
                        fs::hard_link(&old, &dest)
                            .or_else(|_| {
                                // Another file system: a fresh copy, never over an existing file.
                                let mut from = File::open(&old)?;
                                let mut to = OpenOptions::new()
                                    .write(true)
                                    .create_new(true)
                                    .mode(0o644)
                                    .open(&dest)?;
                                io::copy(&mut from, &mut to)?;
                                if PER_FILE_SYNC {
                                    to.sync_all()?;
                                }
                                Ok(())
                            })
                            .map_err(io_err(&dest, "cannot link"))?;
                    }
                }
                _ => {
                    written += 1;
                    match content.as_ref().expect("new files have content") {
                        Content::Bytes(b) => write_new(&dest, b)?,
                        Content::File(src, h) => copy_checked(
                            src,
                            &dest,
                            h,
                            &crate::progress::Progress::none(),
                            &mut publisher.buf,
                        )?,
                        Content::Symlink(t) => std::os::unix::fs::symlink(t, &dest)
                            .map_err(io_err(&dest, "cannot create symlink"))?,
                    }
                }
            }
            fault_at("generation-file", inner);
        }
        // The generation's files, and the pool files the commit before renamed into
        // place, durable before anything names them.
        if PER_FILE_SYNC {
            publisher.touched_dirs.extend(dirs);
        }
        publisher.sync_with(Some(&new), "generation")?;
        fault_point("before-switch");
        // The switch: one rename of a new link over dists/<suite>.
        let link = self.repo.join(&self.rel);
        let target = PathBuf::from(".generations").join(&suite).join(&name);
        let mut switched = false;
        if self.legacy && link.is_dir() {
            // Once, from a real directory, which no rename can put a link over: a link
            // made among the generations (its target is read from where it ends up)
            // swapped with the directory, which takes its place, removed below.
            let aside = gens.join(format!("pre-{name}"));
            std::os::unix::fs::symlink(&target, &aside)
                .map_err(io_err(&aside, "cannot create symlink"))?;
            fault_point("exchange-link-created");
            if exchange(&aside, &link)? {
                sync_dir(&dists)?;
                sync_dir(&gens)?;
                fault_point("exchanged");
                switched = true;
            } else {
                // Not on this file system: move it aside (no dists/<suite> until the
                // link is renamed in).
                fs::remove_file(&aside).map_err(io_err(&aside, "cannot remove"))?;
                fs::rename(&link, &aside)
                    .map_err(io_err(&link, "cannot move the old tree aside"))?;
                fault_point("moved-aside");
            }
        }
        if !switched {
            let tmp = dists.join(format!(".{}.new", suite.to_string_lossy()));
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&target, &tmp)
                .map_err(io_err(&tmp, "cannot create symlink"))?;
            fault_point("switch-link-created");
            fs::rename(&tmp, &link).map_err(io_err(&link, "cannot switch to the new tree"))?;
            sync_dir(&dists)?;
        }
        fault_point("after-switch");
        for e in fs::read_dir(&gens)
            .map_err(io_err(&gens, "cannot list"))?
            .flatten()
        {
            if e.file_name() != name.as_str() {
                let p = e.path();
                fs::remove_dir_all(&p).map_err(io_err(&p, "cannot remove an old generation"))?;
                fault_at("old-generation-removed", Path::new(&e.file_name()));
            }
        }
        Ok(written.max(1))
    }

    fn publish_in_place(&self, publisher: &mut Publisher) -> Result<usize, PublishError> {
        let root = self.repo.join(&self.rel);
        if fs::symlink_metadata(&root).is_ok_and(|m| m.file_type().is_symlink()) {
            // From generations back to a real directory: a copy of the published tree,
            // swapped with the link.
            let cur = self.current.clone().expect("a link has a target");
            let staged = self.repo.join(STATE_DIR).join(UNLINKED);
            let _ = fs::remove_dir_all(&staged);
            create_dirs(&staged)?;
            unlinked_copy(&cur, &staged)?;
            if PER_FILE_SYNC {
                publisher.touched_dirs.extend(
                    walkdir::WalkDir::new(&staged)
                        .into_iter()
                        .flatten()
                        .filter(|e| e.file_type().is_dir())
                        .map(|e| e.into_path()),
                );
            }
            publisher.sync_with(Some(&staged), "unlink-copy")?;
            fault_point("unlink-copied");
            if exchange(&staged, &root)? {
                // The real tree is published; the old link is left where the copy was.
                sync_dir(root.parent().expect("dists/<suite> has a parent"))?;
                fault_point("unlink-exchanged");
                fs::remove_file(&staged).map_err(io_err(&staged, "cannot remove link"))?;
                fault_point("unlink-link-removed");
            } else {
                // Not on this file system: no dists/<suite> between the two steps.
                fs::remove_file(&root).map_err(io_err(&root, "cannot remove link"))?;
                fault_point("unlink-link-removed");
                fs::rename(&staged, &root).map_err(io_err(&root, "cannot rename into place"))?;
                fault_point("unlink-renamed");
            }
        }
        let release_last = |p: &&PathBuf| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.parent() == Some(Path::new(""))
                && matches!(n, "Release" | "Release.gpg" | "InRelease")
        };
        let (last, first): (Vec<&PathBuf>, Vec<&PathBuf>) =
            self.files.keys().partition(release_last);
        let order = |n: &PathBuf| match n.to_str() {
            Some("Release") => 0,
            Some("Release.gpg") => 1,
            _ => 2,
        };
        let mut last = last;
        last.sort_by_key(|n| order(n));
        for inner in first.into_iter().chain(last) {
            if let Some(Some(c)) = self.files.get(inner) {
                publisher.stage(&self.rel.join(inner), c)?;
            }
        }
        let written = publisher.commit()?;
        for inner in tree_files(&root) {
            if !self.files.contains_key(&inner) {
                publisher.remove(&self.rel.join(inner))?;
            }
        }
        // Generations from a time with links are no longer published.
        let gens = self.generations_dir();
        if let Ok(entries) = fs::read_dir(&gens) {
            for e in entries.flatten() {
                let p = e.path();
                fs::remove_dir_all(&p).map_err(io_err(&p, "cannot remove an old generation"))?;
                fault_at("old-generation-removed", Path::new(&e.file_name()));
            }
            if fs::remove_dir(&gens).is_ok() {
                let _ = fs::remove_dir(gens.parent().expect("generations have a parent"));
            }
        }
        Ok(written.max(1))
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}

/// Test hook for the crash-consistency tests (`tests/crash.rs`); no user sets these.
///
/// Every step of publishing that changes the repository passes a named fault point
/// (`staged:<path>`, `commit:<path>`, `generation-file:<path>`, `after-switch`, ...).
/// With `ELIREPO_FAULT=<point>` the process aborts there (as a `kill -9` would stop
/// it), saying `elirepo: fault point <point>: aborting` on stderr, so that a test can
/// tell a fault point reached from any other failure; `ELIREPO_FAULT=trace` names
/// every point passed (`elirepo: fault point <point>`) and aborts nowhere;
/// `ELIREPO_FAULT_SLEEP_US=<n>` pauses n microseconds at every point, which stretches
/// the publish step so that random kills land inside it.
#[doc(hidden)]
pub fn fault_point(point: &str) {
    if let Some(want) = std::env::var_os("ELIREPO_FAULT") {
        if want == point {
            eprintln!("elirepo: fault point {point}: aborting");
            std::process::abort();
        }
        if want == "trace" {
            eprintln!("elirepo: fault point {point}");
        }
    }
    if let Some(us) = std::env::var_os("ELIREPO_FAULT_SLEEP_US") {
        if let Some(us) = us.to_str().and_then(|u| u.parse::<u64>().ok()) {
            std::thread::sleep(std::time::Duration::from_micros(us));
        }
    }
}

/// `rel` as fault point names show it.
fn fault_at(what: &str, rel: &Path) {
    if std::env::var_os("ELIREPO_FAULT").is_some()
        || std::env::var_os("ELIREPO_FAULT_SLEEP_US").is_some()
    {
        fault_point(&format!("{what}:{}", rel.display()));
    }
}

/// Creates `path` with `bytes`, mode 0644 (synced on its own only where file
/// systems are not synced whole).
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(io_err(path, "cannot create"))?;
    f.write_all(bytes).map_err(io_err(path, "cannot write"))?;
    set_mode_644(&f, path)?;
    sync_written(&f, path)
}

/// Size of the buffer a staged file is copied through.
const COPY_BUF: usize = 256 * 1024;

/// Copies `src` to `tmp` (mode 0644), checking that the copy has the size and
/// SHA-256 of `hashes` (what was indexed): an input rewritten since it was read
/// is refused, at the cost of one digest rather than four.
fn copy_checked(
    src: &Path,
    tmp: &Path,
    hashes: &Hashes,
    progress: &crate::progress::Progress,
    buf: &mut Vec<u8>,
) -> Result<(), PublishError> {
    let mut input = File::open(src).map_err(io_err(src, "cannot read"))?;
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(tmp)
        .map_err(io_err(tmp, "cannot create"))?;
    buf.resize(COPY_BUF, 0);
    let mut check = crate::hash::Sha256Check::new();
    loop {
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(src, "cannot read")(e)),
        };
        check.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(io_err(tmp, "cannot copy"))?;
        progress.add(n as u64);
    }
    if !check.matches(hashes) {
        return Err(PublishError::Io {
            path: src.to_path_buf(),
            what: "changed while being published",
            source: io::Error::other("its digests no longer match what was indexed"),
        });
    }
    set_mode_644(&out, tmp)?;
    sync_written(&out, tmp)
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
    fn a_commit_after_removals_that_emptied_a_directory_succeeds() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        let mut p = Publisher::open(&repo, true, &mut |_| {}).unwrap();
        let c = Content::Bytes(b"x\n".to_vec());
        for f in ["old/v/a", "old/v/b", "keep"] {
            p.stage(Path::new(f), &c).unwrap();
        }
        p.commit().unwrap();
        // The first removal leaves old/v behind (to be synced), the second removes it.
        p.remove(Path::new("old/v/a")).unwrap();
        p.remove(Path::new("old/v/b")).unwrap();
        assert!(!repo.join("old").exists());
        // Elirepo's state is committed after the suite's removals.
        p.stage(Path::new(".elirepo/state"), &c).unwrap();
        p.commit().unwrap();
        p.finish().unwrap();
    }

    #[test]
    fn from_links_to_no_symlinks_a_linked_directory_becomes_a_real_one() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        let suite = Path::new("dists/s");
        let bytes = |b: &[u8]| Content::Bytes(b.to_vec());
        let mut p = Publisher::open(&repo, true, &mut |_| {}).unwrap();
        let mut tree = SuiteTree::open(&repo, suite, true).unwrap();
        tree.put(&suite.join("v1/f"), bytes(b"one")).unwrap();
        tree.put(&suite.join("current"), Content::Symlink("v1".into()))
            .unwrap();
        tree.publish(&mut p).unwrap();
        assert!(fs::symlink_metadata(repo.join(suite))
            .unwrap()
            .file_type()
            .is_symlink());
        drop(p);

        let mut p = Publisher::open(&repo, true, &mut |_| {}).unwrap();
        let mut tree = SuiteTree::open(&repo, suite, false).unwrap();
        tree.keep(&suite.join("v1/f")).unwrap();
        tree.put(&suite.join("v2/f"), bytes(b"two")).unwrap();
        tree.put(&suite.join("current/f"), bytes(b"two")).unwrap();
        tree.publish(&mut p).unwrap();
        p.finish().unwrap();
        let real = |rel: &str| fs::symlink_metadata(repo.join(suite).join(rel)).unwrap();
        assert!(real("").is_dir() && real("current").is_dir());
        assert_eq!(fs::read(repo.join(suite).join("v1/f")).unwrap(), b"one");
        assert_eq!(
            fs::read(repo.join(suite).join("current/f")).unwrap(),
            b"two"
        );
        assert!(!repo.join("dists/.generations").exists());
        assert!(!repo.join(STATE_DIR).join(UNLINKED).exists());
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
