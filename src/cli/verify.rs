//! `elirepo verify`: its arguments, the check ([`elirepo::verify`]) and its
//! report on stdout: `--json`, or one `FAIL`/`WARN` line per finding and a
//! summary line.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use elirepo::config::{
    check_key_path, debian_arch_for, ConfigError, KeyFileKind, SuggestedValues,
    COMMON_ARCHITECTURES,
};
use elirepo::verify::{VerifyOptions, VerifyReport};

use super::build::key_file_hint;

use super::exit::{failed, json_text, out, EXIT_PROBLEM, EXIT_USAGE};
use super::ui::{self, Level, Ui};

/// `elirepo verify --help`'s description.
pub const LONG_ABOUT: &str = "Check a published repository the way eliloader and apt use it: the \
Release and its signatures (with --keyring), Date and Valid-Until, every listed file's size \
and digests, by-hash copies, every pool file, and the kernel and initrd at the exact URLs \
eliloader builds (a Xen PV kernel of the right architecture, an initrd for it).\n\n\
Each problem is printed as `FAIL <file or URL>: <what>` on stdout, warnings as `WARN ...`, \
then one summary line; with -q only the FAIL lines. What could not be checked (the server \
unreachable or silent, no such suite) is an error on stderr, with a hint.\n\n\
A broken or hostile server costs bounded memory and time: every connection and every read \
waits at most --timeout seconds; a Release, InRelease, Release.gpg, SHA256SUMS or MD5SUMS \
is read up to 16 MiB and a Packages index up to 256 MiB (as fetched and decompressed); \
every other file is streamed and read one byte past the size its index gives.";

/// Examples and exit status, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Examples:
  elirepo verify /srv/debian-custom --keyring /srv/debian-custom/mysite-archive-keyring.gpg
  elirepo verify http://repo.example.com/debian-custom --suite lenny --json

Exit status: 0 everything holds, 1 problems found, 2 could not check (a usage
error, no such directory, or the server unreachable, silent or without the suite).";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Repository directory or http:// URL
    target: String,
    /// Suite to check (repeatable; default: every suite of a directory)
    #[arg(long = "suite", value_name = "SUITE")]
    suites: Vec<String>,
    /// Architecture to check (repeatable; default: the Release's)
    #[arg(
        long = "arch",
        value_name = "ARCH",
        value_parser = SuggestedValues(&COMMON_ARCHITECTURES),
        hide_possible_values = true
    )]
    archs: Vec<String>,
    /// Keyring to verify InRelease and Release.gpg with (gpgv)
    #[arg(long, value_name = "FILE")]
    keyring: Option<PathBuf>,
    /// Longest wait for a connection or for the server's next bytes [default: 30]
    #[arg(
        long,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..=86400)
    )]
    timeout: Option<u64>,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
}

/// Runs `elirepo verify`: exit 0 when every check holds, 1 on problems, 2
/// when the repository could not be checked.
pub fn run(a: VerifyArgs, ui: &mut Ui) -> ExitCode {
    let now = match elirepo::release::build_time() {
        Ok(t) => t,
        Err(e) => return failed(ui, a.json, e, None),
    };
    if let Some((given, meant)) = a
        .archs
        .iter()
        .find_map(|x| debian_arch_for(x).map(|m| (x, m)))
    {
        let e = ConfigError::ArchName {
            given: given.clone(),
            meant,
        };
        let hint = format!("Debian calls it {meant}: give --arch {meant}");
        return failed(ui, a.json, e, Some(&hint));
    }
    let is_url = a.target.contains("://");
    // A path, made absolute before gpgv sees it (gpgv looks a bare name up in
    // ~/.gnupg), and checked before anything is fetched.
    let keyring = match a.keyring {
        Some(k) => match check_key_path(
            &k,
            KeyFileKind::Keyring,
            format!("--keyring {}", k.display()),
        ) {
            Ok(k) => Some(k),
            Err(e) => {
                let hint = match &e {
                    ConfigError::KeyFile { problem, .. } => key_file_hint(problem),
                    _ => None,
                };
                return failed(ui, a.json, e, hint);
            }
        },
        None => None,
    };
    let opts = VerifyOptions {
        target: a.target,
        suites: a.suites,
        archs: a.archs,
        keyring,
        now,
        timeout: a.timeout.map(Duration::from_secs),
    };
    ui.step(&format!("checking {}", opts.target));
    let report = match elirepo::verify::verify(&opts) {
        Ok(r) => r,
        Err(e) => {
            let hint = if is_url && opts.suites.is_empty() {
                Some("a URL has no directory listing: give --suite SUITE")
            } else if !is_url {
                Some("give the repository's top directory (the one holding dists/) or its http:// URL")
            } else {
                None
            };
            return failed(ui, a.json, e, hint);
        }
    };
    let _ = out(&if a.json {
        json(&report)
    } else {
        text(
            &report,
            ui.level(),
            ui::color_for(io::stdout().is_terminal()),
        )
    });
    for u in &report.could_not_check {
        ui.error(format!("{}: {}", u.location, u.what));
        ui.hint(&u.hint);
    }
    exit_status(&report)
}

/// 1 when problems were found (the repository is broken, whatever else could not be
/// checked), else 2 when something could not be checked, else 0.
fn exit_status(report: &VerifyReport) -> ExitCode {
    if !report.problems.is_empty() {
        ExitCode::from(EXIT_PROBLEM)
    } else if !report.could_not_check.is_empty() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--json`: the report, with `ok` first; when something could not be checked (and
/// no problem was found: exit 2), `error` as a failed run has it, from the first.
fn json(report: &VerifyReport) -> String {
    #[derive(serde::Serialize)]
    struct Error<'a> {
        message: String,
        hint: &'a str,
    }
    #[derive(serde::Serialize)]
    struct VerifyJson<'a> {
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<Error<'a>>,
        #[serde(flatten)]
        report: &'a VerifyReport,
    }
    let error = report
        .could_not_check
        .first()
        .filter(|_| report.problems.is_empty())
        .map(|u| Error {
            message: format!("{}: {}", u.location, u.what),
            hint: &u.hint,
        });
    json_text(&VerifyJson {
        ok: report.ok(),
        error,
        report,
    })
}

/// The text report: `WARN` lines (not with -q), `FAIL` lines, the eliloader
/// URLs (with -v), then one summary line (not with -q). `color`: the words
/// WARN, FAIL, OK and FAILED in colour.
fn text(report: &VerifyReport, level: Level, color: bool) -> String {
    let paint = |w: &str, code: &str| {
        if color {
            format!("\x1b[{code}m{w}\x1b[0m")
        } else {
            w.to_string()
        }
    };
    let mut text = String::new();
    if level > Level::Quiet {
        for w in &report.warnings {
            text += &format!("{} {}: {}\n", paint("WARN", "33"), w.location, w.what);
        }
    }
    for p in &report.problems {
        text += &format!("{} {}: {}\n", paint("FAIL", "1;31"), p.location, p.what);
    }
    if level > Level::Quiet {
        if level >= Level::Verbose {
            for u in &report.eliloader_urls {
                text += &format!("URL {u}\n");
            }
        }
        let verdict = if !report.problems.is_empty() {
            paint("FAILED", "1;31")
        } else if !report.could_not_check.is_empty() {
            paint("NOT CHECKED", "1;31")
        } else {
            paint("OK", "1;32")
        };
        let unchecked = match (report.could_not_check.len(), report.not_fetched) {
            (0, 0) => String::new(),
            (n, 0) => format!(", {n} could not be checked"),
            (n, f) => format!(", {n} could not be checked ({f} more files not fetched)"),
        };
        text += &format!(
            "{verdict} {}: {} problem(s), {} warning(s){unchecked}; suites {}; {} files and {} pool files checked; eliloader URLs: {}\n",
            report.target,
            report.problems.len(),
            report.warnings.len(),
            report.suites.join(", "),
            report.files_checked,
            report.packages_checked,
            report.eliloader_urls.len()
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use elirepo::verify::Problem;

    fn report() -> VerifyReport {
        VerifyReport {
            target: "/srv/repo".into(),
            suites: vec!["lenny".into(), "sid".into()],
            problems: vec![Problem {
                location: "dists/lenny/Release".into(),
                what: "bad signature".into(),
            }],
            warnings: vec![Problem {
                location: "http://x/".into(),
                what: "https".into(),
            }],
            files_checked: 7,
            packages_checked: 3,
            eliloader_urls: vec!["http://x/vmlinuz".into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_text_report_shows_per_level_what_the_help_promises() {
        let summary = "FAILED /srv/repo: 1 problem(s), 1 warning(s); suites lenny, sid; \
                       7 files and 3 pool files checked; eliloader URLs: 1\n";
        let fail = "FAIL dists/lenny/Release: bad signature\n";
        let warn = "WARN http://x/: https\n";
        assert_eq!(text(&report(), Level::Quiet, false), fail);
        assert_eq!(
            text(&report(), Level::Normal, false),
            format!("{warn}{fail}{summary}")
        );
        assert_eq!(
            text(&report(), Level::Verbose, false),
            format!("{warn}{fail}URL http://x/vmlinuz\n{summary}")
        );
        let ok = VerifyReport {
            problems: vec![],
            warnings: vec![],
            ..report()
        };
        assert!(text(&ok, Level::Normal, false).starts_with("OK /srv/repo: 0 problem(s)"));
        assert_eq!(
            text(&report(), Level::Quiet, true),
            "\x1b[1;31mFAIL\x1b[0m dists/lenny/Release: bad signature\n"
        );
    }
}
