//! `elirepo packages`: a drop-in for `apt-ftparchive packages`.
//!
//! This module owns the command-line contract of apt-ftparchive's `packages`
//! command (its options, accepted before or after the command word, its `-o`
//! configuration keys) and runs it: scan the tree ([`crate::scan`]), read every
//! .deb ([`crate::deb`]), write the stanzas ([`crate::index`]). The output is
//! byte-identical to apt-ftparchive's; the one deliberate difference is that a
//! .deb that cannot be read makes the run fail (after writing the others)
//! instead of being skipped with exit status 0.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::deb::{self, DebError};
use crate::index::{write_stanza, Overrides, StanzaOptions};
use crate::scan::{self, Patterns};

/// A command line that apt-ftparchive would not accept either.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

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

/// Parsed arguments of `packages`.
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

/// apt's `StringToBool`.
fn apt_bool(value: &str, default: bool) -> bool {
    match value.to_ascii_lowercase().as_str() {
        "no" | "false" | "without" | "off" | "disable" => false,
        "yes" | "true" | "with" | "on" | "enable" => true,
        v => v.parse::<i64>().map_or(default, |n| n != 0),
    }
}

/// Parses apt-ftparchive's arguments (everything after the program name,
/// `packages` included, options anywhere).
pub fn parse_args(args: &[OsString]) -> Result<PackagesArgs, UsageError> {
    let mut config: Vec<(String, String)> = Vec::new();
    let mut words: Vec<OsString> = Vec::new();
    let mut it = args.iter();
    let set = |config: &mut Vec<(String, String)>, k: &str, v: &str| {
        config.push((k.to_ascii_lowercase(), v.to_string()))
    };
    let value = |it: &mut std::slice::Iter<OsString>, opt: &str| -> Result<String, UsageError> {
        it.next()
            .map(|v| v.to_string_lossy().into_owned())
            .ok_or_else(|| UsageError(format!("option {opt} needs an argument")))
    };
    while let Some(arg) = it.next() {
        let a = arg.to_string_lossy();
        if a == "--" {
            words.extend(it.by_ref().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            words.push(arg.clone());
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.to_string(), None),
        };
        let hash_switch = |n: &str| match n {
            "md5" => Some("MD5"),
            "sha1" => Some("SHA1"),
            "sha256" => Some("SHA256"),
            "sha512" => Some("SHA512"),
            _ => None,
        };
        match name.as_str() {
            "-o" | "--option" => {
                let kv = match inline {
                    Some(v) => v,
                    None => value(&mut it, "-o")?,
                };
                let (k, v) = kv.split_once('=').ok_or_else(|| {
                    UsageError(format!("option -o {kv:?} is not of the form Key=Value"))
                })?;
                set(&mut config, k, v);
            }
            s if s.starts_with("-o") && s.len() > 2 && !s.starts_with("--") => {
                let (k, v) = s[2..].split_once('=').ok_or_else(|| {
                    UsageError(format!("option {s:?} is not of the form -oKey=Value"))
                })?;
                set(&mut config, k, v);
            }
            "-a" | "--arch" => {
                let v = match inline {
                    Some(v) => v,
                    None => value(&mut it, "-a")?,
                };
                set(&mut config, "APT::FTPArchive::Architecture", &v);
            }
            s if s.starts_with("-a") && s.len() > 2 && !s.starts_with("--") => {
                set(&mut config, "APT::FTPArchive::Architecture", &s[2..]);
            }
            "-d" | "--db" => {
                let v = match inline {
                    Some(v) => v,
                    None => value(&mut it, "--db")?,
                };
                set(&mut config, "APT::FTPArchive::DB", &v);
            }
            "-s" | "--source-override" => {
                if inline.is_none() {
                    value(&mut it, "--source-override")?;
                }
            }
            "-q" | "-qq" | "--quiet" | "--readonly" | "--delink" | "--no-delink" | "--contents"
            | "--no-contents" => {}
            s if s.starts_with("--no-") && hash_switch(&s[5..]).is_some() => {
                set(
                    &mut config,
                    &format!("APT::FTPArchive::{}", hash_switch(&s[5..]).unwrap()),
                    "false",
                );
            }
            s if s.starts_with("--") && hash_switch(&s[2..]).is_some() => {
                let v = inline.unwrap_or_else(|| "true".into());
                set(
                    &mut config,
                    &format!("APT::FTPArchive::{}", hash_switch(&s[2..]).unwrap()),
                    &v,
                );
            }
            other => return Err(UsageError(format!("unknown option {other}"))),
        }
    }
    let get = |key: &str| -> Option<&str> {
        let key = key.to_ascii_lowercase();
        config
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    };
    let flag = |key: &str, default: bool| get(key).map_or(default, |v| apt_bool(v, default));
    let hash = |name: &str| {
        let general = flag(&format!("APT::FTPArchive::{name}"), true);
        flag(&format!("APT::FTPArchive::Packages::{name}"), general)
    };

    match words.first().map(|w| w.as_bytes()) {
        Some(b"packages") => {}
        Some(other) => {
            return Err(UsageError(format!(
                "unsupported command {:?} (elirepo emulates `apt-ftparchive packages`)",
                String::from_utf8_lossy(other)
            )))
        }
        None => return Err(UsageError("missing command word `packages`".into())),
    }
    let rest = &words[1..];
    if rest.is_empty() {
        return Err(UsageError(
            "usage: elirepo packages DIR [OVERRIDE [PATHPREFIX]]".into(),
        ));
    }
    // apt-ftparchive ignores arguments after PATHPREFIX; so do we.
    Ok(PackagesArgs {
        dir: rest[0].clone(),
        override_file: rest.get(1).filter(|o| !o.is_empty()).map(PathBuf::from),
        path_prefix: rest
            .get(2)
            .filter(|p| !p.is_empty())
            .map(|p| p.to_string_lossy().into_owned()),
        arch: get("APT::FTPArchive::Architecture")
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        include_all: flag("APT::FTPArchive::IncludeArchitectureAll", true),
        stanza: StanzaOptions {
            md5: hash("MD5"),
            sha1: hash("SHA1"),
            sha256: hash("SHA256"),
            sha512: hash("SHA512"),
            long_description: flag("APT::FTPArchive::LongDescription", true),
        },
        db: get("APT::FTPArchive::DB")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
    })
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

    fn parse(s: &[&str]) -> Result<PackagesArgs, UsageError> {
        parse_args(&s.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn options_before_and_after_the_command_word() {
        let a = parse(&["--no-md5", "packages", "pool", "--no-sha512", "ov", "pfx"]).unwrap();
        assert!(!a.stanza.md5 && !a.stanza.sha512 && a.stanza.sha1 && a.stanza.sha256);
        assert_eq!(a.override_file, Some(PathBuf::from("ov")));
        assert_eq!(a.path_prefix.as_deref(), Some("pfx"));
        let a = parse(&[
            "packages",
            "-o",
            "APT::FTPArchive::Packages::SHA1=false",
            "-a",
            "amd64",
            ".",
        ])
        .unwrap();
        assert!(!a.stanza.sha1);
        assert_eq!(a.arch.as_deref(), Some("amd64"));
        let a = parse(&["-oapt::ftparchive::LongDescription=no", "packages", "p", ""]).unwrap();
        assert!(!a.stanza.long_description);
        assert_eq!(a.override_file, None);
        let a = parse(&[
            "-o",
            "APT::FTPArchive::IncludeArchitectureAll=false",
            "packages",
            "p",
        ])
        .unwrap();
        assert!(!a.include_all);
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        assert!(parse(&["packages"]).is_err());
        assert!(parse(&["sources", "x"]).is_err());
        assert!(
            parse(&["packages", "a", "b", "c", "d"]).is_ok(),
            "extra arguments are ignored like apt"
        );
        assert!(parse(&["--frobnicate", "packages", "a"]).is_err());
        assert!(parse(&["packages", "a", "-o"]).is_err());
    }

    #[test]
    fn prefix_joining_follows_flcombine() {
        assert_eq!(combine("deb", b"pool/x.deb"), b"deb/pool/x.deb");
        assert_eq!(combine("deb/", b"pool/x.deb"), b"deb/pool/x.deb");
        assert_eq!(combine("deb", b"./pool/x.deb"), b"./pool/x.deb");
        assert_eq!(combine("deb", b"/abs/x.deb"), b"/abs/x.deb");
    }
}
