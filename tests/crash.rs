//! Crash consistency, judged by the real clients: a build killed at any moment
//! leaves a repository that
//!
//! - a real `apt-get update` reads cleanly (no `W:`, no `E:`), both as a new
//!   client and as one that holds the previous Release (updated before the build
//!   started), the two seeing the same packages: the old set or the new one,
//!   never a mix; `apt-get download` by both then gets bytes equal to the input
//!   .debs;
//! - `gpgv` accepts (InRelease, and Release.gpg with Release) with the published
//!   keyring;
//! - serves a netboot pair (`current/images/netboot/xen/{vmlinuz,initrd.gz}`),
//!   each file an input file, matching its `SHA256SUMS` (digests computed here),
//!   whose digest the signed Release lists, and the old input pair or the new one;
//! - `elirepo verify --suite` accepts;
//!
//! and the next build recovers and cleans up. Two ways to stop a build:
//!
//! - every named fault point of the publish step (the hidden `ELIREPO_FAULT` hook
//!   in `src/publish.rs` aborts the process there, as a `kill -9` would stop it):
//!   a traced build lists them (`ELIREPO_FAULT=trace`), some kinds are required,
//!   each one exercised must be reached (the process dies of SIGABRT saying
//!   `fault point <name>: aborting`); with generations (the default), after a
//!   dead build, with pool files to collect, with `--no-symlinks`, and from one
//!   layout to the other;
//! - seeded random `kill -9`s while the repository cycles through four input sets
//!   (pool files copied and collected in every round), with a pause at every fault
//!   point (`ELIREPO_FAULT_SLEEP_US`) that widens the publish step, and a count of
//!   the kills that landed inside it (a staging area or a generation in progress).
//!
//! `--no-symlinks` is not atomic as a whole (README): during its suite commit the
//! checks in [`NO_SYMLINKS_COMMIT`] are excused; nothing else is. A bug found and
//! not fixed yet goes in [`KNOWN_BUGS`] (empty: the six this test found in the
//! `--no-symlinks` layout and the changes of layout are fixed), excused but
//! required to still show; `no_symlinks_publishing_survives_every_fault_point`
//! runs every kind of fault point of those scenarios again, each one on its own.
//!
//! By default repeated fault points of one kind are sampled (first, last, one
//! seeded at random), a kind exercised once is not exercised again in a later
//! scenario, and 20 random kills land; `ELIREPO_SLOW_TESTS=1` (CI) runs every
//! fault point of a kind the first time, a sample of it in the later scenarios,
//! every fault point of the `--no-symlinks` scenarios, and 100 kills.

mod common;
use common::synth;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::apt::{both, text, Apt};
use common::gpg::{gpgv, Key};
use common::{
    build_cmd_at, elirepo, have_tools, output_of, seed_from_env, sha256_hex, tempdir, DebBuilder,
    Rng,
};
use synth::{initrd_gz as initrd, pv_amd64_kernel as kernel};

const SDE: &str = "1795000000"; // Wed, 18 Nov 2026: in the past, so apt accepts the Date
const SUITE: &str = "lenny";
/// The netboot images, relative to `dists/<suite>`.
const IMAGES: &str = "main/installer-amd64/current/images";
/// What `--sign-key` publishes without `--label`/`--origin`.
const KEYRING: &str = "elirepo-archive-keyring.gpg";
/// SIGABRT: how a build stopped at a fault point dies.
const SIGABRT: i32 = 6;

fn slow() -> bool {
    std::env::var("ELIREPO_SLOW_TESTS").as_deref() == Ok("1")
}

/// One set of inputs: some packages and a kernel/initrd pair.
struct Inputs {
    dir: PathBuf,
    /// Package names, sorted.
    names: Vec<String>,
    /// The input .debs by the file name apt downloads them as.
    debs: BTreeMap<String, Vec<u8>>,
    kernel: Vec<u8>,
    initrd: Vec<u8>,
}

fn inputs(root: &Path, tag: &str, packages: &[&str], release: &str) -> Inputs {
    let dir = root.join(tag);
    fs::create_dir_all(dir.join("debs")).unwrap();
    let mut debs = BTreeMap::new();
    for p in packages {
        let name = format!("{p}_1.0_amd64.deb");
        let path = dir.join("debs").join(&name);
        DebBuilder::new(p)
            .version("1.0")
            .arch("amd64")
            .data_file(
                &format!("./usr/share/{p}/payload"),
                vec![p.as_bytes()[0]; 40_000],
                0o644,
            )
            .write_to(&path)
            .unwrap();
        debs.insert(name, fs::read(&path).unwrap());
    }
    let (k, i) = (kernel(release), initrd(release));
    fs::write(dir.join("vmlinuz"), &k).unwrap();
    fs::write(dir.join("initrd"), &i).unwrap();
    let mut names: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    names.sort();
    Inputs {
        dir,
        names,
        debs,
        kernel: k,
        initrd: i,
    }
}

/// An unsigned build (the full-disk test).
fn build_cmd(repo: &Path, i: &Inputs) -> Command {
    let mut c = build_cmd_at(repo, Some(SDE));
    c.args([
        "-q",
        "--unsigned",
        "--allow-removals",
        "--suite",
        SUITE,
        "--arch",
        "amd64",
    ])
    .arg("--deb")
    .arg(i.dir.join("debs"))
    .arg("--kernel")
    .arg(i.dir.join("vmlinuz"))
    .arg("--initrd")
    .arg(i.dir.join("initrd"))
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

fn build_ok(repo: &Path, i: &Inputs) {
    let o = output_of(&mut build_cmd(repo, i));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The published package names, from the Packages index.
fn published(repo: &Path) -> Vec<String> {
    let text =
        fs::read_to_string(repo.join("dists/lenny/main/binary-amd64/Packages")).unwrap_or_default();
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Package: "))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// `elirepo verify` accepts the repository, which holds one of the two input sets.
fn assert_consistent(repo: &Path, a: &Inputs, b: &Inputs, what: &str) {
    let v = output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", SDE)
            .arg("verify")
            .arg(repo),
    );
    assert!(
        v.status.success(),
        "{what}: the repository is inconsistent:\n{}",
        String::from_utf8_lossy(&v.stdout)
    );
    let got = published(repo);
    assert!(
        got == a.names || got == b.names,
        "{what}: a mix of old and new: {got:?}"
    );
}

/// How `dists/<suite>` is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// A link to a complete generation, switched by one rename (the default).
    Links,
    /// `--no-symlinks`: a real directory, files renamed into it one by one.
    Plain,
}

/// The tools the real-client judges need; false (after a message) to skip.
fn have_clients() -> bool {
    have_tools(&["apt-get", "apt-cache", "gpg", "gpgv", "gpgconf"])
}

/// The inputs, the key, and builds of them.
struct Fixture {
    t: tempfile::TempDir,
    key: Key,
    sets: Vec<Inputs>,
}

impl Fixture {
    fn new() -> Fixture {
        let t = tempdir();
        let sets = vec![
            inputs(t.path(), "a", &["alpha", "beta", "gamma"], "6.1.0-1-amd64"),
            inputs(
                t.path(),
                "b",
                &["beta", "delta", "epsilon", "zeta"],
                "6.1.0-2-amd64",
            ),
            inputs(t.path(), "c", &["eta", "gamma"], "6.1.0-3-amd64"),
            inputs(t.path(), "d", &["beta", "theta"], "6.1.0-4-amd64"),
        ];
        Fixture {
            t,
            key: Key::new(None),
            sets,
        }
    }

    /// A signed build of input set `set`.
    fn build(&self, repo: &Path, set: usize, layout: Layout) -> Command {
        let i = &self.sets[set];
        let mut c = self.build_debs(repo, set, layout);
        c.arg("--kernel")
            .arg(i.dir.join("vmlinuz"))
            .arg("--initrd")
            .arg(i.dir.join("initrd"));
        c
    }

    /// A signed build of the packages of input set `set`, with no netboot tree.
    fn build_debs(&self, repo: &Path, set: usize, layout: Layout) -> Command {
        let i = &self.sets[set];
        let mut c = build_cmd_at(repo, Some(SDE));
        // The input sets replace most of the suite in turn: on purpose.
        c.args([
            "-q",
            "--allow-removals",
            "--suite",
            SUITE,
            "--arch",
            "amd64",
        ])
        .arg("--deb")
        .arg(i.dir.join("debs"))
        .args(["--sign-key", &self.key.fpr, "--gpg-homedir"])
        .arg(self.key.home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if layout == Layout::Plain {
            c.arg("--no-symlinks");
        }
        c
    }

    fn build_ok(&self, repo: &Path, set: usize, layout: Layout) {
        let o = output_of(&mut self.build(repo, set, layout));
        assert!(
            o.status.success(),
            "build of set {set} ({layout:?}):\n{}",
            both(&o)
        );
    }
}

/// The checks of a judge, named in its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    /// `apt-get update` of a new client: success, no `W:`/`E:`.
    AptUpdate,
    /// `apt-get update` of a client holding the previous Release.
    AptUpdateHolder,
    /// The new client sees the old or the new packages, not a mix.
    AptPackages,
    /// The holder sees what the new client sees.
    AptHolderPackages,
    /// `apt-get download` of every package (both clients): the input .debs' bytes.
    AptDownload,
    /// `gpgv` InRelease.
    GpgvInRelease,
    /// `gpgv` Release.gpg Release.
    GpgvReleaseGpg,
    /// vmlinuz and initrd.gz are each one of the input files, whole.
    NetbootFiles,
    /// vmlinuz and initrd.gz match SHA256SUMS.
    NetbootSums,
    /// The signed Release lists SHA256SUMS with its digest.
    NetbootRelease,
    /// vmlinuz and initrd.gz are the old input pair or the new one.
    NetbootPair,
    /// With generations: the packages and the pair come from the same build.
    NetbootSameBuild,
    /// `elirepo verify`.
    Verify,
}

/// What the judges saw in one state of the repository.
struct Verdict {
    /// Every check that failed, with what it saw.
    failures: Vec<(Check, String)>,
    /// The input set the clients see (by package names), if one.
    seen: Option<usize>,
}

impl Verdict {
    /// The checks that failed.
    fn failed(&self) -> BTreeSet<Check> {
        self.failures.iter().map(|(c, _)| *c).collect()
    }

    /// Panics with every failure, unless every check passed but those in `allowed`.
    fn assert_clean_but(&self, allowed: &[Check], what: &str) {
        let bad: Vec<String> = self
            .failures
            .iter()
            .filter(|(c, _)| !allowed.contains(c))
            .map(|(c, d)| format!("{c:?}: {d}"))
            .collect();
        assert!(
            bad.is_empty(),
            "{what}: {} check(s) failed:\n\n{}",
            bad.len(),
            bad.join("\n\n")
        );
    }

    fn assert_clean(&self, what: &str) {
        self.assert_clean_but(&[], what)
    }
}

/// How much of the real clients' view a judge checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Everything.
    Full,
    /// No new client, no downloads (after the recovery build: the holder, gpgv,
    /// the netboot pair, `elirepo verify`).
    Light,
}

/// Judges `repo` as the clients read it: `old` and `new` are the input sets it may
/// hold, `holder` a client that read the repository before the build started.
fn judge(fx: &Fixture, repo: &Path, old: usize, new: usize, holder: &Apt, depth: Depth) -> Verdict {
    let mut failures: Vec<(Check, String)> = Vec::new();
    let keyring = repo.join(KEYRING);
    let suite = repo.join("dists").join(SUITE);
    let candidates = [old, new];
    let which = |avail: &[String]| {
        let names: Vec<&str> = avail
            .iter()
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        candidates.into_iter().find(|&s| {
            fx.sets[s]
                .names
                .iter()
                .map(String::as_str)
                .eq(names.iter().copied())
        })
    };

    // 1. apt: a new client, and one that holds the previous Release.
    let fresh = (depth == Depth::Full).then(|| Apt::new(repo, SUITE, Some(&keyring)));
    let mut seen = None;
    if let Some(fresh) = &fresh {
        match fresh.try_update().and_then(|()| fresh.try_available()) {
            Err(e) => failures.push((Check::AptUpdate, e)),
            Ok(avail) => {
                seen = which(&avail);
                if seen.is_none() {
                    failures.push((
                        Check::AptPackages,
                        format!("neither the old nor the new packages: {avail:?}"),
                    ));
                }
            }
        }
    }
    match holder.try_update().and_then(|()| holder.try_available()) {
        Err(e) => failures.push((Check::AptUpdateHolder, e)),
        Ok(avail) => {
            let held = which(&avail);
            if fresh.is_none() {
                seen = held;
            }
            if held.is_none() || held != seen {
                failures.push((
                    Check::AptHolderPackages,
                    format!("the client holding the previous Release sees {avail:?}, a new client set {seen:?}"),
                ));
            }
        }
    }
    // 2. apt-get download of every package, by both clients: the input bytes.
    if let (Some(s), Some(fresh)) = (seen, &fresh) {
        let want = &fx.sets[s];
        let names: Vec<&str> = want.names.iter().map(String::as_str).collect();
        for (who, apt) in [("a new client", fresh), ("the holder", holder)] {
            match apt.try_download(&names) {
                Err(e) => failures.push((Check::AptDownload, format!("{who}: {e}"))),
                Ok(got) if got != want.debs => {
                    let got: Vec<(&String, usize)> =
                        got.iter().map(|(n, b)| (n, b.len())).collect();
                    failures.push((
                        Check::AptDownload,
                        format!(
                            "{who}: not the input .debs: got {got:?}, want {:?}",
                            want.debs.keys().collect::<Vec<_>>()
                        ),
                    ));
                }
                Ok(_) => {}
            }
        }
    }

    // 3. gpgv, with the published keyring.
    let work = tempdir();
    let body = work.path().join("Release.signed");
    let o = output_of(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&keyring)
            .arg("--output")
            .arg(&body)
            .arg(suite.join("InRelease")),
    );
    let release = if o.status.success() {
        fs::read_to_string(&body).ok()
    } else {
        failures.push((Check::GpgvInRelease, both(&o)));
        None
    };
    let o = gpgv(
        &keyring,
        &[&suite.join("Release.gpg"), &suite.join("Release")],
    );
    if !o.status.success() {
        failures.push((Check::GpgvReleaseGpg, both(&o)));
    }

    // 4. The netboot pair: each file an input, SHA256SUMS (digests computed here),
    //    the signed Release's digest of SHA256SUMS, and one of the input pairs.
    let images = suite.join(IMAGES);
    let read = |p: PathBuf| fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    let pair = match (
        read(images.join("netboot/xen/vmlinuz")),
        read(images.join("netboot/xen/initrd.gz")),
        read(images.join("SHA256SUMS")),
    ) {
        (Ok(k), Ok(i), Ok(sums)) => {
            let inputs = |f: &dyn Fn(&Inputs) -> &Vec<u8>, b: &[u8]| {
                candidates
                    .into_iter()
                    .any(|s| f(&fx.sets[s]).as_slice() == b)
            };
            if !inputs(&|s| &s.kernel, &k) || !inputs(&|s| &s.initrd, &i) {
                failures.push((
                    Check::NetbootFiles,
                    format!(
                        "vmlinuz ({} bytes) or initrd.gz ({} bytes) is no input file",
                        k.len(),
                        i.len()
                    ),
                ));
            }
            let sums_text = String::from_utf8_lossy(&sums).into_owned();
            for (name, bytes) in [("vmlinuz", &k), ("initrd.gz", &i)] {
                let line = format!("{}  ./netboot/xen/{name}", sha256_hex(bytes));
                if !sums_text.lines().any(|l| l == line) {
                    failures.push((
                        Check::NetbootSums,
                        format!("{name} does not match SHA256SUMS:\n{sums_text}(want {line})"),
                    ));
                }
            }
            if let Some(r) = &release {
                let listed = format!("{IMAGES}/SHA256SUMS");
                let digest = r
                    .split("\nSHA256:\n")
                    .nth(1)
                    .unwrap_or("")
                    .lines()
                    .take_while(|l| l.starts_with(' '))
                    .find_map(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        (f.len() == 3 && f[2] == listed).then(|| f[0].to_string())
                    });
                match digest {
                    None => failures.push((
                        Check::NetbootRelease,
                        format!("the signed Release does not list {listed}"),
                    )),
                    Some(d) if d != sha256_hex(&sums) => failures.push((
                        Check::NetbootRelease,
                        format!(
                            "{listed}: the signed Release lists sha256 {d}, the file has {}",
                            sha256_hex(&sums)
                        ),
                    )),
                    Some(_) => {}
                }
            }
            let pair = candidates
                .into_iter()
                .find(|&s| fx.sets[s].kernel == k && fx.sets[s].initrd == i);
            if pair.is_none() {
                failures.push((
                    Check::NetbootPair,
                    format!(
                        "neither the old nor the new input pair (kernel {}, initrd {})",
                        sha256_hex(&k),
                        sha256_hex(&i)
                    ),
                ));
            }
            pair
        }
        (k, i, s) => {
            for e in [k.err(), i.err(), s.err()].into_iter().flatten() {
                failures.push((Check::NetbootFiles, e));
            }
            None
        }
    };
    // With generations the whole suite switches at once: packages and netboot pair
    // come from the same build.
    if fs::symlink_metadata(&suite).is_ok_and(|m| m.file_type().is_symlink())
        && seen.is_some()
        && pair.is_some()
        && seen != pair
    {
        failures.push((
            Check::NetbootSameBuild,
            format!("packages of set {seen:?} with the netboot pair of set {pair:?}"),
        ));
    }

    // 5. elirepo's own verdict, on the suite (a dead build's `dists/.<suite>.new`
    //    link, which no client reads, would count as a suite of its own).
    let v = output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", SDE)
            .arg("verify")
            .arg(repo)
            .args(["--suite", SUITE, "--keyring"])
            .arg(&keyring),
    );
    if !v.status.success() {
        failures.push((Check::Verify, both(&v)));
    }
    Verdict { failures, seen }
}

/// True if a build that started at `since` and died had got inside the publish
/// step: it left files in a staging area it made, or created or removed a
/// generation, or switched the suite (directory times are those of the kernel's
/// clock, later than `since` for a change the build made).
fn died_publishing(repo: &Path, since: SystemTime) -> bool {
    let changed = |p: &Path| {
        fs::symlink_metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since)
    };
    let staging = repo.join(".elirepo/staging");
    let staged = changed(&staging) && fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some());
    staged || changed(&repo.join("dists/.generations").join(SUITE)) || changed(&repo.join("dists"))
}

/// No leftovers of a dead build once a build has run again.
fn assert_clean(repo: &Path, layout: Layout, what: &str) {
    assert!(
        !repo.join(".elirepo/staging").exists(),
        "{what}: staging area left behind"
    );
    assert!(
        !repo.join(".elirepo/unlinked").exists(),
        "{what}: a half-made copy of the tree left behind"
    );
    let gens: Vec<_> = fs::read_dir(repo.join("dists/.generations").join(SUITE))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let want = usize::from(layout == Layout::Links);
    assert_eq!(gens.len(), want, "{what}: stale generations: {gens:?}");
    assert!(
        fs::symlink_metadata(repo.join("dists").join(format!(".{SUITE}.new"))).is_err(),
        "{what}: the switch's temporary link left behind"
    );
}

/// One way to reach a build: a history of builds, maybe one that died, then the
/// build whose fault points are exercised.
struct Scenario {
    name: &'static str,
    /// Builds before, oldest first: (input set, layout).
    history: &'static [(usize, Layout)],
    /// A build that died at this fault point just before `next`.
    dead: Option<(usize, Layout, &'static str)>,
    /// The build under test.
    next: (usize, Layout),
    /// Kinds of fault point this build must pass (see [`kind`]).
    required: &'static [&'static str],
    /// A bug that makes this build fail with no fault at all today: what stderr
    /// says (see [`KNOWN_BUGS`]).
    broken: Option<&'static str>,
}

fn scenarios() -> Vec<Scenario> {
    use Layout::{Links, Plain};
    vec![
        Scenario {
            name: "links",
            history: &[(0, Links)],
            dead: None,
            next: (1, Links),
            broken: None,
            required: &[
                "staged:pool",
                "synced:staged",
                "commit:pool",
                "generation-created",
                "generation-file:main",
                "generation-file:Release",
                "generation-file:InRelease",
                "generation-file:Release.gpg",
                "synced:generation",
                "before-switch",
                "switch-link-created",
                "after-switch",
                "old-generation-removed:N",
                "staged:.elirepo",
                "commit:.elirepo",
                "synced:finish",
            ],
        },
        Scenario {
            name: "links, after a build that died before its switch",
            history: &[(0, Links)],
            dead: Some((1, Links, "before-switch")),
            next: (1, Links),
            required: &["stale-generation-removed:N"],
            broken: None,
        },
        Scenario {
            name:
                "links, after a build that died with its switch link made, the published set again",
            history: &[(0, Links)],
            dead: Some((1, Links, "switch-link-created")),
            next: (0, Links),
            required: &["stale-switch-link-removed", "stale-generation-removed:N"],
            broken: None,
        },
        Scenario {
            name: "links, with pool files to collect",
            history: &[(0, Links), (1, Links), (2, Links)],
            dead: None,
            next: (3, Links),
            required: &["removed:pool"],
            broken: None,
        },
        Scenario {
            name: "--no-symlinks",
            history: &[(0, Plain)],
            dead: None,
            next: (1, Plain),
            required: &[
                "synced:staged",
                "synced:finish",
                "staged:dists/main",
                "commit:dists/main",
                "commit:dists/Release",
                "commit:dists/Release.gpg",
                "commit:dists/InRelease",
            ],
            broken: None,
        },
        Scenario {
            name: "--no-symlinks, with pool files and indexes to remove",
            history: &[(0, Plain), (1, Plain), (2, Plain)],
            dead: None,
            next: (3, Plain),
            required: &["removed:dists/main", "removed:pool"],
            broken: None,
        },
        Scenario {
            name: "from --no-symlinks to links",
            history: &[(0, Plain)],
            dead: None,
            next: (1, Links),
            required: &["exchange-link-created", "exchanged"],
            broken: None,
        },
        Scenario {
            name: "from links to --no-symlinks",
            history: &[(0, Links)],
            dead: None,
            next: (1, Plain),
            required: &[
                "synced:unlink-copy",
                "unlink-copied",
                "unlink-exchanged",
                "unlink-link-removed",
            ],
            broken: None,
        },
    ]
}

/// A fault point's kind: its name up to the first path component of its argument
/// (under `dists/<suite>/`, the first one after the suite), a number standing for
/// any: `commit:pool`, `commit:dists/InRelease`, `generation-file:main`,
/// `old-generation-removed:N`.
fn kind(point: &str) -> String {
    let Some((what, path)) = point.split_once(':') else {
        return point.to_string();
    };
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["dists", _, next, ..] => format!("{what}:dists/{next}"),
        [first, ..] if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{what}:N")
        }
        [first, ..] => format!("{what}:{first}"),
        [] => what.to_string(),
    }
}

/// Runs `cp -a FROM TO` (links, hard links, modes and times kept).
fn copy_tree(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    let o = output_of(Command::new("cp").arg("-a").arg(from).arg(to));
    assert!(o.status.success(), "cp -a:\n{}", both(&o));
}

/// `--no-symlinks` renames the suite's files into a real directory one by one,
/// Release files last: "consistent for apt thanks to by-hash, but not atomic as a
/// whole" (README). While that commit runs apt, the downloads, gpgv InRelease and
/// each netboot file stay right; these may not.
const NO_SYMLINKS_COMMIT: &[Check] = &[
    // Indexes renamed before the Release that lists them.
    Check::Verify,
    // Release renamed, Release.gpg not yet.
    Check::GpgvReleaseGpg,
    // current/'s SHA256SUMS, initrd.gz and vmlinuz renamed one at a time.
    Check::NetbootSums,
    Check::NetbootRelease,
    Check::NetbootPair,
];

/// What may fail right after a build stopped at `point` publishing `layout`.
fn excused(layout: Layout, point: &str) -> &'static [Check] {
    if layout == Layout::Plain && point.starts_with("commit:dists/") {
        NO_SYMLINKS_COMMIT
    } else {
        &[]
    }
}

/// A bug of elirepo's that a fault point shows today, found by this test (issue
/// 16). [`every_fault_point_of_the_publish_step_leaves_a_repository_clients_read`]
/// excuses it but requires that it still shows (so that a fix makes it say "remove
/// this entry"); [`no_symlinks_publishing_survives_every_fault_point`] excuses
/// nothing.
struct KnownBug {
    what: &'static str,
    scenario: &'static str,
    /// The fault points it shows at.
    at: fn(&str) -> bool,
    /// Checks that fail right after the fault because of it.
    after_fault: &'static [Check],
    /// The next build does not recover (fails, or leaves what the judges refuse).
    no_recovery: bool,
}

const KNOWN_BUGS: &[KnownBug] = &[];

fn known_bug(sc: &Scenario, point: &str) -> Option<&'static KnownBug> {
    KNOWN_BUGS
        .iter()
        .find(|b| b.scenario == sc.name && (b.at)(point))
}

/// Runs the fault points of `sc` that `sample` picks (plus, unless `strict`, those
/// of a known bug), judging each state; returns (builds stopped, of which inside
/// the publish step). `strict`: known bugs are not excused.
fn exercise(
    fx: &Fixture,
    sc: &Scenario,
    sample: &mut dyn FnMut(&str, &[&String]) -> Vec<String>,
    strict: bool,
) -> (usize, usize) {
    let template = fx.t.path().join("template");
    let repo = fx.t.path().join("repo");
    let _ = fs::remove_dir_all(&repo);
    for &(set, layout) in sc.history {
        fx.build_ok(&repo, set, layout);
    }
    if let Some((set, layout, point)) = sc.dead {
        let o = output_of(fx.build(&repo, set, layout).env("ELIREPO_FAULT", point));
        assert_eq!(o.status.signal(), Some(SIGABRT), "{}", both(&o));
    }
    let keyring = repo.join(KEYRING);
    // A client that read the repository before the build, kept aside; each run
    // starts from copies of both, the repository at the same path.
    let held = Apt::new(&repo, SUITE, Some(&keyring));
    held.try_update()
        .unwrap_or_else(|e| panic!("{}: before the build: {e}", sc.name));
    copy_tree(&repo, &template);
    let old = sc.history.last().expect("a history").0;
    let (new, layout) = sc.next;

    // Every fault point this build passes, in order.
    let o = output_of(fx.build(&repo, new, layout).env("ELIREPO_FAULT", "trace"));
    if let (Some(msg), false) = (sc.broken, strict) {
        assert!(
            !o.status.success() && text(&o.stderr).contains(msg),
            "{}: the known bug ({msg}) no longer shows: remove it from KNOWN_BUGS and \
             `broken`, and run no_symlinks_publishing_survives_every_fault_point:\n{}",
            sc.name,
            both(&o)
        );
        eprintln!("{}: KNOWN BUG, not exercised: {msg}", sc.name);
        return (0, 0);
    }
    assert!(
        o.status.success(),
        "{}: the traced build failed:\n{}",
        sc.name,
        both(&o)
    );
    let points: Vec<String> = text(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("elirepo: fault point "))
        .map(str::to_string)
        .collect();
    let mut by_kind: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for p in &points {
        by_kind.entry(kind(p)).or_default().push(p);
    }
    for r in sc.required {
        assert!(
            by_kind.contains_key(*r),
            "{}: no fault point of kind {r} (renamed or removed?); the build passed {:?}",
            sc.name,
            by_kind.keys().collect::<Vec<_>>()
        );
    }
    let mut chosen: BTreeSet<&String> = BTreeSet::new();
    for (k, ps) in &by_kind {
        let picked = sample(k, ps);
        chosen.extend(ps.iter().copied().filter(|p| picked.contains(p)));
    }
    if !strict {
        chosen.extend(points.iter().filter(|p| known_bug(sc, p).is_some()));
    }
    // In the order the build passes them.
    let chosen: Vec<&String> = points.iter().filter(|p| chosen.contains(p)).collect();
    eprintln!(
        "{}: {} fault points of {} kinds, {} exercised",
        sc.name,
        points.len(),
        by_kind.len(),
        chosen.len()
    );

    let (mut runs, mut publishing) = (0, 0);
    for point in chosen {
        let what = format!("{}: fault point {point}", sc.name);
        let bug = known_bug(sc, point).filter(|_| !strict);
        copy_tree(&template, &repo);
        let holder = Apt::new(&repo, SUITE, Some(&keyring));
        holder.copy_lists_from(&held);
        let since = SystemTime::now();
        let o = output_of(fx.build(&repo, new, layout).env("ELIREPO_FAULT", point));
        assert!(
            o.status.signal() == Some(SIGABRT)
                && text(&o.stderr).contains(&format!("elirepo: fault point {point}: aborting")),
            "{what}: not reached:\n{}",
            both(&o)
        );
        runs += 1;
        publishing += usize::from(died_publishing(&repo, since));
        let v = judge(fx, &repo, old, new, &holder, Depth::Full);
        let mut allowed = excused(layout, point).to_vec();
        if let Some(bug) = bug {
            allowed.extend(bug.after_fault);
            assert!(
                bug.after_fault.is_empty()
                    || !v
                        .failed()
                        .is_disjoint(&bug.after_fault.iter().copied().collect()),
                "{what}: the known bug no longer shows (remove it from KNOWN_BUGS): {}",
                bug.what
            );
        }
        v.assert_clean_but(&allowed, &what);

        // The next build recovers, and the holder follows.
        let after = format!("{what}, then a full build");
        let o = output_of(&mut fx.build(&repo, new, layout));
        if let Some(bug) = bug.filter(|b| b.no_recovery) {
            let v = o
                .status
                .success()
                .then(|| judge(fx, &repo, new, new, &holder, Depth::Light));
            assert!(
                v.is_none_or(|v| !v.failures.is_empty() || v.seen != Some(new)),
                "{after}: the known bug no longer shows (remove it from KNOWN_BUGS): {}",
                bug.what
            );
            eprintln!("{what}: KNOWN BUG, no recovery: {}", bug.what);
            continue;
        }
        assert!(o.status.success(), "{after}:\n{}", both(&o));
        let v = judge(fx, &repo, new, new, &holder, Depth::Light);
        v.assert_clean(&after);
        assert_eq!(v.seen, Some(new), "{after}");
        assert_clean(&repo, layout, &after);
    }
    (runs, publishing)
}

/// By default, per kind: the first point, the last and one seeded at random; with
/// `ELIREPO_SLOW_TESTS=1`, every point.
fn sampler(rng: &mut Rng, all: bool) -> impl FnMut(&str, &[&String]) -> Vec<String> + '_ {
    move |_, ps| {
        if all || ps.len() <= 3 {
            ps.iter().map(|p| p.to_string()).collect()
        } else {
            let mid = ps[1 + rng.below(ps.len() - 2)];
            vec![ps[0].clone(), mid.clone(), ps[ps.len() - 1].clone()]
        }
    }
}

#[test]
fn every_fault_point_of_the_publish_step_leaves_a_repository_clients_read() {
    if !have_clients() {
        return;
    }
    let fx = Fixture::new();
    let seed = seed_from_env(0xfa17_9017);
    let mut rng = Rng::new(seed);
    // A kind of fault point exercised in one scenario is not exercised again in
    // the later ones (only traced, and required), or with ELIREPO_SLOW_TESTS=1
    // sampled again.
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let (mut runs, mut publishing) = (0, 0);
    for sc in scenarios() {
        let mut again = Rng::new(rng.next_u64());
        let mut again = sampler(&mut again, false);
        let mut pick = sampler(&mut rng, slow());
        let mut fresh = |k: &str, ps: &[&String]| {
            if covered.insert(k.to_string()) {
                pick(k, ps)
            } else if slow() {
                again(k, ps)
            } else {
                Vec::new()
            }
        };
        let (r, p) = exercise(&fx, &sc, &mut fresh, false);
        runs += r;
        publishing += p;
    }
    eprintln!(
        "{runs} builds stopped at a fault point, {publishing} of them inside the publish step"
    );
    assert!(publishing > 0);
}

/// The scenarios with `--no-symlinks` (in place, and from or to it), every kind of
/// fault point of each (sampled as in the main test; all of them with
/// `ELIREPO_SLOW_TESTS=1`), with no known bug excused. The bugs the layout had
/// (issue 16) hid behind each other, one per scenario: each scenario is judged on
/// its own and the failures are listed together.
#[test]
fn no_symlinks_publishing_survives_every_fault_point() {
    if !have_clients() {
        return;
    }
    let fx = Fixture::new();
    let mut rng = Rng::new(seed_from_env(0x0005_e7ed));
    let mut failed = Vec::new();
    for sc in scenarios() {
        let plain = sc.history.iter().any(|&(_, l)| l == Layout::Plain)
            || sc.dead.is_some_and(|(_, l, _)| l == Layout::Plain)
            || sc.next.1 == Layout::Plain;
        if !plain {
            continue;
        }
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exercise(&fx, &sc, &mut sampler(&mut rng, slow()), true)
        }));
        if run.is_err() {
            failed.push(sc.name);
        }
    }
    assert!(failed.is_empty(), "failed: {failed:?}");
}

/// `--no-symlinks` renames Release, Release.gpg, InRelease in that order. Set 1
/// stopped after Release.gpg, then set 0 again stopped after Release, leave set 0's
/// Release and InRelease (from the first build) beside set 1's Release.gpg: the
/// InRelease matches, the Release.gpg does not, and the next build of set 0 must
/// sign again rather than keep them. (Packages only: a netboot VERSION kept from
/// set 1 would change set 0's Release.)
#[test]
fn a_stale_release_gpg_beside_a_matching_inrelease_is_not_kept() {
    if !have_clients() {
        return;
    }
    let fx = Fixture::new();
    let repo = fx.t.path().join("repo");
    let suite = repo.join("dists").join(SUITE);
    let build = |set: usize, fault: Option<&str>| {
        let mut c = fx.build_debs(&repo, set, Layout::Plain);
        let Some(point) = fault else {
            let o = output_of(&mut c);
            assert!(o.status.success(), "build of set {set}:\n{}", both(&o));
            return;
        };
        let point = format!("commit:dists/{SUITE}/{point}");
        let o = output_of(c.env("ELIREPO_FAULT", &point));
        assert_eq!(o.status.signal(), Some(SIGABRT), "{point}: {}", both(&o));
    };
    build(0, None);
    let first = fs::read(suite.join("InRelease")).unwrap();
    build(1, Some("Release.gpg"));
    build(0, Some("Release"));
    let keyring = repo.join(KEYRING);
    let (sig, release) = (suite.join("Release.gpg"), suite.join("Release"));
    let detached: [&Path; 2] = [&sig, &release];
    assert!(
        fs::read(suite.join("InRelease")).unwrap() == first
            && !gpgv(&keyring, &detached).status.success(),
        "the state this test needs: set 0's InRelease, a Release.gpg of set 1's Release"
    );
    build(0, None);
    let o = gpgv(&keyring, &detached);
    assert!(
        o.status.success(),
        "gpgv Release.gpg Release:\n{}",
        both(&o)
    );
    let o = output_of(
        elirepo()
            .env("SOURCE_DATE_EPOCH", SDE)
            .arg("verify")
            .arg(&repo)
            .args(["--suite", SUITE, "--keyring"])
            .arg(&keyring),
    );
    assert!(o.status.success(), "elirepo verify:\n{}", both(&o));
}

#[test]
fn random_kills_never_leave_a_repository_clients_cannot_read() {
    if !have_clients() {
        return;
    }
    let seed = seed_from_env(0x5eed_c4a5);
    let mut rng = Rng::new(seed);
    let fx = Fixture::new();
    let repo = fx.t.path().join("repo");
    let layout = Layout::Links;
    // A pause at every fault point widens the publish step.
    let pause = "5000";
    fx.build_ok(&repo, 0, layout);
    let holder = Apt::new(&repo, SUITE, Some(&repo.join(KEYRING)));
    // How long a build takes here, to spread the kills over it.
    let start = std::time::Instant::now();
    for set in [1, 2] {
        let o = output_of(
            fx.build(&repo, set, layout)
                .env("ELIREPO_FAULT_SLEEP_US", pause),
        );
        assert!(o.status.success(), "{}", both(&o));
    }
    let mut span = (start.elapsed().as_micros() / 2).max(1000) as usize;
    let want = if slow() { 100 } else { 20 };
    let mut current = 2;
    let (mut killed, mut publishing, mut rounds) = (0, 0, 0);
    // `want` kills that landed before the build finished, 3 of them at least inside
    // the publish step; a machine whose speed changes under load only makes the
    // window adapt (shrunk after a build that finished first), never the test pass
    // without kills.
    while killed < want || publishing < 3 {
        assert!(
            rounds < 10 * want,
            "only {killed} of {rounds} kills landed in time, {publishing} inside the publish step"
        );
        rounds += 1;
        // The four input sets in turn: each build copies pool files (those of the
        // set before the last three were collected) and collects others.
        let next = (current + 1) % fx.sets.len();
        holder
            .try_update()
            .unwrap_or_else(|e| panic!("round {rounds}: before the build: {e}"));
        let since = SystemTime::now();
        let mut child = fx
            .build(&repo, next, layout)
            .env("ELIREPO_FAULT_SLEEP_US", pause)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = rng.below(span);
        std::thread::sleep(Duration::from_micros(delay as u64));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let inside = !status.success() && died_publishing(&repo, since);
        let what = format!(
            "round {rounds} (killed after {delay} of up to {span} us, {status:?}{})",
            if inside {
                ", inside the publish step"
            } else {
                ""
            }
        );
        let v = judge(&fx, &repo, current, next, &holder, Depth::Full);
        v.assert_clean(&what);
        if status.success() {
            span = (span * 3 / 4).max(200);
        } else {
            // Only the kill may end it: a crash (exit 101, or a signal of its own) is no kill.
            assert_eq!(
                status.signal(),
                Some(9),
                "{what}: ended, but not by the kill"
            );
            killed += 1;
            publishing += usize::from(inside);
        }
        current = v.seen.expect("a clean verdict names a set");
    }
    eprintln!(
        "{killed} of {rounds} builds killed before they finished, {publishing} of them inside the publish step (a staging area or generation in progress)"
    );
    fx.build_ok(&repo, current, layout);
    let v = judge(&fx, &repo, current, current, &holder, Depth::Full);
    v.assert_clean("after recovery");
    assert_eq!(v.seen, Some(current));
    assert_clean(&repo, layout, "after recovery");
}

/// A repository on a tiny file system: a build that runs out of space while
/// staging reports the file and leaves the published repository as it was.
#[test]
fn a_full_disk_while_staging_changes_nothing() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !is_root {
        common::skip("mounting a small tmpfs needs root");
        return;
    }
    let t = tempdir();
    let mnt = t.path().join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        common::skip("cannot mount a tmpfs here");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let repo = mnt.join("repo");
    let a = inputs(t.path(), "a", &["alpha"], "6.1.0-1-amd64");
    build_ok(&repo, &a);
    let before = common::snapshot_tree(&repo);
    // A package of incompressible bytes bigger than the space left.
    let b = inputs(t.path(), "b", &["alpha"], "6.1.0-1-amd64");
    let mut noise = vec![0u8; 4 << 20];
    let mut rng = Rng::new(7);
    for chunk in noise.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
    }
    DebBuilder::new("huge")
        .data_file("./usr/share/huge/noise", noise, 0o644)
        .data_compression(common::Comp::None)
        .write_to(&b.dir.join("debs/huge_1.0_amd64.deb"))
        .unwrap();
    let o = output_of(&mut build_cmd(&repo, &b));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("huge_1.0_amd64.deb") && err.contains("No space left"),
        "{err}"
    );
    common::assert_failed_cleanly(&o, "a build onto a full disk");
    common::assert_same_snapshot(
        &before,
        &common::snapshot_tree(&repo),
        "a build onto a full disk",
    );
    assert_consistent(&repo, &a, &a, "after a full disk");
}

/// The order of the syncs, from the fault points a traced build passes: every
/// staged file's bytes synced before the first is renamed into place; the
/// generation's files and the pool's renames synced before the switch; the last
/// renames and removals synced at the end (`synced:finish` is the last point).
/// A build of the same inputs again passes no sync at all.
#[test]
fn the_syncs_come_before_each_rename_and_the_switch_and_at_the_end() {
    let t = tempdir();
    let repo = t.path().join("repo");
    let (a, b) = (
        inputs(t.path(), "a", &["alpha", "beta"], "6.1.0-1-amd64"),
        inputs(
            t.path(),
            "b",
            &["gamma", "delta", "epsilon"],
            "6.1.0-2-amd64",
        ),
    );
    build_ok(&repo, &a);
    let traced = |i: &Inputs| -> Vec<String> {
        let o = output_of(build_cmd(&repo, i).env("ELIREPO_FAULT", "trace"));
        assert!(o.status.success(), "{}", both(&o));
        text(&o.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("elirepo: fault point "))
            .map(str::to_string)
            .collect()
    };
    let points = traced(&b);
    let at = |p: &str| {
        points
            .iter()
            .position(|q| q == p)
            .unwrap_or_else(|| panic!("no fault point {p}: {points:#?}"))
    };
    let all = |prefix: &str| -> Vec<usize> {
        let v: Vec<usize> = (0..points.len())
            .filter(|&i| points[i].starts_with(prefix))
            .collect();
        assert!(!v.is_empty(), "no fault point {prefix}...: {points:#?}");
        v
    };
    let (staged, commit) = (all("staged:pool/"), all("commit:pool/"));
    let synced_staged = all("synced:staged")[0];
    assert!(
        staged.iter().all(|&i| i < synced_staged) && commit.iter().all(|&i| i > synced_staged),
        "the staged pool files are not synced between the last staged and the first renamed: {points:#?}"
    );
    let generation = at("synced:generation");
    assert!(
        commit
            .iter()
            .chain(&all("generation-file:"))
            .all(|&i| i < generation)
            && generation < at("switch-link-created")
            && at("switch-link-created") < at("after-switch"),
        "no sync between the pool's renames and the generation's files and the switch: {points:#?}"
    );
    assert_eq!(
        points.last().map(String::as_str),
        Some("synced:finish"),
        "the build ends with no sync of its last renames: {points:#?}"
    );
    let again = traced(&b);
    assert!(
        !again.iter().any(|p| p.starts_with("synced:")),
        "a build that changes nothing syncs: {again:#?}"
    );
}

/// The same order as the kernel sees it (`strace`): a `syncfs` after the last
/// pool file is written and before the first is renamed into place, one between
/// the last pool rename and the switch of `dists/<suite>`, a sync of `dists`
/// right after the switch, and a handful of syncs in all where there used to be
/// one fsync per file (the build copies 40 packages here).
#[test]
fn strace_sees_one_sync_before_the_switch_not_one_per_file() {
    if !have_tools(&["strace"]) {
        return;
    }
    let t = tempdir();
    let repo = t.path().join("repo");
    let names: Vec<String> = (0..40).map(|k| format!("pkg{k:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let a = inputs(t.path(), "a", &names[..1], "6.1.0-1-amd64");
    let b = inputs(t.path(), "b", &names, "6.1.0-2-amd64");
    build_ok(&repo, &a);
    let log = t.path().join("strace.log");
    let mut c = Command::new("strace");
    c.args([
        "-f",
        "-qq",
        "-e",
        "trace=fsync,fdatasync,syncfs,sync,rename,renameat,renameat2,openat",
        "-o",
    ])
    .arg(&log)
    .arg(common::bin_under_test());
    let build = build_cmd(&repo, &b);
    c.args(build.get_args()).envs(
        build
            .get_envs()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
    );
    let o = output_of(&mut c);
    assert!(o.status.success(), "strace elirepo build:\n{}", both(&o));
    let lines: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let find = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> {
        (0..lines.len()).filter(|&i| pred(&lines[i])).collect()
    };
    let is_sync = |l: &str| l.contains("syncfs(") || l.contains(" sync(");
    let syncs = find(&|l| is_sync(l));
    let fsyncs = find(&|l| l.contains("fsync(") || l.contains("fdatasync("));
    // A pool file written: created in the staging area (openat with O_CREAT|O_EXCL).
    let written = find(&|l| {
        l.contains("openat(") && l.contains("/.elirepo/staging/") && l.contains("O_EXCL")
    });
    let pool_renames =
        find(&|l| l.contains("rename") && l.contains("/.elirepo/staging/") && l.contains("/pool/"));
    let switch = find(&|l| l.contains("rename") && l.contains(&format!("/dists/.{SUITE}.new")));
    let report = || lines.join("\n");
    assert!(
        written.len() >= 39 && pool_renames.len() >= 39 && switch.len() == 1,
        "not the build this test expects:\n{}",
        report()
    );
    let (first_rename, last_rename, switch) =
        (pool_renames[0], *pool_renames.last().unwrap(), switch[0]);
    let last_write = *written
        .iter()
        .filter(|&&i| i < first_rename)
        .last()
        .unwrap();
    let between = |a: usize, b: usize| syncs.iter().any(|&i| a < i && i < b);
    assert!(
        between(last_write, first_rename),
        "no syncfs between the last pool file written and the first renamed into place:\n{}",
        report()
    );
    assert!(
        between(last_rename, switch),
        "no syncfs between the last pool rename and the switch:\n{}",
        report()
    );
    assert!(
        fsyncs.iter().chain(&syncs).any(|&i| i > switch),
        "nothing synced after the switch:\n{}",
        report()
    );
    assert!(
        syncs.len() + fsyncs.len() <= 10,
        "{} syncfs and {} fsync calls for 40 packages: one per file again?\n{}",
        syncs.len(),
        fsyncs.len(),
        report()
    );
}
