//! The deterministic encoders: the same input always gives the same bytes.

use std::io::{self, Write};

use super::Compression;

impl Compression {
    /// Compresses `data` deterministically: the same input always gives the
    /// same bytes (gzip: level 9, mtime 0, no name, OS unix; xz: preset 6,
    /// CRC64, single-threaded). lzo and lz4 have no encoder.
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
            Compression::Lzo | Compression::Lz4Legacy | Compression::Lz4Frame => {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("elirepo has no {} encoder", self.name()),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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
}
