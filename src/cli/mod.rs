//! The command line of the `elirepo` binary (binary only, not the library).
//!
//! This module owns the clap definition of the command line ([`Cli`],
//! [`Command`]) and its parsing, with usage errors in elirepo's format. Each
//! command has one module that turns its arguments into the library's options,
//! calls one `elirepo::` function and renders the result:
//!
//! * [`build`]: `elirepo build`, its hints and the `-v` settings.
//! * [`verify`]: `elirepo verify` and its text report.
//! * [`publish`]: `elirepo publish`: the repository sent to S3, ssh or a path.
//! * [`kernel`]: `elirepo kernel`.
//! * [`boot_test`]: `elirepo boot-test`: the pair booted under Xen in QEMU.
//! * [`packages`]: `elirepo packages`: apt-ftparchive's command line, read here.
//! * [`xe`]: `elirepo xe-commands`.
//! * [`man`]: `elirepo man` and `elirepo completions`, generated from [`Cli`].
//! * [`config`]: `elirepo config example`, the commented example configuration.
//!
//! What people see on stderr (steps, warnings, errors with hints, progress bars,
//! colour) is [`ui`]'s; how a run ends (exit status, data on stdout, `--json`,
//! crashes) is [`exit`]'s. No build, check or index logic lives here: that is
//! the library's.

pub mod boot_test;
pub mod build;
pub mod config;
pub mod exit;
pub mod kernel;
pub mod man;
pub mod packages;
pub mod publish;
pub mod ui;
pub mod verify;
pub mod xe;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::EXIT_USAGE;
use ui::{Level, Ui};

const ABOUT: &str = "Publish a signed apt repository and a XenServer eliloader netboot tree";

/// `elirepo --help`'s description, also the DESCRIPTION of `elirepo(1)`.
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
  elirepo config example > elirepo.toml

Exit status: 0 success, 1 a problem found (verify, kernel, packages),
2 usage or input error (build: nothing was published; verify: could not
check), 130 interrupted.

See elirepo(1) and elirepo-<command>(1); environment: NO_COLOR,
SOURCE_DATE_EPOCH, COLUMNS.";

// The whole command line. (No doc comments on clap's types: clap would read
// them as help text.)
#[derive(Parser)]
#[command(
    name = "elirepo",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = MAIN_AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// Print only errors (no steps, warnings or progress bars)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print details too: settings, timings, what changed
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

// The commands; each one's text beyond its one-line summary is in its module.
// `Build` is large, but the command is parsed once: no need to box it.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// Build and publish the repository (pool, indexes, Release, signatures)
    #[command(long_about = build::LONG_ABOUT, after_help = build::AFTER_HELP)]
    Build(build::BuildArgs),
    /// Copy a built repository to S3, an ssh host or a path, never half-visible
    #[command(long_about = publish::LONG_ABOUT, after_help = publish::AFTER_HELP)]
    Publish(publish::PublishArgs),
    /// Check a published repository (directory or http:// URL) as eliloader and apt use it
    #[command(long_about = verify::LONG_ABOUT, after_help = verify::AFTER_HELP)]
    Verify(verify::VerifyArgs),
    /// Print the xe commands that point a XenServer template at the repository
    #[command(after_help = xe::AFTER_HELP)]
    XeCommands(xe::XeArgs),
    /// Inspect a kernel: will Xen boot it as a PV guest? (exit 0 only if PV-capable)
    #[command(after_help = kernel::AFTER_HELP)]
    Kernel(kernel::KernelArgs),
    /// Boot the kernel and initrd as a Xen PV guest in QEMU (exit 0 only if booted)
    #[command(long_about = boot_test::LONG_ABOUT, after_help = boot_test::AFTER_HELP)]
    BootTest(boot_test::BootTestArgs),
    /// Write a Packages index to stdout, byte-identical to `apt-ftparchive packages`
    #[command(override_usage = packages::USAGE, after_help = packages::AFTER_HELP)]
    Packages(packages::AptArgs),
    /// Print the manual page (roff) to stdout, or write every page into a directory
    #[command(after_help = man::MAN_AFTER_HELP)]
    Man(man::ManArgs),
    /// Print a shell completion script to stdout
    #[command(after_help = man::COMPLETIONS_AFTER_HELP)]
    Completions(man::CompletionsArgs),
    /// Print the commented example configuration (elirepo config example)
    #[command(after_help = config::AFTER_HELP)]
    Config(config::ConfigArgs),
}

impl Cli {
    /// How much to say on stderr: `-q`, `-v` or neither.
    pub fn level(&self) -> Level {
        if self.quiet {
            Level::Quiet
        } else if self.verbose {
            Level::Verbose
        } else {
            Level::Normal
        }
    }
}

/// The commands whose `--json` reports a failure on stdout too.
const JSON_COMMANDS: [&str; 4] = ["build", "verify", "kernel", "boot-test"];

/// True when `args` run one of [`JSON_COMMANDS`] with `--json` (before any `--`):
/// a usage error is then reported on stdout as JSON as well.
fn wants_json(args: &[std::ffi::OsString]) -> bool {
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    let Some(command) = words.by_ref().find(|w| !w.starts_with('-')) else {
        return false;
    };
    JSON_COMMANDS.contains(&command.as_ref())
        && words.take_while(|w| w != "--").any(|w| w == "--json")
}

/// A clap usage error as `--json` reports a failure: its message (the lines
/// before its tip and usage, joined) and a hint (the tip, the usage).
fn usage_error_json(rendered: &str) -> String {
    let mut message = Vec::new();
    let mut hint = Vec::new();
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(tip) = line.strip_prefix("tip: ") {
            hint.push(tip.to_string());
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            hint.push(format!("usage: {usage}"));
        } else if line.starts_with("For more information") {
            hint.push("--help lists every option".to_string());
        } else if hint.is_empty() {
            message.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    let hint = hint.join("; ");
    exit::json_error(
        message.join(" "),
        Some(&hint).filter(|h| !h.is_empty()).map(|h| h.as_str()),
    )
}

/// Parses the command line; usage errors come out in elirepo's error format
/// (and, for a command given `--json`, as JSON on stdout too).
pub fn parse() -> Result<Cli, ExitCode> {
    let args = packages::hoist_packages(std::env::args_os().collect());
    let json = wants_json(&args);
    match Cli::try_parse_from(args) {
        Ok(cli) => Ok(cli),
        Err(e) if !e.use_stderr() => {
            // --help, `help` and --version: stdout, exit 0.
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Bare `elirepo`: the help, which is no error message, on stderr.
            let _ = write!(io::stderr(), "{}", e.render());
            Err(ExitCode::from(EXIT_USAGE))
        }
        Err(e) => {
            let ui = Ui::new(Level::Normal);
            let text = e.render().to_string();
            if json {
                let _ = exit::out(&usage_error_json(&text));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_is_wanted_by_the_commands_that_have_it() {
        let args =
            |s: &str| -> Vec<std::ffi::OsString> { s.split_whitespace().map(Into::into).collect() };
        assert!(wants_json(&args("elirepo -q build --bogus --json")));
        assert!(wants_json(&args("elirepo kernel --json")));
        assert!(!wants_json(&args("elirepo build --bogus")));
        assert!(!wants_json(&args("elirepo packages --json")));
        assert!(!wants_json(&args("elirepo verify dir -- --json")));
        let v: serde_json::Value = serde_json::from_str(&usage_error_json(
            "error: unexpected argument '--x' found\n\n  tip: use '-- --x'\n\nUsage: elirepo build --json\n\nFor more information, try '--help'.\n",
        ))
        .unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["message"], "unexpected argument '--x' found");
        assert_eq!(
            v["error"]["hint"],
            "use '-- --x'; usage: elirepo build --json; --help lists every option"
        );
    }
}
