//! `elirepo build` end to end, checked by the real clients.
//!
//! Every test builds a repository with the elirepo binary from .debs made by
//! [`DebBuilder`] (or the demo fixture) and checks it with what will read it:
//!
//! * [`Apt`]: a real `apt-get update` / `apt-cache` / `apt-get download`,
//!   isolated in a temp dir (state, lists, cache, sources, preferences and
//!   apt.conf.d are all its own; the system's apt state is never read or
//!   written). An update must be clean: no `W:` or `E:` line at all.
//! * `gpgv` for `InRelease` and `Release.gpg`, with throwaway keys made by
//!   [`Key`] in temp gpg homes.
//! * `apt-ftparchive release` / `packages` as the reference for the bytes
//!   of `Release` and `Packages`.
//!
//! A missing tool skips the test, unless `ELIREPO_REQUIRE_TOOLS=1` (CI),
//! which makes it a failure:
//!
//! ```text
//! ELIREPO_REQUIRE_TOOLS=1 cargo test --test build_apt
//! ```

mod common;

use common::apt::{both, text, Apt};
use common::gpg::{gpgv, stop_agent, Key};

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn mkdir_private(p: &Path) {
    fs::create_dir_all(p).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o700)).unwrap();
}

/// Writes `b` as `<dir>/<package>_<version>_<arch>.deb` and returns the path.
fn deb(dir: &Path, b: DebBuilder, package: &str, version: &str, arch: &str) -> PathBuf {
    let p = dir.join(format!("{package}_{version}_{arch}.deb"));
    b.write_to(&p).unwrap();
    p
}

/// A package `name` 1.0-1 for `arch` whose contents say so (so every file differs).
fn pkg(dir: &Path, name: &str, version: &str, arch: &str) -> PathBuf {
    let b = DebBuilder::new(name)
        .version(version)
        .arch(arch)
        .field("Section", "utils")
        .field("Priority", "optional")
        .data_file(
            &format!("usr/share/{name}/{arch}"),
            format!("{name} {version} for {arch}\n"),
            0o644,
        );
    deb(dir, b, name, version, arch)
}

/// `hello` for i386 and amd64 plus the `Architecture: all` `hello-data`.
fn hello_set(dir: &Path) -> Vec<PathBuf> {
    let data = DebBuilder::new("hello-data")
        .version("1.0-1")
        .arch("all")
        .field("Section", "misc")
        .data_file("usr/share/hello/greeting", "hello\n", 0o644);
    let mk = |arch: &str| {
        DebBuilder::new("hello")
            .version("1.0-1")
            .arch(arch)
            .field("Section", "utils")
            .field("Priority", "optional")
            .field("Depends", "hello-data (= 1.0-1)")
            .data_file(
                "usr/bin/hello",
                format!("#!/bin/sh\necho hello {arch}\n"),
                0o755,
            )
    };
    vec![
        deb(dir, mk("i386"), "hello", "1.0-1", "i386"),
        deb(dir, mk("amd64"), "hello", "1.0-1", "amd64"),
        deb(dir, data, "hello-data", "1.0-1", "all"),
    ]
}

/// One `elirepo build` invocation.
struct Build {
    repo: PathBuf,
    suite: String,
    archs: Vec<String>,
    debs: Vec<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
}

fn build(repo: &Path, debs: &[PathBuf]) -> Build {
    Build {
        repo: repo.to_path_buf(),
        suite: "stable".into(),
        archs: vec!["i386".into(), "amd64".into()],
        debs: debs.to_vec(),
        args: vec![
            "--origin".into(),
            "Test".into(),
            "--label".into(),
            "Test Label".into(),
        ],
        env: Vec::new(),
    }
}

impl Build {
    fn suite(mut self, s: &str) -> Self {
        self.suite = s.into();
        self
    }
    fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }
    fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    /// The whole argument list after `elirepo`.
    fn argv(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["build".into(), "--repo".into(), self.repo.clone().into()];
        v.extend(self.options());
        v
    }
    /// The arguments after `build --repo REPO`.
    fn options(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["--suite".into(), self.suite.clone().into()];
        for a in &self.archs {
            v.push("--arch".into());
            v.push(a.into());
        }
        for d in &self.debs {
            v.push("--deb".into());
            v.push(d.clone().into());
        }
        v.extend(self.args.iter().cloned());
        v
    }
    /// The command, on the real clock unless [`Build::env`] sets `SOURCE_DATE_EPOCH`.
    fn command(&self) -> Command {
        let mut c = build_cmd_at(&self.repo, None);
        c.args(self.options());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
    fn run(&self) -> Output {
        output_of(&mut self.command())
    }
    /// Runs and asserts success.
    fn ok(&self) -> Output {
        let o = self.run();
        assert!(
            o.status.success(),
            "elirepo {:?} failed:\n{}",
            self.argv(),
            both(&o)
        );
        common::assert_no_crash(&o, &format!("elirepo {:?}", self.argv()));
        o
    }
    /// Runs and asserts failure without a crash.
    fn fails(&self) -> Output {
        let o = self.run();
        common::assert_failed_cleanly(&o, &format!("elirepo {:?} should fail", self.argv()));
        o
    }
}

/// A Release's header fields and, per listed path, (size, sha256, sha512).
struct Release {
    fields: BTreeMap<String, String>,
    files: BTreeMap<String, (u64, String, String)>,
}

fn parse_release(t: &str) -> Release {
    let mut fields = BTreeMap::new();
    let mut files: BTreeMap<String, (u64, String, String)> = BTreeMap::new();
    let mut section = String::new();
    for line in t.lines() {
        if let Some(rest) = line.strip_prefix(' ') {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!(parts.len(), 3, "bad Release line {line:?}");
            let e = files.entry(parts[2].to_string()).or_default();
            e.0 = parts[1].parse().unwrap();
            match section.as_str() {
                "SHA256" => e.1 = parts[0].to_string(),
                "SHA512" => e.2 = parts[0].to_string(),
                _ => {}
            }
        } else {
            let (k, v) = line.split_once(':').unwrap();
            section = k.to_string();
            if !v.trim().is_empty() {
                fields.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    Release { fields, files }
}

fn read_release(repo: &Path, suite: &str) -> Release {
    parse_release(&fs::read_to_string(repo.join("dists").join(suite).join("Release")).unwrap())
}

/// `Package Version Architecture` of every stanza of a Packages text.
fn packages_in(t: &str) -> BTreeSet<String> {
    t.split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let get = |k: &str| {
                s.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                    .unwrap_or_else(|| panic!("no {k} in stanza {s:?}"))
                    .to_string()
            };
            format!(
                "{} {} {}",
                get("Package"),
                get("Version"),
                get("Architecture")
            )
        })
        .collect()
}

fn packages_of(repo: &Path, suite: &str, arch: &str) -> BTreeSet<String> {
    packages_in(
        &fs::read_to_string(repo.join(format!("dists/{suite}/main/binary-{arch}/Packages")))
            .unwrap(),
    )
}

/// Checks both signatures of `dists/<suite>` with gpgv, and that InRelease signs
/// exactly the Release bytes.
fn check_signatures(repo: &Path, suite: &str, keyring: &Path) {
    let s = repo.join("dists").join(suite);
    let o = gpgv(keyring, &[&s.join("InRelease")]);
    assert!(o.status.success(), "gpgv InRelease:\n{}", both(&o));
    let o = gpgv(keyring, &[&s.join("Release.gpg"), &s.join("Release")]);
    assert!(
        o.status.success(),
        "gpgv Release.gpg Release:\n{}",
        both(&o)
    );
    let t = tempdir();
    let body = t.path().join("body");
    let o = output_of(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(keyring)
            .arg("--output")
            .arg(&body)
            .arg(s.join("InRelease")),
    );
    assert!(o.status.success(), "gpgv --output:\n{}", both(&o));
    assert_bytes_eq(
        &fs::read(s.join("Release")).unwrap(),
        &fs::read(&body).unwrap(),
        "InRelease body vs Release",
    );
}

fn decompress_gz(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn decompress_xz(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    xz2::read::XzDecoder::new(b).read_to_end(&mut out).unwrap();
    out
}

/// Flips the bits of the byte at `at` (counted from the end if negative).
fn flip_byte(path: &Path, at: isize) {
    let mut b = fs::read(path).unwrap();
    let i = if at < 0 {
        (b.len() as isize + at) as usize
    } else {
        at as usize
    };
    b[i] ^= 0xff;
    fs::write(path, b).unwrap();
}

/// Sleeps until the wall clock's second has changed (at most a second).
fn wait_for_next_second() {
    let secs = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let start = secs();
    while secs() == start {
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// A signed repository, read by apt and gpgv
// ---------------------------------------------------------------------------

#[test]
fn signed_repository_for_two_architectures_works_with_apt() {
    if !have_tools(&["apt-get", "gpg", "gpgv"]) {
        return;
    }
    let t = tempdir();
    let debs = hello_set(&t.path().join("in"));
    let key = Key::new(None);
    let repo = t.path().join("repo");
    let o = build(&repo, &debs).args(key.args()).arg("--json").ok();
    let report = json(&o);
    assert_eq!(report["changed"], true);
    assert_eq!(report["signed"], true);
    let keyring = repo.join(report["keyring"].as_str().expect("a keyring name"));
    assert_eq!(keyring, repo.join("test-label-archive-keyring.gpg"));
    assert_bytes_eq(
        &key.public(),
        &fs::read(&keyring).unwrap(),
        "published keyring vs gpg --export",
    );

    check_signatures(&repo, "stable", &keyring);
    // Each compressed index is its Packages.
    for arch in ["i386", "amd64"] {
        let dir = repo.join(format!("dists/stable/main/binary-{arch}"));
        let plain = fs::read(dir.join("Packages")).unwrap();
        assert_bytes_eq(
            &plain,
            &decompress_gz(&fs::read(dir.join("Packages.gz")).unwrap()),
            "Packages.gz",
        );
        assert_bytes_eq(
            &plain,
            &decompress_xz(&fs::read(dir.join("Packages.xz")).unwrap()),
            "Packages.xz",
        );
        assert_eq!(
            packages_in(&text(&plain)),
            set(&[&format!("hello 1.0-1 {arch}"), "hello-data 1.0-1 all"])
        );
    }

    let apt = Apt::new(&repo, "stable", Some(&keyring));
    apt.update_clean();
    let policy = apt.query("apt-cache", &["policy"]);
    for b in ["b=i386", "b=amd64"] {
        assert!(
            policy.contains(&format!(
                "release o=Test,a=stable,n=stable,l=Test Label,c=main,{b}"
            )),
            "apt-cache policy:\n{policy}"
        );
    }
    for (p, arch) in [
        ("hello:i386", "i386"),
        ("hello:amd64", "amd64"),
        ("hello-data", "all"),
    ] {
        let show = apt.query("apt-cache", &["show", p]);
        assert!(
            show.contains(&format!("Architecture: {arch}\n")),
            "apt-cache show {p}:\n{show}"
        );
        let pol = apt.query("apt-cache", &["policy", p]);
        assert!(
            pol.contains("Candidate: 1.0-1"),
            "apt-cache policy {p}:\n{pol}"
        );
    }
    let got = apt.download(&["hello:i386", "hello:amd64", "hello-data"]);
    assert_eq!(got.len(), 3, "{:?}", got.keys());
    for input in &debs {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = got
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not downloaded: {:?}", got.keys()));
        assert!(
            bytes == &fs::read(input).unwrap(),
            "{name}: downloaded bytes differ from the input"
        );
    }

    // A key that did not sign it is refused by apt and gpgv.
    let other = Key::new(None);
    let other_ring = t.path().join("other.gpg");
    fs::write(&other_ring, other.public()).unwrap();
    let o = gpgv(&other_ring, &[&repo.join("dists/stable/InRelease")]);
    assert!(
        !o.status.success(),
        "gpgv accepted another key:\n{}",
        both(&o)
    );
    Apt::new(&repo, "stable", Some(&other_ring)).update_fails("NO_PUBKEY");
}

#[test]
fn passphrase_protected_key_signs_with_passphrase_file() {
    if !have_tools(&["apt-get", "gpg", "gpgv"]) {
        return;
    }
    let t = tempdir();
    let debs = hello_set(&t.path().join("in"));
    let key = Key::new(Some("correct horse"));
    let good = t.path().join("pass");
    fs::write(&good, "correct horse\n").unwrap();
    let bad = t.path().join("wrong");
    fs::write(&bad, "battery staple\n").unwrap();

    // The wrong passphrase, or none: an error, nothing published.
    let repo = t.path().join("repo");
    let o = build(&repo, &debs)
        .args(key.args())
        .arg("--passphrase-file")
        .arg(&bad)
        .fails();
    assert!(
        text(&o.stderr).contains(&format!(
            "the passphrase in {} does not unlock the key",
            bad.display()
        )),
        "{}",
        both(&o)
    );
    let o = build(&repo, &debs).args(key.args()).fails();
    assert!(
        text(&o.stderr).contains("is protected by a passphrase: give --passphrase-file FILE"),
        "{}",
        both(&o)
    );
    assert!(
        !repo.join("dists").exists(),
        "a failed signing published something"
    );

    // The right one, with the key in a gpg home.
    build(&repo, &debs)
        .args(key.args())
        .arg("--passphrase-file")
        .arg(&good)
        .ok();
    let keyring = repo.join("test-label-archive-keyring.gpg");
    check_signatures(&repo, "stable", &keyring);
    Apt::new(&repo, "stable", Some(&keyring)).update_clean();

    // The same key as an armored file (the way a CI secret arrives).
    let asc = t.path().join("key.asc");
    fs::write(&asc, key.secret_armored()).unwrap();
    let repo2 = t.path().join("repo2");
    build(&repo2, &debs)
        .arg("--sign-key-file")
        .arg(&asc)
        .arg("--passphrase-file")
        .arg(&good)
        .ok();
    check_signatures(&repo2, "stable", &keyring);
    assert_bytes_eq(
        &fs::read(&keyring).unwrap(),
        &fs::read(repo2.join("test-label-archive-keyring.gpg")).unwrap(),
        "keyring from the key file",
    );
    Apt::new(&repo2, "stable", Some(&keyring)).update_clean();
}

/// The passphrase reaches gpg through a file: it is in no process's arguments (a
/// `gpg` wrapper first on PATH records every invocation) and in no output, even with
/// `-v` and `--json`.
#[test]
fn the_passphrase_is_never_in_arguments_or_output() {
    if !have_tools(&["gpg"]) {
        return;
    }
    let t = tempdir();
    let debs = hello_set(&t.path().join("in"));
    let secret = "s3cret-passphrase-7f9";
    let key = Key::new(Some(secret));
    let pass = t.path().join("pass");
    fs::write(&pass, format!("{secret}\n")).unwrap();
    let bin = t.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let log = t.path().join("gpg-argv.log");
    let real = common::find_on_path("gpg").unwrap();
    let wrapper = bin.join("gpg");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let repo = t.path().join("repo");
    let o = build(&repo, &debs)
        .args(key.args())
        .arg("--passphrase-file")
        .arg(&pass)
        .arg("-v")
        .arg("--json")
        .env("PATH", &path)
        .ok();
    let argv = fs::read_to_string(&log).unwrap();
    assert!(
        argv.contains("--passphrase-file"),
        "gpg was not used through the wrapper:\n{argv}"
    );
    assert!(
        !argv.contains(secret),
        "the passphrase was in gpg's arguments:\n{argv}"
    );
    assert!(
        !text(&o.stdout).contains(secret) && !text(&o.stderr).contains(secret),
        "{}",
        both(&o)
    );
    // And a wrong passphrase's error does not echo it either.
    fs::write(&pass, "wrong-passphrase-42\n").unwrap();
    let o = build(&t.path().join("repo2"), &debs)
        .args(key.args())
        .arg("--passphrase-file")
        .arg(&pass)
        .env("PATH", &path)
        .fails();
    assert!(
        !text(&o.stderr).contains("wrong-passphrase-42"),
        "{}",
        both(&o)
    );
}

#[test]
fn tampered_indexes_fail_apt_update() {
    if !have_tools(&["apt-get"]) {
        return;
    }
    let t = tempdir();
    let debs = hello_set(&t.path().join("in"));
    let repo = t.path().join("repo");
    // Without by-hash apt fetches the indexes by name.
    build(&repo, &debs)
        .args(["--unsigned", "--no-by-hash"])
        .ok();
    Apt::new(&repo, "stable", None).update_clean();
    let dir = repo.join("dists/stable/main/binary-amd64");
    for name in ["Packages.xz", "Packages"] {
        let path = dir.join(name);
        let original = fs::read(&path).unwrap();
        flip_byte(&path, -20);
        Apt::new(&repo, "stable", None).update_fails("Hash Sum mismatch");
        fs::write(&path, &original).unwrap();
        Apt::new(&repo, "stable", None).update_clean();
    }
}

// ---------------------------------------------------------------------------
// What a build writes, and when it writes nothing
// ---------------------------------------------------------------------------

#[test]
fn unchanged_rerun_writes_nothing() {
    if !have_tools(&["gpg", "gpgv"]) {
        return;
    }
    let t = tempdir();
    let debs = hello_set(&t.path().join("in"));
    let key = Key::new(None);
    let repo = t.path().join("repo");
    let b = build(&repo, &debs)
        .args(key.args())
        .args(["--valid-for", "7"]);
    b.ok();
    let before = snapshot_tree(&repo);
    // A rebuild in a later second would write another Date unless it keeps the
    // previous one; and a rewrite shows in mtimes even on coarse file systems.
    wait_for_next_second();

    let o = b.ok();
    assert!(text(&o.stderr).contains("nothing changed"), "{}", both(&o));
    assert_same_snapshot(
        &before,
        &snapshot_tree(&repo),
        "second build with the same inputs",
    );

    let o = build(&repo, &debs)
        .args(key.args())
        .args(["--valid-for", "7", "--json"])
        .ok();
    let report = json(&o);
    assert_eq!(report["changed"], false, "{report}");
    assert_eq!(report["files_written"], 0, "{report}");
    assert_eq!(report["files_removed"], 0, "{report}");
    assert_same_snapshot(
        &before,
        &snapshot_tree(&repo),
        "--json build with the same inputs",
    );

    // The same bytes in other files (a rebuild, a fresh checkout): still nothing to do.
    let copies = t.path().join("copies");
    fs::create_dir(&copies).unwrap();
    for d in &debs {
        fs::copy(d, copies.join(d.file_name().unwrap())).unwrap();
    }
    let o = build(&repo, &[copies])
        .args(key.args())
        .args(["--valid-for", "7"])
        .ok();
    assert!(text(&o.stderr).contains("nothing changed"), "{}", both(&o));
    assert_same_snapshot(
        &before,
        &snapshot_tree(&repo),
        "same bytes from other files",
    );
}

#[test]
fn source_date_epoch_pins_date_and_indexes_are_reproducible() {
    if !have_tools(&["apt-get"]) {
        return;
    }
    let t = tempdir();
    let debs = hello_set(&t.path().join("in"));
    let repos = [t.path().join("a"), t.path().join("b")];
    for r in &repos {
        build(r, &debs)
            .arg("--unsigned")
            .env("SOURCE_DATE_EPOCH", "946684800")
            .ok();
    }
    let rel = read_release(&repos[0], "stable");
    assert_eq!(rel.fields["Date"], "Sat, 01 Jan 2000 00:00:00 +0000");
    let mut compared = 0;
    for e in walkdir::WalkDir::new(repos[0].join("dists")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(&repos[0]).unwrap();
            assert_bytes_eq(
                &fs::read(e.path()).unwrap(),
                &fs::read(repos[1].join(rel)).unwrap(),
                &rel.display().to_string(),
            );
            compared += 1;
        }
    }
    // Release, 2 × (Packages, .gz, .xz, component Release), 2 × 3 × 2 by-hash copies.
    assert_eq!(compared, 1 + 8 + 12);
    assert_eq!(
        snapshot_tree(&repos[0]).keys().collect::<Vec<_>>(),
        snapshot_tree(&repos[1]).keys().collect::<Vec<_>>()
    );

    // apt checks the dates (this machine's apt.conf.d turns that off; Apt turns it back on).
    let old = t.path().join("old");
    build(&old, &debs)
        .args(["--unsigned", "--valid-for", "7"])
        .env("SOURCE_DATE_EPOCH", "946684800")
        .ok();
    Apt::new(&old, "stable", None).update_fails("is expired");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let future = t.path().join("future");
    build(&future, &debs)
        .arg("--unsigned")
        .env("SOURCE_DATE_EPOCH", &(now + 86_400).to_string())
        .ok();
    Apt::new(&future, "stable", None).update_fails("not valid yet");
    let fresh = t.path().join("fresh");
    build(&fresh, &debs)
        .args(["--unsigned", "--valid-for", "7"])
        .ok();
    Apt::new(&fresh, "stable", None).update_clean();
}

#[test]
fn release_and_packages_match_apt_ftparchive() {
    if !have_tools(&["apt-ftparchive"]) {
        return;
    }
    let t = tempdir();
    let dir = t.path().join("in");
    let mut debs = hello_set(&dir);
    // Pool corner cases: a lib* source, an epoch, a Source with a version.
    let lib = DebBuilder::new("libfrob1")
        .version("2.0-3")
        .arch("amd64")
        .field("Source", "libfrob (2.0-3)")
        .field("Multi-Arch", "same");
    debs.push(deb(&dir, lib, "libfrob1", "2.0-3", "amd64"));
    let epoch = DebBuilder::new("zeta")
        .version("1:0.9")
        .arch("i386")
        .field("Section", "games");
    debs.push(deb(&dir, epoch, "zeta", "1%3a0.9", "i386"));
    let repo = t.path().join("repo");
    build(&repo, &debs)
        .args(["--unsigned", "--codename", "bookworm", "--valid-for", "7"])
        .args(["--description", "elirepo test repository"])
        .ok();
    let ours = fs::read(repo.join("dists/stable/Release")).unwrap();
    let rel = parse_release(&text(&ours));
    let f = |k: &str| {
        rel.fields
            .get(k)
            .unwrap_or_else(|| panic!("no {k} in Release"))
            .clone()
    };
    assert_eq!(f("Acquire-By-Hash"), "yes");
    let o = |k: &str, v: String| format!("APT::FTPArchive::Release::{k}={v}");
    let mut apt = Command::new("apt-ftparchive");
    apt.current_dir(&repo)
        .arg("-o")
        .arg(o("Origin", f("Origin")))
        .arg("-o")
        .arg(o("Label", f("Label")))
        .arg("-o")
        .arg(o("Suite", "stable".into()))
        .arg("-o")
        .arg(o("Codename", "bookworm".into()))
        .arg("-o")
        .arg(o("Architectures", "i386 amd64".into()))
        .arg("-o")
        .arg(o("Components", "main".into()))
        .arg("-o")
        .arg(o("Description", "elirepo test repository".into()))
        .arg("-o")
        .arg(o("Date", f("Date")))
        .arg("-o")
        .arg(o("ValidTime", "604800".into()))
        .arg("-o")
        .arg(o("Valid-Until", f("Valid-Until")))
        .arg("-o")
        .arg(o("Acquire-By-Hash", "yes".into()))
        .args(["release", "dists/stable"]);
    let out = output_of(&mut apt);
    assert!(
        out.status.success(),
        "apt-ftparchive release:\n{}",
        both(&out)
    );
    // apt-ftparchive lists the Release it finds in the directory; ours does not list itself.
    let expected: String = text(&out.stdout)
        .split_inclusive('\n')
        .filter(|l| !(l.starts_with(' ') && l.trim_end().rsplit(' ').next() == Some("Release")))
        .collect();
    assert_bytes_eq(
        expected.as_bytes(),
        &ours,
        "Release vs apt-ftparchive release",
    );
    assert!(
        rel.files.contains_key("main/binary-i386/Release") && rel.files.len() == 8,
        "{:?}",
        rel.files.keys()
    );

    for arch in ["i386", "amd64"] {
        let out = output_of(Command::new("apt-ftparchive").current_dir(&repo).args([
            "-a",
            arch,
            "packages",
            "pool/main",
        ]));
        assert!(
            out.status.success(),
            "apt-ftparchive packages:\n{}",
            both(&out)
        );
        assert_bytes_eq(
            &out.stdout,
            &fs::read(repo.join(format!("dists/stable/main/binary-{arch}/Packages"))).unwrap(),
            &format!("binary-{arch}/Packages vs apt-ftparchive -a {arch} packages pool/main"),
        );
    }
}

#[test]
fn inputs_are_declarative_and_other_suites_are_left_alone() {
    if !have_tools(&["apt-get"]) {
        return;
    }
    let t = tempdir();
    let dir = t.path().join("in");
    let hello = hello_set(&dir);
    let extra = pkg(&dir, "extra", "1.0", "amd64");
    let other = pkg(&dir, "other", "3.0", "i386");
    let repo = t.path().join("repo");
    let mut stable: Vec<PathBuf> = hello.clone();
    stable.push(extra.clone());
    build(&repo, &stable).arg("--unsigned").ok();
    // testing shares hello-data with stable.
    build(&repo, &[other.clone(), hello[2].clone()])
        .suite("testing")
        .arg("--unsigned")
        .ok();
    let extra_pool = repo.join("pool/main/e/extra/extra_1.0_amd64.deb");
    let data_pool = repo.join("pool/main/h/hello-data/hello-data_1.0-1_all.deb");
    let other_pool = repo.join("pool/main/o/other/other_3.0_i386.deb");
    for p in [&extra_pool, &data_pool, &other_pool] {
        assert!(p.is_file(), "{} not published", p.display());
    }
    let testing_before = snapshot_tree(&repo.join("dists/testing"));
    let pool_of = |p: &Path| {
        fs::symlink_metadata(p)
            .map(|m| (m.ino(), m.mtime_nsec(), m.len()))
            .ok()
    };
    let kept_before = [pool_of(&data_pool), pool_of(&other_pool)];

    // stable without extra and without hello-data (which testing still lists).
    let o = build(&repo, &hello[..2])
        .arg("--unsigned")
        .arg("--json")
        .ok();
    let report = json(&o);
    assert_eq!(
        report["removed"],
        serde_json::json!(["extra 1.0 amd64", "hello-data 1.0-1 all"]),
        "{report}"
    );
    assert_eq!(
        packages_of(&repo, "stable", "amd64"),
        set(&["hello 1.0-1 amd64"])
    );
    assert_eq!(
        packages_of(&repo, "stable", "i386"),
        set(&["hello 1.0-1 i386"])
    );
    // A client holding the previous Release still finds its packages: the pool file
    // of a removed package stays for the by-hash generations (3), then goes.
    assert!(
        extra_pool.is_file(),
        "a package of the previous generation vanished at once"
    );
    for round in 0..2 {
        // Two more builds that change the suite.
        let only = if round == 0 { &hello[..1] } else { &hello[..2] };
        build(&repo, only).arg("--unsigned").ok();
    }
    assert!(
        !extra_pool.exists(),
        "the pool file of a removed package stays after 3 generations"
    );
    assert!(
        !repo.join("pool/main/e").exists(),
        "empty pool directories stay"
    );
    assert_eq!(
        [pool_of(&data_pool), pool_of(&other_pool)],
        kept_before,
        "testing's pool files changed"
    );
    assert_same_snapshot(
        &testing_before,
        &snapshot_tree(&repo.join("dists/testing")),
        "dists/testing",
    );
    for suite in ["stable", "testing"] {
        Apt::new(&repo, suite, None).update_clean();
    }
    let apt = Apt::new(&repo, "testing", None);
    apt.update_clean();
    assert_eq!(apt.download(&["hello-data"]).len(), 1);
}

// ---------------------------------------------------------------------------
// Failures leave the repository alone
// ---------------------------------------------------------------------------

/// A build that must fail: its inputs, its flags, and what stderr must name.
struct BadCase {
    what: &'static str,
    debs: Vec<PathBuf>,
    flags: Vec<OsString>,
    names: Vec<String>,
}

impl BadCase {
    fn build(&self, repo: &Path) -> Build {
        let b = build(repo, &self.debs);
        if self.flags.is_empty() {
            b.arg("--unsigned")
        } else {
            b.args(self.flags.clone())
        }
    }
}

#[test]
fn bad_inputs_leave_the_repository_unchanged() {
    if !have_tools(&["gpg"]) {
        return;
    }
    let t = tempdir();
    let dir = t.path().join("in");
    let good = hello_set(&dir);
    let repo = t.path().join("repo");
    build(&repo, &good).arg("--unsigned").ok();
    let before = snapshot_tree(&repo);

    let bad_dir = t.path().join("bad");
    fs::create_dir_all(&bad_dir).unwrap();
    let broken = bad_dir.join("broken_1.0_amd64.deb");
    fs::write(&broken, "This is not an ar archive.\n").unwrap();
    let s390x = pkg(&bad_dir, "mainframe", "1.0", "s390x");
    let dup_a = pkg(&bad_dir.join("a"), "twin", "1.0", "amd64");
    let dup_b = deb(
        &bad_dir.join("b"),
        DebBuilder::new("twin")
            .version("1.0")
            .arch("amd64")
            .data_file("usr/share/twin/b", "b\n", 0o644),
        "twin",
        "1.0",
        "amd64",
    );
    let missing = bad_dir.join("no-such-file_1.0_amd64.deb");
    let conflict = deb(
        &bad_dir.join("conflict"),
        DebBuilder::new("hello")
            .version("1.0-1")
            .arch("amd64")
            .data_file("usr/bin/hello", "different\n", 0o755),
        "hello",
        "1.0-1",
        "amd64",
    );
    let empty_home = t.path().join("gnupg");
    mkdir_private(&empty_home);
    let garbage_key = bad_dir.join("garbage.asc");
    fs::write(
        &garbage_key,
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot a key\n",
    )
    .unwrap();

    let with = |extra: &[&PathBuf]| {
        let mut v = good.clone();
        v.extend(extra.iter().map(|p| (*p).clone()));
        v
    };
    let case = |what, debs, flags: Vec<OsString>, names: Vec<String>| BadCase {
        what,
        debs,
        flags,
        names,
    };
    let cases = vec![
        case(
            "not an ar archive",
            with(&[&broken]),
            vec![],
            vec![broken.display().to_string()],
        ),
        case(
            "architecture not in the suite",
            with(&[&s390x]),
            vec![],
            vec![s390x.display().to_string(), "s390x".into()],
        ),
        case(
            "two files for one package",
            with(&[&dup_a, &dup_b]),
            vec![],
            vec![dup_a.display().to_string(), dup_b.display().to_string()],
        ),
        case(
            "missing --deb path",
            with(&[&missing]),
            vec![],
            vec![missing.display().to_string()],
        ),
        case(
            "unknown --sign-key",
            good.clone(),
            vec![
                "--sign-key".into(),
                "0xDEADBEEFDEADBEEF".into(),
                "--gpg-homedir".into(),
                empty_home.clone().into(),
            ],
            vec!["DEADBEEFDEADBEEF".into()],
        ),
        case(
            "unusable --sign-key-file",
            good.clone(),
            vec!["--sign-key-file".into(), garbage_key.clone().into()],
            vec![garbage_key.display().to_string()],
        ),
        case(
            "pool conflict",
            vec![good[0].clone(), conflict.clone(), good[2].clone()],
            vec![],
            vec![
                conflict.display().to_string(),
                "pool/main/h/hello/hello_1.0-1_amd64.deb".into(),
            ],
        ),
    ];
    for c in cases {
        let what = c.what;
        let o = c.build(&repo).fails();
        let err = text(&o.stderr);
        for w in &c.names {
            assert!(
                err.contains(w.as_str()),
                "{what}: stderr does not name {w:?}:\n{err}"
            );
        }
        // gpg's own warning about a world-readable home of elirepo's making.
        assert!(!err.contains("unsafe permissions"), "{what}:\n{err}");
        assert_same_snapshot(&before, &snapshot_tree(&repo), what);
        assert!(
            !repo.join(".elirepo/staging").exists(),
            "{what}: the staging area is left behind"
        );
        // Into a repository that does not exist yet: not even the directory appears.
        if what != "pool conflict" {
            let fresh = t.path().join("fresh");
            c.build(&fresh).fails();
            assert!(
                !fresh.exists(),
                "{what}: a failed build created {}",
                fresh.display()
            );
        }
    }

    // The same package twice with the same bytes is not an error (and changes nothing).
    let copy = bad_dir.join("copy").join(good[0].file_name().unwrap());
    fs::create_dir_all(copy.parent().unwrap()).unwrap();
    fs::copy(&good[0], &copy).unwrap();
    build(&repo, &with(&[&copy])).arg("--unsigned").ok();
    assert_same_snapshot(&before, &snapshot_tree(&repo), "an identical duplicate");
    stop_agent(&empty_home);
}

#[test]
fn a_modified_input_never_changes_a_published_file() {
    let t = tempdir();
    let dir = t.path().join("in");
    let debs = hello_set(&dir);
    let repo = t.path().join("repo");
    build(&repo, &debs).arg("--unsigned").ok();
    let pool = repo.join("pool/main/h/hello/hello_1.0-1_amd64.deb");
    let published = fs::read(&pool).unwrap();
    // `cp new.deb debs/` writes into the existing inode.
    let rebuilt = DebBuilder::new("hello")
        .version("1.0-1")
        .arch("amd64")
        .data_file("usr/bin/hello", "rebuilt\n", 0o755)
        .build();
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&debs[1])
        .and_then(|mut f| std::io::Write::write_all(&mut f, &rebuilt))
        .unwrap();
    assert!(
        fs::read(&pool).unwrap() == published,
        "rewriting the input changed the published pool file"
    );
    let before = snapshot_tree(&repo);
    let o = build(&repo, &debs).arg("--unsigned").fails();
    assert!(
        text(&o.stderr).contains("already published"),
        "{}",
        both(&o)
    );
    assert_same_snapshot(&before, &snapshot_tree(&repo), "build with a rebuilt input");
}

// ---------------------------------------------------------------------------
// Two builds on one repository
// ---------------------------------------------------------------------------

/// Holds `<repo>/.elirepo/lock` the way a running build does.
fn hold_lock(repo: &Path) -> fs::File {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(repo.join(".elirepo/lock"))
        .unwrap();
    f.lock().unwrap();
    f
}

/// by-hash SHA256 file names of a directory of indexes.
fn by_hash_names(dir: &Path, alg: &str) -> BTreeSet<String> {
    match fs::read_dir(dir.join("by-hash").join(alg)) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

#[test]
fn concurrent_builds_wait_for_each_other() {
    if !have_tools(&["apt-get", "gpg", "gpgv"]) {
        return;
    }
    let t = tempdir();
    let dir = t.path().join("in");
    let base = hello_set(&dir);
    let alpha = pkg(&dir, "alpha", "1.0", "amd64");
    let beta = pkg(&dir, "beta", "1.0", "amd64");
    let key = Key::new(None);
    let repo = t.path().join("repo");
    build(&repo, &base).args(key.args()).ok();
    let amd64 = repo.join("dists/stable/main/binary-amd64");
    let gen0 = by_hash_names(&amd64, "SHA256");

    // Both builds start while the lock is held, so both must wait.
    let lock = hold_lock(&repo);
    let with = |p: &PathBuf| {
        let mut v = base.clone();
        v.push(p.clone());
        v
    };
    let builds = [
        build(&repo, &with(&alpha)).args(key.args()).arg("--json"),
        build(&repo, &with(&beta)).args(key.args()).arg("--json"),
    ];
    let (tx, rx) = std::sync::mpsc::channel::<(usize, String)>();
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for (i, b) in builds.iter().enumerate() {
        let mut child = b
            .command()
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                let _ = tx.send((i, line.clone()));
                all.push_str(&line);
                all.push('\n');
            }
            all
        }));
        children.push(child);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut waiting = [false, false];
    while !(waiting[0] && waiting[1]) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, line)) => waiting[i] |= line.contains("waiting for another elirepo build"),
            Err(_) => {
                for c in &mut children {
                    let _ = c.kill();
                }
                panic!("the builds did not both wait for the lock: {waiting:?}");
            }
        }
    }
    drop(lock);
    let mut reports = Vec::new();
    for (i, mut c) in children.into_iter().enumerate() {
        let mut out = Vec::new();
        c.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        let status = c.wait().unwrap();
        let err = readers.remove(0).join().unwrap();
        assert!(status.success(), "build {i} failed:\n{err}");
        reports.push(serde_json::from_slice::<serde_json::Value>(&out).unwrap());
    }

    // The result is one of the two, complete and consistent.
    let got = packages_of(&repo, "stable", "amd64");
    let a = set(&[
        "hello 1.0-1 amd64",
        "hello-data 1.0-1 all",
        "alpha 1.0 amd64",
    ]);
    let b = set(&[
        "hello 1.0-1 amd64",
        "hello-data 1.0-1 all",
        "beta 1.0 amd64",
    ]);
    assert!(got == a || got == b, "{got:?}");
    let keyring = repo.join("test-label-archive-keyring.gpg");
    check_signatures(&repo, "stable", &keyring);
    let apt = Apt::new(&repo, "stable", Some(&keyring));
    apt.update_clean();
    let (last, first) = if got == a {
        ("alpha", "beta")
    } else {
        ("beta", "alpha")
    };
    assert_eq!(apt.download(&[last]).len(), 1);
    let first_pool = repo.join(format!(
        "pool/main/{}/{first}/{first}_1.0_amd64.deb",
        &first[..1]
    ));
    // The first build's package is listed nowhere now, but stays one more generation
    // for clients that fetched the first build's Release.
    assert!(
        first_pool.is_file(),
        "{} vanished while the previous Release names it",
        first_pool.display()
    );
    // The second build read the repository as the first left it (under the lock), so
    // its report is against that state: it replaced the first's package.
    let second = &reports[if last == "alpha" { 0 } else { 1 }];
    assert_eq!(
        second["added"],
        serde_json::json!([format!("{last} 1.0 amd64")]),
        "{second}"
    );
    assert_eq!(
        second["removed"],
        serde_json::json!([format!("{first} 1.0 amd64")]),
        "{second}"
    );
    // All three generations of by-hash copies are kept (a client of the first's Release
    // finds them).
    let now = by_hash_names(&amd64, "SHA256");
    assert!(gen0.is_subset(&now), "generation 0 lost");
    assert_eq!(
        now.len(),
        9,
        "3 index variants × 3 generations, got {now:?}"
    );
}

#[test]
fn no_wait_fails_fast_while_another_build_holds_the_lock() {
    let t = tempdir();
    let dir = t.path().join("in");
    let debs = hello_set(&dir);
    let repo = t.path().join("repo");
    build(&repo, &debs).arg("--unsigned").ok();
    let before = snapshot_tree(&repo);
    let more = {
        let mut v = debs.clone();
        v.push(pkg(&dir, "extra", "1.0", "amd64"));
        v
    };
    let lock = hold_lock(&repo);
    let start = Instant::now();
    let o = build(&repo, &more)
        .args(["--unsigned", "--no-wait"])
        .fails();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "--no-wait waited {:?}",
        start.elapsed()
    );
    assert!(
        text(&o.stderr).contains("another elirepo build"),
        "{}",
        both(&o)
    );
    assert_same_snapshot(&before, &snapshot_tree(&repo), "--no-wait while locked");
    drop(lock);
    build(&repo, &more).args(["--unsigned", "--no-wait"]).ok();
    assert!(packages_of(&repo, "stable", "amd64").contains("extra 1.0 amd64"));
}

// ---------------------------------------------------------------------------
// by-hash
// ---------------------------------------------------------------------------

#[test]
fn by_hash_keeps_three_generations_for_clients_of_an_older_release() {
    if !have_tools(&["apt-get"]) {
        return;
    }
    let t = tempdir();
    let dir = t.path().join("in");
    let repo = t.path().join("repo");
    let i386 = pkg(&dir, "constant", "1.0", "i386");
    let suite = repo.join("dists/stable");
    let mut releases = Vec::new();
    for n in 1..=5 {
        let v = format!("1.0-{n}");
        let debs = vec![i386.clone(), pkg(&dir.join(&v), "moving", &v, "amd64")];
        build(&repo, &debs).arg("--unsigned").ok();
        releases.push(fs::read(suite.join("Release")).unwrap());
    }
    let rel = parse_release(&text(&releases[4]));
    assert_eq!(
        rel.fields.get("Acquire-By-Hash").map(String::as_str),
        Some("yes")
    );
    // Every copy hashes to its name.
    for arch in ["amd64", "i386"] {
        let d = suite.join(format!("main/binary-{arch}/by-hash"));
        for (alg, f) in [
            ("SHA256", sha256_hex as fn(&[u8]) -> String),
            ("SHA512", sha512_hex),
        ] {
            for e in fs::read_dir(d.join(alg)).unwrap() {
                let e = e.unwrap();
                assert_eq!(
                    f(&fs::read(e.path()).unwrap()),
                    e.file_name().to_string_lossy(),
                    "{}",
                    e.path().display()
                );
            }
        }
    }
    // Exactly the indexes of the last three Releases are there.
    let mut want: BTreeMap<(String, &str), BTreeSet<String>> = BTreeMap::new();
    for r in &releases[2..] {
        for (path, (_, s256, s512)) in parse_release(&text(r)).files {
            if path.ends_with("/Release") {
                continue;
            }
            let d = Path::new(&path).parent().unwrap().display().to_string();
            want.entry((d.clone(), "SHA256")).or_default().insert(s256);
            want.entry((d, "SHA512")).or_default().insert(s512);
        }
    }
    for ((d, alg), names) in &want {
        assert_eq!(
            &by_hash_names(&suite.join(d), alg),
            names,
            "{d}/by-hash/{alg}"
        );
    }
    assert_eq!(want[&("main/binary-amd64".to_string(), "SHA256")].len(), 9);
    assert_eq!(want[&("main/binary-i386".to_string(), "SHA256")].len(), 3);

    // A client that got the previous Release (a mirror or proxy lagging behind) still
    // updates cleanly: it fetches the indexes by hash, as the named files have moved on.
    fs::write(suite.join("Release"), &releases[3]).unwrap();
    Apt::new(&repo, "stable", None).update_clean();
    fs::write(suite.join("Release"), &releases[4]).unwrap();
    // The same client without by-hash would fail: the by-hash copies are what saved it.
    let o = Apt::new(&repo, "stable", None);
    fs::write(suite.join("Release"), &releases[3]).unwrap();
    let out = o.update_with(&["-o", "Acquire::By-Hash=no"]);
    fs::write(suite.join("Release"), &releases[4]).unwrap();
    assert!(
        text(&out.stdout).contains("Hash Sum mismatch")
            || text(&out.stderr).contains("Hash Sum mismatch"),
        "without by-hash the old Release should not match:\n{}",
        both(&out)
    );
}

// ---------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------

#[test]
fn published_files_are_world_readable_whatever_the_umask() {
    if !have_tools(&["gpg"]) {
        return;
    }
    let t = tempdir();
    let dir = t.path().join("in");
    let mut debs = hello_set(&dir);
    // Inputs that are private, group-writable and executable.
    let private = pkg(&dir, "private", "1.0", "amd64");
    fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
    let shared = pkg(&dir, "shared", "1.0", "amd64");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o664)).unwrap();
    let exec = pkg(&dir, "exec", "1.0", "i386");
    fs::set_permissions(&exec, fs::Permissions::from_mode(0o755)).unwrap();
    debs.extend([private, shared, exec]);
    let key = Key::new(None);
    let repo = t.path().join("repo");
    let b = build(&repo, &debs).args(key.args());
    let run_umask = |b: &Build| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("umask 077; exec \"$0\" \"$@\"")
            .arg(bin_under_test())
            .args(b.argv())
            .env_remove("SOURCE_DATE_EPOCH");
        let o = output_of(&mut c);
        assert!(o.status.success(), "{}", both(&o));
    };
    run_umask(&b);
    // A second build that adds directories and files.
    debs.push(pkg(&dir, "later", "2.0", "amd64"));
    run_umask(&build(&repo, &debs).args(key.args()));
    let snap = snapshot_tree(&repo);
    assert!(snap.len() > 30, "{:?}", snap.keys());
    let wrong: Vec<String> = snap
        .iter()
        // A symlink's own mode means nothing (always 0777); what it points to is checked.
        .filter(|(_, s)| s.kind != "symlink")
        .filter(|(_, s)| s.mode != if s.kind == "dir" { 0o755 } else { 0o644 })
        .map(|(p, s)| format!("{p}: {} {:o}", s.kind, s.mode))
        .collect();
    assert!(
        wrong.is_empty(),
        "published with the wrong mode:\n  {}",
        wrong.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// The demo fixture
// ---------------------------------------------------------------------------

#[test]
fn demo_config_builds_a_clean_repository() {
    if !have_tools(&["apt-get", "gpg", "gpgv"]) {
        return;
    }
    let demo = fixtures_dir().join("demo");
    let t = tempdir();
    let repo = t.path().join("demo-repo");
    let mut c = build_cmd_at(&repo, None);
    c.arg("--config")
        .arg(demo.join("elirepo.toml"))
        .arg("--json");
    let o = output_of(&mut c);
    assert!(o.status.success(), "{}", both(&o));
    let report = json(&o);
    assert_eq!(report["signed"], true, "{report}");
    let rel = read_release(&repo, "lenny");
    assert_eq!(rel.fields["Suite"], "lenny");
    let keyring = repo.join(report["keyring"].as_str().unwrap());
    check_signatures(&repo, "lenny", &keyring);
    let apt = Apt::new(&repo, "lenny", Some(&keyring));
    apt.update_clean();
    let show = apt.query("apt-cache", &["show", "linux-image-2.6-xen:i386"]);
    assert!(
        show.contains("Depends: linux-image-2.6.32-4-686-bigmem"),
        "{show}"
    );
    let got = apt.download(&["xe-guest-utilities:i386", "xe-guest-utilities:amd64"]);
    for name in [
        "xe-guest-utilities_5.6.0-578_i386.deb",
        "xe-guest-utilities_5.6.0-578_amd64.deb",
    ] {
        assert!(
            got.get(name) == Some(&fs::read(demo.join("debs").join(name)).unwrap()),
            "{name}: not downloaded or not the fixture's bytes"
        );
    }
}

// ---------------------------------------------------------------------------
// apt over HTTP, as every client reads the repository
// ---------------------------------------------------------------------------

/// A signed repository of [`hello_set`] for i386 and amd64, served over HTTP
/// by a real server on 127.0.0.1.
struct Served {
    debs: Vec<PathBuf>,
    repo: PathBuf,
    keyring: PathBuf,
    server: Server,
    _key: Key,
    _t: tempfile::TempDir,
}

impl Served {
    fn new() -> Served {
        let t = tempdir();
        let debs = hello_set(&t.path().join("in"));
        let key = Key::new(None);
        let repo = t.path().join("repo");
        let o = build(&repo, &debs).args(key.args()).arg("--json").ok();
        let keyring = repo.join(json(&o)["keyring"].as_str().expect("a keyring"));
        let server = Server::http(&repo);
        Served {
            debs,
            repo,
            keyring,
            server,
            _key: key,
            _t: t,
        }
    }
    /// A fresh apt whose only source is the server, signed-by the published keyring.
    fn apt(&self) -> Apt {
        Apt::over_url(&self.server.base, "stable", Some(&self.keyring))
    }
    /// The server's URL as apt prints it (no trailing `/`).
    fn host(&self) -> &str {
        self.server.base.trim_end_matches('/')
    }
}

/// Every file under `dir` with exactly the bytes of `file` (the file itself
/// and its by-hash copies), sorted.
fn copies_of(file: &Path, dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let want = fs::read(file).unwrap();
    let mut all = Vec::new();
    walk(dir, &mut all);
    let mut same: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| fs::read(p).unwrap() == want)
        .collect();
    same.sort();
    same
}

#[test]
fn apt_updates_and_downloads_over_http() {
    if !have_tools(&["apt-get", "gpg", "gpgv", "python3"]) {
        return;
    }
    let s = Served::new();
    let apt = s.apt();
    let out = apt.update_clean_output();
    let host = s.host();
    // Everything came from the server: the signed InRelease and both arches' indexes.
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("Get:")).collect();
    for what in [
        format!(" {host} stable InRelease "),
        format!(" {host} stable/main i386 Packages "),
        format!(" {host} stable/main amd64 Packages "),
    ] {
        assert!(
            got.iter().any(|l| l.contains(&what)),
            "apt did not fetch{what}over HTTP:\n{out}"
        );
    }
    let policy = apt.query("apt-cache", &["policy"]);
    for arch in ["i386", "amd64"] {
        assert!(
            policy.contains(&format!("500 {host} stable/main {arch} Packages\n")),
            "apt-cache policy:\n{policy}"
        );
        assert!(
            policy.contains(&format!(
                "release o=Test,a=stable,n=stable,l=Test Label,c=main,b={arch}\n"
            )),
            "apt-cache policy:\n{policy}"
        );
    }
    let got = apt.download(&["hello:i386", "hello:amd64", "hello-data"]);
    assert_eq!(got.len(), 3, "{:?}", got.keys());
    for input in &s.debs {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = got
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not downloaded: {:?}", got.keys()));
        assert!(
            bytes == &fs::read(input).unwrap(),
            "{name}: the bytes apt downloaded over HTTP differ from the input"
        );
    }
}

#[test]
fn a_corrupted_index_served_over_http_is_a_hash_sum_mismatch() {
    if !have_tools(&["apt-get", "gpg", "gpgv", "python3"]) {
        return;
    }
    let s = Served::new();
    let dir = s.repo.join("dists/stable/main/binary-amd64");
    // Whatever name apt asks for (Packages.xz or a by-hash copy), it gets the
    // corrupted bytes.
    let copies = copies_of(&dir.join("Packages.xz"), &dir);
    assert_eq!(
        copies.len(),
        3,
        "Packages.xz and two by-hash copies: {copies:?}"
    );
    let original = fs::read(&copies[0]).unwrap();
    for p in &copies {
        flip_byte(p, -20);
    }
    let out = s.apt().update_fails("Hash Sum mismatch");
    let url = format!("{}dists/stable/main/binary-amd64/", s.server.base);
    assert!(
        out.lines()
            .any(|l| l.starts_with("E:") && l.contains(&url) && l.contains("Hash Sum mismatch")),
        "no E: line names a mismatch under {url}:\n{out}"
    );
    // The corruption was the only fault.
    for p in &copies {
        fs::write(p, &original).unwrap();
    }
    s.apt().update_clean_output();
}

/// `--xz-preset` (and `xz-preset` in the file) chooses the preset of every `Packages.xz`:
/// apt reads the result, a change recompresses once and the next build writes nothing,
/// and going back gives the bytes the first build wrote. A preset outside 0 to 9 is
/// refused, naming the flag or the file.
#[test]
fn the_xz_preset_is_a_setting_that_recompresses_once() {
    if !have_tools(&["apt-get", "xz"]) {
        return;
    }
    let t = tempdir();
    let debs = hello_set(&t.path().join("in"));
    let repo = t.path().join("repo");
    let xz_of = |arch: &str| {
        fs::read(repo.join(format!("dists/stable/main/binary-{arch}/Packages.xz"))).unwrap()
    };
    build(&repo, &debs).ok();
    let at6 = xz_of("amd64");

    let o = build(&repo, &debs).args(["--xz-preset", "1"]).ok();
    assert!(!text(&o.stderr).contains("nothing changed"), "{}", both(&o));
    let at1 = xz_of("amd64");
    assert_ne!(at1, at6, "preset 1 writes other bytes than preset 6");
    let plain = fs::read(repo.join("dists/stable/main/binary-amd64/Packages")).unwrap();
    assert_eq!(decompress_xz(&at1), plain);
    let test = Command::new("xz")
        .arg("-t")
        .arg(repo.join("dists/stable/main/binary-amd64/Packages.xz"))
        .status()
        .unwrap();
    assert!(test.success(), "xz -t rejects the preset-1 Packages.xz");
    Apt::new(&repo, "stable", None).update_clean();

    let before = snapshot_tree(&repo);
    wait_for_next_second();
    let o = build(&repo, &debs).args(["--xz-preset", "1"]).ok();
    assert!(text(&o.stderr).contains("nothing changed"), "{}", both(&o));
    assert_same_snapshot(&before, &snapshot_tree(&repo), "the same preset again");

    // From a configuration file, back to 6: the first build's bytes.
    let conf = t.path().join("elirepo.toml");
    fs::write(&conf, "xz-preset = 6\n").unwrap();
    build(&repo, &debs).arg("--config").arg(&conf).ok();
    assert_eq!(xz_of("amd64"), at6);

    let before = snapshot_tree(&repo);
    fs::write(&conf, "xz-preset = 12\n").unwrap();
    let o = build(&repo, &debs).arg("--config").arg(&conf).fails();
    let err = text(&o.stderr);
    assert!(
        err.contains("elirepo.toml") && err.contains("xz-preset = 12") && err.contains("0 to 9"),
        "{err}"
    );
    let o = build(&repo, &debs).args(["--xz-preset", "10"]).fails();
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(text(&o.stderr).contains("--xz-preset"), "{}", both(&o));
    assert_same_snapshot(&before, &snapshot_tree(&repo), "refused presets");
}
