//! Copying the inputs into the pool, before anything names them: a file
//! already published is known from the cache or compared, a different one
//! under the same name is a conflict, and only new files are staged. Also
//! what the cache learns once the build is published.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::gc::CleanMarker;
use super::inputs::Input;
use super::stanzas::Window;
use super::{BuildError, Listener, Stage};
use crate::cache::Cache;
use crate::netboot::TreePlan;
use crate::progress::Progress;
use crate::publish::{Content, Publisher, STATE_DIR};

/// What copying did.
pub(super) struct Copied {
    /// Files written (pool files and the public key).
    pub written: usize,
    /// Per input: its pool file was known from the cache (nothing to record).
    known: Vec<bool>,
}

/// Stages every new pool file and the public key, and commits them. The
/// clean marker goes as soon as anything is written: the pool must be checked
/// for leftovers afterwards, even if this build dies half-way.
pub(super) fn copy_into_pool(
    repo: &Path,
    inputs: &[Input],
    keyring: Option<&(String, Vec<u8>)>,
    cache: &mut Cache,
    publisher: &mut Publisher,
    marker: &CleanMarker,
    log: &mut dyn Listener,
) -> Result<Copied, BuildError> {
    let mut new = vec![false; inputs.len()];
    let r = copy_batched(
        repo,
        inputs,
        keyring,
        cache,
        publisher,
        marker,
        log,
        COMMIT_BATCH,
        &mut new,
    );
    if r.is_err() {
        unpublish(repo, inputs, &new);
    }
    r
}

/// Removes the pool files of the inputs marked `new` that earlier batches
/// committed, and the directories that held only them: a build that fails
/// while copying leaves the pool as it found it, whatever its size. (Nothing
/// names these files yet. What cannot be removed now, the collection after
/// the next build removes: the clean marker went before the first commit.)
fn unpublish(repo: &Path, inputs: &[Input], new: &[bool]) {
    for (inp, _) in inputs.iter().zip(new).filter(|(_, n)| **n) {
        let dest = repo.join(&inp.pool);
        if fs::remove_file(&dest).is_ok() {
            let pool = repo.join("pool");
            let mut dir = dest.parent();
            while let Some(d) = dir.filter(|d| d.starts_with(&pool) && *d != pool) {
                if fs::remove_dir(d).is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
    }
}

/// [`copy_into_pool`], committing every `batch` staged files; `new[k]` is set
/// once input `k`'s pool file is committed.
#[allow(clippy::too_many_arguments)]
fn copy_batched(
    repo: &Path,
    inputs: &[Input],
    keyring: Option<&(String, Vec<u8>)>,
    cache: &mut Cache,
    publisher: &mut Publisher,
    marker: &CleanMarker,
    log: &mut dyn Listener,
    batch: usize,
    new: &mut [bool],
) -> Result<Copied, BuildError> {
    log.stage(Stage::CopyingIntoPool);
    let copying = log.progress(
        "copying into the pool",
        inputs.iter().map(|i| i.info.size).sum(),
    );
    publisher.set_progress(copying.clone());
    let mut known = vec![false; inputs.len()];
    let mut written = 0;
    let mut staged = Vec::new();
    let mut window = Window::default();
    // Stat'ed a chunk at a time: a Metadata is 150 bytes, 50,000 of them 7 MiB.
    for (c, chunk) in inputs.chunks(STAT_CHUNK).enumerate() {
        let metas = stat_pool_files(repo, chunk);
        for (j, (inp, meta)) in chunk.iter().zip(&metas).enumerate() {
            let k = c * STAT_CHUNK + j;
            let dest = repo.join(&inp.pool);
            // A pool file elirepo published and nobody touched since: known without reading it.
            let cached = meta
                .as_ref()
                .filter(|m| m.is_file() && m.mode() & 0o777 == 0o644)
                .and_then(|m| cache.get(&dest, m).map(|e| inp.info.matches(&e.hashes)));
            if cached == Some(true) {
                known[k] = true;
                copying.add(inp.info.size);
                continue;
            }
            let hashes = inp.info.hashes(&mut window).map_err(|e| {
                let what = format!("{}: {e}", inp.path.display());
                BuildError::Stanzas(std::io::Error::new(e.kind(), what))
            })?;
            let content = Content::File(inp.path.clone(), hashes);
            if meta.is_some() {
                // Published already: the same bytes (hashed once here), or a conflict.
                if !publisher.is_current(&inp.pool, &content) {
                    return Err(BuildError::PoolConflict {
                        pool: dest,
                        input: inp.path.clone(),
                    });
                }
                copying.add(inp.info.size);
                continue;
            }
            // Nothing there (stat'ed above): staged with no second look.
            publisher.stage_new(&inp.pool, &content)?;
            staged.push(k);
            // Committed a batch at a time: the publisher holds two paths a staged
            // file (250 bytes; 12 MiB for 50,000 new packages). Each commit syncs
            // once; nothing names these files before the suite is switched, and a
            // failure before the last commit removes them again (`unpublish`).
            if publisher.staged_count() >= batch {
                written += commit(publisher, marker, &mut staged, new)?;
            }
        }
    }
    if let Some((name, key)) = keyring {
        publisher.stage(Path::new(name), &Content::Bytes(key.clone()))?;
    }
    written += commit(publisher, marker, &mut staged, new)?;
    publisher.set_progress(Progress::none());
    Ok(Copied { written, known })
}

/// How many pool files are stat'ed at once.
const STAT_CHUNK: usize = 4096;

/// How many new pool files are staged, at most, before they are committed.
const COMMIT_BATCH: usize = 8192;

/// Commits what `publisher` staged; the clean marker goes first if anything
/// was. The inputs `staged` (their indexes) are marked in `new` first: a
/// commit that fails half-way has renamed some of them into place.
fn commit(
    publisher: &mut Publisher,
    marker: &CleanMarker,
    staged: &mut Vec<usize>,
    new: &mut [bool],
) -> Result<usize, BuildError> {
    if publisher.staged_count() > 0 {
        marker.clear();
    }
    for k in staged.drain(..) {
        new[k] = true;
    }
    Ok(publisher.commit()?)
}

/// The published pool files of `inputs`, stat'ed on all cores.
fn stat_pool_files(repo: &Path, inputs: &[Input]) -> Vec<Option<fs::Metadata>> {
    std::thread::scope(|sc| {
        let chunk = inputs.len().div_ceil(2).max(1);
        let parts: Vec<_> = inputs
            .chunks(chunk)
            .map(|c| {
                sc.spawn(move || {
                    c.iter()
                        .map(|i| fs::symlink_metadata(repo.join(&i.pool)).ok())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("stat thread"))
            .collect()
    })
}

/// Records in the cache the pool files and netboot files just published, so
/// that the next build knows them without reading them, and saves it (a cache
/// that cannot be saved is only a warning).
pub(super) fn remember(
    repo: &Path,
    inputs: &[Input],
    copied: &Copied,
    tree: &TreePlan,
    mut cache: Cache,
    log: &mut dyn Listener,
) {
    let mut window = Window::default();
    for (inp, known) in inputs.iter().zip(&copied.known) {
        if *known {
            continue;
        }
        let dest = repo.join(&inp.pool);
        if let Ok(m) = fs::symlink_metadata(&dest) {
            // A stanza that cannot be read back: the cache does not learn the file.
            if let (true, Ok(h)) = (m.is_file(), inp.info.hashes(&mut window)) {
                cache.insert(&dest, &m, h, None, 0);
            }
        }
    }
    for (rel, content) in &tree.files {
        if let (Content::File(_, h), Ok(m)) = (content, fs::symlink_metadata(repo.join(rel))) {
            if m.is_file() && cache.get(&repo.join(rel), &m).is_none() {
                cache.insert(&repo.join(rel), &m, h.clone(), None, 0);
            }
        }
    }
    if let Err(e) = cache.save() {
        log.warn(&format!(
            "{}: cannot save the cache ({e}); the next build reads every .deb again",
            repo.join(STATE_DIR).join("cache").display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::input;
    use crate::build::Silent;

    /// An input whose .deb is a real file under `dir`.
    fn real(dir: &Path, name: &str) -> Input {
        let bytes = format!("the .deb of {name}");
        let mut inp = input(name, "amd64", bytes.as_bytes());
        inp.path = dir.join(format!("{name}.deb"));
        fs::write(&inp.path, bytes).unwrap();
        inp
    }

    /// Every file and directory under `root`, relative.
    fn tree(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = walkdir::WalkDir::new(root)
            .into_iter()
            .flatten()
            .map(|e| e.path().strip_prefix(root).unwrap().display().to_string())
            .collect();
        v.sort();
        v
    }

    /// A conflict found after two batches were committed: the build fails, naming
    /// it, and the pool is as it was, directories included.
    #[test]
    fn a_failure_after_some_batches_leaves_the_pool_as_it_was() {
        let t = tempfile::tempdir().unwrap();
        let (repo, src) = (t.path().join("repo"), t.path().join("src"));
        fs::create_dir_all(&src).unwrap();
        let mut inputs: Vec<Input> = (0..7).map(|i| real(&src, &format!("p{i}"))).collect();
        inputs.sort_by(|a, b| a.pool.cmp(&b.pool));
        // The last one's pool file is there already, with other bytes.
        let taken = repo.join(&inputs[6].pool);
        fs::create_dir_all(taken.parent().unwrap()).unwrap();
        fs::write(&taken, b"another package's bytes").unwrap();
        let before = tree(&repo.join("pool"));

        let mut publisher = Publisher::open(&repo, false, &mut |_| {}).unwrap();
        let mut cache = Cache::load(&t.path().join("cache"));
        let marker = CleanMarker::new(&repo);
        let mut new = vec![false; inputs.len()];
        let r = copy_batched(
            &repo,
            &inputs,
            None,
            &mut cache,
            &mut publisher,
            &marker,
            &mut Silent,
            2,
            &mut new,
        );
        assert!(matches!(r, Err(BuildError::PoolConflict { .. })));
        assert_eq!(
            new.iter().filter(|n| **n).count(),
            6,
            "three batches committed"
        );
        assert!(
            repo.join(&inputs[0].pool).exists(),
            "committed before the failure"
        );
        unpublish(&repo, &inputs, &new);
        assert_eq!(tree(&repo.join("pool")), before);
        assert_eq!(fs::read(&taken).unwrap(), b"another package's bytes");

        // Without the conflict, everything is published.
        fs::remove_file(&taken).unwrap();
        let copied = copy_into_pool(
            &repo,
            &inputs,
            None,
            &mut cache,
            &mut publisher,
            &marker,
            &mut Silent,
        )
        .map_err(|e| e.to_string())
        .unwrap();
        assert_eq!(copied.written, 7);
        for inp in &inputs {
            assert_eq!(
                fs::read(repo.join(&inp.pool)).unwrap(),
                fs::read(&inp.path).unwrap()
            );
        }
    }
}
