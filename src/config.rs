//! The build configuration: an `elirepo.toml` file, overridden by command-line flags.
//!
//! One struct per stage:
//!
//! * [`ConfigFile`]: the file, as serde reads it ([`load`]). Keys are
//!   kebab-case and unknown keys are an error, so a typo never passes silently.
//! * [`BuildFlags`]: `elirepo build`'s flags. The struct is also their clap
//!   definition (the binary flattens it into its `build` command), so the flags
//!   are not copied field by field from a clap struct into a library one.
//! * [`BuildOptions`]: what [`crate::build`] runs, every value checked.
//!
//! [`resolve`] reads the file once, lets each flag override the file's value,
//! fills in the defaults and checks the result, including the rule for which
//! architecture the netboot flags are for. Relative paths in the file are
//! relative to the file's directory; relative paths on the command line are
//! relative to the working directory. No build option comes from the
//! environment: the one variable a build reads, `SOURCE_DATE_EPOCH`, is the
//! time it stamps ([`crate::release::build_time`]), not a setting.

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
    /// Netboot flags were given, but the suite has several architectures and
    /// neither `--netboot-arch` nor the file says which one they are for.
    #[error("netboot flags need --netboot-arch ARCH when the suite has several architectures")]
    NetbootArchNeeded,
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

// The build settings the command line gives (`elirepo build`'s flags); each
// overrides the file's. This is also their clap definition, so that the flags
// are not copied field by field into a second struct: each field's doc comment
// is its `--help` line, and the struct has none (clap would read it as the
// command's description).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuildFlags {
    /// Configuration file (TOML); flags override its values
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Repository directory to publish into
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Suite: publishes dists/SUITE
    #[arg(long)]
    pub suite: Option<String>,
    /// Codename (default: the suite)
    #[arg(long)]
    pub codename: Option<String>,
    /// Architecture (repeatable): i386, amd64, ...
    #[arg(long = "arch", value_name = "ARCH")]
    pub architectures: Vec<String>,
    /// Component (default: main)
    #[arg(long)]
    pub component: Option<String>,
    /// A .deb file or a directory searched for *.deb (repeatable)
    #[arg(long = "deb", value_name = "PATH")]
    pub debs: Vec<PathBuf>,
    /// Release Origin
    #[arg(long)]
    pub origin: Option<String>,
    /// Release Label
    #[arg(long)]
    pub label: Option<String>,
    /// Release Description
    #[arg(long)]
    pub description: Option<String>,
    /// Write Valid-Until this many days after Date
    #[arg(long, value_name = "DAYS")]
    pub valid_for: Option<u32>,
    /// Do not write by-hash/ copies (nor Acquire-By-Hash)
    #[arg(long)]
    pub no_by_hash: bool,
    /// gpg key to sign with (id or fingerprint)
    #[arg(long, value_name = "KEYID")]
    pub sign_key: Option<String>,
    /// gpg home directory holding the key
    #[arg(long, value_name = "DIR")]
    pub gpg_homedir: Option<PathBuf>,
    /// Armored secret key file (imported into a temporary gpg home)
    #[arg(long, value_name = "FILE")]
    pub sign_key_file: Option<PathBuf>,
    /// File holding the key's passphrase
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Ignore the config file's [sign] table and publish unsigned
    // `[sign]` is the help text's, not a link.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long)]
    pub unsigned: bool,
    /// Fail at once if another build holds the repository's lock
    #[arg(long)]
    pub no_wait: bool,
    /// Netboot: a FAI nfsroot to take the Xen kernel and initrd from
    #[arg(long, value_name = "DIR")]
    pub nfsroot: Option<PathBuf>,
    /// Netboot: a linux-image .deb to take boot/vmlinuz-* from
    #[arg(long, value_name = "FILE")]
    pub kernel_deb: Option<PathBuf>,
    /// Netboot: an explicit kernel file
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,
    /// Netboot: an explicit initrd file
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,
    /// Netboot: the kernel version to publish when there are several
    #[arg(long, value_name = "VERSION")]
    pub kernel_version: Option<String>,
    /// Netboot: the installer architecture (default: the suite's only one)
    #[arg(long, value_name = "ARCH")]
    pub netboot_arch: Option<String>,
    /// Put real files in installer-ARCH/current/ instead of a symlink
    #[arg(long)]
    pub no_symlinks: bool,
    /// Allow a kernel over 32 MiB or an initrd over 128 MiB
    #[arg(long)]
    pub allow_oversize: bool,
    /// Publish a kernel that fails the Xen PV check (the guest will not boot)
    #[arg(long)]
    pub force: bool,
    /// Boot each netboot pair under Xen in QEMU first (see boot-test); publish only if it boots
    #[arg(long)]
    pub boot_test: bool,
}

impl BuildFlags {
    /// The netboot input the flags give (`--nfsroot`, `--kernel-deb`,
    /// `--kernel`, `--initrd`, with `--kernel-version`), for the architecture
    /// [`netboot_flags_arch`] finds; none when none of the four is given.
    fn netboot(&self, file: Option<&ConfigFile>) -> Result<Option<NetbootInput>, ConfigError> {
        if self.nfsroot.is_none()
            && self.kernel_deb.is_none()
            && self.kernel.is_none()
            && self.initrd.is_none()
        {
            return Ok(None);
        }
        let arch = netboot_flags_arch(self.netboot_arch.as_deref(), &self.architectures, file)
            .ok_or(ConfigError::NetbootArchNeeded)?;
        Ok(Some(NetbootInput {
            arch,
            nfsroot: self.nfsroot.clone(),
            kernel_deb: self.kernel_deb.clone(),
            kernel: self.kernel.clone(),
            initrd: self.initrd.clone(),
            kernel_version: self.kernel_version.clone(),
        }))
    }
}

/// The architecture the netboot flags publish for: `--netboot-arch`; else the
/// only `--arch`; else, with no `--arch`, the file's only `[[netboot]]`
/// table's, else the file's only architecture. `None` when that leaves a
/// choice. So `--nfsroot DIR` goes with `--config FILE` alone when the file
/// names one architecture or describes one netboot tree.
fn netboot_flags_arch(
    netboot_arch: Option<&str>,
    flag_architectures: &[String],
    file: Option<&ConfigFile>,
) -> Option<String> {
    match (netboot_arch, flag_architectures) {
        (Some(arch), _) => Some(arch.to_string()),
        (None, [only]) => Some(only.clone()),
        (None, []) => {
            let file = file?;
            match (file.netboot.as_deref(), file.architectures.as_deref()) {
                (Some([only]), _) => Some(only.arch.clone()),
                (_, Some([only])) => Some(only.clone()),
                _ => None,
            }
        }
        _ => None,
    }
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
    /// Boot each netboot pair under Xen before publishing ([`crate::boot`]).
    pub boot_test: bool,
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
///
/// The file is read once. Netboot flags that cannot be placed on an
/// architecture are the first error, even before an unreadable file's (the
/// file only helps to place them); then the file's errors, then the missing
/// and wrong values, in the order of [`BuildOptions`]' fields.
pub fn resolve(flags: BuildFlags) -> Result<BuildOptions, ConfigError> {
    let loaded = flags.config.as_deref().map(load);
    let flag_netboot = flags.netboot(loaded.as_ref().and_then(|f| f.as_ref().ok()))?;
    let file = loaded.transpose()?.unwrap_or_default();
    let base = flags
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
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
    check_names(&suite, &codename, &component)?;
    let architectures = architectures(flags.architectures, file.architectures)?;
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
    let file_netboot = file
        .netboot
        .unwrap_or_default()
        .into_iter()
        .map(|n| NetbootInput {
            nfsroot: n.nfsroot.map(rel),
            kernel_deb: n.kernel_deb.map(rel),
            kernel: n.kernel.map(rel),
            initrd: n.initrd.map(rel),
            ..n
        });
    let netboot = netboot(file_netboot.collect(), flag_netboot, &architectures)?;
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
        boot_test: flags.boot_test,
    })
}

/// Suite, codename and component must be names apt and the pool accept.
fn check_names(suite: &str, codename: &str, component: &str) -> Result<(), ConfigError> {
    for (what, v) in [
        ("suite", suite),
        ("codename", codename),
        ("component", component),
    ] {
        if !valid_dist_name(v) {
            return Err(ConfigError::Invalid(format!(
                "{what} {v:?} is not a valid name (letters, digits, + - . _ ~)"
            )));
        }
    }
    Ok(())
}

/// The flags' architectures, else the file's; duplicates dropped, at least
/// one, each a valid name and none `all`.
fn architectures(
    flags: Vec<String>,
    file: Option<Vec<String>>,
) -> Result<Vec<String>, ConfigError> {
    let mut architectures = if flags.is_empty() {
        file.unwrap_or_default()
    } else {
        flags
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
    Ok(architectures)
}

/// The file's netboot tables, the flags' input replacing the table for its
/// architecture; each must be for one of the suite's architectures.
fn netboot(
    mut netboot: Vec<NetbootInput>,
    flags: Option<NetbootInput>,
    architectures: &[String],
) -> Result<Vec<NetbootInput>, ConfigError> {
    if let Some(n) = flags {
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
    Ok(netboot)
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

    #[test]
    fn which_architecture_the_netboot_flags_are_for() {
        let archs = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let file = |text: &str| toml::from_str::<ConfigFile>(text).unwrap();
        let two = file("architectures = [\"i386\", \"amd64\"]");
        let one_table =
            file("architectures = [\"i386\", \"amd64\"]\n[[netboot]]\narch = \"amd64\"\n");
        let one = file("architectures = [\"i386\"]");
        let both = file("architectures = [\"i386\"]\n[[netboot]]\narch = \"amd64\"\n");
        let rule = netboot_flags_arch;
        // --netboot-arch wins, over --arch and the file.
        assert_eq!(
            rule(Some("x"), &archs(&["a", "b"]), Some(&two)).as_deref(),
            Some("x")
        );
        // Else the only --arch, whatever the file says.
        assert_eq!(
            rule(None, &archs(&["a"]), Some(&one_table)).as_deref(),
            Some("a")
        );
        // Several --arch: no rule picks one, not even the file's.
        assert_eq!(rule(None, &archs(&["a", "b"]), Some(&one_table)), None);
        // No --arch: the file's only [[netboot]] table, else its only architecture.
        assert_eq!(rule(None, &[], Some(&one_table)).as_deref(), Some("amd64"));
        assert_eq!(rule(None, &[], Some(&one)).as_deref(), Some("i386"));
        assert_eq!(rule(None, &[], Some(&both)).as_deref(), Some("amd64"));
        assert_eq!(rule(None, &[], Some(&two)), None);
        assert_eq!(rule(None, &[], None), None);
    }

    #[test]
    fn netboot_flags_replace_the_files_table_for_their_architecture() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join("elirepo.toml");
        std::fs::write(
            &cfg,
            "repo = \"r\"\nsuite = \"s\"\narchitectures = [\"i386\", \"amd64\"]\n\
             [[netboot]]\narch = \"amd64\"\nnfsroot = \"old\"\n",
        )
        .unwrap();
        let flags = || BuildFlags {
            config: Some(cfg.clone()),
            nfsroot: Some("/new".into()),
            kernel_version: Some("6.1".into()),
            ..Default::default()
        };
        let o = resolve(flags()).unwrap();
        assert_eq!(
            o.netboot,
            vec![NetbootInput {
                arch: "amd64".into(),
                nfsroot: Some("/new".into()),
                kernel_version: Some("6.1".into()),
                ..Default::default()
            }]
        );
        let o = resolve(BuildFlags {
            netboot_arch: Some("i386".into()),
            ..flags()
        })
        .unwrap();
        let archs: Vec<&str> = o.netboot.iter().map(|n| n.arch.as_str()).collect();
        assert_eq!(archs, ["amd64", "i386"]);
        assert_eq!(o.netboot[0].nfsroot, Some(t.path().join("old")));
        // --kernel-version alone is no netboot input.
        let o = resolve(BuildFlags {
            nfsroot: None,
            ..flags()
        })
        .unwrap();
        assert_eq!(o.netboot[0].nfsroot, Some(t.path().join("old")));
        let err = resolve(BuildFlags {
            netboot_arch: Some("arm64".into()),
            ..flags()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "netboot architecture \"arm64\" is not one of the suite's architectures (i386, amd64)"
        );
        // Several architectures and several --arch: the flags need --netboot-arch,
        // and that is the first error, before an unreadable file's.
        for config in [Some(cfg.clone()), Some(t.path().join("missing.toml"))] {
            let err = resolve(BuildFlags {
                config,
                architectures: vec!["i386".into(), "amd64".into()],
                ..flags()
            })
            .unwrap_err();
            assert!(matches!(err, ConfigError::NetbootArchNeeded), "{err}");
        }
        // Without netboot flags, an unreadable file is the error.
        let err = resolve(BuildFlags {
            config: Some(t.path().join("missing.toml")),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
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
