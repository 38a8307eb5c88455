//! `elirepo packages`: apt-ftparchive's command line, and the run of
//! [`elirepo::ftparchive`] it asks for.
//!
//! apt-ftparchive takes its options before or after the command word
//! (`elirepo --no-md5 packages DIR`); [`hoist_packages`] moves the word first so
//! that clap sees the subcommand, and clap hands everything after it here
//! untouched.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use elirepo::ftparchive::PackagesError;

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

/// Runs `elirepo packages`: the index on stdout; exit 1 when some .deb could
/// not be read (the others are written), 2 on a usage or input error.
pub fn run(a: AptArgs, ui: &mut Ui) -> ExitCode {
    let mut full = vec![OsString::from("packages")];
    full.extend(a.args);
    let parsed = match elirepo::ftparchive::parse_args(&full) {
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
        Err(PackagesError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => usage_error(ui, e, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
