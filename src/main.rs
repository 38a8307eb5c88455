//! The `elirepo` command: a thin clap front end over the `elirepo` library.
//!
//! This file maps clap's arguments to the library's plain option structs, calls
//! one `elirepo::` function per subcommand and turns the result into output and
//! an exit status. What people see on stderr (steps, warnings, errors with
//! hints, progress bars, colour) is [`ui`]'s; data (`--json`, `packages`,
//! `xe-commands`, `man`, `completions`) goes to stdout.
//!
//! Exit status (also in `elirepo(1)` and the README):
//!
//! * 0: success (`verify`: every check holds; `kernel`: PV-capable).
//! * 1: the command ran and found a problem (`verify`: problems; `kernel`: not
//!   PV-capable; `packages`: some .deb could not be read).
//! * 2: usage or input error; `build` published nothing.
//! * 101: elirepo crashed (a bug: please report it).
//!
//! A closed stdout (`elirepo packages pool | head`) is not an error: exit 0.

mod ui;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use ui::{Level, Ui};

/// The version of every `--json` shape; bumped only when a key is renamed or
/// removed (keys are added without a bump).
const SCHEMA_VERSION: u32 = 1;

/// Where the Debian package installs the commented example configuration.
const EXAMPLE_CONFIG: &str = "/usr/share/doc/elirepo/examples/elirepo.toml";

const ABOUT: &str = "Publish a signed apt repository and a XenServer eliloader netboot tree";

const LONG_ABOUT: &str = "\
elirepo publishes .deb files and a FAI nfsroot's Xen kernel and initrd as a signed \
apt repository, with the netboot tree XenServer's eliloader fetches from it:

  dists/<suite>/main/installer-<arch>/current/images/netboot/xen/vmlinuz
  dists/<suite>/main/installer-<arch>/current/images/netboot/xen/initrd.gz

It writes the Packages and Release indexes apt-ftparchive would write, signs them \
with gpg, checks that the kernel boots as a Xen PV guest, and publishes atomically: \
a client never sees a half-written repository.

Steps, warnings and errors go to stderr, one line each when stderr is not a \
terminal; data (--json, packages, xe-commands) goes to stdout. Errors read \
`elirepo: error: <path>: <what went wrong>`.";

const MAIN_AFTER_HELP: &str = "\
Examples:
  elirepo build --config /etc/elirepo/elirepo.toml
  elirepo build --repo /srv/repo --suite lenny --arch i386 --deb debs/ \\
      --nfsroot /srv/fai/nfsroot --sign-key-file key.asc
  elirepo verify /srv/repo --keyring /srv/repo/mysite-archive-keyring.gpg
  elirepo kernel /srv/fai/nfsroot/boot/vmlinuz-6.1.0-26-amd64

Exit status: 0 success, 1 a problem found (verify, kernel, packages),
2 usage or input error (build: nothing was published).

See elirepo(1) and elirepo-<command>(1); environment: NO_COLOR,
SOURCE_DATE_EPOCH, COLUMNS.";

#[derive(Parser)]
#[command(
    name = "elirepo",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = MAIN_AFTER_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
struct Cli {
    /// Print only errors (no steps, warnings or progress bars)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print details too: settings, timings, what changed
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

// `Build` is large, but the command is parsed once: no need to box it.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Build and publish the repository (pool, indexes, Release, signatures)
    #[command(
        long_about = "Build and publish the repository: the pool, the Packages and Release \
indexes, by-hash copies, the signatures and, with netboot inputs, the eliloader kernel and \
initrd. Everything is read and checked before the repository is touched; a failed build \
publishes nothing. A rerun with unchanged inputs rewrites nothing.\n\n\
Settings come from --config FILE (TOML, every key in \
/usr/share/doc/elirepo/examples/elirepo.toml) and flags override them.",
        after_help = "Examples:
  elirepo build --config /etc/elirepo/elirepo.toml
  elirepo build --config elirepo.toml --nfsroot /srv/fai/nfsroot --json
  elirepo build --repo /srv/repo --suite lenny --arch i386 --arch amd64 \\
      --deb debs/ --sign-key 0xDEADBEEF --origin XS --label XS
  elirepo build --repo /srv/repo --suite lenny --arch amd64 --deb debs/ \\
      --sign-key-file /run/secrets/signing-key.asc

Exit status: 0 published (or nothing changed), 2 nothing was published."
    )]
    Build(BuildArgs),
    /// Check a published repository (directory or http:// URL) as eliloader and apt use it
    #[command(
        long_about = "Check a published repository the way eliloader and apt use it: the \
Release and its signatures (with --keyring), Date and Valid-Until, every listed file's size \
and digests, by-hash copies, every pool file, and the kernel and initrd at the exact URLs \
eliloader builds (a Xen PV kernel of the right architecture, an initrd for it).\n\n\
Each problem is printed as `FAIL <file or URL>: <what>` on stdout, warnings as `WARN ...`, \
then one summary line; with -q only the FAIL lines.",
        after_help = "Examples:
  elirepo verify /srv/debian-custom --keyring /srv/debian-custom/mysite-archive-keyring.gpg
  elirepo verify http://repo.example.com/debian-custom --suite lenny --json

Exit status: 0 everything holds, 1 problems found, 2 could not check."
    )]
    Verify {
        /// Repository directory or http:// URL
        target: String,
        /// Suite to check (repeatable; default: every suite of a directory)
        #[arg(long = "suite", value_name = "SUITE")]
        suites: Vec<String>,
        /// Architecture to check (repeatable; default: the Release's)
        #[arg(long = "arch", value_name = "ARCH")]
        archs: Vec<String>,
        /// Keyring to verify InRelease and Release.gpg with (gpgv)
        #[arg(long, value_name = "FILE")]
        keyring: Option<PathBuf>,
        /// Print the report as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Print the xe commands that point a XenServer template at the repository
    #[command(after_help = "Example:
  elirepo xe-commands --repo-url http://repo.example.com/debian-custom \\
      --suite lenny --arch amd64 --nfsroot 192.0.2.10:/srv/fai/nfsroot | sh")]
    XeCommands {
        /// Repository URL as eliloader will fetch it (http:// or ftp://)
        #[arg(long, value_name = "URL")]
        repo_url: String,
        /// Suite (other-config:debian-release)
        #[arg(long)]
        suite: String,
        /// Architecture (other-config:install-arch): i386 or amd64
        #[arg(long)]
        arch: String,
        /// Template UUID
        #[arg(long, value_name = "UUID")]
        template: Option<String>,
        /// FAI nfsroot as HOST:PATH, for the template's PV-args
        #[arg(long, value_name = "HOST:PATH")]
        nfsroot: Option<String>,
        /// FAI_ACTION for PV-args (default install)
        #[arg(long, value_name = "ACTION")]
        fai_action: Option<String>,
        /// A VM whose interrupted installation to re-arm
        #[arg(long, value_name = "UUID")]
        vm: Option<String>,
    },
    /// Inspect a kernel: will Xen boot it as a PV guest? (exit 0 only if PV-capable)
    #[command(after_help = "Examples:
  elirepo kernel /srv/fai/nfsroot/boot/vmlinuz-6.1.0-26-amd64
  elirepo kernel --json vmlinuz | jq -r .verdict

Exit status: 0 PV-capable, 1 not PV-capable, 2 not a kernel or unreadable.")]
    Kernel {
        /// bzImage, ELF vmlinux, or gzipped ELF
        file: PathBuf,
        /// Print the report as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Write a Packages index to stdout, byte-identical to `apt-ftparchive packages`
    #[command(
        override_usage = "elirepo [APT-OPTIONS] packages [APT-OPTIONS] DIR [OVERRIDE [PATHPREFIX]]",
        after_help = "Options, accepted before or after `packages` as apt-ftparchive accepts them:\n  \
--no-md5 --no-sha1 --no-sha256 --no-sha512   leave out that digest\n  \
-a ARCH                                      only *_ARCH.deb and *_all.deb\n  \
--db FILE                                    cache file\n  \
-o APT::FTPArchive::{MD5,SHA1,SHA256,SHA512}=false\n  \
-o APT::FTPArchive::LongDescription=false    first line + Description-md5\n  \
-o APT::FTPArchive::IncludeArchitectureAll=false\n\n\
Unlike apt-ftparchive, a .deb that cannot be read is reported on stderr by name\n\
and the exit status is 1 (the other packages are still written).\n\n\
Examples:\n  elirepo packages pool > Packages\n  elirepo --no-sha512 packages -a amd64 pool override.txt > Packages"
    )]
    Packages {
        /// apt-ftparchive arguments
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
        args: Vec<OsString>,
    },
    /// Print the manual page (roff) to stdout, or write every page into a directory
    #[command(after_help = "Examples:
  elirepo man | man -l -
  elirepo man --dir /usr/local/share/man/man1")]
    Man {
        /// Write elirepo.1 and one elirepo-COMMAND.1 per command into DIR
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script to stdout
    #[command(after_help = "Examples:
  source <(elirepo completions bash)
  elirepo completions bash > /etc/bash_completion.d/elirepo
  elirepo completions zsh > ~/.zfunc/_elirepo
  elirepo completions fish > ~/.config/fish/completions/elirepo.fish")]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
struct BuildArgs {
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

/// Exit statuses; see the module documentation.
const EXIT_PROBLEM: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Writes `text` to stdout; a closed pipe is not an error.
fn out(text: &str) -> io::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(text.as_bytes())?;
    o.flush()
}

/// `report` as pretty JSON, with `schema_version` first.
fn json_text(report: &impl serde::Serialize) -> String {
    #[derive(serde::Serialize)]
    struct Versioned<'a, T> {
        schema_version: u32,
        #[serde(flatten)]
        report: &'a T,
    }
    let mut s = serde_json::to_string_pretty(&Versioned {
        schema_version: SCHEMA_VERSION,
        report,
    })
    .expect("reports serialise");
    s.push('\n');
    s
}

/// The hint for a build error whose fix is obvious, if any.
fn build_hint(e: &elirepo::build::BuildError) -> Option<String> {
    use elirepo::build::BuildError;
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

fn config_hint(e: &elirepo::config::ConfigError) -> Option<String> {
    use elirepo::config::ConfigError;
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

fn run_build(a: BuildArgs, ui: &mut Ui) -> ExitCode {
    let mut netboot = Vec::new();
    if a.nfsroot.is_some() || a.kernel_deb.is_some() || a.kernel.is_some() || a.initrd.is_some() {
        let arch = match (&a.netboot_arch, a.architectures.as_slice()) {
            (Some(n), _) => Some(n.clone()),
            (None, [only]) => Some(only.clone()),
            (None, []) => config_netboot_arch(a.config.as_deref()),
            _ => None,
        };
        let Some(arch) = arch else {
            ui.error(
                "netboot flags need --netboot-arch ARCH when the suite has several architectures",
            );
            ui.hint("or describe each architecture in a [[netboot]] table of the config file");
            return ExitCode::from(EXIT_USAGE);
        };
        netboot.push(elirepo::config::NetbootInput {
            arch,
            nfsroot: a.nfsroot,
            kernel_deb: a.kernel_deb,
            kernel: a.kernel,
            initrd: a.initrd,
            kernel_version: a.kernel_version,
        });
    }
    let flags = elirepo::config::BuildFlags {
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
    };
    let opts = match elirepo::config::resolve(flags) {
        Ok(o) => o,
        Err(e) => {
            ui.error(&e);
            if let Some(h) = config_hint(&e) {
                ui.hint(&h);
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    show_options(ui, &opts);
    match elirepo::build::build(&opts, ui) {
        Ok(report) => {
            if a.json {
                #[derive(serde::Serialize)]
                struct BuildJson<'a> {
                    repo: &'a std::path::Path,
                    suite: &'a str,
                    #[serde(flatten)]
                    report: &'a elirepo::build::BuildReport,
                }
                let _ = out(&json_text(&BuildJson {
                    repo: &opts.repo,
                    suite: &opts.suite,
                    report: &report,
                }));
            }
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

/// With -v: the settings the build runs with, after the config file and flags.
fn show_options(ui: &Ui, o: &elirepo::config::BuildOptions) {
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

fn run_verify(
    target: String,
    suites: Vec<String>,
    archs: Vec<String>,
    keyring: Option<PathBuf>,
    json: bool,
    ui: &mut Ui,
) -> ExitCode {
    let now = match elirepo::release::build_time() {
        Ok(t) => t,
        Err(e) => {
            ui.error(e);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let is_url = target.contains("://");
    let opts = elirepo::verify::VerifyOptions {
        target,
        suites,
        archs,
        keyring,
        now,
    };
    ui.step(&format!("checking {}", opts.target));
    let report = match elirepo::verify::verify(&opts) {
        Ok(r) => r,
        Err(e) => {
            ui.error(&e);
            if is_url && opts.suites.is_empty() {
                ui.hint("a URL has no directory listing: give --suite SUITE");
            } else if !is_url {
                ui.hint("give the repository's top directory (the one holding dists/) or its http:// URL");
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if json {
        #[derive(serde::Serialize)]
        struct VerifyJson<'a> {
            ok: bool,
            #[serde(flatten)]
            report: &'a elirepo::verify::VerifyReport,
        }
        let _ = out(&json_text(&VerifyJson {
            ok: report.ok(),
            report: &report,
        }));
    } else {
        let color = ui::color_for(io::stdout().is_terminal());
        let paint = |w: &str, code: &str| {
            if color {
                format!("\x1b[{code}m{w}\x1b[0m")
            } else {
                w.to_string()
            }
        };
        let mut text = String::new();
        if ui.level() > Level::Quiet {
            for w in &report.warnings {
                text += &format!("{} {}: {}\n", paint("WARN", "33"), w.location, w.what);
            }
        }
        for p in &report.problems {
            text += &format!("{} {}: {}\n", paint("FAIL", "1;31"), p.location, p.what);
        }
        if ui.level() > Level::Quiet {
            if ui.level() >= Level::Verbose {
                for u in &report.eliloader_urls {
                    text += &format!("URL {u}\n");
                }
            }
            text += &format!(
                "{} {}: {} problem(s), {} warning(s); suites {}; {} files and {} pool files checked; eliloader URLs: {}\n",
                if report.ok() { paint("OK", "1;32") } else { paint("FAILED", "1;31") },
                report.target,
                report.problems.len(),
                report.warnings.len(),
                report.suites.join(", "),
                report.files_checked,
                report.packages_checked,
                report.eliloader_urls.len()
            );
        }
        let _ = out(&text);
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEM)
    }
}

fn run_kernel(file: PathBuf, json: bool, ui: &mut Ui) -> ExitCode {
    let f = match std::fs::File::open(&file) {
        Ok(f) => f,
        Err(e) => {
            ui.error(format!("{}: {e}", file.display()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let name = file
        .file_name()
        .unwrap_or(file.as_os_str())
        .to_string_lossy();
    let progress = ui.start_progress(&format!("decompressing {name}"), len);
    let result = elirepo::xen::inspect_kernel_with(
        elirepo::progress::ProgressReader::new(f, progress),
        &file,
        &elirepo::xen::InspectOptions::default(),
    );
    match result {
        Ok(report) => {
            let _ = out(&if json {
                json_text(&report)
            } else {
                report.to_text()
            });
            if report.verdict.is_pv_capable() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_PROBLEM)
            }
        }
        Err(e) => {
            ui.error(&e);
            if matches!(e, elirepo::xen::XenError::NotAKernel { .. }) {
                ui.hint("give a vmlinuz (bzImage, ELF vmlinux or gzipped ELF); from a linux-image .deb, take boot/vmlinuz-* (dpkg-deb -x) or use `elirepo build --kernel-deb`");
            }
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Options of apt-ftparchive that take a separate value.
const APT_VALUE_OPTIONS: &[&str] = &[
    "-o",
    "--option",
    "-a",
    "--arch",
    "-d",
    "--db",
    "-s",
    "--source-override",
    "-c",
    "--config-file",
];

/// Moves `packages` first when apt-ftparchive options precede it
/// (`elirepo --no-md5 packages DIR`), so clap sees the subcommand.
fn hoist_packages(mut args: Vec<OsString>) -> Vec<OsString> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "packages" {
            if i > 1 {
                let word = args.remove(i);
                args.insert(1, word);
            }
            break;
        }
        if !a.starts_with('-') || a == "--help" || a == "-h" || a == "--version" || a == "-V" {
            break;
        }
        i += if APT_VALUE_OPTIONS.contains(&a.as_ref()) {
            2
        } else {
            1
        };
    }
    args
}

fn run_packages(args: Vec<OsString>, ui: &mut Ui) -> ExitCode {
    let mut full = vec![OsString::from("packages")];
    full.extend(args);
    let parsed = match elirepo::ftparchive::parse_args(&full) {
        Ok(p) => p,
        Err(e) => {
            ui.error(&e);
            ui.hint("elirepo packages --help lists the apt-ftparchive options it takes");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let stdout = io::stdout();
    let mut o = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = elirepo::ftparchive::run_packages(&parsed, &mut o);
    let flushed = o.flush();
    match result {
        Ok(summary) => {
            if let Err(e) = flushed {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    ui.error(format!("writing the index: {e}"));
                    return ExitCode::from(EXIT_USAGE);
                }
            }
            for w in &summary.warnings {
                ui.warning(w);
            }
            for e in &summary.failed {
                ui.error(e);
            }
            if summary.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ui.error(format!(
                    "{} of {} .deb files could not be read and are missing from the index",
                    summary.failed.len(),
                    summary.failed.len() + summary.written
                ));
                ExitCode::from(EXIT_PROBLEM)
            }
        }
        Err(elirepo::ftparchive::PackagesError::Output(e))
            if e.kind() == io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            ui.error(&e);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The manual pages: `elirepo.1` (with EXIT STATUS, ENVIRONMENT, FILES and
/// EXAMPLES sections) and one `elirepo-<command>.1` per command.
fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    use clap_mangen::roff::{roman, Roff};
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = Vec::new();

    let man = clap_mangen::Man::new(cmd.clone()).date("");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    // The description by hand: its indented lines (the eliloader paths) stay lines.
    let mut desc = Roff::new();
    desc.control("SH", ["DESCRIPTION"]);
    for (i, para) in LONG_ABOUT.split("\n\n").enumerate() {
        if i > 0 {
            desc.control("PP", []);
        }
        if para.starts_with("  ") {
            desc.control("EX", []);
            for line in para.lines() {
                desc.text([roman(line.trim_start())]);
            }
            desc.control("EE", []);
        } else {
            desc.text([roman(para)]);
        }
    }
    desc.to_writer(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    let mut extra = Roff::new();
    let section = |r: &mut Roff, title: &str, paras: &[&str]| {
        r.control("SH", [title]);
        for (i, p) in paras.iter().enumerate() {
            if i > 0 {
                r.control("PP", []);
            }
            r.text([roman(*p)]);
        }
    };
    let tagged = |r: &mut Roff, title: &str, items: &[(&str, &str)]| {
        r.control("SH", [title]);
        for (tag, text) in items {
            r.control("TP", []);
            r.text([roman(*tag)]);
            r.text([roman(*text)]);
        }
    };
    tagged(
        &mut extra,
        "EXIT STATUS",
        &[
            ("0", "Success: published, or nothing changed (build); every check holds (verify); PV-capable (kernel)."),
            ("1", "The command ran and found a problem: verify found problems, kernel is not PV-capable, packages could not read some .deb (the others are still written)."),
            ("2", "Usage or input error: a bad flag, a missing or unreadable file, a bad .deb, a kernel that fails the checks. A build that exits 2 published nothing and left the repository as it was."),
            ("101", "elirepo crashed: a bug, please report it."),
        ],
    );
    tagged(
        &mut extra,
        "ENVIRONMENT",
        &[
            ("NO_COLOR", "When set and not empty, no colour is written, even on a terminal."),
            ("SOURCE_DATE_EPOCH", "Seconds since 1970 to use as the Release Date (reproducible builds); verify uses it as now."),
            ("COLUMNS", "Width of the progress bar line (default 80)."),
            ("TERM", "When dumb, neither colour nor progress bars."),
        ],
    );
    tagged(
        &mut extra,
        "FILES",
        &[
            ("/etc/elirepo/elirepo.toml", "The configuration the FAI nfsroot hook reads (any file works with --config)."),
            (EXAMPLE_CONFIG, "A commented example with every key."),
            ("/usr/share/elirepo/fai-nfsroot-hook", "Republishes the kernel and initrd after every fai-make-nfsroot: link it as /etc/fai/nfsroot-hooks/50-elirepo."),
            ("<repo>/.elirepo/", "elirepo's private state: the lock, the staging area, the by-hash history. It need not be served."),
        ],
    );
    section(
        &mut extra,
        "OUTPUT",
        &[
            "Steps, warnings and errors go to stderr, one line each, each starting with elirepo:. Errors read elirepo: error: PATH: WHAT WENT WRONG, sometimes followed by elirepo: hint: WHAT TO DO. On a terminal a progress bar shows long work (hashing, copying, decompressing); off a terminal there are no bars and no escape sequences.",
            "Data goes to stdout: the --json reports of build, verify and kernel (one JSON object with a schema_version key; keys are only ever added), the Packages index of packages, the commands of xe-commands.",
        ],
    );
    extra.control("SH", ["EXAMPLES"]);
    for (what, cmdline) in [
        (
            "Publish from a configuration file:",
            "elirepo build --config /etc/elirepo/elirepo.toml",
        ),
        (
            "Republish the FAI nfsroot's kernel and initrd and report what changed:",
            "elirepo build --config /etc/elirepo/elirepo.toml --nfsroot /srv/fai/nfsroot --json",
        ),
        (
            "Check what clients will see:",
            "elirepo verify http://repo.example.com/debian --suite lenny",
        ),
        (
            "Will Xen boot this kernel?",
            "elirepo kernel /srv/fai/nfsroot/boot/vmlinuz-6.1.0-26-amd64",
        ),
    ] {
        extra.control("TP", []);
        extra.text([roman(what)]);
        extra.control("EX", []);
        extra.text([roman(cmdline)]);
        extra.control("EE", []);
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .map(|s| format!("elirepo-{}(1)", s.get_name()))
        .collect();
    section(
        &mut extra,
        "SEE ALSO",
        &[&format!(
            "{}, apt-ftparchive(1), gpg(1), fai-make-nfsroot(8), xe(1)",
            subs.join(", ")
        )],
    );
    extra.to_writer(&mut page)?;
    man.render_version_section(&mut page)?;
    pages.push(("elirepo.1".to_string(), page));

    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("elirepo-{}", sub.get_name());
        // A name for clap must live as long as the command: this runs once per page.
        let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
        let sub = sub.clone().name(static_name).display_name(name.clone());
        let after = sub.get_after_help().map(|h| h.to_string());
        let man = clap_mangen::Man::new(sub).title(name.clone()).date("");
        let mut page = Vec::new();
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        man.render_options_section(&mut page)?;
        after_help_sections(after.as_deref().unwrap_or_default()).to_writer(&mut page)?;
        let mut see = Roff::new();
        section(&mut see, "SEE ALSO", &["elirepo(1)"]);
        see.to_writer(&mut page)?;
        man.render_version_section(&mut page)?;
        pages.push((format!("{name}.1"), page));
    }
    Ok(pages)
}

/// A command's after-help as man sections: `Example...` blocks as EXAMPLES (no
/// fill, as in --help), `Exit status:` as EXIT STATUS, anything else as NOTES.
fn after_help_sections(text: &str) -> clap_mangen::roff::Roff {
    use clap_mangen::roff::{roman, Roff};
    let mut r = Roff::new();
    let mut last = "";
    for block in text
        .split("\n\n")
        .map(str::trim_end)
        .filter(|b| !b.is_empty())
    {
        let (title, body) = if let Some(rest) = block.strip_prefix("Exit status:") {
            r.control("SH", ["EXIT STATUS"]);
            r.text([roman(rest.trim())]);
            last = "EXIT STATUS";
            continue;
        } else if block.starts_with("Example") {
            let body = block.split_once('\n').map_or("", |(_, b)| b);
            ("EXAMPLES", body)
        } else {
            ("NOTES", block)
        };
        if title == last {
            r.control("PP", []);
        } else {
            r.control("SH", [title]);
        }
        last = title;
        r.control("nf", []);
        for line in body.lines() {
            r.text([roman(line)]);
            r.control("br", []);
        }
        r.control("fi", []);
    }
    r
}

fn run_man(dir: Option<PathBuf>, ui: &mut Ui) -> ExitCode {
    let pages = match man_pages() {
        Ok(p) => p,
        Err(e) => {
            ui.error(format!("rendering the manual: {e}"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match dir {
        None => {
            let _ = io::stdout().lock().write_all(&pages[0].1);
        }
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                ui.error(format!("{}: cannot create: {e}", dir.display()));
                return ExitCode::from(EXIT_USAGE);
            }
            for (name, bytes) in &pages {
                let path = dir.join(name);
                if let Err(e) = std::fs::write(&path, bytes) {
                    ui.error(format!("{}: cannot write: {e}", path.display()));
                    return ExitCode::from(EXIT_USAGE);
                }
                ui.step(&format!("wrote {}", path.display()));
            }
        }
    }
    ExitCode::SUCCESS
}

fn run_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "elirepo", &mut buf);
    let _ = io::stdout().lock().write_all(&buf);
    ExitCode::SUCCESS
}

/// Parses the command line; usage errors come out in elirepo's error format.
fn parse() -> Result<Cli, ExitCode> {
    match Cli::try_parse_from(hoist_packages(std::env::args_os().collect())) {
        Ok(cli) => Ok(cli),
        Err(e) if !e.use_stderr() => {
            // --help and --version: stdout, exit 0.
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            let ui = Ui::new(Level::Normal);
            let text = e.render().to_string();
            let mut lines = text.trim_end().lines();
            let first = lines.next().unwrap_or_default();
            ui.error(first.strip_prefix("error: ").unwrap_or(first));
            let rest: Vec<&str> = lines.collect();
            let rest = rest.join("\n");
            let rest = rest.trim();
            if !rest.is_empty() {
                let _ = writeln!(io::stderr(), "\n{rest}");
            }
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// A panic is a bug: say so in elirepo's error format (exit status 101). With
/// `RUST_BACKTRACE` set, Rust's own report follows.
fn report_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            io::stderr(),
            "elirepo: error: internal error{at}: {}",
            what.replace('\n', " ")
        );
        let _ = writeln!(
            io::stderr(),
            "elirepo: hint: this is a bug in elirepo: please report it with the command line (RUST_BACKTRACE=1 shows where)"
        );
        if std::env::var_os("RUST_BACKTRACE").is_some() {
            default(info);
        }
    }));
}

fn main() -> ExitCode {
    report_panics();
    // Test hook, on purpose in no help, man page or completion: the tests prove
    // with it that they tell a crash from a clean failure (tests/cli.rs).
    if std::env::var_os("ELIREPO_TEST_PANIC").is_some_and(|v| v == "1") {
        panic!("ELIREPO_TEST_PANIC=1: a deliberate panic");
    }
    let cli = match parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let level = if cli.quiet {
        Level::Quiet
    } else if cli.verbose {
        Level::Verbose
    } else {
        Level::Normal
    };
    let mut ui = Ui::new(level);
    let code = match cli.command {
        Command::Packages { args } => run_packages(args, &mut ui),
        Command::Build(a) => run_build(a, &mut ui),
        Command::Verify {
            target,
            suites,
            archs,
            keyring,
            json,
        } => run_verify(target, suites, archs, keyring, json, &mut ui),
        Command::XeCommands {
            repo_url,
            suite,
            arch,
            template,
            nfsroot,
            fai_action,
            vm,
        } => {
            let _ = out(&elirepo::xe::commands(&elirepo::xe::XeOptions {
                repo_url,
                suite,
                arch,
                template,
                nfsroot,
                fai_action,
                vm,
            }));
            ExitCode::SUCCESS
        }
        Command::Kernel { file, json } => run_kernel(file, json, &mut ui),
        Command::Man { dir } => run_man(dir, &mut ui),
        Command::Completions { shell } => run_completions(shell),
    };
    ui.finish();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn apt_options_before_packages_are_moved_after_it() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            hoist_packages(args(&[
                "elirepo", "--no-md5", "-a", "amd64", "packages", "pool"
            ])),
            args(&["elirepo", "packages", "--no-md5", "-a", "amd64", "pool"])
        );
        assert_eq!(
            hoist_packages(args(&["elirepo", "-q", "build", "packages"])),
            args(&["elirepo", "-q", "build", "packages"])
        );
    }
}
