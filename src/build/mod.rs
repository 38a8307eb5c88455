//! `elirepo build`: from .debs (and netboot inputs) to a published, signed repository.
//!
//! This module owns the order of a build; each phase has a file, and the other
//! concepts live elsewhere ([`crate::deb`], [`crate::index`], [`crate::release`],
//! [`crate::sign`], [`crate::netboot`], [`crate::publish`]). The data's path:
//!
//! 1. `inputs.rs`: the `--deb` paths become checked `Input`s (control paragraph,
//!    digests, identity, pool path); the netboot inputs become checked pairs.
//!    Nothing is touched before all of them are read.
//! 2. The lock; then `previous.rs`: the suite as published, read once.
//! 3. `indexes.rs`: `Packages` per architecture, compressed or reused, with
//!    digests; the netboot trees are planned beside them.
//! 4. `suite.rs`: the suite Release (the previous `Date` kept when nothing
//!    changed), its signatures.
//! 5. Publishing: new pool files first (`copy.rs`: names nothing refers to yet),
//!    then the whole `dists/<suite>` tree as one new generation switched in by
//!    one rename ([`SuiteTree`](crate::publish::SuiteTree)), then elirepo's state.
//! 6. `gc.rs`: pool files no generation still names are removed.
//!
//! Around them: `listener.rs` (what a running build tells), `report.rs` (what it
//! did), `error.rs` (why it published nothing). A build whose inputs did not
//! change writes nothing and keeps the Release `Date`. The time is an input
//! ([`BuildTime`]), as it is of [`crate::verify`].

mod copy;
mod error;
mod gc;
mod indexes;
mod inputs;
mod listener;
mod previous;
mod report;
pub(crate) mod stanzas;
mod suite;
#[cfg(test)]
mod testing;

use std::path::PathBuf;

pub use error::BuildError;
pub use inputs::collect_debs;
pub use listener::{Listener, Silent, Stage};
pub use report::{BuildReport, NetbootReport, ReleaseFile};

use crate::config::BuildOptions;
use crate::hash::Hashes;
use crate::netboot;
use crate::publish::Publisher;
use crate::release::BuildTime;
use gc::CleanMarker;
use previous::Previous;

/// How many generations of by-hash copies stay published.
pub const BY_HASH_KEEP: usize = 3;

/// Runs a build stamped with `time`; see the module documentation.
///
/// The time is a parameter, not a field of [`BuildOptions`]: the options are
/// what the file and the flags say ([`crate::config::resolve`]); the time is
/// when the build runs, read once by the front end ([`BuildTime::from_env`]).
pub fn build(
    opts: &BuildOptions,
    time: BuildTime,
    log: &mut dyn Listener,
) -> Result<BuildReport, BuildError> {
    // 1. Inputs, all checked before anything is touched.
    let (inputs, mut cache) = inputs::read(opts, log)?;
    let (debs, signer) = (&inputs.debs[..], inputs.signer.as_ref());

    // 2. The lock, before reading anything published: a build that waited must see
    //    what the build it waited for published, not what was there before.
    let mut publisher = Publisher::open(&opts.repo, opts.wait, &mut |m| log.step(m))?;
    let keyring = signer.map(|_| suite::keyring_name(opts));
    let previous = Previous::read(&opts.repo, &opts.suite, keyring.as_deref());

    // 3. The indexes of every architecture, and the netboot trees.
    let suite_dir = PathBuf::from("dists").join(&opts.suite);
    let indexes = indexes::build(opts, debs, &previous)?;
    let tree = netboot::plan(
        &inputs.netboot,
        &opts.repo,
        &suite_dir,
        time.now,
        opts.no_symlinks,
        &mut cache,
    )?;
    let listed = suite::listed(&indexes, &tree);

    // 4. The suite Release and its signatures.
    let release = suite::release(opts, time, &listed, &previous);
    let before = previous.packages(
        &opts.component,
        &opts.architectures,
        &indexes.identical,
        debs,
    );
    let (packages, added, removed) = report::package_changes(inputs::identities(debs), &before);
    // Decided before anything is signed or written: more than half of the
    // suite gone at once is a failed mount or a bad checkout, not a choice.
    if !opts.allow_removals && removed.len() * 2 > before.len() {
        return Err(BuildError::TooManyRemovals {
            removed,
            before: before.len(),
            suite: opts.suite.clone(),
        });
    }
    let signed = suite::sign(opts, signer, &release, &previous, log)?;

    // 5. Publish: the pool first (new names nothing refers to yet), then the suite tree.
    let marker = CleanMarker::new(&opts.repo);
    let key = signed.keyring.as_ref();
    let copied = copy::copy_into_pool(
        &opts.repo,
        debs,
        key,
        &mut cache,
        &mut publisher,
        &marker,
        log,
    )?;
    let parts = suite::SuiteParts {
        suite_dir: &suite_dir,
        indexes: &indexes,
        tree: &tree,
        release: &release,
        signed: &signed,
        inputs: debs,
    };
    // A failure from here on may come after the switch: said so if it did.
    let release_path = opts.repo.join(&suite_dir).join("Release");
    let published_before = std::fs::read(&release_path).ok();
    let after_switch = |e: BuildError| {
        let now = std::fs::read(&release_path).ok();
        if now.as_deref() == Some(&release[..]) && published_before.as_deref() != Some(&release[..])
        {
            BuildError::AfterSwitch {
                suite: opts.suite.clone(),
                source: Box::new(e),
            }
        } else {
            e
        }
    };
    let suite_written = suite::publish(
        opts,
        &parts,
        &previous,
        &marker,
        &mut publisher,
        &mut cache,
        log,
    )
    .map_err(after_switch)?;

    // 6. Pool files no suite references any more.
    let files_removed = gc::collect(&opts.repo, &marker, &mut publisher).map_err(after_switch)?;
    publisher
        .finish()
        .map_err(|e| after_switch(BuildError::Publish(e)))?;
    copy::remember(&opts.repo, debs, &copied, &tree, cache, log);

    let files_written = copied.written + suite_written;
    Ok(BuildReport {
        changed: files_written > 0 || files_removed > 0,
        packages,
        added,
        removed,
        files_written,
        files_removed,
        release_sha256: Hashes::of_bytes(&release).sha256_hex(),
        signed: signer.is_some(),
        keyring_fingerprint: signed
            .keyring
            .as_ref()
            .and_then(|(_, public)| crate::sign::fingerprint(public)),
        keyring: signed.keyring.map(|(n, _)| n),
        netboot: report::netboot_reports(&inputs.netboot, &tree, &suite_dir),
        release_files: report::release_files(&listed),
    })
}
