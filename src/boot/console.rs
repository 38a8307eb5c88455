//! Reading the console of a boot test: which line came from whom, and the verdict.
//!
//! The stream is QEMU's serial port: Xen's lines (`(XEN) ...`), dom0's kernel and the dom0
//! init's own markers (`elirepo-dom0: ...`), the toolstack's output relayed as `xl| ...` and
//! the guest's console relayed as `guest| ...`. [`Console`] takes the lines one by one,
//! remembers what matters, and [`Console::verdict`] turns them into a [`Verdict`] with the
//! line that proves it. The rules, in order of precedence:
//!
//! 1. **refused**: `xl create` failed before the guest printed anything; the builder's own
//!    error (`xc_dom_find_loader: no loader found`, `Invalid kernel`, `xc_dom_parse_image`,
//!    ...) is the detail.
//! 2. **initrd not unpacked**: the guest kernel said `Initramfs unpacking failed`, `junk in
//!    compressed archive`, `invalid magic at start of compressed archive` or `decompressor
//!    ... missing`.
//! 3. **kernel panic**: the guest said `Kernel panic - not syncing: ...` (the line is the
//!    detail; `VFS: Unable to mount root fs` is what a kernel without a usable initramfs says).
//! 4. **booted**: the guest kernel ran the initrd's `/init` (`Run /init as init process`)
//!    and did not panic afterwards.
//! 5. otherwise **timed out** (or the guest ended without any of the above: then the test
//!    harness reports that the guest stopped before running `/init`).

use serde::Serialize;

/// The verdict of a boot test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The guest kernel unpacked the initrd and ran its `/init`.
    Booted,
    /// Xen's domain builder (libxenguest, through `xl create`) refused the kernel.
    Refused,
    /// The guest kernel panicked.
    KernelPanic,
    /// The guest kernel could not unpack the initrd.
    InitrdNotUnpacked,
    /// The guest stopped before running `/init` without saying why (no panic, no error).
    Stopped,
    /// Nothing decisive within the time allowed.
    TimedOut,
}

impl Verdict {
    /// How the verdict reads in a report.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Booted => "booted",
            Verdict::Refused => "refused by Xen's domain builder",
            Verdict::KernelPanic => "kernel panic",
            Verdict::InitrdNotUnpacked => "initrd not unpacked",
            Verdict::Stopped => "guest stopped before running /init",
            Verdict::TimedOut => "timed out",
        }
    }
}

/// Who wrote a console line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The hypervisor (`(XEN) `).
    Xen,
    /// dom0's kernel or its init (markers `elirepo-dom0: `).
    Dom0,
    /// The toolstack (`xl| `).
    Xl,
    /// The guest under test (`guest| `).
    Guest,
}

/// Splits a console line into its source and its text (without the relay prefix).
pub fn source_of(line: &str) -> (Source, &str) {
    if let Some(rest) = line.strip_prefix("guest| ") {
        (Source::Guest, rest)
    } else if let Some(rest) = line.strip_prefix("xl| ") {
        (Source::Xl, rest)
    } else if line.starts_with("(XEN)") {
        (Source::Xen, line)
    } else {
        (Source::Dom0, line)
    }
}

/// The marker dom0's init prints once the toolstack is up, before `xl create`.
pub const MARK_CREATE: &str = "elirepo-dom0: xl create";
/// The marker dom0's init prints when `xl create -F` has exited (`... exit N`).
pub const MARK_XL_EXIT: &str = "elirepo-dom0: xl exit ";
/// The marker dom0's init prints last, before powering off.
pub const MARK_END: &str = "elirepo-dom0: end";
/// The marker before the hypervisor's capabilities (`xen_caps`) as dom0 reads them (the
/// builder's `xc_dom_boot_xen_init: ver 4.17, caps ...` line says it too).
pub const MARK_CAPS: &str = "elirepo-dom0: xen capabilities: ";
/// The marker before dom0's network interfaces (`/sys/class/net`) and PCI network
/// controllers (`pci:<slot>`).
pub const MARK_NICS: &str = "elirepo-dom0: network interfaces: ";
/// The marker dom0's init prints when setting up the toolstack failed.
pub const MARK_FAIL: &str = "elirepo-dom0: failed: ";

/// What the guest kernel prints just before it executes the initrd's `/init`.
const RUN_INIT: &str = "Run /init as init process";
const PANIC: &str = "Kernel panic - not syncing";
const UNPACK_ERRORS: [&str; 5] = [
    "Initramfs unpacking failed",
    "junk in compressed archive",
    "invalid magic at start of compressed archive",
    "decompressor failed",
    "RAMDISK: Couldn't find valid RAM disk image",
];
/// Lines of xl/libxenguest that carry the domain builder's reason.
const BUILDER_ERRORS: [&str; 8] = [
    "xc_dom_find_loader",
    "Invalid kernel",
    "xc_dom_parse_image",
    "xc_dom_probe",
    "elf_xen_",
    "xc: error",
    "panic: xg_dom",
    "cannot (re-)build domain",
];

/// The state of a console read so far.
#[derive(Debug, Default, Clone)]
pub struct Console {
    /// dom0's init started `xl create`.
    pub created: bool,
    /// `xl create -F`'s exit status, once it exited.
    pub xl_exit: Option<i32>,
    /// dom0's init reached its end marker.
    pub ended: bool,
    /// dom0's init could not set up the toolstack: its message.
    pub dom0_failure: Option<String>,
    /// The hypervisor's capabilities, as dom0 read them.
    pub xen_caps: Option<String>,
    /// dom0's network interfaces.
    pub nics: Option<Vec<String>>,
    /// The guest printed at least one line.
    pub guest_spoke: bool,
    /// The guest kernel ran `/init`.
    pub ran_init: bool,
    /// The first unpack error of the guest kernel.
    pub unpack_error: Option<String>,
    /// The guest's panic line.
    pub panic: Option<String>,
    /// The builder's error lines (xl's output), in order.
    pub builder_errors: Vec<String>,
    /// xl's error lines of any kind (`error:`), in order.
    pub xl_errors: Vec<String>,
    /// The xl line saying how the domain shut down (`Domain N has shut down, reason code R`).
    pub shutdown: Option<String>,
    /// The guest's lines (kept for the report's tail).
    pub guest_lines: Vec<String>,
    /// xl's lines.
    pub xl_lines: Vec<String>,
    /// The last lines of any source.
    pub last_lines: Vec<String>,
}

/// How many lines of each kind the report keeps.
pub const TAIL: usize = 25;

fn push_tail(v: &mut Vec<String>, line: &str) {
    if v.len() == TAIL * 8 {
        v.drain(..TAIL * 4);
    }
    v.push(line.to_string());
}

/// Text after a kernel log timestamp (`[   12.345678] `).
fn untimed(text: &str) -> &str {
    let t = text.trim_start();
    if t.starts_with('[') {
        if let Some(i) = t.find("] ") {
            if t[1..i].trim().parse::<f64>().is_ok() {
                return &t[i + 2..];
            }
        }
    }
    t
}

impl Console {
    /// A console with nothing read yet.
    pub fn new() -> Console {
        Console::default()
    }

    /// Takes one line (without its line ending).
    pub fn line(&mut self, raw: &str) {
        let line = raw.trim_end_matches(['\r', '\n']);
        push_tail(&mut self.last_lines, line);
        let (source, text) = source_of(line);
        match source {
            Source::Dom0 => {
                if text.starts_with(MARK_CREATE) {
                    self.created = true;
                } else if let Some(code) = text.strip_prefix(MARK_XL_EXIT) {
                    self.xl_exit = code.trim().parse().ok().or(Some(-1));
                } else if text.starts_with(MARK_END) {
                    self.ended = true;
                } else if let Some(caps) = text.strip_prefix(MARK_CAPS) {
                    let caps = caps.trim();
                    if !caps.is_empty() {
                        self.xen_caps = Some(caps.to_string());
                    }
                } else if let Some(nics) = text.strip_prefix(MARK_NICS) {
                    self.nics = Some(nics.split_whitespace().map(str::to_string).collect());
                } else if let Some(why) = text.strip_prefix(MARK_FAIL) {
                    self.dom0_failure.get_or_insert_with(|| why.to_string());
                }
            }
            Source::Xl => {
                // dom0's init appends its exit marker to xl's output file.
                if let Some(code) = text.strip_prefix(MARK_XL_EXIT) {
                    self.xl_exit = code.trim().parse().ok().or(Some(-1));
                    return;
                }
                push_tail(&mut self.xl_lines, text);
                if text.contains("has shut down, reason code") {
                    self.shutdown = Some(text.to_string());
                }
                // The builder's progress lines (`domainbuilder: detail: xc_dom_parse_image:
                // called`) name the same functions as its errors: only errors count.
                let progress = text.contains(": detail: ");
                if !progress && BUILDER_ERRORS.iter().any(|e| text.contains(e)) {
                    self.builder_errors.push(text.to_string());
                }
                if let Some(caps) = text
                    .split_once("xc_dom_boot_xen_init: ")
                    .and_then(|(_, r)| r.split_once(", caps "))
                {
                    self.xen_caps
                        .get_or_insert_with(|| caps.1.trim().to_string());
                }
                if text.contains("error") {
                    self.xl_errors.push(text.to_string());
                }
            }
            Source::Guest => {
                self.guest_spoke = true;
                push_tail(&mut self.guest_lines, text);
                let t = untimed(text);
                if self.unpack_error.is_none() && UNPACK_ERRORS.iter().any(|e| t.contains(e)) {
                    self.unpack_error = Some(t.to_string());
                }
                if self.panic.is_none() && t.contains(PANIC) {
                    self.panic = Some(t.to_string());
                }
                if t.contains(RUN_INIT) {
                    self.ran_init = true;
                }
            }
            Source::Xen => {}
        }
    }

    /// Takes every line of `text`.
    pub fn feed(&mut self, text: &str) {
        for l in text.lines() {
            self.line(l);
        }
    }

    /// The domain builder refused the kernel: xl failed before the guest printed a line.
    fn refused(&self) -> bool {
        matches!(self.xl_exit, Some(c) if c != 0) && !self.guest_spoke
    }

    /// True once the verdict cannot change any more: dom0's init ended (the guest is gone or
    /// the builder refused it; its relays have printed what they had), the guest panicked, or
    /// dom0 failed. (`booted` needs the caller's grace period after `/init`.)
    pub fn settled(&self) -> bool {
        self.ended || self.panic.is_some() || self.dom0_failure.is_some()
    }

    /// The verdict from what was read, and the line that proves it. `timed_out`: the run was
    /// stopped by the timeout (rather than ending or settling).
    pub fn verdict(&self, timed_out: bool) -> (Verdict, String) {
        if self.refused() {
            // libxenguest's own line (`xc: error: panic: ...`) first, then libxl's.
            let why = self
                .builder_errors
                .iter()
                .find(|l| l.contains("xc: error"))
                .or(self.builder_errors.first())
                .or(self.xl_errors.first())
                .cloned()
                .unwrap_or_else(|| {
                    format!(
                        "xl create exited with status {}",
                        self.xl_exit.unwrap_or(-1)
                    )
                });
            return (Verdict::Refused, why);
        }
        if let Some(e) = &self.unpack_error {
            return (Verdict::InitrdNotUnpacked, e.clone());
        }
        if let Some(p) = &self.panic {
            return (Verdict::KernelPanic, p.clone());
        }
        if self.ran_init {
            return (Verdict::Booted, RUN_INIT.to_string());
        }
        if !timed_out && (self.xl_exit.is_some() || self.ended) && self.created {
            let how = self
                .shutdown
                .clone()
                .unwrap_or_else(|| "the guest ended".to_string());
            return (Verdict::Stopped, how);
        }
        let stage = if !self.created {
            "dom0 did not reach xl create"
        } else if !self.guest_spoke {
            "the guest printed nothing"
        } else {
            "the guest did not run /init"
        };
        (Verdict::TimedOut, stage.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/boot")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn verdict_of(name: &str) -> (Verdict, String) {
        let mut c = Console::new();
        c.feed(&fixture(name));
        c.verdict(false)
    }

    #[test]
    fn a_guest_that_ran_init_booted() {
        let (v, why) = verdict_of("booted.log");
        assert_eq!(v, Verdict::Booted, "{why}");
    }

    #[test]
    fn the_builders_refusal_is_refused_with_its_message() {
        let (v, why) = verdict_of("refused-no-xen-notes.log");
        assert_eq!(v, Verdict::Refused, "{why}");
        assert!(
            why.contains("xc_dom_find_loader")
                || why.contains("Invalid kernel")
                || why.contains("Not a Xen-ELF"),
            "{why}"
        );
    }

    #[test]
    fn the_builders_error_line_is_the_detail_not_its_progress_lines() {
        // Debian 12's 686-pae (PVH-only) with xl's `detail:` lines kept: they name
        // xc_dom_parse_image and xc_dom_find_loader too, but only the error line is the reason.
        let mut c = Console::new();
        c.feed(&fixture("refused-686-pae.log"));
        let (v, why) = c.verdict(false);
        assert_eq!(v, Verdict::Refused, "{why}");
        assert_eq!(
            why,
            "xc: error: panic: xg_dom_core.c:689: xc_dom_find_loader: no loader found: Invalid kernel"
        );
        assert_eq!(c.xen_caps.as_deref(), Some("xen-3.0-x86_64"));
    }

    #[test]
    fn a_32bit_pae_kernel_under_a_xen_without_pv32_is_refused_with_the_builders_line() {
        // A PV-capable 32-bit PAE kernel (tests/common/synth's pv_i386_kernel) under
        // Debian's Xen 4.17, built without CONFIG_PV32: refused at xc_dom_compat_check.
        let mut c = Console::new();
        c.feed(&fixture("refused-no-pv32.log"));
        let (v, why) = c.verdict(false);
        assert_eq!(v, Verdict::Refused, "{why}");
        assert!(
            why.starts_with("xc: error: panic: ")
                && why.contains("xc_dom_compat_check: guest type xen-3.0-x86_32p not supported"),
            "{why}"
        );
        assert_eq!(c.xen_caps.as_deref(), Some("xen-3.0-x86_64"));
        assert_eq!(c.nics, Some(vec!["lo".to_string()]));
    }

    #[test]
    fn dom0s_markers_give_the_capabilities_and_the_network_interfaces() {
        let mut c = Console::new();
        c.feed(&format!(
            "{MARK_CAPS}xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_64\n{MARK_NICS}lo \n"
        ));
        assert_eq!(
            c.xen_caps.as_deref(),
            Some("xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_64")
        );
        assert_eq!(c.nics, Some(vec!["lo".to_string()]));
        // An empty capabilities line (no sysfs, no xl info) is unknown, not "none".
        let mut c = Console::new();
        c.feed(&format!("{MARK_CAPS}\n"));
        assert_eq!(c.xen_caps, None);
    }

    #[test]
    fn a_truncated_initrd_was_not_unpacked() {
        let (v, why) = verdict_of("initrd-truncated.log");
        assert_eq!(v, Verdict::InitrdNotUnpacked, "{why}");
    }

    #[test]
    fn an_initrd_in_an_unknown_compression_was_not_unpacked() {
        let (v, why) = verdict_of("initrd-lz4-frame.log");
        assert_eq!(v, Verdict::InitrdNotUnpacked, "{why}");
        assert!(why.contains("invalid magic"), "{why}");
    }

    #[test]
    fn a_panic_is_a_kernel_panic_with_its_line() {
        let (v, why) = verdict_of("panic-no-init.log");
        assert_eq!(v, Verdict::KernelPanic, "{why}");
        assert!(why.starts_with("Kernel panic - not syncing"), "{why}");
    }

    #[test]
    fn nothing_decisive_is_a_timeout_naming_the_stage() {
        let mut c = Console::new();
        c.feed("(XEN) Xen version 4.17\n[    1.0] Linux version 6.1\nelirepo-dom0: up\n");
        assert_eq!(
            c.verdict(true),
            (Verdict::TimedOut, "dom0 did not reach xl create".into())
        );
        c.feed("elirepo-dom0: xl create\nguest| [    0.000000] Linux version 6.1.0\n");
        assert_eq!(c.verdict(true).0, Verdict::TimedOut);
        assert!(!c.settled());
    }

    #[test]
    fn sources_are_told_apart() {
        assert_eq!(
            source_of("guest| Run /init as init process").0,
            Source::Guest
        );
        // dom0's own /init run is not the guest's.
        let mut c = Console::new();
        c.feed("[   21.47] Run /init as init process\nelirepo-dom0: xl create\nelirepo-dom0: xl exit 0\nelirepo-dom0: end\n");
        assert_eq!(c.verdict(false).0, Verdict::Stopped);
        // A panic of dom0 is not the guest's either.
        let mut c = Console::new();
        c.feed("[    3.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n");
        assert_eq!(c.verdict(true).0, Verdict::TimedOut);
    }
}
