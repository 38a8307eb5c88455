//! A minimal writer of newc ("070701") cpio archives, the format the Linux kernel unpacks as an
//! initramfs. Deterministic: inode numbers count up from 1, owner root, mtime 0.

use std::io::{self, Read, Write};

/// Writes a newc archive entry by entry; [`CpioWriter::finish`] adds the trailer.
pub struct CpioWriter<W: Write> {
    out: W,
    ino: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    /// An archive written to `out`.
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            ino: 0,
            written: 0,
        }
    }

    fn header(&mut self, name: &str, mode: u32, size: u64) -> io::Result<()> {
        let size = u32::try_from(size).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: too large for a newc cpio archive (4 GiB)"),
            )
        })?;
        self.ino += 1;
        let ino = if name == "TRAILER!!!" { 0 } else { self.ino };
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let head = format!(
            "070701{ino:08X}{mode:08X}{:08X}{:08X}{nlink:08X}{:08X}{size:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            0, 0, 0, 0, 0, 0, 0, name.len() + 1, 0
        );
        self.put(head.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..n])
    }

    /// A directory `name` (no leading `/`).
    pub fn dir(&mut self, name: &str) -> io::Result<()> {
        self.header(name, 0o040755, 0)
    }

    /// A regular file `name` with permission bits `perm` holding `data`.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.header(name, 0o100000 | (perm & 0o7777), data.len() as u64)?;
        self.put(data)?;
        self.pad()
    }

    /// A regular file `name` whose `len` bytes come from `data`.
    pub fn file_from(
        &mut self,
        name: &str,
        perm: u32,
        len: u64,
        data: &mut dyn Read,
    ) -> io::Result<()> {
        self.header(name, 0o100000 | (perm & 0o7777), len)?;
        let copied = io::copy(&mut Read::take(&mut *data, len), &mut self.out)?;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name}: {copied} bytes read, {len} expected"),
            ));
        }
        self.written += len;
        self.pad()
    }

    /// A symbolic link `name` pointing to `target`.
    pub fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        self.header(name, 0o120777, target.len() as u64)?;
        self.put(target.as_bytes())?;
        self.pad()
    }

    /// Writes the trailer and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.header("TRAILER!!!", 0, 0)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_newc_and_aligned() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("bin").unwrap();
        w.file("init", 0o755, b"#!/bin/sh\n").unwrap();
        w.symlink("sh", "busybox").unwrap();
        let out = w.finish().unwrap();
        assert!(out.starts_with(b"070701"));
        assert_eq!(out.len() % 4, 0);
        // Each header starts on a 4-byte boundary: find all five magics.
        let heads: Vec<usize> = (0..out.len() - 6)
            .filter(|&i| &out[i..i + 6] == b"070701")
            .collect();
        assert_eq!(heads.len(), 4, "{heads:?}");
        assert!(heads.iter().all(|h| h % 4 == 0));
        // The file's mode and size fields.
        let f = heads[1];
        assert_eq!(&out[f + 14..f + 22], b"000081ED");
        assert_eq!(&out[f + 54..f + 62], b"0000000A");
        let tail = String::from_utf8_lossy(&out[heads[3]..]);
        assert!(tail.contains("TRAILER!!!"));
    }
}
