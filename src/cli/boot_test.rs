//! `elirepo boot-test`: boot a kernel and initrd (given as files, or fetched from a repository
//! at eliloader's URLs) as a Xen PV guest in QEMU with [`elirepo::boot`], and print the
//! verdict (text or `--json`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use elirepo::boot::{self, BootError, BootOptions, BootReport, Tools};

use super::exit::{json_text, out, usage_error, EXIT_PROBLEM};
use super::ui::{Level, Ui};

/// `elirepo boot-test --help`'s description.
pub const LONG_ABOUT: &str = "Boot the netboot pair under a real Xen before eliloader does. \
QEMU (TCG, no NIC, no disk, as the calling user: no root, no /dev/kvm) runs the Xen hypervisor with a small dom0 (a \
dom0-capable kernel, an initramfs made on the fly from busybox and the installed toolstack) \
that runs `xl create` with type \"pv\", the kernel, the initrd as ramdisk and the PV-args: \
the guest is built by libxenguest's PV domain builder, the code eliloader hands the pair to. \
The guest's console is relayed and classified.\n\n\
Verdicts: booted (the guest kernel ran the initrd's /init), refused by Xen's domain builder \
(with the builder's message), kernel panic (with the panic line), initrd not unpacked, guest \
stopped before running /init, timed out. The guest's command line is the PV-args followed by \
`console=hvc0 loglevel=7`.\n\n\
Needs qemu-system-x86, xen-hypervisor-4.17-amd64, xen-utils-4.17, busybox-static, and a \
dom0 kernel: --dom0-kernel (a linux-image .deb, e.g. from `apt-get download \
linux-image-6.1.0-57-amd64`, or a root directory with boot/vmlinuz-* and lib/modules/), else \
$ELIREPO_DOM0_KERNEL, else this machine's /boot. A boot takes 1 to 3 minutes under TCG.";

/// Examples and exit status, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Examples:
  elirepo boot-test --kernel vmlinuz --initrd initrd.gz \\
      --dom0-kernel linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb
  elirepo boot-test http://repo.example.com/debian-custom --suite lenny --arch amd64 \\
      --args 'quiet console=hvc0' --keep-log boot.log

Exit status: 0 booted, 1 any other verdict, 2 could not test (missing tools: the \
packages to install are named; unreadable input; the boot environment failed).";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct BootTestArgs {
    /// Repository directory, http:// or ftp:// URL: test the pair eliloader would fetch
    #[arg(conflicts_with_all = ["kernel", "initrd"], required_unless_present = "kernel")]
    target: Option<String>,
    /// Suite eliloader's debian-release names (with a repository)
    #[arg(long, requires = "target")]
    suite: Option<String>,
    /// Kernel to boot (bzImage, ELF vmlinux or gzipped ELF)
    #[arg(long, value_name = "FILE", requires = "initrd")]
    kernel: Option<PathBuf>,
    /// Initrd to boot with it
    #[arg(long, value_name = "FILE", requires = "kernel")]
    initrd: Option<PathBuf>,
    /// Architecture: amd64 or i386 (eliloader's install-arch)
    #[arg(long, default_value = "amd64", value_parser = ["amd64", "i386"])]
    arch: String,
    /// The PV-args (kernel command line) the template sets
    #[arg(
        long,
        value_name = "PV-ARGS",
        default_value = "",
        allow_hyphen_values = true
    )]
    args: String,
    /// dom0 kernel: a linux-image .deb or a root directory (boot/, lib/modules/)
    #[arg(long, value_name = "DEB|DIR")]
    dom0_kernel: Option<PathBuf>,
    /// Give up after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    timeout: u64,
    /// Write the whole console (Xen, dom0, xl, guest) to this file
    #[arg(long, value_name = "FILE")]
    keep_log: Option<PathBuf>,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
}

fn hint_for(e: &BootError) -> Option<String> {
    match e {
        BootError::Missing { .. } => Some(format!(
            "apt-get install --no-install-recommends {}",
            boot::PACKAGES
        )),
        BootError::Dom0 { .. } => Some(
            "give --dom0-kernel a linux-image .deb (apt-get download linux-image-6.1.0-57-amd64) or a root directory with boot/vmlinuz-<release> and lib/modules/<release>/".into(),
        ),
        _ => None,
    }
}

/// Runs `elirepo boot-test`: exit 0 when the pair booted, 1 on any other verdict, 2 when the
/// test could not be run.
pub fn run(a: BootTestArgs, ui: &mut Ui) -> ExitCode {
    // The files given are read as the calling user (no root): say first which one cannot be.
    for f in [&a.kernel, &a.initrd, &a.dom0_kernel].into_iter().flatten() {
        if let Err(e) = boot::check_readable(f) {
            return usage_error(ui, e, None);
        }
    }
    let tools = match Tools::find() {
        Ok(t) => t,
        Err(e) => {
            let h = hint_for(&e);
            return usage_error(ui, e, h.as_deref());
        }
    };
    let Some(dom0) = a.dom0_kernel.clone().or_else(boot::default_dom0) else {
        return usage_error(
            ui,
            "no dom0 kernel: this machine's /boot holds none and neither --dom0-kernel nor ELIREPO_DOM0_KERNEL is set",
            hint_for(&BootError::Dom0 { path: PathBuf::new(), reason: String::new() }).as_deref(),
        );
    };
    let fetched;
    let (kernel, initrd) = match (&a.target, &a.kernel, &a.initrd) {
        (Some(target), _, _) => {
            let Some(suite) = &a.suite else {
                return usage_error(
                    ui,
                    "a repository needs --suite (eliloader's debian-release)",
                    None,
                );
            };
            fetched = match tempfile::Builder::new().prefix("elirepo-fetch-").tempdir() {
                Ok(d) => d,
                Err(e) => {
                    return usage_error(ui, format!("cannot make a temporary directory: {e}"), None)
                }
            };
            ui.step(&format!(
                "fetching the {} pair of {target} as eliloader would",
                a.arch
            ));
            match boot::fetch_pair(target, suite, &a.arch, fetched.path()) {
                Ok([(k, kloc), (i, iloc)]) => {
                    ui.detail(&format!("kernel: {kloc}"));
                    ui.detail(&format!("initrd: {iloc}"));
                    (k, i)
                }
                Err(e) => return usage_error(ui, e, None),
            }
        }
        (None, Some(k), Some(i)) => (k.clone(), i.clone()),
        _ => return usage_error(ui, "give a repository, or --kernel and --initrd", None),
    };
    let mut opts = BootOptions::new(kernel, initrd, dom0);
    opts.arch = a.arch.clone();
    opts.args = a.args.clone();
    opts.timeout = Duration::from_secs(a.timeout.max(1));
    ui.step(&format!(
        "booting {} with {} as a Xen PV guest in QEMU (TCG: 1 to 3 minutes)",
        opts.kernel.display(),
        opts.initrd.display()
    ));
    let verbose = ui.level() >= Level::Verbose;
    let result = boot::boot_test(&tools, &opts, &mut |line| {
        if verbose {
            eprintln!("console: {line}");
        }
    });
    let report: BootReport = match result {
        Ok(r) => r,
        Err(e) => {
            let h = hint_for(&e);
            return usage_error(ui, e, h.as_deref());
        }
    };
    if let Some(path) = &a.keep_log {
        if let Err(e) = std::fs::write(path, &report.log) {
            ui.warning(&format!("{}: cannot write the log: {e}", path.display()));
        }
    }
    for w in &report.warnings {
        ui.warning(w);
    }
    let _ = out(&if a.json {
        json_text(&report)
    } else {
        report.to_text()
    });
    if report.booted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEM)
    }
}
