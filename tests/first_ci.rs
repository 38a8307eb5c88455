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
