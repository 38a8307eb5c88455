//! `elirepo xe-commands`: print the `xe` commands of [`elirepo::xe`] on stdout.

use std::process::ExitCode;

use elirepo::xe::XeOptions;

use super::exit::out;

/// The example, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Example:
  elirepo xe-commands --repo-url http://repo.example.com/debian-custom \\
      --suite lenny --arch amd64 --nfsroot 192.0.2.10:/srv/fai/nfsroot | sh";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct XeArgs {
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
}

/// Runs `elirepo xe-commands`; it always succeeds.
pub fn run(a: XeArgs) -> ExitCode {
    let XeArgs {
        repo_url,
        suite,
        arch,
        template,
        nfsroot,
        fai_action,
        vm,
    } = a;
    let _ = out(&elirepo::xe::commands(&XeOptions {
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
