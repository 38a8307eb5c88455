//! Issue 12, "what a first CI setup trips over": the command line as a new user
//! meets it from the README. Each test is named after the bug it pins (`r12_b1_`
//! is bug 1 of the issue; `r12_` alone, its list of small things).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{elirepo, fixtures_dir, have_tool, output_of, tempdir};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn both(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// `args` run in `dir` (relative paths are relative to it).
fn run_in(dir: &Path, args: &[&str]) -> Output {
    output_of(elirepo().current_dir(dir).args(args).env("NO_COLOR", "1"))
}

fn demo() -> PathBuf {
    fixtures_dir().join("demo")
}

fn demo_deb(name: &str) -> String {
    demo().join("debs").join(name).display().to_string()
}

const AMD64_DEB: &str = "xe-guest-utilities_5.6.0-578_amd64.deb";
const ALL_DEB: &str = "xs-tools-common_5.6.0-578_all.deb";

/// The demo's armored secret key (public and insecure: tests only).
fn demo_key() -> PathBuf {
    demo().join("demo-signing-key.asc")
}

/// A gpg home of its own with a fresh ed25519 key; its agent is stopped on drop.
struct Key {
    home: PathBuf,
    fpr: String,
}

impl Key {
    /// A new key in `<dir>/<name>`.
    fn new(dir: &Path, name: &str) -> Key {
        let key = Key::empty(dir, name);
        key.gpg_ok(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            &format!("{name} <{name}@example.org>"),
            "ed25519",
            "sign",
            "never",
        ]);
        key.with_fpr()
    }

    fn empty(dir: &Path, name: &str) -> Key {
        use std::os::unix::fs::PermissionsExt;
        let home = dir.join(name);
        fs::create_dir_all(&home).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
        Key {
            home,
            fpr: String::new(),
        }
    }

    fn with_fpr(mut self) -> Key {
        let listing = self.gpg_ok(&["--with-colons", "--list-secret-keys"]);
        self.fpr = text(&listing)
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("a fingerprint")
            .to_string();
        self
    }

    fn gpg_ok(&self, args: &[&str]) -> Vec<u8> {
        let o = output_of(
            Command::new("gpg")
                .arg("--homedir")
                .arg(&self.home)
                .args(["--batch", "--no-tty", "--quiet"])
                .args(args),
        );
        assert!(o.status.success(), "gpg {args:?}: {}", both(&o));
        o.stdout
    }

    /// The binary public key, written to `path`.
    fn public_keyring(&self, path: &Path) -> PathBuf {
        fs::write(path, self.gpg_ok(&["--export", &self.fpr])).unwrap();
        path.to_path_buf()
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// True when gpg and gpgv are there (else the test skips, unless CI requires them).
fn have_gpg() -> bool {
    have_tool("gpg") && have_tool("gpgv") && have_tool("gpgconf")
}

/// A repository of the two amd64 demo packages in `<dir>/repo`, signed with the demo
/// key and labelled `mysite`: its keyring is `mysite-archive-keyring.gpg`.
fn signed_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    let o = output_of(
        elirepo()
            .args(["build", "--suite", "lenny", "--arch", "amd64", "--label"])
            .arg("mysite")
            .arg("--repo")
            .arg(&repo)
            .args(["--deb", &demo_deb(AMD64_DEB), "--deb", &demo_deb(ALL_DEB)])
            .arg("--sign-key-file")
            .arg(demo_key()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(repo.join("mysite-archive-keyring.gpg").is_file());
    repo
}

/// The first stderr line, which must read `elirepo: error: ...`.
fn first_error(o: &Output) -> String {
    text(&o.stderr)
        .lines()
        .find(|l| l.starts_with("elirepo: error: "))
        .unwrap_or_else(|| panic!("no error line: {}", both(o)))
        .to_string()
}

fn hint(o: &Output) -> String {
    text(&o.stderr)
        .lines()
        .find(|l| l.starts_with("elirepo: hint: "))
        .unwrap_or_else(|| panic!("no hint line: {}", both(o)))
        .to_string()
}

// ---------------------------------------------------------------------------
// Bug 1: a keyring path is a path.

/// An HTTP port on 127.0.0.1 that accepts connections, counts them and closes them
/// at once: a command that fetches anything from it is seen.
fn counting_port() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/debian-custom", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, count)
}

/// The README's `verify --keyring mysite-archive-keyring.gpg`: a bare name is the file
/// in the working directory, never gpgv's `~/.gnupg/<name>`, even when a keyring of
/// that name holding another key sits there.
#[test]
fn r12_b1_verify_keyring_with_a_bare_name_is_the_file_in_the_working_directory() {
    if !have_gpg() {
        return;
    }
    let t = tempdir();
    let repo = signed_repo(t.path());
    let work = t.path().join("work");
    fs::create_dir(&work).unwrap();
    fs::copy(
        repo.join("mysite-archive-keyring.gpg"),
        work.join("mysite-archive-keyring.gpg"),
    )
    .unwrap();
    let home = t.path().join("home");
    fs::create_dir_all(home.join(".gnupg")).unwrap();
    let other = Key::new(t.path(), "other");
    other.public_keyring(&home.join(".gnupg/mysite-archive-keyring.gpg"));

    let o = output_of(
        elirepo()
            .current_dir(&work)
            .env("HOME", &home)
            .env_remove("GNUPGHOME")
            .arg("verify")
            .arg(&repo)
            .args(["--keyring", "mysite-archive-keyring.gpg"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        text(&o.stdout)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("OK ")),
        "{}",
        both(&o)
    );
}

/// A keyring that is missing or is no keyring is a usage error (exit 2) that names
/// the file where elirepo looked, before anything is fetched.
#[test]
fn r12_b1_a_missing_or_wrong_keyring_is_a_usage_error_before_any_fetch() {
    use std::sync::atomic::Ordering;
    let t = tempdir();
    let (url, fetches) = counting_port();
    fs::write(t.path().join("notes.txt"), b"not a keyring\n").unwrap();
    fs::write(t.path().join("empty.gpg"), b"").unwrap();
    fs::write(
        t.path().join("armored.asc"),
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n-----END PGP PUBLIC KEY BLOCK-----\n",
    )
    .unwrap();
    fs::create_dir(t.path().join("adir")).unwrap();
    for (name, what) in [
        ("missing.gpg", "does not exist"),
        ("notes.txt", "not an OpenPGP keyring"),
        ("empty.gpg", "not an OpenPGP keyring"),
        ("armored.asc", "armored"),
        ("adir", "not a file"),
    ] {
        let o = run_in(
            t.path(),
            &["verify", &url, "--suite", "lenny", "--keyring", name],
        );
        assert_eq!(o.status.code(), Some(2), "{name}: {}", both(&o));
        let abs = t.path().join(name);
        let err = first_error(&o);
        assert!(
            err.starts_with(&format!("elirepo: error: {}: ", abs.display())) && err.contains(what),
            "{name}: want {what:?} about {}: {}",
            abs.display(),
            both(&o)
        );
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            0,
            "{name}: fetched: {}",
            both(&o)
        );
    }
    // An armored key is refused with the way to make a keyring of it.
    let o = run_in(
        t.path(),
        &[
            "verify",
            &url,
            "--suite",
            "lenny",
            "--keyring",
            "armored.asc",
        ],
    );
    assert!(hint(&o).contains("gpg --dearmor"), "{}", both(&o));
}

/// The key files of `build` (flags and config file): made absolute, checked before
/// the build reads anything, each problem named with the option it came from.
#[test]
fn r12_b1_builds_key_files_are_checked_before_anything_is_read() {
    let t = tempdir();
    let dir = t.path();
    fs::write(dir.join("notes.txt"), b"hello\n").unwrap();
    fs::write(
        dir.join("public.asc"),
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ...\n-----END PGP PUBLIC KEY BLOCK-----\n",
    )
    .unwrap();
    let base = [
        "build", "--repo", "repo", "--suite", "lenny", "--arch", "amd64",
    ];
    let deb = demo_deb(AMD64_DEB);
    let key = demo_key().display().to_string();
    let cases: Vec<(Vec<&str>, PathBuf, &str)> = vec![
        (
            vec!["--sign-key-file", "missing.asc"],
            dir.join("missing.asc"),
            "does not exist",
        ),
        (
            vec!["--sign-key-file", "notes.txt"],
            dir.join("notes.txt"),
            "not an OpenPGP key",
        ),
        (
            vec!["--sign-key-file", "public.asc"],
            dir.join("public.asc"),
            "public key",
        ),
        (
            vec!["--sign-key-file", &key, "--passphrase-file", "pass.txt"],
            dir.join("pass.txt"),
            "does not exist",
        ),
        (
            vec!["--sign-key", "0xDEADBEEF", "--gpg-homedir", "gnupg-home"],
            dir.join("gnupg-home"),
            "directory does not exist",
        ),
    ];
    for (flags, path, what) in cases {
        let mut args = base.to_vec();
        args.extend(["--deb", &deb]);
        args.extend(&flags);
        let o = run_in(dir, &args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", both(&o));
        let err = first_error(&o);
        assert!(
            err.starts_with(&format!("elirepo: error: {}: ", path.display())) && err.contains(what),
            "{flags:?}: want {what:?} about {}: {}",
            path.display(),
            both(&o)
        );
        assert!(
            !text(&o.stderr).contains("reading "),
            "{flags:?}: read the inputs first: {}",
            both(&o)
        );
        assert!(!dir.join("repo/dists").exists(), "{flags:?} published");
    }
    // The config file's key-file: relative to the file, named with its key.
    fs::create_dir(dir.join("etc")).unwrap();
    fs::write(
        dir.join("etc/elirepo.toml"),
        "repo = \"../repo\"\nsuite = \"lenny\"\narchitectures = [\"amd64\"]\n[sign]\nkey-file = \"nokey.asc\"\n",
    )
    .unwrap();
    let o = run_in(
        dir,
        &["build", "--config", "etc/elirepo.toml", "--deb", &deb],
    );
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = first_error(&o);
    assert!(
        err.starts_with(&format!(
            "elirepo: error: {}: does not exist",
            dir.join("etc/nokey.asc").display()
        )) && err.contains("key-file"),
        "{}",
        both(&o)
    );
}

// ---------------------------------------------------------------------------
// Bug 2: a signing choice on the command line replaces the file's [sign] table.

impl Key {
    /// The key of an armored secret key file, imported into `<dir>/<name>`.
    fn import(dir: &Path, name: &str, file: &Path) -> Key {
        let key = Key::empty(dir, name);
        key.gpg_ok(&["--import", file.to_str().unwrap()]);
        key.with_fpr()
    }
}

/// gpgv's verdict on `<repo>/dists/<suite>/InRelease` with `keyring`.
fn inrelease_verifies(repo: &Path, suite: &str, keyring: &Path) -> Output {
    output_of(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(keyring)
            .arg(repo.join("dists").join(suite).join("InRelease")),
    )
}

#[test]
fn r12_b2_signing_flags_replace_the_config_files_sign_table() {
    if !have_gpg() {
        return;
    }
    let t = tempdir();
    let other = Key::new(t.path(), "other");
    let other_ring = other.public_keyring(&t.path().join("other.gpg"));
    let demo_home = Key::import(t.path(), "demo-home", &demo_key());
    let demo_ring = demo_home.public_keyring(&t.path().join("demo.gpg"));
    let config = |name: &str, sign: &str| {
        let p = t.path().join(name);
        fs::write(
            &p,
            format!(
                "repo = \"repo-{name}\"\nsuite = \"lenny\"\narchitectures = [\"amd64\"]\n\
                 debs = [\"{}\"]\n[sign]\n{sign}\n",
                demo_deb(AMD64_DEB)
            ),
        )
        .unwrap();
        p
    };
    // The file signs with a key file; the flags name a key in a gpg home.
    let a = config(
        "a.toml",
        &format!("key-file = \"{}\"", demo_key().display()),
    );
    let o = output_of(
        elirepo()
            .arg("build")
            .arg("--config")
            .arg(&a)
            .args(["--sign-key", &other.fpr, "--gpg-homedir"])
            .arg(&other.home),
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let v = inrelease_verifies(&t.path().join("repo-a.toml"), "lenny", &other_ring);
    assert!(
        v.status.success(),
        "not signed with --sign-key: {}",
        both(&v)
    );

    // The reverse: the file names a key in a gpg home; the flags give a key file.
    let b = config(
        "b.toml",
        &format!(
            "key = \"{}\"\ngpg-homedir = \"{}\"",
            other.fpr,
            other.home.display()
        ),
    );
    let o = output_of(
        elirepo()
            .arg("build")
            .arg("--config")
            .arg(&b)
            .arg("--sign-key-file")
            .arg(demo_key()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let v = inrelease_verifies(&t.path().join("repo-b.toml"), "lenny", &demo_ring);
    assert!(
        v.status.success(),
        "not signed with --sign-key-file: {}",
        both(&v)
    );

    // A passphrase file alone is a signing choice without a key: refused, not merged
    // with the file's key, and never an unsigned build.
    fs::write(t.path().join("pass"), b"secret\n").unwrap();
    let o = output_of(
        elirepo()
            .arg("build")
            .arg("--config")
            .arg(&a)
            .arg("--passphrase-file")
            .arg(t.path().join("pass")),
    );
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(
        first_error(&o).contains("--passphrase-file") && hint(&o).contains("[sign]"),
        "{}",
        both(&o)
    );
}

/// "secret key not found in /tmp/elirepo-gnupg-XXXX" named a directory that was
/// already gone: the error names the key file the user gave.
#[test]
fn r12_b2_a_key_missing_from_a_key_file_names_the_key_file() {
    if !have_gpg() {
        return;
    }
    let t = tempdir();
    let other = Key::new(t.path(), "other");
    let repo = t.path().join("repo");
    let o = output_of(
        elirepo()
            .args(["build", "--suite", "lenny", "--arch", "amd64"])
            .arg("--repo")
            .arg(&repo)
            .args(["--deb", &demo_deb(AMD64_DEB)])
            .arg("--sign-key-file")
            .arg(demo_key())
            .args(["--sign-key", &other.fpr]),
    );
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = text(&o.stderr);
    assert!(
        first_error(&o).contains(&demo_key().display().to_string())
            && !err.contains("elirepo-gnupg-"),
        "{}",
        both(&o)
    );
    assert!(!repo.join("dists").exists());
}

// ---------------------------------------------------------------------------
// Bug 7: xe-commands for what eliloader and FAI 6 can use.

/// `elirepo ARGS`, colour off.
fn run(args: &[&str]) -> Output {
    output_of(elirepo().args(args).env("NO_COLOR", "1"))
}

const TPL: &str = "5f1d3a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c";
const VM: &str = "9a2c8e7f-1b3d-4c5e-8f9a-0b1c2d3e4f5a";

fn xe(args: &[&str]) -> Output {
    let mut all = vec!["xe-commands"];
    all.extend(args);
    run(&all)
}

/// What `xe` receives when `commands` runs in `sh` with a stand-in `xe` on PATH:
/// one Vec of arguments per call, and sh's output.
fn run_xe_commands(commands: &[u8], env: &[(&str, &str)]) -> (Vec<Vec<String>>, Output) {
    let t = tempdir();
    let bin = t.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let log = t.path().join("xe.log");
    fs::write(
        bin.join("xe"),
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\nprintf '%s\\n' --- >> '{}'\n",
            log.display(),
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(bin.join("xe"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut sh = Command::new("sh");
    sh.env(
        "PATH",
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    )
    .env_remove("TEMPLATE_UUID")
    .env_remove("VM_UUID")
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        sh.env(k, v);
    }
    let mut child = sh.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), commands).unwrap();
    let o = child.wait_with_output().unwrap();
    let calls = fs::read_to_string(&log)
        .unwrap_or_default()
        .split("---\n")
        .filter(|c| !c.is_empty())
        .map(|c| c.lines().map(str::to_string).collect())
        .collect();
    (calls, o)
}

#[test]
fn r12_b7_xe_commands_refuses_what_eliloader_cannot_use() {
    let good = [
        ("--repo-url", "http://192.0.2.10/debian-custom"),
        ("--suite", "lenny"),
        ("--arch", "amd64"),
        ("--template", TPL),
        ("--nfsroot", "192.0.2.10:/srv/fai/nfsroot"),
        ("--vm", VM),
    ];
    let args = |replace: (&str, &str)| -> Vec<String> {
        good.iter()
            .flat_map(|&(k, v)| {
                let v = if k == replace.0 { replace.1 } else { v };
                [k.to_string(), v.to_string()]
            })
            .collect()
    };
    let o = xe(&args(("", ""))
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    for (bad, error, hint_says) in [
        (
            ("--repo-url", "https://repo.example.com/debian-custom"),
            "https",
            "http://",
        ),
        (
            ("--repo-url", "http://user:pw@repo.example.com/d"),
            "credentials",
            "http://",
        ),
        (("--arch", "x86_64"), "x86_64", "amd64"),
        (("--arch", "arm64"), "arm64", "i386"),
        (
            ("--template", "Debian Lenny 5.0 (32-bit)"),
            "UUID",
            "xe template-list",
        ),
        (("--vm", "myvm"), "UUID", "xe vm-list"),
        (
            ("--nfsroot", "/srv/fai/nfsroot"),
            "HOST:PATH",
            "192.0.2.10:/srv/fai/nfsroot",
        ),
    ] {
        let a = args(bad);
        let o = xe(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", both(&o));
        assert!(
            o.stdout.is_empty(),
            "{bad:?}: printed commands: {}",
            both(&o)
        );
        assert!(first_error(&o).contains(error), "{bad:?}: {}", both(&o));
        assert!(hint(&o).contains(hint_says), "{bad:?}: {}", both(&o));
    }
}

/// The help's `... | sh` without `--template`: the commands stop at an unset
/// `TEMPLATE_UUID` instead of running `xe template-param-set uuid= ...`.
#[test]
fn r12_b7_printed_commands_stop_when_template_uuid_is_unset() {
    if !have_tool("sh") {
        return;
    }
    let o = xe(&[
        "--repo-url",
        "http://192.0.2.10/debian-custom",
        "--suite",
        "lenny",
        "--arch",
        "amd64",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let (calls, sh) = run_xe_commands(&o.stdout, &[]);
    assert!(!sh.status.success(), "sh went on: {}", both(&sh));
    assert!(calls.is_empty(), "xe ran without a template: {calls:?}");
    assert!(text(&sh.stderr).contains("TEMPLATE_UUID"), "{}", both(&sh));

    let (calls, sh) = run_xe_commands(&o.stdout, &[("TEMPLATE_UUID", TPL)]);
    assert!(sh.status.success(), "{}", both(&sh));
    assert_eq!(calls.len(), 3, "{calls:?}");
    for c in &calls {
        assert_eq!(
            c[..2],
            ["template-param-set".to_string(), format!("uuid={TPL}")]
        );
    }
    assert_eq!(calls[2][2], "other-config:install-arch=amd64");
}

/// The `PV-args` xe receives: FAI 6's dracut syntax by default, live-boot's on demand,
/// and from the nfsroot on disk with `--nfsroot-dir`.
#[test]
fn r12_b7_pv_args_follow_the_nfsroots_boot_style() {
    if !have_tool("sh") {
        return;
    }
    let pv_args = |extra: &[&str]| -> Result<String, Output> {
        let mut args = vec![
            "--repo-url",
            "http://192.0.2.10/debian-custom",
            "--suite",
            "bookworm",
            "--arch",
            "amd64",
            "--template",
            TPL,
            "--nfsroot",
            "192.0.2.10:/srv/fai/nfsroot",
        ];
        args.extend(extra);
        let o = xe(&args);
        if o.status.code() != Some(0) {
            return Err(o);
        }
        let (calls, sh) = run_xe_commands(&o.stdout, &[]);
        assert!(sh.status.success(), "{}", both(&sh));
        let pv: Vec<&String> = calls
            .iter()
            .flatten()
            .filter(|a| a.starts_with("PV-args="))
            .collect();
        assert_eq!(pv.len(), 1, "{calls:?}");
        Ok(pv[0].trim_start_matches("PV-args=").to_string())
    };
    let dracut = "root=nfs:192.0.2.10:/srv/fai/nfsroot:vers=3 rootovl ip=dhcp \
                  FAI_FLAGS=verbose,sshd FAI_ACTION=install";
    let live = "root=/dev/nfs nfsroot=192.0.2.10:/srv/fai/nfsroot boot=live \
                FAI_FLAGS=verbose,sshd FAI_ACTION=install";
    assert_eq!(
        pv_args(&[]).unwrap(),
        format!("quiet console=hvc0 {dracut}")
    );
    assert_eq!(
        pv_args(&["--boot-style", "dracut"]).unwrap(),
        format!("quiet console=hvc0 {dracut}")
    );
    assert_eq!(
        pv_args(&["--boot-style", "live"]).unwrap(),
        format!("quiet console=hvc0 {live}")
    );
    assert_eq!(
        pv_args(&[
            "--fai-config-src",
            "nfs://192.0.2.10/srv/fai/config",
            "--fai-action",
            "sysinfo"
        ])
        .unwrap(),
        format!(
            "quiet console=hvc0 {} FAI_CONFIG_SRC=nfs://192.0.2.10/srv/fai/config",
            dracut.replace("FAI_ACTION=install", "FAI_ACTION=sysinfo")
        )
    );

    // --nfsroot-dir: what the nfsroot on disk boots with.
    let t = tempdir();
    let fai6 = t.path().join("fai6");
    fs::create_dir_all(fai6.join("usr/lib/dracut/modules.d")).unwrap();
    let fai3 = t.path().join("fai3");
    fs::create_dir_all(fai3.join("usr/share/initramfs-tools/scripts/live")).unwrap();
    let neither = t.path().join("neither");
    fs::create_dir_all(neither.join("boot")).unwrap();
    let dir = |p: &Path| p.display().to_string();
    assert_eq!(
        pv_args(&["--nfsroot-dir", &dir(&fai6)]).unwrap(),
        format!("quiet console=hvc0 {dracut}")
    );
    assert_eq!(
        pv_args(&["--nfsroot-dir", &dir(&fai3)]).unwrap(),
        format!("quiet console=hvc0 {live}")
    );
    let o = pv_args(&["--nfsroot-dir", &dir(&neither)]).unwrap_err();
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(
        first_error(&o).contains(&dir(&neither)) && hint(&o).contains("--boot-style"),
        "{}",
        both(&o)
    );
    let o = pv_args(&["--nfsroot-dir", &dir(&t.path().join("nowhere"))]).unwrap_err();
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));

    // The seed's re-arm commands stay.
    let o = xe(&[
        "--repo-url",
        "http://192.0.2.10/debian-custom",
        "--suite",
        "lenny",
        "--arch",
        "i386",
        "--template",
        TPL,
        "--vm",
        VM,
    ]);
    let (calls, _) = run_xe_commands(&o.stdout, &[]);
    let vm = format!("uuid={VM}");
    assert!(calls.contains(&vec![
        "vm-param-set".into(),
        vm.clone(),
        "PV-bootloader=eliloader".into()
    ]));
    assert!(calls.contains(&vec![
        "vm-param-set".into(),
        vm,
        "other-config:install-distro=debianlike".into()
    ]));
}

// ---------------------------------------------------------------------------
// Bug 10: the terminal's width, and Ctrl-C.

/// A command run on a terminal of `cols` columns (script(1), without COLUMNS),
/// whose output is read as it comes.
struct OnTty {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl OnTty {
    fn start(cols: u16, cmdline: &str) -> OnTty {
        use std::io::Read;
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c"])
            .arg(format!("stty cols {cols} rows 24; {cmdline}"))
            .arg("/dev/null")
            .env_remove("COLUMNS")
            .env_remove("NO_COLOR")
            .env("TERM", "xterm")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        OnTty {
            child,
            rx,
            seen: Vec::new(),
        }
    }

    /// Reads until `done(output so far)`; a safety net of two minutes, no timing.
    fn until(&mut self, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !done(&text(&self.seen)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!("never saw {what}; output:\n{:?}", text(&self.seen)),
            }
        }
    }

    /// The rest of the output and script's exit status (the command's).
    fn finish(mut self) -> (String, Option<i32>) {
        while let Ok(chunk) = self.rx.recv() {
            self.seen.extend(chunk);
        }
        let status = self.child.wait().unwrap();
        (text(&self.seen), status.code())
    }
}

/// A build on a terminal that shows a bar and then waits for ever: its initrd is a
/// FIFO nobody writes to. Returns the session, the pid of elirepo and the repository.
fn build_stuck_on_a_bar(dir: &Path, cols: u16) -> (OnTty, String, PathBuf) {
    let fifo = dir.join("initrd.img");
    let o = output_of(Command::new("mkfifo").arg(&fifo));
    assert!(o.status.success(), "{}", both(&o));
    let repo = dir.join("repo");
    let kernel = demo().join("nfsroot-amd64/boot/vmlinuz-2.6.32-4-amd64");
    let cmdline = format!(
        "sh -c 'echo pid=$$; exec \"$0\" \"$@\"' {} build --repo {} --suite lenny --arch amd64 \
         --unsigned --deb {} --kernel {} --initrd {}",
        common::bin_under_test().to_string_lossy(),
        repo.display(),
        demo_deb(AMD64_DEB),
        kernel.display(),
        fifo.display()
    );
    let mut tty = OnTty::start(cols, &cmdline);
    tty.until("the pid", |s| {
        s.contains("pid=") && s[s.find("pid=").unwrap()..].contains('\n')
    });
    let s = text(&tty.seen);
    let pid = s[s.find("pid=").unwrap() + 4..]
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    // A bar has been drawn: a carriage return, then the task.
    tty.until("a progress bar", |s| !bars(s).is_empty());
    (tty, pid, repo)
}

fn interrupt(pid: &str) {
    let o = output_of(Command::new("kill").args(["-INT", pid]));
    assert!(o.status.success(), "kill -INT {pid}: {}", both(&o));
}

/// The bars drawn in `out`: what follows a carriage return and holds a percentage.
fn bars(out: &str) -> Vec<&str> {
    out.split('\r')
        .skip(1)
        .map(|l| l.split('\n').next().unwrap_or_default().trim_end())
        .filter(|l| l.contains("% "))
        .collect()
}

/// A shell does not export COLUMNS: the bar asks the terminal how wide it is.
#[test]
fn r12_b10_the_progress_bar_fits_the_terminal_without_columns() {
    if !have_tool("script") || !have_tool("stty") || !have_tool("mkfifo") || !have_tool("kill") {
        return;
    }
    let t = tempdir();
    let (tty, pid, _) = build_stuck_on_a_bar(t.path(), 40);
    interrupt(&pid);
    let (out, _) = tty.finish();
    let drawn = bars(&out);
    assert!(!drawn.is_empty(), "{out:?}");
    for bar in drawn {
        assert!(
            bar.chars().count() <= 39,
            "a bar of {} columns on a 40-column terminal: {bar:?}",
            bar.chars().count()
        );
    }
}

/// Ctrl-C ends the bar's line, says what is true of the repository and exits 130.
#[test]
fn r12_b10_ctrl_c_on_a_terminal_ends_the_bars_line_and_exits_130() {
    if !have_tool("script") || !have_tool("stty") || !have_tool("mkfifo") || !have_tool("kill") {
        return;
    }
    let t = tempdir();
    let (tty, pid, repo) = build_stuck_on_a_bar(t.path(), 80);
    interrupt(&pid);
    let (out, code) = tty.finish();
    let at = out
        .find("elirepo: interrupted")
        .unwrap_or_else(|| panic!("no interrupted line: {out:?}"));
    assert!(
        out[..at].ends_with('\n'),
        "the message does not start a line of its own: {out:?}"
    );
    assert!(
        out[at..].starts_with("elirepo: interrupted; the repository is unchanged"),
        "{out:?}"
    );
    assert_eq!(code, Some(130), "{out:?}");
    assert!(!repo.join("dists").exists(), "{out:?}");
}

/// Off a terminal: a build interrupted while it waits for another build's lock says
/// the repository is unchanged, exits 130, and is right.
#[test]
fn r12_b10_ctrl_c_while_waiting_for_the_lock_leaves_the_repository_unchanged() {
    use std::io::{BufRead, Read};
    if !have_tool("flock") || !have_tool("kill") {
        return;
    }
    let t = tempdir();
    let repo = t.path().join("repo");
    let build = |debs: &[&str]| {
        let mut c = elirepo();
        c.args(["build", "--suite", "lenny", "--arch", "amd64", "--unsigned"])
            .arg("--repo")
            .arg(&repo)
            .env("NO_COLOR", "1");
        for d in debs {
            c.args(["--deb", &demo_deb(d)]);
        }
        c
    };
    let o = output_of(&mut build(&[AMD64_DEB]));
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let before = common::snapshot_tree(&repo);

    // Another build holds the lock.
    let mut holder = Command::new("flock")
        .arg(repo.join(".elirepo/lock"))
        .args(["-c", "echo locked; exec cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n");

    let mut child = build(&[AMD64_DEB, ALL_DEB])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("waiting for another elirepo build") {
        let mut l = String::new();
        if err.read_line(&mut l).unwrap() == 0 {
            panic!("the build ended without waiting: {seen}");
        }
        seen.push_str(&l);
    }
    interrupt(&child.id().to_string());
    err.read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    drop(holder.stdin.take());
    let _ = holder.wait();

    assert_eq!(status.code(), Some(130), "{status:?}: {seen}");
    assert!(
        seen.lines()
            .last()
            .is_some_and(|l| l == "elirepo: interrupted; the repository is unchanged"),
        "{seen}"
    );
    assert_eq!(common::snapshot_tree(&repo), before, "{seen}");
}

// ---------------------------------------------------------------------------
// Bug 11: --json says how a run failed.

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", both(o)))
}

#[test]
fn r12_b11_json_on_a_failed_run_is_an_object_with_ok_false_and_the_error() {
    let t = tempdir();
    let repo = t.path().join("repo");
    let missing = t.path().join("missing.deb");
    // A build error, with a hint.
    let o = run(&[
        "build",
        "--json",
        "--repo",
        repo.to_str().unwrap(),
        "--suite",
        "lenny",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let j = json(&o);
    assert_eq!(j["schema_version"], 1, "{j:#}");
    assert_eq!(j["ok"], false, "{j:#}");
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&missing.display().to_string())),
        "{j:#}"
    );
    assert!(j["error"]["hint"].is_string(), "{j:#}");
    // A settings error.
    let o = run(&[
        "build",
        "--json",
        "--repo",
        "r",
        "--arch",
        "amd64",
        "--unsigned",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let j = json(&o);
    assert_eq!(j["ok"], false, "{j:#}");
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no suite")),
        "{j:#}"
    );
    // Success gains `ok: true`.
    let o = run(&[
        "build",
        "--json",
        "--repo",
        repo.to_str().unwrap(),
        "--suite",
        "lenny",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        &demo_deb(AMD64_DEB),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert_eq!(json(&o)["ok"], true);
    // verify and kernel, when they cannot check.
    let nowhere = t.path().join("nowhere");
    let o = run(&["verify", "--json", nowhere.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let j = json(&o);
    assert_eq!(
        (j["schema_version"].clone(), j["ok"].clone()),
        (1.into(), false.into())
    );
    assert!(j["error"]["message"].is_string(), "{j:#}");
    let notk = t.path().join("notakernel");
    fs::write(&notk, b"hello").unwrap();
    let o = run(&["kernel", "--json", notk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let j = json(&o);
    assert_eq!(j["ok"], false, "{j:#}");
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a kernel image")),
        "{j:#}"
    );
    assert!(j["error"]["hint"].is_string(), "{j:#}");
}

// ---------------------------------------------------------------------------
// The issue's list of small things.

#[test]
fn r12_config_example_prints_the_shipped_example_and_the_hints_point_to_it() {
    let o = run(&["config", "example"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert_eq!(
        o.stdout,
        fs::read(fixtures_dir().join("elirepo.example.toml")).unwrap()
    );
    let t = tempdir();
    let o = run_in(t.path(), &["build", "--config", "elirepo.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(hint(&o).contains("elirepo config example"), "{}", both(&o));
    let help = text(&run(&["build", "--help"]).stdout);
    assert!(help.contains("elirepo config example"), "{help}");
    assert!(!help.contains("/usr/share/doc/elirepo/examples"), "{help}");
}

#[test]
fn r12_a_config_typo_keeps_tomls_lines_and_asks_did_you_mean() {
    let t = tempdir();
    for (toml, unknown, meant) in [
        (
            "repo = \"r\"\nsuite = \"s\"\narchitecture = [\"amd64\"]\n",
            "architecture",
            "architectures",
        ),
        (
            "repo = \"r\"\nsuite = \"s\"\narchitectures = [\"amd64\"]\nvalid_for = 3\n",
            "valid_for",
            "valid-for",
        ),
        (
            "repo = \"r\"\nsuite = \"s\"\narchitectures = [\"amd64\"]\n[sign]\nkeyfile = \"k.asc\"\n",
            "keyfile",
            "key-file",
        ),
    ] {
        fs::write(t.path().join("elirepo.toml"), toml).unwrap();
        let o = run_in(t.path(), &["build", "--config", "elirepo.toml"]);
        assert_eq!(o.status.code(), Some(2), "{}", both(&o));
        let err = text(&o.stderr);
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("elirepo: error: "))
            .collect();
        assert!(errors.len() >= 3, "toml's lines squashed: {}", both(&o));
        assert!(
            errors
                .iter()
                .any(|l| l.contains(&format!("unknown field `{unknown}`"))),
            "{}",
            both(&o)
        );
        assert!(
            hint(&o).contains(&format!("did you mean `{meant}`?")),
            "{}",
            both(&o)
        );
    }
}

#[test]
fn r12_architecture_names_from_uname_get_debians_name() {
    for (arch, debian) in [("x86_64", "amd64"), ("i686", "i386"), ("aarch64", "arm64")] {
        let o = run(&[
            "build",
            "--repo",
            "r",
            "--suite",
            "s",
            "--arch",
            arch,
            "--unsigned",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", both(&o));
        assert!(first_error(&o).contains(arch), "{}", both(&o));
        assert!(
            hint(&o).contains(&format!("--arch {debian}")),
            "{arch}: {}",
            both(&o)
        );
    }
}

#[test]
fn r12_help_command_and_bare_elirepo() {
    let o = run(&["help"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(text(&o.stdout).contains("Commands:"), "{}", both(&o));
    let o = run(&["help", "build"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(text(&o.stdout).contains("--sign-key-file"), "{}", both(&o));
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = text(&o.stderr);
    assert!(err.contains("Usage: elirepo"), "{}", both(&o));
    assert!(!err.contains("error: Publish"), "{}", both(&o));
    assert!(o.stdout.is_empty(), "{}", both(&o));
}

#[test]
fn r12_one_package_is_singular() {
    let t = tempdir();
    let o = run(&[
        "build",
        "--repo",
        t.path().join("repo").to_str().unwrap(),
        "--suite",
        "s",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        &demo_deb(AMD64_DEB),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        text(&o.stderr).contains(": 1 package (1 added, 0 removed), "),
        "{}",
        both(&o)
    );
}

/// `elirepo build --arch <TAB>` in bash offers architecture names, not files.
#[test]
fn r12_arch_completes_architecture_names() {
    if !have_tool("bash") {
        return;
    }
    let t = tempdir();
    let script = t.path().join("elirepo.bash");
    fs::write(&script, run(&["completions", "bash"]).stdout).unwrap();
    fs::write(t.path().join("zz-a-file"), b"").unwrap();
    for words in [
        "elirepo build --arch ''",
        "elirepo verify /srv/repo --arch ''",
    ] {
        let o = output_of(
            Command::new("bash")
                .current_dir(t.path())
                .arg("-c")
                .arg(format!(
                    "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _elirepo elirepo '' --arch; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                    script.display()
                )),
        );
        assert!(o.status.success(), "{}", both(&o));
        let offered: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
        for arch in ["amd64", "i386", "arm64"] {
            assert!(offered.iter().any(|w| w == arch), "{words}: {offered:?}");
        }
        assert!(
            !offered.iter().any(|w| w.contains("zz-a-file")),
            "{words}: {offered:?}"
        );
    }
    // Any name is still accepted: the list helps, it does not restrict.
    let o = run(&[
        "build", "--repo", "r", "--suite", "s", "--arch", "sparc64", "--help",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
}

/// The FAI hook's progress line is a message for people: stderr, like elirepo's.
#[test]
fn r12_the_fai_hooks_progress_line_goes_to_stderr() {
    if !have_tool("sh") {
        return;
    }
    let t = tempdir();
    let root = demo().join("nfsroot-amd64");
    let cfg = t.path().join("elirepo.toml");
    fs::write(
        &cfg,
        format!(
            "repo = \"{}\"\nsuite = \"bookworm\"\narchitectures = [\"amd64\"]\ndebs = [\"{}\"]\n",
            t.path().join("repo").display(),
            demo_deb(AMD64_DEB)
        ),
    )
    .unwrap();
    let hook = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fai-nfsroot-hook");
    let o = output_of(
        Command::new("sh")
            .arg(&hook)
            .env("NFSROOT", &root)
            .env("ELIREPO_CONFIG", &cfg)
            .env("ELIREPO", common::bin_under_test()),
    );
    assert!(o.status.success(), "{}", both(&o));
    assert!(o.stdout.is_empty(), "{}", both(&o));
    assert!(
        text(&o.stderr).starts_with("elirepo: republishing the kernel and initrd of "),
        "{}",
        both(&o)
    );
}

// ---------------------------------------------------------------------------
// Bug 3: an empty input, or one that drops most of the suite, publishes nothing.

const I386_DEB: &str = "xe-guest-utilities_5.6.0-578_i386.deb";
const KERNEL_DEB: &str = "linux-image-2.6-xen_2.6.32+0.xs226_i386.deb";

/// `elirepo build` into `repo` (suite s, i386 and amd64, unsigned) with `extra`.
fn build_s(repo: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "build",
        "--repo",
        repo.to_str().unwrap(),
        "--suite",
        "s",
        "--arch",
        "i386",
        "--arch",
        "amd64",
        "--unsigned",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn r12_b3_empty_inputs_and_mass_removals_publish_nothing_unless_allowed() {
    let t = tempdir();
    let repo = t.path().join("repo");
    let empty = t.path().join("emptydir");
    fs::create_dir(&empty).unwrap();
    let (amd, i386, all, kernel) = (
        demo_deb(AMD64_DEB),
        demo_deb(I386_DEB),
        demo_deb(ALL_DEB),
        demo_deb(KERNEL_DEB),
    );
    let four = [
        "--deb", &amd, "--deb", &i386, "--deb", &all, "--deb", &kernel,
    ];
    let o = build_s(&repo, &four);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let published = common::snapshot_tree(&repo);

    // An empty directory: nothing to publish, exit 2, the repository as it was.
    let o = build_s(&repo, &["--deb", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = first_error(&o);
    assert!(
        err.contains("emptydir") && err.contains("no package"),
        "{}",
        both(&o)
    );
    assert!(hint(&o).contains("--allow-empty"), "{}", both(&o));
    assert_eq!(common::snapshot_tree(&repo), published, "{}", both(&o));

    // One package of four: three removed at once is refused, naming them.
    let o = build_s(&repo, &["--deb", &amd]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = text(&o.stderr);
    assert!(err.contains("reading 1 .deb file\n"), "{}", both(&o));
    assert!(
        first_error(&o).contains("would remove 3 of the 4 packages"),
        "{}",
        both(&o)
    );
    for gone in [
        "xe-guest-utilities 5.6.0-578 i386",
        "xs-tools-common 5.6.0-578 all",
        "linux-image-2.6-xen 2.6.32+0.xs226 i386",
    ] {
        assert!(err.contains(gone), "{gone}: {}", both(&o));
    }
    assert!(hint(&o).contains("--allow-removals"), "{}", both(&o));
    assert_eq!(common::snapshot_tree(&repo), published, "{}", both(&o));

    // Half of them is not "more than half": published, and the removed named
    // on stderr without -v, and in --json.
    let o = build_s(&repo, &["--json", "--deb", &amd, "--deb", &all]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let err = text(&o.stderr);
    for gone in [
        "xe-guest-utilities 5.6.0-578 i386",
        "linux-image-2.6-xen 2.6.32+0.xs226 i386",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains("removed") && l.contains(gone)),
            "{gone}: {}",
            both(&o)
        );
    }
    let j = json(&o);
    assert_eq!(
        j["removed"],
        serde_json::json!([
            "linux-image-2.6-xen 2.6.32+0.xs226 i386",
            "xe-guest-utilities 5.6.0-578 i386"
        ]),
        "{}",
        both(&o)
    );
    assert_eq!(j["schema_version"], 1, "{}", both(&o));

    // The config keys allow both; -q keeps stderr quiet.
    let config = t.path().join("elirepo.toml");
    fs::write(
        &config,
        "debs = [\"emptydir\"]\nallow-empty = true\nallow-removals = true\n",
    )
    .unwrap();
    let o = build_s(
        &repo,
        &["-q", "--json", "--config", config.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(o.stderr.is_empty(), "{}", both(&o));
    let j = json(&o);
    assert_eq!(j["packages"], serde_json::json!([]), "{}", both(&o));
    assert_eq!(
        j["removed"],
        serde_json::json!([
            "xe-guest-utilities 5.6.0-578 amd64",
            "xs-tools-common 5.6.0-578 all"
        ]),
        "{}",
        both(&o)
    );

    // And the flags, on a repository of its own.
    let other = t.path().join("other");
    let o = build_s(&other, &["--deb", &amd, "--deb", &all]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let o = build_s(
        &other,
        &[
            "--allow-empty",
            "--allow-removals",
            "--deb",
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        text(&o.stderr).contains(": 0 packages (0 added, 2 removed)"),
        "{}",
        both(&o)
    );
}

// ---------------------------------------------------------------------------
// Bug 8: a program is not a kernel, and --force does not make it one.

#[test]
fn r12_b8_a_program_is_not_a_kernel_and_force_does_not_publish_it() {
    let ls = Path::new("/bin/ls");
    assert!(ls.is_file(), "the test needs /bin/ls");
    let o = run(&["kernel", "/bin/ls"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = first_error(&o);
    assert!(
        err.contains("/bin/ls") && err.contains("not a Linux kernel"),
        "{}",
        both(&o)
    );
    assert!(!text(&o.stdout).contains("arch: amd64"), "{}", both(&o));

    // build --force: --force overrides the PV verdict of a kernel, not this.
    let t = tempdir();
    let repo = t.path().join("repo");
    let initrd = t.path().join("initrd.gz");
    fs::write(&initrd, common::synth::initrd_gz("6.1.0-1-amd64")).unwrap();
    let o = run(&[
        "build",
        "--repo",
        repo.to_str().unwrap(),
        "--suite",
        "s",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        &demo_deb(AMD64_DEB),
        "--kernel",
        "/bin/ls",
        "--initrd",
        initrd.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(
        first_error(&o).contains("not a Linux kernel"),
        "{}",
        both(&o)
    );
    assert!(!repo.join("dists").exists(), "{}", both(&o));

    // A real kernel without Xen support, forced: published, and the status
    // line is a sentence.
    let kernel = t.path().join("vmlinuz");
    fs::write(&kernel, common::synth::no_xen_kernel("6.1.0-1-amd64")).unwrap();
    let o = run(&[
        "build",
        "--repo",
        repo.to_str().unwrap(),
        "--suite",
        "s",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        &demo_deb(AMD64_DEB),
        "--kernel",
        kernel.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let err = text(&o.stderr);
    assert!(!err.contains(" is no Xen support"), "{}", both(&o));
    assert!(
        err.contains("kernel 6.1.0-1-amd64 from ")
            && err.contains(": built without Xen support; published anyway because of --force"),
        "{}",
        both(&o)
    );
}

// ---------------------------------------------------------------------------
// Bug 9: a protected key says which of its two problems it has.

#[test]
fn r12_b9_a_protected_key_says_whether_the_passphrase_is_missing_or_wrong() {
    if !have_gpg() {
        common::skip("gpg, gpgv or gpgconf not found");
        return;
    }
    let t = tempdir();
    let key = Key::empty(t.path(), "locked");
    key.gpg_ok(&[
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "correct horse",
        "--quick-gen-key",
        "locked <locked@example.org>",
        "ed25519",
        "sign",
        "never",
    ]);
    let key = key.with_fpr();
    let asc = t.path().join("locked.asc");
    fs::write(
        &asc,
        key.gpg_ok(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "correct horse",
            "--armor",
            "--export-secret-keys",
            &key.fpr,
        ]),
    )
    .unwrap();
    let wrong = t.path().join("wrong-passphrase");
    fs::write(&wrong, "battery staple\n").unwrap();
    let right = t.path().join("passphrase");
    fs::write(&right, "correct horse\n").unwrap();
    let home = key.home.display().to_string();
    let (asc, wrong, right) = (
        asc.display().to_string(),
        wrong.display().to_string(),
        right.display().to_string(),
    );
    let repo = t.path().join("repo");
    let build = |signing: &[&str]| {
        let mut args = vec![
            "build",
            "--repo",
            repo.to_str().unwrap(),
            "--suite",
            "s",
            "--arch",
            "amd64",
        ];
        args.extend_from_slice(signing);
        let amd = demo_deb(AMD64_DEB);
        args.extend_from_slice(&["--deb", &amd]);
        run(&args)
    };
    for signing in [
        &["--sign-key-file", &asc][..],
        &["--sign-key", &key.fpr, "--gpg-homedir", &home][..],
    ] {
        let o = build(signing);
        assert_eq!(o.status.code(), Some(2), "{}", both(&o));
        let err = first_error(&o);
        assert!(
            err.contains("is protected by a passphrase: give --passphrase-file FILE"),
            "{signing:?}: {}",
            both(&o)
        );
        assert!(!text(&o.stderr).contains("batchmode"), "{}", both(&o));
        assert!(!repo.join("dists").exists(), "{}", both(&o));

        let mut with_wrong = signing.to_vec();
        with_wrong.extend_from_slice(&["--passphrase-file", &wrong]);
        let o = build(&with_wrong);
        assert_eq!(o.status.code(), Some(2), "{}", both(&o));
        let err = first_error(&o);
        assert!(
            err.contains(&format!(
                "the passphrase in {wrong} does not unlock the key"
            )),
            "{signing:?}: {}",
            both(&o)
        );
        assert!(
            !text(&o.stderr).contains("give --passphrase-file"),
            "{}",
            both(&o)
        );
        assert!(!repo.join("dists").exists(), "{}", both(&o));
    }
    let o = build(&["--sign-key-file", &asc, "--passphrase-file", &right]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
}

// ---------------------------------------------------------------------------
// Bug 4: verify over http names eliloader's URLs once.

#[test]
fn r12_b4_verify_over_http_names_eliloaders_urls_with_the_base_once() {
    if !have_tool("python3") {
        common::skip("python3 not found");
        return;
    }
    let t = tempdir();
    let repo = t.path().join("repo");
    let (kernel, initrd) = (t.path().join("vmlinuz"), t.path().join("initrd.gz"));
    fs::write(&kernel, common::synth::pv_amd64_kernel("6.1.0-1-amd64")).unwrap();
    fs::write(&initrd, common::synth::initrd_gz("6.1.0-1-amd64")).unwrap();
    let o = run(&[
        "build",
        "--repo",
        repo.to_str().unwrap(),
        "--suite",
        "s",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        &demo_deb(AMD64_DEB),
        "--kernel",
        kernel.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let server = common::Server::http(&repo);
    let base = server.base.clone();
    let tree = "dists/s/main/installer-amd64/current/images/netboot/xen/";
    let want = [
        format!("{base}{tree}vmlinuz"),
        format!("{base}{tree}initrd.gz"),
    ];

    let o = run(&["verify", "--json", &base, "--suite", "s"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert_eq!(
        json(&o)["eliloader_urls"],
        serde_json::json!(want),
        "{}",
        both(&o)
    );
    let o = run(&["-v", "verify", &base, "--suite", "s"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let all = both(&o);
    assert!(all.contains(&want[0]), "{all}");
    assert_eq!(
        all.matches("http://").count(),
        all.matches(&base).count(),
        "{all}"
    );
    assert!(!all.contains(&format!("{base}http")), "{all}");

    // A missing kernel: the FAIL line names the URL eliloader fetches.
    let published = repo.join(tree).join("vmlinuz");
    let real = fs::canonicalize(&published).unwrap();
    fs::remove_file(&real).unwrap();
    let o = run(&["verify", &base, "--suite", "s"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let all = both(&o);
    assert!(all.contains(&format!("FAIL {}", want[0])), "{all}");
    assert!(!all.contains(&format!("{base}http")), "{all}");
}

// ---------------------------------------------------------------------------
// Bug 5: verify tells "could not check" (exit 2) from "checked, found problems"
// (exit 1), and a broken or hostile server costs bounded memory and time.

/// A server on 127.0.0.1 that reads each request and answers it with `answer`
/// (which counts the body bytes it sends); its base URL (`/debian-custom/`) and
/// that count.
fn raw_server(
    answer: fn(&mut std::net::TcpStream, &std::sync::atomic::AtomicU64) -> std::io::Result<()>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::Read;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/debian-custom/", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let total = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let total = total.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = answer(&mut stream, &total);
            });
        }
    });
    (base, sent)
}

/// Answers `status` with an empty body.
fn answer_status(stream: &mut std::net::TcpStream, status: &str) -> std::io::Result<()> {
    use std::io::Write;
    stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
}

/// A port on 127.0.0.1 where nothing listens.
fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `verify URL --suite lenny` (plus `extra`), with and without `--json`: exit 2 both
/// times, the error names the suite's Release URL and `why`, the hint names the URL,
/// `server` and `--suite lenny`; the JSON says the same with `ok: false`.
fn assert_could_not_check(base: &str, server: &str, why: &str, extra: &[&str]) {
    let mut args = vec!["verify", base, "--suite", "lenny"];
    args.extend(extra);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{base}: {}", both(&o));
    common::assert_failed_cleanly(&o, base);
    let release = format!("{base}dists/lenny/Release");
    let err = first_error(&o);
    assert!(
        err.starts_with(&format!(
            "elirepo: error: {release}: could not check suite lenny: "
        )) && err.contains(why),
        "{base}: want {why:?}: {}",
        both(&o)
    );
    let h = hint(&o);
    for needle in [base, server, "--suite lenny"] {
        assert!(
            h.contains(needle),
            "{base}: the hint lacks {needle:?}: {}",
            both(&o)
        );
    }
    assert!(
        text(&o.stdout)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("NOT CHECKED ")),
        "{}",
        both(&o)
    );
    args.push("--json");
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{base}: {}", both(&o));
    let j = json(&o);
    assert_eq!(j["ok"], false, "{j:#}");
    assert_eq!(
        j["could_not_check"][0]["location"],
        release.as_str(),
        "{j:#}"
    );
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(why)),
        "{j:#}"
    );
    assert!(
        j["error"]["hint"]
            .as_str()
            .is_some_and(|m| m.contains(server)),
        "{j:#}"
    );
}

#[test]
fn r12_b5_verify_exits_2_when_the_server_cannot_be_asked() {
    // Nothing listens.
    let port = refused_port();
    let server = format!("127.0.0.1:{port}");
    for scheme in ["http", "ftp"] {
        let base = format!("{scheme}://{server}/debian-custom/");
        assert_could_not_check(&base, &server, "cannot connect to", &[]);
    }
    // A name that does not resolve.
    for scheme in ["http", "ftp"] {
        let base = format!("{scheme}://nonexistent.invalid/debian-custom/");
        assert_could_not_check(&base, "nonexistent.invalid", "does not resolve", &[]);
    }
    // A server without the suite, or refusing it.
    let (base, _) = raw_server(|s, _| answer_status(s, "404 Not Found"));
    let server = server_of(&base);
    assert_could_not_check(&base, &server, "HTTP 404", &[]);
    let (base, _) = raw_server(|s, _| answer_status(s, "403 Forbidden"));
    let server = server_of(&base);
    assert_could_not_check(&base, &server, "HTTP 403", &[]);
}

/// A directory without any suite is not a repository: nothing could be checked.
#[test]
fn r12_b5_a_directory_without_suites_could_not_be_checked() {
    let t = tempdir();
    let o = run(&["verify", t.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert_eq!(
        first_error(&o),
        format!(
            "elirepo: error: {}: no suite found (no dists/*/Release)",
            t.path().display()
        )
    );
    assert!(hint(&o).contains("the one holding dists/"), "{}", both(&o));
}

/// `host:port` of a base URL.
fn server_of(base: &str) -> String {
    base.split("://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

/// A server that accepts and stays silent for 20 s (then answers 404, which http
/// and ftp clients alike take for a failure other than silence): `--timeout 1` ends
/// the wait first, and says so (http, and ftp, whose greeting does not come). Were
/// `--timeout` not applied (30 s by default), the 404 would come first.
#[test]
fn r12_b5_a_silent_server_is_given_up_after_timeout() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_secs(20));
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            });
        }
    });
    for scheme in ["http", "ftp"] {
        let base = format!("{scheme}://{server}/debian-custom/");
        assert_could_not_check(&base, &server, "sent nothing for 1 s", &["--timeout", "1"]);
    }
}

/// A server that goes away after the suite's Release (and two 404s for its
/// signatures): the first fetch that finds it gone leaves the check incomplete
/// (exit 2), and nothing more is asked of it (the rest is counted, not fetched).
#[test]
fn r12_b5_a_server_gone_mid_check_is_asked_nothing_more() {
    use std::io::{Read, Write};
    let t = tempdir();
    let repo = t.path().join("repo");
    let o = run(&[
        "build",
        "--repo",
        repo.to_str().unwrap(),
        "--suite",
        "lenny",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        &demo_deb(AMD64_DEB),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let release = fs::read(repo.join("dists/lenny/Release")).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().to_string();
    let served = std::thread::spawn(move || {
        let mut asked = Vec::new();
        for stream in listener.incoming().take(3) {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap();
            let line = String::from_utf8_lossy(&request[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let body: &[u8] = if line.contains("/Release ") {
                &release
            } else {
                b""
            };
            let status = if body.is_empty() {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(body).unwrap();
            asked.push(line);
        }
        // Gone: the listener closes, every later connection is refused.
        asked
    });
    let base = format!("http://{server}/debian-custom/");
    let o = run(&["verify", "--json", &base, "--suite", "lenny"]);
    let asked = served.join().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let j = json(&o);
    assert_eq!(j["ok"], false, "{j:#}");
    assert_eq!(j["problems"], serde_json::json!([]), "{j:#}");
    let unchecked = j["could_not_check"].as_array().unwrap();
    assert_eq!(unchecked.len(), 1, "said once: {j:#}");
    assert!(
        unchecked[0]["what"]
            .as_str()
            .is_some_and(|w| w.contains("cannot connect to")),
        "{j:#}"
    );
    // The Release lists more files than the one that found the server gone.
    assert!(j["not_fetched"].as_u64().is_some_and(|n| n > 0), "{j:#}");
    assert_eq!(asked.len(), 3, "{asked:?}");
}

/// A Release that never ends is read up to the limit verify names, in bounded
/// memory (the run is held to 256 MiB of address space), and reported as a problem
/// of the repository (exit 1).
#[test]
fn r12_b5_an_endless_release_stops_at_the_limit() {
    use std::sync::atomic::Ordering;
    let (base, sent) = raw_server(|s, sent| {
        use std::io::Write;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")?;
        let chunk = b"Origin: endless\n".repeat(4096);
        // Until the client stops reading and closes.
        loop {
            s.write_all(&chunk)?;
            sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    });
    let o = output_of(
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 262144 && exec \"$0\" verify \"$1\" --suite lenny")
            .arg(common::bin_under_test())
            .arg(&base)
            .env("NO_COLOR", "1"),
    );
    common::assert_failed_cleanly(&o, "an endless Release");
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("FAIL {base}dists/lenny/Release: "))
            && out.contains("larger than 16 MiB"),
        "{}",
        both(&o)
    );
    // It stopped reading there: what the server got out is the limit plus what the
    // sockets' buffers held (the count only grows while the client reads), far from
    // the 1 GiB read before.
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent < 64 << 20, "the server sent {sent} bytes");
}

// ---------------------------------------------------------------------------
// Bug 6: verify without --keyring on a signed repository says the signatures
// were not checked, and how to check them.

/// The warning that the signatures were not checked, from verify's JSON; its text
/// must name `keyring`.
fn unchecked_signatures_warning(o: &Output) -> String {
    let j = json(o);
    let warnings = j["warnings"].as_array().cloned().unwrap_or_default();
    warnings
        .iter()
        .filter_map(|w| w["what"].as_str())
        .find(|w| w.contains("signatures were not checked"))
        .unwrap_or_else(|| panic!("no warning that the signatures were not checked: {j:#}"))
        .to_string()
}

#[test]
fn r12_b6_verify_without_keyring_warns_that_signatures_were_not_checked() {
    if !have_gpg() || !have_tool("python3") {
        return;
    }
    let t = tempdir();
    let repo = signed_repo(t.path());
    let keyring = repo.join("mysite-archive-keyring.gpg");
    let target = repo.to_str().unwrap();

    // A directory: the warning names the keyring file in the tree, in text and JSON.
    let o = run(&["verify", target]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let warn = format!(
        "WARN {}: signed (InRelease and Release.gpg), but the signatures were not checked: give --keyring {}",
        repo.join("dists/lenny/InRelease").display(),
        keyring.display()
    );
    assert!(
        text(&o.stdout).contains(&warn),
        "want {warn:?}: {}",
        both(&o)
    );
    let o = run(&["verify", "--json", target]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let w = unchecked_signatures_warning(&o);
    assert!(
        w.contains(&format!("--keyring {}", keyring.display())),
        "{w}"
    );
    // What it says to do checks them, and the warning goes.
    let o = run(&[
        "verify",
        "--json",
        target,
        "--keyring",
        keyring.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(!text(&o.stdout).contains("not checked"), "{}", both(&o));

    // Over http: the keyring's URL, which serves that keyring.
    let server = common::Server::http(&repo);
    let base = server.base.clone();
    let o = run(&["verify", "--json", &base, "--suite", "lenny"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let w = unchecked_signatures_warning(&o);
    let url = format!("{base}mysite-archive-keyring.gpg");
    assert!(w.contains(&format!("download {url} ")), "{w}");
    let served = ureq::get(&url).call().unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut served.into_reader(), &mut bytes).unwrap();
    assert_eq!(bytes, fs::read(&keyring).unwrap());
    // An unsigned repository is said to be unsigned, not "not checked".
    let unsigned = t.path().join("unsigned");
    let o = run(&[
        "build",
        "--repo",
        unsigned.to_str().unwrap(),
        "--suite",
        "lenny",
        "--arch",
        "amd64",
        "--unsigned",
        "--deb",
        &demo_deb(AMD64_DEB),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let o = run(&["verify", unsigned.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let out = text(&o.stdout);
    assert!(
        out.contains("unsigned: clients need [trusted=yes]") && !out.contains("not checked"),
        "{}",
        both(&o)
    );
}

// ---------------------------------------------------------------------------
// The build summary names the published keyring and its fingerprint.

#[test]
fn r12_the_build_summary_names_the_keyring_and_its_fingerprint() {
    if !have_gpg() {
        return;
    }
    let t = tempdir();
    let key = Key::new(t.path(), "summary");
    let repo = t.path().join("repo");
    let deb = demo_deb(AMD64_DEB);
    let build = |json: bool| {
        let mut args = vec![
            "build",
            "--repo",
            repo.to_str().unwrap(),
            "--suite",
            "lenny",
            "--arch",
            "amd64",
            "--label",
            "My Site",
            "--sign-key",
            &key.fpr,
            "--gpg-homedir",
            key.home.to_str().unwrap(),
            "--deb",
            &deb,
        ];
        if json {
            args.push("--json");
        }
        run(&args)
    };
    let keyring = repo.join("my-site-archive-keyring.gpg");
    let said = format!(
        "; clients' keyring: {} (fingerprint {})",
        keyring.display(),
        key.fpr
    );
    let o = build(false);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        text(&o.stderr)
            .lines()
            .any(|l| l.starts_with("elirepo: published ") && l.ends_with(&said)),
        "want {said:?}: {}",
        both(&o)
    );
    // The file it names holds that key, as gpg reads it.
    let shown = output_of(
        Command::new("gpg")
            .args(["--with-colons", "--show-keys"])
            .arg(&keyring),
    );
    assert!(
        text(&shown.stdout).contains(&format!("fpr:::::::::{}:", key.fpr)),
        "{}",
        both(&shown)
    );
    // A rerun that changes nothing says it too, and --json has both.
    let o = build(true);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        text(&o.stderr)
            .lines()
            .any(|l| l.starts_with("elirepo: nothing changed ") && l.ends_with(&said)),
        "{}",
        both(&o)
    );
    let j = json(&o);
    assert_eq!(j["keyring"], "my-site-archive-keyring.gpg", "{j:#}");
    assert_eq!(j["keyring_fingerprint"], key.fpr.as_str(), "{j:#}");
}

// ---------------------------------------------------------------------------
// A build that fails after its switch says the new suite is published.

/// A file nobody (not even root) can remove until the guard is dropped: immutable
/// (`chattr +i`) for root, in a read-only directory for anyone else. `None` (a
/// skip) where neither can be done.
struct Unremovable(PathBuf, bool);

impl Unremovable {
    fn new(path: &Path) -> Option<Unremovable> {
        use std::os::unix::fs::PermissionsExt;
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
        if root {
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                common::skip(
                    "chattr +i does not work here (root cannot be denied a removal otherwise)",
                );
                return None;
            }
            Some(Unremovable(path.to_path_buf(), true))
        } else {
            let dir = path.parent().unwrap();
            fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
            Some(Unremovable(dir.to_path_buf(), false))
        }
    }
}

impl Drop for Unremovable {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.1 {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        } else {
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn r12_a_build_failing_after_its_switch_says_the_suite_is_published() {
    let t = tempdir();
    let repo = t.path().join("repo");
    let r = repo.to_str().unwrap();
    let build = |debs: &[&str], json: bool| {
        let mut args = vec![
            "build",
            "--repo",
            r,
            "--suite",
            "lenny",
            "--arch",
            "amd64",
            "--unsigned",
        ];
        let debs: Vec<String> = debs.iter().map(|d| demo_deb(d)).collect();
        for d in &debs {
            args.extend(["--deb", d.as_str()]);
        }
        if json {
            args.push("--json");
        }
        output_of(
            elirepo()
                .args(&args)
                .env("NO_COLOR", "1")
                .env("ELIREPO_FAULT", "trace"),
        )
    };
    let o = build(&[AMD64_DEB], false);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    // A stray pool file the next build's collection must remove, and cannot.
    let stray = repo.join("pool/main/z/zz/zz_1_amd64.deb");
    fs::create_dir_all(stray.parent().unwrap()).unwrap();
    fs::write(&stray, b"stray").unwrap();
    let Some(guard) = Unremovable::new(&stray) else {
        return;
    };
    let o = build(&[AMD64_DEB, ALL_DEB], true);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = text(&o.stderr);
    // It failed after the switch (the trace passed it), and says so.
    let switched = err.find("elirepo: fault point after-switch\n");
    let failed = err.find("elirepo: error: ");
    assert!(
        switched.is_some() && switched < failed,
        "not a failure after the switch: {}",
        both(&o)
    );
    let last = err
        .lines()
        .rfind(|l| l.starts_with("elirepo: error: "))
        .unwrap();
    assert_eq!(
        last,
        format!("elirepo: error: {r}: the new suite lenny is published; cleaning up after it failed: fix the cause and rerun the build to finish it"),
        "{}",
        both(&o)
    );
    assert!(!err.contains("nothing was published"), "{}", both(&o));
    let j = json(&o);
    assert_eq!(
        (j["ok"].clone(), j["published"].clone()),
        (false.into(), true.into()),
        "{j:#}"
    );
    assert!(
        j["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&stray.display().to_string())),
        "{j:#}"
    );
    // It is true: the suite served is the new one.
    let packages = fs::read_to_string(repo.join("dists/lenny/main/binary-amd64/Packages")).unwrap();
    assert!(
        packages.contains("Package: xs-tools-common\n"),
        "{packages}"
    );
    // Once the cause is gone, a rerun finishes the cleanup.
    drop(guard);
    let o = build(&[AMD64_DEB, ALL_DEB], false);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(!stray.exists(), "{}", both(&o));

    // A failure before the switch still publishes nothing, and says so.
    fs::write(repo.join("dists/.generations/lenny/junk"), b"junk").unwrap();
    let before = common::snapshot_tree(&repo);
    let o = build(&[AMD64_DEB], true);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let err = text(&o.stderr);
    assert!(!err.contains("fault point after-switch"), "{}", both(&o));
    assert!(
        err.ends_with(&format!(
            "elirepo: error: {r}: nothing was published; the repository is unchanged\n"
        )),
        "{}",
        both(&o)
    );
    assert_eq!(json(&o)["published"], false);
    assert_eq!(common::snapshot_tree(&repo), before, "{}", both(&o));
}

// ---------------------------------------------------------------------------
// Usage errors with --json: the JSON failure on stdout too.

#[test]
fn r12_a_usage_error_with_json_is_a_json_failure_on_stdout() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["build", "--json", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            &["-q", "verify", "--json"],
            "required arguments were not provided: <TARGET>",
        ),
        (
            &["verify", "repo", "--json", "--timeout", "0"],
            "invalid value '0' for '--timeout <SECS>'",
        ),
        (&["kernel", "--json", "a", "b"], "unexpected argument 'b'"),
        (
            &["boot-test", "--json", "--nope"],
            "unexpected argument '--nope'",
        ),
    ];
    for (args, what) in cases {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", both(&o));
        let j = json(&o);
        assert_eq!(j["schema_version"], 1, "{args:?}: {j:#}");
        assert_eq!(j["ok"], false, "{args:?}: {j:#}");
        assert!(
            j["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(what)),
            "{args:?}: want {what:?}: {j:#}"
        );
        assert!(
            j["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains("--help")),
            "{args:?}: {j:#}"
        );
        // stderr says it as every usage error does (clap's details on its next lines).
        let first_part = what.split(':').next().unwrap();
        assert!(
            first_error(&o).contains(first_part),
            "{args:?}: {}",
            both(&o)
        );
        // Without --json, stdout stays empty.
        let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
        let o = run(&plain);
        assert_eq!(o.status.code(), Some(2), "{plain:?}: {}", both(&o));
        assert!(o.stdout.is_empty(), "{plain:?}: {}", both(&o));
    }
}
