//! Compression formats: one format enum, the deterministic encoders, the streaming decoders.
//!
//! This module owns everything elirepo knows about compressed bytes, whoever reads them:
//!
//! * [`Compression`], the one format enum. A .deb's members and a Packages index's variants
//!   name their compression by suffix ([`Compression::from_suffix`]); a kernel payload or an
//!   initrd part is recognised by its magic, in Xen's order ([`Compression::sniff`]).
//! * the encoders (`encode.rs`): byte-reproducible output (fixed header, no timestamp, no file
//!   name), so that the same index always gives the same bytes ([`Compression::compress`]);
//! * the decoders (`decode.rs`): [`Compression::decoder`] reads a whole member (concatenated
//!   streams included), as apt and dpkg do; the crate's first-stream decoders stop at the end of
//!   the first compressed stream and leave what follows unread, as Xen's and Linux's
//!   decompressors do for a kernel payload or an initrd part (liblzma without its
//!   trailing-garbage check, legacy lz4 itself);
//! * the windows (`window.rs`): a shared seekable source read through byte ranges, with a count
//!   of the compressed bytes a decoder consumed, so the end of a stream inside a larger file is
//!   found;
//! * the bounds: [`LimitReader`] caps what a decoder may produce and [`LZMA_MEMLIMIT`] what
//!   liblzma may allocate.
//!
//! It does not own what the decompressed bytes mean (tar walking is [`crate::deb`]'s, ELF
//! [`crate::xen`]'s, cpio [`crate::initrd`]'s) nor which formats a consumer accepts.

use std::fmt;

use serde::Serialize;

pub mod blocks;
mod decode;
mod encode;
mod limit;
mod window;

pub use limit::LimitReader;
#[cfg(test)]
pub(crate) use window::shared_bytes;
pub(crate) use window::{
    open_window_decoder, read_at_most, CountedDecoder, ReadSeek, Shared, Window,
};

/// Most memory liblzma may use to decode one xz or lzma stream (as Xen's `LZMA_BLOCK_SIZE`).
/// The stream header says how big a dictionary it needs (up to 4 GiB) and liblzma allocates it
/// up front; `xz -9` needs 65 MiB.
pub const LZMA_MEMLIMIT: u64 = 256 << 20;

/// A compression format, named by a file suffix or recognised by its magic number.
///
/// Serialises (serde) as its snake_case variant name: `"gzip"`, `"lz4_legacy"`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Compression {
    /// No compression.
    None,
    /// gzip (`.gz`, `1F 8B`).
    Gzip,
    /// xz (`.xz`, `FD 37 7A 58 5A 00`).
    Xz,
    /// bzip2 (`.bz2`, `BZh`).
    Bzip2,
    /// legacy lzma "alone" (`.lzma`, `5D 00`).
    Lzma,
    /// Zstandard (`.zst`, `28 B5 2F FD`).
    Zstd,
    /// lzop (`89 4C 5A 4F 00`); recognised, never decoded.
    Lzo,
    /// LZ4 legacy format, as `lz4 -l` writes (`02 21 4C 18`).
    Lz4Legacy,
    /// LZ4 frame format (`04 22 4D 18`); Linux cannot unpack it. Recognised, never decoded.
    Lz4Frame,
}

impl Compression {
    /// The format named by `suffix` (`""`, `".gz"`, `".xz"`, `".bz2"`, `".lzma"`, `".zst"`):
    /// the suffixes apt and dpkg know for .deb members and indexes.
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
            Compression::Lzo => ".lzo",
            Compression::Lz4Legacy | Compression::Lz4Frame => ".lz4",
        }
    }

    /// Short human name ("xz", "lz4 (legacy)", ...).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zstd => "zstd",
            Compression::Lzo => "lzo",
            Compression::Lz4Legacy => "lz4 (legacy)",
            Compression::Lz4Frame => "lz4 (frame)",
        }
    }

    /// Recognise a format from the first bytes, checking magics in Xen's order. Never
    /// [`Compression::None`].
    pub fn sniff(magic: &[u8]) -> Option<Compression> {
        const TABLE: &[(&[u8], Compression)] = &[
            (b"\x1f\x8b", Compression::Gzip),
            (b"BZh", Compression::Bzip2),
            (b"\xfd7zXZ\x00", Compression::Xz),
            (b"\x28\xb5\x2f\xfd", Compression::Zstd),
            (b"\x5d\x00", Compression::Lzma),
            (b"\x89LZO\x00", Compression::Lzo),
            (b"\x02\x21\x4c\x18", Compression::Lz4Legacy),
            (b"\x04\x22\x4d\x18", Compression::Lz4Frame),
        ];
        TABLE
            .iter()
            .find(|(m, _)| magic.starts_with(m))
            .map(|&(_, c)| c)
    }

    /// Whether elirepo can decompress this format.
    pub fn decodable(self) -> bool {
        !matches!(self, Compression::Lzo | Compression::Lz4Frame)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_follows_xen_magics() {
        assert_eq!(Compression::sniff(b"\x1f\x8b\x08"), Some(Compression::Gzip));
        assert_eq!(Compression::sniff(b"BZh91AY"), Some(Compression::Bzip2));
        assert_eq!(
            Compression::sniff(b"\xfd7zXZ\x00\x00"),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::sniff(b"\x28\xb5\x2f\xfd"),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::sniff(b"\x5d\x00\x00\x80"),
            Some(Compression::Lzma)
        );
        assert_eq!(
            Compression::sniff(b"\x89LZO\x00\r\n"),
            Some(Compression::Lzo)
        );
        assert_eq!(
            Compression::sniff(b"\x02\x21\x4c\x18"),
            Some(Compression::Lz4Legacy)
        );
        assert_eq!(
            Compression::sniff(b"\x04\x22\x4d\x18"),
            Some(Compression::Lz4Frame)
        );
        assert_eq!(Compression::sniff(b"\xfd7zXY"), None);
        assert_eq!(Compression::sniff(b""), None);
    }
}
