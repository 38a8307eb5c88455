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
//! relative to the working directory. Every file or directory that holds a
//! key (`--sign-key-file`, `--passphrase-file`, `--gpg-homedir` and their
//! `[sign]` keys, and `verify --keyring`) is made absolute and checked by
//! [`check_key_path`] before gpg or gpgv sees it. No build option comes from the
//! environment: `SOURCE_DATE_EPOCH` is the time a build stamps, not a setting;
//! the front end reads it ([`crate::release::BuildTime::from_env`]) and hands
//! it to [`crate::build::build`].

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
        /// What toml says, with line and column, its lines kept (the line of
        /// the file and the caret under the mistake).
        message: String,
    },
    /// An architecture by another name than Debian's (`x86_64` for `amd64`).
    #[error("architecture {given:?} is not a Debian architecture name")]
    ArchName {
        /// The name given.
        given: String,
        /// The Debian architecture it means.
        meant: &'static str,
    },
    /// A value is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// Netboot flags were given, but the suite has several architectures and
    /// neither `--netboot-arch` nor the file says which one they are for.
    #[error("netboot flags need --netboot-arch ARCH when the suite has several architectures")]
    NetbootArchNeeded,
    /// Signing flags that name no key (`--passphrase-file` or `--gpg-homedir`
    /// alone): they replace the file's `[sign]` table, so they need a key too.
    #[error("{flags} without a key: give --sign-key KEYID or --sign-key-file FILE too")]
    SigningFlagsWithoutKey {
        /// The signing flags given.
        flags: String,
    },
    /// A key, keyring, passphrase file or gpg home directory that an option
    /// names cannot be used. `path` is absolute: where elirepo looked.
    #[error("{}: {problem} ({option})", path.display())]
    KeyFile {
        /// The file or directory, absolute.
        path: PathBuf,
        /// The option as the user wrote it: `--keyring ring.gpg`, or
        /// `key-file = "k.asc" in elirepo.toml`.
        option: String,
        /// What is wrong with it.
        problem: KeyFileProblem,
    },
}

/// What an option that takes a key, a keyring, a passphrase file or a gpg home
/// directory must name ([`check_key_path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    /// A public keyring for gpgv: binary OpenPGP public keys or a GnuPG keybox.
    Keyring,
    /// A secret key to import into gpg: armored or binary.
    SecretKey,
    /// A file holding a passphrase.
    Passphrase,
    /// A gpg home directory.
    GpgHome,
}

/// Why a file named by a key option cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileProblem {
    /// Nothing is there.
    #[error("does not exist")]
    Missing,
    /// A gpg home directory that is not there.
    #[error("directory does not exist")]
    NoDirectory,
    /// A directory or a device where a file is wanted.
    #[error("not a file")]
    NotAFile,
    /// A file where a gpg home directory is wanted.
    #[error("not a directory")]
    NotADirectory,
    /// It cannot be read.
    #[error("cannot read: {0}")]
    Unreadable(String),
    /// Neither binary OpenPGP public keys nor a GnuPG keybox.
    #[error("not an OpenPGP keyring (neither binary public keys nor a GnuPG keybox)")]
    NotAKeyring,
    /// An armored public key, which gpgv does not read as a keyring.
    #[error("an armored key, not a keyring: gpgv reads binary keyrings only")]
    ArmoredKeyring,
    /// Not an OpenPGP secret key, armored or binary.
    #[error("not an OpenPGP key (no \"-----BEGIN PGP PRIVATE KEY BLOCK-----\" and no binary key)")]
    NotAKey,
    /// Public keys only: nothing to sign with.
    #[error("holds a public key, not a secret key: it cannot sign")]
    PublicKeyOnly,
}

/// How a file's first bytes say what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyBytes {
    /// A binary OpenPGP packet with this tag (5 secret key, 6 public key).
    Packet(u8),
    /// A GnuPG keybox (`pubring.kbx`).
    Keybox,
    /// An ASCII-armored public key block.
    ArmoredPublic,
    /// An ASCII-armored private key block.
    ArmoredPrivate,
    /// Anything else.
    Other,
}

/// What `head` (a file's first bytes) holds: RFC 4880's packet header (old
/// format: tag in bits 5-2; new format: bits 5-0), GnuPG's keybox magic at
/// offset 8, or an armor header line anywhere in the text.
fn key_bytes(head: &[u8]) -> KeyBytes {
    if head.len() >= 12 && &head[8..12] == b"KBXf" {
        return KeyBytes::Keybox;
    }
    match head.first() {
        Some(&b) if b & 0x80 != 0 => {
            let tag = if b & 0x40 != 0 {
                b & 0x3f
            } else {
                (b >> 2) & 0x0f
            };
            KeyBytes::Packet(tag)
        }
        _ => {
            let text = String::from_utf8_lossy(head);
            if text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
                KeyBytes::ArmoredPrivate
            } else if text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
                KeyBytes::ArmoredPublic
            } else {
                KeyBytes::Other
            }
        }
    }
}

/// `path` made absolute (relative to the working directory) and checked to be
/// what `kind` wants, before gpg or gpgv sees it: gpgv looks a name without a
/// slash up in `~/.gnupg`, and a missing or wrong file is better reported by
/// name than by gpg. `option` names the option as the user wrote it, for the
/// error.
pub fn check_key_path(
    path: &Path,
    kind: KeyFileKind,
    option: impl Into<String>,
) -> Result<PathBuf, ConfigError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let fail = |problem| ConfigError::KeyFile {
        path: abs.clone(),
        option: option.into(),
        problem,
    };
    let meta = match std::fs::metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(if kind == KeyFileKind::GpgHome {
                KeyFileProblem::NoDirectory
            } else {
                KeyFileProblem::Missing
            }))
        }
        Err(e) => return Err(fail(KeyFileProblem::Unreadable(e.to_string()))),
    };
    if kind == KeyFileKind::GpgHome {
        return if meta.is_dir() {
            Ok(abs)
        } else {
            Err(fail(KeyFileProblem::NotADirectory))
        };
    }
    if !meta.is_file() {
        return Err(fail(KeyFileProblem::NotAFile));
    }
    let mut head = Vec::with_capacity(4096);
    let read = std::fs::File::open(&abs).and_then(|f| {
        use std::io::Read;
        f.take(4096).read_to_end(&mut head)
    });
    if let Err(e) = read {
        return Err(fail(KeyFileProblem::Unreadable(e.to_string())));
    }
    let problem = match (kind, key_bytes(&head)) {
        (KeyFileKind::Passphrase, _) => None,
        (KeyFileKind::Keyring, KeyBytes::Packet(6) | KeyBytes::Keybox) => None,
        (KeyFileKind::Keyring, KeyBytes::ArmoredPublic) => Some(KeyFileProblem::ArmoredKeyring),
        (KeyFileKind::Keyring, _) => Some(KeyFileProblem::NotAKeyring),
        (KeyFileKind::SecretKey, KeyBytes::Packet(5) | KeyBytes::ArmoredPrivate) => None,
        (
            KeyFileKind::SecretKey,
            KeyBytes::Packet(6) | KeyBytes::Keybox | KeyBytes::ArmoredPublic,
        ) => Some(KeyFileProblem::PublicKeyOnly),
        (KeyFileKind::SecretKey, _) => Some(KeyFileProblem::NotAKey),
        (KeyFileKind::GpgHome, _) => None,
    };
    match problem {
        Some(p) => Err(fail(p)),
        None => Ok(abs),
    }
}

impl ConfigError {
    /// For an unknown key, the known key it is likely a typo of: the one
    /// toml lists as expected that is closest by edit distance (at most 3, and
    /// less than half the key), `valid_for` giving `valid-for`.
    pub fn suggestion(&self) -> Option<String> {
        let ConfigError::Parse { message, .. } = self else {
            return None;
        };
        let rest = &message[message.find("unknown field `")? + "unknown field `".len()..];
        let unknown = &rest[..rest.find('`')?];
        let expected = &rest[rest.find("expected")?..];
        let expected = expected.lines().next().unwrap_or_default();
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let kebab = unknown.replace('_', "-");
        candidates
            .iter()
            .map(|c| (edit_distance(&kebab, c), *c))
            .filter(|&(d, c)| d <= 3 && d * 2 < c.len().max(kebab.len()))
            .min()
            .map(|(_, c)| c.to_string())
    }
}

/// Levenshtein distance between `a` and `b`, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
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
    /// The `[publish]` table, read by `elirepo publish --config`; checked here too,
    /// so a typo in it fails `build` as well.
    pub publish: Option<crate::remote::PublishConfig>,
    /// Publish a suite with no package (default false).
    pub allow_empty: Option<bool>,
    /// Let one build remove more than half of the suite's packages (default false).
    pub allow_removals: Option<bool>,
    /// The xz preset of `Packages.xz`, 0 to 9 (default 6).
    pub xz_preset: Option<u32>,
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
    #[arg(
        long = "arch",
        value_name = "ARCH",
        value_parser = SuggestedValues(&COMMON_ARCHITECTURES),
        hide_possible_values = true
    )]
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
    #[arg(long, value_name = "FILE", conflicts_with = "gpg_homedir")]
    pub sign_key_file: Option<PathBuf>,
    /// File holding the key's passphrase
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Ignore the config file's [sign] table and publish unsigned
    // `[sign]` is the help text's, not a link.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long, conflicts_with_all = ["sign_key", "gpg_homedir", "sign_key_file", "passphrase_file"])]
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
    #[arg(
        long,
        value_name = "ARCH",
        value_parser = SuggestedValues(&crate::eliloader::ARCHITECTURES),
        hide_possible_values = true
    )]
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
    /// Publish even when the inputs hold no package (an empty suite)
    #[arg(long)]
    pub allow_empty: bool,
    /// Publish even when more than half of the suite's packages would go at once
    #[arg(long)]
    pub allow_removals: bool,
    /// xz preset of Packages.xz, 0 (fastest) to 9 (default: 6, apt-ftparchive's)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=9))]
    pub xz_preset: Option<u32>,
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
    /// Publish a suite with no package.
    pub allow_empty: bool,
    /// Remove more than half of the suite's packages at once.
    pub allow_removals: bool,
    /// The xz preset of `Packages.xz` (0 to 9; [`DEFAULT_XZ_PRESET`] by default).
    pub xz_preset: u32,
}

/// The xz preset of `Packages.xz` unless told otherwise: xz's and apt-ftparchive's
/// default. A lower one is faster and larger: a first build of 50,000 packages
/// spent 8.9–9.2 user CPU-seconds at preset 1 against 14.7 at 6, for a
/// `Packages.xz` 19 % larger (6.40 MB against 5.38).
pub const DEFAULT_XZ_PRESET: u32 = 6;

/// A clap value parser that accepts any string and offers `names` to shell
/// completion (`--arch <TAB>`), without restricting what is accepted: the
/// names help, the checks stay elirepo's (with hints clap could not give).
#[derive(Clone, Copy, Debug)]
pub struct SuggestedValues(pub &'static [&'static str]);

impl clap::builder::TypedValueParser for SuggestedValues {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::TypedValueParser::parse_ref(
            &clap::builder::StringValueParser::new(),
            cmd,
            arg,
            value,
        )
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.0.iter().map(|n| clap::builder::PossibleValue::new(*n)),
        ))
    }
}

/// Debian architecture names people most often mean, for completion and
/// suggestions (any valid name is accepted).
pub const COMMON_ARCHITECTURES: [&str; 10] = [
    "amd64", "i386", "arm64", "armhf", "armel", "ppc64el", "s390x", "riscv64", "mips64el",
    "loong64",
];

/// The Debian architecture `name` means when it is not one itself: the
/// kernel's names (`uname -m`: `x86_64` is `amd64`, `i686` is `i386`,
/// `aarch64` is `arm64`) and the right name in capitals.
pub fn debian_arch_for(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let meant = match lower.as_str() {
        "x86_64" | "x86-64" | "x64" => "amd64",
        "i686" | "i586" | "i486" | "x86" | "ia32" => "i386",
        "aarch64" | "armv8" | "armv8l" => "arm64",
        "armv7" | "armv7l" => "armhf",
        "ppc64le" => "ppc64el",
        other => COMMON_ARCHITECTURES.into_iter().find(|a| *a == other)?,
    };
    (meant != name).then_some(meant)
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
        message: e.to_string().trim().to_string(),
    })
}

/// Merges the file named by `flags.config` (if any) with the flags and checks the result.
///
/// The file is read once. Netboot flags that cannot be placed on an
/// architecture are the first error, even before an unreadable file's (the
/// file only helps to place them); then the file's errors, then the missing
/// and wrong values, in the order of [`BuildOptions`]' fields.
pub fn resolve(mut flags: BuildFlags) -> Result<BuildOptions, ConfigError> {
    let loaded = flags.config.as_deref().map(load);
    let flag_netboot = flags.netboot(loaded.as_ref().and_then(|f| f.as_ref().ok()))?;
    let mut file = loaded.transpose()?.unwrap_or_default();
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
    let repo = flags.repo.take().or(file.repo.map(rel)).ok_or_else(|| {
        ConfigError::Invalid("no repository: give --repo DIR or `repo` in the config file".into())
    })?;
    let suite = flags.suite.take().or(file.suite).ok_or_else(|| {
        ConfigError::Invalid("no suite: give --suite NAME or `suite` in the config file".into())
    })?;
    let codename = flags
        .codename
        .take()
        .or(file.codename)
        .unwrap_or_else(|| suite.clone());
    let component = flags
        .component
        .take()
        .or(file.component)
        .unwrap_or_else(|| "main".into());
    check_names(&suite, &codename, &component)?;
    let architectures =
        architectures(std::mem::take(&mut flags.architectures), file.architectures)?;
    let debs = if flags.debs.is_empty() {
        file.debs.unwrap_or_default().into_iter().map(rel).collect()
    } else {
        std::mem::take(&mut flags.debs)
    };
    let config_name = flags
        .config
        .as_deref()
        .map(|c| c.display().to_string())
        .unwrap_or_default();
    let sign = signing(&mut flags, file.sign.take(), &rel, &config_name)?;
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
    let xz_preset = match (flags.xz_preset, file.xz_preset) {
        (Some(p), _) => p,
        (None, Some(p)) if p > 9 => {
            return Err(ConfigError::Invalid(format!(
                "{config_name}: xz-preset = {p}: the xz preset is 0 to 9"
            )))
        }
        (None, p) => p.unwrap_or(DEFAULT_XZ_PRESET),
    };
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
        allow_empty: flags.allow_empty || file.allow_empty.unwrap_or(false),
        allow_removals: flags.allow_removals || file.allow_removals.unwrap_or(false),
        xz_preset,
    })
}

/// The signing choice. It is one choice: any signing flag (or `--unsigned`)
/// replaces the file's `[sign]` table as a whole. Merged key by key, a key id
/// from one place was looked for in a key file from the other.
fn signing(
    flags: &mut BuildFlags,
    file_sign: Option<SignSection>,
    rel: &dyn Fn(PathBuf) -> PathBuf,
    config_name: &str,
) -> Result<Option<SignOptions>, ConfigError> {
    let flag_signs = [
        flags.sign_key.is_some().then_some("--sign-key"),
        flags.gpg_homedir.is_some().then_some("--gpg-homedir"),
        flags.sign_key_file.is_some().then_some("--sign-key-file"),
        flags
            .passphrase_file
            .is_some()
            .then_some("--passphrase-file"),
    ];
    let flag_signs: Vec<&str> = flag_signs.into_iter().flatten().collect();
    if flags.unsigned {
        Ok(None)
    } else if !flag_signs.is_empty() {
        signing_from_flags(flags, &flag_signs).map(Some)
    } else if let Some(file_sign) = file_sign {
        signing_from_file(file_sign, rel, config_name).map(Some)
    } else {
        Ok(None)
    }
}

/// `--sign-key`, `--gpg-homedir`, `--sign-key-file`, `--passphrase-file`, checked.
fn signing_from_flags(
    flags: &mut BuildFlags,
    flag_signs: &[&str],
) -> Result<SignOptions, ConfigError> {
    let path = |p: PathBuf, name: &str, kind| {
        let option = format!("{name} {}", p.display());
        check_key_path(&p, kind, option)
    };
    let s = SignOptions {
        key: flags.sign_key.take(),
        homedir: flags
            .gpg_homedir
            .take()
            .map(|p| path(p, "--gpg-homedir", KeyFileKind::GpgHome))
            .transpose()?,
        key_file: flags
            .sign_key_file
            .take()
            .map(|p| path(p, "--sign-key-file", KeyFileKind::SecretKey))
            .transpose()?,
        passphrase_file: flags
            .passphrase_file
            .take()
            .map(|p| path(p, "--passphrase-file", KeyFileKind::Passphrase))
            .transpose()?,
    };
    if s.key.is_none() && s.key_file.is_none() {
        return Err(ConfigError::SigningFlagsWithoutKey {
            flags: flag_signs.join(" "),
        });
    }
    Ok(s)
}

/// The file's `[sign]` table, its paths relative to the file, checked.
fn signing_from_file(
    file_sign: SignSection,
    rel: &dyn Fn(PathBuf) -> PathBuf,
    config_name: &str,
) -> Result<SignOptions, ConfigError> {
    let path = |p: PathBuf, key: &str, kind| {
        let option = format!("{key} = {:?} in {config_name}", p.display().to_string());
        check_key_path(&rel(p), kind, option)
    };
    let s = SignOptions {
        key: file_sign.key,
        homedir: file_sign
            .gpg_homedir
            .map(|p| path(p, "gpg-homedir", KeyFileKind::GpgHome))
            .transpose()?,
        key_file: file_sign
            .key_file
            .map(|p| path(p, "key-file", KeyFileKind::SecretKey))
            .transpose()?,
        passphrase_file: file_sign
            .passphrase_file
            .map(|p| path(p, "passphrase-file", KeyFileKind::Passphrase))
            .transpose()?,
    };
    if s.key.is_none() && s.key_file.is_none() {
        return Err(ConfigError::Invalid(format!(
            "{config_name}: [sign] names neither `key` nor `key-file`: give one, \
             or leave [sign] out for an unsigned repository"
        )));
    }
    if s.key_file.is_some() && s.homedir.is_some() {
        return Err(ConfigError::Invalid(format!(
            "{config_name}: [sign] has both `key-file` and `gpg-homedir`: the key file \
             is imported into a temporary gpg home, so give one of them"
        )));
    }
    Ok(s)
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
        if let Some(meant) = debian_arch_for(a) {
            return Err(ConfigError::ArchName {
                given: a.clone(),
                meant,
            });
        }
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
        std::fs::copy("fixtures/demo/demo-signing-key.asc", t.path().join("k.asc")).unwrap();
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
    fn a_signing_flag_replaces_the_files_sign_table_as_a_whole() {
        let t = tempfile::tempdir().unwrap();
        let key = t.path().join("k.asc");
        std::fs::copy("fixtures/demo/demo-signing-key.asc", &key).unwrap();
        let cfg = t.path().join("elirepo.toml");
        std::fs::write(
            &cfg,
            "repo = \"r\"\nsuite = \"s\"\narchitectures = [\"amd64\"]\n\
             [sign]\nkey-file = \"k.asc\"\npassphrase-file = \"k.asc\"\n",
        )
        .unwrap();
        let flags = || BuildFlags {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let file = resolve(flags()).unwrap().sign.unwrap();
        assert_eq!(file.key_file.as_deref(), Some(key.as_path()));
        assert_eq!(file.passphrase_file.as_deref(), Some(key.as_path()));
        // --sign-key with --gpg-homedir: nothing of the file's table is left.
        let home = t.path().to_path_buf();
        let s = resolve(BuildFlags {
            sign_key: Some("0xABCD".into()),
            gpg_homedir: Some(home.clone()),
            ..flags()
        })
        .unwrap()
        .sign
        .unwrap();
        assert_eq!(
            s,
            SignOptions {
                key: Some("0xABCD".into()),
                homedir: Some(home),
                key_file: None,
                passphrase_file: None,
            }
        );
        // A passphrase file alone names no key: an error, not the file's key.
        let err = resolve(BuildFlags {
            passphrase_file: Some(key.clone()),
            ..flags()
        })
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::SigningFlagsWithoutKey { .. }),
            "{err}"
        );
        assert!(resolve(BuildFlags {
            unsigned: true,
            ..flags()
        })
        .unwrap()
        .sign
        .is_none());
        // A [sign] table with no key is an error, not an unsigned build.
        std::fs::write(
            &cfg,
            "repo = \"r\"\nsuite = \"s\"\narchitectures = [\"amd64\"]\n[sign]\n",
        )
        .unwrap();
        assert!(matches!(resolve(flags()), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn an_unknown_key_gets_the_key_it_is_a_typo_of() {
        let t = tempfile::tempdir().unwrap();
        let typo = |text: &str| {
            let cfg = t.path().join("elirepo.toml");
            std::fs::write(&cfg, text).unwrap();
            let e = load(&cfg).unwrap_err();
            assert!(e.to_string().lines().count() > 1, "squashed: {e}");
            e.suggestion()
        };
        assert_eq!(typo("architecture = []").as_deref(), Some("architectures"));
        assert_eq!(typo("valid_for = 3").as_deref(), Some("valid-for"));
        assert_eq!(typo("[sign]\nkeyfile = \"k\"").as_deref(), Some("key-file"));
        assert_eq!(
            typo("[[netboot]]\narch = \"amd64\"\nnfs-root = \"n\"").as_deref(),
            Some("nfsroot")
        );
        assert_eq!(typo("colour = true"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn the_debian_name_of_an_architecture() {
        assert_eq!(debian_arch_for("x86_64"), Some("amd64"));
        assert_eq!(debian_arch_for("i686"), Some("i386"));
        assert_eq!(debian_arch_for("aarch64"), Some("arm64"));
        assert_eq!(debian_arch_for("AMD64"), Some("amd64"));
        assert_eq!(debian_arch_for("amd64"), None);
        assert_eq!(debian_arch_for("sparc64"), None);
    }

    #[test]
    fn key_files_are_told_by_their_first_bytes() {
        assert_eq!(key_bytes(&[0x99, 0x00, 0x33]), KeyBytes::Packet(6));
        assert_eq!(key_bytes(&[0x98, 0x33]), KeyBytes::Packet(6));
        assert_eq!(key_bytes(&[0xc6, 0x33]), KeyBytes::Packet(6));
        assert_eq!(key_bytes(&[0x95, 0x01, 0x00]), KeyBytes::Packet(5));
        assert_eq!(key_bytes(&[0xc5, 0x58]), KeyBytes::Packet(5));
        let mut kbx = vec![0, 0, 0, 0x20, 1, 1, 0, 2];
        kbx.extend(b"KBXf\0\0\0\0");
        assert_eq!(key_bytes(&kbx), KeyBytes::Keybox);
        assert_eq!(
            key_bytes(b"Comment: x\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n"),
            KeyBytes::ArmoredPublic
        );
        assert_eq!(
            key_bytes(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n"),
            KeyBytes::ArmoredPrivate
        );
        assert_eq!(key_bytes(b""), KeyBytes::Other);
        assert_eq!(key_bytes(b"hello"), KeyBytes::Other);
    }

    #[test]
    fn key_paths_are_absolute_and_checked() {
        let t = tempfile::tempdir().unwrap();
        let demo = Path::new("fixtures/demo/demo-signing-key.asc");
        let abs = check_key_path(demo, KeyFileKind::SecretKey, "--sign-key-file x").unwrap();
        assert!(
            abs.is_absolute() && abs.ends_with(demo),
            "{}",
            abs.display()
        );
        let problem = |p: &Path, kind| match check_key_path(p, kind, "--opt") {
            Err(ConfigError::KeyFile {
                problem,
                path,
                option,
            }) => {
                assert!(path.is_absolute() && option == "--opt");
                problem
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            problem(demo, KeyFileKind::Keyring),
            KeyFileProblem::NotAKeyring
        );
        let missing = t.path().join("missing");
        assert_eq!(
            problem(&missing, KeyFileKind::Passphrase),
            KeyFileProblem::Missing
        );
        assert_eq!(
            problem(&missing, KeyFileKind::GpgHome),
            KeyFileProblem::NoDirectory
        );
        assert_eq!(
            problem(t.path(), KeyFileKind::Keyring),
            KeyFileProblem::NotAFile
        );
        assert_eq!(
            problem(demo, KeyFileKind::GpgHome),
            KeyFileProblem::NotADirectory
        );
        assert!(check_key_path(t.path(), KeyFileKind::GpgHome, "--opt").is_ok());
        let public = t.path().join("pub.asc");
        std::fs::write(&public, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n").unwrap();
        assert_eq!(
            problem(&public, KeyFileKind::Keyring),
            KeyFileProblem::ArmoredKeyring
        );
        assert_eq!(
            problem(&public, KeyFileKind::SecretKey),
            KeyFileProblem::PublicKeyOnly
        );
        assert!(check_key_path(&public, KeyFileKind::Passphrase, "--opt").is_ok());
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
            publish,
            allow_empty,
            allow_removals,
            xz_preset,
        } = toml::from_str(&all).expect("the example parses with every key");
        assert!(repo.is_some() && suite.is_some() && codename.is_some());
        assert!(architectures.is_some() && component.is_some() && debs.is_some());
        assert!(origin.is_some() && label.is_some() && description.is_some());
        assert!(valid_for.is_some() && by_hash.is_some());
        assert!(no_symlinks.is_some() && allow_oversize.is_some() && xz_preset.is_some());
        let crate::remote::PublishConfig {
            cache_control_immutable,
            cache_control_short,
            content_types,
            multipart_threshold,
            lock_ttl,
        } = publish.expect("[publish]");
        assert!(cache_control_immutable.is_some() && cache_control_short.is_some());
        assert!(!content_types.is_empty() && multipart_threshold.is_some() && lock_ttl.is_some());
        assert!(allow_empty.is_some() && allow_removals.is_some());
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
