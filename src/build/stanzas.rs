//! The Packages stanzas of a build's inputs (and of `elirepo packages`), on
//! disk: each input keeps where its stanza is (a few bytes), not the stanza, so
//! that memory does not grow with the size of the control paragraphs. The
//! stanzas are written once, while the inputs are read (a stanza does not
//! depend on the index's architecture: a build has no overrides), into an
//! unnamed temporary file, and each index reads the ones it lists back in its
//! own order.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::cache::read_at_most;

/// Where one stanza is.
#[derive(Debug, Clone)]
pub(crate) struct Stanza {
    file: Arc<File>,
    at: u64,
    len: u32,
}

impl Stanza {
    /// Appends the stanza's bytes to `out`, through `window`.
    pub fn read_into(&self, window: &mut Window, out: &mut Vec<u8>) -> io::Result<()> {
        let (at, len) = (self.at, self.len as usize);
        let inside = |w: &Window| {
            w.file.as_ref().is_some_and(|f| Arc::ptr_eq(f, &self.file))
                && at >= w.start
                && at + len as u64 <= w.start + w.buf.len() as u64
        };
        if !inside(window) {
            // Read in the order they were written (the cache's answers are, in
            // path order), one read serves the next stanzas too; read out of
            // order, each its own bytes only.
            let ahead = window
                .file
                .as_ref()
                .is_some_and(|f| Arc::ptr_eq(f, &self.file))
                && at == window.last_end;
            window
                .buf
                .resize(if ahead { len.max(WINDOW) } else { len }, 0);
            let n = read_at_most(&self.file, &mut window.buf, at)?;
            window.buf.truncate(n);
            window.start = at;
            window.file = Some(Arc::clone(&self.file));
            if !inside(window) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stanzas file is shorter than written",
                ));
            }
        }
        let from = (at - window.start) as usize;
        out.extend_from_slice(&window.buf[from..from + len]);
        window.last_end = at + len as u64;
        Ok(())
    }
}

/// A window on a stanzas file, kept between reads.
#[derive(Default)]
pub(crate) struct Window {
    file: Option<Arc<File>>,
    start: u64,
    buf: Vec<u8>,
    /// Where the last stanza read ended.
    last_end: u64,
}

const WINDOW: usize = 1 << 18;

/// Writes stanzas; [`StanzaWriter::finish`] before any is read.
pub(crate) struct StanzaWriter {
    file: Arc<File>,
    buf: Vec<u8>,
    /// Bytes already in the file.
    flushed: u64,
}

const FLUSH_AT: usize = 1 << 18;

impl StanzaWriter {
    /// A writer over a new unnamed temporary file.
    pub fn new() -> io::Result<StanzaWriter> {
        Ok(StanzaWriter {
            file: Arc::new(tempfile::tempfile()?),
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            flushed: 0,
        })
    }

    /// Appends one stanza.
    pub fn add(&mut self, stanza: &[u8]) -> io::Result<Stanza> {
        let len = u32::try_from(stanza.len())
            .map_err(|_| io::Error::other("a Packages stanza of more than 4 GiB"))?;
        let at = self.flushed + self.buf.len() as u64;
        self.buf.extend_from_slice(stanza);
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(Stanza {
            file: Arc::clone(&self.file),
            at,
            len,
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.write_all_at(&self.buf, self.flushed)?;
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is buffered: every stanza added can now be read.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_read_back_in_any_order_across_flushes() {
        let mut w = StanzaWriter::new().unwrap();
        let big = vec![b'x'; FLUSH_AT + 10];
        let a = w.add(b"Package: a\n\n").unwrap();
        let b = w.add(&big).unwrap();
        let c = w.add(b"Package: c\n\n").unwrap();
        w.finish().unwrap();
        let (mut out, mut window) = (Vec::new(), Window::default());
        for s in [&c, &a, &b, &a] {
            s.read_into(&mut window, &mut out).unwrap();
        }
        let mut want = b"Package: c\n\nPackage: a\n\n".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"Package: a\n\n");
        assert_eq!(out, want);
        assert_eq!(a.len, 12);
    }

    #[test]
    fn stanzas_of_two_files_are_not_mixed() {
        let (mut one, mut two) = (StanzaWriter::new().unwrap(), StanzaWriter::new().unwrap());
        let a = one.add(b"Package: a\n\n").unwrap();
        let b = two.add(b"Package: b\n\n").unwrap();
        one.finish().unwrap();
        two.finish().unwrap();
        let (mut out, mut window) = (Vec::new(), Window::default());
        for s in [&a, &b, &a] {
            s.read_into(&mut window, &mut out).unwrap();
        }
        assert_eq!(out, b"Package: a\n\nPackage: b\n\nPackage: a\n\n");
    }
}
