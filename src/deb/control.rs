//! The control member of a .deb: decompressed within a budget shared by all the package's
//! control members, walked for its `control` file.

use std::io::{self, Read};

use super::tar::{tar_name, walk_tar};
use super::{DebErrorKind, MAX_CONTROL_FILE, MAX_CONTROL_TAR};
use crate::compress::{Compression, LimitReader};

/// Decompresses a control member and returns its `control` file (the last one, as apt).
///
/// `used` counts the decompressed bytes of all the package's control members so far: they
/// share one [`MAX_CONTROL_TAR`] budget, so that a .deb repeating its control member cannot
/// multiply the work.
pub(super) fn extract_control<R: Read>(
    member: R,
    c: Compression,
    shown: &str,
    used: &mut u64,
) -> Result<Vec<u8>, DebErrorKind> {
    let member_err = |e: io::Error| DebErrorKind::Member(shown.to_string(), e);
    let dec = c.decoder(member).map_err(member_err)?;
    let mut limited = LimitReader::continuing(dec, MAX_CONTROL_TAR, *used, "control data");
    let mut found: Option<Vec<u8>> = None;
    let walked = walk_tar(&mut limited, |name, entry| {
        if tar_name(name) != b"control" {
            return Ok(false);
        }
        let size = entry.size();
        if size > MAX_CONTROL_FILE {
            return Err(DebErrorKind::ControlTooLarge(size));
        }
        let mut buf = Vec::with_capacity(size as usize);
        entry.take(size).read_to_end(&mut buf).map_err(member_err)?;
        // tar-rs ends an entry quietly where its stream ends: a short file is a truncation.
        if (buf.len() as u64) < size {
            return Err(member_err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("control is truncated ({} of {size} bytes)", buf.len()),
            )));
        }
        found = Some(buf);
        Ok(false)
    });
    *used = limited.count();
    walked.map_err(|e| match e {
        DebErrorKind::Io(e) => member_err(e),
        other => other,
    })?;
    found.ok_or_else(|| DebErrorKind::NoControlFile(shown.to_string()))
}
