//! Boot the netboot pair under a real Xen: the dynamic counterpart of [`crate::xen`].
//!
//! [`crate::xen`] reads a kernel and says whether Xen's domain builder would accept it. This
//! module runs the builder. It owns:
//!
//! * finding the tools ([`Tools::find`]): `qemu-system-x86_64`, the Xen hypervisor
//!   (`/boot/xen-*.gz`, gunzipped: a multiboot ELF QEMU's `-kernel` loads), the toolstack
//!   (`/usr/lib/xen-*/bin/xl` and its daemons), busybox, and a dom0 kernel with its Xen
//!   modules ([`dom0::Dom0Kernel`]: a linux-image .deb or a root directory). A missing tool is
//!   [`BootError::Missing`], naming the Debian package to install: never a silent pass;
//! * building dom0's initramfs ([`dom0::write_initramfs`], written with [`cpio`]): busybox,
//!   `xl`, `xenstored`, `xenconsoled`, `xen-init-dom0` and their libraries, and the pair
//!   under test with an xl configuration `type = "pv"`, `kernel`, `ramdisk`, `extra` = the
//!   PV-args: the guest is built by libxenguest's PV domain builder, the code eliloader hands
//!   the pair to;
//! * running QEMU (TCG, no NIC, no disk, as the calling user) with a timeout
//!   ([`boot_test`]), reading its serial console line by line;
//! * classifying the console ([`console`]) into a [`Verdict`]: booted, refused by the domain
//!   builder, kernel panic, initrd not unpacked, stopped, timed out;
//! * fetching the pair a repository publishes at eliloader's URLs ([`fetch_pair`]).
//!
//! It does not own the static checks ([`crate::xen`], [`crate::initrd`]) nor the printing.
//!
//! # What is appended to the PV-args
//!
//! The guest's kernel command line is the PV-args followed by `console=hvc0 loglevel=7`, so
//! that the guest's console reaches the relay and the kernel's `Run /init as init process`
//! shows even with `quiet`.
//!
//! # Cost
//!
//! Under TCG on a 2-core machine, dom0 (Debian's 6.1 kernel) reaches its `/init` in about
//! 20 s of guest time, the builder decompresses and loads a 66 MB kernel, and the guest boots:
//! one boot test takes 1 to 3 minutes of wall time, depending on the machine's load.

pub mod console;
pub mod cpio;
pub mod dom0;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use console::Console;
pub use console::Verdict;

/// The packages a Debian machine needs for a boot test.
pub const PACKAGES: &str =
    "qemu-system-x86 xen-hypervisor-4.17-amd64 xen-utils-4.17 busybox-static";

/// Why a boot test could not run (as opposed to a verdict on the pair).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// A tool is missing.
    #[error("{what} not found: install {packages}")]
    Missing {
        /// What is missing.
        what: String,
        /// The packages that provide it.
        packages: String,
    },
    /// The dom0 kernel cannot be used.
    #[error("{}: cannot use as dom0 kernel: {reason}", path.display())]
    Dom0 {
        /// The .deb or directory given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The toolstack is incomplete.
    #[error("the Xen toolstack: {0}")]
    Toolstack(String),
    /// A file could not be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The boot environment itself failed (Xen or dom0), so there is no verdict on the pair.
    #[error("the boot environment failed ({reason}); last console lines:\n{tail}")]
    Harness {
        /// What failed.
        reason: String,
        /// The last console lines.
        tail: String,
    },
    /// The pair could not be fetched from the repository.
    #[error("{url}: {reason}")]
    Fetch {
        /// The URL or path.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The programs and files a boot test runs.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `qemu-system-x86_64`.
    pub qemu: PathBuf,
    /// The hypervisor (`xen-*.gz` or an uncompressed `xen-*`).
    pub xen: PathBuf,
    /// The toolstack's directory (`/usr/lib/xen-4.17/bin`).
    pub xen_bin: PathBuf,
    /// busybox.
    pub busybox: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The effective uid of this process (from `/proc/self/status`), for messages.
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    uids.split_whitespace().nth(1)?.parse().ok()
}

/// Why `path` could not be opened, in words: for "permission denied", who owns it, its mode
/// and which user elirepo runs as (a boot test needs no root: the files must be readable by
/// the calling user).
pub fn open_error(path: &Path, e: &std::io::Error) -> String {
    use std::os::unix::fs::MetadataExt;
    if e.kind() != std::io::ErrorKind::PermissionDenied {
        return format!("cannot read it: {e}");
    }
    let me = euid().map_or_else(|| "this user".to_string(), |u| format!("uid {u}"));
    match std::fs::metadata(path) {
        Ok(m) => format!(
            "cannot read it: permission denied (owner uid {}, group gid {}, mode {:04o}; elirepo runs as {me}): make it readable by this user (e.g. chmod o+r) or copy it somewhere it can read",
            m.uid(),
            m.gid(),
            m.mode() & 0o7777
        ),
        Err(_) => format!(
            "cannot read it: permission denied on a directory above it (elirepo runs as {me}): make the path searchable by this user or copy the file somewhere it can read"
        ),
    }
}

/// Opens `path` for reading, or says which file and why not ([`open_error`]).
pub fn open_readable(path: &Path) -> Result<std::fs::File, BootError> {
    std::fs::File::open(path).map_err(|e| BootError::Io {
        path: path.to_path_buf(),
        reason: open_error(path, &e),
    })
}

/// Checks that `path` can be read by this user: a file is opened, a directory listed.
pub fn check_readable(path: &Path) -> Result<(), BootError> {
    if path.is_dir() {
        return std::fs::read_dir(path)
            .map(drop)
            .map_err(|e| BootError::Io {
                path: path.to_path_buf(),
                reason: open_error(path, &e),
            });
    }
    open_readable(path).map(drop)
}

/// The newest file matching `dir/<prefix>*<suffix>`.
fn newest(dir: &Path, prefix: &str, suffix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    found.sort();
    found.pop()
}

impl Tools {
    /// Finds the tools: `ELIREPO_QEMU`, `ELIREPO_XEN` (the hypervisor file) and
    /// `ELIREPO_XEN_BIN` (the toolstack directory) override the search of `PATH`,
    /// `/boot/xen-*-amd64.gz` and `/usr/lib/xen-*/bin`.
    pub fn find() -> Result<Tools, BootError> {
        // An override that names no file counts as missing: never a silent fallback.
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let exists = |p: PathBuf| p.exists().then_some(p);
        let qemu = env("ELIREPO_QEMU")
            .map_or_else(|| on_path("qemu-system-x86_64"), exists)
            .ok_or_else(|| BootError::Missing {
                what: "qemu-system-x86_64".into(),
                packages: "qemu-system-x86".into(),
            })?;
        let xen = env("ELIREPO_XEN")
            .map_or_else(
                || {
                    newest(Path::new("/boot"), "xen-", "-amd64.gz")
                        .or_else(|| newest(Path::new("/boot"), "xen-", ".gz"))
                },
                exists,
            )
            .ok_or_else(|| BootError::Missing {
                what: "the Xen hypervisor (/boot/xen-*.gz)".into(),
                packages: "xen-hypervisor-4.17-amd64".into(),
            })?;
        let xen_bin = env("ELIREPO_XEN_BIN")
            .map_or_else(
                || {
                    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
                        .ok()?
                        .flatten()
                        .filter(|e| e.file_name().to_string_lossy().starts_with("xen-"))
                        .map(|e| e.path().join("bin"))
                        .filter(|d| d.join("xl").is_file())
                        .collect();
                    dirs.sort();
                    dirs.pop()
                },
                exists,
            )
            .ok_or_else(|| BootError::Missing {
                what: "the Xen toolstack (/usr/lib/xen-*/bin/xl)".into(),
                packages: "xen-utils-4.17".into(),
            })?;
        let busybox = env("ELIREPO_BUSYBOX")
            .map_or_else(|| on_path("busybox"), exists)
            .ok_or_else(|| BootError::Missing {
                what: "busybox".into(),
                packages: "busybox-static".into(),
            })?;
        Ok(Tools {
            qemu,
            xen,
            xen_bin,
            busybox,
        })
    }
}

/// Where the dom0 kernel comes from when none is given: `ELIREPO_DOM0_KERNEL`, else the
/// machine's own `/boot` and `/lib/modules` when they hold a kernel.
pub fn default_dom0() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ELIREPO_DOM0_KERNEL").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    newest(Path::new("/boot"), "vmlinuz-", "").map(|_| PathBuf::from("/"))
}

/// What to boot and how.
#[derive(Debug, Clone)]
pub struct BootOptions {
    /// The kernel under test.
    pub kernel: PathBuf,
    /// The initrd under test.
    pub initrd: PathBuf,
    /// `amd64` or `i386` (for the report; the builder decides from the kernel).
    pub arch: String,
    /// The PV-args (the guest's command line before `console=hvc0 loglevel=7`).
    pub args: String,
    /// The dom0 kernel: a linux-image .deb or a root directory.
    pub dom0: PathBuf,
    /// How long the whole run may take.
    pub timeout: Duration,
    /// After the guest ran `/init`, how long to watch for a panic before saying "booted".
    pub grace: Duration,
    /// The guest's memory in MiB.
    pub memory_mib: u32,
}

impl BootOptions {
    /// Options with the defaults: no PV-args, a 900 s timeout, 20 s of grace, 512 MiB.
    pub fn new(kernel: PathBuf, initrd: PathBuf, dom0: PathBuf) -> BootOptions {
        BootOptions {
            kernel,
            initrd,
            arch: "amd64".into(),
            args: String::new(),
            dom0,
            timeout: Duration::from_secs(900),
            grace: Duration::from_secs(20),
            memory_mib: 512,
        }
    }
}

/// The result of a boot test.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BootReport {
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict in words.
    pub verdict_label: &'static str,
    /// The line that proves it (the builder's message, the panic line, ...).
    pub detail: String,
    /// The kernel under test.
    pub kernel: PathBuf,
    /// The initrd under test.
    pub initrd: PathBuf,
    /// The architecture asked for.
    pub arch: String,
    /// The guest's whole command line.
    pub cmdline: String,
    /// The dom0 kernel used.
    pub dom0_kernel: PathBuf,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
    /// The last lines of the guest's console (or of xl's output when the guest said nothing).
    pub last_lines: Vec<String>,
    /// xl's exit status, if it exited.
    pub xl_exit: Option<i32>,
    /// The guest types the running hypervisor offers (`xen_caps`, as dom0 read it), e.g.
    /// `xen-3.0-x86_64 hvm-3.0-x86_32 ...`: a 32-bit PV guest needs `xen-3.0-x86_32p`.
    pub xen_capabilities: Option<String>,
    /// dom0's network interfaces (`/sys/class/net`) and network controllers on its PCI bus
    /// (`pci:<slot>`, driver or not): `["lo"]`, QEMU gives it no NIC.
    pub network_interfaces: Option<Vec<String>>,
    /// Where `--arch` and the kernel disagree, or the hypervisor cannot run that arch.
    pub warnings: Vec<String>,
    /// The whole console, for `--keep-log`.
    #[serde(skip)]
    pub log: Vec<u8>,
}

impl BootReport {
    /// True only for [`Verdict::Booted`].
    pub fn booted(&self) -> bool {
        self.verdict == Verdict::Booted
    }

    /// The report as text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "kernel: {}\ninitrd: {}\narch: {}\ncommand line: {}\ndom0 kernel: {}\ntime: {:.1} s\nverdict: {}\ndetail: {}\n",
            self.kernel.display(),
            self.initrd.display(),
            self.arch,
            self.cmdline,
            self.dom0_kernel.display(),
            self.seconds,
            self.verdict.label(),
            self.detail
        );
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        if let Some(c) = &self.xen_capabilities {
            s.push_str(&format!("xen capabilities: {c}\n"));
        }
        if !self.last_lines.is_empty() {
            s.push_str("last console lines:\n");
            for l in &self.last_lines {
                s.push_str("  ");
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

/// The hypervisor as QEMU's `-kernel` needs it: gunzipped into `dir` when compressed.
fn xen_image(xen: &Path, dir: &Path) -> Result<PathBuf, BootError> {
    let io = |e: std::io::Error| BootError::Io {
        path: xen.to_path_buf(),
        reason: e.to_string(),
    };
    let mut f = open_readable(xen)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    if n < 2 || magic != [0x1f, 0x8b] {
        return Ok(xen.to_path_buf());
    }
    let f = std::fs::File::open(xen).map_err(io)?;
    let out = dir.join("xen");
    let mut w = std::fs::File::create(&out).map_err(io)?;
    std::io::copy(&mut flate2::read::GzDecoder::new(f).take(64 << 20), &mut w).map_err(io)?;
    Ok(out)
}

/// The hypervisor's command line: Xen's serial console on QEMU's, dom0's memory fixed.
pub const XEN_CMDLINE: &str =
    "console=com1 dom0_mem=640M,max:640M loglvl=all guest_loglvl=all bootscrub=false";

/// QEMU's arguments for booting `xen` with `modules` (QEMU's `-initrd` list: dom0's kernel
/// and its command line, then dom0's initramfs). TCG (no `/dev/kvm`, which Xen's early boot
/// does not survive under KVM anyway), one CPU, 2 GiB; `-nodefaults` and `-nic none`: no
/// network card, no disk, no display; the serial port on stdio; `-no-reboot` so that Xen's
/// reboot ends QEMU. Nothing here needs root.
pub fn qemu_args(xen: &Path, modules: &str) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = [
        "-accel",
        "tcg",
        "-cpu",
        "Nehalem",
        "-smp",
        "1",
        "-m",
        "2048",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-nic",
        "none",
        "-no-reboot",
        "-kernel",
    ]
    .iter()
    .map(Into::into)
    .collect();
    a.push(xen.into());
    a.extend(["-append".into(), XEN_CMDLINE.into(), "-initrd".into()]);
    a.push(modules.into());
    a
}

/// Boots `opts`' pair as a PV guest of Xen in QEMU and classifies the console.
///
/// `on_line` sees every console line as it arrives (for `-v`). A verdict that is not
/// [`Verdict::Booted`] is still `Ok`: the error cases are a missing tool, an unusable dom0
/// kernel, and a boot environment that failed before the guest could be created.
pub fn boot_test(
    tools: &Tools,
    opts: &BootOptions,
    on_line: &mut dyn FnMut(&str),
) -> Result<BootReport, BootError> {
    let start = Instant::now();
    // Everything is read as the calling user: say which file cannot be read, and why.
    for f in [
        &opts.kernel,
        &opts.initrd,
        &opts.dom0,
        &tools.xen,
        &tools.busybox,
    ] {
        check_readable(f)?;
    }
    let dom0 = dom0::Dom0Kernel::load(&opts.dom0)?;
    let work = tempfile::Builder::new()
        .prefix("elirepo-boot-")
        .tempdir()
        .map_err(|e| BootError::Io {
            path: std::env::temp_dir(),
            reason: e.to_string(),
        })?;
    let cmdline = format!("{} console=hvc0 loglevel=7", opts.args.trim())
        .trim()
        .to_string();
    let cfg = dom0::guest_config(&cmdline, opts.memory_mib);
    let toolstack = dom0::Toolstack {
        bin: tools.xen_bin.clone(),
        busybox: tools.busybox.clone(),
    };
    let initramfs = work.path().join("dom0.cpio");
    dom0::write_initramfs(
        &initramfs,
        &toolstack,
        &dom0,
        &opts.kernel,
        &opts.initrd,
        &cfg,
    )?;
    let dom0_kernel = work.path().join("dom0-vmlinuz");
    std::fs::write(&dom0_kernel, &dom0.kernel).map_err(|e| BootError::Io {
        path: dom0_kernel.clone(),
        reason: e.to_string(),
    })?;
    let xen = xen_image(&tools.xen, work.path())?;
    // QEMU's -initrd takes a comma-separated list: paths must not hold a comma.
    let modules = format!(
        "{} console=hvc0 loglevel=4,{}",
        dom0_kernel.display(),
        initramfs.display()
    );
    let mut child = Command::new(&tools.qemu)
        .args(qemu_args(&xen, &modules))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BootError::Missing {
            what: format!("{} ({e})", tools.qemu.display()),
            packages: "qemu-system-x86".into(),
        })?;
    let (tx, rx) = mpsc::channel::<Option<String>>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut buf = Vec::new();
            while r
                .read_until(b'\n', &mut buf)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                let _ = tx.send(Some(String::from_utf8_lossy(&buf).into_owned()));
                buf.clear();
            }
            let _ = tx.send(None);
        }));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(Some(format!("qemu: {l}\n")));
            }
        }));
    }
    drop(tx);
    let mut console = Console::new();
    let mut log = Vec::new();
    let mut init_seen: Option<Instant> = None;
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        let deadline = start + opts.timeout;
        if now >= deadline {
            timed_out = true;
            break;
        }
        if let Some(t) = init_seen {
            if now >= t + opts.grace {
                break;
            }
        }
        let wait = deadline
            .min(init_seen.map_or(deadline, |t| t + opts.grace))
            .saturating_duration_since(now)
            .max(Duration::from_millis(10));
        match rx.recv_timeout(wait) {
            Ok(Some(line)) => {
                log.extend_from_slice(line.as_bytes());
                let l = line.trim_end_matches(['\r', '\n']);
                on_line(l);
                console.line(l);
                if console.ran_init && init_seen.is_none() {
                    init_seen = Some(Instant::now());
                }
                if console.settled() {
                    break;
                }
            }
            Ok(None) => break, // QEMU closed its console: it exited.
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(rx);
    let seconds = start.elapsed().as_secs_f64();
    if let Some(why) = &console.dom0_failure {
        return Err(BootError::Harness {
            reason: why.clone(),
            tail: last(&console.last_lines, 15).join("\n"),
        });
    }
    let (verdict, detail) = console.verdict(timed_out);
    if verdict == Verdict::TimedOut && !console.created && !timed_out {
        return Err(BootError::Harness {
            reason: "QEMU stopped before dom0 could create the guest".into(),
            tail: last(&console.last_lines, 15).join("\n"),
        });
    }
    let source = if console.guest_spoke {
        &console.guest_lines
    } else if console.created {
        &console.xl_lines
    } else {
        &console.last_lines
    };
    let last_lines = last(source, console::TAIL).to_vec();
    // The detail stays the builder's (or the guest's) own line; what elirepo knows besides
    // (an --arch the kernel does not match, a hypervisor without 32-bit PV) is a warning.
    let mut warnings = arch_warnings(&opts.kernel, &opts.arch);
    warnings.extend(no_pv32(&opts.arch, console.xen_caps.as_deref()));
    Ok(BootReport {
        verdict,
        verdict_label: verdict.label(),
        detail,
        kernel: opts.kernel.clone(),
        initrd: opts.initrd.clone(),
        arch: opts.arch.clone(),
        cmdline,
        dom0_kernel: dom0.origin,
        seconds,
        last_lines,
        xl_exit: console.xl_exit,
        xen_capabilities: console.xen_caps.clone(),
        network_interfaces: console.nics.clone(),
        warnings,
        log,
    })
}

/// When `arch` is i386 and the hypervisor's capabilities lack `xen-3.0-x86_32p` (a 64-bit
/// Xen runs 32-bit PV guests in PAE mode only, and only when built with `CONFIG_PV32`):
/// why no i386 pair can boot under it.
fn no_pv32(arch: &str, caps: Option<&str>) -> Option<String> {
    let caps = caps?;
    if arch != "i386" || caps.split_whitespace().any(|c| c == "xen-3.0-x86_32p") {
        return None;
    }
    Some(format!(
        "this hypervisor runs no 32-bit PV guest: its capabilities are `{caps}`, without \
         xen-3.0-x86_32p (Xen built without CONFIG_PV32, or 32-bit PV disabled with pv=no-32)"
    ))
}

/// Where `--arch` and the kernel disagree: eliloader fetches `installer-<arch>`, and a
/// 32-bit PV guest must be a PAE kernel (`xen-3.0-x86_32p`). Read statically with
/// [`crate::xen`]; a kernel it cannot read gets no warning (the boot says the rest).
fn arch_warnings(kernel: &Path, arch: &str) -> Vec<String> {
    let Ok(report) = crate::xen::inspect_kernel_file(kernel) else {
        return Vec::new();
    };
    let Some(elf) = &report.elf else {
        return Vec::new();
    };
    let kernel_arch = match (elf.bits, elf.machine) {
        (64, 62) => "amd64",
        (32, 3) => "i386",
        _ => {
            return vec![format!(
                "the kernel is not an x86 ELF (machine {})",
                elf.machine
            )]
        }
    };
    let mut w = Vec::new();
    if kernel_arch != arch {
        w.push(format!(
            "--arch {arch} but the kernel is a {} kernel ({kernel_arch}): eliloader's \
             install-arch {arch} fetches installer-{arch}",
            if elf.bits == 64 {
                "64-bit x86-64"
            } else {
                "32-bit x86"
            }
        ));
    }
    if kernel_arch == "i386" && report.arch.is_none() {
        w.push(
            "a 32-bit kernel without Xen's PAE_MODE note: the builder would make it a \
             non-PAE xen-3.0-x86_32 guest, which a 64-bit Xen never runs (32-bit PV guests \
             run in PAE mode only: xen-3.0-x86_32p)"
                .into(),
        );
    }
    w
}

/// Fetches the kernel and initrd eliloader would fetch from `target` (a directory, an
/// http:// or an ftp:// URL) for `suite` and `arch`, into `dir`, with eliloader's size limits.
/// Returns the two files' paths and the two locations fetched.
pub fn fetch_pair(
    target: &str,
    suite: &str,
    arch: &str,
    dir: &Path,
) -> Result<[(PathBuf, String); 2], BootError> {
    use crate::eliloader::{
        image_path, urls, INITRD_LIMIT, INITRD_NAME, KERNEL_LIMIT, KERNEL_NAME,
    };
    let source = crate::verify::Source::open(target).map_err(|e| BootError::Fetch {
        url: target.to_string(),
        reason: e.to_string(),
    })?;
    let (kurl, iurl) = urls(target, suite, arch);
    let is_dir = matches!(source, crate::verify::Source::Dir(_));
    let mut out = Vec::new();
    for (name, url, limit) in [
        (KERNEL_NAME, kurl, KERNEL_LIMIT),
        (INITRD_NAME, iurl, INITRD_LIMIT),
    ] {
        let rel = if is_dir {
            format!("dists/{suite}/{}", image_path(arch, name))
        } else {
            url
        };
        let location = source.location(&rel);
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).map_err(|e| BootError::Io {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let got = source
            .fetch(&rel, limit, &mut f)
            .map_err(|reason| BootError::Fetch {
                url: location.clone(),
                reason: reason.to_string(),
            })?;
        f.flush().ok();
        if got.over_limit {
            return Err(BootError::Fetch {
                url: location,
                reason: format!(
                    "larger than eliloader's limit of {limit} bytes: the install would abort"
                ),
            });
        }
        if let Some(cl) = got.content_length.filter(|cl| *cl != got.bytes) {
            return Err(BootError::Fetch {
                url: location,
                reason: format!(
                    "Content-Length {cl} but {} bytes received: eliloader would abort",
                    got.bytes
                ),
            });
        }
        out.push((path, location));
    }
    let initrd = out.pop().expect("two files");
    let kernel = out.pop().expect("two files");
    Ok([kernel, initrd])
}

/// Why `build --boot-test` refused a pair: it did not boot, or the test could not run.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", kernel.display())]
pub struct NotBooted {
    /// The kernel of the pair.
    pub kernel: PathBuf,
    /// The verdict and its evidence, or why the test could not run.
    pub reason: String,
}

/// `build --boot-test`'s check: boots `kernel` and `initrd` with the machine's tools and dom0
/// kernel ([`default_dom0`]), no PV-args; anything but [`Verdict::Booted`], or a test that
/// cannot run, is an error naming the kernel, like a kernel that fails the static check.
pub fn gate(kernel: &Path, initrd: &Path, arch: &str) -> Result<(), NotBooted> {
    let fail = |reason: String| NotBooted {
        kernel: kernel.to_path_buf(),
        reason,
    };
    let tools = Tools::find().map_err(|e| fail(format!("cannot boot-test: {e}")))?;
    let dom0 = default_dom0().ok_or_else(|| {
        fail("cannot boot-test: no dom0 kernel (set ELIREPO_DOM0_KERNEL to a linux-image .deb or a root directory)".into())
    })?;
    let mut opts = BootOptions::new(kernel.to_path_buf(), initrd.to_path_buf(), dom0);
    opts.arch = arch.to_string();
    let report = boot_test(&tools, &opts, &mut |_| {})
        .map_err(|e| fail(format!("cannot boot-test: {e}")))?;
    if report.booted() {
        return Ok(());
    }
    Err(fail(format!(
        "does not boot with {} as a Xen PV guest: {}: {} (nothing was published; `elirepo boot-test --kernel {} --initrd {} --keep-log FILE` shows the console)",
        initrd.display(),
        report.verdict.label(),
        report.detail,
        kernel.display(),
        initrd.display()
    )))
}

/// The last `n` of `lines` (all of them if fewer).
fn last(lines: &[String], n: usize) -> &[String] {
    &lines[lines.len().saturating_sub(n)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_gets_no_nic_no_kvm_and_the_console_on_stdio() {
        let args: Vec<String> = qemu_args(Path::new("/tmp/w/xen"), "/tmp/w/k args,/tmp/w/i")
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let joined = format!(" {} ", args.join(" "));
        // No network card: -nodefaults drops the default one and -nic none forbids any.
        assert!(joined.contains(" -nodefaults "), "{joined}");
        assert!(joined.contains(" -nic none "), "{joined}");
        for net in ["-netdev", "-net ", "-device", "user,", "tap", "bridge"] {
            assert!(!joined.contains(net), "{net} in {joined}");
        }
        // TCG, never KVM (no /dev/kvm, no root).
        assert!(joined.contains(" -accel tcg "), "{joined}");
        assert!(!joined.contains("kvm"), "{joined}");
        assert!(joined.contains(" -serial stdio "), "{joined}");
        assert!(joined.contains(" -kernel /tmp/w/xen "), "{joined}");
        assert_eq!(args.last().unwrap(), "/tmp/w/k args,/tmp/w/i");
    }

    #[test]
    fn permission_denied_names_owner_mode_and_user() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("vmlinuz");
        std::fs::write(&f, b"x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let why = open_error(&f, &e);
        assert!(why.contains("permission denied"), "{why}");
        assert!(why.contains("mode 0600"), "{why}");
        assert!(
            why.contains(&format!("runs as uid {}", euid().unwrap())),
            "{why}"
        );
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!open_error(&f, &e).contains("permission"));
    }

    #[test]
    fn i386_under_a_xen_without_pv32_is_explained() {
        let no32 = "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64";
        let why = no_pv32("i386", Some(no32)).unwrap();
        assert!(why.contains("CONFIG_PV32") && why.contains(no32), "{why}");
        assert_eq!(no_pv32("amd64", Some(no32)), None);
        assert_eq!(
            no_pv32("i386", Some(&format!("{no32} xen-3.0-x86_32p"))),
            None
        );
        assert_eq!(no_pv32("i386", None), None);
    }
}
