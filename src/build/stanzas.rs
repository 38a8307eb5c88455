//! The Packages stanzas of a build's inputs, on disk: each input keeps where its
//! stanza is (a few bytes), not the stanza, so that memory does not grow with
//! the size of the control paragraphs. The stanzas are written once, while the
//! inputs are read (a stanza does not depend on the index's architecture: a
//! build has no overrides), into an unnamed temporary file, and each index
//! reads the ones it lists back in its own order.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Where one stanza is.
#[derive(Debug, Clone)]
pub(super) struct Stanza {
    file: Arc<File>,
    at: u64,
    len: u32,
}

impl Stanza {
    /// Appends the stanza's bytes to `out`.
    pub fn read_into(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.resize(start + self.len as usize, 0);
        self.file.read_exact_at(&mut out[start..], self.at)
    }
}

/// Writes stanzas; [`StanzaWriter::finish`] before any is read.
pub(super) struct StanzaWriter {
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
        let mut out = Vec::new();
        for s in [&c, &a, &b] {
            s.read_into(&mut out).unwrap();
        }
        let mut want = b"Package: c\n\nPackage: a\n\n".to_vec();
        want.extend_from_slice(&big);
        assert_eq!(out, want);
        assert_eq!(a.len, 12);
    }
}
