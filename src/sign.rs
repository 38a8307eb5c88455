//! Signing Release files with gpg: `InRelease`, `Release.gpg`, the public key.
//!
//! elirepo signs with the gpg its users already keep their keys in. A
//! [`GpgSigner`] runs `gpg --batch` (never prompting; a passphrase comes from a
//! file named by path, never from the command line) with the key given by id in
//! a home directory, or imported from an armored secret-key file into a private
//! temporary home directory (the way a CI secret arrives). It produces a
//! clear-signed InRelease, a detached armored Release.gpg (SHA512 digest) and the
//! binary public key for clients' `signed-by=`. Every failure is a [`SignError`]
//! that says what to do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to sign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignOptions {
    /// Key id, fingerprint or user id (`--local-user`); optional with `key_file`.
    pub key: Option<String>,
    /// gpg home directory (default: gpg's own, `$GNUPGHOME` or `~/.gnupg`).
    pub homedir: Option<PathBuf>,
    /// An armored secret key to import into a private, temporary home directory.
    pub key_file: Option<PathBuf>,
    /// File holding the key's passphrase.
    pub passphrase_file: Option<PathBuf>,
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// gpg is not installed.
    #[error("gpg not found ({0}); install it (apt-get install gpg) or build without --sign-key")]
    NoGpg(std::io::Error),
    /// Neither a key nor a key file was given.
    #[error("no signing key: give --sign-key KEYID or a key file")]
    NoKey,
    /// The key is not in the keyring.
    #[error("secret key {key:?} not found in {home}; {hint}")]
    UnknownKey {
        /// The key asked for.
        key: String,
        /// Where it was looked for, as the user named it: the gpg home, or the
        /// key file (never the temporary home it was imported into).
        home: String,
        /// Extra advice.
        hint: String,
    },
    /// gpg ran and failed.
    #[error("gpg {what} failed: {stderr}")]
    Failed {
        /// What gpg was asked to do.
        what: &'static str,
        /// What gpg said.
        stderr: String,
    },
    /// The key needs a passphrase and no passphrase file was given.
    #[error("the key {key} is protected by a passphrase: give --passphrase-file FILE")]
    PassphraseNeeded {
        /// The key.
        key: String,
    },
    /// The passphrase file's passphrase is not the key's.
    #[error("the passphrase in {} does not unlock the key {key}", file.display())]
    WrongPassphrase {
        /// The passphrase file, as given.
        file: PathBuf,
        /// The key.
        key: String,
    },
    /// A file named in the options cannot be used.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Signs with gpg; see the module documentation.
pub struct GpgSigner {
    home: Option<PathBuf>,
    key: String,
    passphrase_file: Option<PathBuf>,
    /// The key file imported into `_temp`, to name in errors instead of it.
    key_file: Option<PathBuf>,
    /// Keeps an imported key's temporary home directory alive.
    _temp: Option<tempfile::TempDir>,
}

fn gpg_output(mut cmd: Command, input: &[u8], what: &'static str) -> Result<Vec<u8>, SignError> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(SignError::NoGpg)?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().map_err(SignError::NoGpg)?;
    let _ = writer.join();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; ");
        return Err(SignError::Failed { what, stderr });
    }
    Ok(out.stdout)
}

impl GpgSigner {
    /// Checks gpg and the key, importing a key file if one is given.
    pub fn new(opts: &SignOptions) -> Result<GpgSigner, SignError> {
        let mut temp = None;
        let mut home = opts.homedir.clone();
        if let Some(passphrase) = &opts.passphrase_file {
            std::fs::metadata(passphrase).map_err(|e| SignError::File {
                path: passphrase.clone(),
                reason: format!("cannot read passphrase file: {e}"),
            })?;
        }
        let mut key = opts.key.clone();
        if let Some(file) = &opts.key_file {
            let armored = std::fs::read(file).map_err(|e| SignError::File {
                path: file.clone(),
                reason: format!("cannot read key file: {e}"),
            })?;
            // 0700, as gpg wants its home (tempfile's default follows the umask).
            let dir = tempfile::Builder::new()
                .prefix("elirepo-gnupg-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(|e| SignError::File {
                    path: std::env::temp_dir(),
                    reason: format!("cannot create a temporary gpg home: {e}"),
                })?;
            let mut cmd = Command::new("gpg");
            cmd.arg("--homedir")
                .arg(dir.path())
                .args(["--batch", "--no-tty", "--quiet"]);
            if let Some(p) = &opts.passphrase_file {
                cmd.args(["--pinentry-mode", "loopback", "--passphrase-file"])
                    .arg(p);
            }
            cmd.arg("--import");
            gpg_output(cmd, &armored, "--import").map_err(|e| match e {
                SignError::Failed { stderr, .. } => SignError::File {
                    path: file.clone(),
                    reason: format!("gpg could not import it: {stderr}"),
                },
                e => e,
            })?;
            if key.is_none() {
                let mut cmd = Command::new("gpg");
                cmd.arg("--homedir").arg(dir.path()).args([
                    "--batch",
                    "--no-tty",
                    "--with-colons",
                    "--list-secret-keys",
                ]);
                let listing = gpg_output(cmd, b"", "--list-secret-keys")?;
                key = String::from_utf8_lossy(&listing)
                    .lines()
                    .find(|l| l.starts_with("fpr:"))
                    .and_then(|l| l.split(':').nth(9))
                    .map(str::to_string);
            }
            home = Some(dir.path().to_path_buf());
            temp = Some(dir);
        }
        let key = key.ok_or(SignError::NoKey)?;
        let signer = GpgSigner {
            home,
            key,
            passphrase_file: opts.passphrase_file.clone(),
            key_file: opts.key_file.clone(),
            _temp: temp,
        };
        let mut cmd = signer.command();
        cmd.args(["--list-secret-keys", &signer.key]);
        gpg_output(cmd, b"", "--list-secret-keys").map_err(|e| match e {
            SignError::Failed { .. } => match (&opts.key_file, &opts.homedir) {
                (Some(file), _) => SignError::UnknownKey {
                    key: signer.key.clone(),
                    home: format!("the key file {}", file.display()),
                    hint: format!("list its keys with `gpg --show-keys {}`", file.display()),
                },
                (None, Some(h)) => SignError::UnknownKey {
                    key: signer.key.clone(),
                    home: h.display().to_string(),
                    hint: format!(
                        "list keys with `gpg --homedir {} --list-secret-keys`",
                        h.display()
                    ),
                },
                (None, None) => SignError::UnknownKey {
                    key: signer.key.clone(),
                    home: "gpg's default home".into(),
                    hint: "list keys with `gpg --list-secret-keys` (or pass --gpg-homedir)".into(),
                },
            },
            e => e,
        })?;
        Ok(signer)
    }

    /// `e` with the temporary home, which is gone by the time anyone reads
    /// the message, told as the key file the user gave.
    fn in_user_terms(&self, e: SignError) -> SignError {
        match (e, &self._temp, &self.key_file) {
            (SignError::Failed { what, stderr }, Some(temp), Some(file)) => SignError::Failed {
                what,
                stderr: stderr.replace(
                    &temp.path().display().to_string(),
                    &format!(
                        "<the temporary gpg home {} was imported into>",
                        file.display()
                    ),
                ),
            },
            (e, _, _) => e,
        }
    }

    /// A signing failure that is the passphrase's, said as such: gpg's "we are
    /// in batchmode" (or "No passphrase given") without a passphrase file is a
    /// missing passphrase; gpg's "Bad passphrase" with one is the wrong one.
    fn passphrase_problem(&self, e: SignError) -> SignError {
        let SignError::Failed { stderr, .. } = &e else {
            return e;
        };
        let key = self.key.clone();
        match &self.passphrase_file {
            None if ["batchmode", "passphrase", "Inappropriate ioctl"]
                .iter()
                .any(|m| stderr.contains(m)) =>
            {
                SignError::PassphraseNeeded { key }
            }
            Some(file)
                if ["Bad passphrase", "bad passphrase", "No passphrase given"]
                    .iter()
                    .any(|m| stderr.contains(m)) =>
            {
                SignError::WrongPassphrase {
                    file: file.clone(),
                    key,
                }
            }
            _ => e,
        }
    }

    /// The key id or fingerprint in use.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("gpg");
        if let Some(h) = &self.home {
            cmd.arg("--homedir").arg(h);
        }
        cmd.args(["--batch", "--no-tty", "--yes", "--quiet"]);
        cmd
    }

    fn sign_command(&self) -> Command {
        let mut cmd = self.command();
        // Loopback pinentry: never a passphrase dialog, even on a desktop session;
        // a key that needs a passphrase without --passphrase-file fails at once.
        cmd.args([
            "--local-user",
            &self.key,
            "--digest-algo",
            "SHA512",
            "--pinentry-mode",
            "loopback",
        ]);
        if let Some(p) = &self.passphrase_file {
            cmd.arg("--passphrase-file").arg(p);
        }
        cmd
    }

    /// A clear-signed copy of `release` (InRelease).
    pub fn clearsign(&self, release: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut cmd = self.sign_command();
        cmd.arg("--clearsign");
        gpg_output(cmd, release, "--clearsign")
            .map_err(|e| self.in_user_terms(self.passphrase_problem(e)))
    }

    /// A detached, armored signature of `release` (Release.gpg).
    pub fn detach_sign(&self, release: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut cmd = self.sign_command();
        cmd.args(["--armor", "--detach-sign"]);
        gpg_output(cmd, release, "--detach-sign")
            .map_err(|e| self.in_user_terms(self.passphrase_problem(e)))
    }

    /// The public key, binary, for `signed-by=`.
    pub fn public_key(&self) -> Result<Vec<u8>, SignError> {
        let mut cmd = self.command();
        cmd.args(["--export", &self.key]);
        let key = gpg_output(cmd, b"", "--export").map_err(|e| self.in_user_terms(e))?;
        if key.is_empty() {
            return Err(SignError::Failed {
                what: "--export",
                stderr: format!("no public key exported for {}", self.key),
            });
        }
        Ok(key)
    }
}

/// True if `path` names an executable `gpg` on PATH.
pub fn gpg_available() -> bool {
    Command::new("gpg")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Verifies a detached or clear signature with gpgv against `keyring`.
pub fn gpgv(keyring: &Path, signature: &Path, data: Option<&Path>) -> Result<(), SignError> {
    let mut cmd = Command::new("gpgv");
    cmd.arg("--keyring").arg(keyring).arg(signature);
    if let Some(d) = data {
        cmd.arg(d);
    }
    let out = cmd.output().map_err(SignError::NoGpg)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SignError::Failed {
            what: "gpgv",
            stderr: String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', "; "),
        })
    }
}

/// The fingerprint of the first key of a binary OpenPGP keyring (what
/// `gpg --export` writes), in upper-case hex as gpg shows it: SHA-1 of a v4 key's
/// public-key packet, SHA-256 of a v5 or v6 key's. `None` if `keyring` does not
/// start with a public-key packet.
pub fn fingerprint(keyring: &[u8]) -> Option<String> {
    use sha1::Digest;
    let (&first, rest) = keyring.split_first()?;
    if first & 0x80 == 0 {
        return None;
    }
    let (tag, len, rest) = if first & 0x40 != 0 {
        // New format: tag in 6 bits, then a 1-, 2- or 5-octet length.
        let (len, rest) = match rest {
            [a, rest @ ..] if *a < 192 => (usize::from(*a), rest),
            [a, b, rest @ ..] if *a < 224 => {
                (((usize::from(*a) - 192) << 8) + usize::from(*b) + 192, rest)
            }
            [255, a, b, c, d, rest @ ..] => (u32::from_be_bytes([*a, *b, *c, *d]) as usize, rest),
            _ => return None,
        };
        (first & 0x3f, len, rest)
    } else {
        // Old format: tag in 4 bits, the length's size in 2.
        let n = match first & 3 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => return None,
        };
        let len = rest
            .get(..n)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        ((first >> 2) & 0x0f, len, &rest[n..])
    };
    let body = rest.get(..len)?;
    if tag != 6 {
        return None;
    }
    let digest: Vec<u8> = match body.first()? {
        4 => {
            let mut h = sha1::Sha1::new();
            h.update([0x99]);
            h.update(u16::try_from(len).ok()?.to_be_bytes());
            h.update(body);
            h.finalize().to_vec()
        }
        v @ (5 | 6) => {
            let mut h = sha2::Sha256::new();
            h.update([if *v == 5 { 0x9a } else { 0x9b }]);
            h.update(u32::try_from(len).ok()?.to_be_bytes());
            h.update(body);
            h.finalize().to_vec()
        }
        _ => return None,
    };
    Some(crate::hash::hex(&digest).to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_a_public_key_packet_has_a_fingerprint() {
        assert_eq!(fingerprint(b""), None);
        assert_eq!(fingerprint(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"), None);
        // A user id packet (tag 13), not a key.
        assert_eq!(fingerprint(&[0xb4, 3, b'a', b'b', b'c']), None);
        // A v4 key packet cut short.
        assert_eq!(fingerprint(&[0x99, 0x01, 0x0d, 4, 0, 0]), None);
    }

    fn args(cmd: &Command) -> Vec<&OsStr> {
        cmd.get_args().collect()
    }

    /// The argument after `flag`, if `flag` is there.
    fn after<'a>(args: &[&'a OsStr], flag: &str) -> Option<&'a OsStr> {
        let i = args.iter().position(|a| *a == flag)?;
        args.get(i + 1).copied()
    }

    #[test]
    fn files_named_in_the_options_are_checked_before_gpg_runs() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("no-such-passphrase");
        let opts = SignOptions {
            key: Some("0xDEADBEEF".into()),
            passphrase_file: Some(missing.clone()),
            ..Default::default()
        };
        match GpgSigner::new(&opts) {
            Err(e @ SignError::File { .. }) => {
                let SignError::File { path, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(path, &missing);
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!("{}: ", missing.display())),
                    "{text}"
                );
            }
            other => panic!("{:?}", other.err()),
        }
        let key_file = t.path().join("no-such-key.asc");
        let opts = SignOptions {
            key_file: Some(key_file.clone()),
            ..Default::default()
        };
        match GpgSigner::new(&opts) {
            Err(SignError::File { path, .. }) => assert_eq!(path, key_file),
            other => panic!("{:?}", other.err()),
        }
        assert!(matches!(
            GpgSigner::new(&SignOptions::default()),
            Err(SignError::NoKey)
        ));
    }

    /// True if gpg, gpgv and gpgconf can run; else skips (a failure under
    /// `ELIREPO_REQUIRE_TOOLS=1`, as in tests/common).
    fn have_gpg() -> bool {
        let runs = |tool: &str| {
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if gpg_available() && runs("gpgv") && runs("gpgconf") {
            return true;
        }
        let why = "gpg, gpgv or gpgconf not installed";
        if std::env::var("ELIREPO_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{why}; ELIREPO_REQUIRE_TOOLS=1 forbids skipping this test");
        }
        eprintln!("skipped: {why}");
        false
    }

    /// Stops the gpg-agent of `home` (best effort; it would exit on its own
    /// once its socket is gone).
    fn stop_agent(home: &Path) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(home)
            .args(["--kill", "gpg-agent"])
            .output();
    }

    /// A throwaway gpg home holding one fresh ed25519 signing key.
    struct Home {
        dir: tempfile::TempDir,
        fingerprint: String,
    }

    impl Home {
        /// The key is protected by `passphrase` if it is not empty; the agent
        /// protects it cheaply (no calibration) and is stopped afterwards, so
        /// that no passphrase stays cached.
        fn new(passphrase: &str) -> Home {
            let dir = tempfile::Builder::new()
                .permissions(std::fs::Permissions::from_mode(0o700))
                .tempdir()
                .unwrap();
            std::fs::write(dir.path().join("gpg-agent.conf"), "s2k-count 65536\n").unwrap();
            let mut home = Home {
                dir,
                fingerprint: String::new(),
            };
            home.gpg(&["--passphrase", passphrase, "--quick-gen-key"])
                .args([
                    "elirepo test <test@elirepo.invalid>",
                    "ed25519",
                    "sign",
                    "never",
                ])
                .output()
                .unwrap();
            let listing = home
                .gpg(&["--with-colons", "--list-secret-keys"])
                .output()
                .unwrap();
            home.fingerprint = String::from_utf8_lossy(&listing.stdout)
                .lines()
                .find_map(|l| Some(l.strip_prefix("fpr:")?.split(':').nth(8)?.to_string()))
                .expect("gpg made a key");
            stop_agent(home.dir.path());
            home
        }

        fn gpg(&self, args: &[&str]) -> Command {
            let mut cmd = Command::new("gpg");
            cmd.arg("--homedir")
                .arg(self.dir.path())
                .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
                .args(args);
            cmd
        }

        /// The secret key, armored, as a CI secret would hold it.
        fn export_secret(&self, passphrase: &str, to: &Path) {
            let out = self
                .gpg(&[
                    "--passphrase",
                    passphrase,
                    "--armor",
                    "--export-secret-keys",
                ])
                .arg(&self.fingerprint)
                .output()
                .unwrap();
            assert!(out.status.success() && !out.stdout.is_empty());
            std::fs::write(to, out.stdout).unwrap();
        }
    }

    impl Drop for Home {
        fn drop(&mut self) {
            stop_agent(self.dir.path());
        }
    }

    /// Checks `release`'s InRelease and Release.gpg from `s` with gpgv.
    fn verify_with_gpgv(s: &GpgSigner, release: &[u8], dir: &Path) {
        let keyring = dir.join("keyring.gpg");
        std::fs::write(&keyring, s.public_key().unwrap()).unwrap();
        let (rel, inrel, sig) = (
            dir.join("Release"),
            dir.join("InRelease"),
            dir.join("Release.gpg"),
        );
        std::fs::write(&rel, release).unwrap();
        let clear = s.clearsign(release).unwrap();
        assert!(String::from_utf8_lossy(&clear).contains("\nHash: SHA512\n"));
        std::fs::write(&inrel, clear).unwrap();
        std::fs::write(&sig, s.detach_sign(release).unwrap()).unwrap();
        gpgv(&keyring, &inrel, None).unwrap();
        gpgv(&keyring, &sig, Some(&rel)).unwrap();
        std::fs::write(&rel, b"Origin: someone else\n").unwrap();
        assert!(matches!(
            gpgv(&keyring, &sig, Some(&rel)),
            Err(SignError::Failed { what: "gpgv", .. })
        ));
    }

    #[test]
    fn the_gpg_arguments_never_hold_the_passphrase() {
        if !have_gpg() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let secret = "correct horse battery staple";
        let home = Home::new(secret);
        let file = t.path().join("passphrase");
        std::fs::write(&file, secret).unwrap();
        let opts = SignOptions {
            key: Some(home.fingerprint.clone()),
            homedir: Some(home.dir.path().to_path_buf()),
            passphrase_file: Some(file.clone()),
            ..Default::default()
        };
        let s = GpgSigner::new(&opts).unwrap();
        for cmd in [s.sign_command(), s.command()] {
            for a in args(&cmd) {
                let a = a.to_string_lossy();
                assert!(!a.contains(secret) && a != "--passphrase", "{a}");
            }
        }
        let sign = s.sign_command();
        let a = args(&sign);
        assert_eq!(after(&a, "--passphrase-file"), Some(file.as_os_str()));
        // Never a prompt: batch mode, no tty, loopback pinentry.
        assert!(a.contains(&OsStr::new("--batch")) && a.contains(&OsStr::new("--no-tty")));
        assert_eq!(after(&a, "--pinentry-mode"), Some(OsStr::new("loopback")));
        assert_eq!(
            after(&a, "--local-user"),
            Some(OsStr::new(&home.fingerprint))
        );
        assert_eq!(after(&a, "--digest-algo"), Some(OsStr::new("SHA512")));
        assert_eq!(after(&a, "--homedir"), Some(home.dir.path().as_os_str()));
        let without = GpgSigner::new(&SignOptions {
            passphrase_file: None,
            ..opts
        })
        .unwrap();
        let cmd = without.sign_command();
        let a = args(&cmd);
        assert_eq!(after(&a, "--passphrase-file"), None);
        assert_eq!(after(&a, "--pinentry-mode"), Some(OsStr::new("loopback")));
    }

    #[test]
    fn a_key_file_is_imported_into_a_private_home_that_goes_with_the_signer() {
        if !have_gpg() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let home = Home::new("");
        let key_file = t.path().join("signing-key.asc");
        home.export_secret("", &key_file);
        let opts = SignOptions {
            key_file: Some(key_file),
            ..Default::default()
        };
        let s = GpgSigner::new(&opts).unwrap();
        // The key is found in the file; the home is a new one, private.
        assert_eq!(s.key(), home.fingerprint);
        let private = s.home.clone().unwrap();
        assert_ne!(private, home.dir.path());
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        verify_with_gpgv(&s, b"Origin: elirepo\nSuite: s\n", t.path());
        stop_agent(&private);
        drop(s);
        assert!(!private.exists());
    }

    #[test]
    fn a_key_is_found_by_id_in_its_home_and_an_unknown_one_is_named() {
        if !have_gpg() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let home = Home::new("");
        let opts = SignOptions {
            key: Some(home.fingerprint.clone()),
            homedir: Some(home.dir.path().to_path_buf()),
            ..Default::default()
        };
        verify_with_gpgv(&GpgSigner::new(&opts).unwrap(), b"Suite: s\n", t.path());
        let unknown = SignOptions {
            key: Some("0xDEADBEEFDEADBEEF".into()),
            ..opts
        };
        match GpgSigner::new(&unknown) {
            Err(e @ SignError::UnknownKey { .. }) => {
                let text = e.to_string();
                assert!(text.contains("\"0xDEADBEEFDEADBEEF\""), "{text}");
                assert!(
                    text.contains(&home.dir.path().display().to_string()),
                    "{text}"
                );
            }
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn a_protected_key_signs_with_its_passphrase_file_only() {
        if !have_gpg() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let home = Home::new("correct horse");
        let opts = SignOptions {
            key: Some(home.fingerprint.clone()),
            homedir: Some(home.dir.path().to_path_buf()),
            ..Default::default()
        };
        // Without the passphrase, or with a wrong one: which of the two it is.
        match GpgSigner::new(&opts).unwrap().clearsign(b"Suite: s\n") {
            Err(SignError::PassphraseNeeded { key }) => assert_eq!(key, home.fingerprint),
            other => panic!("signed without the passphrase: {:?}", other.map(|_| ())),
        }
        let wrong = t.path().join("wrong");
        std::fs::write(&wrong, "battery staple\n").unwrap();
        let with_wrong = SignOptions {
            passphrase_file: Some(wrong),
            ..opts.clone()
        };
        match GpgSigner::new(&with_wrong)
            .unwrap()
            .detach_sign(b"Suite: s\n")
        {
            Err(e @ SignError::WrongPassphrase { .. }) => assert_eq!(
                e.to_string(),
                format!(
                    "the passphrase in {} does not unlock the key {}",
                    t.path().join("wrong").display(),
                    home.fingerprint
                )
            ),
            other => panic!("signed with a wrong passphrase: {:?}", other.map(|_| ())),
        }
        let file = t.path().join("passphrase");
        std::fs::write(&file, "correct horse\n").unwrap();
        let with = SignOptions {
            passphrase_file: Some(file),
            ..opts
        };
        verify_with_gpgv(&GpgSigner::new(&with).unwrap(), b"Suite: s\n", t.path());
    }
}
