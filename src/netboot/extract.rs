//! A kernel out of a linux-image .deb: `boot/vmlinuz-*` streamed from `data.tar` into a
//! directory, every read bounded.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::error::NetbootError;

/// Most bytes of decompressed `data.tar` [`extract_kernel`] reads looking for the kernel: a
/// bound on the time a decompression bomb can take (Debian's kernel packages unpack to
/// well under 1 GiB, and their `boot/` comes first).
pub const MAX_DATA_TAR: u64 = 4 << 30;

/// Streams `boot/vmlinuz-*` out of a linux-image .deb into `dir`; returns its path and version.
///
/// Only a regular file is taken (a link in a package is never followed), under its version
/// alone (`dir/vmlinuz-<version>`, no `/` in it), into a file that must not exist yet (a link
/// planted in `dir` is not written through). GNU long names and pax headers are bounded
/// ([`crate::deb::MAX_TAR_EXTENSION`]), and so is the `data.tar` read ([`MAX_DATA_TAR`]).
pub fn extract_kernel(
    deb: &Path,
    dir: &Path,
    want: Option<&str>,
    limit: u64,
) -> Result<(PathBuf, String), NetbootError> {
    extract_kernel_capped(deb, dir, want, limit, MAX_DATA_TAR)
}

/// [`extract_kernel`], reading at most `max_data` bytes of `data.tar`.
pub(super) fn extract_kernel_capped(
    deb: &Path,
    dir: &Path,
    want: Option<&str>,
    limit: u64,
    max_data: u64,
) -> Result<(PathBuf, String), NetbootError> {
    let data = crate::deb::open_data(deb).map_err(|source| NetbootError::Deb {
        path: deb.to_path_buf(),
        source,
    })?;
    let data = crate::compress::LimitReader::new(data, max_data, "the decompressed stream");
    let mut seen = Vec::new();
    let mut found = None;
    crate::deb::walk_tar(data, |raw, entry| -> Result<bool, Walk> {
        let name = String::from_utf8_lossy(raw).into_owned();
        let clean = name.strip_prefix("./").unwrap_or(&name);
        let Some(version) = clean.strip_prefix("boot/vmlinuz-") else {
            return Ok(false);
        };
        if version.is_empty() || version.contains('/') {
            return Ok(false);
        }
        if !entry.header().entry_type().is_file() {
            // A link inside a package is never followed: it could point anywhere.
            seen.push(format!("{version} (not a regular file)"));
            return Ok(false);
        }
        seen.push(version.to_string());
        if want.is_some_and(|w| w != version) {
            return Ok(false);
        }
        let size = entry.size();
        let out = dir.join(format!("vmlinuz-{version}"));
        copy_kernel(deb, clean, entry, size, limit, &out).map_err(Walk::Kernel)?;
        found = Some((out, version.to_string()));
        Ok(true)
    })
    .map_err(|e| match e {
        Walk::Tar(source) => NetbootError::DataTar {
            path: deb.to_path_buf(),
            source,
        },
        Walk::Kernel(e) => e,
    })?;
    found.ok_or_else(|| NetbootError::NoKernelInDeb {
        path: deb.to_path_buf(),
        want: want.map(str::to_string),
        found: seen,
    })
}

/// Copies the kernel `name` of package `deb` (`size` bytes of `data`, at most `limit`) into
/// `out`, a new file: never through a link (or over a file) already there.
fn copy_kernel(
    deb: &Path,
    name: &str,
    data: impl Read,
    size: u64,
    limit: u64,
    out: &Path,
) -> Result<(), NetbootError> {
    if size > limit {
        return Err(NetbootError::KernelEntryOverLimit {
            path: deb.to_path_buf(),
            entry: name.to_string(),
            size,
            limit,
        });
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| NetbootError::io(out, e))?;
    let copied =
        io::copy(&mut data.take(size), &mut file).map_err(|source| NetbootError::KernelEntry {
            path: deb.to_path_buf(),
            entry: name.to_string(),
            source,
        })?;
    if copied != size {
        return Err(NetbootError::KernelEntryTruncated {
            path: deb.to_path_buf(),
            entry: name.to_string(),
            copied,
            size,
        });
    }
    Ok(())
}

/// Why the walk of `data.tar` stopped: the tar stream itself, or a kernel entry.
enum Walk {
    Tar(io::Error),
    Kernel(NetbootError),
}

impl From<io::Error> for Walk {
    fn from(e: io::Error) -> Self {
        Walk::Tar(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_tar_read_for_a_kernel_is_bounded() {
        use std::io::Write;
        // data.tar.gz: 64 MiB of zeros in "./junk", then the kernel; read with a 16 MiB cap.
        let mut junk = tar::Header::new_gnu();
        junk.set_path("./junk").unwrap();
        junk.set_size(64 << 20);
        junk.set_cksum();
        let mut kernel = tar::Header::new_gnu();
        kernel.set_path("./boot/vmlinuz-1").unwrap();
        kernel.set_size(6);
        kernel.set_cksum();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(junk.as_bytes()).unwrap();
        gz.write_all(&vec![0; 64 << 20]).unwrap();
        gz.write_all(kernel.as_bytes()).unwrap();
        gz.write_all(b"kernel").unwrap();
        gz.write_all(&[0; 506 + 1024]).unwrap();
        let data = gz.finish().unwrap();
        let mut deb = b"!<arch>\n".to_vec();
        for (name, body) in [("debian-binary", &b"2.0\n"[..]), ("data.tar.gz", &data[..])] {
            let head = format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                100644,
                body.len()
            );
            deb.extend_from_slice(head.as_bytes());
            deb.extend_from_slice(body);
            if body.len() % 2 == 1 {
                deb.push(b'\n');
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.deb");
        fs::write(&p, deb).unwrap();
        let e = extract_kernel_capped(&p, dir.path(), None, 1 << 20, 16 << 20).unwrap_err();
        assert!(
            e.to_string()
                .contains("data.tar: the decompressed stream expands to more than 16777216"),
            "{e}"
        );
        let (k, v) = extract_kernel_capped(&p, dir.path(), None, 1 << 20, 128 << 20).unwrap();
        assert_eq!(
            (fs::read(k).unwrap(), v.as_str()),
            (b"kernel".to_vec(), "1")
        );
    }
}
