//! The build configuration: an `elirepo.toml` file, overridden by command-line flags.
//!
//! Keys are kebab-case and unknown keys are an error, so a typo never passes
//! silently. Relative paths in the file are relative to the file's directory;
//! relative paths on the command line are relative to the working directory.
//! [`resolve`] merges both into the checked [`BuildOptions`] that
//! [`crate::build`] runs.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pool::{valid_arch, valid_dist_name};
use crate::sign::SignOptions;

/// A configuration problem, naming the file or flag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for elirepo.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What toml says, with line and column.
        message: String,
    },
    /// A value is missing or wrong.
    #[error("{0}")]
    Invalid(String),
}

/// `[sign]` in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SignSection {
    /// Key id or fingerprint.
    pub key: Option<String>,
    /// gpg home directory.
    pub gpg_homedir: Option<PathBuf>,
    /// Armored secret key file to import into a temporary home.
    pub key_file: Option<PathBuf>,
    /// File holding the passphrase.
    pub passphrase_file: Option<PathBuf>,
}

/// One `[[netboot]]` table: the eliloader kernel and initrd for one architecture.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetbootInput {
    /// `i386` or `amd64`.
    pub arch: String,
    /// A FAI nfsroot.
    pub nfsroot: Option<PathBuf>,
    /// A linux-image .deb holding `boot/vmlinuz-*`.
    pub kernel_deb: Option<PathBuf>,
    /// An explicit kernel file.
    pub kernel: Option<PathBuf>,
    /// An explicit initrd file.
    pub initrd: Option<PathBuf>,
    /// Which kernel version to pick when an nfsroot holds several.
    pub kernel_version: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    /// Repository directory.
    pub repo: Option<PathBuf>,
    /// Suite (the `dists/<suite>` directory).
    pub suite: Option<String>,
    /// Codename (default: the suite).
    pub codename: Option<String>,
    /// Architectures.
    pub architectures: Option<Vec<String>>,
    /// Component (default `main`).
    pub component: Option<String>,
    /// .deb files or directories.
    pub debs: Option<Vec<PathBuf>>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `Label`.
    pub label: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// Days until `Valid-Until`.
    pub valid_for: Option<u32>,
    /// Write `by-hash/` copies and `Acquire-By-Hash: yes` (default true).
    pub by_hash: Option<bool>,
    /// Signing.
    pub sign: Option<SignSection>,
    /// Netboot inputs, one table per architecture.
    pub netboot: Option<Vec<NetbootInput>>,
    /// Put real files in `current/` instead of a symlink.
    pub no_symlinks: Option<bool>,
    /// Allow kernels over 32 MiB and initrds over 128 MiB.
    pub allow_oversize: Option<bool>,
}

/// Values given on the command line; each overrides the file's.
#[derive(Debug, Clone, Default)]
pub struct BuildFlags {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--repo`.
    pub repo: Option<PathBuf>,
    /// `--suite`.
    pub suite: Option<String>,
    /// `--codename`.
    pub codename: Option<String>,
    /// `--arch` (repeatable).
    pub architectures: Vec<String>,
    /// `--component`.
    pub component: Option<String>,
    /// `--deb` (repeatable).
    pub debs: Vec<PathBuf>,
    /// `--origin`.
    pub origin: Option<String>,
    /// `--label`.
    pub label: Option<String>,
    /// `--description`.
    pub description: Option<String>,
    /// `--valid-for`.
    pub valid_for: Option<u32>,
    /// `--no-by-hash`.
    pub no_by_hash: bool,
    /// `--sign-key`.
    pub sign_key: Option<String>,
    /// `--gpg-homedir`.
    pub gpg_homedir: Option<PathBuf>,
    /// `--sign-key-file`.
    pub sign_key_file: Option<PathBuf>,
    /// `--passphrase-file`.
    pub passphrase_file: Option<PathBuf>,
    /// `--unsigned`: ignore the file's `[sign]`.
    pub unsigned: bool,
    /// `--no-wait`.
    pub no_wait: bool,
    /// Netboot inputs from flags (replace the file's for the same architecture).
    pub netboot: Vec<NetbootInput>,
    /// `--no-symlinks`.
    pub no_symlinks: bool,
    /// `--allow-oversize`.
    pub allow_oversize: bool,
    /// `--force`: publish a kernel that fails the Xen PV check.
    pub force: bool,
}

/// Everything a build needs, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Repository directory.
    pub repo: PathBuf,
    /// Suite.
    pub suite: String,
    /// Codename.
    pub codename: String,
    /// Architectures, in the order given.
    pub architectures: Vec<String>,
    /// Component.
    pub component: String,
    /// .deb files or directories.
    pub debs: Vec<PathBuf>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `Label`.
    pub label: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// Days until `Valid-Until`.
    pub valid_for: Option<u32>,
    /// by-hash copies.
    pub by_hash: bool,
    /// Signing, if any.
    pub sign: Option<SignOptions>,
    /// Wait for the lock.
    pub wait: bool,
    /// Netboot inputs.
    pub netboot: Vec<NetbootInput>,
    /// Real files in `current/`.
    pub no_symlinks: bool,
    /// Allow oversize images.
    pub allow_oversize: bool,
    /// Publish a kernel that fails the PV check.
    pub force: bool,
}

/// `a/b/../c` as `a/c`, textually, keeping leading `..` of a relative path: paths
/// from a config file read as the user would write them.
fn clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

/// Merges the file named by `flags.config` (if any) with the flags and checks the result.
pub fn resolve(flags: BuildFlags) -> Result<BuildOptions, ConfigError> {
    let (file, base) = match &flags.config {
        Some(p) => (
            load(p)?,
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
        None => (ConfigFile::default(), PathBuf::new()),
    };
    let rel = |p: PathBuf| {
        if p.is_absolute() {
            p
        } else {
            clean(&base.join(p))
        }
    };
    let repo = flags.repo.or(file.repo.map(rel)).ok_or_else(|| {
        ConfigError::Invalid("no repository: give --repo DIR or `repo` in the config file".into())
    })?;
    let suite = flags.suite.or(file.suite).ok_or_else(|| {
        ConfigError::Invalid("no suite: give --suite NAME or `suite` in the config file".into())
    })?;
    let codename = flags
        .codename
        .or(file.codename)
        .unwrap_or_else(|| suite.clone());
    let component = flags
        .component
        .or(file.component)
        .unwrap_or_else(|| "main".into());
    for (what, v) in [
        ("suite", &suite),
        ("codename", &codename),
        ("component", &component),
    ] {
        if !valid_dist_name(v) {
            return Err(ConfigError::Invalid(format!(
                "{what} {v:?} is not a valid name (letters, digits, + - . _ ~)"
            )));
        }
    }
    let mut architectures = if flags.architectures.is_empty() {
        file.architectures.unwrap_or_default()
    } else {
        flags.architectures
    };
    let mut seen = std::collections::HashSet::new();
    architectures.retain(|a| seen.insert(a.clone()));
    if architectures.is_empty() {
        return Err(ConfigError::Invalid(
            "no architecture: give --arch ARCH (e.g. i386, amd64) or `architectures`".into(),
        ));
    }
    for a in &architectures {
        if !valid_arch(a) || a == "all" {
            return Err(ConfigError::Invalid(format!(
                "architecture {a:?} is not a valid architecture name"
            )));
        }
    }
    let debs = if flags.debs.is_empty() {
        file.debs.unwrap_or_default().into_iter().map(rel).collect()
    } else {
        flags.debs
    };
    let file_sign = file.sign.unwrap_or_default();
    let sign = if flags.unsigned {
        None
    } else {
        let s = SignOptions {
            key: flags.sign_key.or(file_sign.key),
            homedir: flags.gpg_homedir.or(file_sign.gpg_homedir.map(rel)),
            key_file: flags.sign_key_file.or(file_sign.key_file.map(rel)),
            passphrase_file: flags.passphrase_file.or(file_sign.passphrase_file.map(rel)),
        };
        (s.key.is_some() || s.key_file.is_some()).then_some(s)
    };
    let mut netboot: Vec<NetbootInput> = file
        .netboot
        .unwrap_or_default()
        .into_iter()
        .map(|n| NetbootInput {
            nfsroot: n.nfsroot.map(rel),
            kernel_deb: n.kernel_deb.map(rel),
            kernel: n.kernel.map(rel),
            initrd: n.initrd.map(rel),
            ..n
        })
        .collect();
    for n in flags.netboot {
        netboot.retain(|m| m.arch != n.arch);
        netboot.push(n);
    }
    for n in &netboot {
        if !architectures.contains(&n.arch) {
            return Err(ConfigError::Invalid(format!(
                "netboot architecture {:?} is not one of the suite's architectures ({})",
                n.arch,
                architectures.join(", ")
            )));
        }
    }
    Ok(BuildOptions {
        repo,
        suite,
        codename,
        architectures,
        component,
        debs,
        origin: flags.origin.or(file.origin),
        label: flags.label.or(file.label),
        description: flags.description.or(file.description),
        valid_for: flags.valid_for.or(file.valid_for),
        by_hash: !flags.no_by_hash && file.by_hash.unwrap_or(true),
        sign,
        wait: !flags.no_wait,
        netboot,
        no_symlinks: flags.no_symlinks || file.no_symlinks.unwrap_or(false),
        allow_oversize: flags.allow_oversize || file.allow_oversize.unwrap_or(false),
        force: flags.force,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_are_relative_to_the_file_and_flags_win() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join("elirepo.toml");
        std::fs::write(
            &cfg,
            "repo = \"public\"\nsuite = \"lenny\"\narchitectures = [\"i386\", \"amd64\"]\ndebs = [\"debs\"]\n[sign]\nkey-file = \"k.asc\"\n",
        )
        .unwrap();
        let o = resolve(BuildFlags {
            config: Some(cfg.clone()),
            label: Some("L".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(o.repo, t.path().join("public"));
        assert_eq!(
            clean(Path::new("fixtures/demo/../../target/x")),
            PathBuf::from("target/x")
        );
        assert_eq!(clean(Path::new("../a/./b")), PathBuf::from("../a/b"));
        assert_eq!(o.codename, "lenny");
        assert_eq!(o.debs, vec![t.path().join("debs")]);
        assert_eq!(o.sign.unwrap().key_file, Some(t.path().join("k.asc")));
        assert_eq!(o.label.as_deref(), Some("L"));
        let o = resolve(BuildFlags {
            config: Some(cfg),
            repo: Some("elsewhere".into()),
            architectures: vec!["amd64".into()],
            unsigned: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(o.repo, PathBuf::from("elsewhere"));
        assert_eq!(o.architectures, vec!["amd64"]);
        assert!(o.sign.is_none());
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join("elirepo.toml");
        std::fs::write(
            &cfg,
            "repo = \"x\"\nsuite = \"s\"\narchitecture = [\"i386\"]\n",
        )
        .unwrap();
        let err = resolve(BuildFlags {
            config: Some(cfg.clone()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("elirepo.toml") && err.contains("architecture"),
            "{err}"
        );
        let base = || BuildFlags {
            repo: Some("r".into()),
            suite: Some("s".into()),
            architectures: vec!["amd64".into()],
            ..Default::default()
        };
        assert!(resolve(BuildFlags {
            suite: Some("../x".into()),
            ..base()
        })
        .is_err());
        assert!(resolve(BuildFlags {
            architectures: vec!["AMD64".into()],
            ..base()
        })
        .is_err());
        assert!(resolve(BuildFlags {
            architectures: vec![],
            ..base()
        })
        .is_err());
        assert!(resolve(base()).is_ok());
    }

    /// `fixtures/elirepo.example.toml`, shipped as the commented example, names every key: with its
    /// `#key = ` alternatives uncommented, every field is set. A field added to
    /// [`ConfigFile`] fails to compile here until the example shows it.
    #[test]
    fn the_shipped_example_names_every_key() {
        let text = include_str!("../fixtures/elirepo.example.toml");
        let shipped: ConfigFile = toml::from_str(text).expect("the example parses as shipped");
        assert!(shipped.repo.is_some() && shipped.netboot.is_some());
        let all: String = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let ConfigFile {
            repo,
            suite,
            codename,
            architectures,
            component,
            debs,
            origin,
            label,
            description,
            valid_for,
            by_hash,
            sign,
            netboot,
            no_symlinks,
            allow_oversize,
        } = toml::from_str(&all).expect("the example parses with every key");
        assert!(repo.is_some() && suite.is_some() && codename.is_some());
        assert!(architectures.is_some() && component.is_some() && debs.is_some());
        assert!(origin.is_some() && label.is_some() && description.is_some());
        assert!(valid_for.is_some() && by_hash.is_some());
        assert!(no_symlinks.is_some() && allow_oversize.is_some());
        let SignSection {
            key,
            gpg_homedir,
            key_file,
            passphrase_file,
        } = sign.expect("[sign]");
        assert!(key.is_some() && gpg_homedir.is_some() && key_file.is_some());
        assert!(passphrase_file.is_some());
        let netboot = netboot.expect("[[netboot]]");
        let NetbootInput {
            arch,
            nfsroot,
            kernel_deb,
            kernel,
            initrd,
            kernel_version,
        } = &netboot[0];
        assert!(!arch.is_empty() && nfsroot.is_some() && kernel_deb.is_some());
        assert!(kernel.is_some() && initrd.is_some() && kernel_version.is_some());
    }
}
