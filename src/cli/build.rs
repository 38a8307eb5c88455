//! `elirepo build`: its flags, the settings resolved from them
//! ([`elirepo::config`]), the build ([`elirepo::build`]) and what it tells
//! people: the hints for errors whose fix is obvious, the `-v` settings, the
//! summary lines and the `--json` report.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use elirepo::build::{BuildError, BuildReport};
use elirepo::config::{BuildFlags, BuildOptions, ConfigError, NetbootInput};

use super::exit::{json_text, out, usage_error, EXIT_USAGE};
use super::ui::{Level, Ui};

/// Where the Debian package installs the commented example configuration.
pub const EXAMPLE_CONFIG: &str = "/usr/share/doc/elirepo/examples/elirepo.toml";

/// `elirepo build --help`'s description.
pub const LONG_ABOUT: &str = "Build and publish the repository: the pool, the Packages and Release \
indexes, by-hash copies, the signatures and, with netboot inputs, the eliloader kernel and \
initrd. Everything is read and checked before the repository is touched; a failed build \
publishes nothing. A rerun with unchanged inputs rewrites nothing.\n\n\
Settings come from --config FILE (TOML, every key in \
/usr/share/doc/elirepo/examples/elirepo.toml) and flags override them.";

/// Examples and exit status, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Examples:
  elirepo build --config /etc/elirepo/elirepo.toml
  elirepo build --config elirepo.toml --nfsroot /srv/fai/nfsroot --json
  elirepo build --repo /srv/repo --suite lenny --arch i386 --arch amd64 \\
      --deb debs/ --sign-key 0xDEADBEEF --origin XS --label XS
  elirepo build --repo /srv/repo --suite lenny --arch amd64 --deb debs/ \\
      --sign-key-file /run/secrets/signing-key.asc

Exit status: 0 published (or nothing changed), 2 nothing was published.";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// Configuration file (TOML); flags override its values
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Repository directory to publish into
    #[arg(long, value_name = "DIR")]
    repo: Option<PathBuf>,
    /// Suite: publishes dists/SUITE
    #[arg(long)]
    suite: Option<String>,
    /// Codename (default: the suite)
    #[arg(long)]
    codename: Option<String>,
    /// Architecture (repeatable): i386, amd64, ...
    #[arg(long = "arch", value_name = "ARCH")]
    architectures: Vec<String>,
    /// Component (default: main)
    #[arg(long)]
    component: Option<String>,
    /// A .deb file or a directory searched for *.deb (repeatable)
    #[arg(long = "deb", value_name = "PATH")]
    debs: Vec<PathBuf>,
    /// Release Origin
    #[arg(long)]
    origin: Option<String>,
    /// Release Label
    #[arg(long)]
    label: Option<String>,
    /// Release Description
    #[arg(long)]
    description: Option<String>,
    /// Write Valid-Until this many days after Date
    #[arg(long, value_name = "DAYS")]
    valid_for: Option<u32>,
    /// Do not write by-hash/ copies (nor Acquire-By-Hash)
    #[arg(long)]
    no_by_hash: bool,
    /// gpg key to sign with (id or fingerprint)
    #[arg(long, value_name = "KEYID")]
    sign_key: Option<String>,
    /// gpg home directory holding the key
    #[arg(long, value_name = "DIR")]
    gpg_homedir: Option<PathBuf>,
    /// Armored secret key file (imported into a temporary gpg home)
    #[arg(long, value_name = "FILE")]
    sign_key_file: Option<PathBuf>,
    /// File holding the key's passphrase
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Ignore the config file's [sign] table and publish unsigned
    #[arg(long)]
    unsigned: bool,
    /// Fail at once if another build holds the repository's lock
    #[arg(long)]
    no_wait: bool,
    /// Netboot: a FAI nfsroot to take the Xen kernel and initrd from
    #[arg(long, value_name = "DIR")]
    nfsroot: Option<PathBuf>,
    /// Netboot: a linux-image .deb to take boot/vmlinuz-* from
    #[arg(long, value_name = "FILE")]
    kernel_deb: Option<PathBuf>,
    /// Netboot: an explicit kernel file
    #[arg(long, value_name = "FILE")]
    kernel: Option<PathBuf>,
    /// Netboot: an explicit initrd file
    #[arg(long, value_name = "FILE")]
    initrd: Option<PathBuf>,
    /// Netboot: the kernel version to publish when there are several
    #[arg(long, value_name = "VERSION")]
    kernel_version: Option<String>,
    /// Netboot: the installer architecture (default: the suite's only one)
    #[arg(long, value_name = "ARCH")]
    netboot_arch: Option<String>,
    /// Put real files in installer-ARCH/current/ instead of a symlink
    #[arg(long)]
    no_symlinks: bool,
    /// Allow a kernel over 32 MiB or an initrd over 128 MiB
    #[arg(long)]
    allow_oversize: bool,
    /// Publish a kernel that fails the Xen PV check (the guest will not boot)
    #[arg(long)]
    force: bool,
    /// Print what the build did as JSON on stdout
    #[arg(long)]
    json: bool,
}

/// Runs `elirepo build`: settings, build, report.
pub fn run(a: BuildArgs, ui: &mut Ui) -> ExitCode {
    let json = a.json;
    let flags = match flags(a) {
        Ok(f) => f,
        Err(e) => {
            return usage_error(
                ui,
                e,
                Some("or describe each architecture in a [[netboot]] table of the config file"),
            )
        }
    };
    let opts = match elirepo::config::resolve(flags) {
        Ok(o) => o,
        Err(e) => {
            let hint = config_hint(&e);
            return usage_error(ui, e, hint.as_deref());
        }
    };
    show_options(ui, &opts);
    match elirepo::build::build(&opts, ui) {
        Ok(report) => {
            if json {
                print_json(&opts, &report);
            }
            tell(ui, &opts, &report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            ui.error(&e);
            if let Some(h) = build_hint(&e) {
                ui.hint(&h);
            }
            ui.error(format!(
                "{}: nothing was published; the repository is unchanged",
                opts.repo.display()
            ));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn flags(a: BuildArgs) -> Result<BuildFlags, &'static str> {
    let mut netboot = Vec::new();
    if a.nfsroot.is_some() || a.kernel_deb.is_some() || a.kernel.is_some() || a.initrd.is_some() {
        let arch = match (&a.netboot_arch, a.architectures.as_slice()) {
            (Some(n), _) => Some(n.clone()),
            (None, [only]) => Some(only.clone()),
            (None, []) => config_netboot_arch(a.config.as_deref()),
            _ => None,
        };
        let Some(arch) = arch else {
            return Err(
                "netboot flags need --netboot-arch ARCH when the suite has several architectures",
            );
        };
        netboot.push(NetbootInput {
            arch,
            nfsroot: a.nfsroot,
            kernel_deb: a.kernel_deb,
            kernel: a.kernel,
            initrd: a.initrd,
            kernel_version: a.kernel_version,
        });
    }
    Ok(BuildFlags {
        config: a.config,
        repo: a.repo,
        suite: a.suite,
        codename: a.codename,
        architectures: a.architectures,
        component: a.component,
        debs: a.debs,
        origin: a.origin,
        label: a.label,
        description: a.description,
        valid_for: a.valid_for,
        no_by_hash: a.no_by_hash,
        sign_key: a.sign_key,
        gpg_homedir: a.gpg_homedir,
        sign_key_file: a.sign_key_file,
        passphrase_file: a.passphrase_file,
        unsigned: a.unsigned,
        no_wait: a.no_wait,
        netboot,
        no_symlinks: a.no_symlinks,
        allow_oversize: a.allow_oversize,
        force: a.force,
    })
}

/// The netboot architecture a config file implies: its only `[[netboot]]` table's,
/// else its only architecture. Lets `--nfsroot DIR` go with `--config FILE` alone.
fn config_netboot_arch(config: Option<&std::path::Path>) -> Option<String> {
    let file = elirepo::config::load(config?).ok()?;
    match (file.netboot.as_deref(), file.architectures.as_deref()) {
        (Some([only]), _) => Some(only.arch.clone()),
        (_, Some([only])) => Some(only.clone()),
        _ => None,
    }
}

/// The hint for a settings error whose fix is obvious, if any.
fn config_hint(e: &ConfigError) -> Option<String> {
    match e {
        ConfigError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound => Some(
            format!("an example with every key is {EXAMPLE_CONFIG}; flags alone work too (elirepo build --help)"),
        ),
        ConfigError::Parse { message, .. } if message.contains("unknown field") => Some(format!(
            "keys are kebab-case; every key is in {EXAMPLE_CONFIG}"
        )),
        _ => None,
    }
}

/// The hint for a build error whose fix is obvious, if any.
fn build_hint(e: &BuildError) -> Option<String> {
    match e {
        BuildError::Input { reason, .. } if reason.contains("No such file") => {
            Some("--deb takes a .deb file or a directory holding .debs".into())
        }
        BuildError::Debs(errors) if errors.len() == 1 => Some(
            "fix or leave out that file; `elirepo packages DIR >/dev/null` lists every unreadable .deb".into(),
        ),
        BuildError::Debs(_) => {
            Some("fix or leave out those files; a build publishes all of its inputs or none".into())
        }
        _ => None,
    }
}

/// With -v: the settings the build runs with, after the config file and flags.
fn show_options(ui: &Ui, o: &BuildOptions) {
    if ui.level() < Level::Verbose {
        return;
    }
    ui.detail(&format!("repo: {}", o.repo.display()));
    ui.detail(&format!(
        "suite: {} (codename {}), component {}, architectures {}",
        o.suite,
        o.codename,
        o.component,
        o.architectures.join(" ")
    ));
    for d in &o.debs {
        ui.detail(&format!("deb input: {}", d.display()));
    }
    match &o.sign {
        Some(s) => ui.detail(&format!(
            "signing with {}",
            s.key_file.as_ref().map_or_else(
                || s.key.clone().unwrap_or_default(),
                |k| format!("the key in {}", k.display())
            )
        )),
        None => ui.detail("not signing"),
    }
    for n in &o.netboot {
        let from = [&n.nfsroot, &n.kernel_deb, &n.kernel, &n.initrd]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        ui.detail(&format!("netboot installer-{}: {from}", n.arch));
    }
}

/// `--json`: the report on stdout, with the repository and suite.
fn print_json(opts: &BuildOptions, report: &BuildReport) {
    #[derive(serde::Serialize)]
    struct BuildJson<'a> {
        repo: &'a std::path::Path,
        suite: &'a str,
        #[serde(flatten)]
        report: &'a BuildReport,
    }
    let _ = out(&json_text(&BuildJson {
        repo: &opts.repo,
        suite: &opts.suite,
        report,
    }));
}

/// What a successful build did: one step line, details with -v.
fn tell(ui: &Ui, opts: &BuildOptions, report: &BuildReport) {
    let suite = &opts.suite;
    if report.changed {
        ui.step(&format!(
            "published {} suite {suite}: {} packages ({} added, {} removed), {} files written, {} removed",
            opts.repo.display(),
            report.packages.len(),
            report.added.len(),
            report.removed.len(),
            report.files_written,
            report.files_removed
        ));
    } else {
        ui.step(&format!(
            "nothing changed in {} suite {suite}",
            opts.repo.display()
        ));
    }
    for p in &report.added {
        ui.detail(&format!("added {p}"));
    }
    for p in &report.removed {
        ui.detail(&format!("removed {p}"));
    }
    for n in &report.netboot {
        ui.detail(&format!(
            "{}: {} bytes, sha256 {}",
            n.kernel_path, n.kernel_size, n.kernel_sha256
        ));
        ui.detail(&format!(
            "{}: {} bytes, sha256 {}",
            n.initrd_path, n.initrd_size, n.initrd_sha256
        ));
    }
    ui.detail(&format!(
        "dists/{suite}/Release: sha256 {}{}",
        report.release_sha256,
        if report.signed {
            ", signed"
        } else {
            ", unsigned"
        }
    ));
}
