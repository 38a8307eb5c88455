//! `elirepo packages`: apt-ftparchive's command line, and the run of
//! [`elirepo::ftparchive`] it asks for.
//!
//! This module owns the command-line contract of apt-ftparchive's `packages`
//! command: its options, accepted before or after the command word, and its
//! `-o` configuration keys. [`hoist_packages`] moves the word first so that
//! clap sees the subcommand; clap hands everything after it here untouched, and
//! [`parse_args`] reads it as apt-ftparchive would into the library's
//! [`PackagesArgs`].

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use elirepo::ftparchive::{PackagesArgs, PackagesError};
use elirepo::index::StanzaOptions;

use super::exit::{usage_error, EXIT_PROBLEM};
use super::ui::Ui;

/// The usage line of `elirepo packages --help`.
pub const USAGE: &str = "elirepo [APT-OPTIONS] packages [APT-OPTIONS] DIR [OVERRIDE [PATHPREFIX]]";

/// apt-ftparchive's options, the difference from it and examples, after the
/// (clap) options in `--help` and the man page.
pub const AFTER_HELP: &str = "Options, accepted before or after `packages` as apt-ftparchive accepts them:\n  \
--no-md5 --no-sha1 --no-sha256 --no-sha512   leave out that digest\n  \
-a ARCH                                      only *_ARCH.deb and *_all.deb\n  \
--db FILE                                    cache file\n  \
-o APT::FTPArchive::{MD5,SHA1,SHA256,SHA512}=false\n  \
-o APT::FTPArchive::LongDescription=false    first line + Description-md5\n  \
-o APT::FTPArchive::IncludeArchitectureAll=false\n\n\
Unlike apt-ftparchive, a .deb that cannot be read is reported on stderr by name\n\
and the exit status is 1 (the other packages are still written).\n\n\
Examples:\n  elirepo packages pool > Packages\n  elirepo --no-sha512 packages -a amd64 pool override.txt > Packages";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct AptArgs {
    /// apt-ftparchive arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    args: Vec<OsString>,
}

/// Options of apt-ftparchive that take a separate value.
const APT_VALUE_OPTIONS: &[&str] = &[
    "-o",
    "--option",
    "-a",
    "--arch",
    "-d",
    "--db",
    "-s",
    "--source-override",
    "-c",
    "--config-file",
];

/// Moves `packages` first when apt-ftparchive options precede it
/// (`elirepo --no-md5 packages DIR`), so clap sees the subcommand.
pub fn hoist_packages(mut args: Vec<OsString>) -> Vec<OsString> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "packages" {
            if i > 1 {
                let word = args.remove(i);
                args.insert(1, word);
            }
            break;
        }
        if !a.starts_with('-') || a == "--help" || a == "-h" || a == "--version" || a == "-V" {
            break;
        }
        i += if APT_VALUE_OPTIONS.contains(&a.as_ref()) {
            2
        } else {
            1
        };
    }
    args
}

/// A command line that apt-ftparchive would not accept either.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// apt's configuration as the command line sets it: `-o Key=Value` and the
/// options that stand for a key. Keys compare case-insensitively; the last
/// setting of a key wins.
#[derive(Default)]
struct AptConfig(Vec<(String, String)>);

impl AptConfig {
    fn set(&mut self, key: &str, value: &str) {
        self.0.push((key.to_ascii_lowercase(), value.to_string()));
    }

    fn get(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean key, read as apt's `StringToBool` reads it.
    fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, |v| apt_bool(v, default))
    }

    /// Whether to write the digest `name`: `APT::FTPArchive::Packages::<name>`,
    /// else `APT::FTPArchive::<name>`, else yes.
    fn hash(&self, name: &str) -> bool {
        let general = self.flag(&format!("APT::FTPArchive::{name}"), true);
        self.flag(&format!("APT::FTPArchive::Packages::{name}"), general)
    }
}

/// apt's `StringToBool`.
fn apt_bool(value: &str, default: bool) -> bool {
    match value.to_ascii_lowercase().as_str() {
        "no" | "false" | "without" | "off" | "disable" => false,
        "yes" | "true" | "with" | "on" | "enable" => true,
        v => v.parse::<i64>().map_or(default, |n| n != 0),
    }
}

/// The digest a `--md5`/`--no-md5`-style switch names (`md5` → `MD5`).
fn hash_switch(name: &str) -> Option<&'static str> {
    match name {
        "md5" => Some("MD5"),
        "sha1" => Some("SHA1"),
        "sha256" => Some("SHA256"),
        "sha512" => Some("SHA512"),
        _ => None,
    }
}

/// Parses apt-ftparchive's arguments (everything after the program name,
/// `packages` included, options anywhere).
pub fn parse_args(args: &[OsString]) -> Result<PackagesArgs, UsageError> {
    let (config, words) = read_options(args)?;
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
        arch: config
            .get("APT::FTPArchive::Architecture")
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        include_all: config.flag("APT::FTPArchive::IncludeArchitectureAll", true),
        stanza: StanzaOptions {
            md5: config.hash("MD5"),
            sha1: config.hash("SHA1"),
            sha256: config.hash("SHA256"),
            sha512: config.hash("SHA512"),
            long_description: config.flag("APT::FTPArchive::LongDescription", true),
        },
        db: config
            .get("APT::FTPArchive::DB")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
    })
}

/// Splits the arguments into apt's configuration (the options) and the words
/// (the command word and its operands). After `--` everything is a word.
fn read_options(args: &[OsString]) -> Result<(AptConfig, Vec<OsString>), UsageError> {
    let mut config = AptConfig::default();
    let mut words: Vec<OsString> = Vec::new();
    let mut it = args.iter();
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
        read_option(&a, &mut it, &mut config)?;
    }
    Ok((config, words))
}

/// Reads the option `a` into `config`, taking its value from `it` if it has
/// a separate one.
fn read_option(
    a: &str,
    it: &mut std::slice::Iter<OsString>,
    config: &mut AptConfig,
) -> Result<(), UsageError> {
    let (name, inline) = match a.split_once('=') {
        Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
        _ => (a, None),
    };
    let mut value = |opt: &str| -> Result<String, UsageError> {
        match inline.clone() {
            Some(v) => Ok(v),
            None => it
                .next()
                .map(|v| v.to_string_lossy().into_owned())
                .ok_or_else(|| UsageError(format!("option {opt} needs an argument"))),
        }
    };
    match name {
        "-o" | "--option" => {
            let kv = value("-o")?;
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                UsageError(format!("option -o {kv:?} is not of the form Key=Value"))
            })?;
            config.set(k, v);
        }
        s if s.starts_with("-o") && s.len() > 2 && !s.starts_with("--") => {
            let (k, v) = s[2..].split_once('=').ok_or_else(|| {
                UsageError(format!("option {s:?} is not of the form -oKey=Value"))
            })?;
            config.set(k, v);
        }
        "-a" | "--arch" => config.set("APT::FTPArchive::Architecture", &value("-a")?),
        s if s.starts_with("-a") && s.len() > 2 && !s.starts_with("--") => {
            config.set("APT::FTPArchive::Architecture", &s[2..]);
        }
        "-d" | "--db" => config.set("APT::FTPArchive::DB", &value("--db")?),
        "-s" | "--source-override" => {
            value("--source-override")?;
        }
        "-q" | "-qq" | "--quiet" | "--readonly" | "--delink" | "--no-delink" | "--contents"
        | "--no-contents" => {}
        s if s.starts_with("--no-") && hash_switch(&s[5..]).is_some() => {
            let hash = hash_switch(&s[5..]).unwrap_or_default();
            config.set(&format!("APT::FTPArchive::{hash}"), "false");
        }
        s if s.starts_with("--") && hash_switch(&s[2..]).is_some() => {
            let hash = hash_switch(&s[2..]).unwrap_or_default();
            let v = inline.unwrap_or_else(|| "true".into());
            config.set(&format!("APT::FTPArchive::{hash}"), &v);
        }
        other => return Err(UsageError(format!("unknown option {other}"))),
    }
    Ok(())
}

/// Runs `elirepo packages`: the index on stdout; exit 1 when some .deb could
/// not be read (the others are written), 2 on a usage or input error.
pub fn run(a: AptArgs, ui: &mut Ui) -> ExitCode {
    let mut full = vec![OsString::from("packages")];
    full.extend(a.args);
    let parsed = match parse_args(&full) {
        Ok(p) => p,
        Err(e) => {
            return usage_error(
                ui,
                e,
                Some("elirepo packages --help lists the apt-ftparchive options it takes"),
            )
        }
    };
    let stdout = io::stdout();
    let mut o = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = elirepo::ftparchive::run_packages(&parsed, &mut o);
    let flushed = o.flush();
    match result {
        Ok(summary) => {
            if let Err(e) = flushed {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    return usage_error(ui, format!("writing the index: {e}"), None);
                }
            }
            for w in &summary.warnings {
                ui.warning(w);
            }
            for e in &summary.failed {
                ui.error(e);
            }
            if summary.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ui.error(format!(
                    "{} of {} .deb files could not be read and are missing from the index",
                    summary.failed.len(),
                    summary.failed.len() + summary.written
                ));
                ExitCode::from(EXIT_PROBLEM)
            }
        }
        Err(PackagesError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => usage_error(ui, e, None),
    }
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
    fn apt_options_before_packages_are_moved_after_it() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            hoist_packages(args(&[
                "elirepo", "--no-md5", "-a", "amd64", "packages", "pool"
            ])),
            args(&["elirepo", "packages", "--no-md5", "-a", "amd64", "pool"])
        );
        assert_eq!(
            hoist_packages(args(&["elirepo", "-q", "build", "packages"])),
            args(&["elirepo", "-q", "build", "packages"])
        );
    }
}
