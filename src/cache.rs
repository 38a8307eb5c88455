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
//!
//! Only a small slot per file stays in memory (a hash of its path, its
//! [`FileKey`] and where its record is): the records themselves, with their
//! control paragraphs, stay on disk, in the cache file as loaded (read once,
//! streaming, to check its trailer) or in a temporary file for the entries
//! added by this run, and are read back when asked for (a few hundred KiB at
//! a time: records are saved in the order this run used them, which is the
//! order the next run asks for them). Saving copies the records of the
//! entries used this run.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::hash::{Hash, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::hash::Hashes;

const MAGIC: &[u8; 16] = b"elirepo-cache\0v1";

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// What a slot keeps of the key.
    fn short(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }

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

    /// The file's length.
    pub fn size(&self) -> u64 {
        self.size
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

impl From<&Metadata> for FileKey {
    fn from(meta: &Metadata) -> FileKey {
        FileKey::of(meta)
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

/// Where the record of one file is, and whether this run used it: 24 bytes
/// (32 with its place in the map), two flags in the length's top bits.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// A hash of the file's key (the record holds the key itself, compared on
    /// every hit).
    key: u64,
    /// Offset of the record in the loaded cache file, or in the spill file.
    at: u64,
    /// Length of the record (below [`MAX_RECORD`]), and [`SPILL`] and [`USED`].
    len_flags: u32,
    /// When this run last used it: saved records follow this order, which is
    /// the order the next run asks for them in (paths sorted).
    seq: u32,
}

/// A record is never this long (a control file of a GiB is no control file).
const MAX_RECORD: usize = 1 << 30;
/// The record is in the spill file (else in the loaded cache file).
const SPILL: u32 = 1 << 31;
/// This run used the record.
const USED: u32 = 1 << 30;

impl Slot {
    /// A slot of a record of `len` (< [`MAX_RECORD`]) bytes at `at`, `flags` set.
    fn new(key: u64, at: u64, len: usize, flags: u32) -> Slot {
        debug_assert!(len < MAX_RECORD);
        Slot {
            key,
            at,
            len_flags: len as u32 | flags,
            seq: 0,
        }
    }

    fn len(&self) -> usize {
        (self.len_flags & !(SPILL | USED)) as usize
    }

    fn spill(&self) -> bool {
        self.len_flags & SPILL != 0
    }

    fn used(&self) -> bool {
        self.len_flags & USED != 0
    }
}

/// The cache; see the module documentation.
#[derive(Debug, Default)]
pub struct Cache {
    path: PathBuf,
    /// By the hash of the path (the path itself is in the record, checked on
    /// every hit: two paths with one hash only cost a miss).
    slots: HashMap<u64, Slot>,
    /// The cache file as loaded (or as last saved).
    file: Option<File>,
    /// The records added by this run.
    spill: Option<File>,
    spill_len: u64,
    /// Uses so far.
    next_seq: u32,
    /// The last read of the loaded file: records asked for in the order they
    /// were saved are served from it.
    window: (u64, Vec<u8>, u64),
    dirty: bool,
    foreign: bool,
    /// Why the cache on disk was not used, if it was not.
    pub note: Option<String>,
}

/// The hash a path's slot is found by.
fn path_hash(path: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.as_os_str().as_bytes().hash(&mut h);
    h.finish()
}

/// How much of the cache file one read takes.
const WINDOW: usize = 1 << 18;

/// Fixed part of a record after its path: key, digests, tag, control length.
const FIXED: usize = 7 * 8 + 8 + 16 + 20 + 32 + 64 + 1 + 8;

/// One record as the file holds it.
fn encode(path: &Path, e: &Entry) -> Vec<u8> {
    let pb = path.as_os_str().as_bytes();
    let clen = e.control.as_ref().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(8 + pb.len() + FIXED + clen);
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
    out
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
    fn key(&mut self) -> Option<FileKey> {
        Some(FileKey {
            dev: self.u64()?,
            ino: self.u64()?,
            size: self.u64()?,
            mtime: self.i64()?,
            mtime_ns: self.i64()?,
            ctime: self.i64()?,
            ctime_ns: self.i64()?,
        })
    }
}

/// Decodes a whole record: its path and entry.
fn decode(rec: &[u8]) -> Option<(&[u8], Entry)> {
    let mut c = Cursor(rec);
    let plen = c.u64()? as usize;
    let path = c.take(plen)?;
    let key = c.key()?;
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
        Some(c.take(usize::try_from(clen).ok()?)?.to_vec())
    };
    c.0.is_empty().then_some((
        path,
        Entry {
            key,
            hashes,
            control,
            tag,
        },
    ))
}

/// Reads a cache file front to back (never all of it at once), hashing what it
/// reads: the slots of its records, if its trailer proves it whole.
struct Loader<R> {
    inner: R,
    sha: Sha256,
    pos: u64,
}

impl<R: Read> Loader<R> {
    fn bytes(&mut self, buf: &mut [u8]) -> Option<()> {
        self.inner.read_exact(buf).ok()?;
        self.sha.update(&buf[..]);
        self.pos += buf.len() as u64;
        Some(())
    }
    fn u64(&mut self) -> Option<u64> {
        let mut b = [0u8; 8];
        self.bytes(&mut b)?;
        Some(u64::from_le_bytes(b))
    }
    /// Reads `n` bytes into `scratch` (which only grows to what the file holds).
    fn skip(&mut self, mut n: u64, scratch: &mut [u8]) -> Option<()> {
        while n > 0 {
            let k = n.min(scratch.len() as u64) as usize;
            self.bytes(&mut scratch[..k])?;
            n -= k as u64;
        }
        Some(())
    }
}

/// The slots of the cache file `file` of `len` bytes, or `None` if it is not
/// a whole elirepo cache.
fn load_slots(file: &File, len: u64) -> Option<HashMap<u64, Slot>> {
    let body_len = len.checked_sub(32)?;
    let mut l = Loader {
        inner: BufReader::with_capacity(1 << 16, file).take(body_len),
        sha: Sha256::new(),
        pos: 0,
    };
    let mut magic = [0u8; 16];
    l.bytes(&mut magic)?;
    if &magic != MAGIC {
        return None;
    }
    let count = l.u64()?;
    let mut slots = HashMap::with_capacity(count.min(body_len / 64) as usize);
    let mut path = Vec::new();
    let mut fixed = [0u8; FIXED];
    let mut scratch = vec![0u8; 1 << 14];
    for _ in 0..count {
        let at = l.pos;
        let plen = l.u64()?;
        if plen > body_len {
            return None;
        }
        path.resize(plen as usize, 0);
        l.bytes(&mut path)?;
        l.bytes(&mut fixed)?;
        let mut c = Cursor(&fixed);
        let key = c.key()?;
        let clen = u64::from_le_bytes(fixed[FIXED - 8..].try_into().ok()?);
        if clen != u64::MAX {
            if clen > body_len {
                return None;
            }
            l.skip(clen, &mut scratch)?;
        }
        let len = usize::try_from(l.pos - at)
            .ok()
            .filter(|&n| n < MAX_RECORD)?;
        let slot = Slot::new(key.short(), at, len, 0);
        slots.insert(
            path_hash(Path::new(std::ffi::OsStr::from_bytes(&path))),
            slot,
        );
    }
    if l.pos != body_len {
        return None;
    }
    let sum = l.sha.finalize();
    let mut trailer = [0u8; 32];
    file.read_exact_at(&mut trailer, body_len).ok()?;
    (sum.as_slice() == trailer).then_some(slots)
}

impl Cache {
    /// Loads the cache at `path`; a missing, corrupt or foreign file gives an empty cache.
    pub fn load(path: &Path) -> Cache {
        let mut cache = Cache {
            path: path.to_path_buf(),
            ..Default::default()
        };
        let opened = File::open(path).and_then(|f| Ok((f.metadata()?.len(), f)));
        match opened {
            Ok((len, file)) => match load_slots(&file, len) {
                Some(slots) => {
                    cache.slots = slots;
                    cache.file = Some(file);
                }
                None => {
                    let mut head = [0u8; 16];
                    let n = file.read_at(&mut head, 0).unwrap_or(0);
                    if &head[..n] == MAGIC {
                        cache.note = Some(format!(
                            "{}: cache is damaged; rebuilding it",
                            path.display()
                        ));
                        cache.dirty = true;
                    } else {
                        cache.foreign = len > 0;
                        cache.note = Some(format!(
                            "{}: not an elirepo cache (an apt-ftparchive database?); it is left alone and not used",
                            path.display()
                        ));
                    }
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => cache.dirty = true,
            Err(e) => cache.note = Some(format!("{}: cannot read cache: {e}", path.display())),
        }
        cache
    }

    /// The bytes of the record in `slot`.
    fn record(&mut self, slot: &Slot) -> Option<Vec<u8>> {
        let (at, len) = (slot.at, slot.len());
        if slot.spill() {
            let mut rec = vec![0u8; len];
            self.spill.as_ref()?.read_exact_at(&mut rec, at).ok()?;
            return Some(rec);
        }
        let (start, buf, last_end) = &mut self.window;
        let inside =
            |start: u64, buf: &Vec<u8>| at >= start && at + len as u64 <= start + buf.len() as u64;
        if !inside(*start, buf) {
            // Records asked for in file order: read ahead; else only this one.
            let ahead = at == *last_end;
            buf.resize(if ahead { len.max(WINDOW) } else { len }, 0);
            let n = read_at_most(self.file.as_ref()?, buf, at).ok()?;
            buf.truncate(n);
            *start = at;
            if !inside(*start, buf) {
                return None;
            }
        }
        let from = (at - *start) as usize;
        *last_end = at + len as u64;
        Some(buf[from..from + len].to_vec())
    }

    /// Marks the slot of `h` used now.
    fn touch(&mut self, h: u64) {
        let seq = self.next_seq;
        if let Some(s) = self.slots.get_mut(&h) {
            s.len_flags |= USED;
            s.seq = seq;
            self.next_seq = seq.saturating_add(1);
        }
    }

    /// The entry for `path` if it belongs to the file's current version.
    pub fn get(&mut self, path: &Path, meta: impl Into<FileKey>) -> Option<Entry> {
        let h = path_hash(path);
        let slot = *self.slots.get(&h)?;
        let key = meta.into();
        if slot.key != key.short() {
            return None;
        }
        let rec = self.record(&slot)?;
        let (p, entry) = decode(&rec)?;
        if p != path.as_os_str().as_bytes() || entry.key != key {
            return None;
        }
        self.touch(h);
        Some(entry)
    }

    /// Makes room for `total` entries at once, when the caller knows how many
    /// this run will hold (a map that grows doubles, and holds its old table
    /// and the new one while it does).
    pub fn expect(&mut self, total: usize) {
        if let Some(more) = total.checked_sub(self.slots.len()) {
            self.slots.reserve(more);
        }
    }

    /// Reserves `n` places in the order records are saved in (see
    /// [`Cache::set_order`]); returns the first.
    pub fn reserve_order(&mut self, n: usize) -> u32 {
        let base = self.next_seq;
        self.next_seq = base.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        base
    }

    /// Saves the record of `path` at place `seq` (one of [`Cache::reserve_order`]'s):
    /// records inserted as they come, in no order, are saved in the order
    /// their paths were given, which is the order the next run asks for them.
    pub fn set_order(&mut self, path: &Path, seq: u32) {
        if let Some(s) = self.slots.get_mut(&path_hash(path)) {
            s.seq = seq;
        }
    }

    /// Records the result for the file's current version. A record that cannot
    /// be kept (no temporary file) is simply not cached.
    pub fn insert(
        &mut self,
        path: &Path,
        meta: impl Into<FileKey>,
        hashes: Hashes,
        control: Option<Vec<u8>>,
        tag: u8,
    ) {
        let entry = Entry {
            key: meta.into(),
            hashes,
            control,
            tag,
        };
        let rec = encode(path, &entry);
        let h = path_hash(path);
        if rec.len() >= MAX_RECORD {
            self.slots.remove(&h);
            return;
        }
        if self.spill.is_none() {
            self.spill = tempfile::tempfile().ok();
        }
        let at = self.spill_len;
        let written = self
            .spill
            .as_ref()
            .is_some_and(|f| f.write_all_at(&rec, at).is_ok());
        self.dirty = true;
        if !written {
            self.slots.remove(&h);
            return;
        }
        self.spill_len += rec.len() as u64;
        self.slots
            .insert(h, Slot::new(entry.key.short(), at, rec.len(), SPILL | USED));
        self.touch(h);
    }

    /// The digests of the file at `path`, from the cache when its version is known.
    pub fn hash_file(&mut self, path: &Path) -> io::Result<Hashes> {
        let meta = fs::metadata(path)?;
        if let Some(e) = self.get(path, &meta) {
            return Ok(e.hashes);
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
        let before = self.slots.len();
        self.slots.retain(|_, s| s.used());
        if !self.dirty && before == self.slots.len() {
            return Ok(());
        }
        // Sorted by use; 12 bytes an entry, the slots updated in place after.
        let mut order: Vec<(u32, u64)> = self.slots.iter().map(|(h, s)| (s.seq, *h)).collect();
        order.sort_unstable();
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        let mut sha = Sha256::new();
        let mut offsets = Vec::with_capacity(order.len());
        {
            let mut out = BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
            let mut put = |bytes: &[u8], sha: &mut Sha256| -> io::Result<()> {
                sha.update(bytes);
                out.write_all(bytes)
            };
            put(MAGIC, &mut sha)?;
            put(&(order.len() as u64).to_le_bytes(), &mut sha)?;
            let mut at = (MAGIC.len() + 8) as u64;
            for (_, h) in &order {
                let slot = self.slots[h];
                let rec = self
                    .record(&slot)
                    .ok_or_else(|| io::Error::other("a cache record cannot be read back"))?;
                put(&rec, &mut sha)?;
                offsets.push(at);
                at += rec.len() as u64;
            }
            let sum = sha.finalize();
            out.write_all(&sum)?;
            out.flush()?;
        }
        tmp.as_file().sync_all()?;
        let file = tmp.persist(&self.path).map_err(|e| e.error)?;
        // From now on the records are those of the file just written.
        for ((_, h), at) in order.iter().zip(offsets) {
            if let Some(s) = self.slots.get_mut(h) {
                s.at = at;
                s.len_flags &= !SPILL;
            }
        }
        self.file = Some(file);
        self.window = (0, Vec::new(), 0);
        self.spill = None;
        self.spill_len = 0;
        self.dirty = false;
        Ok(())
    }
}

/// Reads into `buf` from `at` until it is full or the file ends; the bytes read.
pub(crate) fn read_at_most(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each cached file costs in memory: a guard against a field that
    /// makes 100,000 of them megabytes larger.
    #[test]
    fn a_slot_is_small_and_keeps_its_length_and_flags_apart() {
        assert_eq!(std::mem::size_of::<Slot>(), 24);
        let s = Slot::new(1, 2, MAX_RECORD - 1, SPILL);
        assert_eq!(
            (s.len(), s.spill(), s.used()),
            (MAX_RECORD - 1, true, false)
        );
        let s = Slot::new(1, 2, 7, USED);
        assert_eq!((s.len(), s.spill(), s.used()), (7, false, true));
    }

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

    #[test]
    fn many_records_read_back_in_any_order_and_saved_in_the_order_used() {
        let t = tempfile::tempdir().unwrap();
        let db = t.path().join("cache");
        // Enough records of varied sizes to span several read windows.
        let files: Vec<PathBuf> = (0..600)
            .map(|i| t.path().join(format!("f{i:03}")))
            .collect();
        let control = |i: usize| format!("Package: p{i}\n{}", "x".repeat(i * 7)).into_bytes();
        let mut c = Cache::load(&db);
        for (i, f) in files.iter().enumerate() {
            fs::write(f, i.to_string()).unwrap();
            let h = Hashes::of_bytes(i.to_string().as_bytes());
            c.insert(f, &fs::metadata(f).unwrap(), h, Some(control(i)), 1);
        }
        c.save().unwrap();
        let check = |c: &mut Cache, i: usize| {
            let f = &files[i];
            let e = c.get(f, &fs::metadata(f).unwrap()).unwrap();
            assert_eq!(e.control.unwrap(), control(i), "{i}");
            assert_eq!(e.hashes, Hashes::of_bytes(i.to_string().as_bytes()));
        };
        // In order, backwards, and every third: the same answers.
        let mut c = Cache::load(&db);
        assert!(c.note.is_none());
        for i in 0..files.len() {
            check(&mut c, i);
        }
        let mut c = Cache::load(&db);
        for i in (0..files.len()).rev() {
            check(&mut c, i);
        }
        // Saved in the order used (backwards now) and read back whole, by the
        // cache that saved it too.
        c.save().unwrap();
        for i in [599, 0, 300] {
            check(&mut c, i);
        }
        let mut c = Cache::load(&db);
        for i in (0..files.len()).step_by(3) {
            check(&mut c, i);
        }
        // Only the entries used are kept; another path is a miss.
        c.save().unwrap();
        let mut c = Cache::load(&db);
        assert!(c
            .get(&files[1], &fs::metadata(&files[1]).unwrap())
            .is_none());
        check(&mut c, 3);
        assert!(c
            .get(
                &files[0].with_extension("x"),
                &fs::metadata(&files[0]).unwrap()
            )
            .is_none());
    }
}
