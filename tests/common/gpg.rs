//! Throwaway OpenPGP keys and the real gpg/gpgv around them.
//!
//! [`Key`] makes an ed25519 signing key in a gpg home of its own (0700, a
//! temp dir), optionally with a passphrase; its gpg-agent is stopped when the
//! key is dropped. [`gpgv`] runs the real verifier against a keyring file;
//! [`stop_agent`] stops the agent of any gpg home.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{both, output_of, tempdir, text};

/// A throwaway ed25519 signing key in its own gpg home (0700, agent stopped on drop).
pub struct Key {
    /// The gpg home holding the key.
    pub home: tempfile::TempDir,
    /// The key's fingerprint (40 hex digits, as gpg lists it).
    pub fpr: String,
    passphrase: Option<String>,
}

impl Key {
    /// A new key, protected by `passphrase` if one is given.
    pub fn new(passphrase: Option<&str>) -> Key {
        let home = tempdir();
        fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700)).unwrap();
        // No passphrase caching (a signing that works must have been given the
        // passphrase), never a pinentry (a desktop would pop one up and the test
        // hang), and the cheapest S2K (the calibrated default costs seconds here).
        fs::write(
            home.path().join("gpg-agent.conf"),
            "default-cache-ttl 0\nmax-cache-ttl 0\nallow-loopback-pinentry\n\
             pinentry-program /bin/false\ns2k-count 65536\n",
        )
        .unwrap();
        let mut key = Key {
            home,
            fpr: String::new(),
            passphrase: passphrase.map(str::to_string),
        };
        let mut c = key.gpg();
        c.args([
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase.unwrap_or(""),
        ])
        .args([
            "--quick-gen-key",
            "elirepo test key <test@example.org>",
            "ed25519",
            "sign",
            "never",
        ]);
        let o = output_of(&mut c);
        assert!(o.status.success(), "gpg --quick-gen-key:\n{}", both(&o));
        let o = output_of(key.gpg().args(["--with-colons", "--list-secret-keys"]));
        key.fpr = text(&o.stdout)
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("a fingerprint")
            .to_string();
        key
    }

    /// The gpg home.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `gpg --homedir HOME --batch --no-tty`.
    pub fn gpg(&self) -> Command {
        let mut c = Command::new("gpg");
        c.arg("--homedir")
            .arg(self.home.path())
            .args(["--batch", "--no-tty"]);
        c
    }

    /// `gpg --homedir HOME --batch --no-tty --yes ARGS`, asserted to succeed;
    /// returns its stdout.
    pub fn gpg_ok(&self, args: &[&OsStr]) -> Vec<u8> {
        let out = output_of(self.gpg().arg("--yes").args(args));
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// `--sign-key FPR --gpg-homedir HOME`.
    pub fn args(&self) -> Vec<OsString> {
        vec![
            "--sign-key".into(),
            self.fpr.clone().into(),
            "--gpg-homedir".into(),
            self.home.path().into(),
        ]
    }

    /// The binary public key.
    pub fn public(&self) -> Vec<u8> {
        let o = output_of(self.gpg().args(["--export", &self.fpr]));
        assert!(o.status.success() && !o.stdout.is_empty(), "{}", both(&o));
        o.stdout
    }

    /// Writes a keyring file holding only [`Key::public`] to `path`; returns `path`.
    pub fn write_keyring(&self, path: &Path) -> PathBuf {
        fs::write(path, self.public()).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// The armored secret key (what a CI secret holds).
    pub fn secret_armored(&self) -> Vec<u8> {
        let mut c = self.gpg();
        c.args(["--pinentry-mode", "loopback", "--passphrase"])
            .arg(self.passphrase.as_deref().unwrap_or(""))
            .args(["--armor", "--export-secret-keys", &self.fpr]);
        let o = output_of(&mut c);
        assert!(o.status.success() && !o.stdout.is_empty(), "{}", both(&o));
        o.stdout
    }

    /// Stops the gpg-agent of this key's home now (dropping the key does too).
    pub fn stop_agent(&self) {
        stop_agent(self.home.path());
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        stop_agent(self.home.path());
    }
}

/// Stops the gpg-agent gpg started for the home directory `home`.
pub fn stop_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home)
        .args(["--kill", "gpg-agent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `gpgv --keyring KEYRING ARGS...`.
pub fn gpgv(keyring: &Path, args: &[&Path]) -> Output {
    output_of(
        Command::new("gpgv")
            .arg("--keyring")
            .arg(keyring)
            .args(args),
    )
}
