//! A suite's Release as apt reads it: fetched and parsed, its `Date` and `Valid-Until`
//! against now, `InRelease` carrying the same text, and both signatures (`InRelease`,
//! `Release.gpg`) verified with gpgv against the keyring.

use std::path::PathBuf;

use crate::release::{self, ParsedRelease};

use super::{Suite, VerifyReport};

/// The suite's Release, its bytes and what they say; `None` (a problem reported) if it
/// cannot be fetched or parsed.
pub(super) fn read_release(
    suite: &Suite,
    report: &mut VerifyReport,
) -> Option<(Vec<u8>, ParsedRelease)> {
    let loc = suite.location("Release");
    let bytes = match suite.fetch_small("Release") {
        Ok(b) => b,
        Err(e) => {
            report.problem(loc, format!("cannot fetch the Release file: {}", e.kind));
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

/// `InRelease` must carry `release_bytes`; with a keyring, `InRelease` and `Release.gpg`
/// must both be there and verify; without one, an unsigned suite is a warning.
pub(super) fn check_signatures(suite: &Suite, release_bytes: &[u8], report: &mut VerifyReport) {
    let inrelease = suite.fetch_small("InRelease").ok();
    let detached = suite.fetch_small("Release.gpg").ok();
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
        }
        return;
    };
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            report.problem("temporary directory", e.to_string());
            return;
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
}
