//! The streaming decoders: whole-member decoders for .deb members and indexes, and
//! first-stream decoders (ending where the compressed stream ends) for kernel payloads and
//! initrd parts.

use std::io::{self, BufRead, Read};

use super::{Compression, LZMA_MEMLIMIT};

/// Block size of the legacy LZ4 format (`lz4 -l`).
const LZ4_LEGACY_BLOCK: usize = 8 << 20;
const LZ4_LEGACY_MAGIC: u32 = 0x184C_2102;

impl Compression {
    /// A streaming decoder over `r` that reads the whole member: concatenated gzip, bzip2 and
    /// zstd streams are decoded one after the other, as apt and dpkg do.
    pub fn decoder<'a, R: Read + 'a>(self, r: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(r),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            Compression::Xz => {
                let stream = xz2::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, 0)
                    .map_err(io::Error::other)?;
                Box::new(xz2::read::XzDecoder::new_stream(r, stream))
            }
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
            Compression::Lzma => {
                let stream = xz2::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT)
                    .map_err(io::Error::other)?;
                Box::new(xz2::read::XzDecoder::new_stream(r, stream))
            }
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
            Compression::Lz4Legacy => Box::new(Lz4LegacyReader::new(io::BufReader::new(r))),
            Compression::Lzo | Compression::Lz4Frame => return Err(no_decoder(self)),
        })
    }
}

fn no_decoder(c: Compression) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("elirepo has no {} decoder", c.name()),
    )
}

/// Open a streaming decoder that stops at the end of the first compressed stream (trailing
/// bytes after it are left unread).
pub(crate) fn open_decoder<'a>(
    c: Compression,
    input: Box<dyn BufRead + 'a>,
) -> io::Result<Box<dyn Read + 'a>> {
    use xz2::stream::Stream;
    let lzma_err = io::Error::other;
    Ok(match c {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::GzDecoder::new(input)),
        Compression::Bzip2 => Box::new(bzip2::bufread::BzDecoder::new(input)),
        Compression::Xz => Box::new(LzmaReader::new(
            input,
            Stream::new_stream_decoder(LZMA_MEMLIMIT, 0).map_err(lzma_err)?,
        )),
        Compression::Lzma => Box::new(LzmaReader::new(
            input,
            Stream::new_lzma_decoder(LZMA_MEMLIMIT).map_err(lzma_err)?,
        )),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(input)?.single_frame())
        }
        Compression::Lz4Legacy => Box::new(Lz4LegacyReader::new(input)),
        Compression::Lzo | Compression::Lz4Frame => return Err(no_decoder(c)),
    })
}

/// xz / lzma-alone decoder over liblzma that stops at the end of the stream, unlike
/// `xz2::bufread::XzDecoder`, which reports trailing bytes as corruption.
struct LzmaReader<R> {
    input: R,
    stream: xz2::stream::Stream,
    done: bool,
}

impl<R: BufRead> LzmaReader<R> {
    fn new(input: R, stream: xz2::stream::Stream) -> Self {
        LzmaReader {
            input,
            stream,
            done: false,
        }
    }
}

impl<R: BufRead> Read for LzmaReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use xz2::stream::{Action, Status};
        loop {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            let data = self.input.fill_buf()?;
            let eof = data.is_empty();
            let (in0, out0) = (self.stream.total_in(), self.stream.total_out());
            let action = if eof { Action::Finish } else { Action::Run };
            let status = self.stream.process(data, buf, action);
            let consumed = (self.stream.total_in() - in0) as usize;
            let produced = (self.stream.total_out() - out0) as usize;
            self.input.consume(consumed);
            match status {
                Ok(Status::StreamEnd) => self.done = true,
                Ok(Status::MemNeeded) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "stream needs more than {} MiB of memory",
                            LZMA_MEMLIMIT >> 20
                        ),
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            if produced > 0 || self.done {
                return Ok(produced);
            }
            if eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "compressed stream ends early",
                ));
            }
            if consumed == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "decoder makes no progress",
                ));
            }
        }
    }
}

/// Reader for the legacy LZ4 format (`lz4 -l`, what Linux's `unlz4` reads): a magic, then
/// blocks of `u32 LE compressed size` + data, each decompressing to at most 8 MiB. A repeated
/// magic is skipped; the stream ends at end of input or at a zero block size (padding).
struct Lz4LegacyReader<R> {
    input: R,
    started: bool,
    done: bool,
    block: Vec<u8>,
    /// The output buffer, allocated (and zeroed) once at 8 MiB: zeroing it for every block
    /// made each 5-byte empty block cost an 8 MiB memset.
    out: Vec<u8>,
    /// Bytes of `out` the current block filled.
    len: usize,
    pos: usize,
}

impl<R: BufRead> Lz4LegacyReader<R> {
    fn new(input: R) -> Self {
        Lz4LegacyReader {
            input,
            started: false,
            done: false,
            block: Vec::new(),
            out: Vec::new(),
            len: 0,
            pos: 0,
        }
    }

    /// Read a u32 LE, or `None` at a clean end of input.
    fn read_u32(&mut self) -> io::Result<Option<u32>> {
        let mut b = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            let n = self.input.read(&mut b[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        match got {
            0 => Ok(None),
            4 => Ok(Some(u32::from_le_bytes(b))),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "lz4: truncated block header",
            )),
        }
    }

    fn next_block(&mut self) -> io::Result<bool> {
        if !self.started {
            self.started = true;
            if self.read_u32()? != Some(LZ4_LEGACY_MAGIC) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "lz4: not a legacy lz4 stream",
                ));
            }
        }
        let bound = lz4_flex::block::get_maximum_output_size(LZ4_LEGACY_BLOCK);
        loop {
            let size = match self.read_u32()? {
                None | Some(0) => return Ok(false),
                Some(LZ4_LEGACY_MAGIC) => continue,
                Some(s) => s as usize,
            };
            if size > bound {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("lz4: block of {size} bytes is larger than an 8 MiB block can be"),
                ));
            }
            self.block.resize(size, 0);
            self.input.read_exact(&mut self.block)?;
            if self.out.is_empty() {
                self.out = vec![0; LZ4_LEGACY_BLOCK];
            }
            let n = lz4_flex::block::decompress_into(&self.block, &mut self.out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("lz4: {e}")))?;
            self.len = n;
            self.pos = 0;
            if n > 0 {
                return Ok(true);
            }
        }
    }
}

impl<R: BufRead> Read for Lz4LegacyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.len {
            if self.done || !self.next_block()? {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::window::{open_window_decoder, shared_bytes};
    use super::*;
    use crate::xen::synth::{self, Comp};

    fn decode_all(c: Compression, bytes: Vec<u8>) -> io::Result<(Vec<u8>, u64)> {
        let len = bytes.len() as u64;
        let (mut d, count) = open_window_decoder(c, &shared_bytes(bytes), 0, len)?;
        let mut out = Vec::new();
        d.read_to_end(&mut out)?;
        Ok((out, count.get()))
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

    #[test]
    fn decoders_stop_at_the_end_of_their_stream() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
        for (c, want) in [
            (Comp::Gzip, Compression::Gzip),
            (Comp::Bzip2, Compression::Bzip2),
            (Comp::Xz, Compression::Xz),
            (Comp::Lzma, Compression::Lzma),
            (Comp::Zstd, Compression::Zstd),
        ] {
            let mut raw = synth::compress_raw(c, &data);
            let stream_len = raw.len() as u64;
            raw.extend_from_slice(b"TRAILING GARBAGE \x00\x01\x02");
            let (out, consumed) = decode_all(want, raw).unwrap();
            assert_eq!(out, data, "{c:?}");
            assert_eq!(consumed, stream_len, "{c:?}: end of stream found exactly");
        }
    }

    #[test]
    fn truncated_streams_are_errors() {
        let data = vec![7u8; 100_000];
        for (c, want) in [
            (Comp::Gzip, Compression::Gzip),
            (Comp::Bzip2, Compression::Bzip2),
            (Comp::Xz, Compression::Xz),
            (Comp::Lzma, Compression::Lzma),
            (Comp::Zstd, Compression::Zstd),
            (Comp::Lz4, Compression::Lz4Legacy),
        ] {
            let raw = synth::compress_raw(c, &data);
            let cut = raw[..raw.len() - 3].to_vec();
            assert!(decode_all(want, cut).is_err(), "{c:?}");
        }
    }

    #[test]
    fn lz4_legacy_reader() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let raw = synth::lz4_legacy(&data, 65536);
        assert_eq!(
            decode_all(Compression::Lz4Legacy, raw.clone()).unwrap().0,
            data
        );
        // Zero padding ends the stream.
        let mut padded = raw.clone();
        padded.extend_from_slice(&[0; 16]);
        assert_eq!(
            decode_all(Compression::Lz4Legacy, padded.clone())
                .unwrap()
                .0,
            data
        );
        // ... and what follows the padding is not read as lz4 (the next initrd part).
        padded.extend_from_slice(b"\xff\xff\xff\x7f next part");
        let (out, consumed) = decode_all(Compression::Lz4Legacy, padded).unwrap();
        assert_eq!(out, data);
        assert_eq!(consumed, raw.len() as u64 + 4);
        // A block claiming more than an 8 MiB block can compress to.
        let mut bad = raw[..4].to_vec();
        bad.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = decode_all(Compression::Lz4Legacy, bad).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        // Wrong magic.
        assert!(decode_all(Compression::Lz4Legacy, vec![1, 2, 3, 4, 5]).is_err());
        // A block decompressing to more than 8 MiB is refused, not allocated.
        let big = vec![0u8; (8 << 20) + 1];
        let mut one = raw[..4].to_vec();
        let block = lz4_flex::block::compress(&big);
        one.extend_from_slice(&(block.len() as u32).to_le_bytes());
        one.extend_from_slice(&block);
        assert!(decode_all(Compression::Lz4Legacy, one).is_err());
    }

    #[test]
    fn lzo_has_no_decoder() {
        let e = decode_all(Compression::Lzo, b"\x89LZO\x00".to_vec()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    }
}
