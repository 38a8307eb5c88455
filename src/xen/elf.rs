//! The ELF image, plain or streamed out of a decompressor: bounded random access to it, and its
//! header tables.
//!
//! One reader for both tables: [`read_table`] checks and reads the program header table and
//! the section header table alike, within [`MAX_TABLE_BYTES`]. Every offset and size is checked
//! against the image before anything is read ([`check_range`], [`table_len`]).

use std::io::{self, Read};

use super::{u16le, u32le, u64le, Ctx, XenError, MAX_PASSES, MAX_TABLE_BYTES};
use crate::compress::{open_window_decoder, read_at_most, Compression, CountedDecoder, Shared};
use crate::hash::hex;

pub(super) const EM_386: u16 = 3;
pub(super) const EM_X86_64: u16 = 62;
pub(super) const PT_LOAD: u32 = 1;
pub(super) const PT_NOTE: u32 = 4;
pub(super) const SHT_NOTE: u32 = 7;

/// Bounded random access to an ELF image of a known size.
pub(super) trait ElfSource {
    /// The image size (file size, or the size the payload declares).
    fn size(&self) -> u64;
    /// Exactly `len` bytes at `off`; `what` names them in errors.
    fn read_at(&mut self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, XenError>;
}

pub(super) fn check_range(
    ctx: Ctx<'_>,
    off: u64,
    len: u64,
    size: u64,
    what: &str,
) -> Result<(), XenError> {
    match off.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(ctx.elf(format!(
            "{what} ({len} bytes at offset {off}) lies outside the {size}-byte image"
        ))),
    }
}

/// A plain ELF file.
pub(super) struct SeekElf<'a, 'p> {
    ctx: Ctx<'p>,
    src: Shared<'a>,
    size: u64,
}

impl<'a, 'p> SeekElf<'a, 'p> {
    pub(super) fn new(ctx: Ctx<'p>, src: Shared<'a>, size: u64) -> Self {
        SeekElf { ctx, src, size }
    }
}

impl ElfSource for SeekElf<'_, '_> {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&mut self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, XenError> {
        check_range(self.ctx, off, len, self.size, what)?;
        let v = read_at_most(&self.src, off, len).map_err(|e| self.ctx.io(e))?;
        if (v.len() as u64) < len {
            return Err(self.ctx.elf(format!("the file ends inside the {what}")));
        }
        Ok(v)
    }
}

/// An ELF image streamed out of a decompressor: reads go forward, skipping what is not needed;
/// a read behind the current position restarts the decompressor (at most `MAX_PASSES` times).
pub(super) struct StreamElf<'a, 'p> {
    ctx: Ctx<'p>,
    src: Shared<'a>,
    compression: Compression,
    start: u64,
    end: u64,
    size: u64,
    cur: Option<CountedDecoder<'a>>,
    pos: u64,
    /// How many times the payload was decompressed from its start.
    pub(super) passes: u32,
    /// Decompressed bytes produced, over all passes.
    pub(super) total: u64,
}

impl<'a, 'p> StreamElf<'a, 'p> {
    pub(super) fn new(
        ctx: Ctx<'p>,
        src: Shared<'a>,
        compression: Compression,
        start: u64,
        end: u64,
        size: u64,
    ) -> Self {
        StreamElf {
            ctx,
            src,
            compression,
            start,
            end,
            size,
            cur: None,
            pos: 0,
            passes: 0,
            total: 0,
        }
    }

    fn reopen(&mut self) -> Result<(), XenError> {
        self.cur = None;
        if self.passes >= MAX_PASSES {
            return Err(self.ctx.limit(
                "the number of decompression passes the ELF layout needs",
                u64::from(MAX_PASSES),
            ));
        }
        self.passes += 1;
        let dec = open_window_decoder(self.compression, &self.src, self.start, self.end).map_err(
            |e| {
                self.ctx
                    .payload(self.compression, format!("cannot start: {e}"))
            },
        )?;
        self.cur = Some(dec);
        self.pos = 0;
        Ok(())
    }

    /// Copy up to `n` decompressed bytes into `out` (or discard them); returns how many came.
    fn pull(&mut self, n: u64, out: Option<&mut Vec<u8>>) -> Result<u64, XenError> {
        let (ctx, compression, pos) = (self.ctx, self.compression, self.pos);
        let dec = match self.cur.as_mut() {
            Some((dec, _)) => dec,
            None => return Ok(0),
        };
        let mut limited = dec.by_ref().take(n);
        let got = match out {
            Some(v) => limited.read_to_end(v).map(|g| g as u64),
            None => io::copy(&mut limited, &mut io::sink()),
        };
        let got = got.map_err(|e| {
            ctx.payload(
                compression,
                format!("decompression failed after about {pos} output bytes: {e}"),
            )
        })?;
        self.pos += got;
        self.total += got;
        Ok(got)
    }

    fn short(&self) -> XenError {
        self.ctx.payload(
            self.compression,
            format!(
                "the data ends after {} bytes, but the size trailer declares {}",
                self.pos, self.size
            ),
        )
    }

    /// Read the rest of the stream (discarding it) and check it ends exactly at the declared
    /// size. Returns the compressed bytes left after the end of the stream.
    pub(super) fn finish(&mut self) -> Result<u64, XenError> {
        if self.cur.is_none() {
            self.reopen()?;
        }
        let want = self.size.saturating_sub(self.pos);
        self.pull(want.saturating_add(1), None)?;
        if self.pos < self.size {
            return Err(self.short());
        }
        if self.pos > self.size {
            return Err(self.ctx.payload(
                self.compression,
                format!(
                    "the data is longer than the {} bytes its size trailer declares",
                    self.size
                ),
            ));
        }
        let consumed = self.cur.as_ref().map_or(0, |(_, c)| c.get());
        Ok((self.end - self.start).saturating_sub(consumed))
    }
}

impl ElfSource for StreamElf<'_, '_> {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&mut self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, XenError> {
        check_range(self.ctx, off, len, self.size, what)?;
        if self.cur.is_none() || off < self.pos {
            self.reopen()?;
        }
        let skip = off - self.pos;
        if self.pull(skip, None)? < skip {
            return Err(self.short());
        }
        let mut v = Vec::new();
        if self.pull(len, Some(&mut v))? < len {
            return Err(self.short());
        }
        Ok(v)
    }
}

/// Read several ranges (capped in total), each once, in ascending file order; returns them in
/// the order asked.
pub(super) fn read_ranges(
    ctx: Ctx<'_>,
    s: &mut dyn ElfSource,
    ranges: &[(u64, u64)],
    what: &str,
    cap: u64,
) -> Result<Vec<Vec<u8>>, XenError> {
    let mut total = 0u64;
    for &(_, len) in ranges {
        total = total.saturating_add(len);
    }
    if total > cap {
        return Err(ctx.limit(format!("{what} ({total} bytes)"), cap));
    }
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    let mut out = vec![Vec::new(); ranges.len()];
    let mut i = 0;
    while i < order.len() {
        // Merge overlapping or touching ranges into one span.
        let span_start = ranges[order[i]].0;
        let mut span_end = span_start + ranges[order[i]].1; // checked by the caller
        let mut j = i + 1;
        while j < order.len() && ranges[order[j]].0 <= span_end {
            span_end = span_end.max(ranges[order[j]].0 + ranges[order[j]].1);
            j += 1;
        }
        let span = s.read_at(span_start, span_end - span_start, what)?;
        for &k in &order[i..j] {
            let (off, len) = ranges[k];
            let a = (off - span_start) as usize;
            out[k] = span[a..a + len as usize].to_vec();
        }
        i = j;
    }
    Ok(out)
}

pub(super) struct Ehdr {
    pub(super) class64: bool,
    /// `e_type`: 2 (`ET_EXEC`) for every Linux kernel image.
    pub(super) etype: u16,
    pub(super) machine: u16,
    pub(super) entry: u64,
    pub(super) phoff: u64,
    pub(super) shoff: u64,
    pub(super) phentsize: u16,
    pub(super) phnum: u16,
    pub(super) shentsize: u16,
    pub(super) shnum: u16,
    pub(super) shstrndx: u16,
}

pub(super) struct Phdr {
    pub(super) p_type: u32,
    pub(super) flags: u32,
    pub(super) offset: u64,
    pub(super) paddr: u64,
    pub(super) filesz: u64,
    pub(super) memsz: u64,
}

pub(super) struct Shdr {
    pub(super) name: u32,
    pub(super) sh_type: u32,
    pub(super) offset: u64,
    pub(super) size: u64,
}

pub(super) fn parse_ehdr(h: &[u8], class64: bool) -> Ehdr {
    if class64 {
        Ehdr {
            class64,
            etype: u16le(h, 16),
            machine: u16le(h, 18),
            entry: u64le(h, 24),
            phoff: u64le(h, 32),
            shoff: u64le(h, 40),
            phentsize: u16le(h, 54),
            phnum: u16le(h, 56),
            shentsize: u16le(h, 58),
            shnum: u16le(h, 60),
            shstrndx: u16le(h, 62),
        }
    } else {
        Ehdr {
            class64,
            etype: u16le(h, 16),
            machine: u16le(h, 18),
            entry: u64::from(u32le(h, 24)),
            phoff: u64::from(u32le(h, 28)),
            shoff: u64::from(u32le(h, 32)),
            phentsize: u16le(h, 42),
            phnum: u16le(h, 44),
            shentsize: u16le(h, 46),
            shnum: u16le(h, 48),
            shstrndx: u16le(h, 50),
        }
    }
}

pub(super) fn parse_phdr(b: &[u8], class64: bool) -> Phdr {
    if class64 {
        Phdr {
            p_type: u32le(b, 0),
            flags: u32le(b, 4),
            offset: u64le(b, 8),
            paddr: u64le(b, 24),
            filesz: u64le(b, 32),
            memsz: u64le(b, 40),
        }
    } else {
        Phdr {
            p_type: u32le(b, 0),
            offset: u64::from(u32le(b, 4)),
            paddr: u64::from(u32le(b, 12)),
            filesz: u64::from(u32le(b, 16)),
            memsz: u64::from(u32le(b, 20)),
            flags: u32le(b, 24),
        }
    }
}

pub(super) fn parse_shdr(b: &[u8], class64: bool) -> Shdr {
    if class64 {
        Shdr {
            name: u32le(b, 0),
            sh_type: u32le(b, 4),
            offset: u64le(b, 24),
            size: u64le(b, 32),
        }
    } else {
        Shdr {
            name: u32le(b, 0),
            sh_type: u32le(b, 4),
            offset: u64::from(u32le(b, 16)),
            size: u64::from(u32le(b, 20)),
        }
    }
}

pub(super) fn machine_name(m: u16) -> Option<&'static str> {
    match m {
        EM_386 => Some("i386"),
        EM_X86_64 => Some("x86_64"),
        40 => Some("arm"),
        183 => Some("aarch64"),
        _ => None,
    }
}

/// Check a header table like libelf's `elf_init` (`off + entsize * num <= size`) and return its
/// byte length.
pub(super) fn table_len(
    ctx: Ctx<'_>,
    off: u64,
    entsize: u16,
    num: u16,
    size: u64,
    what: &str,
) -> Result<u64, XenError> {
    let len = u64::from(entsize) * u64::from(num); // < 2^32
    match off.checked_add(len) {
        Some(end) if end <= size => Ok(len),
        _ => Err(ctx.elf(format!(
            "{what} ({num} entries of {entsize} bytes at offset {off}) ends past the end of \
             the {size}-byte image"
        ))),
    }
}

/// Read and check the ELF header: magic, class, length, byte order.
pub(super) fn read_ehdr(ctx: Ctx<'_>, s: &mut dyn ElfSource) -> Result<Ehdr, XenError> {
    let size = s.size();
    let h = s.read_at(0, size.min(64), "ELF header")?;
    if !h.starts_with(b"\x7fELF") {
        return Err(ctx.elf(format!(
            "not an ELF image (starts with {})",
            hex(&h[..h.len().min(8)])
        )));
    }
    let class64 = match h.get(4) {
        Some(1) => false,
        Some(2) => true,
        other => {
            return Err(ctx.elf(format!(
                "unknown ELF class {}",
                other.map_or("(none)".into(), |c| c.to_string())
            )))
        }
    };
    let ehsize = if class64 { 64 } else { 52 };
    if h.len() < ehsize {
        return Err(ctx.elf(format!(
            "the image is {size} bytes, too short for an ELF header"
        )));
    }
    if h[5] != 1 {
        return Err(ctx.elf(format!(
            "byte order {} is not little-endian: not an x86 kernel",
            h[5]
        )));
    }
    Ok(parse_ehdr(&h, class64))
}

/// Where a header table is and what its entries must be.
pub(super) struct Table {
    /// "program header" or "section header".
    kind: &'static str,
    off: u64,
    entsize: u16,
    num: u16,
    /// Its byte length, checked against the image by [`table_len`].
    len: u64,
    /// The smallest entry size of the ELF class.
    min_entsize: u16,
    class64: bool,
}

impl Ehdr {
    /// The program header table, `len` bytes long.
    pub(super) fn program_headers(&self, len: u64) -> Table {
        Table {
            kind: "program header",
            off: self.phoff,
            entsize: self.phentsize,
            num: self.phnum,
            len,
            min_entsize: if self.class64 { 56 } else { 32 },
            class64: self.class64,
        }
    }

    /// The section header table, `len` bytes long.
    pub(super) fn section_headers(&self, len: u64) -> Table {
        Table {
            kind: "section header",
            off: self.shoff,
            entsize: self.shentsize,
            num: self.shnum,
            len,
            min_entsize: if self.class64 { 64 } else { 40 },
            class64: self.class64,
        }
    }
}

/// Read a header table (its entry size checked, its length capped) and parse its entries.
pub(super) fn read_table<T>(
    ctx: Ctx<'_>,
    s: &mut dyn ElfSource,
    t: &Table,
    parse: fn(&[u8], bool) -> T,
) -> Result<Vec<T>, XenError> {
    if t.num > 0 && t.entsize < t.min_entsize {
        return Err(ctx.elf(format!(
            "{} size {} is smaller than {}",
            t.kind, t.entsize, t.min_entsize
        )));
    }
    if t.len > MAX_TABLE_BYTES {
        return Err(ctx.limit(
            format!("the {} table ({} bytes)", t.kind, t.len),
            MAX_TABLE_BYTES,
        ));
    }
    let table = s.read_at(t.off, t.len, &format!("{} table", t.kind))?;
    Ok((0..usize::from(t.num))
        .map(|i| parse(&table[i * usize::from(t.entsize)..], t.class64))
        .collect())
}

/// Xen's `elf_parse_binary`: the physical range of the loadable segments (`u64::MAX` / 0
/// without any).
pub(super) fn load_range(ctx: Ctx<'_>, phdrs: &[Phdr]) -> Result<(u64, u64), XenError> {
    let mut pstart = u64::MAX;
    let mut pend = 0u64;
    for (i, p) in phdrs.iter().enumerate() {
        if p.p_type != PT_LOAD || p.flags & 7 == 0 {
            continue;
        }
        let end = p.paddr.checked_add(p.memsz).ok_or_else(|| {
            ctx.elf(format!(
                "PT_LOAD segment {i}: physical address {:#x} + size {:#x} overflows",
                p.paddr, p.memsz
            ))
        })?;
        pstart = pstart.min(p.paddr);
        pend = pend.max(end);
    }
    Ok((pstart, pend))
}

#[cfg(test)]
mod tests {
    use super::super::synth::{self, Comp};
    use super::*;
    use std::path::Path;

    fn ctx() -> Ctx<'static> {
        Ctx {
            path: Path::new("k"),
        }
    }

    fn stream_elf(data: &[u8]) -> StreamElf<'static, 'static> {
        let raw = synth::compress_raw(Comp::Gzip, data);
        let len = raw.len() as u64;
        StreamElf::new(
            ctx(),
            crate::compress::shared_bytes(raw),
            Compression::Gzip,
            0,
            len,
            data.len() as u64,
        )
    }

    #[test]
    fn stream_reads_forward_and_reopens_backwards_a_bounded_number_of_times() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut s = stream_elf(&data);
        assert_eq!(s.read_at(10, 5, "x").unwrap(), &data[10..15]);
        assert_eq!(s.read_at(50_000, 3, "x").unwrap(), &data[50_000..50_003]);
        assert_eq!(s.passes, 1);
        for pass in 2..=MAX_PASSES {
            assert_eq!(s.read_at(0, 4, "x").unwrap(), &data[..4]);
            assert_eq!(s.passes, pass);
        }
        assert!(matches!(s.read_at(0, 4, "x"), Err(XenError::Limit { .. })));
    }

    #[test]
    fn stream_bounds_and_finish() {
        let data = vec![1u8; 10_000];
        let mut s = stream_elf(&data);
        assert!(matches!(
            s.read_at(9_999, 2, "thing"),
            Err(XenError::BadElf { .. })
        ));
        assert!(matches!(
            s.read_at(u64::MAX, 2, "thing"),
            Err(XenError::BadElf { .. })
        ));
        s.read_at(100, 10, "x").unwrap();
        assert_eq!(s.finish().unwrap(), 0);
        assert_eq!(s.total, 10_000);

        // Declared size larger than the stream.
        let raw = synth::compress_raw(Comp::Xz, &data);
        let len = raw.len() as u64;
        let mut s = StreamElf::new(
            ctx(),
            crate::compress::shared_bytes(raw),
            Compression::Xz,
            0,
            len,
            10_001,
        );
        assert!(s
            .finish()
            .unwrap_err()
            .to_string()
            .contains("ends after 10000"));
    }

    #[test]
    fn read_ranges_merges_overlaps_and_keeps_order() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
        let mut s = stream_elf(&data);
        let ranges = [(3000, 10), (100, 50), (120, 100), (4990, 10), (100, 0)];
        let got = read_ranges(ctx(), &mut s, &ranges, "r", 1 << 20).unwrap();
        for (g, &(o, l)) in got.iter().zip(&ranges) {
            assert_eq!(g.as_slice(), &data[o as usize..(o + l) as usize]);
        }
        assert_eq!(s.passes, 1);
        assert!(matches!(
            read_ranges(ctx(), &mut s, &[(0, 600), (0, 600)], "r", 1000),
            Err(XenError::Limit { .. })
        ));
    }
}
