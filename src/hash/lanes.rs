//! Many files hashed at once on one thread: each file's MD5 in a lane of the
//! [`md5_lanes`] kernel, its SHA1, SHA256 and SHA512 chunk by chunk as the chunks are read.
//!
//! [`FileLanes`] holds up to [`LANES`] open files, each with one read buffer of [`CHUNK`]
//! bytes. A round ([`FileLanes::round`]) refills the lanes that have less than a block left
//! (hashing the new bytes with the three SHA digests), ends the files that are read to the
//! end, and runs the kernel over as many blocks as every busy lane has. Idle lanes hash a
//! copy of a busy lane's bytes and are reset when they take a file. When too few files are
//! left to fill the lanes, [`FileLanes::drain`] ends each one alone with the scalar MD5, from
//! its lane's state.
//!
//! Each file is read with `pread` from its start, through its open descriptor, to its end: a
//! file that does not have the length it was opened with when its end is reached is an
//! error ([`Changed`]), so that whatever parsed the file against that length saw the bytes
//! hashed.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::md5_lanes::{self, LaneState, LANES};
use super::Hashes;
use crate::progress::Progress;

/// Bytes read from a file at a time (and the size of each lane's buffer).
pub const CHUNK: usize = 64 << 10;

/// Below this many busy lanes, with no more files to come, the scalar MD5 is cheaper than
/// the kernel: sixteen lanes cost about what 4.6 scalar blocks do (1.72 GB/s against md5-asm's
/// 0.49 for one message; see the kernel's `md5_lanes_speed`).
pub const SCALAR_BELOW: usize = 5;

/// A file whose length changed between its opening and the end of its hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// Its length when opened.
    pub expected: u64,
    /// The bytes read to its end.
    pub got: u64,
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the file changed while it was read: {} bytes, {} when it was opened",
            self.got, self.expected
        )
    }
}

impl std::error::Error for Changed {}

/// SHA1, SHA256 and SHA512 of the bytes read so far.
#[derive(Clone, Default)]
struct Shas {
    sha1: Sha1,
    sha256: Sha256,
    sha512: Sha512,
}

impl Shas {
    fn update(&mut self, data: &[u8]) {
        self.sha1.update(data);
        self.sha256.update(data);
        self.sha512.update(data);
    }
}

/// One file in a lane.
struct Lane<T> {
    token: T,
    file: File,
    /// The file's length when opened.
    len: u64,
    /// `buf[start..]` is read but not yet through MD5.
    buf: Vec<u8>,
    start: usize,
    /// Bytes read from the file so far.
    read: u64,
    /// The file's end was read.
    eof: bool,
    shas: Shas,
}

impl<T> Lane<T> {
    /// Bytes read but not yet through MD5.
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Reads the next chunk after what is pending (fewer than 64 bytes), unless at the end.
    fn refill(&mut self, progress: &Progress) -> io::Result<()> {
        self.buf.drain(..self.start);
        self.start = 0;
        let have = self.buf.len();
        self.buf.resize(CHUNK, 0);
        let r = read_some(&self.file, &mut self.buf[have..], self.read, self.len);
        let (n, eof) = match r {
            Ok(x) => x,
            Err(e) => {
                self.buf.truncate(have);
                return Err(e);
            }
        };
        self.buf.truncate(have + n);
        self.shas.update(&self.buf[have..]);
        progress.add(n as u64);
        self.read += n as u64;
        self.eof = eof;
        Ok(())
    }

    /// The digests, once the file is read to its end and has less than a block pending.
    fn finish(self, md5: [u32; 4]) -> (T, Vec<u8>, io::Result<Hashes>) {
        let tail = &self.buf[self.start..];
        let r = if self.read == self.len {
            Ok(Hashes {
                size: self.read,
                md5: md5_lanes::finish(md5, tail, self.read),
                sha1: self.shas.sha1.finalize().into(),
                sha256: self.shas.sha256.finalize().into(),
                sha512: self.shas.sha512.finalize().into(),
            })
        } else {
            Err(io::Error::other(Changed {
                expected: self.len,
                got: self.read,
            }))
        };
        (self.token, self.buf, r)
    }
}

/// Reads at `offset` into `buf` (not empty); returns the bytes read and whether the file's
/// end was reached. A read shorter than asked, once `len` bytes are read, is the end: a
/// file read exactly to its expected length costs no extra read.
fn read_some(file: &File, buf: &mut [u8], offset: u64, len: u64) -> io::Result<(usize, bool)> {
    loop {
        match file.read_at(buf, offset) {
            Ok(0) => return Ok((0, true)),
            Ok(n) => return Ok((n, n < buf.len() && offset + n as u64 >= len)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads the start of `file` (`len` bytes long when opened) into `buf`: up to [`CHUNK`]
/// bytes, all of a smaller file. Returns whether the file's end was reached; the bytes are
/// then given to [`FileLanes::add`] with the file.
pub fn read_start(file: &File, len: u64, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    // One byte more than the file holds: a short read then shows its end.
    let want = usize::try_from(len.saturating_add(1)).map_or(CHUNK, |n| n.min(CHUNK));
    buf.resize(want, 0);
    let mut got = 0;
    let mut eof = false;
    while got < want && !eof {
        match read_some(file, &mut buf[got..], got as u64, len) {
            Ok((n, end)) => {
                got += n;
                eof = end;
            }
            Err(e) => {
                buf.clear();
                return Err(e);
            }
        }
    }
    buf.truncate(got);
    Ok(eof)
}

/// Up to [`LANES`] files being hashed together; `T` is the caller's note of each.
pub struct FileLanes<T> {
    lanes: Vec<Option<Lane<T>>>,
    state: LaneState<LANES>,
    spare: Vec<Vec<u8>>,
    progress: Progress,
}

impl<T> FileLanes<T> {
    /// No files yet; bytes read are added to `progress`.
    pub fn new(progress: Progress) -> Self {
        FileLanes {
            lanes: (0..LANES).map(|_| None).collect(),
            state: md5_lanes::init(),
            spare: Vec::new(),
            progress,
        }
    }

    /// An empty buffer for [`read_start`] (one a finished file gave back, if any).
    pub fn buffer(&mut self) -> Vec<u8> {
        self.spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK))
    }

    /// Takes back a buffer that [`FileLanes::add`] will not get.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.spare.push(buf);
    }

    /// Files being hashed.
    pub fn busy(&self) -> usize {
        self.lanes.iter().filter(|l| l.is_some()).count()
    }

    /// True if another file can be added.
    pub fn has_room(&self) -> bool {
        self.busy() < LANES
    }

    /// Starts hashing `file`, `len` bytes long when opened, whose first bytes
    /// [`read_start`] put in `start` (`eof` as it returned).
    ///
    /// # Panics
    ///
    /// If every lane is busy.
    pub fn add(&mut self, token: T, file: File, len: u64, start: Vec<u8>, eof: bool) {
        let l = self
            .lanes
            .iter()
            .position(Option::is_none)
            .expect("a free lane");
        let mut shas = Shas::default();
        shas.update(&start);
        self.progress.add(start.len() as u64);
        md5_lanes::set_lane(&mut self.state, l, md5_lanes::INIT);
        self.lanes[l] = Some(Lane {
            token,
            file,
            len,
            read: start.len() as u64,
            buf: start,
            start: 0,
            eof,
            shas,
        });
    }

    /// Refills the lanes that need it and ends the files read to their end (each given to
    /// `done`), then runs the MD5 kernel over the blocks every busy lane holds. Returns
    /// false if no file is left in the lanes (files of one length all end in one round: the
    /// caller adds more if it has them).
    pub fn round(&mut self, done: &mut dyn FnMut(T, io::Result<Hashes>)) -> bool {
        for l in 0..LANES {
            self.serve(l, done);
        }
        let blocks = self
            .lanes
            .iter()
            .flatten()
            .map(|lane| lane.pending().len() / 64)
            .min();
        let Some(blocks) = blocks else { return false };
        let any = self
            .lanes
            .iter()
            .flatten()
            .next()
            .expect("a busy lane")
            .pending();
        let data: [&[u8]; LANES] =
            std::array::from_fn(|l| self.lanes[l].as_ref().map_or(any, |lane| lane.pending()));
        md5_lanes::compress(&mut self.state, data, blocks);
        for lane in self.lanes.iter_mut().flatten() {
            lane.start += blocks * 64;
        }
        true
    }

    /// Makes lane `l` hold a block, or ends its file.
    fn serve(&mut self, l: usize, done: &mut dyn FnMut(T, io::Result<Hashes>)) {
        let Some(lane) = self.lanes[l].as_mut() else {
            return;
        };
        let mut failed = None;
        while lane.pending().len() < 64 && !lane.eof {
            if let Err(e) = lane.refill(&self.progress) {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() && (lane.pending().len() >= 64 || !lane.eof) {
            return;
        }
        let lane = self.lanes[l].take().expect("busy");
        let (token, buf, r) = match failed {
            Some(e) => (lane.token, lane.buf, Err(e)),
            None => lane.finish(md5_lanes::lane(&self.state, l)),
        };
        self.recycle(buf);
        done(token, r);
    }

    /// Hashes every file left to its end, one after the other, with the scalar MD5 from its
    /// lane's state.
    pub fn drain(&mut self, done: &mut dyn FnMut(T, io::Result<Hashes>)) {
        for l in 0..LANES {
            let Some(mut lane) = self.lanes[l].take() else {
                continue;
            };
            let mut md5 = md5_lanes::lane(&self.state, l);
            let r = loop {
                let whole = lane.pending().len() / 64 * 64;
                md5_lanes::compress_one(&mut md5, &lane.pending()[..whole]);
                lane.start += whole;
                if lane.eof {
                    break Ok(());
                }
                if let Err(e) = lane.refill(&self.progress) {
                    break Err(e);
                }
            };
            let (token, buf, r) = match r {
                Ok(()) => lane.finish(md5),
                Err(e) => (lane.token, lane.buf, Err(e)),
            };
            self.recycle(buf);
            done(token, r);
        }
    }
}

/// Hashes one open file, `len` bytes long when opened, with the scalar MD5.
pub fn hash_open_file(file: File, len: u64, progress: Progress) -> io::Result<Hashes> {
    let mut start = Vec::with_capacity(CHUNK);
    let eof = read_start(&file, len, &mut start)?;
    hash_started(file, len, start, eof, progress)
}

/// [`hash_open_file`] of a file whose first bytes [`read_start`] put in `start`.
pub fn hash_started(
    file: File,
    len: u64,
    start: Vec<u8>,
    eof: bool,
    progress: Progress,
) -> io::Result<Hashes> {
    let mut lanes = FileLanes::new(progress);
    lanes.add((), file, len, start, eof);
    let mut out = None;
    lanes.drain(&mut |(), r| out = Some(r));
    out.expect("the file was hashed")
}

#[cfg(test)]
mod tests {
    use super::super::hash_file;
    use super::*;

    use super::super::noise as bytes;

    /// Files of awkward and large lengths, written in `dir`.
    fn files(dir: &std::path::Path, lens: &[usize]) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        lens.iter()
            .enumerate()
            .map(|(i, &n)| {
                let p = dir.join(format!("f{i}"));
                let data = bytes(i as u64 + 1, n);
                std::fs::write(&p, &data).unwrap();
                (p, data)
            })
            .collect()
    }

    /// Hashes every file through lanes the way the .deb reader does: files added as lanes
    /// free up, rounds until the list is used up, then the scalar drain below `scalar_below`
    /// busy lanes.
    fn hash_all(paths: &[std::path::PathBuf], scalar_below: usize) -> Vec<io::Result<Hashes>> {
        let progress = Progress::new("test", 0);
        let mut lanes = FileLanes::new(progress.clone());
        let mut out: Vec<Option<io::Result<Hashes>>> = paths.iter().map(|_| None).collect();
        let mut next = 0;
        let mut done = |i: usize, r| out[i] = Some(r);
        loop {
            while next < paths.len() && lanes.has_room() {
                let f = File::open(&paths[next]).unwrap();
                let len = f.metadata().unwrap().len();
                let mut buf = lanes.buffer();
                let eof = read_start(&f, len, &mut buf).unwrap();
                lanes.add(next, f, len, buf, eof);
                next += 1;
            }
            if next == paths.len() && lanes.busy() < scalar_below {
                lanes.drain(&mut done);
                break;
            }
            if !lanes.round(&mut done) && next == paths.len() {
                break;
            }
        }
        let total: u64 = paths.iter().map(|p| p.metadata().unwrap().len()).sum();
        assert_eq!(
            progress.counter().unwrap().done(),
            total,
            "every byte counted once"
        );
        out.into_iter()
            .map(|r| r.expect("every file done"))
            .collect()
    }

    #[test]
    fn many_files_of_one_length_all_end() {
        // All lanes end in the same round, files still to come: none is lost.
        let dir = tempfile::tempdir().unwrap();
        let fs = files(dir.path(), &[8000; 40]);
        let paths: Vec<_> = fs.iter().map(|(p, _)| p.clone()).collect();
        for (r, (_, data)) in hash_all(&paths, SCALAR_BELOW).into_iter().zip(&fs) {
            assert_eq!(r.unwrap(), Hashes::of_bytes(data));
        }
    }

    const LENS: [usize; 22] = [
        0,
        1,
        55,
        56,
        63,
        64,
        65,
        119,
        120,
        127,
        128,
        4095,
        65_535,
        65_536,
        65_537,
        65_600,
        131_071,
        200_000,
        1_000_003,
        3_000_000,
        77,
        64 * 1024 * 5 + 13,
    ];

    #[test]
    fn files_hashed_in_lanes_have_the_digests_of_hash_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs = files(dir.path(), &LENS);
        let paths: Vec<_> = fs.iter().map(|(p, _)| p.clone()).collect();
        // Lanes only to the last file, the usual hand-over, and scalar from the start.
        for scalar_below in [0, SCALAR_BELOW, LANES + 1] {
            for (r, (p, data)) in hash_all(&paths, scalar_below).into_iter().zip(&fs) {
                let h = r.unwrap();
                assert_eq!(h, hash_file(p).unwrap(), "{} bytes", data.len());
                assert_eq!(h, Hashes::of_bytes(data));
            }
        }
    }

    #[test]
    fn one_file_alone_and_the_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        for (p, data) in files(dir.path(), &[0, 64, 65_537]) {
            let f = File::open(&p).unwrap();
            let len = data.len() as u64;
            let h = hash_open_file(f, len, Progress::none()).unwrap();
            assert_eq!(h, Hashes::of_bytes(&data));
        }
    }

    #[test]
    fn a_file_that_grew_or_shrank_since_it_was_opened_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        for (len, now) in [
            (100usize, 150usize),
            (200_000, 200_001),
            (200_000, 100),
            (5, 0),
        ] {
            std::fs::write(&p, bytes(9, len)).unwrap();
            let f = File::open(&p).unwrap();
            let opened = f.metadata().unwrap().len();
            let w = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            w.set_len(now as u64).unwrap();
            let e = hash_open_file(f, opened, Progress::none()).unwrap_err();
            let c = e
                .get_ref()
                .and_then(|e| e.downcast_ref::<Changed>())
                .copied();
            assert_eq!(
                c,
                Some(Changed {
                    expected: len as u64,
                    got: now as u64
                }),
                "{e}"
            );
            assert!(e.to_string().contains("changed while it was read"), "{e}");
        }
    }
}
