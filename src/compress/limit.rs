//! The bound on what a decoder may produce.

use std::io::{self, Read};

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
}
