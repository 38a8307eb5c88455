//! `elirepo xe-commands`: check the values ([`elirepo::xe::check`]), tell how
//! the nfsroot boots, and print the `xe` commands of [`elirepo::xe`] on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use elirepo::config::SuggestedValues;
use elirepo::eliloader;
use elirepo::xe::{BootStyle, XeError, XeOptions};

use super::exit::{out, usage_error};
use super::ui::Ui;

/// The examples, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Examples:
  elirepo xe-commands --repo-url http://repo.example.com/debian-custom \\
      --suite bookworm --arch amd64 --nfsroot 192.0.2.10:/srv/fai/nfsroot \\
      --nfsroot-dir /srv/fai/nfsroot \\
      | TEMPLATE_UUID=$(xe template-list name-label='Debian Bookworm' --minimal) sh
  elirepo xe-commands --repo-url http://192.0.2.10/debian-custom --suite lenny \\
      --arch i386 --template 5f1d3a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c \\
      --vm 9a2c8e7f-1b3d-4c5e-8f9a-0b1c2d3e4f5a

Without --template the commands read $TEMPLATE_UUID and stop if it is unset.
PV-args: an nfsroot made by FAI 6's fai-make-nfsroot boots with dracut
(root=nfs:HOST:PATH:vers=3 rootovl ip=dhcp), FAI 3/4's with live-boot
(root=/dev/nfs nfsroot=HOST:PATH boot=live). --nfsroot-dir reads which from
the nfsroot on disk; else --boot-style, dracut by default.

Exit status: 0 printed, 2 a value eliloader or the guest cannot use.";

/// `--boot-style`'s values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Style {
    /// dracut: FAI 6's fai-make-nfsroot
    Dracut,
    /// live-boot: FAI 3 and 4
    Live,
}

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct XeArgs {
    /// Repository URL as eliloader will fetch it (http://, ftp:// or nfs:, not https://)
    #[arg(long, value_name = "URL")]
    repo_url: String,
    /// Suite (other-config:debian-release)
    #[arg(long)]
    suite: String,
    /// Architecture (other-config:install-arch): i386 or amd64
    #[arg(long, value_parser = SuggestedValues(&eliloader::ARCHITECTURES), hide_possible_values = true)]
    arch: String,
    /// Template UUID (default: $TEMPLATE_UUID when the commands run)
    #[arg(long, value_name = "UUID")]
    template: Option<String>,
    /// FAI nfsroot as HOST:PATH, for the template's PV-args
    #[arg(long, value_name = "HOST:PATH")]
    nfsroot: Option<String>,
    /// The nfsroot on disk, to read how it boots (dracut or live-boot) from
    #[arg(
        long,
        value_name = "DIR",
        requires = "nfsroot",
        conflicts_with = "boot_style"
    )]
    nfsroot_dir: Option<PathBuf>,
    /// How the nfsroot boots, for PV-args (default: dracut)
    #[arg(long, value_enum, value_name = "STYLE", requires = "nfsroot")]
    boot_style: Option<Style>,
    /// FAI_ACTION for PV-args (default install)
    #[arg(long, value_name = "ACTION", requires = "nfsroot")]
    fai_action: Option<String>,
    /// FAI_CONFIG_SRC for PV-args (e.g. nfs://HOST/srv/fai/config)
    #[arg(long, value_name = "URL", requires = "nfsroot")]
    fai_config_src: Option<String>,
    /// A VM whose interrupted installation to re-arm
    #[arg(long, value_name = "UUID")]
    vm: Option<String>,
}

/// Runs `elirepo xe-commands`: exit 0 with the commands on stdout, or 2 with
/// nothing on stdout when a value cannot be used.
pub fn run(a: XeArgs, ui: &mut Ui) -> ExitCode {
    let XeArgs {
        repo_url,
        suite,
        arch,
        template,
        nfsroot,
        nfsroot_dir,
        boot_style,
        fai_action,
        fai_config_src,
        vm,
    } = a;
    let boot_style = match (nfsroot_dir, boot_style) {
        (Some(dir), _) => match elirepo::xe::detect_boot_style(&dir) {
            Ok(s) => s,
            Err(e) => return refuse(ui, e),
        },
        (None, Some(Style::Live)) => BootStyle::Live,
        (None, Some(Style::Dracut) | None) => BootStyle::Dracut,
    };
    let opts = XeOptions {
        repo_url,
        suite,
        arch,
        template,
        nfsroot,
        boot_style,
        fai_action,
        fai_config_src,
        vm,
    };
    if let Err(e) = elirepo::xe::check(&opts) {
        return refuse(ui, e);
    }
    let _ = out(&elirepo::xe::commands(&opts));
    ExitCode::SUCCESS
}

fn refuse(ui: &Ui, e: XeError) -> ExitCode {
    let hint = e.hint();
    usage_error(ui, e, Some(&hint))
}
