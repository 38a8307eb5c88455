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
        let mut stderr = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; ");
        if stderr.contains("passphrase") || stderr.contains("Inappropriate ioctl") {
            stderr.push_str(" (the key needs a passphrase: give --passphrase-file FILE)");
        }
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
        gpg_output(cmd, release, "--clearsign").map_err(|e| self.in_user_terms(e))
    }

    /// A detached, armored signature of `release` (Release.gpg).
    pub fn detach_sign(&self, release: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut cmd = self.sign_command();
        cmd.args(["--armor", "--detach-sign"]);
        gpg_output(cmd, release, "--detach-sign").map_err(|e| self.in_user_terms(e))
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
