//! `elirepo packages`: a drop-in for `apt-ftparchive packages`.
//!
//! This module runs apt-ftparchive's `packages` command for arguments already
//! read ([`PackagesArgs`]; the binary reads apt-ftparchive's command line into
//! them, the library parses no argv): scan the tree ([`crate::scan`]), read
//! every .deb ([`crate::deb`]), write the stanzas ([`crate::index`]). The
//! output is byte-identical to apt-ftparchive's; the one deliberate difference
//! is that a .deb that cannot be read makes the run fail (after writing the
//! others) instead of being skipped with exit status 0.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::path::PathBuf;

use crate::deb::{self, DebError};
use crate::index::{write_stanza, Overrides, StanzaOptions};
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
    let paths: Vec<PathBuf> = found.iter().map(|f| f.path.clone()).collect();
    let mut cache = args.db.as_deref().map(crate::cache::Cache::load);
    let infos = deb::read_infos(&paths, cache.as_mut());
    let mut summary = PackagesSummary {
        warnings: overrides.warnings.clone(),
        ..Default::default()
    };
    if let Some(c) = cache.as_mut() {
        summary.warnings.extend(c.note.clone());
        if let Err(e) = c.save() {
            summary.warnings.push(format!("cannot save the cache: {e}"));
        }
    }
    let mut buf = Vec::with_capacity(4096);
    for (f, info) in found.iter().zip(infos) {
        match info {
            Ok(info) => {
                let name = match &args.path_prefix {
                    Some(p) => combine(p, &f.name),
                    None => f.name.clone(),
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
                out.write_all(&buf).map_err(PackagesError::Output)?;
                summary.written += 1;
            }
            Err(e) => summary.failed.push(e),
        }
    }
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
