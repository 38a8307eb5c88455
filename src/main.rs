//! The `elirepo` command: a thin clap front end over the `elirepo` library.
//!
//! Exit status: 0 success; 1 the command ran but found or hit a problem (an
//! unreadable .deb in `packages`, a failed check); 2 usage or input error.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "elirepo",
    version,
    about = "Publish a signed apt repository and a XenServer eliloader netboot tree",
    long_about = "elirepo publishes .deb files and a FAI nfsroot's Xen kernel and initrd as a \
signed apt repository with the netboot tree XenServer's eliloader fetches:\n  \
<repo>/dists/<suite>/main/installer-<arch>/current/images/netboot/xen/{vmlinuz,initrd.gz}"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build and publish the repository (pool, indexes, Release, signatures)
    #[command(after_help = "Examples:\n  \
elirepo build --config fixtures/demo/elirepo.toml --repo /tmp/demo-repo\n  \
elirepo build --repo /srv/repo --suite lenny --arch i386 --arch amd64 \\\n      \
--deb debs/ --sign-key 0xDEADBEEF --origin XS --label XS")]
    Build(BuildArgs),
    /// Check a published repository (directory or http:// URL) as eliloader and apt use it
    #[command(
        after_help = "Exit status: 0 everything holds, 1 problems found, 2 could not check.\n\nExamples:\n  \
elirepo verify /srv/debian-custom --keyring /srv/debian-custom/mysite-archive-keyring.gpg\n  \
elirepo verify http://repo.example.com/debian-custom --suite lenny --json"
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
        keyring: Option<std::path::PathBuf>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the xe commands that point a XenServer template at the repository
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
    #[command(
        after_help = "Example:\n  elirepo kernel /srv/fai/nfsroot/boot/vmlinuz-6.1.0-56-amd64"
    )]
    Kernel {
        /// bzImage, ELF vmlinux, or gzipped ELF
        file: std::path::PathBuf,
        /// Print the report as JSON
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
Example:\n  elirepo packages pool > Packages"
    )]
    Packages {
        /// apt-ftparchive arguments
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
        args: Vec<OsString>,
    },
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Configuration file (TOML); flags override its values
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Repository directory to publish into
    #[arg(long, value_name = "DIR")]
    repo: Option<std::path::PathBuf>,
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
    debs: Vec<std::path::PathBuf>,
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
    gpg_homedir: Option<std::path::PathBuf>,
    /// Armored secret key file to sign with (imported into a temporary gpg home)
    #[arg(long, value_name = "FILE")]
    sign_key_file: Option<std::path::PathBuf>,
    /// File holding the key's passphrase
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<std::path::PathBuf>,
    /// Ignore the config file's [sign] table and publish unsigned
    #[arg(long)]
    unsigned: bool,
    /// Fail at once if another build holds the repository's lock
    #[arg(long)]
    no_wait: bool,
    /// Netboot: a FAI nfsroot to take the Xen kernel and initrd from
    #[arg(long, value_name = "DIR")]
    nfsroot: Option<std::path::PathBuf>,
    /// Netboot: a linux-image .deb to take boot/vmlinuz-* from
    #[arg(long, value_name = "FILE")]
    kernel_deb: Option<std::path::PathBuf>,
    /// Netboot: an explicit kernel file
    #[arg(long, value_name = "FILE")]
    kernel: Option<std::path::PathBuf>,
    /// Netboot: an explicit initrd file
    #[arg(long, value_name = "FILE")]
    initrd: Option<std::path::PathBuf>,
    /// Netboot: the kernel version to publish when there are several
    #[arg(long, value_name = "VERSION")]
    kernel_version: Option<String>,
    /// Netboot: the installer architecture (default: the suite's only one)
    #[arg(long, value_name = "ARCH")]
    netboot_arch: Option<String>,
    /// Put real files in installer-ARCH/current/ instead of a symlink
    #[arg(long)]
    no_symlinks: bool,
    /// Allow a kernel over 32 MiB or an initrd over 128 MiB (hosts that raised eliloader's limits)
    #[arg(long)]
    allow_oversize: bool,
    /// Publish a kernel that fails the Xen PV check (the guest will not boot)
    #[arg(long)]
    force: bool,
    /// Print what the build did as JSON on stdout
    #[arg(long)]
    json: bool,
    /// Print only errors (no steps, no warnings)
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Prints build steps on stderr.
struct Log {
    quiet: bool,
}

impl elirepo::build::Listener for Log {
    fn step(&mut self, message: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr(), "elirepo: {message}");
        }
    }
    fn warn(&mut self, message: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr(), "elirepo: warning: {message}");
        }
    }
}

fn run_build(a: BuildArgs) -> ExitCode {
    let mut netboot = Vec::new();
    if a.nfsroot.is_some() || a.kernel_deb.is_some() || a.kernel.is_some() || a.initrd.is_some() {
        let arch = match (&a.netboot_arch, a.architectures.as_slice()) {
            (Some(n), _) => n.clone(),
            (None, [only]) => only.clone(),
            _ => {
                error("netboot inputs need --netboot-arch ARCH when the suite has several architectures (or use [[netboot]] tables in the config file)");
                return ExitCode::from(2);
            }
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
            error(e);
            return ExitCode::from(2);
        }
    };
    let mut log = Log { quiet: a.quiet };
    match elirepo::build::build(&opts, &mut log) {
        Ok(report) => {
            if a.json {
                let _ = writeln!(
                    io::stdout(),
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else if !a.quiet {
                let suite = &opts.suite;
                if report.changed {
                    let _ = writeln!(
                        io::stderr(),
                        "elirepo: published {} suite {suite}: {} packages ({} added, {} removed), {} files written, {} removed",
                        opts.repo.display(),
                        report.packages.len(),
                        report.added.len(),
                        report.removed.len(),
                        report.files_written,
                        report.files_removed
                    );
                } else {
                    let _ = writeln!(
                        io::stderr(),
                        "elirepo: nothing changed in {} suite {suite}",
                        opts.repo.display()
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            error(e);
            let _ = writeln!(
                io::stderr(),
                "elirepo: nothing was published; {} is unchanged",
                opts.repo.display()
            );
            ExitCode::from(2)
        }
    }
}

fn run_verify(
    target: String,
    suites: Vec<String>,
    archs: Vec<String>,
    keyring: Option<std::path::PathBuf>,
    json: bool,
) -> ExitCode {
    let now = match elirepo::release::build_time() {
        Ok(t) => t,
        Err(e) => {
            error(e);
            return ExitCode::from(2);
        }
    };
    let opts = elirepo::verify::VerifyOptions {
        target,
        suites,
        archs,
        keyring,
        now,
    };
    let report = match elirepo::verify::verify(&opts) {
        Ok(r) => r,
        Err(e) => {
            error(e);
            return ExitCode::from(2);
        }
    };
    if json {
        let _ = writeln!(
            io::stdout(),
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        let mut out = io::stdout().lock();
        for w in &report.warnings {
            let _ = writeln!(out, "WARN {}: {}", w.location, w.what);
        }
        for p in &report.problems {
            let _ = writeln!(out, "FAIL {}: {}", p.location, p.what);
        }
        let _ = writeln!(
            out,
            "{} {}: {} problem(s), {} warning(s); suites {}; {} files and {} pool files checked; eliloader URLs: {}",
            if report.ok() { "OK" } else { "FAILED" },
            report.target,
            report.problems.len(),
            report.warnings.len(),
            report.suites.join(", "),
            report.files_checked,
            report.packages_checked,
            report.eliloader_urls.len()
        );
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
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

fn error(msg: impl std::fmt::Display) {
    let _ = writeln!(io::stderr(), "elirepo: error: {msg}");
}

fn run_packages(args: Vec<OsString>) -> ExitCode {
    let mut full = vec![OsString::from("packages")];
    full.extend(args);
    let parsed = match elirepo::ftparchive::parse_args(&full) {
        Ok(p) => p,
        Err(e) => {
            error(e);
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match elirepo::ftparchive::run_packages(&parsed, &mut out) {
        Ok(summary) => {
            for w in &summary.warnings {
                let _ = writeln!(io::stderr(), "elirepo: warning: {w}");
            }
            for e in &summary.failed {
                error(e);
            }
            if summary.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                error(format!(
                    "{} of {} .deb files could not be read and are missing from the index",
                    summary.failed.len(),
                    summary.failed.len() + summary.written
                ));
                ExitCode::from(1)
            }
        }
        Err(elirepo::ftparchive::PackagesError::Output(e))
            if e.kind() == io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            error(e);
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(hoist_packages(std::env::args_os().collect()));
    match cli.command {
        Command::Packages { args } => run_packages(args),
        Command::Build(a) => run_build(a),
        Command::Verify {
            target,
            suites,
            archs,
            keyring,
            json,
        } => run_verify(target, suites, archs, keyring, json),
        Command::XeCommands {
            repo_url,
            suite,
            arch,
            template,
            nfsroot,
            fai_action,
            vm,
        } => {
            let _ = write!(
                io::stdout(),
                "{}",
                elirepo::xe::commands(&elirepo::xe::XeOptions {
                    repo_url,
                    suite,
                    arch,
                    template,
                    nfsroot,
                    fai_action,
                    vm,
                })
            );
            ExitCode::SUCCESS
        }
        Command::Kernel { file, json } => match elirepo::xen::inspect_kernel_file(&file) {
            Ok(report) => {
                if json {
                    let _ = writeln!(
                        io::stdout(),
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                } else {
                    let _ = write!(io::stdout(), "{}", report.to_text());
                }
                if report.verdict.is_pv_capable() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                error(e);
                ExitCode::from(2)
            }
        },
    }
}
