//! The suite: its Release (the previous `Date` kept when nothing changed), the
//! signatures and public key, and the whole `dists/<suite>` tree as the next
//! generation: indexes, by-hash copies of the last generations, netboot
//! trees, Release files last.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::gc::CleanMarker;
use super::indexes::Indexes;
use super::inputs::Input;
use super::previous::{self, Previous};
use super::{BuildError, Listener, BY_HASH_KEEP};
use crate::config::BuildOptions;
use crate::hash::{hex, Hashes};
use crate::netboot::TreePlan;
use crate::publish::{Content, Publisher, SuiteTree};
use crate::release::{self, BuildTime, ReleaseFields};
use crate::sign::GpgSigner;

/// Every file the suite Release lists: the indexes and the netboot trees' files.
pub(super) fn listed(indexes: &Indexes, tree: &TreePlan) -> BTreeMap<String, Hashes> {
    let mut listed = indexes.listed.clone();
    listed.extend(tree.listed.iter().map(|(k, v)| (k.clone(), v.clone())));
    listed
}

/// The suite Release's header for `opts`, with `date` and `valid_until`.
fn fields(opts: &BuildOptions, date: String, valid_until: Option<String>) -> ReleaseFields {
    ReleaseFields {
        origin: opts.origin.clone(),
        label: opts.label.clone(),
        suite: opts.suite.clone(),
        codename: opts.codename.clone(),
        date,
        valid_until,
        architectures: opts.architectures.clone(),
        components: vec![opts.component.clone()],
        description: opts.description.clone(),
        acquire_by_hash: opts.by_hash,
    }
}

/// The suite Release listing `listed`, dated `time.now`; or, when the time is
/// the clock's and nothing else changed, the published Release as it is, its
/// `Date` kept (while its `Valid-Until` has more than half its span to run).
pub(super) fn release(
    opts: &BuildOptions,
    time: BuildTime,
    listed: &BTreeMap<String, Hashes>,
    previous: &Previous,
) -> Vec<u8> {
    let valid_until = |t: i64| {
        opts.valid_for
            .map(|d| release::format_date(t + d as i64 * 86_400))
    };
    let fresh = release::write_release(
        &fields(opts, release::format_date(time.now), valid_until(time.now)),
        listed,
    );
    if time.pinned {
        return fresh;
    }
    dated_as_before(opts, time.now, listed, previous).unwrap_or(fresh)
}

/// The Release with the previous `Date` and `Valid-Until`, if that is exactly
/// the published one and still fresh enough.
fn dated_as_before(
    opts: &BuildOptions,
    now: i64,
    listed: &BTreeMap<String, Hashes>,
    previous: &Previous,
) -> Option<Vec<u8>> {
    let old = previous.release()?;
    let old_date = old.field("Date")?;
    let old_valid = old.field("Valid-Until");
    let candidate = release::write_release(
        &fields(opts, old_date.to_string(), old_valid.map(str::to_string)),
        listed,
    );
    let until = old_valid.and_then(release::parse_date);
    (previous.release_bytes() == Some(&candidate[..]) && fresh_enough(opts.valid_for, until, now))
        .then_some(candidate)
}

/// True if a Release valid `until` may be served again at `now`: it never
/// expires, or more than half of its `valid_for` days are left.
fn fresh_enough(valid_for: Option<u32>, until: Option<i64>, now: i64) -> bool {
    match (valid_for, until) {
        (None, _) => true,
        (Some(days), Some(until)) => until - now > days as i64 * 86_400 / 2,
        (Some(_), None) => false,
    }
}

/// `<label or origin>-archive-keyring.gpg`, lower-case, other characters as `-`.
pub(super) fn keyring_name(opts: &BuildOptions) -> String {
    let name = opts
        .label
        .as_deref()
        .or(opts.origin.as_deref())
        .unwrap_or("elirepo")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>();
    format!("{name}-archive-keyring.gpg")
}

/// What signing gives the suite.
#[derive(Debug, Default)]
pub(super) struct Signed {
    /// `Release.gpg` and `InRelease`, with their bytes.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// The public key's file name (relative to the repository) and bytes.
    pub keyring: Option<(String, Vec<u8>)>,
}

/// Signs `release` (or keeps the published signatures when the Release and the
/// key are the published ones); without a signer, warns that it is unsigned.
pub(super) fn sign(
    opts: &BuildOptions,
    signer: Option<&GpgSigner>,
    release: &[u8],
    previous: &Previous,
    log: &mut dyn Listener,
) -> Result<Signed, BuildError> {
    let Some(signer) = signer else {
        log.warn("the repository is not signed: apt clients need [trusted=yes]; give --sign-key to sign it");
        return Ok(Signed::default());
    };
    let public = signer.public_key()?;
    let (gpg, inrelease) = match previous.reusable_signatures(release, &public) {
        Some(kept) => kept,
        None => {
            log.step(&format!("signing Release with key {}", signer.key()));
            (signer.detach_sign(release)?, signer.clearsign(release)?)
        }
    };
    Ok(Signed {
        files: vec![("Release.gpg", gpg), ("InRelease", inrelease)],
        keyring: Some((keyring_name(opts), public)),
    })
}

/// `history` with `this` generation in front (unless it is the newest
/// already), cut to the last [`BY_HASH_KEEP`].
pub(super) fn next_generations(
    mut history: Vec<Vec<String>>,
    this: Vec<String>,
) -> Vec<Vec<String>> {
    if history.first() != Some(&this) {
        history.insert(0, this);
    }
    history.truncate(BY_HASH_KEEP);
    history
}

/// A generation history as its state file holds it.
pub(super) fn generations_text(history: &[Vec<String>]) -> Vec<u8> {
    history
        .iter()
        .map(|g| g.join(" ") + "\n")
        .collect::<String>()
        .into_bytes()
}

/// What goes into the next `dists/<suite>`.
pub(super) struct SuiteParts<'a> {
    /// `dists/<suite>`.
    pub suite_dir: &'a Path,
    /// The indexes.
    pub indexes: &'a Indexes,
    /// The netboot trees.
    pub tree: &'a TreePlan,
    /// The suite Release.
    pub release: &'a [u8],
    /// Its signatures.
    pub signed: &'a Signed,
    /// The packages, whose pool files this generation names.
    pub inputs: &'a [Input],
}

/// Publishes the next `dists/<suite>` (one switch; nothing when it is the
/// published tree), then elirepo's state: the by-hash copies of the last
/// generations and their pool files (a client holding a previous Release finds
/// its indexes by hash, and must find the packages they name too). Returns
/// the number of files of the suite written.
pub(super) fn publish(
    opts: &BuildOptions,
    parts: &SuiteParts,
    previous: &Previous,
    marker: &CleanMarker,
    publisher: &mut Publisher,
    log: &mut dyn Listener,
) -> Result<usize, BuildError> {
    let (suite, by_hash_generations) = plan_tree(opts, parts, previous)?;
    if !suite.unchanged() {
        marker.clear();
        log.step("publishing the suite tree");
    }
    let written = suite.publish(publisher)?;
    let this_pool = parts
        .inputs
        .iter()
        .map(|i| i.pool.display().to_string())
        .collect();
    let pool_generations = next_generations(previous.pool_generations.clone(), this_pool);
    for (path, history) in [
        (
            previous::by_hash_generations_path(&opts.suite),
            &by_hash_generations,
        ),
        (
            previous::pool_generations_path(&opts.suite),
            &pool_generations,
        ),
    ] {
        publisher.stage(&path, &Content::Bytes(generations_text(history)))?;
    }
    publisher.commit()?;
    Ok(written)
}

/// Plans the whole next `dists/<suite>` tree; returns it with the by-hash
/// generations it keeps, this one first.
fn plan_tree(
    opts: &BuildOptions,
    parts: &SuiteParts,
    previous: &Previous,
) -> Result<(SuiteTree, Vec<Vec<String>>), BuildError> {
    let suite_dir = parts.suite_dir;
    let mut suite = SuiteTree::open(&opts.repo, suite_dir, !opts.no_symlinks)?;
    for (rel, content) in parts.tree.files.iter().chain(&parts.tree.switch) {
        suite.put(rel, content.clone())?;
    }
    let by_hash = if opts.by_hash {
        put_by_hash(&mut suite, suite_dir, parts.indexes)?
    } else {
        Vec::new()
    };
    for (rel, bytes) in &parts.indexes.files {
        if parts.indexes.identical.contains(rel) {
            suite.keep(&suite_dir.join(rel))?;
        } else {
            suite.put(&suite_dir.join(rel), Content::Bytes(bytes.clone()))?;
        }
    }
    suite.put(
        &suite_dir.join("Release"),
        Content::Bytes(parts.release.to_vec()),
    )?;
    for (name, bytes) in &parts.signed.files {
        suite.put(&suite_dir.join(name), Content::Bytes(bytes.clone()))?;
    }
    // Kept from the published tree: older netboot versions, recent by-hash generations.
    for rel in &parts.tree.wanted {
        suite.keep(rel)?;
    }
    let this: Vec<String> = by_hash.iter().map(|p| p.display().to_string()).collect();
    let generations = next_generations(previous.by_hash_generations.clone(), this);
    for p in generations.iter().skip(1).flatten() {
        suite.keep(Path::new(p))?;
    }
    Ok((suite, generations))
}

/// Puts the `by-hash/SHA256` and `by-hash/SHA512` copies of every index but
/// the component Releases; returns their paths.
fn put_by_hash(
    suite: &mut SuiteTree,
    suite_dir: &Path,
    indexes: &Indexes,
) -> Result<Vec<PathBuf>, BuildError> {
    let mut paths = Vec::new();
    for (rel, bytes) in &indexes.files {
        if rel.ends_with("/Release") {
            continue;
        }
        let h = &indexes.listed[rel];
        let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
        for (alg, digest) in [("SHA256", hex(&h.sha256)), ("SHA512", hex(&h.sha512))] {
            let p = suite_dir.join(dir).join("by-hash").join(alg).join(digest);
            suite.put(&p, Content::Bytes(bytes.clone()))?;
            paths.push(p);
        }
    }
    Ok(paths)
}
