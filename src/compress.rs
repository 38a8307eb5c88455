//! Compression formats: decoders for archive members, deterministic encoders for indexes.
//!
//! A .deb's members and a Packages index's variants name their compression by
//! suffix; [`Compression`] owns that mapping, opens streaming decoders over any
//! reader, and produces byte-reproducible `.gz`/`.xz` output (fixed header, no
//! timestamp, no file name) so that the same index always gives the same bytes.
//! [`LimitReader`] bounds how much a decoder may produce.

use std::io::{self, Read, Write};

/// Most memory liblzma may use to decode one xz or lzma member. The stream header says how
/// big a dictionary it needs (up to 4 GiB) and liblzma allocates it up front; `xz -9` needs
/// 65 MiB.
pub const LZMA_MEMLIMIT: u64 = 256 << 20;

/// A compression format, as named by a file suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression.
    None,
    /// gzip (`.gz`).
    Gzip,
    /// xz (`.xz`).
    Xz,
    /// bzip2 (`.bz2`).
    Bzip2,
    /// legacy lzma-alone (`.lzma`).
    Lzma,
    /// Zstandard (`.zst`).
    Zstd,
}

impl Compression {
    /// The format named by `suffix` (`""`, `".gz"`, `".xz"`, `".bz2"`, `".lzma"`, `".zst"`).
    pub fn from_suffix(suffix: &[u8]) -> Option<Compression> {
        Some(match suffix {
            b"" => Compression::None,
            b".gz" => Compression::Gzip,
            b".xz" => Compression::Xz,
            b".bz2" => Compression::Bzip2,
            b".lzma" => Compression::Lzma,
            b".zst" => Compression::Zstd,
            _ => return None,
        })
    }

    /// The file suffix, with its dot (empty for [`Compression::None`]).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Bzip2 => ".bz2",
            Compression::Lzma => ".lzma",
            Compression::Zstd => ".zst",
        }
    }

    /// A streaming decoder over `r`.
    pub fn decoder<'a, R: Read + 'a>(self, r: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(r),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            Compression::Xz => {
                let stream = xz2::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, 0)
                    .map_err(|e| io::Error::new(io::ErrorKind::Other, e))?;
                Box::new(xz2::read::XzDecoder::new_stream(r, stream))
            }
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
            Compression::Lzma => {
                let stream = xz2::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT)
                    .map_err(io::Error::other)?;
                Box::new(xz2::read::XzDecoder::new_stream(r, stream))
            }
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        })
    }

    /// Compresses `data` deterministically: the same input always gives the
    /// same bytes (gzip: level 9, mtime 0, no name, OS unix; xz: preset 6,
    /// CRC64, single-threaded).
    pub fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut enc = flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(3)
                    .write(Vec::new(), flate2::Compression::best());
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Xz => {
                let stream = xz2::stream::Stream::new_easy_encoder(6, xz2::stream::Check::Crc64)
                    .map_err(io::Error::other)?;
                let mut enc = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Bzip2 => {
                let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Lzma => {
                let opts = xz2::stream::LzmaOptions::new_preset(6).map_err(io::Error::other)?;
                let stream =
                    xz2::stream::Stream::new_lzma_encoder(&opts).map_err(io::Error::other)?;
                let mut enc = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
                enc.write_all(data)?;
                enc.finish()
            }
            Compression::Zstd => zstd::stream::encode_all(data, 19),
        }
    }
}

/// A reader that fails (rather than truncating) once more than `limit` bytes
/// have been read: the bound on what a hostile compressed stream may expand to.
pub struct LimitReader<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    what: &'static str,
}

impl<R: Read> LimitReader<R> {
    /// Allows at most `limit` bytes of `inner`; `what` names the stream in the error.
    pub fn new(inner: R, limit: u64, what: &'static str) -> Self {
        Self::continuing(inner, limit, 0, what)
    }

    /// Like [`LimitReader::new`] for a budget of which `used` bytes are already spent (by
    /// earlier streams sharing it).
    pub fn continuing(inner: R, limit: u64, used: u64, what: &'static str) -> Self {
        LimitReader {
            inner,
            remaining: limit.saturating_sub(used),
            limit,
            what,
        }
    }

    /// The bytes of the budget spent so far, earlier streams' included.
    pub fn count(&self) -> u64 {
        self.limit - self.remaining
    }
}

impl<R: Read> Read for LimitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            // One probe byte tells a stream that ends exactly at the limit from one that goes on.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} expands to more than {} bytes", self.what, self.limit),
                )),
            };
        }
        let max = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips() {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Bzip2,
            Compression::Lzma,
            Compression::Zstd,
        ] {
            let packed = c.compress(&data).unwrap();
            let mut out = Vec::new();
            c.decoder(&packed[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "{c:?}");
            assert_eq!(Compression::from_suffix(c.suffix().as_bytes()), Some(c));
        }
    }

    #[test]
    fn gzip_and_xz_output_is_reproducible() {
        let a = Compression::Gzip.compress(b"Package: x\n\n").unwrap();
        let b = Compression::Gzip.compress(b"Package: x\n\n").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            &a[4..10],
            &[0, 0, 0, 0, 2, 3],
            "mtime 0, XFL 2 (best), OS unix"
        );
        assert_eq!(
            Compression::Xz.compress(b"abc").unwrap(),
            Compression::Xz.compress(b"abc").unwrap()
        );
    }

    #[test]
    fn limit_reader_errors_past_the_limit_but_not_at_it() {
        let mut out = Vec::new();
        LimitReader::new(&[0u8; 10][..], 10, "x")
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 10);
        let err = LimitReader::new(&[0u8; 11][..], 10, "control.tar")
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("control.tar expands to more than 10 bytes"));
    }

    #[test]
    fn lzma_dictionaries_over_the_memory_limit_are_refused() {
        // xz: the stream header (12 bytes), then the block header: its size, flags, filter
        // 0x21 (LZMA2) with one property byte, the dictionary size, padding and a CRC32.
        let mut x = Compression::Xz.compress(b"Package: x\n").unwrap();
        assert_eq!(&x[12..16], &[0x02, 0x00, 0x21, 0x01]);
        x[16] = 40; // 4 GiB - 1
        let mut crc = flate2::Crc::new();
        crc.update(&x[12..20]);
        x[20..24].copy_from_slice(&crc.sum().to_le_bytes());
        // lzma-alone: properties, then the dictionary size (u32 LE) in clear.
        let mut l = Compression::Lzma.compress(b"Package: x\n").unwrap();
        l[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        for (c, bytes) in [(Compression::Xz, x), (Compression::Lzma, l)] {
            let err = c
                .decoder(&bytes[..])
                .unwrap()
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert!(err.to_string().contains("memory"), "{c:?}: {err}");
        }
    }
}
