//! Content-defined compressed blocks: a Packages index compressed to `.xz` and `.gz` file to
//! file, in parallel, reusing the previous build's xz blocks for unchanged content.
//!
//! This module owns [`compress_index`] and the byte formats it writes by hand:
//!
//! * **Chunks.** The plain index is cut at stanza boundaries chosen by content: after a
//!   stanza whose first line (`Package: name`) hashes to 0 modulo [`CUT_MODULUS`], once the
//!   chunk holds at least [`MIN_CHUNK`] bytes; always at the first stanza boundary past
//!   [`MAX_CHUNK`]; anywhere at [`HARD_MAX_CHUNK`] (one stanza that long). Adding or removing
//!   a stanza, or replacing a package's stanza by its next version, changes the chunk that
//!   holds it (and its neighbour at most); every other chunk keeps its bytes.
//! * **xz.** ONE stream (apt's and some other readers stop after the first stream), one block
//!   per chunk, CRC64 checks. Each chunk is compressed alone by liblzma (LZMA2 at the given
//!   preset, its dictionary capped at [`DICT_CAP`]); the block is cut out of that one-block
//!   stream and this module writes the stream header, the index and the footer itself
//!   (tukaani.org/xz/xz-file-format.txt). A block depends only on its chunk's bytes, so the
//!   output is the same whatever the number of threads, and the same whether a block was
//!   compressed now or reused.
//! * **gzip.** ONE member: each chunk is deflated alone (level 9) and ended by a sync flush,
//!   byte-aligned, so the pieces concatenate; then an empty final block, and the CRC32 and
//!   size of the whole. gzip is never reused (it is cheap: 31 MB at level 9 is ~1 s of CPU).
//! * **Reuse.** Given the previously published plain index and its `.xz` (a
//!   [`PreviousIndex`]), the old `.xz`'s index gives each old block's byte range and
//!   uncompressed size, hence its range of the old plain file; a new chunk whose SHA-256
//!   equals an old range's reuses that block's bytes verbatim, but only if the old block's
//!   header is the one this build would write and its stored CRC64 equals the CRC64 of the
//!   new chunk. Anything unexpected in the previous files (another layout, several streams,
//!   a size that does not add up, a bad CRC32) makes the build reuse nothing; the reason is
//!   in [`IndexStats::reuse_refused`]. A reused block is what liblzma made of the chunk then:
//!   after a liblzma upgrade that changes its output, a rebuild can differ in bytes (never in
//!   content) from a build without a previous index.
//!
//! What it does not own: checking that the previous files are the published ones (the caller
//! compares them with the previous Release's digests before naming them: this module checks
//! each reused block against the old plain bytes, not the old file as a whole), where the
//! outputs go (the caller names staging paths and renames them), and hashing the outputs.
//!
//! Memory is bounded: at most `2 × threads` chunks are in flight (each ≤
//! [`HARD_MAX_CHUNK`], with its compressed forms), plus one liblzma encoder per thread
//! (about 9 × [`DICT_CAP`] at presets 5 to 9, hash chains) and the xz index (16 bytes a block).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use xz2::stream::{Action, Check, Filters, LzmaOptions, MatchFinder, Status, Stream};

// The sizes, from `measure_blocks` on a 31.8 MB synthetic Packages (50,000 stanzas of ~635
// bytes, random digests), threads = 2, preset 6; `xz -6` (one block): 8,033,132 bytes.
//
//   max chunk (dict)  chunks  .xz bytes   vs xz -6  first CPU-s  add-one CPU-s  peak RSS
//   256 KiB             327   8,179,588   +1.8 %       6.8          0.96         15.5 MB
//   512 KiB             162   8,080,508   +0.6 %       8.1          1.11         25.8 MB
//   1 MiB                81   8,025,508   -0.1 %      11.0          1.38         40.1 MB
//   2 MiB                43   8,008,172   -0.3 %      14.1          2.13         73.1 MB
//
// 512 KiB: within 1 % of one xz -6 block, ~40 % of its CPU (small blocks keep the match
// finder's trees small), and ~26 MB with two threads, which the build's 64 MiB budget can
// afford where 40 MB and more cannot.

/// A chunk is never cut by content before it holds this many bytes.
pub const MIN_CHUNK: usize = 32 << 10;
/// A chunk is cut at the first stanza boundary at or past this many bytes.
pub const MAX_CHUNK: usize = 512 << 10;
/// A chunk is cut here even inside a stanza (a stanza this long is not a real one).
pub const HARD_MAX_CHUNK: usize = 1 << 20;
/// One stanza in this many ends a chunk (past [`MIN_CHUNK`]): with stanzas of ~635 bytes,
/// chunks of ~32 KiB + 256 × 635 B ≈ 190 KiB on average (196 KB measured).
pub const CUT_MODULUS: u64 = 256;
/// The LZMA2 dictionary never exceeds this (= [`MAX_CHUNK`]; a longer chunk is rare): a
/// smaller dictionary keeps the encoder's memory (~9× the dictionary with the hash-chain
/// match finder) and the decoder's small.
pub const DICT_CAP: u32 = 512 << 10;

/// The chunking and dictionary sizes of one run: [`Tuning::DEFAULT`] (the constants above)
/// except in the measurements that chose them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tuning {
    min: usize,
    max: usize,
    hard: usize,
    modulus: u64,
    dict_cap: u32,
}

impl Tuning {
    pub(crate) const DEFAULT: Tuning = Tuning {
        min: MIN_CHUNK,
        max: MAX_CHUNK,
        hard: HARD_MAX_CHUNK,
        modulus: CUT_MODULUS,
        dict_cap: DICT_CAP,
    };
}

const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];
const XZ_FOOTER_MAGIC: [u8; 2] = [b'Y', b'Z'];
/// Stream flags: no reserved bits, check type 4 (CRC64).
const XZ_FLAGS_CRC64: [u8; 2] = [0, 4];
const CHECK_SIZE: u64 = 8;
/// The largest old xz index read for reuse (16 bytes or so a block).
const MAX_OLD_INDEX: u64 = 16 << 20;

/// The previously published index, for reuse. The caller has checked both files against the
/// previous Release's digests; this module checks each reused block against `plain`.
#[derive(Clone, Debug)]
pub struct PreviousIndex {
    /// The previous plain `Packages`.
    pub plain: PathBuf,
    /// The previous `Packages.xz`, written by [`compress_index`].
    pub xz: PathBuf,
    /// The xz preset the previous `.xz` was written with. A block's header does not tell
    /// presets apart, so blocks are reused only when this equals the new build's preset.
    pub xz_preset: u32,
}

/// What [`compress_index`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Bytes of the plain index.
    pub plain_bytes: u64,
    /// Number of chunks, = blocks in the `.xz`.
    pub chunks: usize,
    /// xz blocks copied from the previous `.xz`.
    pub xz_blocks_reused: usize,
    /// xz blocks compressed by this call.
    pub xz_blocks_compressed: usize,
    /// Size of the `.xz` written.
    pub xz_bytes: u64,
    /// Size of the `.gz` written.
    pub gz_bytes: u64,
    /// Why a given previous index was not used at all (None: used, or none given).
    pub reuse_refused: Option<String>,
}

/// Compresses the plain index at `plain` to `gz_out` and `xz_out` (created or truncated), on
/// `threads` threads (at least one), reusing `previous`'s xz blocks for unchanged chunks. The
/// bytes written depend only on `plain`'s bytes and `xz_preset` (0 to 9), never on `threads`
/// or on what was reused. On error the outputs are left half-written: name staging paths.
pub fn compress_index(
    plain: &Path,
    gz_out: &Path,
    xz_out: &Path,
    previous: Option<&PreviousIndex>,
    threads: usize,
    xz_preset: u32,
) -> io::Result<IndexStats> {
    compress_index_tuned(
        plain,
        gz_out,
        xz_out,
        previous,
        threads,
        xz_preset,
        Tuning::DEFAULT,
    )
}

/// [`compress_index`] with other chunk and dictionary sizes.
pub(crate) fn compress_index_tuned(
    plain: &Path,
    gz_out: &Path,
    xz_out: &Path,
    previous: Option<&PreviousIndex>,
    threads: usize,
    xz_preset: u32,
    tuning: Tuning,
) -> io::Result<IndexStats> {
    let settings = Settings::new(xz_preset, tuning.dict_cap)?;
    let mut stats = IndexStats::default();
    let old = match previous {
        None => None,
        Some(p) => match OldBlocks::load(p, &settings) {
            Ok(old) => Some(old),
            Err(why) => {
                stats.reuse_refused = Some(why);
                None
            }
        },
    };
    let input = File::open(plain).map_err(|e| at(plain, e))?;
    let gz = File::create(gz_out).map_err(|e| at(gz_out, e))?;
    let xz = File::create(xz_out).map_err(|e| at(xz_out, e))?;
    let mut out = Outputs {
        gz: BufWriter::with_capacity(256 << 10, gz),
        xz: BufWriter::with_capacity(256 << 10, xz),
        gz_path: gz_out,
        xz_path: xz_out,
        old_xz: old.as_ref().map(|o| (&o.file, o.path.as_path())),
        records: Vec::new(),
        crc: flate2::Crc::new(),
        xz_bytes: 0,
        gz_bytes: 0,
    };
    out.start()?;
    let chunker = Chunker::new(BufReader::with_capacity(256 << 10, input), tuning);
    run(
        chunker,
        plain,
        &settings,
        old.as_ref(),
        threads.max(1),
        &mut out,
        &mut stats,
    )?;
    out.finish()?;
    stats.xz_bytes = out.xz_bytes;
    stats.gz_bytes = out.gz_bytes;
    stats.plain_bytes = out.records.iter().map(|r| r.1).sum();
    Ok(stats)
}

/// `path: error`, keeping the kind.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Settings and the per-chunk encoders
// ---------------------------------------------------------------------------------------

/// The encoder settings of one build.
struct Settings {
    preset: u32,
    /// The LZMA2 dictionary size: the preset's, capped at [`DICT_CAP`].
    dict: u32,
}

impl Settings {
    fn new(preset: u32, dict_cap: u32) -> io::Result<Settings> {
        // liblzma's preset dictionaries (xz(1), "Presets").
        const DICT: [u32; 10] = [
            256 << 10,
            1 << 20,
            2 << 20,
            4 << 20,
            4 << 20,
            8 << 20,
            8 << 20,
            16 << 20,
            32 << 20,
            64 << 20,
        ];
        let Some(&dict) = DICT.get(preset as usize) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("xz preset {preset} is not 0 to 9"),
            ));
        };
        Ok(Settings {
            preset,
            dict: dict.min(dict_cap),
        })
    }
}

/// One chunk compressed as a lone xz block: the block's bytes (header, data, padding,
/// check) and its unpadded size, as the xz index records it.
fn xz_block(data: &[u8], settings: &Settings) -> io::Result<(Vec<u8>, u64)> {
    let mut lzma = LzmaOptions::new_preset(settings.preset).map_err(io::Error::other)?;
    lzma.dict_size(settings.dict);
    // Hash chains, not binary trees (presets 4 to 9 use bt4): on chunks of at most
    // [`MAX_CHUNK`] they find the same matches (0.02 % fewer bytes on the 50,000-stanza
    // index, 10 % less CPU) and need one match-finder slot a dictionary byte instead of
    // two: ~4.5 MB an encoder at a 512 KiB dictionary instead of ~6.5 MB.
    if settings.preset >= 4 {
        lzma.match_finder(MatchFinder::HashChain4);
    }
    let mut filters = Filters::new();
    filters.lzma2(&lzma);
    let mut enc = Stream::new_stream_encoder(&filters, Check::Crc64).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(data.len() / 3 + 4096);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let done = enc.total_in() as usize;
        match enc
            .process_vec(&data[done..], &mut out, Action::Finish)
            .map_err(io::Error::other)?
        {
            Status::StreamEnd => break,
            Status::Ok | Status::GetCheck => {}
            Status::MemNeeded => return Err(io::Error::other("liblzma: memory limit")),
        }
    }
    // out = stream header (12) + block + index + footer (12).
    let bad = || io::Error::other("liblzma wrote an unexpected xz stream");
    let n = out.len();
    if n < 36 || out[n - 2..] != XZ_FOOTER_MAGIC {
        return Err(bad());
    }
    let backward = u32::from_le_bytes(out[n - 8..n - 4].try_into().unwrap());
    let index_len = (u64::from(backward) + 1) * 4;
    let index_start = (n as u64).checked_sub(12 + index_len).ok_or_else(bad)? as usize;
    let records = parse_index(&out[index_start..n - 12]).ok_or_else(bad)?;
    match records[..] {
        [(unpadded, size)]
            if size == data.len() as u64 && round4(unpadded) == (index_start - 12) as u64 =>
        {
            out.truncate(index_start);
            out.drain(..12);
            Ok((out, unpadded))
        }
        _ => Err(bad()),
    }
}

/// One chunk as raw deflate data at level 9, ended by a sync flush (byte-aligned, not
/// final), so that such pieces concatenate into one deflate stream.
fn deflate_piece(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 3 + 4096);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let done = c.total_in() as usize;
        c.compress_vec(&data[done..], &mut out, flate2::FlushCompress::Sync)
            .map_err(io::Error::other)?;
        // The flush is complete once a call leaves output space unused.
        if c.total_in() as usize == data.len() && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Chunking
// ---------------------------------------------------------------------------------------

/// FNV-1a, 64 bits: the cheap hash of a stanza's first line that picks cut points.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Cuts a stream into chunks at content-chosen stanza boundaries (see the module doc).
struct Chunker<R> {
    input: R,
    tuning: Tuning,
    /// Hash of the current stanza's first line so far.
    hash: u64,
    /// Inside the first line of a stanza.
    first_line: bool,
    /// The last byte seen was a newline.
    last_nl: bool,
    eof: bool,
}

impl<R: io::BufRead> Chunker<R> {
    fn new(input: R, tuning: Tuning) -> Chunker<R> {
        Chunker {
            input,
            tuning,
            hash: FNV_OFFSET,
            first_line: true,
            last_nl: false,
            eof: false,
        }
    }

    /// The next chunk, or None at the end of the input.
    fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.eof {
            return Ok(None);
        }
        let t = self.tuning;
        let mut chunk = Vec::with_capacity(t.max / 2);
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                self.eof = true;
                return Ok((!chunk.is_empty()).then_some(chunk));
            }
            let mut cut = None;
            for (i, &b) in buf.iter().enumerate() {
                if self.first_line {
                    if b == b'\n' {
                        self.first_line = false;
                    } else {
                        self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                    }
                }
                let len = chunk.len() + i + 1;
                if b == b'\n' {
                    if self.last_nl {
                        // A blank line: the stanza ends here.
                        let at_cut =
                            len >= t.max || (len >= t.min && self.hash.is_multiple_of(t.modulus));
                        self.hash = FNV_OFFSET;
                        self.first_line = true;
                        if at_cut {
                            cut = Some(i + 1);
                            self.last_nl = true;
                            break;
                        }
                    }
                    self.last_nl = true;
                } else {
                    self.last_nl = false;
                }
                if len >= t.hard {
                    cut = Some(i + 1);
                    break;
                }
            }
            let take = cut.unwrap_or(buf.len());
            chunk.extend_from_slice(&buf[..take]);
            self.input.consume(take);
            if cut.is_some() {
                return Ok(Some(chunk));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The previous .xz
// ---------------------------------------------------------------------------------------

/// One block of the previous `.xz`.
struct OldBlock {
    /// Offset of the block in the old `.xz`.
    offset: u64,
    /// Unpadded size (header + data + check, without the padding before the check).
    unpadded: u64,
    /// Uncompressed size.
    size: u64,
    /// The block's stored CRC64 of its uncompressed data.
    check: [u8; 8],
}

/// The previous `.xz`'s blocks, found by the SHA-256 of their range of the previous plain.
struct OldBlocks {
    path: PathBuf,
    file: File,
    blocks: Vec<OldBlock>,
    by_digest: HashMap<[u8; 32], usize>,
}

impl OldBlocks {
    /// Reads the previous `.xz`'s footer, index and block headers and hashes the matching
    /// ranges of the previous plain index. Err: why nothing can be reused.
    fn load(prev: &PreviousIndex, settings: &Settings) -> Result<OldBlocks, String> {
        let xz_path = prev.xz.display();
        if prev.xz_preset != settings.preset {
            return Err(format!(
                "{xz_path} was written at xz preset {}, this build uses {}",
                prev.xz_preset, settings.preset
            ));
        }
        let e = |what: &str| format!("{xz_path}: {what}");
        let file = File::open(&prev.xz).map_err(|err| e(&err.to_string()))?;
        let len = file.metadata().map_err(|err| e(&err.to_string()))?.len();
        if len < 24 || !len.is_multiple_of(4) {
            return Err(e("not a single xz stream"));
        }
        let read = |off: u64, n: usize| -> Result<Vec<u8>, String> {
            let mut buf = vec![0; n];
            file.read_exact_at(&mut buf, off)
                .map_err(|err| e(&err.to_string()))?;
            Ok(buf)
        };
        let header = read(0, 12)?;
        if header[..6] != XZ_MAGIC
            || header[6..8] != XZ_FLAGS_CRC64
            || header[8..] != crc32(&header[6..8])
        {
            return Err(e("not an xz stream with CRC64 checks"));
        }
        let footer = read(len - 12, 12)?;
        if footer[10..] != XZ_FOOTER_MAGIC
            || footer[8..10] != XZ_FLAGS_CRC64
            || footer[..4] != crc32(&footer[4..10])
        {
            return Err(e(
                "the stream does not end with a valid footer (several streams?)",
            ));
        }
        let backward = u32::from_le_bytes(footer[4..8].try_into().unwrap());
        let index_len = (u64::from(backward) + 1) * 4;
        if index_len > MAX_OLD_INDEX || index_len + 24 > len {
            return Err(e("index size out of range"));
        }
        let index_start = len - 12 - index_len;
        let records =
            parse_index(&read(index_start, index_len as usize)?).ok_or_else(|| e("bad index"))?;
        // This build's block header, to compare with every old one.
        let (probe, _) = xz_block(b"\n", settings).map_err(|err| e(&err.to_string()))?;
        let our_header = &probe[..(usize::from(probe[0]) + 1) * 4];
        let mut blocks = Vec::with_capacity(records.len());
        let mut offset = 12u64;
        for (unpadded, size) in records {
            if unpadded < our_header.len() as u64 + CHECK_SIZE + 1 {
                return Err(e("a block is too small"));
            }
            let old_header = read(offset, our_header.len())?;
            if old_header != our_header {
                return Err(e("its blocks are not those this build writes"));
            }
            // Header, data, padding to 4 bytes, then the check.
            let check = read(offset + round4(unpadded) - CHECK_SIZE, 8)?;
            blocks.push(OldBlock {
                offset,
                unpadded,
                size,
                check: check.try_into().unwrap(),
            });
            offset = offset
                .checked_add(round4(unpadded))
                .filter(|&o| o <= index_start)
                .ok_or_else(|| e("blocks overlap the index"))?;
        }
        if offset != index_start {
            return Err(e(
                "bytes between the blocks and the index (several streams?)",
            ));
        }
        // The ranges of the old plain file, hashed.
        let plain_path = prev.plain.display();
        let ep = |what: &str| format!("{plain_path}: {what}");
        let mut plain = File::open(&prev.plain).map_err(|err| ep(&err.to_string()))?;
        let plain_len = plain.metadata().map_err(|err| ep(&err.to_string()))?.len();
        let total: u64 = blocks.iter().map(|b| b.size).sum();
        if total != plain_len {
            return Err(format!(
                "{xz_path} holds {total} bytes, {plain_path} {plain_len}: not its compressed form"
            ));
        }
        plain
            .seek(SeekFrom::Start(0))
            .map_err(|err| ep(&err.to_string()))?;
        let mut plain = BufReader::with_capacity(256 << 10, plain);
        let mut by_digest = HashMap::with_capacity(blocks.len());
        for (i, b) in blocks.iter().enumerate() {
            let mut h = Sha256::new();
            let n = io::copy(&mut (&mut plain).take(b.size), &mut HashWriter(&mut h))
                .map_err(|err| ep(&err.to_string()))?;
            if n != b.size {
                return Err(ep("shorter than its .xz says"));
            }
            by_digest.entry(h.finalize().into()).or_insert(i);
        }
        Ok(OldBlocks {
            path: prev.xz.clone(),
            file,
            blocks,
            by_digest,
        })
    }

    /// The old block holding exactly `data`, if any: same SHA-256 of the old plain range,
    /// same length, and the block's stored CRC64 is that of `data`.
    fn find(&self, data: &[u8]) -> Option<usize> {
        let digest: [u8; 32] = Sha256::digest(data).into();
        let &i = self.by_digest.get(&digest)?;
        let b = &self.blocks[i];
        (b.size == data.len() as u64 && b.check == crc64(data).to_le_bytes()).then_some(i)
    }
}

/// An `io::Write` feeding a SHA-256.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The pipeline
// ---------------------------------------------------------------------------------------

/// What a worker made of one chunk.
struct Piece {
    len: u64,
    crc: flate2::Crc,
    xz: XzPiece,
    deflate: Vec<u8>,
}

enum XzPiece {
    /// Compressed now: the block and its unpadded size.
    Fresh(Vec<u8>, u64),
    /// The previous `.xz`'s block with this number.
    Reused(usize),
}

fn work(data: &[u8], settings: &Settings, old: Option<&OldBlocks>) -> io::Result<Piece> {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let xz = match old.and_then(|o| o.find(data)) {
        Some(i) => XzPiece::Reused(i),
        None => {
            let (block, unpadded) = xz_block(data, settings)?;
            XzPiece::Fresh(block, unpadded)
        }
    };
    Ok(Piece {
        len: data.len() as u64,
        crc,
        xz,
        deflate: deflate_piece(data)?,
    })
}

/// Reads chunks, has `threads` workers compress them, writes the pieces in order. At most
/// `2 × threads` chunks are read and not yet written.
fn run<R: io::BufRead>(
    mut chunker: Chunker<R>,
    plain: &Path,
    settings: &Settings,
    old: Option<&OldBlocks>,
    threads: usize,
    out: &mut Outputs<'_>,
    stats: &mut IndexStats,
) -> io::Result<()> {
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<(u64, io::Result<Piece>)>();
    let compressed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let compressed = &compressed;
            s.spawn(move || loop {
                let job = job_rx.lock().map(|rx| rx.recv());
                let Ok(Ok((seq, data))) = job else { return };
                let piece = work(&data, settings, old);
                if matches!(
                    piece,
                    Ok(Piece {
                        xz: XzPiece::Fresh(..),
                        ..
                    })
                ) {
                    compressed.fetch_add(1, Ordering::Relaxed);
                }
                if done_tx.send((seq, piece)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let window = 2 * threads as u64;
        let (mut read, mut written) = (0u64, 0u64);
        let mut pending = BTreeMap::new();
        let mut eof = false;
        loop {
            while !eof && read - written < window {
                match chunker.next_chunk().map_err(|e| at(plain, e))? {
                    Some(chunk) => {
                        job_tx
                            .send((read, chunk))
                            .map_err(|_| io::Error::other("a compression thread stopped"))?;
                        read += 1;
                    }
                    None => eof = true,
                }
            }
            if written == read {
                break;
            }
            let (seq, piece) = done_rx
                .recv()
                .map_err(|_| io::Error::other("a compression thread stopped"))?;
            pending.insert(seq, piece?);
            while let Some(piece) = pending.remove(&written) {
                if let XzPiece::Reused(_) = piece.xz {
                    stats.xz_blocks_reused += 1;
                }
                out.write_piece(piece, old)?;
                written += 1;
            }
        }
        drop(job_tx);
        stats.chunks = written as usize;
        Ok::<(), io::Error>(())
    })?;
    stats.xz_blocks_compressed = compressed.into_inner();
    Ok(())
}

/// The two output files and what their trailers need.
struct Outputs<'a> {
    gz: BufWriter<File>,
    xz: BufWriter<File>,
    gz_path: &'a Path,
    xz_path: &'a Path,
    old_xz: Option<(&'a File, &'a Path)>,
    /// (unpadded size, uncompressed size) of each xz block.
    records: Vec<(u64, u64)>,
    crc: flate2::Crc,
    xz_bytes: u64,
    gz_bytes: u64,
}

impl Outputs<'_> {
    fn put_gz(&mut self, b: &[u8]) -> io::Result<()> {
        self.gz_bytes += b.len() as u64;
        self.gz.write_all(b).map_err(|e| at(self.gz_path, e))
    }

    fn put_xz(&mut self, b: &[u8]) -> io::Result<()> {
        self.xz_bytes += b.len() as u64;
        self.xz.write_all(b).map_err(|e| at(self.xz_path, e))
    }

    /// The gzip header (mtime 0, no name, XFL 2, OS unix: as [`super::Compression::compress`])
    /// and the xz stream header.
    fn start(&mut self) -> io::Result<()> {
        self.put_gz(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3])?;
        let mut h = XZ_MAGIC.to_vec();
        h.extend_from_slice(&XZ_FLAGS_CRC64);
        h.extend_from_slice(&crc32(&XZ_FLAGS_CRC64));
        self.put_xz(&h)
    }

    fn write_piece(&mut self, piece: Piece, old: Option<&OldBlocks>) -> io::Result<()> {
        self.put_gz(&piece.deflate)?;
        self.crc.combine(&piece.crc);
        match piece.xz {
            XzPiece::Fresh(block, unpadded) => {
                self.put_xz(&block)?;
                self.records.push((unpadded, piece.len));
            }
            XzPiece::Reused(i) => {
                let (Some(old), Some((file, path))) = (old, self.old_xz) else {
                    unreachable!("a reused block without a previous .xz");
                };
                let b = &old.blocks[i];
                let n = round4(b.unpadded);
                let mut buf = vec![0u8; 64 << 10];
                let mut done = 0u64;
                while done < n {
                    let len = (n - done).min(buf.len() as u64) as usize;
                    file.read_exact_at(&mut buf[..len], b.offset + done)
                        .map_err(|e| at(path, e))?;
                    self.xz
                        .write_all(&buf[..len])
                        .map_err(|e| at(self.xz_path, e))?;
                    done += len as u64;
                }
                self.xz_bytes += n;
                self.records.push((b.unpadded, b.size));
            }
        }
        Ok(())
    }

    /// The final empty deflate block and the gzip trailer; the xz index and footer; flushes.
    fn finish(&mut self) -> io::Result<()> {
        // BFINAL=1, BTYPE=01 (fixed Huffman), end-of-block: 0x03 0x00.
        self.put_gz(&[0x03, 0x00])?;
        let mut t = self.crc.sum().to_le_bytes().to_vec();
        t.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.put_gz(&t)?;
        self.gz.flush().map_err(|e| at(self.gz_path, e))?;

        let mut index = vec![0u8];
        put_varint(&mut index, self.records.len() as u64);
        for &(unpadded, size) in &self.records {
            put_varint(&mut index, unpadded);
            put_varint(&mut index, size);
        }
        while index.len() % 4 != 0 {
            index.push(0);
        }
        let c = crc32(&index);
        index.extend_from_slice(&c);
        let backward = u32::try_from(index.len() / 4 - 1)
            .map_err(|_| io::Error::other("xz index too large"))?;
        let mut footer = Vec::with_capacity(12);
        let mut body = backward.to_le_bytes().to_vec();
        body.extend_from_slice(&XZ_FLAGS_CRC64);
        footer.extend_from_slice(&crc32(&body));
        footer.extend_from_slice(&body);
        footer.extend_from_slice(&XZ_FOOTER_MAGIC);
        self.put_xz(&index)?;
        self.put_xz(&footer)?;
        self.xz.flush().map_err(|e| at(self.xz_path, e))
    }
}

// ---------------------------------------------------------------------------------------
// xz format helpers
// ---------------------------------------------------------------------------------------

fn round4(n: u64) -> u64 {
    n.div_ceil(4) * 4
}

fn crc32(data: &[u8]) -> [u8; 4] {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum().to_le_bytes()
}

/// xz's variable-length integer (7 bits a byte, least significant first).
fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for i in 0..9 {
        let b = *data.get(*pos)?;
        *pos += 1;
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // No trailing zero byte in a multi-byte integer.
            return (i == 0 || b != 0).then_some(n);
        }
    }
    None
}

/// The records (unpadded size, uncompressed size) of an xz index (indicator to CRC32), or
/// None if it is malformed.
fn parse_index(index: &[u8]) -> Option<Vec<(u64, u64)>> {
    if index.len() < 8 || !index.len().is_multiple_of(4) || index[0] != 0 {
        return None;
    }
    let (body, crc) = index.split_at(index.len() - 4);
    if crc != crc32(body) {
        return None;
    }
    let mut pos = 1;
    let count = get_varint(body, &mut pos)?;
    // A record takes two bytes at least.
    if count > body.len() as u64 / 2 {
        return None;
    }
    let mut records = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let unpadded = get_varint(body, &mut pos)?;
        let size = get_varint(body, &mut pos)?;
        records.push((unpadded, size));
    }
    // Index padding: zeros up to the next multiple of four.
    if pos.div_ceil(4) * 4 != body.len() || body[pos..].iter().any(|&b| b != 0) {
        return None;
    }
    Some(records)
}

/// CRC64 as xz computes it (ECMA-182 polynomial, reflected, all ones in and out).
fn crc64(data: &[u8]) -> u64 {
    static TABLE: std::sync::OnceLock<[[u64; 256]; 8]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        const POLY: u64 = 0xc96c_5795_d787_0f42;
        let mut t = [[0u64; 256]; 8];
        for i in 0..256 {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            t[0][i] = c;
        }
        for i in 0..256 {
            for k in 1..8 {
                t[k][i] = (t[k - 1][i] >> 8) ^ t[0][(t[k - 1][i] & 0xff) as usize];
            }
        }
        t
    });
    let mut c = !0u64;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = c ^ u64::from_le_bytes(w.try_into().unwrap());
        c = t[7][(v & 0xff) as usize]
            ^ t[6][((v >> 8) & 0xff) as usize]
            ^ t[5][((v >> 16) & 0xff) as usize]
            ^ t[4][((v >> 24) & 0xff) as usize]
            ^ t[3][((v >> 32) & 0xff) as usize]
            ^ t[2][((v >> 40) & 0xff) as usize]
            ^ t[1][((v >> 48) & 0xff) as usize]
            ^ t[0][(v >> 56) as usize];
    }
    for &b in words.remainder() {
        c = t[0][((c ^ u64::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// One synthetic stanza, ~600 bytes, as `elirepo packages` writes them for the
    /// benchmark's generated .debs (digests pseudo-random, so the text compresses as a real
    /// index does).
    fn stanza(i: u64, version: u32) -> String {
        let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(version) ^ 0x5851_f42d;
        let mut hex = |n: usize| {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b"0123456789abcdef"[(x & 15) as usize])
                })
                .collect::<String>()
        };
        let name = format!("bench-{}{i}", char::from(b'a' + (i % 26) as u8));
        let arch = ["amd64", "i386", "all"][(i % 3) as usize];
        format!(
            "Package: {name}\nVersion: 1.0-{version}\nArchitecture: {arch}\n\
             Maintainer: Bench <bench@example.org>\nInstalled-Size: 1\n\
             Depends: libc6 (>= 2.36)\nFilename: pool/main/b/{name}/{name}_1.0-{version}_{arch}.deb\n\
             Size: {}\nMD5sum: {}\nSHA1: {}\nSHA256: {}\nSection: misc\nPriority: optional\n\
             Description: benchmark package {i}\n A small package of the elirepo benchmark corpus.\n\n",
            600 + i % 97,
            hex(32),
            hex(40),
            hex(64)
        )
    }

    /// Stanzas `0..n` (each at version 1), plus `extra` inserted before stanza `at`.
    fn packages(n: u64, extra: Option<(u64, String)>) -> Vec<u8> {
        let mut s = String::new();
        for i in 0..n {
            if let Some((at, e)) = &extra {
                if *at == i {
                    s.push_str(e);
                }
            }
            s.push_str(&stanza(i, 1));
        }
        s.into_bytes()
    }

    /// True if `tool` runs; else skips (a failure under `ELIREPO_REQUIRE_TOOLS=1`).
    fn have(tool: &str) -> bool {
        if Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return true;
        }
        let why = format!("{tool} not installed");
        if std::env::var("ELIREPO_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{why}; ELIREPO_REQUIRE_TOOLS=1 forbids skipping this test");
        }
        eprintln!("skipped: {why}");
        false
    }

    /// A temp dir holding `Packages` = `data`; compresses it to `Packages.gz`/`.xz`.
    struct Case {
        dir: tempfile::TempDir,
    }

    impl Case {
        fn new(data: &[u8]) -> Case {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("Packages"), data).unwrap();
            Case { dir }
        }
        fn p(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
        fn compress(
            &self,
            prev: Option<&PreviousIndex>,
            threads: usize,
            preset: u32,
        ) -> IndexStats {
            compress_index(
                &self.p("Packages"),
                &self.p("Packages.gz"),
                &self.p("Packages.xz"),
                prev,
                threads,
                preset,
            )
            .unwrap()
        }
        fn xz(&self) -> Vec<u8> {
            std::fs::read(self.p("Packages.xz")).unwrap()
        }
        fn gz(&self) -> Vec<u8> {
            std::fs::read(self.p("Packages.gz")).unwrap()
        }
        /// This case's outputs as the previous index of another build.
        fn previous(&self, preset: u32) -> PreviousIndex {
            PreviousIndex {
                plain: self.p("Packages"),
                xz: self.p("Packages.xz"),
                xz_preset: preset,
            }
        }
    }

    fn unxz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        xz2::read::XzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// The blocks of one of our `.xz` files, by its index.
    fn blocks_of(xz: &[u8]) -> Vec<Vec<u8>> {
        let n = xz.len();
        let backward = u32::from_le_bytes(xz[n - 8..n - 4].try_into().unwrap());
        let index_start = n - 12 - (backward as usize + 1) * 4;
        let records = parse_index(&xz[index_start..n - 12]).unwrap();
        let mut off = 12;
        records
            .iter()
            .map(|&(unpadded, _)| {
                let b = xz[off..off + round4(unpadded) as usize].to_vec();
                off += b.len();
                b
            })
            .collect()
    }

    fn run_tool(cmd: &mut Command) -> Vec<u8> {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[test]
    fn crc64_is_xz_s() {
        // The check value of the CRC-64/XZ catalogue entry.
        assert_eq!(crc64(b"123456789"), 0x995d_c9bb_df19_39fa);
        assert_eq!(crc64(b""), 0);
        // Both paths (8-byte words and the tail) agree with the bitwise definition.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut c = !0u64;
        for &b in &data {
            c ^= u64::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0xc96c_5795_d787_0f42
                } else {
                    c >> 1
                };
            }
        }
        assert_eq!(crc64(&data), !c);
    }

    #[test]
    fn varints_round_trip() {
        for n in [0u64, 1, 127, 128, 300, 1 << 20, u64::MAX >> 1] {
            let mut v = Vec::new();
            put_varint(&mut v, n);
            let mut pos = 0;
            assert_eq!(get_varint(&v, &mut pos), Some(n));
            assert_eq!(pos, v.len());
        }
        // A multi-byte integer ending in a zero byte is not canonical.
        assert_eq!(get_varint(&[0x80, 0x00], &mut 0), None);
    }

    #[test]
    fn every_client_reads_the_multi_block_files() {
        let data = packages(3_000, None);
        let case = Case::new(&data);
        let stats = case.compress(None, 2, 6);
        assert!(stats.chunks >= 3, "{stats:?}");
        assert_eq!(stats.xz_blocks_compressed, stats.chunks);
        assert_eq!(stats.plain_bytes, data.len() as u64);
        let (xz, gz) = (case.xz(), case.gz());
        assert_eq!(
            (stats.xz_bytes, stats.gz_bytes),
            (xz.len() as u64, gz.len() as u64)
        );
        assert_eq!(unxz(&xz), data, "xz2");
        assert_eq!(gunzip(&gz), data, "flate2");
        if have("xz") {
            run_tool(Command::new("xz").arg("-t").arg(case.p("Packages.xz")));
            assert_eq!(
                run_tool(Command::new("xz").arg("-dc").arg(case.p("Packages.xz"))),
                data
            );
            let list = run_tool(
                Command::new("xz")
                    .args(["--list", "--robot"])
                    .arg(case.p("Packages.xz")),
            );
            let list = String::from_utf8(list).unwrap();
            let streams: Vec<&str> = list.lines().filter(|l| l.starts_with("totals\t")).collect();
            // totals <streams> <blocks> <compressed> <uncompressed> <ratio> <check> ...
            let f: Vec<&str> = streams[0].split('\t').collect();
            assert_eq!((f[1], f[2]), ("1", &*stats.chunks.to_string()), "{list}");
            assert_eq!(f[6], "CRC64", "{list}");
        }
        if have("gzip") {
            run_tool(Command::new("gzip").arg("-t").arg(case.p("Packages.gz")));
            assert_eq!(
                run_tool(Command::new("gzip").arg("-dc").arg(case.p("Packages.gz"))),
                data
            );
        }
        if have("python3") {
            let script = "import sys, lzma, gzip, hashlib\n\
                          a = lzma.open(sys.argv[1]).read()\n\
                          b = gzip.open(sys.argv[2]).read()\n\
                          c = open(sys.argv[3], 'rb').read()\n\
                          assert a == c and b == c, (len(a), len(b), len(c))\n\
                          print(hashlib.sha256(a).hexdigest())\n";
            let out = run_tool(
                Command::new("python3")
                    .arg("-c")
                    .arg(script)
                    .arg(case.p("Packages.xz"))
                    .arg(case.p("Packages.gz"))
                    .arg(case.p("Packages")),
            );
            let digest: String = Sha256::digest(&data)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(String::from_utf8(out).unwrap().trim(), digest);
        }
    }

    #[test]
    fn the_bytes_do_not_depend_on_the_threads() {
        let data = packages(2_500, None);
        let one = Case::new(&data);
        let four = Case::new(&data);
        let s1 = one.compress(None, 1, 1);
        let s4 = four.compress(None, 4, 1);
        assert!(s1.chunks >= 3, "{s1:?}");
        assert_eq!(s1, s4);
        assert!(one.xz() == four.xz(), "xz differs between 1 and 4 threads");
        assert!(one.gz() == four.gz(), "gz differs between 1 and 4 threads");
    }

    #[test]
    fn adding_one_stanza_recompresses_one_or_two_blocks() {
        // ~5 MB, 10,400 stanzas; a new package lands in the middle.
        let old = Case::new(&packages(10_400, None));
        let s_old = old.compress(None, 2, 6);
        assert!(s_old.plain_bytes > 5_000_000, "{s_old:?}");
        assert!(s_old.chunks >= 8, "{s_old:?}");
        let added = packages(10_400, Some((5_200, stanza(1_000_000, 7))));
        let new = Case::new(&added);
        let s_new = new.compress(Some(&old.previous(6)), 2, 6);
        assert_eq!(s_new.reuse_refused, None);
        assert!(s_new.xz_blocks_compressed <= 2, "{s_new:?}");
        assert!(s_new.xz_blocks_compressed >= 1, "{s_new:?}");
        assert_eq!(
            s_new.xz_blocks_reused + s_new.xz_blocks_compressed,
            s_new.chunks
        );
        // All blocks but those compressed are byte-identical to some block of the old file.
        let old_blocks = blocks_of(&old.xz());
        let new_blocks = blocks_of(&new.xz());
        let same = new_blocks.iter().filter(|b| old_blocks.contains(b)).count();
        assert_eq!(same, s_new.chunks - s_new.xz_blocks_compressed, "{s_new:?}");
        assert_eq!(unxz(&new.xz()), added);
        assert_eq!(gunzip(&new.gz()), added);
        // And the result is exactly what a build without the previous files writes.
        let fresh = Case::new(&added);
        let s_fresh = fresh.compress(None, 3, 6);
        assert_eq!(s_fresh.xz_blocks_compressed, s_fresh.chunks);
        assert!(fresh.xz() == new.xz(), "reuse changed the .xz bytes");
        assert!(fresh.gz() == new.gz());
        // Nothing changed: everything reused.
        let again = Case::new(&added);
        let s_again = again.compress(Some(&new.previous(6)), 2, 6);
        assert_eq!(
            (s_again.xz_blocks_compressed, s_again.xz_blocks_reused),
            (0, s_again.chunks)
        );
        assert!(again.xz() == new.xz());
    }

    #[test]
    fn chunks_are_cut_by_content() {
        // Chunk boundaries only (no compression): removing one stanza, replacing one by a
        // new version, or adding one changes at most two chunks.
        let chunks = |data: &[u8]| {
            let mut c = Chunker::new(data, Tuning::DEFAULT);
            let mut v = Vec::new();
            while let Some(x) = c.next_chunk().unwrap() {
                v.push(x);
            }
            assert_eq!(v.concat(), data);
            v
        };
        let base = chunks(&packages(20_000, None));
        assert!(base.len() >= 20, "{}", base.len());
        for (i, c) in base.iter().enumerate() {
            assert!(c.len() <= MAX_CHUNK + 2_000, "chunk {i}: {}", c.len());
            if i + 1 < base.len() {
                assert!(c.len() >= MIN_CHUNK && c.ends_with(b"\n\n"), "chunk {i}");
            }
        }
        let mut edits: Vec<Vec<u8>> = Vec::new();
        for at in [0u64, 1, 777, 10_000, 19_999] {
            edits.push(packages(20_000, Some((at, stanza(5_000_000 + at, 3)))));
            let mut s = String::new();
            for i in 0..20_000 {
                if i != at {
                    s.push_str(&stanza(i, 1));
                } else {
                    s.push_str(&stanza(i, 2));
                }
            }
            edits.push(s.into_bytes());
            let mut s = String::new();
            for i in (0..20_000).filter(|&i| i != at) {
                s.push_str(&stanza(i, 1));
            }
            edits.push(s.into_bytes());
        }
        for (k, e) in edits.iter().enumerate() {
            let c = chunks(e);
            let changed = c.iter().filter(|x| !base.contains(x)).count();
            assert!(
                (1..=2).contains(&changed),
                "edit {k}: {changed} chunks changed"
            );
        }
    }

    #[test]
    fn odd_inputs_round_trip() {
        let mut one_huge = b"Package: huge\nDescription: x\n".to_vec();
        one_huge.extend((0..HARD_MAX_CHUNK + 100_000).map(|i| b"abcdefgh \n"[i % 10]));
        for data in [
            Vec::new(),
            b"\n".to_vec(),
            b"Package: a\nVersion: 1".to_vec(),
            b"\n\n\n\n\n".to_vec(),
            one_huge,
        ] {
            let case = Case::new(&data);
            let stats = case.compress(None, 2, 0);
            assert_eq!(unxz(&case.xz()), data);
            assert_eq!(gunzip(&case.gz()), data);
            assert_eq!(
                stats.chunks,
                data.len()
                    .div_ceil(HARD_MAX_CHUNK)
                    .max(usize::from(!data.is_empty()))
            );
            if have("xz") && have("gzip") {
                run_tool(Command::new("xz").arg("-t").arg(case.p("Packages.xz")));
                run_tool(Command::new("gzip").arg("-t").arg(case.p("Packages.gz")));
            }
        }
    }

    #[test]
    fn a_previous_xz_of_another_writer_is_not_reused() {
        let data = packages(1_500, None);
        let old = Case::new(&data);
        // apt-ftparchive's .xz: one block, xz -6.
        std::fs::write(
            old.p("Packages.xz"),
            crate::compress::Compression::Xz.compress(&data).unwrap(),
        )
        .unwrap();
        let new = Case::new(&data);
        let s = new.compress(Some(&old.previous(6)), 2, 6);
        assert_eq!(s.xz_blocks_reused, 0);
        assert!(
            s.reuse_refused
                .as_deref()
                .unwrap()
                .contains("not those this build writes"),
            "{s:?}"
        );
        let fresh = Case::new(&data);
        fresh.compress(None, 2, 6);
        assert!(new.xz() == fresh.xz());
        // Another preset: refused as well.
        let s = new.compress(Some(&fresh.previous(1)), 2, 6);
        assert!(
            s.reuse_refused.as_deref().unwrap().contains("preset 1"),
            "{s:?}"
        );
    }

    #[test]
    fn a_damaged_previous_is_never_copied() {
        let data = packages(3_000, None);
        let fresh = Case::new(&data);
        let s_fresh = fresh.compress(None, 2, 1);
        let good = fresh.xz();
        let blocks = blocks_of(&good);
        assert!(blocks.len() >= 3);
        let build = |xz: &[u8], plain: &[u8]| {
            let old = Case::new(plain);
            std::fs::write(old.p("Packages.xz"), xz).unwrap();
            let new = Case::new(&data);
            let s = new.compress(Some(&old.previous(1)), 2, 1);
            assert!(
                new.xz() == good,
                "damaged previous changed the output: {s:?}"
            );
            assert_eq!(unxz(&new.xz()), data);
            s
        };
        assert_eq!(build(&good, &data).xz_blocks_reused, s_fresh.chunks);

        // The old plain differs inside block 1: that block is compressed again.
        let mut plain = data.clone();
        let at = blocks.len(); // somewhere in the first chunk
        plain[blocks[0].len() + at] ^= 1;
        let s = build(&good, &plain);
        assert_eq!(s.xz_blocks_compressed, 1, "{s:?}");

        // Block 2's stored CRC64 is wrong: it is not reused.
        let mut xz = good.clone();
        let end_of_block_2 = 12 + blocks[0].len() + blocks[1].len();
        xz[end_of_block_2 - 1] ^= 0x40; // the last byte of its check
        let s = build(&xz, &data);
        assert_eq!(s.xz_blocks_compressed, 1, "{s:?}");

        // Truncated, a bad index CRC, a bad footer, the wrong plain file, no file at all:
        // nothing reused.
        let n = good.len();
        let mut bad_index = good.clone();
        bad_index[n - 16] ^= 1;
        let mut bad_footer = good.clone();
        bad_footer[n - 3] ^= 1;
        let mut two_streams = good.clone();
        two_streams.extend_from_slice(&good);
        for (xz, plain) in [
            (&good[..n - 4], &data[..]),
            (&bad_index[..], &data[..]),
            (&bad_footer[..], &data[..]),
            (&two_streams[..], &data[..]),
            (&good[..], &data[..data.len() - 1]),
            (&b""[..], &data[..]),
        ] {
            let s = build(xz, plain);
            assert_eq!(s.xz_blocks_reused, 0, "{s:?}");
            assert!(s.reuse_refused.is_some());
        }
    }

    #[test]
    fn bad_arguments_are_errors_naming_the_file() {
        let case = Case::new(b"Package: a\n\n");
        let err = compress_index(
            &case.p("missing"),
            &case.p("Packages.gz"),
            &case.p("Packages.xz"),
            None,
            1,
            6,
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let err = compress_index(
            &case.p("Packages"),
            &case.p("Packages.gz"),
            &case.p("no/such/dir.xz"),
            None,
            1,
            6,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no/such/dir.xz"), "{err}");
        let err = compress_index(
            &case.p("Packages"),
            &case.p("Packages.gz"),
            &case.p("Packages.xz"),
            None,
            1,
            10,
        )
        .unwrap_err();
        assert!(err.to_string().contains("preset 10"), "{err}");
    }

    /// The measurement behind the chunk sizes (not a test: no assertion on time).
    /// `ELIREPO_BLOCKS_BENCH=/path/to/Packages cargo test --release --lib -- --ignored
    /// measure_blocks --nocapture`, optionally `ELIREPO_BLOCKS_TUNE=min,max,hard,modulus,dict`
    /// (bytes). Prints the first compression (2 threads), then the same file with one stanza
    /// added in the middle, compressed with the first as previous.
    #[test]
    #[ignore = "a measurement: needs ELIREPO_BLOCKS_BENCH"]
    fn measure_blocks() {
        use std::io::BufRead;
        use std::time::Instant;
        let Ok(src) = std::env::var("ELIREPO_BLOCKS_BENCH") else {
            panic!("set ELIREPO_BLOCKS_BENCH to a Packages file");
        };
        let mut tuning = Tuning::DEFAULT;
        if let Some(t) = std::env::var("ELIREPO_BLOCKS_TUNE")
            .ok()
            .filter(|t| !t.is_empty())
        {
            let v: Vec<u64> = t.split(',').map(|x| x.parse().unwrap()).collect();
            tuning = Tuning {
                min: v[0] as usize,
                max: v[1] as usize,
                hard: v[2] as usize,
                modulus: v[3],
                dict_cap: v[4] as u32,
            };
        }
        let threads: usize =
            std::env::var("ELIREPO_BLOCKS_THREADS").map_or(2, |t| t.parse().unwrap());
        let load = || {
            std::fs::read_to_string("/proc/loadavg")
                .unwrap()
                .trim()
                .to_string()
        };
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::copy(&src, p("old")).unwrap();
        // The new file: one stanza added after the first stanza boundary past the middle,
        // copied in pieces (the measurement's own memory stays small).
        let len = std::fs::metadata(p("old")).unwrap().len();
        let mut old = BufReader::new(File::open(p("old")).unwrap());
        let mut new = BufWriter::new(File::create(p("new")).unwrap());
        io::copy(&mut (&mut old).take(len / 2), &mut new).unwrap();
        let mut line = Vec::new();
        loop {
            line.clear();
            old.read_until(b'\n', &mut line).unwrap();
            new.write_all(&line).unwrap();
            if line == b"\n" {
                break;
            }
        }
        new.write_all(stanza(9_999_999, 1).as_bytes()).unwrap();
        io::copy(&mut old, &mut new).unwrap();
        new.flush().unwrap();
        drop(new);
        // CPU seconds of this process, all threads (utime + stime, clock ticks of 10 ms).
        let cpu = || {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
            let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
        };
        eprintln!("tuning {tuning:?}, threads {threads}, load {}", load());
        let (t, c) = (Instant::now(), cpu());
        let s1 = compress_index_tuned(
            &p("old"),
            &p("old.gz"),
            &p("old.xz"),
            None,
            threads,
            6,
            tuning,
        )
        .unwrap();
        let first = t.elapsed();
        eprintln!(
            "first:   {:.2} s, {:.2} CPU-s  {s1:?}  load {}",
            first.as_secs_f64(),
            cpu() - c,
            load()
        );
        let prev = PreviousIndex {
            plain: p("old"),
            xz: p("old.xz"),
            xz_preset: 6,
        };
        let (t, c) = (Instant::now(), cpu());
        let s2 = compress_index_tuned(
            &p("new"),
            &p("new.gz"),
            &p("new.xz"),
            Some(&prev),
            threads,
            6,
            tuning,
        )
        .unwrap();
        let add = t.elapsed();
        eprintln!(
            "add one: {:.2} s, {:.2} CPU-s  {s2:?}  load {}",
            add.as_secs_f64(),
            cpu() - c,
            load()
        );
    }
}
