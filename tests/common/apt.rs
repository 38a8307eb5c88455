//! A real apt client, isolated in a temp dir, for the end-to-end tests.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use super::{output_of, tempdir};
// Also importable from here, as the apt tests always have.
pub use super::{both, text};

/// A real apt, isolated in a temp dir: its own state, lists, cache, log,
/// sources.list, preferences and (empty) apt.conf.d, given through
/// `APT_CONFIG` so that the host's `/etc/apt/apt.conf.d` (hooks, and
/// `Check-Valid-Until "false"` on this machine) is not read at all. Date and
/// Valid-Until checks are on, as on a stock Debian.
pub struct Apt {
    dir: tempfile::TempDir,
}

impl Apt {
    /// A client of `file:<repo> <suite> main` for amd64 and i386, checking
    /// signatures against `keyring` (or `[trusted=yes]` when `None`).
    pub fn new(repo: &Path, suite: &str, keyring: Option<&Path>) -> Apt {
        let dir = tempdir();
        let d = dir.path();
        for sub in [
            "state/lists/partial",
            "cache/archives/partial",
            "log",
            "etc/apt.conf.d",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/trusted.gpg.d",
            "download",
        ] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        fs::write(d.join("state/status"), "").unwrap();
        let repo = fs::canonicalize(repo).unwrap();
        let opts = match keyring {
            Some(k) => format!("arch=amd64,i386 signed-by={}", k.display()),
            None => "arch=amd64,i386 trusted=yes".to_string(),
        };
        fs::write(
            d.join("etc/sources.list"),
            format!("deb [{opts}] file:{} {suite} main\n", repo.display()),
        )
        .unwrap();
        let p = |s: &str| d.join(s).display().to_string();
        let conf = format!(
            "Dir::State \"{}\";\n\
             Dir::State::Lists \"{}\";\n\
             Dir::State::status \"{}\";\n\
             Dir::Cache \"{}\";\n\
             Dir::Log \"{}\";\n\
             Dir::Etc::SourceList \"{}\";\n\
             Dir::Etc::SourceParts \"{}\";\n\
             Dir::Etc::Preferences \"{}\";\n\
             Dir::Etc::PreferencesParts \"{}\";\n\
             Dir::Etc::Parts \"{}\";\n\
             Dir::Etc::Main \"/dev/null\";\n\
             Dir::Etc::Trusted \"{}\";\n\
             Dir::Etc::TrustedParts \"{}\";\n\
             APT::Architecture \"amd64\";\n\
             APT::Architectures {{ \"amd64\"; \"i386\"; }};\n\
             Debug::NoLocking \"1\";\n\
             APT::Sandbox::User \"root\";\n\
             Acquire::Check-Valid-Until \"true\";\n\
             Acquire::Check-Date \"true\";\n",
            p("state"),
            p("state/lists"),
            p("state/status"),
            p("cache"),
            p("log"),
            p("etc/sources.list"),
            p("etc/sources.list.d"),
            p("etc/preferences"),
            p("etc/preferences.d"),
            p("etc/apt.conf.d"),
            p("etc/trusted.gpg"),
            p("etc/trusted.gpg.d"),
        );
        fs::write(d.join("apt.conf"), conf).unwrap();
        Apt { dir }
    }

    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("APT_CONFIG", self.dir.path().join("apt.conf"))
            .env("LC_ALL", "C")
            .current_dir(self.dir.path().join("download"));
        c
    }

    pub fn update_with(&self, extra: &[&str]) -> Output {
        output_of(self.cmd("apt-get").arg("update").args(extra))
    }

    /// `apt-get update` must succeed with no `W:` and no `E:` line.
    pub fn update_clean(&self) {
        let o = self.update_with(&[]);
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        let bad: Vec<&str> = all
            .lines()
            .filter(|l| l.starts_with("W:") || l.starts_with("E:"))
            .collect();
        assert!(
            o.status.success() && bad.is_empty(),
            "apt-get update is not clean: {bad:?}\n{}",
            both(&o)
        );
    }

    /// `apt-get update` must fail, saying `what`.
    pub fn update_fails(&self, what: &str) -> String {
        let o = self.update_with(&[]);
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert!(
            !o.status.success() && all.contains(what),
            "apt-get update should fail with {what:?}:\n{}",
            both(&o)
        );
        all
    }

    pub fn query(&self, prog: &str, args: &[&str]) -> String {
        let o = output_of(self.cmd(prog).args(args));
        assert!(o.status.success(), "{prog} {args:?}:\n{}", both(&o));
        text(&o.stdout)
    }

    /// `apt-get download` of each `pkg[:arch]`; returns the downloaded files by name.
    pub fn download(&self, pkgs: &[&str]) -> BTreeMap<String, Vec<u8>> {
        let dl = self.dir.path().join("download");
        for e in fs::read_dir(&dl).unwrap() {
            fs::remove_file(e.unwrap().path()).unwrap();
        }
        let o = output_of(self.cmd("apt-get").arg("download").args(pkgs));
        assert!(
            o.status.success(),
            "apt-get download {pkgs:?}:\n{}",
            both(&o)
        );
        assert!(!text(&o.stderr).contains("W:"), "{}", both(&o));
        fs::read_dir(&dl)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }
}

impl Apt {
    /// A client of `deb [arch=amd64,i386 signed-by=KEYRING] <url> <suite> main`
    /// (e.g. the loopback [`super::Server`]'s base URL), isolated like
    /// [`Apt::new`], with no proxy whatever the environment says.
    pub fn over_url(url: &str, suite: &str, keyring: Option<&Path>) -> Apt {
        let apt = Apt::new(Path::new("/"), suite, keyring);
        let d = apt.dir.path();
        let opts = match keyring {
            Some(k) => format!("arch=amd64,i386 signed-by={}", k.display()),
            None => "arch=amd64,i386 trusted=yes".to_string(),
        };
        fs::write(
            d.join("etc/sources.list"),
            format!("deb [{opts}] {url} {suite} main\n"),
        )
        .unwrap();
        let mut conf = fs::read_to_string(d.join("apt.conf")).unwrap();
        conf += "Acquire::http::Proxy \"DIRECT\";\nAcquire::Retries \"0\";\n";
        fs::write(d.join("apt.conf"), conf).unwrap();
        apt
    }

    /// [`Apt::update_clean`] that also returns what apt printed (stdout then stderr).
    pub fn update_clean_output(&self) -> String {
        let o = self.update_with(&[]);
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        let bad: Vec<&str> = all
            .lines()
            .filter(|l| l.starts_with("W:") || l.starts_with("E:"))
            .collect();
        assert!(
            o.status.success() && bad.is_empty(),
            "apt-get update is not clean: {bad:?}\n{}",
            both(&o)
        );
        all
    }
}

/// Non-panicking checks, for tests that collect every failure of one state
/// (tests/crash.rs judges a repository after each kill with all of them).
impl Apt {
    /// `apt-get update`: Ok when it succeeds with no `W:` and no `E:` line, else
    /// the offending lines and the whole output.
    pub fn try_update(&self) -> Result<(), String> {
        let o = self.update_with(&[]);
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        let bad: Vec<&str> = all
            .lines()
            .filter(|l| l.starts_with("W:") || l.starts_with("E:"))
            .collect();
        if o.status.success() && bad.is_empty() {
            Ok(())
        } else {
            Err(format!("{bad:?}\n{}", both(&o)))
        }
    }

    /// The packages apt knows from its lists, as `name version arch`, sorted.
    pub fn try_available(&self) -> Result<Vec<String>, String> {
        let o = output_of(self.cmd("apt-cache").arg("dumpavail"));
        if !o.status.success() {
            return Err(both(&o));
        }
        let mut out = Vec::new();
        for stanza in text(&o.stdout).split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                    .unwrap_or("")
                    .to_string()
            };
            let p = field("Package");
            if !p.is_empty() {
                out.push(format!(
                    "{p} {} {}",
                    field("Version"),
                    field("Architecture")
                ));
            }
        }
        out.sort();
        Ok(out)
    }

    /// `apt-get download` of each `pkg[:arch]`: the downloaded files by name,
    /// or the output when it fails or warns.
    pub fn try_download(&self, pkgs: &[&str]) -> Result<BTreeMap<String, Vec<u8>>, String> {
        let dl = self.dir.path().join("download");
        for e in fs::read_dir(&dl).map_err(|e| e.to_string())? {
            let p = e.map_err(|e| e.to_string())?.path();
            fs::remove_file(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let o = output_of(self.cmd("apt-get").arg("download").args(pkgs));
        if !o.status.success() || text(&o.stderr).contains("W:") {
            return Err(both(&o));
        }
        let mut got = BTreeMap::new();
        for e in fs::read_dir(&dl).map_err(|e| e.to_string())? {
            let e = e.map_err(|e| e.to_string())?;
            let bytes = fs::read(e.path()).map_err(|e| e.to_string())?;
            got.insert(e.file_name().to_string_lossy().into_owned(), bytes);
        }
        Ok(got)
    }
}

impl Apt {
    /// Makes this client hold what `other` fetched, as if it had run the same
    /// `apt-get update`: `other`'s lists copied over this one's, this one's package
    /// cache dropped. Both must have the same sources.
    pub fn copy_lists_from(&self, other: &Apt) {
        let (from, to) = (
            other.dir.path().join("state/lists"),
            self.dir.path().join("state/lists"),
        );
        for e in fs::read_dir(&to).unwrap().flatten() {
            if e.file_type().unwrap().is_file() {
                fs::remove_file(e.path()).unwrap();
            }
        }
        for e in fs::read_dir(&from).unwrap().flatten() {
            if e.file_type().unwrap().is_file() {
                fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
        for e in fs::read_dir(self.dir.path().join("cache"))
            .unwrap()
            .flatten()
        {
            if e.file_name().to_string_lossy().ends_with(".bin") {
                fs::remove_file(e.path()).unwrap();
            }
        }
    }
}
