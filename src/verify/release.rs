//! A suite's Release as apt reads it: fetched and parsed, its `Date` and `Valid-Until`
//! against now, `InRelease` carrying the same text, and both signatures (`InRelease`,
//! `Release.gpg`) verified with gpgv against the keyring.

use std::path::PathBuf;

use crate::release::{self, ParsedRelease};

use super::source::{Source, METADATA_LIMIT};
use super::{FetchError, FetchErrorKind, Suite, VerifyReport};

/// The suite's Release, its bytes and what they say; `None` (a problem reported) if it
/// cannot be fetched or parsed.
pub(super) fn read_release(
    suite: &Suite,
    report: &mut VerifyReport,
) -> Option<(Vec<u8>, ParsedRelease)> {
    let loc = suite.location("Release");
    let bytes = match suite.fetch_small("Release", METADATA_LIMIT, "a Release file") {
        Ok(b) => b,
        Err(
            e @ FetchError {
                kind: FetchErrorKind::TooLarge { .. },
                ..
            },
        ) => {
            report.problem(loc, format!("not a Release file: {}", e.kind));
            return None;
        }
        // Not there, refused, or no server: nothing of the suite can be checked.
        Err(e) => {
            suite.could_not_check(report, &e);
            return None;
        }
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match release::parse_release(&text) {
        Ok(parsed) => Some((bytes, parsed)),
        Err(e) => {
            report.problem(loc, format!("does not parse: {e}"));
            None
        }
    }
}

/// `Date` must parse and not be in the future; `Valid-Until`, if any, must not have passed.
pub(super) fn check_dates(parsed: &ParsedRelease, now: i64, loc: &str, report: &mut VerifyReport) {
    match parsed.field("Date").map(|d| (d, release::parse_date(d))) {
        None => report.problem(loc, "has no Date field"),
        Some((d, None)) => report.problem(loc, format!("Date {d:?} does not parse")),
        Some((d, Some(t))) if t > now + 60 => report.problem(
            loc,
            format!("Date {d} is in the future: apt refuses it as \"not valid yet\""),
        ),
        _ => {}
    }
    if let Some(v) = parsed.field("Valid-Until") {
        match release::parse_date(v) {
            None => report.problem(loc, format!("Valid-Until {v:?} does not parse")),
            Some(t) if t < now => report.problem(
                loc,
                format!(
                    "expired: Valid-Until {v} has passed, apt refuses the repository; rebuild it"
                ),
            ),
            _ => {}
        }
    }
}

/// A signature file of the suite: `None` if it is not there (HTTP 404, no such file);
/// `Err` (reported) if the suite cannot be checked or the file is no signature.
fn fetch_signature(
    suite: &Suite,
    name: &str,
    report: &mut VerifyReport,
) -> Result<Option<Vec<u8>>, ()> {
    match suite.fetch_small(name, METADATA_LIMIT, "a signature file") {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind.is_absent() => Ok(None),
        Err(
            e @ FetchError {
                kind: FetchErrorKind::TooLarge { .. },
                ..
            },
        ) => {
            report.problem(&e.location, e.kind.to_string());
            Err(())
        }
        Err(e) => {
            suite.could_not_check(report, &e);
            Err(())
        }
    }
}

/// `InRelease` must carry `release_bytes`; with a keyring, `InRelease` and `Release.gpg`
/// must both be there and verify; without one, an unsigned suite is a warning, and a
/// signed one too (its signatures were not checked: the warning names the keyring the
/// repository publishes). False when the suite cannot be checked further.
pub(super) fn check_signatures(
    suite: &Suite,
    release_bytes: &[u8],
    parsed: &ParsedRelease,
    report: &mut VerifyReport,
) -> bool {
    let Ok(inrelease) = fetch_signature(suite, "InRelease", report) else {
        return false;
    };
    let Ok(detached) = fetch_signature(suite, "Release.gpg", report) else {
        return false;
    };
    if let Some(inr) = &inrelease {
        let body = release::inrelease_body(&String::from_utf8_lossy(inr));
        if body.as_deref().map(str::as_bytes) != Some(release_bytes) {
            report.problem(
                suite.location("InRelease"),
                "its signed text differs from Release",
            );
        }
    }
    let Some(keyring) = &suite.opts.keyring else {
        if inrelease.is_none() && detached.is_none() {
            report.warn(
                suite.location("Release"),
                "unsigned: clients need [trusted=yes]",
            );
        } else {
            let signed = match (&inrelease, &detached) {
                (Some(_), Some(_)) => "InRelease and Release.gpg",
                (Some(_), None) => "InRelease",
                _ => "Release.gpg",
            };
            report.warn(
                suite.location(if inrelease.is_some() {
                    "InRelease"
                } else {
                    "Release.gpg"
                }),
                format!(
                    "signed ({signed}), but the signatures were not checked: {}",
                    how_to_check(suite, parsed)
                ),
            );
        }
        return true;
    };
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            report.problem("temporary directory", e.to_string());
            return false;
        }
    };
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = tmp.path().join(name);
        let _ = std::fs::write(&p, bytes);
        p
    };
    let rel_path = write("Release", release_bytes);
    for (name, signature, data) in [
        ("InRelease", &inrelease, None),
        ("Release.gpg", &detached, Some(&rel_path)),
    ] {
        let loc = suite.location(name);
        match signature {
            None => report.problem(loc, "missing: the repository is not signed"),
            Some(sig) => {
                let p = write(name, sig);
                if let Err(e) = crate::sign::gpgv(keyring, &p, data.map(PathBuf::as_path)) {
                    report.problem(loc, format!("signature does not verify: {e}"));
                }
            }
        }
    }
    true
}

/// How to check the signatures: `--keyring` with the public keyring the repository
/// publishes (`<label or origin>-archive-keyring.gpg` at its top), if it is there.
fn how_to_check(suite: &Suite, parsed: &ParsedRelease) -> String {
    let name = release::keyring_file_name(parsed.field("Label"), parsed.field("Origin"));
    match suite.source {
        Source::Dir(dir) => {
            let mut published: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| {
                            p.is_file()
                                && p.file_name()
                                    .and_then(|n| n.to_str())
                                    .is_some_and(|n| n.ends_with("-archive-keyring.gpg"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            published.sort_by_key(|p| p.file_name() != Some(std::ffi::OsStr::new(&name)));
            match published.first() {
                Some(k) => format!(
                    "give --keyring {} (the keyring this repository publishes)",
                    k.display()
                ),
                None => format!(
                    "give --keyring with the signer's public keyring (a build publishes it as {name}, absent here)"
                ),
            }
        }
        Source::Http(..) | Source::Ftp(..) => {
            let url = suite.source.location(&name);
            match suite.source.fetch(&name, METADATA_LIMIT, &mut std::io::sink()) {
                Ok(got) if !got.over_limit => format!(
                    "download {url} (the keyring this repository publishes) and give --keyring FILE"
                ),
                _ => format!(
                    "give --keyring with the signer's public keyring ({url}, where a build publishes it, cannot be fetched)"
                ),
            }
        }
    }
}
