//! Running a command as an ordinary user (no root), for the commands that promise to need
//! none (`elirepo boot-test`).
//!
//! When the tests run as root (CI does), [`OrdinaryUser::new`] gives uid and gid 65534
//! (`nobody`/`nogroup` on Debian) through util-linux's `setpriv --reuid --regid
//! --clear-groups --reset-env`, with `HOME` and `TMPDIR` in a fresh directory that user owns;
//! inputs are copied there ([`OrdinaryUser::stage`]) so that it can read them. When the tests
//! run as an ordinary user already, commands run as they are, with the same `HOME` and
//! `TMPDIR`.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The uid and gid the commands run as when the tests run as root.
pub const UNPRIVILEGED: u32 = 65534;

/// An ordinary user's home: the commands' `HOME` and `TMPDIR`, owned by that user.
pub struct OrdinaryUser {
    _dir: tempfile::TempDir,
    /// `HOME` and `TMPDIR` of the commands.
    pub home: PathBuf,
    /// The uid the commands run as.
    pub uid: u32,
    /// True when commands are wrapped in `setpriv` (the tests run as root).
    pub switched: bool,
    env: Vec<(OsString, OsString)>,
}

/// This process's effective uid (the owner of a file it creates).
pub fn current_uid() -> u32 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::metadata(dir.path()).expect("stat").uid()
}

impl OrdinaryUser {
    /// A fresh home for the ordinary user (uid 65534 when the tests run as root). Panics
    /// when the tests run as root and `setpriv` is missing (util-linux is in every Debian).
    pub fn new() -> OrdinaryUser {
        let me = current_uid();
        let switched = me == 0;
        let uid = if switched { UNPRIVILEGED } else { me };
        // Under the system's temporary directory (world-searchable), not the target dir.
        let dir = tempfile::Builder::new()
            .prefix("elirepo-user-")
            .tempdir_in(std::env::temp_dir())
            .expect("a temporary directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        if switched {
            assert!(
                super::find_on_path("setpriv").is_some(),
                "setpriv (util-linux) is needed to run a command as uid {UNPRIVILEGED}"
            );
            std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
        }
        let user = OrdinaryUser {
            _dir: dir,
            home,
            uid,
            switched,
            env: Vec::new(),
        };
        if switched {
            // The wrapper really changes the user: `id -u` under it says so.
            let o = user.command("id", &["-u"]).output().expect("setpriv id -u");
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).trim(),
                uid.to_string(),
                "setpriv did not switch to uid {uid}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        user
    }

    /// Sets an environment variable for the commands made after this call (`setpriv
    /// --reset-env` clears the caller's environment, so it is passed explicitly).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Copies `src` into the home as `name`, readable by the user; returns the copy's path.
    pub fn stage(&self, src: &Path, name: &str) -> PathBuf {
        let dst = self.home.join(name);
        std::fs::copy(src, &dst)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644)).unwrap();
        if self.switched {
            std::os::unix::fs::chown(&dst, Some(self.uid), Some(self.uid)).unwrap();
        }
        dst
    }

    /// `program args` as the ordinary user, with `HOME` and `TMPDIR` set to the home, `PATH`
    /// the default one (`setpriv --reset-env`), and the variables given to [`Self::env`].
    pub fn command(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Command {
        let mut c;
        if self.switched {
            c = Command::new("setpriv");
            c.arg(format!("--reuid={}", self.uid))
                .arg(format!("--regid={}", self.uid))
                .args(["--clear-groups", "--reset-env", "--", "env"]);
            let mut kv = |k: &OsStr, v: &OsStr| {
                let mut s = k.to_os_string();
                s.push("=");
                s.push(v);
                c.arg(s);
            };
            kv("HOME".as_ref(), self.home.as_os_str());
            kv("TMPDIR".as_ref(), self.home.as_os_str());
            for (k, v) in &self.env {
                kv(k, v);
            }
            c.arg(program);
        } else {
            c = Command::new(program);
            c.env("HOME", &self.home).env("TMPDIR", &self.home);
            c.envs(self.env.iter().map(|(k, v)| (k, v)));
        }
        c.args(args);
        c
    }

    /// The elirepo binary under test, as the ordinary user.
    pub fn elirepo(&self) -> Command {
        self.command(super::bin_under_test(), &[])
    }
}

impl Default for OrdinaryUser {
    fn default() -> Self {
        Self::new()
    }
}
