//! Byte ranges of one shared seekable source, and decoders over them that count what they
//! consume: how a kernel payload or an initrd part is read in place, and how the end of a
//! compressed stream inside a larger file is found.

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::rc::Rc;

use super::decode::open_decoder;
use super::Compression;

/// Anything readable and seekable; lets the generic entry points hand a concrete trait object
/// to the non-generic core.
pub(crate) trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// One seekable source shared by every pass of a decoder.
pub(crate) type Shared<'a> = Rc<RefCell<Box<dyn ReadSeek + 'a>>>;

/// The byte range `[pos, end)` of a shared source, as a reader.
pub(crate) struct Window<'a> {
    src: Shared<'a>,
    pos: u64,
    end: u64,
}

impl<'a> Window<'a> {
    pub(crate) fn new(src: Shared<'a>, start: u64, end: u64) -> Self {
        Window {
            src,
            pos: start,
            end,
        }
    }
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let mut src = self.src.borrow_mut();
        src.seek(SeekFrom::Start(self.pos))?;
        let got = src.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// Read up to `max` bytes at `off` (fewer at end of file).
pub(crate) fn read_at_most(src: &Shared<'_>, off: u64, max: u64) -> io::Result<Vec<u8>> {
    let mut s = src.borrow_mut();
    s.seek(SeekFrom::Start(off))?;
    let mut v = Vec::new();
    (&mut **s).take(max).read_to_end(&mut v)?;
    Ok(v)
}

/// A `BufRead` that counts the bytes its user consumed, so the end of a compressed stream
/// inside a larger file can be found.
pub(crate) struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R) -> (Self, Rc<Cell<u64>>) {
        let count = Rc::new(Cell::new(0));
        (
            Counted {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.count.set(self.count.get() + n as u64);
    }
}

/// A decoder and a counter of the compressed bytes it consumed.
pub(crate) type CountedDecoder<'a> = (Box<dyn Read + 'a>, Rc<Cell<u64>>);

/// A first-stream decoder over `[start, end)` of `src`, with a counter of the compressed bytes
/// consumed.
pub(crate) fn open_window_decoder<'a>(
    c: Compression,
    src: &Shared<'a>,
    start: u64,
    end: u64,
) -> io::Result<CountedDecoder<'a>> {
    let buffered = BufReader::with_capacity(64 << 10, Window::new(src.clone(), start, end));
    let (counted, count) = Counted::new(buffered);
    Ok((open_decoder(c, Box::new(counted))?, count))
}

/// `bytes` as a shared source (tests).
#[cfg(test)]
pub(crate) fn shared_bytes(bytes: Vec<u8>) -> Shared<'static> {
    Rc::new(RefCell::new(Box::new(io::Cursor::new(bytes))))
}
