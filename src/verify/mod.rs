//! `elirepo verify`: check a published repository the way eliloader and apt use it.
//!
//! The target is a repository directory or an `http://`/`ftp://` URL ([`Source`], in
//! `source` and `ftp`). For each suite this module checks, in this order:
//!
//! * `release`: the Release (and InRelease and Release.gpg against a keyring with gpgv),
//!   its Date and Valid-Until;
//! * `packages`: every listed file's size and digests, every by-hash copy, every pool file
//!   the Packages indexes name;
//! * `netboot`: the kernel and initrd at exactly the URLs eliloader builds, their sizes,
//!   that Content-Length is honest, that the kernel is a Xen PV kernel of the right
//!   architecture and the initrd an initrd for it, and that `SHA256SUMS`/`MD5SUMS` match.
//!
//! Everything is streamed: files are hashed while they download and large ones are never
//! held in memory. Each problem names the file or URL and what is wrong ([`Problem`]);
//! [`VerifyError`] is a target that cannot be checked at all.

mod ftp;
mod netboot;
mod packages;
mod release;
mod source;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use ftp::FtpError;
pub use source::{
    FetchError, FetchErrorKind, Fetched, Remote, Source, DEFAULT_TIMEOUT, METADATA_LIMIT,
    PACKAGES_LIMIT,
};

/// One thing wrong, where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The file or URL concerned.
    pub location: String,
    /// What is wrong.
    pub what: String,
}

/// Something that could not be checked: the server could not be reached, stopped
/// answering, or has no such suite.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unchecked {
    /// The file or URL that could not be fetched.
    pub location: String,
    /// Why.
    pub what: String,
    /// What to check: the URL, the server, `--suite`.
    pub hint: String,
}

/// What a verification found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// The target checked.
    pub target: String,
    /// Suites checked.
    pub suites: Vec<String>,
    /// Problems: the repository fails when there is any.
    pub problems: Vec<Problem>,
    /// Warnings that do not fail the check (e.g. an https URL eliloader refuses).
    pub warnings: Vec<Problem>,
    /// Files whose size and digests were checked.
    pub files_checked: usize,
    /// Pool files checked.
    pub packages_checked: usize,
    /// The eliloader URLs fetched.
    pub eliloader_urls: Vec<String>,
    /// What could not be checked (the server unreachable, silent, or without the
    /// suite): the check is incomplete.
    pub could_not_check: Vec<Unchecked>,
    /// Fetches not made because the server could not be reached before.
    pub not_fetched: usize,
}

impl VerifyReport {
    /// True when everything was checked and nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.could_not_check.is_empty()
    }
    fn problem(&mut self, location: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            location: location.into(),
            what: what.into(),
        });
    }
    fn warn(&mut self, location: impl Into<String>, what: impl Into<String>) {
        self.warnings.push(Problem {
            location: location.into(),
            what: what.into(),
        });
    }
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// A repository directory or an http:// or ftp:// URL.
    pub target: String,
    /// Suites (default: every suite of a directory; required for a URL).
    pub suites: Vec<String>,
    /// Architectures (default: the Release's).
    pub archs: Vec<String>,
    /// Keyring for gpgv.
    pub keyring: Option<PathBuf>,
    /// The time "now" for Date and Valid-Until.
    pub now: i64,
    /// How long a connection, and each read, may wait ([`DEFAULT_TIMEOUT`] if `None`).
    pub timeout: Option<Duration>,
}

/// Why a verification could not run at all. Display reads `<target>: <why>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// An https:// URL.
    #[error(
        "{target}: https is not supported by eliloader (nor by this check); publish over http://"
    )]
    Https {
        /// The target.
        target: String,
    },
    /// A URL of another scheme than http:// and ftp://.
    #[error("{target}: unsupported URL scheme: use a directory, an http:// or an ftp:// URL")]
    UnsupportedScheme {
        /// The target.
        target: String,
    },
    /// Not a URL, and not a directory.
    #[error("{target}: not a directory")]
    NotADirectory {
        /// The target.
        target: String,
    },
    /// A URL without `--suite`.
    #[error("{target}: give --suite NAME for a URL (suites cannot be listed over http or ftp)")]
    NoSuiteForUrl {
        /// The target.
        target: String,
    },
}

/// Runs the whole verification.
pub fn verify(opts: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let mut report = VerifyReport {
        target: opts.target.clone(),
        ..Default::default()
    };
    warn_of_the_url(&opts.target, &mut report);
    let source = Source::open_with_timeout(&opts.target, opts.timeout.unwrap_or(DEFAULT_TIMEOUT))?;
    let suites = if opts.suites.is_empty() {
        match &source {
            Source::Dir(d) => local_suites(d),
            Source::Http(..) | Source::Ftp(..) => {
                return Err(VerifyError::NoSuiteForUrl {
                    target: opts.target.clone(),
                })
            }
        }
    } else {
        opts.suites.clone()
    };
    if suites.is_empty() {
        // Nothing to check: the wrong directory, not a broken repository.
        report.could_not_check.push(Unchecked {
            location: opts.target.clone(),
            what: "no suite found (no dists/*/Release)".into(),
            hint: "give the repository's top directory (the one holding dists/), or --suite SUITE"
                .into(),
        });
    }
    for suite in &suites {
        verify_suite(&source, opts, suite, &mut report);
        report.suites.push(suite.clone());
    }
    Ok(report)
}

/// What eliloader makes of the URL itself: https:// it refuses, credentials it cannot use.
fn warn_of_the_url(target: &str, report: &mut VerifyReport) {
    if target.starts_with("https://") {
        report.warn(target, "eliloader refuses https:// (\"Unknown source type\"): serve the repository over http:// too");
    }
    if let Some(rest) = target.split_once("://").map(|(_, r)| r) {
        if rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
        {
            report.warn(
                target,
                "credentials in the URL do not work with eliloader's urllib2 fetcher",
            );
        }
    }
}

/// Lists the suites of a repository directory (`dists/*/Release`).
fn local_suites(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("dists"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    e.path().join("Release").is_file() || e.path().join("InRelease").is_file()
                })
                .filter_map(|e| e.file_name().into_string().ok())
                // `.<suite>.new` is a build's switch in progress (a link about to be
                // renamed over `<suite>`): no client asks for it.
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// One suite being checked: where its files come from, and what was asked.
struct Suite<'a> {
    source: &'a Source,
    opts: &'a VerifyOptions,
    /// The suite's name.
    name: &'a str,
    /// `dists/<suite>/`.
    dir: String,
}

impl Suite<'_> {
    /// The location of `rel`, relative to the suite directory (for messages).
    fn location(&self, rel: &str) -> String {
        self.source.location(&format!("{}{rel}", self.dir))
    }

    /// [`Source::fetch`] of `rel`, relative to the suite directory.
    fn fetch(&self, rel: &str, limit: u64, out: &mut dyn Write) -> Result<Fetched, FetchError> {
        self.source.fetch(&format!("{}{rel}", self.dir), limit, out)
    }

    /// [`Source::fetch_small`] of `rel`, relative to the suite directory.
    fn fetch_small(
        &self,
        rel: &str,
        limit: u64,
        what: &'static str,
    ) -> Result<Vec<u8>, FetchError> {
        self.source
            .fetch_small(&format!("{}{rel}", self.dir), limit, what)
    }

    /// A fetch that failed: `what` (said of `e`'s location) is a problem of the
    /// repository, unless the server could not be reached, which leaves the check
    /// incomplete (said once; later fetches are only counted).
    fn fetch_failed(&self, report: &mut VerifyReport, e: &FetchError, what: String) {
        if matches!(e.kind, FetchErrorKind::NotAsked { .. }) {
            report.not_fetched += 1;
        } else if e.kind.is_unreachable() {
            self.could_not_check(report, e);
        } else {
            report.problem(&e.location, what);
        }
    }

    /// `e` left the suite (or part of it) unchecked: said with what to check.
    fn could_not_check(&self, report: &mut VerifyReport, e: &FetchError) {
        if matches!(e.kind, FetchErrorKind::NotAsked { .. }) {
            report.not_fetched += 1;
            return;
        }
        report.could_not_check.push(Unchecked {
            location: e.location.clone(),
            what: format!("could not check suite {}: {}", self.name, e.kind),
            hint: self.hint(&e.kind),
        });
    }

    /// What to check when `kind` kept the suite from being checked: the URL, the
    /// server and `--suite`.
    fn hint(&self, kind: &FetchErrorKind) -> String {
        let base = self.source.base();
        let suite = self.name;
        let Some(server) = self.source.server() else {
            return format!(
                "{base} has no readable dists/{suite}/: give the repository's top directory (the one holding dists/) and a suite it publishes (--suite {suite})"
            );
        };
        let what = match kind {
            FetchErrorKind::NoSuchHost { host, .. } => {
                format!("the host name {host} of {base} does not resolve from here: check the URL")
            }
            FetchErrorKind::Connect { .. } => {
                format!("nothing accepts connections at {server}: check that the server runs and that {base} is its URL")
            }
            FetchErrorKind::TimedOut { secs, .. } => format!(
                "the server at {server} accepted the connection but sent nothing for {secs} s (--timeout SECS waits longer): check that it serves {base}"
            ),
            FetchErrorKind::Broken { .. } => {
                format!("the server at {server} broke the connection: check that it serves {base}")
            }
            FetchErrorKind::HttpStatus(401 | 403) => format!(
                "the server at {server} refuses to serve it: check its permissions for {base}"
            ),
            k if k.is_absent() => format!(
                "the server at {server} has no dists/{suite}/Release under {base}: check that the URL is the repository's top (the directory holding dists/)"
            ),
            _ => format!("check the server at {server} and the URL {base}"),
        };
        format!("{what}, and that --suite {suite} names a suite it publishes")
    }
}

/// The Release, the indexes and pool, then eliloader's trees of one suite.
fn verify_suite(source: &Source, opts: &VerifyOptions, name: &str, report: &mut VerifyReport) {
    let suite = Suite {
        source,
        opts,
        name,
        dir: format!("dists/{name}/"),
    };
    let Some((release_bytes, parsed)) = release::read_release(&suite, report) else {
        return;
    };
    if !release::check_signatures(&suite, &release_bytes, &parsed, report) {
        return;
    }
    release::check_dates(&parsed, opts.now, &suite.location("Release"), report);
    packages::check_listed_files(&suite, &parsed, report);
    let archs: Vec<String> = if opts.archs.is_empty() {
        words(parsed.field("Architectures")).unwrap_or_default()
    } else {
        opts.archs.clone()
    };
    let components = words(parsed.field("Components")).unwrap_or_else(|| vec!["main".into()]);
    packages::check_pool(&suite, &parsed, &components, &archs, report);
    netboot::check_trees(&suite, &parsed, &archs, report);
}

/// The words of a Release field.
fn words(field: Option<&str>) -> Option<Vec<String>> {
    field.map(|v| v.split_whitespace().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_in_progress_is_no_suite() {
        let d = tempfile::tempdir().unwrap();
        let dists = d.path().join("dists");
        std::fs::create_dir_all(dists.join("lenny")).unwrap();
        std::fs::write(dists.join("lenny/Release"), "Suite: lenny\n").unwrap();
        // What a build killed between making the new link and renaming it leaves.
        std::os::unix::fs::symlink("lenny", dists.join(".lenny.new")).unwrap();
        assert_eq!(local_suites(d.path()), vec!["lenny".to_string()]);
    }
}
