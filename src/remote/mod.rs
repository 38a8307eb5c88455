//! `elirepo publish`: copying a built repository to where clients fetch it (an
//! S3 bucket, a host over ssh, another file system) without ever showing a
//! half-published repository, incrementally, one writer at a time.
//!
//! This module owns the command's options, its report and the order of the
//! work; it does not build or parse repositories (that is [`crate::build`]'s
//! and [`crate::publish`]'s: the *local* atomic publisher of `build`).
//!
//! * [`source`]: the source repository as clients see it ([`plan::Snapshot`]).
//! * [`plan`]: what to send and delete and in which order, pure and tested.
//! * [`state`]: the destination's own record, `.elirepo-publish/state.json`.
//! * [`shell`]: local paths and ssh hosts: `rsync` in passes, renames, `flock`.
//! * [`s3`]: S3 and S3-compatible stores: SigV4, conditional-write lock,
//!   multipart, parallel transfers.
//!
//! Every destination follows the same sequence: take the destination's lock;
//! list what is really there and read its state; plan; send pass by pass
//! ([`plan::PASSES`]), generation directories and their link switch after the
//! first pass; delete what no kept publish names; write the state; unlock.
//! A failure before the first send leaves the destination as it was.

pub mod plan;
pub mod s3;
pub mod shell;
pub mod source;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plan::{Class, GenerationOp, Listing, Plan, Snapshot};
use state::State;

/// Why a publish stopped. Every variant ends the command with exit status 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The command line or configuration is wrong.
    #[error("{0}")]
    Usage(String),
    /// The source repository cannot be read.
    #[error("{0}")]
    Source(String),
    /// The destination refused or failed (credentials, bucket, host, network).
    #[error("{0}")]
    Destination(String),
    /// Another publish holds the destination's lock and `--no-wait` was given.
    #[error("{0}")]
    Locked(String),
    /// The destination failed after this publish began to change it: it still
    /// serves a consistent repository (the old one or the new one), and the
    /// next publish completes the work.
    #[error("{0}")]
    Interrupted(String),
}

impl PublishError {
    pub(crate) fn source(path: &Path, e: std::io::Error) -> PublishError {
        PublishError::Source(format!("{}: {e}", path.display()))
    }
}

/// Receives what a publish is doing, for the front end to show.
pub trait Listener {
    /// A step.
    fn step(&mut self, message: &str);
    /// Something the user should know.
    fn warn(&mut self, message: &str);
}

/// A listener that drops everything.
pub struct Silent;
impl Listener for Silent {
    fn step(&mut self, _: &str) {}
    fn warn(&mut self, _: &str) {}
}

/// The `[publish]` table of the configuration file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PublishConfig {
    /// Cache-Control of files that never change (pool, by-hash, versioned netboot).
    pub cache_control_immutable: Option<String>,
    /// Cache-Control of everything else (Release files, indexes, `current/`).
    pub cache_control_short: Option<String>,
    /// Content-Type by file name suffix (".deb" = "...").
    #[serde(default)]
    pub content_types: BTreeMap<String, String>,
    /// S3: files larger than this many bytes go in multipart uploads (default 16 MiB).
    pub multipart_threshold: Option<u64>,
    /// S3: seconds a lock is valid without renewal (default 600).
    pub lock_ttl: Option<u64>,
}

/// Default Cache-Control of immutable files.
pub const IMMUTABLE_CACHE: &str = "public, max-age=31536000, immutable";
/// Default Cache-Control of short-lived files.
pub const SHORT_CACHE: &str = "public, max-age=60, must-revalidate";

impl PublishConfig {
    /// The Cache-Control header for `path`.
    pub fn cache_control(&self, path: &str) -> String {
        if plan::classify(path).immutable() {
            self.cache_control_immutable.clone().unwrap_or_else(|| IMMUTABLE_CACHE.into())
        } else {
            self.cache_control_short.clone().unwrap_or_else(|| SHORT_CACHE.into())
        }
    }

    /// The Content-Type header for `path`.
    pub fn content_type(&self, path: &str) -> String {
        let name = path.rsplit('/').next().unwrap_or(path);
        let by_hash = path.contains("/by-hash/");
        if !by_hash {
            if let Some((_, t)) = self
                .content_types
                .iter()
                .filter(|(suffix, _)| name.ends_with(suffix.as_str()))
                .max_by_key(|(suffix, _)| suffix.len())
            {
                return t.clone();
            }
        }
        let t = if by_hash {
            "application/octet-stream"
        } else if name.ends_with(".deb") || name.ends_with(".udeb") || name.ends_with(".ddeb") {
            "application/vnd.debian.binary-package"
        } else if name.ends_with(".gz") {
            "application/gzip"
        } else if name.ends_with(".xz") {
            "application/x-xz"
        } else if name.ends_with(".bz2") {
            "application/x-bzip2"
        } else if name.ends_with(".zst") {
            "application/zstd"
        } else if name.ends_with(".lz4") {
            "application/x-lz4"
        } else if name == "Release.gpg" {
            "application/pgp-signature"
        } else if name.ends_with(".gpg") {
            "application/pgp-keys"
        } else if name.ends_with(".asc") {
            "text/plain; charset=utf-8"
        } else if matches!(name, "Release" | "InRelease" | "Packages" | "Sources" | "MD5SUMS" | "SHA256SUMS")
            || name.starts_with("Translation-")
        {
            "text/plain; charset=utf-8"
        } else {
            "application/octet-stream"
        };
        t.into()
    }
}

/// Where to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `s3://BUCKET[/PREFIX]`.
    S3 {
        /// The bucket.
        bucket: String,
        /// Key prefix, empty or ending in `/`.
        prefix: String,
    },
    /// `[USER@]HOST:PATH` or `ssh://[USER@]HOST[:PORT]/PATH`.
    Ssh {
        /// `[user@]host`.
        target: String,
        /// The port, if given.
        port: Option<u16>,
        /// The path on the host.
        path: String,
    },
    /// A directory on this machine.
    Local(PathBuf),
}

impl Destination {
    /// Parses DEST.
    pub fn parse(s: &str) -> Result<Destination, PublishError> {
        let bad = |why: &str| PublishError::Usage(format!("{s}: {why}"));
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name (s3://BUCKET[/PREFIX])"));
            }
            let prefix = prefix.trim_matches('/');
            let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
            return Ok(Destination::S3 { bucket: bucket.into(), prefix });
        }
        if let Some(rest) = s.strip_prefix("ssh://") {
            let (auth, path) = rest.split_once('/').ok_or_else(|| bad("no path (ssh://[USER@]HOST[:PORT]/PATH)"))?;
            let (target, port) = match auth.rsplit_once(':') {
                Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| bad("the port is not a number"))?)),
                None => (auth, None),
            };
            if target.is_empty() || path.is_empty() {
                return Err(bad("no host or no path (ssh://[USER@]HOST[:PORT]/PATH)"));
            }
            return Ok(Destination::Ssh { target: target.into(), port, path: format!("/{path}") });
        }
        if s.contains("://") {
            return Err(bad("unknown scheme: use s3://, ssh://, HOST:PATH or a local path"));
        }
        // rsync's rule: a colon before any slash means HOST:PATH.
        if let Some((host, path)) = s.split_once(':') {
            if !host.contains('/') && !host.is_empty() {
                let path = if path.is_empty() { "." } else { path };
                return Ok(Destination::Ssh { target: host.into(), port: None, path: path.into() });
            }
        }
        Ok(Destination::Local(PathBuf::from(s)))
    }
}

/// What `elirepo publish` is asked to do.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The built repository.
    pub repo: PathBuf,
    /// Where to.
    pub dest: Destination,
    /// Only these suites' `dists/` (empty: all).
    pub suites: Vec<String>,
    /// List only.
    pub dry_run: bool,
    /// Parallel transfers (S3).
    pub jobs: usize,
    /// Fail at once when another publish holds the lock.
    pub no_wait: bool,
    /// S3 endpoint URL (else AWS_ENDPOINT_URL, else AWS).
    pub endpoint: Option<String>,
    /// S3 region (else AWS_REGION, the profile's, us-east-1).
    pub region: Option<String>,
    /// The ssh command for ssh destinations (default `ssh`).
    pub rsh: Option<String>,
    /// The `[publish]` table.
    pub config: PublishConfig,
}

/// Counts of one kind of operation.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    /// How many files.
    pub count: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The files, in order.
    pub files: Vec<String>,
}

/// What a publish did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PublishReport {
    /// The destination as given.
    pub destination: String,
    /// Nothing was changed.
    pub dry_run: bool,
    /// Files sent.
    pub sent: Counts,
    /// Files deleted.
    pub deleted: Counts,
    /// Generation directories sent and switched (local path, ssh).
    pub generations: Vec<GenerationOp>,
    /// Generation directories deleted.
    pub deleted_generations: Vec<String>,
    /// Files already in place.
    pub unchanged: usize,
    /// HTTP requests made (S3 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// What really went to the destination: files written and bytes sent over
    /// the wire (rsync: its own count, protocol included, unchanged files of a
    /// generation hard-linked rather than sent; S3: request bodies, server-side
    /// copies not included). `sent` is what the publish had to place there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transferred: Option<Transferred>,
}

/// Files and bytes that went to the destination.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Transferred {
    /// Files written.
    pub files: u64,
    /// Bytes sent.
    pub bytes: u64,
}

/// A destination, as the sequence in [`publish`] drives it.
pub trait Executor {
    /// Whether generation links can be switched with a rename.
    fn renames(&self) -> bool;
    /// Takes the destination's lock (waits unless `no_wait`).
    fn lock(&mut self, no_wait: bool, log: &mut dyn Listener) -> Result<(), PublishError>;
    /// Renews the lock between passes, if it expires.
    fn renew(&mut self) -> Result<(), PublishError> {
        Ok(())
    }
    /// Releases the lock.
    fn unlock(&mut self) -> Result<(), PublishError>;
    /// What is really there.
    fn listing(&mut self) -> Result<Listing, PublishError>;
    /// The state file, if any.
    fn read_state(&mut self) -> Result<Option<Vec<u8>>, PublishError>;
    /// Sends `files` (one pass: in any order or in parallel).
    fn send(&mut self, snap: &Snapshot, files: &[String], cfg: &PublishConfig) -> Result<(), PublishError>;
    /// Sends a generation directory (unless already complete) and switches its suite's link.
    fn generation(&mut self, repo: &Path, op: &GenerationOp) -> Result<(), PublishError>;
    /// Deletes files, then generation directories.
    fn delete(&mut self, files: &[String], dirs: &[String]) -> Result<(), PublishError>;
    /// Writes the state file.
    fn write_state(&mut self, bytes: &[u8]) -> Result<(), PublishError>;
    /// HTTP requests made so far, if counted.
    fn requests(&self) -> Option<u64> {
        None
    }
    /// Files and bytes that really went to the destination so far (rsync's
    /// count; S3: the bodies uploaded), if counted.
    fn transferred(&self) -> Option<(u64, u64)> {
        None
    }
}

/// Publishes; see the module documentation.
pub fn publish(opts: &PublishOptions, log: &mut dyn Listener) -> Result<PublishReport, PublishError> {
    let dest_text = match &opts.dest {
        Destination::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        Destination::Ssh { target, port, path } => match port {
            Some(p) => format!("ssh://{target}:{p}{path}"),
            None => format!("{target}:{path}"),
        },
        Destination::Local(p) => p.display().to_string(),
    };
    log.step(&format!("reading {}", opts.repo.display()));
    let snap = source::scan(&opts.repo)?;
    for s in &opts.suites {
        if !snap.files.keys().any(|p| p.starts_with(&format!("dists/{s}/"))) {
            return Err(PublishError::Usage(format!(
                "{}: no suite {s} in dists/",
                opts.repo.display()
            )));
        }
    }
    let mut exec: Box<dyn Executor> = match &opts.dest {
        Destination::S3 { bucket, prefix } => Box::new(s3::S3::open(opts, bucket, prefix)?),
        Destination::Ssh { target, port, path } => {
            Box::new(shell::Shell::ssh(target, *port, path, opts.rsh.as_deref())?)
        }
        Destination::Local(p) => {
            if p.starts_with(&opts.repo) || opts.repo.starts_with(p) {
                if let (Ok(a), Ok(b)) = (p.canonicalize(), opts.repo.canonicalize()) {
                    if a.starts_with(&b) || b.starts_with(&a) {
                        return Err(PublishError::Usage(format!(
                            "{}: the destination overlaps the repository",
                            p.display()
                        )));
                    }
                }
            }
            Box::new(shell::Shell::local(p)?)
        }
    };
    if !opts.dry_run {
        exec.lock(opts.no_wait, log)?;
    }
    let result = run(&mut *exec, opts, &snap, &dest_text, log);
    if !opts.dry_run {
        let unlocked = exec.unlock();
        if result.is_ok() {
            unlocked.map_err(interrupted)?;
        }
    }
    // Every request counted, the lock's release included.
    result.map(|mut r| {
        r.requests = exec.requests();
        if !r.dry_run {
            r.transferred = exec.transferred().map(|(files, bytes)| Transferred { files, bytes });
        }
        r
    })
}

fn run(
    exec: &mut dyn Executor,
    opts: &PublishOptions,
    snap: &Snapshot,
    dest_text: &str,
    log: &mut dyn Listener,
) -> Result<PublishReport, PublishError> {
    let listing = exec.listing()?;
    let old = match exec.read_state()? {
        Some(bytes) => State::parse(&bytes).unwrap_or_else(|| {
            log.warn(&format!(
                "{dest_text}: {} is unreadable or of another version; trusting the listing only",
                state::FILE
            ));
            State::default()
        }),
        None => State::default(),
    };
    let plan = plan::plan(snap, &old, &listing, exec.renames(), &opts.suites);
    let mut report = PublishReport {
        destination: dest_text.to_string(),
        dry_run: opts.dry_run,
        unchanged: plan.unchanged,
        generations: plan.generations.clone(),
        deleted_generations: plan.delete_dirs.clone(),
        ..Default::default()
    };
    for f in plan.sends() {
        report.sent.count += 1;
        report.sent.bytes += snap.files[f].size;
        report.sent.files.push(f.clone());
    }
    for g in plan.generations.iter().filter(|g| g.send) {
        if let Some(s) = snap.suites.iter().find(|s| s.suite == g.suite) {
            report.sent.bytes += s.files.values().sum::<u64>();
        }
    }
    for f in &plan.delete {
        report.deleted.count += 1;
        report.deleted.bytes += old.files.get(f).map_or(0, |s| s.size);
        report.deleted.files.push(f.clone());
    }
    if opts.dry_run {
        report.requests = exec.requests();
        return Ok(report);
    }
    if !plan.is_empty() {
        // Before the first change, the state names what this publish sends (a
        // publish killed midway leaves nothing the next one does not know of,
        // and its files count as a kept publish: its InRelease may be out) and
        // still names what it deletes.
        let mut intent = plan.state.clone();
        for f in &plan.delete {
            if let Some(fs) = old.files.get(f) {
                intent.files.insert(f.clone(), fs.clone());
            }
        }
        exec.write_state(&intent.to_bytes())?;
    }
    execute(exec, opts, snap, &plan, log).map_err(interrupted)?;
    // The stamps the destination gives the files just sent.
    let mut state = plan.state.clone();
    if state.files.values().any(|f| f.stamp.is_none()) {
        let after = exec.listing().map_err(interrupted)?;
        for (p, f) in state.files.iter_mut() {
            if f.stamp.is_none() {
                f.stamp = after.files.get(p).filter(|(s, _)| *s == f.size).map(|(_, st)| st.clone());
            }
        }
    }
    if plan.is_empty() && state == old {
        log.step("nothing to publish: the destination is up to date");
    } else {
        exec.write_state(&state.to_bytes()).map_err(interrupted)?;
    }
    report.requests = exec.requests();
    Ok(report)
}

/// A destination failure once something was changed.
fn interrupted(e: PublishError) -> PublishError {
    match e {
        PublishError::Destination(m) => PublishError::Interrupted(m),
        e => e,
    }
}

fn execute(
    exec: &mut dyn Executor,
    opts: &PublishOptions,
    snap: &Snapshot,
    plan: &Plan,
    log: &mut dyn Listener,
) -> Result<(), PublishError> {
    for (i, files) in plan.passes.iter().enumerate() {
        if !files.is_empty() {
            let bytes: u64 = files.iter().map(|f| snap.files[f].size).sum();
            log.step(&format!("sending {}: {} files, {bytes} bytes", plan::PASSES[i].0, files.len()));
            exec.send(snap, files, &opts.config)?;
            exec.renew()?;
        }
        // Generations go right after the pool: they carry indexes, Release and current/ at once.
        if i == 0 {
            for g in &plan.generations {
                log.step(&format!("{} generation {} of {}", if g.send { "sending and switching to" } else { "switching to" }, g.id, g.suite));
                exec.generation(&opts.repo, g)?;
                exec.renew()?;
            }
        }
    }
    if !plan.delete.is_empty() || !plan.delete_dirs.is_empty() {
        log.step(&format!(
            "deleting {} files and {} generations no kept publish names",
            plan.delete.len(),
            plan.delete_dirs.len()
        ));
        exec.delete(&plan.delete, &plan.delete_dirs)?;
    }
    let _ = Class::Immutable;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(
            Destination::parse("s3://b/p/q/").unwrap(),
            Destination::S3 { bucket: "b".into(), prefix: "p/q/".into() }
        );
        assert_eq!(
            Destination::parse("s3://b").unwrap(),
            Destination::S3 { bucket: "b".into(), prefix: "".into() }
        );
        assert_eq!(
            Destination::parse("u@h:www/repo").unwrap(),
            Destination::Ssh { target: "u@h".into(), port: None, path: "www/repo".into() }
        );
        assert_eq!(
            Destination::parse("ssh://u@h:2222/srv/repo").unwrap(),
            Destination::Ssh { target: "u@h".into(), port: Some(2222), path: "/srv/repo".into() }
        );
        assert_eq!(Destination::parse("/srv/x:y").unwrap(), Destination::Local("/srv/x:y".into()));
        assert_eq!(Destination::parse("./a:b").unwrap(), Destination::Local("./a:b".into()));
        assert!(Destination::parse("s3://").is_err());
        assert!(Destination::parse("ftp://x/y").is_err());
        assert!(Destination::parse("ssh://h:port/x").is_err());
    }

    /// An S3-like destination in memory that fails ("is killed") after `budget` writes.
    struct Memory {
        files: BTreeMap<String, (u64, String)>,
        state: Option<Vec<u8>>,
        budget: usize,
    }

    impl Memory {
        fn spend(&mut self) -> Result<(), PublishError> {
            if self.budget == 0 {
                return Err(PublishError::Destination("killed".into()));
            }
            self.budget -= 1;
            Ok(())
        }
    }

    impl Executor for Memory {
        fn renames(&self) -> bool {
            false
        }
        fn lock(&mut self, _: bool, _: &mut dyn Listener) -> Result<(), PublishError> {
            Ok(())
        }
        fn unlock(&mut self) -> Result<(), PublishError> {
            Ok(())
        }
        fn listing(&mut self) -> Result<Listing, PublishError> {
            Ok(Listing { files: self.files.clone(), links: BTreeMap::new() })
        }
        fn read_state(&mut self) -> Result<Option<Vec<u8>>, PublishError> {
            Ok(self.state.clone())
        }
        fn send(&mut self, snap: &Snapshot, files: &[String], _: &PublishConfig) -> Result<(), PublishError> {
            for f in files {
                self.spend()?;
                let s = &snap.files[f];
                self.files.insert(f.clone(), (s.size, s.md5.clone()));
            }
            Ok(())
        }
        fn generation(&mut self, _: &Path, _: &GenerationOp) -> Result<(), PublishError> {
            unreachable!("no renames")
        }
        fn delete(&mut self, files: &[String], _: &[String]) -> Result<(), PublishError> {
            for f in files {
                self.spend()?;
                self.files.remove(f);
            }
            Ok(())
        }
        fn write_state(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
            self.spend()?;
            self.state = Some(bytes.to_vec());
            Ok(())
        }
    }

    fn snapshot(files: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            files: files
                .iter()
                .map(|(p, c)| {
                    let f = plan::SourceFile { abs: "/nonexistent".into(), size: c.len() as u64, sha256: format!("s{c}"), md5: format!("m{c}") };
                    (p.to_string(), f)
                })
                .collect(),
            suites: vec![],
        }
    }

    /// A publish killed after any number of writes, then a publish of another
    /// repository, then KEEP more: the destination holds exactly the last
    /// repository and nothing the state does not know of (no orphan of the
    /// killed publish, e.g. its by-hash objects).
    #[test]
    fn a_killed_publish_leaves_nothing_behind() {
        let opts = PublishOptions {
            repo: "/nonexistent".into(),
            dest: Destination::Local("/nonexistent".into()),
            suites: vec![],
            dry_run: false,
            jobs: 1,
            no_wait: false,
            endpoint: None,
            region: None,
            rsh: None,
            config: PublishConfig::default(),
        };
        let gen = |n: u32| {
            let (r, h) = (format!("r{n}"), format!("dists/s/by-hash/SHA256/h{n}"));
            (r, h, format!("pool/p{n}.deb"))
        };
        let files_of = |n: u32| {
            let (r, h, p) = gen(n);
            vec![(p, format!("p{n}")), (h, format!("h{n}")), ("dists/s/InRelease".to_string(), r)]
        };
        let snap_of = |n: u32| {
            let f = files_of(n);
            snapshot(&f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>())
        };
        for kill_at in 0..8 {
            let mut m = Memory { files: BTreeMap::new(), state: None, budget: usize::MAX };
            run(&mut m, &opts, &snap_of(0), "mem", &mut Silent).unwrap();
            m.budget = kill_at;
            let killed = run(&mut m, &opts, &snap_of(1), "mem", &mut Silent);
            m.budget = usize::MAX;
            for n in 2..2 + plan::KEEP as u32 {
                run(&mut m, &opts, &snap_of(n), "mem", &mut Silent).unwrap();
            }
            let last = snap_of(1 + plan::KEEP as u32);
            let st = State::parse(m.state.as_ref().unwrap()).unwrap();
            for (path, _) in &m.files {
                assert!(st.files.contains_key(path), "kill after {kill_at} writes ({killed:?}): {path} left behind, unknown to the state");
            }
            // Only the kept publishes' files remain: nothing of publish 0 or 1.
            assert!(m.files.keys().all(|p| !p.ends_with("p0.deb") && !p.ends_with("p1.deb") && !p.ends_with("h1")), "kill after {kill_at}: {:?}", m.files.keys());
            for p in last.files.keys() {
                assert!(m.files.contains_key(p), "{p} missing");
            }
        }
    }

    #[test]
    fn headers_per_path() {
        let mut c = PublishConfig::default();
        assert_eq!(c.cache_control("pool/main/a/a/a_1_all.deb"), IMMUTABLE_CACHE);
        assert_eq!(c.cache_control("dists/s/InRelease"), SHORT_CACHE);
        assert_eq!(c.cache_control("dists/s/main/installer-i386/current/images/netboot/xen/vmlinuz"), SHORT_CACHE);
        assert_eq!(c.cache_control("dists/s/main/installer-i386/2024/images/netboot/xen/vmlinuz"), IMMUTABLE_CACHE);
        assert_eq!(c.content_type("pool/a.deb"), "application/vnd.debian.binary-package");
        assert_eq!(c.content_type("dists/s/main/binary-i386/Packages.xz"), "application/x-xz");
        assert_eq!(c.content_type("dists/s/main/binary-i386/by-hash/SHA256/00"), "application/octet-stream");
        c.cache_control_short = Some("no-cache".into());
        c.content_types.insert(".deb".into(), "application/x-deb".into());
        assert_eq!(c.cache_control("dists/s/Release"), "no-cache");
        assert_eq!(c.content_type("pool/a.deb"), "application/x-deb");
    }
}
