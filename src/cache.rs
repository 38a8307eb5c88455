//! A cache of per-file results (control paragraph, size, digests), never served stale.
//!
//! Reading and hashing every .deb again is what makes an index slow; most files
//! have not changed since the last run. An entry is keyed by the file's path and
//! its device, inode, size, and mtime and ctime to the nanosecond, so a file
//! replaced at the same path (even with the same size and mtime: the ctime and
//! usually the inode change) is read again. The file is a versioned binary format
//! with a SHA-256 trailer, written to a temporary file and renamed into place; a
//! corrupt, truncated or foreign cache is ignored and rebuilt, never trusted, and
//! a file that is not an elirepo cache at all is never overwritten.

use std::collections::{HashMap, HashSet};
use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::hash::Hashes;

const MAGIC: &[u8; 16] = b"elirepo-cache\0v1";

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_ns: i64,
    ctime: i64,
    ctime_ns: i64,
}

impl FileKey {
    /// The key of a file's current metadata.
    pub fn of(meta: &Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_ns: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_ns: meta.ctime_nsec(),
        }
    }

    fn to_bytes(self, out: &mut Vec<u8>) {
        for v in [self.dev, self.ino, self.size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [self.mtime, self.mtime_ns, self.ctime, self.ctime_ns] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A cached result.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file version it belongs to.
    pub key: FileKey,
    /// Size and digests.
    pub hashes: Hashes,
    /// The control file, if the file is a .deb.
    pub control: Option<Vec<u8>>,
    /// Data member compression tag (see [`crate::deb`]), 0 if unknown.
    pub tag: u8,
}

/// The cache; see the module documentation.
#[derive(Debug, Default)]
pub struct Cache {
    path: PathBuf,
    entries: HashMap<PathBuf, Entry>,
    used: HashSet<PathBuf>,
    dirty: bool,
    foreign: bool,
    /// Why the cache on disk was not used, if it was not.
    pub note: Option<String>,
}

/// A reader over a byte slice that fails cleanly on truncation.
struct Cursor<'a>(&'a [u8]);
impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

fn parse(bytes: &[u8]) -> Option<HashMap<PathBuf, Entry>> {
    let body_len = bytes.len().checked_sub(32)?;
    let (body, sum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    let mut c = Cursor(body);
    if c.take(16)? != MAGIC {
        return None;
    }
    let count = c.u64()?;
    let mut entries = HashMap::with_capacity(count.min(1 << 20) as usize);
    for _ in 0..count {
        let plen = c.u64()? as usize;
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(c.take(plen)?));
        let key = FileKey {
            dev: c.u64()?,
            ino: c.u64()?,
            size: c.u64()?,
            mtime: c.i64()?,
            mtime_ns: c.i64()?,
            ctime: c.i64()?,
            ctime_ns: c.i64()?,
        };
        let hashes = Hashes {
            size: c.u64()?,
            md5: c.arr()?,
            sha1: c.arr()?,
            sha256: c.arr()?,
            sha512: c.arr()?,
        };
        let tag = c.take(1)?[0];
        let clen = c.u64()?;
        let control = if clen == u64::MAX {
            None
        } else {
            Some(c.take(clen as usize)?.to_vec())
        };
        entries.insert(
            path,
            Entry {
                key,
                hashes,
                control,
                tag,
            },
        );
    }
    c.0.is_empty().then_some(entries)
}

impl Cache {
    /// Loads the cache at `path`; a missing, corrupt or foreign file gives an empty cache.
    pub fn load(path: &Path) -> Cache {
        let mut cache = Cache {
            path: path.to_path_buf(),
            ..Default::default()
        };
        match fs::read(path) {
            Ok(bytes) => match parse(&bytes) {
                Some(entries) => cache.entries = entries,
                None if bytes.starts_with(MAGIC) => {
                    cache.note = Some(format!(
                        "{}: cache is damaged; rebuilding it",
                        path.display()
                    ));
                    cache.dirty = true;
                }
                None => {
                    cache.foreign = !bytes.is_empty();
                    cache.note = Some(format!(
                        "{}: not an elirepo cache (an apt-ftparchive database?); it is left alone and not used",
                        path.display()
                    ));
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => cache.dirty = true,
            Err(e) => cache.note = Some(format!("{}: cannot read cache: {e}", path.display())),
        }
        cache
    }

    /// The entry for `path` if it belongs to the file's current version.
    pub fn get(&mut self, path: &Path, meta: &Metadata) -> Option<&Entry> {
        let key = FileKey::of(meta);
        let hit = self.entries.get(path).is_some_and(|e| e.key == key);
        if hit {
            self.used.insert(path.to_path_buf());
            self.entries.get(path)
        } else {
            None
        }
    }

    /// Records the result for the file's current version.
    pub fn insert(
        &mut self,
        path: &Path,
        meta: &Metadata,
        hashes: Hashes,
        control: Option<Vec<u8>>,
        tag: u8,
    ) {
        self.used.insert(path.to_path_buf());
        self.dirty = true;
        self.entries.insert(
            path.to_path_buf(),
            Entry {
                key: FileKey::of(meta),
                hashes,
                control,
                tag,
            },
        );
    }

    /// The digests of the file at `path`, from the cache when its version is known.
    pub fn hash_file(&mut self, path: &Path) -> io::Result<Hashes> {
        let meta = fs::metadata(path)?;
        if let Some(e) = self.get(path, &meta) {
            return Ok(e.hashes.clone());
        }
        let h = crate::hash::hash_file(path)?;
        self.insert(path, &meta, h.clone(), None, 0);
        Ok(h)
    }

    /// Writes the cache if it changed, keeping only the entries used this run.
    pub fn save(&mut self) -> io::Result<()> {
        if self.foreign {
            return Ok(());
        }
        let before = self.entries.len();
        let used = std::mem::take(&mut self.used);
        self.entries.retain(|p, _| used.contains(p));
        self.used = used;
        if !self.dirty && before == self.entries.len() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(64 + self.entries.len() * 512);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        let mut paths: Vec<&PathBuf> = self.entries.keys().collect();
        paths.sort();
        for p in paths {
            let e = &self.entries[p];
            let pb = p.as_os_str().as_bytes();
            out.extend_from_slice(&(pb.len() as u64).to_le_bytes());
            out.extend_from_slice(pb);
            e.key.to_bytes(&mut out);
            out.extend_from_slice(&e.hashes.size.to_le_bytes());
            out.extend_from_slice(&e.hashes.md5);
            out.extend_from_slice(&e.hashes.sha1);
            out.extend_from_slice(&e.hashes.sha256);
            out.extend_from_slice(&e.hashes.sha512);
            out.push(e.tag);
            match &e.control {
                Some(c) => {
                    out.extend_from_slice(&(c.len() as u64).to_le_bytes());
                    out.extend_from_slice(c);
                }
                None => out.extend_from_slice(&u64::MAX.to_le_bytes()),
            }
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&out)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_stale_entries_are_misses() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("a.deb");
        fs::write(&f, b"one").unwrap();
        let db = t.path().join("cache");
        let mut c = Cache::load(&db);
        let meta = fs::metadata(&f).unwrap();
        c.insert(
            &f,
            &meta,
            Hashes::of_bytes(b"one"),
            Some(b"Package: a\n".to_vec()),
            1,
        );
        c.save().unwrap();
        let mut c = Cache::load(&db);
        assert!(c.note.is_none());
        let e = c.get(&f, &fs::metadata(&f).unwrap()).unwrap();
        assert_eq!(e.control.as_deref(), Some(&b"Package: a\n"[..]));
        assert_eq!(e.hashes, Hashes::of_bytes(b"one"));
        // Replaced at the same path with the same size: a miss.
        std::thread::sleep(std::time::Duration::from_millis(5));
        fs::write(&f, b"two").unwrap();
        assert!(c.get(&f, &fs::metadata(&f).unwrap()).is_none());
    }

    #[test]
    fn damaged_and_foreign_caches_are_never_trusted() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("a.deb");
        fs::write(&f, b"x").unwrap();
        let db = t.path().join("cache");
        let mut c = Cache::load(&db);
        c.insert(
            &f,
            &fs::metadata(&f).unwrap(),
            Hashes::of_bytes(b"x"),
            None,
            0,
        );
        c.save().unwrap();
        let mut bytes = fs::read(&db).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 1;
        fs::write(&db, &bytes).unwrap();
        let mut c = Cache::load(&db);
        assert!(c.note.as_deref().unwrap().contains("damaged"));
        assert!(c.get(&f, &fs::metadata(&f).unwrap()).is_none());
        fs::write(&db, &bytes[..n - 40]).unwrap();
        assert!(Cache::load(&db).note.is_some());
        // A Berkeley DB (apt-ftparchive --db) is left alone.
        let foreign = t.path().join("packages.db");
        fs::write(&foreign, b"\0\x06\x15\x61 berkeley").unwrap();
        let mut c = Cache::load(&foreign);
        c.insert(
            &f,
            &fs::metadata(&f).unwrap(),
            Hashes::of_bytes(b"x"),
            None,
            0,
        );
        c.save().unwrap();
        assert_eq!(fs::read(&foreign).unwrap(), b"\0\x06\x15\x61 berkeley");
    }
}
