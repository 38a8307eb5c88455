//! One-pass MD5, SHA1, SHA256 and SHA512 of a byte stream.
//!
//! apt's indexes carry four digests of every file. This module owns computing
//! them while the bytes stream past once: [`MultiHasher`] is fed chunks (it is
//! also an [`io::Write`]), [`HashingReader`] tees a reader into one, and
//! [`hash_reader`]/[`hash_file`] do the whole job for a stream. It never holds
//! more than one read buffer of the input.
//!
//! Many files at once go faster: [`lanes::FileLanes`] hashes up to sixteen open files on one
//! thread, their MD5s side by side in the SIMD lanes of [`md5_lanes`] (MD5 is one serial
//! chain per message, the slowest digest here for a single file).

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

pub mod lanes;
pub mod md5_lanes;

/// The size and the four digests of one file, as apt lists them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Hashes {
    /// Length of the input in bytes.
    pub size: u64,
    /// MD5 digest (apt's `MD5sum`/`MD5Sum`).
    pub md5: [u8; 16],
    /// SHA-1 digest.
    pub sha1: [u8; 20],
    /// SHA-256 digest.
    pub sha256: [u8; 32],
    /// SHA-512 digest.
    pub sha512: [u8; 64],
}

impl Hashes {
    /// Lowercase hex of the MD5 digest.
    pub fn md5_hex(&self) -> String {
        hex(&self.md5)
    }
    /// Lowercase hex of the SHA-1 digest.
    pub fn sha1_hex(&self) -> String {
        hex(&self.sha1)
    }
    /// Lowercase hex of the SHA-256 digest.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
    /// Lowercase hex of the SHA-512 digest.
    pub fn sha512_hex(&self) -> String {
        hex(&self.sha512)
    }

    /// The digests of a byte slice held in memory.
    pub fn of_bytes(data: &[u8]) -> Hashes {
        let mut h = MultiHasher::new();
        h.update(data);
        h.finish()
    }
}

impl fmt::Debug for Hashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hashes")
            .field("size", &self.size)
            .field("sha256", &self.sha256_hex())
            .finish_non_exhaustive()
    }
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses lowercase or uppercase hex into bytes; `None` if malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let val = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(val(p[0])? << 4 | val(p[1])?))
        .collect()
}

/// Feeds every chunk to all four digests at once.
#[derive(Clone, Default)]
pub struct MultiHasher {
    size: u64,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    sha512: Sha512,
}

impl MultiHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `data` to all four digests.
    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.md5.update(data);
        self.sha1.update(data);
        self.sha256.update(data);
        self.sha512.update(data);
    }

    /// Number of bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The final digests.
    pub fn finish(self) -> Hashes {
        Hashes {
            size: self.size,
            md5: self.md5.finalize().into(),
            sha1: self.sha1.finalize().into(),
            sha256: self.sha256.finalize().into(),
            sha512: self.sha512.finalize().into(),
        }
    }
}

impl Write for MultiHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that hashes every byte it hands out.
pub struct HashingReader<R> {
    inner: R,
    hasher: MultiHasher,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: MultiHasher::new(),
        }
    }

    /// Bytes read (and hashed) so far.
    pub fn position(&self) -> u64 {
        self.hasher.size()
    }

    /// Reads the rest of the stream, then returns the digests of everything read.
    pub fn finish(mut self) -> io::Result<Hashes> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.hasher.finish())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The size and SHA-256 of a stream, to check a copy against [`Hashes`] known
/// for its source: one digest where a check needs no more (a file rewritten
/// since it was hashed differs in its SHA-256 too), about a quarter of the CPU
/// of all four.
#[derive(Clone, Default)]
pub struct Sha256Check {
    size: u64,
    sha256: Sha256,
}

impl Sha256Check {
    /// A check that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.sha256.update(data);
    }

    /// True if the bytes seen have the size and SHA-256 of `hashes`.
    pub fn matches(self, hashes: &Hashes) -> bool {
        self.size == hashes.size && self.sha256.finalize()[..] == hashes.sha256
    }
}

/// The [`Sha256Check`] of the regular file at `path`.
pub fn sha256_check_file(path: &Path) -> io::Result<Sha256Check> {
    let mut r = open_regular(path)?;
    let mut c = Sha256Check::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(c),
            Ok(n) => c.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Size of the read buffer used when hashing a stream.
pub const BUF_SIZE: usize = 256 * 1024;

/// Hashes everything `r` yields, in one pass.
pub fn hash_reader<R: Read>(mut r: R) -> io::Result<Hashes> {
    let mut h = MultiHasher::new();
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// Hashes the file at `path`, in one pass.
pub fn hash_file(path: &Path) -> io::Result<Hashes> {
    hash_reader(open_regular(path)?)
}

/// Opens `path` for reading only if it is a regular file (links followed).
///
/// A FIFO, socket or device among the inputs must not be opened: opening a FIFO blocks
/// until a writer comes, possibly forever, and a device may never end. The type is checked
/// before opening, and again on the open file in case the path was replaced meanwhile (a
/// FIFO swapped in between the two still blocks the open: only a race can do that).
pub fn open_regular(path: &Path) -> io::Result<File> {
    fn check(t: std::fs::FileType) -> io::Result<()> {
        use std::os::unix::fs::FileTypeExt;
        let what = if t.is_file() {
            return Ok(());
        } else if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {what}, not a regular file"),
        ))
    }
    check(std::fs::metadata(path)?.file_type())?;
    let file = File::open(path)?;
    check(file.metadata()?.file_type())?;
    Ok(file)
}

/// Deterministic bytes that do not compress (xorshift), `len` of them: the
/// test data of the digest and .deb tests.
#[cfg(test)]
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_gives_the_well_known_digests() {
        let h = Hashes::of_bytes(b"");
        assert_eq!(h.size, 0);
        assert_eq!(h.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(h.sha1_hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            h.sha256_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(h
            .sha512_hex()
            .starts_with("cf83e1357eefb8bdf1542850d66d8007"));
    }

    #[test]
    fn abc_matches_fips_vectors() {
        let h = Hashes::of_bytes(b"abc");
        assert_eq!(h.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(h.sha1_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            h.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            h.sha512_hex(),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    /// A reader that hands out at most one byte per call.
    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn short_reads_and_chunking_do_not_change_the_result() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = Hashes::of_bytes(&data);
        assert_eq!(
            hash_reader(OneByte(&data[..5000])).unwrap(),
            Hashes::of_bytes(&data[..5000])
        );
        assert_eq!(hash_reader(&data[..]).unwrap(), whole);
        let mut tee = HashingReader::new(&data[..]);
        let mut first = [0u8; 10];
        tee.read_exact(&mut first).unwrap();
        assert_eq!(tee.position(), 10);
        assert_eq!(tee.finish().unwrap(), whole);
        assert_eq!(whole.size, 100_000);
    }

    #[test]
    fn the_sha256_check_needs_the_same_size_and_digest() {
        let data = b"some published bytes";
        let known = Hashes::of_bytes(data);
        let check = |bytes: &[u8]| {
            let mut c = Sha256Check::new();
            for part in bytes.chunks(3) {
                c.update(part);
            }
            c.matches(&known)
        };
        assert!(check(data));
        assert!(!check(b"some published byteS"));
        assert!(!check(&data[..data.len() - 1]));
        // The same SHA-256 with another size (impossible unless the index lies).
        let mut c = Sha256Check::new();
        c.update(data);
        assert!(!c.matches(&Hashes {
            size: 1,
            ..known.clone()
        }));
        let t = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(t.path(), data).unwrap();
        assert!(sha256_check_file(t.path()).unwrap().matches(&known));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0x00, 0xff, 0x1a]), "00ff1a");
        assert_eq!(unhex("00ff1A"), Some(vec![0, 255, 26]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }
}
