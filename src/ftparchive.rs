//! `elirepo packages`: a drop-in for `apt-ftparchive packages`.
//!
//! This module runs apt-ftparchive's `packages` command for arguments already
//! read ([`PackagesArgs`]; the binary reads apt-ftparchive's command line into
//! them, the library parses no argv): scan the tree ([`crate::scan`]), read
//! every .deb ([`crate::deb`]), write the stanzas ([`crate::index`]). The
//! output is byte-identical to apt-ftparchive's; the one deliberate difference
//! is that a .deb that cannot be read makes the run fail (after writing the
//! others) instead of being skipped with exit status 0.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::build::stanzas::{Stanza, StanzaWriter, Window};
use crate::deb::{self, DebError};
use crate::index::{write_stanza, Overrides, StanzaOptions};
use crate::progress::Progress;
use crate::scan::{self, Patterns};

/// Errors that stop `elirepo packages` before it writes anything.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackagesError {
    /// The directory to scan cannot be resolved.
    #[error("{}: cannot scan: {source}", dir.display())]
    Dir {
        /// The directory given.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The override file cannot be read.
    #[error("{}: cannot read override file: {source}", path.display())]
    Override {
        /// The override file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The temporary file of the stanzas cannot be written or read back.
    #[error("the temporary file of the stanzas: {0}")]
    Stanzas(#[source] io::Error),
    /// Writing the output failed.
    #[error("writing the index: {0}")]
    Output(#[source] io::Error),
}

/// The arguments of `packages`, as apt-ftparchive's command line gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagesArgs {
    /// Directory to scan, as given.
    pub dir: OsString,
    /// Override file (an empty argument means none).
    pub override_file: Option<PathBuf>,
    /// Prefix joined to each Filename.
    pub path_prefix: Option<String>,
    /// Only `*_ARCH.deb` (and `*_all.deb`) files.
    pub arch: Option<String>,
    /// Include `*_all.deb` with an architecture.
    pub include_all: bool,
    /// Fields to write.
    pub stanza: StanzaOptions,
    /// Cache file (`--db`).
    pub db: Option<PathBuf>,
}

/// apt's `flCombine`: join a path prefix to a file name.
pub fn combine(prefix: &str, file: &[u8]) -> Vec<u8> {
    if file.is_empty() {
        return Vec::new();
    }
    if file[0] == b'/' || prefix.is_empty() || file.starts_with(b"./") {
        return file.to_vec();
    }
    let mut out = prefix.as_bytes().to_vec();
    if !prefix.ends_with('/') {
        out.push(b'/');
    }
    out.extend_from_slice(file);
    out
}

/// What a `packages` run did.
#[derive(Debug, Default)]
pub struct PackagesSummary {
    /// Stanzas written.
    pub written: usize,
    /// Files that could not be read, with why.
    pub failed: Vec<DebError>,
    /// Warnings (malformed override lines).
    pub warnings: Vec<String>,
}

/// Runs `packages`, writing the index to `out`.
pub fn run_packages(
    args: &PackagesArgs,
    out: &mut dyn Write,
) -> Result<PackagesSummary, PackagesError> {
    let overrides = match &args.override_file {
        Some(p) => Overrides::read(p).map_err(|source| PackagesError::Override {
            path: p.clone(),
            source,
        })?,
        None => Overrides::default(),
    };
    let patterns = Patterns::packages(args.arch.as_deref(), args.include_all);
    let found = scan::scan(&args.dir, &patterns).map_err(|source| PackagesError::Dir {
        dir: PathBuf::from(&args.dir),
        source,
    })?;
    // The paths to read, and the few names that differ from their path (links
    // listed under their real path): not a second copy of every path.
    let mut paths: Vec<PathBuf> = Vec::with_capacity(found.len());
    let mut other_names: HashMap<usize, Vec<u8>> = HashMap::new();
    for (i, f) in found.into_iter().enumerate() {
        if f.name != f.path.as_os_str().as_bytes() {
            other_names.insert(i, f.name);
        }
        paths.push(f.path);
    }
    let mut cache = args.db.as_deref().map(crate::cache::Cache::load);
    let mut summary = PackagesSummary {
        warnings: overrides.warnings.clone(),
        ..Default::default()
    };
    // Each stanza is written to a temporary file as its .deb is read (in no
    // particular order); only where it is stays in memory, and the index is
    // written from the file in the order of the scan.
    let mut stanzas = StanzaWriter::new().map_err(PackagesError::Stanzas)?;
    let mut placed: Vec<Option<Stanza>> = Vec::new();
    placed.resize_with(paths.len(), || None);
    let mut failed: Vec<(usize, DebError)> = Vec::new();
    let mut stored: io::Result<()> = Ok(());
    let mut buf = Vec::with_capacity(4096);
    deb::for_each_info(
        &paths,
        cache.as_mut(),
        &mut |_| Progress::none(),
        &mut |i, info| match info {
            Ok(info) if stored.is_ok() => {
                let path = paths[i].as_os_str().as_bytes();
                let file = other_names.get(&i).map_or(path, Vec::as_slice);
                let name = match &args.path_prefix {
                    Some(p) => combine(p, file),
                    None => file.to_vec(),
                };
                buf.clear();
                write_stanza(
                    &mut buf,
                    &info.control,
                    &info.hashes,
                    &name,
                    &args.stanza,
                    &overrides,
                    args.arch.as_deref(),
                );
                match stanzas.add(&buf) {
                    Ok(s) => placed[i] = Some(s),
                    Err(e) => stored = Err(e),
                }
            }
            Ok(_) => {}
            Err(e) => failed.push((i, e)),
        },
    );
    stored.map_err(PackagesError::Stanzas)?;
    stanzas.finish().map_err(PackagesError::Stanzas)?;
    if let Some(c) = cache.as_mut() {
        summary.warnings.extend(c.note.clone());
        if let Err(e) = c.save() {
            summary.warnings.push(format!("cannot save the cache: {e}"));
        }
    }
    drop(cache);
    failed.sort_by_key(|(i, _)| *i);
    summary.failed = failed.into_iter().map(|(_, e)| e).collect();
    let mut window = Window::default();
    buf.clear();
    for s in placed.iter().flatten() {
        s.read_into(&mut window, &mut buf)
            .map_err(PackagesError::Stanzas)?;
        summary.written += 1;
        if buf.len() >= 1 << 16 {
            out.write_all(&buf).map_err(PackagesError::Output)?;
            buf.clear();
        }
    }
    out.write_all(&buf).map_err(PackagesError::Output)?;
    out.flush().map_err(PackagesError::Output)?;
    Ok(summary)
}

/// The directory argument as text, for messages.
pub fn shown(dir: &OsStr) -> String {
    dir.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_joining_follows_flcombine() {
        assert_eq!(combine("deb", b"pool/x.deb"), b"deb/pool/x.deb");
        assert_eq!(combine("deb/", b"pool/x.deb"), b"deb/pool/x.deb");
        assert_eq!(combine("deb", b"./pool/x.deb"), b"./pool/x.deb");
        assert_eq!(combine("deb", b"/abs/x.deb"), b"/abs/x.deb");
    }
}
