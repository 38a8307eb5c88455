//! Walking the tar stream of a .deb member within bounds: the names tar-rs would give the
//! entries, with GNU long names and pax headers read only when they are small.

use std::io::{self, Read};

/// Strips apt's `./` prefix from a tar member name.
pub(super) fn tar_name(path: &[u8]) -> &[u8] {
    match path.strip_prefix(b"./") {
        Some(rest) if !rest.is_empty() => rest,
        _ => path,
    }
}

/// Most bytes of one GNU long name, long link or pax header accepted in a tar member (Linux's
/// `PATH_MAX` is 4096; pax headers also carry extended attributes).
pub const MAX_TAR_EXTENSION: u64 = 64 << 10;

/// Walks the entries of a tar stream as tar-rs's `entries()` does, but reads GNU long names
/// and pax headers itself so that their size is checked before they are read into memory:
/// tar-rs reads them whole, so a compressed 1 GiB long name costs 1 GiB of heap.
///
/// `f` gets each entry that is not an extension header, with its full name (GNU long name,
/// else pax `path`, else the header's, as tar-rs picks); it returns `true` to stop. A pax
/// `size` record (files over 8 GiB) is refused: the raw walk cannot honour it.
pub(crate) fn walk_tar<R: Read, E: From<io::Error>>(
    r: R,
    mut f: impl FnMut(&[u8], &mut tar::Entry<'_, R>) -> Result<bool, E>,
) -> Result<(), E> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut archive = tar::Archive::new(r);
    let mut long_name: Option<Vec<u8>> = None;
    let mut pax: Option<Vec<u8>> = None;
    for entry in archive.entries()?.raw(true) {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        let what = if kind.is_gnu_longname() {
            "GNU long name"
        } else if kind.is_gnu_longlink() {
            "GNU long link name"
        } else if kind.is_pax_local_extensions() {
            "pax header"
        } else if kind.is_pax_global_extensions() {
            "pax global header"
        } else {
            let name = match (&long_name, &pax) {
                (Some(n), _) => n.strip_suffix(b"\0").unwrap_or(n).to_vec(),
                (None, Some(p)) => tar::PaxExtensions::new(p)
                    .filter_map(Result::ok)
                    .find(|x| x.key_bytes() == b"path")
                    .map(|x| x.value_bytes().to_vec())
                    .unwrap_or_else(|| entry.path_bytes().into_owned()),
                (None, None) => entry.path_bytes().into_owned(),
            };
            (long_name, pax) = (None, None);
            if f(&name, &mut entry)? {
                return Ok(());
            }
            continue;
        };
        let size = entry.size();
        if size > MAX_TAR_EXTENSION {
            return Err(bad(format!(
                "a {what} of {size} bytes (at most {MAX_TAR_EXTENSION} accepted)"
            ))
            .into());
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry).take(size).read_to_end(&mut data)?;
        let slot = if kind.is_gnu_longname() {
            &mut long_name
        } else if kind.is_pax_local_extensions() {
            if tar::PaxExtensions::new(&data)
                .filter_map(Result::ok)
                .any(|x| x.key_bytes() == b"size")
            {
                return Err(bad("a pax size record (a file over 8 GiB)".into()).into());
            }
            &mut pax
        } else {
            continue; // link names and global headers do not matter here
        };
        if slot.replace(data).is_some() {
            return Err(bad(format!("two {what}s describing the same member")).into());
        }
    }
    if long_name.is_some() || pax.is_some() {
        return Err(bad("the archive ends after a header describing a member".into()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_tar_names_entries_as_tar_rs_does() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        // A GNU long name, a pax path, a plain name.
        let long = format!("./{}/control", "d".repeat(150));
        b.append_data(&mut h.clone(), &long, &b"x"[..]).unwrap();
        b.append_pax_extensions([("path", &b"pax/name"[..]), ("mtime", b"1")])
            .unwrap();
        b.append_data(&mut h.clone(), "short", &b"y"[..]).unwrap();
        b.append_data(&mut h, "./control", &b"z"[..]).unwrap();
        let t = b.into_inner().unwrap();
        let mut names = Vec::new();
        walk_tar::<_, io::Error>(&t[..], |n, _| {
            names.push(n.to_vec());
            Ok(false)
        })
        .unwrap();
        let want: Vec<Vec<u8>> = tar::Archive::new(&t[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path_bytes().into_owned())
            .collect();
        assert_eq!(names, want);
        assert_eq!(names[1], b"pax/name");
        // Stopping early.
        let mut n = 0;
        walk_tar::<_, io::Error>(&t[..], |_, _| {
            n += 1;
            Ok(true)
        })
        .unwrap();
        assert_eq!(n, 1);
        // A long name describing nothing, two long names for one member.
        let first = &t[..1024]; // the long-name header and its data block
        let dangling = [first, &[0u8; 1024][..]].concat();
        let twice = [first, first, &t[1024..]].concat();
        for (bytes, want) in [
            (dangling, "ends after a header"),
            (twice, "two GNU long names"),
        ] {
            let e = walk_tar::<_, io::Error>(&bytes[..], |_, _| Ok(false)).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
    }
}
