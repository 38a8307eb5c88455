//! The suite: its Release (the previous `Date` kept when nothing changed), the
//! signatures and public key, and the whole `dists/<suite>` tree as the next
//! generation: indexes, by-hash copies of the last generations, netboot
//! trees, Release files last.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::gc::CleanMarker;
use super::indexes::Indexes;
use super::inputs::Input;
use super::previous::{self, Previous, Step, Words};
use super::{BuildError, Listener, Stage, BY_HASH_KEEP};
use crate::cache::Cache;
use crate::config::BuildOptions;
use crate::hash::{hex, Hashes, MultiHasher};
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

/// `<label or origin>-archive-keyring.gpg` ([`crate::release::keyring_file_name`]).
pub(super) fn keyring_name(opts: &BuildOptions) -> String {
    crate::release::keyring_file_name(opts.label.as_deref(), opts.origin.as_deref())
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

/// Writes to `out` the pool generation history in the file `history` (its
/// lines, newest first; none if it cannot be read) with this build's
/// generation, the pool files of `inputs`, in front (unless it is the newest
/// already), cut to the last [`BY_HASH_KEEP`], as its state file holds it:
/// what [`next_generations`] and [`generations_text`] make, streamed word by
/// word, without a list of every pool path nor the history in memory.
pub(super) fn write_pool_generations(
    history: &Path,
    inputs: &[Input],
    out: &mut dyn Write,
) -> io::Result<()> {
    let this = || inputs.iter().map(|i| i.pool.as_os_str().as_bytes());
    // The newest generation is this one: its words, and nothing more, are `this`'s.
    let same = Words::open(history).is_some_and(|mut w| {
        let mut mine = this();
        loop {
            match w.step() {
                Step::Word if mine.next() == Some(&w.word[..]) => {}
                Step::EndOfLine => return mine.next().is_none(),
                _ => return false,
            }
        }
    });
    let mut kept = 0;
    if !same {
        for (k, p) in this().enumerate() {
            if k > 0 {
                out.write_all(b" ")?;
            }
            out.write_all(p)?;
        }
        out.write_all(b"\n")?;
        kept = 1;
    }
    let Some(mut w) = Words::open(history) else {
        return Ok(());
    };
    let (mut lines, mut first) = (kept, true);
    while lines < BY_HASH_KEEP {
        match w.step() {
            Step::Word => {
                if !first {
                    out.write_all(b" ")?;
                }
                out.write_all(&w.word)?;
                first = false;
            }
            Step::EndOfLine => {
                out.write_all(b"\n")?;
                (lines, first) = (lines + 1, true);
            }
            Step::End => break,
        }
    }
    Ok(())
}

/// The pool generations [`write_pool_generations`] writes, in a temporary
/// file, with its digests (to be staged and then dropped).
fn pool_generations_file(
    history: &Path,
    inputs: &[Input],
) -> io::Result<(tempfile::NamedTempFile, Hashes)> {
    let mut tmp = tempfile::NamedTempFile::new()?;
    let hashes = {
        let mut out = HashingWriter {
            inner: io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut()),
            hasher: MultiHasher::new(),
        };
        write_pool_generations(history, inputs, &mut out)?;
        out.inner.flush()?;
        out.hasher.finish()
    };
    Ok((tmp, hashes))
}

/// A writer that hashes what it writes.
struct HashingWriter<W> {
    inner: W,
    hasher: MultiHasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
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
    cache: &mut Cache,
    log: &mut dyn Listener,
) -> Result<usize, BuildError> {
    let (suite, by_hash_generations, by_hash) = plan_tree(opts, parts, previous, cache)?;
    if !suite.unchanged() {
        marker.clear();
        log.stage(Stage::Publishing);
        log.step("publishing the suite tree");
    }
    // A record of another preset goes before the switch (see `xz_preset_path`).
    let preset_path = previous::xz_preset_path(&opts.suite);
    let preset_text = format!("{}\n", opts.xz_preset);
    let preset_file = opts.repo.join(&preset_path);
    if previous.xz_preset != Some(opts.xz_preset) && preset_file.exists() {
        std::fs::remove_file(&preset_file).map_err(|source| {
            BuildError::Publish(crate::publish::PublishError::Io {
                path: preset_file.clone(),
                what: "cannot remove",
                source,
            })
        })?;
    }
    let written = suite.publish(publisher)?;
    publisher.stage(
        &previous::by_hash_generations_path(&opts.suite),
        &Content::Bytes(generations_text(&by_hash_generations)),
    )?;
    let pool_state = previous::pool_generations_path(&opts.suite);
    let (pool_text, hashes) = pool_generations_file(&previous.pool_generations, parts.inputs)
        .map_err(|source| BuildError::State {
            path: opts.repo.join(&pool_state),
            source,
        })?;
    publisher.stage(
        &pool_state,
        &Content::File(pool_text.path().to_path_buf(), hashes),
    )?;
    drop(pool_text);
    publisher.stage(&preset_path, &Content::Bytes(preset_text.into_bytes()))?;
    publisher.commit()?;
    remember_by_hash(opts, &by_hash, cache);
    Ok(written)
}

/// Records in the cache the by-hash copies as published (their file keys and
/// digests), so that the next build knows them by one stat instead of reading
/// them; a copy the cache knows already is left as it is.
fn remember_by_hash(opts: &BuildOptions, by_hash: &[(PathBuf, Hashes)], cache: &mut Cache) {
    for (p, h) in by_hash {
        let path = opts.repo.join(p);
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if m.is_file() && cache.get(&path, &m).is_none_or(|e| e.hashes != *h) {
                cache.insert(&path, &m, h.clone(), None, 0);
            }
        }
    }
}

/// This generation's by-hash copies (relative to the repository) and their digests.
type ByHash = Vec<(PathBuf, Hashes)>;

/// Plans the whole next `dists/<suite>` tree; returns it with the by-hash
/// generations it keeps, this one first, and this generation's by-hash copies.
fn plan_tree(
    opts: &BuildOptions,
    parts: &SuiteParts,
    previous: &Previous,
    cache: &mut Cache,
) -> Result<(SuiteTree, Vec<Vec<String>>, ByHash), BuildError> {
    let suite_dir = parts.suite_dir;
    let mut suite = SuiteTree::open(&opts.repo, suite_dir, !opts.no_symlinks)?;
    for (rel, content) in parts.tree.files.iter().chain(&parts.tree.switch) {
        suite.put(rel, content.clone())?;
    }
    let by_hash = if opts.by_hash {
        put_by_hash(&mut suite, suite_dir, parts.indexes, previous, cache)?
    } else {
        Vec::new()
    };
    for (rel, content) in &parts.indexes.files {
        if parts.indexes.identical.contains(rel) {
            suite.keep(&suite_dir.join(rel))?;
        } else {
            suite.put(&suite_dir.join(rel), content.clone())?;
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
    let this: Vec<String> = by_hash
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let generations = next_generations(previous.by_hash_generations.clone(), this);
    for p in generations.iter().skip(1).flatten() {
        suite.keep(Path::new(p))?;
    }
    Ok((suite, generations, by_hash))
}

/// Puts the `by-hash/SHA256` and `by-hash/SHA512` copies of every index but
/// the component Releases; returns their paths and digests. The copy of an
/// index proven identical to the published one is kept when it is published
/// and holds the same bytes: known from the cache (the file's key, with its
/// inode, size, mtime and ctime, is the one recorded when it was published,
/// with these digests), else compared, not hashed again.
fn put_by_hash(
    suite: &mut SuiteTree,
    suite_dir: &Path,
    indexes: &Indexes,
    previous: &Previous,
    cache: &mut Cache,
) -> Result<ByHash, BuildError> {
    let mut paths = Vec::new();
    for (rel, content) in &indexes.files {
        if rel.ends_with("/Release") {
            continue;
        }
        let h = &indexes.listed[rel];
        let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
        for (alg, digest) in [("SHA256", hex(&h.sha256)), ("SHA512", hex(&h.sha512))] {
            let inner = dir.join("by-hash").join(alg).join(digest);
            let p = suite_dir.join(&inner);
            let published = previous.path(&inner.to_string_lossy());
            if indexes.identical.contains(rel)
                && (known_copy(cache, &published, h) || same_content(&published, content))
            {
                suite.keep(&p)?;
            } else {
                suite.put(&p, content.clone())?;
            }
            paths.push((p, h.clone()));
        }
    }
    Ok(paths)
}

/// True if the cache knows the regular file at `path`, as it is now, to have
/// the digests `h`.
fn known_copy(cache: &mut Cache, path: &Path, h: &Hashes) -> bool {
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_file() && cache.get(path, &m).is_some_and(|e| e.hashes == *h))
}

/// True if the regular file at `path` holds exactly `content` (a file or bytes).
fn same_content(path: &Path, content: &Content) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let same = || -> std::io::Result<bool> {
        let file = std::fs::File::open(path)?;
        match content {
            Content::Bytes(b) => previous::same_stream(file, &b[..]),
            Content::File(src, h) if h.size == meta.len() => {
                previous::same_stream(file, std::fs::File::open(src)?)
            }
            _ => Ok(false),
        }
    };
    meta.is_file() && same().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::opts;

    const DAY0: i64 = 946_684_800;
    const DAY: i64 = 86_400;

    fn clock(now: i64) -> BuildTime {
        BuildTime { now, pinned: false }
    }

    fn date_of(release: &[u8]) -> String {
        let text = String::from_utf8_lossy(release);
        let parsed = release::parse_release(&text).unwrap();
        parsed.field("Date").unwrap().to_string()
    }

    fn listed(bytes: &[u8]) -> BTreeMap<String, Hashes> {
        BTreeMap::from([("main/binary-amd64/Packages".into(), Hashes::of_bytes(bytes))])
    }

    /// Publishes `release` as the suite's and reads the suite back.
    fn published(repo: &Path, release: &[u8]) -> Previous {
        let dir = repo.join("dists/s");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Release"), release).unwrap();
        Previous::read(repo, "s", None)
    }

    #[test]
    fn the_date_is_kept_when_nothing_changed() {
        let t = tempfile::tempdir().unwrap();
        let o = opts(t.path());
        let first = release(&o, clock(DAY0), &listed(b"a"), &Previous::default());
        assert_eq!(date_of(&first), release::format_date(DAY0));
        let prev = published(t.path(), &first);
        // Later, nothing changed: the published Release as it is.
        assert_eq!(release(&o, clock(DAY0 + DAY), &listed(b"a"), &prev), first);
        // An index changed: dated now.
        let changed = release(&o, clock(DAY0 + DAY), &listed(b"b"), &prev);
        assert_eq!(date_of(&changed), release::format_date(DAY0 + DAY));
        // A header field changed: dated now.
        let mut relabelled = opts(t.path());
        relabelled.label = Some("L".into());
        let changed = release(&relabelled, clock(DAY0 + DAY), &listed(b"a"), &prev);
        assert_eq!(date_of(&changed), release::format_date(DAY0 + DAY));
        // SOURCE_DATE_EPOCH: the Date is the given time, whatever was published.
        let pinned = BuildTime {
            now: DAY0 + DAY,
            pinned: true,
        };
        let given = release(&o, pinned, &listed(b"a"), &prev);
        assert_eq!(date_of(&given), release::format_date(DAY0 + DAY));
    }

    #[test]
    fn a_release_is_redated_once_half_its_validity_has_passed() {
        let t = tempfile::tempdir().unwrap();
        let mut o = opts(t.path());
        o.valid_for = Some(10);
        let first = release(&o, clock(DAY0), &listed(b"a"), &Previous::default());
        let prev = published(t.path(), &first);
        assert_eq!(
            release(&o, clock(DAY0 + 4 * DAY), &listed(b"a"), &prev),
            first
        );
        let redated = release(&o, clock(DAY0 + 6 * DAY), &listed(b"a"), &prev);
        assert_eq!(date_of(&redated), release::format_date(DAY0 + 6 * DAY));
        assert!(fresh_enough(None, None, DAY0));
        assert!(fresh_enough(Some(10), Some(DAY0 + 5 * DAY + 1), DAY0));
        assert!(!fresh_enough(Some(10), Some(DAY0 + 5 * DAY), DAY0));
        assert!(!fresh_enough(Some(10), None, DAY0));
    }

    #[test]
    fn generations_keep_the_newest_three() {
        let g = |s: &str| vec![s.to_string()];
        let history = next_generations(Vec::new(), g("a"));
        assert_eq!(history, [g("a")]);
        // The same generation again is not a new one.
        assert_eq!(next_generations(history.clone(), g("a")), [g("a")]);
        let history = next_generations(next_generations(history, g("b")), g("c"));
        let history = next_generations(history, g("d"));
        assert_eq!(history, [g("d"), g("c"), g("b")]);
        assert_eq!(BY_HASH_KEEP, 3);
        assert_eq!(
            generations_text(&[vec!["x".into(), "y".into()], vec![]]),
            b"x y\n\n"
        );
    }

    #[test]
    fn pool_generations_are_written_as_next_generations_makes_them() {
        use crate::build::testing::input;
        let t = tempfile::tempdir().unwrap();
        let history = t.path().join("pool-s");
        // The history file holding `lines` (none: no file), rewritten.
        let written = |lines: Option<&[String]>, inputs: &[Input]| {
            let _ = std::fs::remove_file(&history);
            if let Some(lines) = lines {
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                std::fs::write(&history, text).unwrap();
            }
            let mut out = Vec::new();
            write_pool_generations(&history, inputs, &mut out).unwrap();
            let (file, hashes) = pool_generations_file(&history, inputs).unwrap();
            assert_eq!(std::fs::read(file.path()).unwrap(), out);
            assert_eq!(hashes, Hashes::of_bytes(&out));
            String::from_utf8(out).unwrap()
        };
        let inputs = [input("aa", "amd64", b"a"), input("bb", "all", b"b")];
        let this: Vec<String> = inputs
            .iter()
            .map(|i| i.pool.display().to_string())
            .collect();
        let line = this.join(" ");
        let other = |n: usize| format!("pool/main/o/o{n}/o{n}_1_all.deb pool/x  pool/y");
        let histories: Vec<Vec<String>> = vec![
            vec![],
            vec![String::new()],
            vec![line.clone()],
            vec![format!(" {line} ")],
            vec![format!("{line} pool/z")],
            vec![this[0].clone()],
            vec![other(1)],
            vec![line.clone(), other(1), other(2)],
            vec![other(1), other(2), other(3)],
            vec![other(1), line.clone(), other(2)],
            vec![other(1), String::new(), other(2), other(3)],
        ];
        for lines in histories {
            let parsed = lines
                .iter()
                .map(|l| l.split_whitespace().map(str::to_string).collect())
                .collect();
            for inputs in [&inputs[..], &[]] {
                let this = inputs
                    .iter()
                    .map(|i| i.pool.display().to_string())
                    .collect();
                assert_eq!(
                    written(Some(&lines), inputs),
                    String::from_utf8(generations_text(&next_generations(
                        Vec::clone(&parsed),
                        this
                    )))
                    .unwrap(),
                    "{lines:?}"
                );
            }
        }
        assert_eq!(
            written(Some(&[other(1)]), &inputs),
            format!("{line}\npool/main/o/o1/o1_1_all.deb pool/x pool/y\n")
        );
        assert_eq!(written(None, &inputs), format!("{line}\n"));
    }

    #[test]
    fn the_public_key_is_named_after_the_label_or_origin() {
        let mut o = opts(Path::new("/r"));
        o.label = Some("elirepo Demo/2".into());
        assert_eq!(keyring_name(&o), "elirepo-demo-2-archive-keyring.gpg");
        o.label = None;
        assert_eq!(keyring_name(&o), "o-archive-keyring.gpg");
        o.origin = None;
        assert_eq!(keyring_name(&o), "elirepo-archive-keyring.gpg");
    }

    /// Records what a build tells.
    #[derive(Default)]
    struct Heard(Vec<String>);
    impl Listener for Heard {
        fn step(&mut self, m: &str) {
            self.0.push(format!("step: {m}"));
        }
        fn warn(&mut self, m: &str) {
            self.0.push(format!("warn: {m}"));
        }
    }

    #[test]
    fn an_unsigned_suite_is_said_to_be_unsigned() {
        let mut heard = Heard::default();
        let o = opts(Path::new("/r"));
        let signed = sign(&o, None, b"Release", &Previous::default(), &mut heard).unwrap();
        assert!(signed.files.is_empty() && signed.keyring.is_none());
        assert_eq!(heard.0.len(), 1);
        assert!(heard.0[0].starts_with("warn: the repository is not signed"));
    }

    #[test]
    fn by_hash_copies_are_this_generation_and_the_last_two_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let files = BTreeMap::from([
            ("main/binary-amd64/Packages".to_string(), b"x".to_vec()),
            ("main/binary-amd64/Release".to_string(), b"r".to_vec()),
        ]);
        let listed = files
            .iter()
            .map(|(k, v)| (k.clone(), Hashes::of_bytes(v)))
            .collect();
        let indexes = Indexes {
            files: files
                .into_iter()
                .map(|(k, v)| (k, Content::Bytes(v)))
                .collect(),
            listed,
            identical: Default::default(),
            ..Default::default()
        };
        let (tree, signed) = (TreePlan::default(), Signed::default());
        let parts = SuiteParts {
            suite_dir: Path::new("dists/s"),
            indexes: &indexes,
            tree: &tree,
            release: b"Release",
            signed: &signed,
            inputs: &[],
        };
        let mut previous = Previous::default();
        let old = |n: u8| vec![format!("dists/s/main/binary-amd64/by-hash/SHA256/{n}")];
        previous.by_hash_generations = vec![old(1), old(2), old(3)];
        let x = Hashes::of_bytes(b"x");
        let by_hash = |alg: &str, digest: &[u8]| {
            format!("dists/s/main/binary-amd64/by-hash/{alg}/{}", hex(digest))
        };
        let mut cache = Cache::default();
        let (_, generations, _) =
            plan_tree(&opts(t.path()), &parts, &previous, &mut cache).unwrap();
        assert_eq!(
            generations,
            [
                vec![by_hash("SHA256", &x.sha256), by_hash("SHA512", &x.sha512)],
                old(1),
                old(2),
            ]
        );
        let mut no_by_hash = opts(t.path());
        no_by_hash.by_hash = false;
        let (_, generations, _) = plan_tree(&no_by_hash, &parts, &previous, &mut cache).unwrap();
        assert_eq!(generations[0], Vec::<String>::new());
    }
}
