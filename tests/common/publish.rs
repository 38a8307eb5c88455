//! Helpers of the `elirepo publish` tests: a demo repository built in a temp
//! dir and changed between builds, and a poller that reads a published
//! repository over http the way apt (by-hash) and eliloader do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::Digest;

use super::{elirepo, fixtures_dir, output_of, DebBuilder};

pub fn sha256(b: &[u8]) -> String {
    sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// The demo's inputs copied to `dir/demo`; built into `dir/repo`.
pub struct Demo {
    pub dir: PathBuf,
}

impl Demo {
    pub fn new(dir: &Path) -> Demo {
        let o = output_of(std::process::Command::new("cp").arg("-a").arg(fixtures_dir().join("demo")).arg(dir.join("demo")));
        assert!(o.status.success());
        Demo { dir: dir.to_path_buf() }
    }
    pub fn repo(&self) -> PathBuf {
        self.dir.join("repo")
    }
    pub fn keyring(&self) -> PathBuf {
        self.repo().join("elirepo-demo-archive-keyring.gpg")
    }
    pub fn build(&self) {
        let o = output_of(elirepo().arg("build").arg("--config").arg(self.dir.join("demo/elirepo.toml")).arg("--repo").arg(self.repo()).arg("-q"));
        assert!(o.status.success(), "build: {}", String::from_utf8_lossy(&o.stderr));
    }
    /// Change the inputs: package `n` added, xs-tools-common removed.
    pub fn change(&self, n: u32) {
        let debs = self.dir.join("demo/debs");
        let _ = std::fs::remove_file(debs.join("xs-tools-common_5.6.0-578_all.deb"));
        DebBuilder::new(&format!("extra{n}"))
            .version(&format!("1.{n}"))
            .arch("all")
            .data_file("./usr/share/doc/extra/x", format!("payload {n}").into_bytes(), 0o644)
            .write_to(&debs.join(format!("extra{n}_1.{n}_all.deb")))
            .unwrap();
    }
    pub fn deb_bytes(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(self.dir.join("demo/debs"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
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

/// One round of a client: InRelease → the Packages it names (by hash, as apt
/// with Acquire-By-Hash) → every pool file it names; and eliloader's two files,
/// each of which must be one of `kernels`/`initrds` (by SHA-256). Returns the
/// problem, if any.
pub fn poll_once(agent: &ureq::Agent, base: &str, kernels: &[String]) -> Result<(), String> {
    let inrelease = String::from_utf8_lossy(&get(agent, &format!("{base}dists/lenny/InRelease"))?).into_owned();
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
    let (hash, _size) = want.ok_or("InRelease names no main/binary-amd64/Packages")?;
    let packages = get(agent, &format!("{base}dists/lenny/main/binary-amd64/by-hash/SHA256/{hash}"))?;
    if sha256(&packages) != hash {
        return Err("Packages by-hash: Hash Sum mismatch".into());
    }
    let text = String::from_utf8_lossy(&packages).into_owned();
    for stanza in text.split("\n\n") {
        let field = |n: &str| stanza.lines().find_map(|l| l.strip_prefix(n)).map(str::trim);
        if let (Some(file), Some(sha)) = (field("Filename:"), field("SHA256:")) {
            let deb = get(agent, &format!("{base}{file}"))?;
            if sha256(&deb) != sha {
                return Err(format!("{file}: Hash Sum mismatch"));
            }
        }
    }
    for name in ["vmlinuz", "initrd.gz"] {
        let b = get(agent, &format!("{base}dists/lenny/main/installer-amd64/current/images/netboot/xen/{name}"))?;
        if !kernels.contains(&sha256(&b)) {
            return Err(format!("current/{name}: not a published image"));
        }
    }
    Ok(())
}

/// Polls `base` in a loop on a thread until stopped; counts rounds and problems.
pub struct Poller {
    stop: Arc<AtomicBool>,
    pub rounds: Arc<AtomicUsize>,
    pub problems: Arc<Mutex<Vec<String>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    pub fn start(base: &str, kernels: Vec<String>) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let (s, r, p, base) = (stop.clone(), rounds.clone(), problems.clone(), base.to_string());
        let handle = std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(30)).build();
            while !s.load(Ordering::Relaxed) {
                if let Err(e) = poll_once(&agent, &base, &kernels) {
                    p.lock().unwrap().push(e);
                }
                r.fetch_add(1, Ordering::Relaxed);
            }
        });
        Poller { stop, rounds, problems, handle: Some(handle) }
    }
    /// Stops; returns (rounds, problems).
    pub fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap();
        (self.rounds.load(Ordering::Relaxed), self.problems.lock().unwrap().clone())
    }
}

/// SHA-256 of the demo's amd64 kernel and initrd (the eliloader pair).
pub fn demo_images(repo: &Path) -> Vec<String> {
    let d = repo.join("dists/lenny/main/installer-amd64/current/images/netboot/xen");
    vec![sha256(&std::fs::read(d.join("vmlinuz")).unwrap()), sha256(&std::fs::read(d.join("initrd.gz")).unwrap())]
}

/// The parsed `--json` report of a publish run.
pub fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "publish failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}
