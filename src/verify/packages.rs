//! The files a Release lists (the indexes) and their by-hash copies, and the pool files
//! each architecture's Packages index names: each fetched, its size and every digest
//! compared with what the index says.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::Path;

use crate::compress::{Compression, LimitReader};
use crate::control::{self, Paragraph};
use crate::hash::{hex, Hashes};
use crate::release::{ListedFile, ParsedRelease};

use super::source::{Fetched, PACKAGES_LIMIT};
use super::{FetchError, FetchErrorKind, Suite, VerifyReport};

/// Every file the Release lists and, with `Acquire-By-Hash`, the by-hash copy of each
/// Packages index.
pub(super) fn check_listed_files(suite: &Suite, parsed: &ParsedRelease, report: &mut VerifyReport) {
    let by_hash = parsed
        .field("Acquire-By-Hash")
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    for (path, listed) in &parsed.files {
        let loc = suite.location(path);
        // Streamed, never held: one byte past the listed size is enough to tell.
        match suite.fetch(path, listed.size, &mut io::sink()) {
            Err(e) => {
                let what = format!("listed in Release but cannot be fetched: {}", e.kind);
                suite.fetch_failed(report, &e, what);
                continue;
            }
            Ok(got) => check_listed(report, &loc, &got, listed),
        }
        let name = Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if by_hash && name.starts_with("Packages") {
            check_by_hash(suite, path, listed, report);
        }
    }
}

/// The `by-hash/SHA256/` copy of the index `path`.
fn check_by_hash(suite: &Suite, path: &str, listed: &ListedFile, report: &mut VerifyReport) {
    let parent = Path::new(path)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let Some(sha) = &listed.sha256 else {
        return;
    };
    let rel = format!("{parent}/by-hash/SHA256/{sha}");
    let loc = suite.location(&rel);
    match suite.fetch(&rel, listed.size, &mut io::sink()) {
        Err(e) => {
            let what = format!("by-hash copy missing: {}", e.kind);
            suite.fetch_failed(report, &e, what);
        }
        Ok(got) => check_listed(report, &loc, &got, listed),
    }
}

/// The pool files named by the Packages index of each component and architecture, each
/// checked once.
pub(super) fn check_pool(
    suite: &Suite,
    parsed: &ParsedRelease,
    components: &[String],
    archs: &[String],
    report: &mut VerifyReport,
) {
    let mut seen = BTreeSet::new();
    for comp in components {
        for arch in archs {
            check_packages(suite, comp, arch, parsed, &mut seen, report);
        }
    }
}

/// The pool files of `comp`/`arch`'s Packages index (the uncompressed one if listed, else
/// `.xz`, else `.gz`) not in `seen`.
fn check_packages(
    suite: &Suite,
    comp: &str,
    arch: &str,
    parsed: &ParsedRelease,
    seen: &mut BTreeSet<String>,
    report: &mut VerifyReport,
) {
    let base = format!("{comp}/binary-{arch}/");
    let choice = ["Packages", "Packages.xz", "Packages.gz"]
        .iter()
        .find(|n| parsed.files.contains_key(&format!("{base}{n}")));
    let Some(name) = choice else {
        report.problem(
            suite.location(&format!("{base}Packages")),
            format!("the Release lists no Packages index for {comp}/{arch}"),
        );
        return;
    };
    let rel = format!("{base}{name}");
    let index = suite.location(&rel);
    let bytes = match suite.fetch_small(&rel, PACKAGES_LIMIT, "a Packages index") {
        Ok(bytes) => bytes,
        Err(
            e @ FetchError {
                kind: FetchErrorKind::TooLarge { .. },
                ..
            },
        ) => {
            report.problem(index, e.kind.to_string());
            return;
        }
        // The check of the files the Release lists said why.
        Err(_) => return,
    };
    let text = match decompress(name, &bytes) {
        Ok(text) => text,
        Err(e) => {
            report.problem(index, format!("cannot be decompressed: {e}"));
            return;
        }
    };
    for stanza in control::paragraphs(&text) {
        check_pool_file(suite, &index, &stanza, seen, report);
    }
}

/// The text of the index `name`.
fn decompress(name: &str, bytes: &[u8]) -> io::Result<Vec<u8>> {
    let compression = match name {
        "Packages.xz" => Compression::Xz,
        "Packages.gz" => Compression::Gzip,
        _ => Compression::None,
    };
    let mut text = Vec::new();
    compression
        .decoder(bytes)
        .and_then(|d| LimitReader::new(d, PACKAGES_LIMIT, "Packages").read_to_end(&mut text))?;
    Ok(text)
}

/// The pool file one stanza of the index at `index` names, unless already `seen`.
fn check_pool_file(
    suite: &Suite,
    index: &str,
    stanza: &Paragraph,
    seen: &mut BTreeSet<String>,
    report: &mut VerifyReport,
) {
    let field = |n: &str| {
        stanza
            .get(n)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let Some(filename) = field("Filename") else {
        report.problem(
            index,
            format!(
                "a stanza has no Filename ({})",
                field("Package").unwrap_or_default()
            ),
        );
        return;
    };
    if !seen.insert(filename.clone()) {
        return;
    }
    let loc = suite.source.location(&filename);
    let Some(size) = field("Size").and_then(|s| s.parse::<u64>().ok()) else {
        report.problem(loc, "its stanza has no valid Size");
        return;
    };
    report.packages_checked += 1;
    match suite.source.fetch(&filename, size, &mut io::sink()) {
        Err(e) => {
            let what = format!("named by {index} but cannot be fetched: {}", e.kind);
            suite.fetch_failed(report, &e, what);
        }
        Ok(got) => {
            let listed = ListedFile {
                size,
                md5: field("MD5sum"),
                sha1: field("SHA1"),
                sha256: field("SHA256"),
                sha512: field("SHA512"),
            };
            check_listed(report, &loc, &got, &listed);
        }
    }
}

/// Compares what was fetched with what a Release or Packages says.
fn check_listed(report: &mut VerifyReport, loc: &str, got: &Fetched, listed: &ListedFile) {
    report.files_checked += 1;
    if got.bytes != listed.size {
        report.problem(
            loc,
            format!(
                "size is {} bytes, the index says {}",
                got.bytes, listed.size
            ),
        );
        return;
    }
    for (name, want, have) in digest_list(listed, &got.hashes) {
        if let Some(w) = want {
            if !w.eq_ignore_ascii_case(&have) {
                report.problem(
                    loc,
                    format!("{name} mismatch: the index says {w}, the file has {have}"),
                );
                return;
            }
        }
    }
}

/// The digests to compare, in the order a mismatch is reported: SHA256 first
/// (the hash apt requires, by-hash/ names and `sha256sum` shows), MD5 last (it
/// proves nothing on its own). Every listed digest is still compared.
fn digest_list<'a>(
    listed: &'a ListedFile,
    h: &Hashes,
) -> Vec<(&'static str, Option<&'a str>, String)> {
    vec![
        ("SHA256", listed.sha256.as_deref(), hex(&h.sha256)),
        ("SHA512", listed.sha512.as_deref(), hex(&h.sha512)),
        ("SHA1", listed.sha1.as_deref(), hex(&h.sha1)),
        ("MD5", listed.md5.as_deref(), hex(&h.md5)),
    ]
}
