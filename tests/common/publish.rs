//! Helpers of the `elirepo publish` tests: a demo repository built in a temp
//! dir and changed between builds, and a poller that reads a published
//! repository over http the way apt (by-hash) and eliloader do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{elirepo, fixtures_dir, output_of, DebBuilder};

use super::synth;

pub fn sha256(b: &[u8]) -> String {
    super::sha256_hex(b)
}

/// The demo's inputs copied to `dir/demo`; built into `dir/repo`.
pub struct Demo {
    pub dir: PathBuf,
}

impl Demo {
    pub fn new(dir: &Path) -> Demo {
        let o = output_of(
            std::process::Command::new("cp")
                .arg("-a")
                .arg(fixtures_dir().join("demo"))
                .arg(dir.join("demo")),
        );
        assert!(o.status.success());
        Demo {
            dir: dir.to_path_buf(),
        }
    }
    pub fn repo(&self) -> PathBuf {
        self.dir.join("repo")
    }
    pub fn keyring(&self) -> PathBuf {
        self.repo().join("elirepo-demo-archive-keyring.gpg")
    }
    pub fn build(&self) {
        let o = output_of(
            elirepo()
                .arg("build")
                .arg("--config")
                .arg(self.dir.join("demo/elirepo.toml"))
                .arg("--repo")
                .arg(self.repo())
                .arg("-q"),
        );
        assert!(
            o.status.success(),
            "build: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    /// Change the inputs: package `n` added, xs-tools-common removed.
    pub fn change(&self, n: u32) {
        let debs = self.dir.join("demo/debs");
        let _ = std::fs::remove_file(debs.join("xs-tools-common_5.6.0-578_all.deb"));
        DebBuilder::new(&format!("extra{n}"))
            .version(&format!("1.{n}"))
            .arch("all")
            .data_file(
                "./usr/share/doc/extra/x",
                format!("payload {n}").into_bytes(),
                0o644,
            )
            .write_to(&debs.join(format!("extra{n}_1.{n}_all.deb")))
            .unwrap();
    }
    /// A new amd64 kernel and initrd (release 2.6.32-<4+n>-amd64) in the demo's
    /// nfsroot, linked the way FAI links them; the old ones removed.
    pub fn change_kernel(&self, n: u32) {
        let nfs = self.dir.join("demo/nfsroot-amd64");
        let rel = format!("2.6.32-{}-amd64", 4 + n);
        for e in std::fs::read_dir(nfs.join("boot")).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        std::fs::write(
            nfs.join(format!("boot/vmlinuz-{rel}")),
            synth::pv_amd64_kernel(&rel),
        )
        .unwrap();
        std::fs::write(
            nfs.join(format!("boot/initrd.img-{rel}")),
            synth::initrd_gz(&rel),
        )
        .unwrap();
        for (link, target) in [
            ("vmlinuz", format!("boot/vmlinuz-{rel}")),
            ("initrd.img", format!("/boot/initrd.img-{rel}")),
        ] {
            let _ = std::fs::remove_file(nfs.join(link));
            std::os::unix::fs::symlink(target, nfs.join(link)).unwrap();
        }
    }

    /// Adds a package of `mib` MiB of incompressible bytes.
    pub fn add_big(&self, name: &str, mib: usize) {
        let mut rng = super::Rng::new(mib as u64);
        let mut data = Vec::with_capacity(mib << 20);
        while data.len() < mib << 20 {
            data.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        DebBuilder::new(name)
            .version("1")
            .arch("all")
            .data_compression(super::Comp::None)
            .data_file("./usr/share/big/blob", data, 0o644)
            .write_to(&self.dir.join(format!("demo/debs/{name}_1_all.deb")))
            .unwrap();
    }

    pub fn deb_bytes(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(self.dir.join("demo/debs"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }
}

fn get(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let r = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut v).map_err(|e| format!("{url}: {e}"))?;
    Ok(v)
}

/// eliloader's pair: SHA-256 of a published kernel and of its initrd.
pub type Pair = (String, String);

/// What one round of [`poll_once`] saw wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A file missing, or not the bytes its index or the publish says.
    Mismatch(String),
    /// eliloader's two `current` files from two different publishes, while the
    /// kernel did not change across the round (S3's documented window).
    Pair(String),
}

/// One round of a client: InRelease → the Packages it names (by hash, as apt
/// with Acquire-By-Hash) → every pool file it names; and eliloader's two files
/// (then the kernel again), each of which must be one of `pairs`' images, and
/// the two of one pair if the kernel read before and after the initrd is the same.
/// `elirepo verify BASE --suite lenny --keyring <the demo's keyring>` passes: what a
/// CI job runs against the served URL after a publish.
pub fn verify_served(base: &str, demo: &Demo) {
    let v = output_of(
        elirepo()
            .arg("verify")
            .arg(base)
            .args(["--suite", "lenny"])
            .arg("--keyring")
            .arg(demo.keyring()),
    );
    assert!(
        v.status.success(),
        "verify {base}: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

pub fn poll_once(agent: &ureq::Agent, base: &str, pairs: &[Pair]) -> Result<(), Seen> {
    let m = Seen::Mismatch;
    let inrelease =
        String::from_utf8_lossy(&get(agent, &format!("{base}dists/lenny/InRelease")).map_err(m)?)
            .into_owned();
    let mut in_sha = false;
    let mut want = None;
    for l in inrelease.lines() {
        if l.starts_with("SHA256:") {
            in_sha = true;
            continue;
        }
        if in_sha && !l.starts_with(' ') {
            in_sha = false;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        if in_sha && f.len() == 3 && f[2] == "main/binary-amd64/Packages" {
            want = Some((f[0].to_string(), f[1].to_string()));
        }
    }
    let (hash, _size) =
        want.ok_or_else(|| m("InRelease names no main/binary-amd64/Packages".into()))?;
    let packages = get(
        agent,
        &format!("{base}dists/lenny/main/binary-amd64/by-hash/SHA256/{hash}"),
    )
    .map_err(m)?;
    if sha256(&packages) != hash {
        return Err(m("Packages by-hash: Hash Sum mismatch".into()));
    }
    let text = String::from_utf8_lossy(&packages).into_owned();
    for stanza in text.split("\n\n") {
        let field = |n: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(n))
                .map(str::trim)
        };
        if let (Some(file), Some(sha)) = (field("Filename:"), field("SHA256:")) {
            let deb = get(agent, &format!("{base}{file}")).map_err(m)?;
            if sha256(&deb) != sha {
                return Err(m(format!("{file}: Hash Sum mismatch")));
            }
        }
    }
    let mut got = Vec::new();
    for name in ["vmlinuz", "initrd.gz", "vmlinuz"] {
        let b = get(
            agent,
            &format!("{base}dists/lenny/main/installer-amd64/current/images/netboot/xen/{name}"),
        )
        .map_err(m)?;
        let h = sha256(&b);
        let known = if name == "vmlinuz" {
            pairs.iter().any(|p| p.0 == h)
        } else {
            pairs.iter().any(|p| p.1 == h)
        };
        if !known {
            return Err(m(format!("current/{name}: not a published image")));
        }
        got.push(h);
    }
    if got[0] == got[2] && !pairs.contains(&(got[0].clone(), got[1].clone())) {
        return Err(Seen::Pair(format!(
            "current/vmlinuz {} with current/initrd.gz {}",
            &got[0][..12],
            &got[1][..12]
        )));
    }
    Ok(())
}

/// Polls `base` in a loop on a thread until stopped; counts rounds and problems.
pub struct Poller {
    stop: Arc<AtomicBool>,
    pub rounds: Arc<AtomicUsize>,
    pub problems: Arc<Mutex<Vec<Seen>>>,
    pairs: Arc<Mutex<Vec<Pair>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    pub fn start(base: &str, pair: Pair) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let pairs = Arc::new(Mutex::new(vec![pair]));
        let (s, r, p, k, base) = (
            stop.clone(),
            rounds.clone(),
            problems.clone(),
            pairs.clone(),
            base.to_string(),
        );
        let handle = std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(std::time::Duration::from_secs(30))
                .build();
            while !s.load(Ordering::Relaxed) {
                let known = k.lock().unwrap().clone();
                if let Err(e) = poll_once(&agent, &base, &known) {
                    p.lock().unwrap().push(e);
                }
                r.fetch_add(1, Ordering::Relaxed);
            }
        });
        Poller {
            stop,
            rounds,
            problems,
            pairs,
            handle: Some(handle),
        }
    }
    /// A new kernel and initrd, before the publish that brings them.
    pub fn allow(&self, pair: Pair) {
        let mut p = self.pairs.lock().unwrap();
        if !p.contains(&pair) {
            p.push(pair);
        }
    }
    /// Stops; returns (rounds, mismatches, eliloader pair windows).
    pub fn finish(mut self) -> (usize, Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap();
        let (mut mismatches, mut pairs) = (Vec::new(), Vec::new());
        for p in self.problems.lock().unwrap().drain(..) {
            match p {
                Seen::Mismatch(m) => mismatches.push(m),
                Seen::Pair(m) => pairs.push(m),
            }
        }
        (self.rounds.load(Ordering::Relaxed), mismatches, pairs)
    }

    /// [`Poller::finish`], failing if the poller never ran or a client saw a
    /// mismatch: the rounds polled and the mixed eliloader pairs seen.
    pub fn finish_consistent(self) -> (usize, Vec<String>) {
        let (rounds, mismatches, pairs) = self.finish();
        assert!(rounds > 0, "the poller never polled");
        assert_none_seen(&mismatches, rounds);
        (rounds, pairs)
    }
}

/// Fails, naming the first few, if any of `seen` were seen in `rounds` rounds.
pub fn assert_none_seen(seen: &[String], rounds: usize) {
    assert!(
        seen.is_empty(),
        "{} of {rounds} rounds saw: {:?}",
        seen.len(),
        &seen[..seen.len().min(5)]
    );
}

/// SHA-256 of the demo's amd64 kernel and initrd (the eliloader pair) in a built repository.
pub fn demo_images(repo: &Path) -> Pair {
    let d = repo.join("dists/lenny/main/installer-amd64/current/images/netboot/xen");
    (
        sha256(&std::fs::read(d.join("vmlinuz")).unwrap()),
        sha256(&std::fs::read(d.join("initrd.gz")).unwrap()),
    )
}

/// Every file a client can fetch from a built repository (links followed;
/// `.elirepo/` and `dists/.generations/` as such left out) and its SHA-256.
pub fn client_view(repo: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".elirepo" || rel == "dists/.generations" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, sha256(&std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(repo, repo, &mut out);
    out
}

/// The paths of `after` that are new or changed since `before`.
pub fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    after
        .iter()
        .filter(|(p, h)| before.get(*p) != Some(h))
        .map(|(p, _)| p.clone())
        .collect()
}

/// The parsed `--json` report of a publish run.
pub fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "publish failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// What a file-system destination `dest` holds that a complete publish of `repo`
/// would not leave there, one line each: a temporary (rsync's `.NAME.XXXXXX`, a
/// generation's `.tmp-<id>`, a `.<suite>.switch` link, `state.json.tmp`), an empty
/// directory, a pool file the repository no longer has (for a test whose last
/// [`KEEP`](elirepo::remote::plan::KEEP) publishes all name only files it still
/// has), a generation directory beyond the kept ones, an unreadable state file.
/// Empty: the destination is as a complete publish leaves it.
pub fn leftovers(dest: &Path, repo: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, std::fs::Metadata)>) {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((rel, m.clone()));
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut all = Vec::new();
    walk(dest, dest, &mut all);
    let mut out = Vec::new();
    let allowed_dot = [
        ".elirepo-publish",
        ".elirepo-publish/state.json",
        ".elirepo-publish/lock",
        "dists/.generations",
    ];
    let mut generations: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rel, m) in &all {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if name.starts_with('.') && !allowed_dot.contains(&rel.as_str()) {
            out.push(format!("temporary: {rel}"));
        }
        if m.is_dir() && std::fs::read_dir(dest.join(rel)).unwrap().next().is_none() {
            out.push(format!("empty directory: {rel}"));
        }
        if m.is_file() && rel.starts_with("pool/") && !repo.join(rel).is_file() {
            out.push(format!("pool file no kept publish names: {rel}"));
        }
        if let Some(rest) = rel.strip_prefix("dists/.generations/") {
            let parts: Vec<&str> = rest.split('/').collect();
            if parts.len() == 2 && !parts[1].starts_with('.') {
                generations
                    .entry(parts[0].to_string())
                    .or_default()
                    .push(parts[1].to_string());
            }
        }
    }
    for (suite, ids) in generations {
        if ids.len() > elirepo::remote::plan::KEEP {
            out.push(format!(
                "{} generations of {suite} (kept: {}): {ids:?}",
                ids.len(),
                elirepo::remote::plan::KEEP
            ));
        }
    }
    match std::fs::read(dest.join(".elirepo-publish/state.json")) {
        Ok(b) if elirepo::remote::state::State::parse(&b).is_some() => {}
        Ok(b) => out.push(format!(
            "unreadable state file: {:?}",
            String::from_utf8_lossy(&b[..b.len().min(200)])
        )),
        Err(e) => out.push(format!("no state file: {e}")),
    }
    out
}
