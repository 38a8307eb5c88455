//! `elirepo boot-test` end to end: real Xen in QEMU, real `xl create`, Debian's real kernel.
//!
//! The boots take 1 to 3 minutes each under TCG, so they run only with
//! `ELIREPO_BOOT_TESTS=1` (`.ci/run` sets it); without it each boot test prints a
//! `skipped:` line. With it, a missing qemu, Xen, toolstack, busybox or Debian kernel is a
//! skip locally and a failure under `ELIREPO_REQUIRE_TOOLS=1`. The boots run one at a time.
//!
//! The kernel under test and the dom0 kernel are Debian's current `linux-image-*-amd64`,
//! fetched with `apt-get download` as `scripts/check-real-kernel.sh` fetches it (or
//! `ELIREPO_BOOT_KERNEL_DEB`); the 32-bit one is Debian 12's `linux-image-686-pae`, fetched
//! through a private i386 apt setup as that script does (or `ELIREPO_BOOT_KERNEL_686_DEB`);
//! both cached under the cargo target directory ([`common::debian_kernel`]). The initrds are
//! made here: busybox and an `/init` that prints a marker and powers off.
//!
//! Every `elirepo boot-test` here runs as an ordinary user ([`OrdinaryUser`]: uid 65534
//! through `setpriv` when the tests run as root, as CI does), with `HOME` and `TMPDIR` in a
//! directory it owns and its inputs copied there; each boot also checks that dom0 saw no
//! network card.

mod common;
use common::ordinary::OrdinaryUser;
use common::{debian_kernel, synth};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One boot at a time: the machine has few cores and TCG is CPU-bound.
static BOOTS: Mutex<()> = Mutex::new(());

const MARKER: &str = "elirepo-test-init: ran";

fn boots_enabled() -> bool {
    if std::env::var("ELIREPO_BOOT_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: boot tests take minutes under TCG; set ELIREPO_BOOT_TESTS=1 to run them");
    false
}

fn have_boot_tools() -> bool {
    if !common::have_tools(&[
        "qemu-system-x86_64",
        "busybox",
        "dpkg-deb",
        "apt-get",
        "ldd",
    ]) {
        return false;
    }
    let xen = std::fs::read_dir("/boot").ok().is_some_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("xen-"))
    });
    let xl = std::fs::read_dir("/usr/lib").ok().is_some_and(|d| {
        d.flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with("xen-") && e.path().join("bin/xl").is_file()
        })
    });
    if !xen || !xl {
        common::skip("the Xen hypervisor or toolstack is not installed (xen-hypervisor-4.17-amd64, xen-utils-4.17)");
        return false;
    }
    true
}

/// Debian's current amd64 kernel .deb and its vmlinuz, fetched once into the target dir
/// (or `ELIREPO_BOOT_KERNEL_DEB`).
fn debian_kernel() -> Option<(PathBuf, PathBuf)> {
    cached_kernel(
        "boot-test-kernel",
        "ELIREPO_BOOT_KERNEL_DEB",
        "amd64",
        debian_kernel::amd64_deb,
    )
}

/// Debian 12's 32-bit 686-pae kernel .deb and its vmlinuz, fetched once through a private
/// i386 apt setup (or `ELIREPO_BOOT_KERNEL_686_DEB`).
fn debian_686_pae_kernel() -> Option<(PathBuf, PathBuf)> {
    cached_kernel(
        "boot-test-kernel-686-pae",
        "ELIREPO_BOOT_KERNEL_686_DEB",
        "686-pae",
        debian_kernel::i386_686_pae_deb,
    )
}

fn cached_kernel(
    cache: &str,
    var: &str,
    what: &str,
    fetch: fn(&Path) -> Result<PathBuf, String>,
) -> Option<(PathBuf, PathBuf)> {
    // One fetch at a time: the tests share the cache directories.
    static FETCH: Mutex<()> = Mutex::new(());
    let _one = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(cache);
    let deb = match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match fetch(&dir) {
            Ok(d) => d,
            Err(e) => {
                common::skip(&format!("cannot fetch Debian's {what} kernel: {e}"));
                return None;
            }
        },
    };
    let vmlinuz = debian_kernel::vmlinuz(&deb, &dir.join("x"))
        .unwrap_or_else(|e| panic!("{}: {e}", deb.display()));
    Some((deb, vmlinuz))
}

/// The test initrd's cpio: busybox and an `/init` that prints [`MARKER`] and powers off.
fn test_cpio() -> Vec<u8> {
    let busybox = std::fs::read(common::find_on_path("busybox").expect("busybox")).unwrap();
    let init = format!("#!/bin/busybox sh\necho \"{MARKER}\"\n/bin/busybox poweroff -f\n");
    synth::cpio_newc_modes(&[
        ("init", 0o100755, init.as_bytes()),
        ("bin", 0o40755, b""),
        ("bin/busybox", 0o100755, &busybox),
        ("dev", 0o40755, b""),
    ])
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Runs `elirepo boot-test ARGS --json` (one boot at a time) as an ordinary user
/// ([`OrdinaryUser`]: uid 65534 when the tests run as root) and returns exit status, JSON
/// and stderr. Every argument naming an existing file, and `dom0`, is copied into that
/// user's home first. Checks what every boot must show: the run was that user's (it owns
/// the `--keep-log` file it wrote) and dom0 had no network card (QEMU's `-nic none`: its
/// only interface is `lo`). The console is kept in the target dir as `boot-<name>.log`.
fn boot(name: &str, args: &[&str], dom0: &Path) -> (i32, serde_json::Value, String) {
    use std::os::unix::fs::MetadataExt;
    let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    let user = OrdinaryUser::new();
    let args: Vec<String> = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let p = Path::new(a);
            if p.is_absolute() && p.is_file() {
                let staged = user.stage(
                    p,
                    &format!("{i}-{}", p.file_name().unwrap().to_string_lossy()),
                );
                staged.to_string_lossy().into_owned()
            } else {
                a.to_string()
            }
        })
        .collect();
    let dom0 = user.stage(dom0, "dom0-kernel.deb");
    let log = user.home.join("console.log");
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("boot-{name}.log"));
    let start = std::time::Instant::now();
    let o = user
        .elirepo()
        .arg("boot-test")
        .args(&args)
        .arg("--dom0-kernel")
        .arg(&dom0)
        .arg("--keep-log")
        .arg(&log)
        .arg("--json")
        .output()
        .unwrap();
    common::assert_no_crash(&o, name);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: no JSON report ({e}); stderr:\n{stderr}\nstdout:\n{}",
            String::from_utf8_lossy(&o.stdout)
        )
    });
    let _ = std::fs::copy(&log, &kept);
    eprintln!(
        "{name}: {:.0} s wall as uid {}, verdict {}, console in {}",
        start.elapsed().as_secs_f64(),
        user.uid,
        json["verdict"],
        kept.display()
    );
    let owner = std::fs::metadata(&log)
        .unwrap_or_else(|e| {
            panic!(
                "{name}: no --keep-log file {}: {e}\n{stderr}",
                log.display()
            )
        })
        .uid();
    assert_eq!(
        owner, user.uid,
        "{name}: the console log was not written by uid {}",
        user.uid
    );
    assert_eq!(
        json["network_interfaces"],
        serde_json::json!(["lo"]),
        "{name}: dom0 must see no network card (QEMU -nic none): {json:#}"
    );
    (o.status.code().unwrap_or(-1), json, stderr)
}

/// `elirepo kernel --json`'s verdict for `kernel`.
fn static_verdict(kernel: &Path) -> String {
    let o = common::elirepo()
        .arg("kernel")
        .arg("--json")
        .arg(kernel)
        .output()
        .unwrap();
    common::assert_no_crash(&o, "elirepo kernel");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    j["verdict"].as_str().unwrap_or("?").to_string()
}

/// The static and the boot verdict must agree: PV-capable ⇔ the guest kernel ran (booted, or
/// stopped by its initrd or a panic). A kernel that is not PV-capable is refused by the
/// builder (no Xen notes; Debian 12's PVH-only 686-pae: no loader takes it) or would die
/// before printing. On disagreement the message names the kernel and both verdicts.
fn assert_agree(kernel: &Path, boot: &serde_json::Value) {
    let stat = static_verdict(kernel);
    let ran = ["booted", "initrd_not_unpacked", "kernel_panic"]
        .iter()
        .any(|v| boot["verdict"] == *v);
    assert_eq!(
        stat == "pv_capable",
        ran,
        "static and boot verdicts disagree on {}: `elirepo kernel` says {stat}, the boot says {} ({})",
        kernel.display(),
        boot["verdict"],
        boot["detail"]
    );
}

fn setup() -> Option<(PathBuf, PathBuf, tempfile::TempDir)> {
    if !boots_enabled() || !have_boot_tools() {
        return None;
    }
    let (deb, vmlinuz) = debian_kernel()?;
    Some((deb, vmlinuz, common::tempdir()))
}

/// Debian's kernel and a small initrd, published at eliloader's path and fetched from a real
/// HTTP server as eliloader fetches them: booted, and `elirepo kernel` agrees.
#[test]
fn debians_kernel_boots_from_a_repository_url() {
    let Some((deb, vmlinuz, dir)) = setup() else {
        return;
    };
    let xen = dir
        .path()
        .join("repo/dists/lenny/main/installer-amd64/current/images/netboot/xen");
    std::fs::create_dir_all(&xen).unwrap();
    std::fs::copy(&vmlinuz, xen.join("vmlinuz")).unwrap();
    std::fs::write(xen.join("initrd.gz"), gzip(&test_cpio())).unwrap();
    let server = common::Server::http(&dir.path().join("repo"));
    let url = server.base.trim_end_matches('/').to_string();
    let (code, json, stderr) = boot(
        "booted",
        &[
            &url, "--suite", "lenny", "--arch", "amd64", "--args", "quiet",
        ],
        &deb,
    );
    assert_eq!(json["verdict"], "booted", "{json:#}\n{stderr}");
    assert_eq!(code, 0, "{stderr}");
    let lines = json["last_lines"].to_string();
    assert!(
        lines.contains(MARKER),
        "the test initrd's /init did not print its marker: {json:#}"
    );
    assert!(
        json["cmdline"].as_str().unwrap().starts_with("quiet "),
        "{json:#}"
    );
    assert_agree(&vmlinuz, &json);
}

/// The same kernel with its initrd cut short: the kernel cannot unpack it.
#[test]
fn an_initrd_cut_short_is_not_unpacked() {
    let Some((deb, vmlinuz, dir)) = setup() else {
        return;
    };
    let gz = gzip(&test_cpio());
    let initrd = dir.path().join("initrd.gz");
    std::fs::write(&initrd, &gz[..gz.len() / 2]).unwrap();
    let (code, json, stderr) = boot(
        "initrd-truncated",
        &[
            "--kernel",
            vmlinuz.to_str().unwrap(),
            "--initrd",
            initrd.to_str().unwrap(),
        ],
        &deb,
    );
    assert_eq!(json["verdict"], "initrd_not_unpacked", "{json:#}\n{stderr}");
    assert_eq!(code, 1);
}

/// The same kernel with an initrd in lz4's frame format, which Linux does not decompress
/// (it knows only lz4's legacy format, magic 02 21 4C 18): not unpacked.
#[test]
fn an_initrd_in_a_compression_the_kernel_lacks_is_not_unpacked() {
    let Some((deb, vmlinuz, dir)) = setup() else {
        return;
    };
    if !common::have_tool("lz4") {
        return;
    }
    let cpio_path = dir.path().join("initrd.cpio");
    std::fs::write(&cpio_path, test_cpio()).unwrap();
    // lz4's default output is the frame format.
    let o = Command::new("lz4")
        .args(["-q", "-c"])
        .arg(&cpio_path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "lz4: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let frame = o.stdout;
    assert_eq!(&frame[..4], &[0x04, 0x22, 0x4d, 0x18]);
    let initrd = dir.path().join("initrd.gz");
    std::fs::write(&initrd, &frame).unwrap();
    let (code, json, stderr) = boot(
        "initrd-lz4-frame",
        &[
            "--kernel",
            vmlinuz.to_str().unwrap(),
            "--initrd",
            initrd.to_str().unwrap(),
        ],
        &deb,
    );
    assert_eq!(json["verdict"], "initrd_not_unpacked", "{json:#}\n{stderr}");
    assert!(
        json["detail"].as_str().unwrap().contains("invalid magic"),
        "{json:#}"
    );
    assert_eq!(code, 1);
}

/// A kernel without Xen notes: Xen's domain builder refuses it, says why, and `elirepo kernel`
/// agrees.
#[test]
fn a_kernel_without_xen_notes_is_refused_by_the_builder() {
    let Some((deb, _vmlinuz, dir)) = setup() else {
        return;
    };
    let kernel = dir.path().join("vmlinuz");
    std::fs::write(&kernel, synth::no_xen_kernel("6.1.0-99-amd64")).unwrap();
    let initrd = dir.path().join("initrd.gz");
    std::fs::write(&initrd, gzip(&test_cpio())).unwrap();
    let (code, json, stderr) = boot(
        "refused-no-xen-notes",
        &[
            "--kernel",
            kernel.to_str().unwrap(),
            "--initrd",
            initrd.to_str().unwrap(),
        ],
        &deb,
    );
    assert_eq!(json["verdict"], "refused", "{json:#}\n{stderr}");
    let detail = json["detail"].as_str().unwrap();
    assert!(
        [
            "xc_dom_find_loader",
            "Invalid kernel",
            "Not a Xen-ELF",
            "xc_dom_parse"
        ]
        .iter()
        .any(|m| detail.contains(m))
            && !detail.contains(": detail: "),
        "the builder's message is missing: {detail}"
    );
    assert_eq!(code, 1);
    assert_agree(&kernel, &json);
}

/// Debian 12's 32-bit `linux-image-686-pae` (PVH-only: built without `CONFIG_XEN_PV`),
/// fetched through a private i386 apt setup, booted with `--arch i386`: Xen's domain builder
/// refuses it with its own message, and `elirepo kernel` agrees (PVH-only).
#[test]
fn debians_686_pae_kernel_is_refused_by_the_builder() {
    let Some((deb, _vmlinuz, dir)) = setup() else {
        return;
    };
    let Some((_deb686, vmlinuz686)) = debian_686_pae_kernel() else {
        return;
    };
    let initrd = dir.path().join("initrd.gz");
    std::fs::write(&initrd, gzip(&test_cpio())).unwrap();
    let (code, json, stderr) = boot(
        "refused-686-pae",
        &[
            "--kernel",
            vmlinuz686.to_str().unwrap(),
            "--initrd",
            initrd.to_str().unwrap(),
            "--arch",
            "i386",
        ],
        &deb,
    );
    assert_eq!(
        json["verdict"],
        "refused",
        "{}: {json:#}\n{stderr}",
        vmlinuz686.display()
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(json["arch"], "i386");
    // This Xen (Debian's 4.17, built without CONFIG_PV32) offers no 32-bit PV guest: said
    // as a warning beside the builder's message, from the capabilities dom0 read.
    let caps = json["xen_capabilities"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(caps.contains("xen-3.0-x86_64"), "{json:#}");
    if !caps.split_whitespace().any(|c| c == "xen-3.0-x86_32p") {
        assert!(
            json["warnings"].to_string().contains("CONFIG_PV32"),
            "{json:#}"
        );
    }
    let detail = json["detail"].as_str().unwrap();
    // libxenguest's own line (xc_dom_* / elf_xen_*), as xl printed it.
    assert!(
        ["xc_dom_", "elf_xen_", "xc: error", "Invalid kernel"]
            .iter()
            .any(|m| detail.contains(m)),
        "the builder's message is missing: {detail}"
    );
    // The builder's message is relayed from xl's output, not made up.
    let log = std::fs::read_to_string(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-refused-686-pae.log"),
    )
    .unwrap();
    assert!(
        !detail.contains(": detail: ")
            && log
                .lines()
                .any(|l| l.trim_end_matches('\r').strip_prefix("xl| ") == Some(detail)),
        "{detail:?} is not one of xl's error lines"
    );
    assert_agree(&vmlinuz686, &json);
    assert_eq!(
        static_verdict(&vmlinuz686),
        "pvh_only",
        "{}",
        vmlinuz686.display()
    );
}

/// A kernel this user cannot read: exit 2 before anything runs, naming the file and why
/// (owner, mode, the uid elirepo runs as). Runs as an ordinary user; no boot.
#[test]
fn an_unreadable_input_is_exit_2_naming_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let user = OrdinaryUser::new();
    let dir = common::tempdir();
    let src = dir.path().join("k");
    std::fs::write(&src, b"x").unwrap();
    let kernel = user.stage(&src, "vmlinuz");
    let initrd = user.stage(&src, "initrd.gz");
    std::fs::set_permissions(&kernel, std::fs::Permissions::from_mode(0o000)).unwrap();
    let o = user
        .elirepo()
        .args(["boot-test", "--kernel"])
        .arg(&kernel)
        .arg("--initrd")
        .arg(&initrd)
        .arg("--dom0-kernel")
        .arg(&initrd)
        .output()
        .unwrap();
    common::assert_failed_cleanly(&o, "boot-test with an unreadable kernel");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&kernel.display().to_string()), "{err}");
    assert!(
        err.contains("permission denied")
            && err.contains("mode 0000")
            && err.contains(&format!("runs as uid {}", user.uid)),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

/// Without qemu the command exits 2 and names the package; it never passes.
#[test]
fn missing_qemu_is_exit_2_naming_the_package() {
    let dir = common::tempdir();
    let k = dir.path().join("vmlinuz");
    std::fs::write(&k, b"x").unwrap();
    let o = common::elirepo()
        .args(["boot-test", "--kernel"])
        .arg(&k)
        .arg("--initrd")
        .arg(&k)
        .env("ELIREPO_QEMU", dir.path().join("qemu-system-x86_64"))
        .output()
        .unwrap();
    common::assert_failed_cleanly(&o, "boot-test without qemu");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("qemu-system-x86"), "{err}");
    assert!(o.stdout.is_empty());
}

/// Every file under `root` with its bytes (symlinks as their target), sorted.
fn contents(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        let p = e.path().strip_prefix(root).unwrap().to_path_buf();
        if e.path_is_symlink() {
            let t = std::fs::read_link(e.path()).unwrap();
            out.push((p, t.into_os_string().into_encoded_bytes()));
        } else if e.file_type().is_file() {
            out.push((p, std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

/// `build --boot-test` with a pair that passes the static checks but panics at boot (an
/// initrd carrying the kernel's modules directory but no /init): refused, nothing published,
/// the repository byte for byte as it was.
#[test]
fn build_boot_test_refuses_a_pair_that_does_not_boot() {
    let Some((deb, vmlinuz, dir)) = setup() else {
        return;
    };
    let release = vmlinuz
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let modules = format!("lib/modules/{release}/modules.dep");
    let mods_dir = format!("lib/modules/{release}");
    let good = dir.path().join("good.gz");
    let bad = dir.path().join("bad.gz");
    let mut entries: Vec<(&str, u32, &[u8])> = vec![
        ("lib", 0o40755, b""),
        ("lib/modules", 0o40755, b""),
        (&mods_dir, 0o40755, b""),
        (&modules, 0o100644, b""),
    ];
    std::fs::write(&bad, gzip(&synth::cpio_newc_modes(&entries))).unwrap();
    let init = format!("#!/bin/busybox sh\necho \"{MARKER}\"\n/bin/busybox poweroff -f\n");
    entries.push(("init", 0o100755, init.as_bytes()));
    std::fs::write(&good, gzip(&synth::cpio_newc_modes(&entries))).unwrap();
    std::fs::create_dir_all(dir.path().join("debs")).unwrap();
    let repo = dir.path().join("repo");
    let build = |initrd: &Path, boot_test: bool| {
        let mut c = common::elirepo();
        c.env("SOURCE_DATE_EPOCH", "1700000000")
            .env("ELIREPO_DOM0_KERNEL", &deb)
            .args([
                "build",
                "--unsigned",
                "--allow-empty",
                "--suite",
                "lenny",
                "--arch",
                "amd64",
                "--repo",
            ])
            .arg(&repo)
            .arg("--deb")
            .arg(dir.path().join("debs"))
            .arg("--kernel")
            .arg(&vmlinuz)
            .arg("--initrd")
            .arg(initrd);
        if boot_test {
            c.arg("--boot-test");
        }
        let _one = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
        c.output().unwrap()
    };
    let o = build(&good, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = contents(&repo);
    let snap = common::snapshot_tree(&repo);
    let start = std::time::Instant::now();
    let o = build(&bad, true);
    eprintln!(
        "build --boot-test: {:.0} s wall",
        start.elapsed().as_secs_f64()
    );
    common::assert_failed_cleanly(&o, "build --boot-test with a pair that panics");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("does not boot") && err.contains("kernel panic"),
        "{err}"
    );
    assert!(
        contents(&repo) == before,
        "build --boot-test changed the repository's bytes"
    );
    assert_eq!(
        common::snapshot_tree(&repo),
        snap,
        "build --boot-test touched the repository"
    );
}
