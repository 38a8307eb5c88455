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
    }
}
