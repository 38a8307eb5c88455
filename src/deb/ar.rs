//! The ar container of a .deb, read as a stream the way apt's `ARArchive` accepts it: the
//! `!<arch>` magic, 60-byte member headers with apt's number parsing, GNU `name/` and BSD
//! `#1/len` names, the padding byte after odd-sized members, and (when the archive's length is
//! known) members that must fit inside it. Over a seekable reader of known length, the
//! members not read are skipped by seeking.

use std::io::{self, Read, Seek, SeekFrom};

use super::DebErrorKind;

/// One ar member header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArHeader {
    /// The member name, trailing spaces and `/` removed (or the BSD long name).
    pub name: Vec<u8>,
    /// Size of the member's data in bytes.
    pub size: u64,
}

/// Streams the members of an ar archive, as apt's `ARArchive` accepts them.
///
/// When the total length is known, every announced member (and its padding byte)
/// must fit inside it and the members must fill the archive exactly.
pub struct ArReader<R> {
    inner: R,
    /// Bytes of the archive not yet consumed, when known.
    left: Option<u64>,
    /// Unread bytes of the current member.
    member_left: u64,
    /// Padding byte owed after the current member.
    pad: bool,
    /// Skips bytes without reading them ([`ArReader::seekable`]).
    skip: Option<fn(&mut R, u64) -> io::Result<()>>,
}

pub(super) const AR_MAGIC: &[u8; 8] = b"!<arch>\n";

/// apt's `StrToNum`: all spaces is zero; otherwise leading spaces, then digits
/// up to the first non-digit, at least one digit.
fn ar_number(field: &[u8], radix: u32) -> Option<u64> {
    let s: Vec<u8> = field.iter().copied().take_while(|&b| b != 0).collect();
    let s = &s[s.iter().take_while(|&&b| b == b' ').count()..];
    if s.is_empty() {
        return Some(0);
    }
    let s = &s[s
        .iter()
        .take_while(|b| crate::control::is_space(**b))
        .count()..];
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let digits = s
        .iter()
        .take_while(|b| (**b as char).is_digit(radix))
        .count();
    if digits == 0 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in &s[..digits] {
        n = n
            .checked_mul(radix as u64)?
            .checked_add((b as char).to_digit(radix)? as u64)?;
    }
    Some(n)
}

impl<R: Read + Seek> ArReader<R> {
    /// [`ArReader::new`] over a reader of the archive, `total_len` bytes long, that can seek:
    /// what is left of a member is skipped by seeking over it. Every member must fit in
    /// `total_len` (checked at its header), so a skip never goes past the end; whoever
    /// reads the file to its end checks that it still has that length.
    pub fn seekable(inner: R, total_len: u64) -> Result<Self, DebErrorKind> {
        let mut ar = ArReader::new(inner, Some(total_len))?;
        ar.skip = Some(|r, n| {
            let n = i64::try_from(n).map_err(io::Error::other)?;
            r.seek(SeekFrom::Current(n)).map(drop)
        });
        Ok(ar)
    }
}

impl<R: Read> ArReader<R> {
    /// Checks the ar magic of `inner`; `total_len` is the archive's length if known.
    pub fn new(mut inner: R, total_len: Option<u64>) -> Result<Self, DebErrorKind> {
        let mut magic = [0u8; 8];
        let got = read_full(&mut inner, &mut magic)?;
        if got < magic.len() {
            return Err(if got == 0 {
                DebErrorKind::Truncated("empty file".into())
            } else {
                DebErrorKind::BadMagic
            });
        }
        if &magic != AR_MAGIC {
            return Err(DebErrorKind::BadMagic);
        }
        Ok(ArReader {
            inner,
            left: total_len.map(|n| n.saturating_sub(8)),
            member_left: 0,
            pad: false,
            skip: None,
        })
    }

    /// Skips what is left of the current member, then reads the next header.
    pub fn next_member(&mut self) -> Result<Option<ArHeader>, DebErrorKind> {
        self.skip_rest()?;
        if self.left == Some(0) {
            return Ok(None);
        }
        let mut head = [0u8; 60];
        let got = read_full(&mut self.inner, &mut head)?;
        if got == 0 && self.left.is_none() {
            return Ok(None);
        }
        if got < head.len() {
            return Err(DebErrorKind::Truncated(format!(
                "{got} bytes where a 60-byte member header should be"
            )));
        }
        self.consume(60);
        let raw_name = &head[0..16];
        let shown = String::from_utf8_lossy(raw_name).trim_end().to_string();
        let bad = || DebErrorKind::BadHeader(format!("member {shown:?}"));
        ar_number(&head[16..28], 10).ok_or_else(bad)?;
        ar_number(&head[28..34], 10).ok_or_else(bad)?;
        ar_number(&head[34..40], 10).ok_or_else(bad)?;
        ar_number(&head[40..48], 8).ok_or_else(bad)?;
        let mut size = ar_number(&head[48..58], 10).ok_or_else(bad)?;
        let name = if raw_name.starts_with(b"#1/") {
            let len = ar_number(&head[3..10], 10)
                .filter(|&l| l < 300)
                .ok_or_else(bad)?;
            let mut long = vec![0u8; len as usize];
            if read_full(&mut self.inner, &mut long)? < long.len() {
                return Err(DebErrorKind::Truncated(format!(
                    "BSD name of member {shown:?}"
                )));
            }
            self.consume(len);
            size = size.checked_sub(len).ok_or_else(|| {
                DebErrorKind::BadHeader(format!("member {shown:?} is smaller than its name"))
            })?;
            let end = long.iter().position(|&b| b == 0).unwrap_or(long.len());
            long.truncate(end);
            long
        } else {
            let keep = raw_name
                .iter()
                .rposition(|&b| b != b' ' && b != b'/')
                .map_or(0, |i| i + 1);
            raw_name[..keep].to_vec()
        };
        let pad = size % 2 == 1;
        if let Some(left) = self.left {
            let need = size + pad as u64;
            if need > left {
                return Err(DebErrorKind::Truncated(format!(
                    "member {} announces {size} bytes but only {left} remain",
                    String::from_utf8_lossy(&name)
                )));
            }
        }
        self.member_left = size;
        self.pad = pad;
        Ok(Some(ArHeader { name, size }))
    }

    /// A reader over the rest of the current member's data.
    pub fn member(&mut self) -> MemberReader<'_, R> {
        MemberReader { ar: self }
    }

    fn consume(&mut self, n: u64) {
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(n);
        }
    }

    fn skip_rest(&mut self) -> Result<(), DebErrorKind> {
        let owed = self.member_left + self.pad as u64;
        if owed == 0 {
            return Ok(());
        }
        if let (Some(skip), Some(_)) = (self.skip, self.left) {
            skip(&mut self.inner, owed)?;
            self.consume(owed);
            self.member_left = 0;
            self.pad = false;
            return Ok(());
        }
        let skipped = io::copy(&mut (&mut self.inner).take(owed), &mut io::sink())?;
        self.consume(skipped);
        let missing_pad_at_eof = self.left.is_none() && self.pad && skipped + 1 == owed;
        if skipped < owed && !missing_pad_at_eof {
            return Err(DebErrorKind::Truncated(format!(
                "{} bytes missing",
                owed - skipped
            )));
        }
        self.member_left = 0;
        self.pad = false;
        Ok(())
    }

    /// Gives back the underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// The data of the current ar member; ends with an error if the file is shorter.
pub struct MemberReader<'a, R> {
    ar: &'a mut ArReader<R>,
}

impl<R: Read> Read for MemberReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ar.member_left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(self.ar.member_left.min(usize::MAX as u64) as usize);
        let n = self.ar.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive member is truncated",
            ));
        }
        self.ar.member_left -= n as u64;
        self.ar.consume(n as u64);
        Ok(n)
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ar_numbers_follow_apt() {
        assert_eq!(ar_number(b"          ", 10), Some(0));
        assert_eq!(ar_number(b"123       ", 10), Some(123));
        assert_eq!(ar_number(b"  42x     ", 10), Some(42));
        assert_eq!(ar_number(b"abc       ", 10), None);
        assert_eq!(ar_number(b"100644  ", 8), Some(0o100644));
        assert_eq!(ar_number(b"99999999999999999999999", 10), None);
    }
}
