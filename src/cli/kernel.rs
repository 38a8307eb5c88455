//! `elirepo kernel`: inspect one kernel file with [`elirepo::xen`], with a
//! progress bar while it decompresses, and print the report (text or `--json`).

use std::path::PathBuf;
use std::process::ExitCode;

use elirepo::progress::ProgressReader;
use elirepo::xen::{InspectOptions, XenError};

use super::exit::{failed, json_text, out, EXIT_PROBLEM};
use super::ui::Ui;

/// Examples and exit status, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Examples:
  elirepo kernel /srv/fai/nfsroot/boot/vmlinuz-6.1.0-26-amd64
  elirepo kernel --json vmlinuz | jq -r .verdict

Exit status: 0 PV-capable, 1 not PV-capable, 2 not a kernel or unreadable.";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct KernelArgs {
    /// bzImage, ELF vmlinux, or gzipped ELF
    file: PathBuf,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
}

/// Runs `elirepo kernel`: exit 0 when Xen boots the kernel as a PV guest, 1
/// when it does not, 2 when the file is no kernel or cannot be read.
pub fn run(a: KernelArgs, ui: &mut Ui) -> ExitCode {
    let KernelArgs { file, json } = a;
    let f = match std::fs::File::open(&file) {
        Ok(f) => f,
        Err(e) => return failed(ui, json, format!("{}: {e}", file.display()), None),
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let name = file
        .file_name()
        .unwrap_or(file.as_os_str())
        .to_string_lossy();
    let progress = ui.start_progress(&format!("decompressing {name}"), len);
    let result = elirepo::xen::inspect_kernel_with(
        ProgressReader::new(f, progress),
        &file,
        &InspectOptions::default(),
    );
    match result {
        Ok(report) => {
            let _ = out(&if json {
                // `ok` as verify's: true exactly when the exit status is 0.
                #[derive(serde::Serialize)]
                struct KernelJson<'a> {
                    ok: bool,
                    #[serde(flatten)]
                    report: &'a elirepo::xen::KernelReport,
                }
                json_text(&KernelJson {
                    ok: report.verdict.is_pv_capable(),
                    report: &report,
                })
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
            let hint = matches!(e, XenError::NotAKernel { .. }).then_some(
                "give a Linux kernel: a vmlinuz (bzImage, ELF vmlinux or gzipped ELF); from a linux-image .deb, take boot/vmlinuz-* (dpkg-deb -x) or use `elirepo build --kernel-deb`",
            );
            failed(ui, json, e, hint)
        }
    }
}
