//! Crash consistency: a build killed at any moment leaves a repository that a
//! client reads consistently (every file the Release lists matches, every
//! Packages Filename exists with its digests, SHA256SUMS matches its images),
//! holding either the old inputs or the new ones; the next build recovers and
//! cleans up. Deterministic fault points inside the publish step (the
//! `ELIREPO_FAULT` hook aborts the process there, as `kill -9` would stop it), then
//! seeded random `kill -9`s, with a real `apt-get update` in one case.

mod common;
#[path = "common/synth.rs"]
#[allow(dead_code)]
mod synth;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::apt::Apt;
use common::{elirepo, have_tool, output_of, seed_from_env, tempdir, DebBuilder, Rng};
use synth::{initrd_gz as initrd, pv_amd64_kernel as kernel};

const SDE: &str = "1795000000"; // Wed, 18 Nov 2026: in the past, so apt accepts the Date

/// One set of inputs: some packages and a kernel/initrd pair.
struct Inputs {
    dir: PathBuf,
    names: Vec<String>,
}

fn inputs(root: &Path, tag: &str, packages: &[&str], release: &str) -> Inputs {
    let dir = root.join(tag);
    fs::create_dir_all(dir.join("debs")).unwrap();
    for p in packages {
        DebBuilder::new(p)
            .version("1.0")
            .arch("amd64")
            .data_file(
                &format!("./usr/share/{p}/payload"),
                vec![p.as_bytes()[0]; 40_000],
                0o644,
            )
            .write_to(&dir.join("debs").join(format!("{p}_1.0_amd64.deb")))
            .unwrap();
    }
    fs::write(dir.join("vmlinuz"), kernel(release)).unwrap();
    fs::write(dir.join("initrd"), initrd(release)).unwrap();
    Inputs {
        dir,
        names: packages.iter().map(|p| p.to_string()).collect(),
    }
}

fn build_cmd(repo: &Path, i: &Inputs) -> Command {
    let mut c = elirepo();
    c.env("SOURCE_DATE_EPOCH", SDE)
        .args([
            "build",
            "-q",
            "--unsigned",
            "--suite",
            "lenny",
            "--arch",
            "amd64",
            "--repo",
        ])
        .arg(repo)
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

/// The repository reads consistently and holds one of the two input sets.
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

/// No leftovers of a dead build once a build has run again.
fn assert_clean(repo: &Path) {
    assert!(
        !repo.join(".elirepo/staging").exists(),
        "staging area left behind"
    );
    let gens: Vec<_> = fs::read_dir(repo.join("dists/.generations/lenny"))
        .unwrap()
        .collect();
    assert_eq!(gens.len(), 1, "stale generations left behind");
}

#[test]
fn a_fault_at_each_point_of_the_publish_step() {
    let t = tempdir();
    let a = inputs(t.path(), "a", &["alpha", "beta", "gamma"], "6.1.0-1-amd64");
    let b = inputs(
        t.path(),
        "b",
        &["beta", "delta", "epsilon", "zeta"],
        "6.1.0-2-amd64",
    );
    for point in [
        "before-commit",
        "commit-0",
        "commit-1",
        "commit-2",
        "before-switch",
        "after-switch",
    ] {
        let repo = t.path().join(format!("repo-{point}"));
        build_ok(&repo, &a);
        let o = output_of(build_cmd(&repo, &b).env("ELIREPO_FAULT", point));
        // The fault hook aborts: SIGABRT, not a clean exit nor a crash (exit 101).
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&o.status),
            Some(6),
            "{point}: the fault point was not reached ({:?}):\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        assert_consistent(&repo, &a, &b, point);
        build_ok(&repo, &b);
        assert_consistent(&repo, &b, &b, &format!("{point}, then a full build"));
        assert_clean(&repo);
    }
}

#[test]
fn random_kills_never_leave_a_broken_repository() {
    let seed = seed_from_env(0x5eed_c4a5);
    eprintln!("seed {seed:#x} (ELIREPO_SEED to reproduce)");
    let mut rng = Rng::new(seed);
    let t = tempdir();
    let sets = [
        inputs(t.path(), "a", &["alpha", "beta", "gamma"], "6.1.0-1-amd64"),
        inputs(
            t.path(),
            "b",
            &["beta", "delta", "epsilon", "zeta"],
            "6.1.0-2-amd64",
        ),
    ];
    let repo = t.path().join("repo");
    build_ok(&repo, &sets[0]);
    // How long a build takes here, to spread the kills over it.
    let start = std::time::Instant::now();
    build_ok(&repo, &sets[1]);
    build_ok(&repo, &sets[0]);
    let mut span = (start.elapsed().as_micros() / 2).max(1000) as usize;
    let mut current = 0;
    let (mut killed, mut rounds) = (0, 0);
    // At least 20 kills that landed before the build finished; a machine whose
    // speed changes under load only makes the window adapt (halved after a build
    // that finished first), never the test pass without kills.
    while killed < 20 {
        assert!(
            rounds < 200,
            "only {killed} of {rounds} kills landed in time"
        );
        rounds += 1;
        let next = 1 - current;
        let mut child = build_cmd(&repo, &sets[next]).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(span) as u64));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let what = format!("round {rounds} (killed after up to {span} us, exit {status:?})");
        assert_consistent(&repo, &sets[0], &sets[1], &what);
        if status.success() {
            current = next;
            span = (span / 2).max(200);
        } else {
            // Only the kill may end it: a crash (exit 101) is no kill.
            let sig = std::os::unix::process::ExitStatusExt::signal(&status);
            assert_eq!(sig, Some(9), "{what}: ended, but not by the kill");
            killed += 1;
            if published(&repo) == sets[next].names {
                // Killed after the switch: the new tree is already published.
                current = next;
            }
        }
    }
    eprintln!("{killed} of {rounds} builds killed before they finished");
    build_ok(&repo, &sets[current]);
    assert_consistent(&repo, &sets[current], &sets[current], "after recovery");
    assert_clean(&repo);
    if have_tool("apt-get") {
        // And a real client agrees.
        let apt = Apt::new(&repo, "lenny", None);
        apt.update_clean();
        let got = apt.download(&[sets[current].names[0].as_str()]);
        assert_eq!(got.len(), 1);
    }
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
    let must = std::env::var_os("ELIREPO_REQUIRE_TOOLS").is_some_and(|v| v == "1");
    if !is_root {
        assert!(
            !must,
            "mounting a small tmpfs needs root (ELIREPO_REQUIRE_TOOLS=1)"
        );
        eprintln!("skipped: mounting a small tmpfs needs root");
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
        assert!(!must, "cannot mount a tmpfs");
        eprintln!("skipped: cannot mount a tmpfs here");
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
    common::assert_failed_cleanly(&o, "a full disk");
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("huge_1.0_amd64.deb") && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(
        before,
        common::snapshot_tree(&repo),
        "the repository changed"
    );
    assert_consistent(&repo, &a, &a, "after a full disk");
}
