//! The small dom0 a boot test runs: its kernel and Xen modules (from a linux-image .deb or a
//! root directory), and its initramfs, made on the fly from busybox, the installed toolstack
//! (`xl`, `xenstored`, `xenconsoled`, `xen-init-dom0` and the libraries `ldd` names) and the
//! pair under test.

use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::console::{MARK_CAPS, MARK_CREATE, MARK_END, MARK_FAIL, MARK_NICS, MARK_XL_EXIT};
use super::cpio::CpioWriter;
use super::BootError;

/// The Xen drivers dom0's toolstack needs, in load order (xenfs needs privcmd).
pub const XEN_MODULES: [&str; 5] = [
    "xen-evtchn",
    "xen-gntdev",
    "xen-gntalloc",
    "xen-privcmd",
    "xenfs",
];

/// The guest's name in `xl`.
pub const GUEST_NAME: &str = "elirepo-boot-test";

/// A dom0 kernel and the Xen modules that go with it.
pub struct Dom0Kernel {
    /// Where it came from (for messages).
    pub origin: PathBuf,
    /// The kernel image.
    pub kernel: Vec<u8>,
    /// `(module name, .ko bytes)`, decompressed.
    pub modules: Vec<(String, Vec<u8>)>,
}

fn module_name(path: &str) -> Option<(&'static str, Option<crate::compress::Compression>)> {
    use crate::compress::Compression;
    let file = path.rsplit('/').next()?;
    let (stem, c) = if let Some(s) = file.strip_suffix(".ko") {
        (s, None)
    } else if let Some(s) = file.strip_suffix(".ko.xz") {
        (s, Some(Compression::Xz))
    } else if let Some(s) = file.strip_suffix(".ko.zst") {
        (s, Some(Compression::Zstd))
    } else if let Some(s) = file.strip_suffix(".ko.gz") {
        (s, Some(Compression::Gzip))
    } else {
        return None;
    };
    XEN_MODULES.iter().find(|m| **m == stem).map(|m| (*m, c))
}

fn decode(c: Option<crate::compress::Compression>, data: Vec<u8>) -> io::Result<Vec<u8>> {
    match c {
        None => Ok(data),
        Some(c) => {
            let mut out = Vec::new();
            c.decoder(&data[..])?.take(64 << 20).read_to_end(&mut out)?;
            Ok(out)
        }
    }
}

impl Dom0Kernel {
    /// Reads a dom0 kernel from `path`: a linux-image .deb (its `boot/vmlinuz-*` and Xen
    /// modules), or a root directory holding `boot/vmlinuz-<release>` and
    /// `lib/modules/<release>/` (the newest release that has both).
    pub fn load(path: &Path) -> Result<Dom0Kernel, BootError> {
        let bad = |reason: String| BootError::Dom0 {
            path: path.to_path_buf(),
            reason,
        };
        let mut k = if path.is_dir() {
            Self::from_root(path).map_err(|e| bad(e.to_string()))?
        } else {
            Self::from_deb(path).map_err(|e| bad(e.to_string()))?
        };
        if k.kernel.is_empty() {
            return Err(bad("no boot/vmlinuz-* in it".into()));
        }
        k.modules
            .sort_by_key(|(n, _)| XEN_MODULES.iter().position(|m| m == n));
        Ok(k)
    }

    fn from_deb(path: &Path) -> io::Result<Dom0Kernel> {
        let data = crate::deb::open_data(path).map_err(|e| io::Error::other(e.to_string()))?;
        let mut k = Dom0Kernel {
            origin: path.to_path_buf(),
            kernel: Vec::new(),
            modules: Vec::new(),
        };
        let mut tar = tar::Archive::new(data);
        for entry in tar.entries()? {
            let entry = entry?;
            let name = entry.path()?.to_string_lossy().into_owned();
            let name = name.trim_start_matches("./");
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            if name.starts_with("boot/vmlinuz-") && k.kernel.is_empty() {
                entry.take(64 << 20).read_to_end(&mut k.kernel)?;
            } else if name.starts_with("lib/modules/") || name.starts_with("usr/lib/modules/") {
                if let Some((m, c)) = module_name(name) {
                    let mut raw = Vec::new();
                    entry.take(64 << 20).read_to_end(&mut raw)?;
                    k.modules.push((m.to_string(), decode(c, raw)?));
                }
            }
        }
        Ok(k)
    }

    fn from_root(root: &Path) -> io::Result<Dom0Kernel> {
        let mut releases: Vec<String> = std::fs::read_dir(root.join("boot"))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("vmlinuz-")
                    .map(str::to_string)
            })
            .filter(|r| {
                root.join("lib/modules").join(r).is_dir()
                    || root.join("usr/lib/modules").join(r).is_dir()
            })
            .collect();
        releases.sort_by(|a, b| version_cmp(a, b));
        let release = releases.pop().ok_or_else(|| {
            io::Error::other("no boot/vmlinuz-<release> with a lib/modules/<release>/ beside it")
        })?;
        // A file that cannot be read is named, with why (e.g. a vmlinuz of mode 0600).
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("{}: {}", p.display(), super::open_error(p, &e)),
                )
            })
        };
        let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
        let mut k = Dom0Kernel {
            kernel: read(&vmlinuz)?,
            origin: vmlinuz,
            modules: Vec::new(),
        };
        let mods = [
            root.join("lib/modules").join(&release),
            root.join("usr/lib/modules").join(&release),
        ];
        for dir in mods.iter().filter(|d| d.is_dir()) {
            for e in walkdir::WalkDir::new(dir.join("kernel/drivers/xen"))
                .into_iter()
                .flatten()
            {
                let name = e.path().to_string_lossy().into_owned();
                if let Some((m, c)) = module_name(&name) {
                    if !k.modules.iter().any(|(n, _)| n == m) {
                        k.modules.push((m.to_string(), decode(c, read(e.path())?)?));
                    }
                }
            }
        }
        Ok(k)
    }
}

/// Compares kernel releases such as `6.1.0-9-amd64` and `6.1.0-57-amd64` numerically.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<(u64, String)> {
        s.split(['.', '-'])
            .map(|p| (p.parse().unwrap_or(0), p.to_string()))
            .collect()
    };
    parts(a).cmp(&parts(b))
}

/// The installed toolstack: the directory holding `xl` and its daemons.
pub struct Toolstack {
    /// e.g. `/usr/lib/xen-4.17/bin`.
    pub bin: PathBuf,
    /// busybox (static or not: its libraries are copied too).
    pub busybox: PathBuf,
}

/// The programs dom0's init runs from the toolstack directory.
const PROGRAMS: [&str; 4] = ["xl", "xenstored", "xenconsoled", "xen-init-dom0"];

/// The libraries `ldd` names for `bin` (absolute paths), the dynamic loader included.
fn libraries(bin: &Path) -> Result<Vec<PathBuf>, BootError> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| BootError::Missing {
            what: format!("ldd ({e})"),
            packages: "libc-bin".into(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = Vec::new();
    for l in text.lines() {
        let l = l.trim();
        if l.contains("not found") {
            return Err(BootError::Toolstack(format!(
                "{}: a library is missing: {l}",
                bin.display()
            )));
        }
        let path = match l.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => l.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// dom0's `/init`: mount, load the Xen modules, start the toolstack, create the guest in the
/// foreground and relay its console and xl's output, then power off.
fn init_script(xl_bin: &str) -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:{xl_bin}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /run/xen /run/xenstored /var/log/xen/console /proc/xen
mount -t devpts devpts /dev/pts
dmesg -n 1
fail() {{ echo "{MARK_FAIL}$*"; echo "{MARK_END}"; poweroff -f; }}
echo "elirepo-dom0: up at $(cut -d' ' -f1 /proc/uptime)s"
for m in {modules}; do
  [ -e /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
mount -t xenfs xenfs /proc/xen || fail "cannot mount xenfs (module xenfs not loaded?)"
xenstored --pid-file /run/xenstored.pid || fail "xenstored did not start"
xen-init-dom0 >/dev/null || fail "xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console || fail "xenconsoled did not start"
caps=$(cat /sys/hypervisor/properties/capabilities 2>/dev/null)
[ -n "$caps" ] || caps=$(xl info 2>/dev/null | sed -n 's/^xen_caps *: *//p')
echo "{MARK_CAPS}$caps"
# Network interfaces, and network controllers on dom0's PCI bus even without a driver.
nics="$(ls /sys/class/net | tr '\n' ' ')"
for d in /sys/bus/pci/devices/*; do
  case "$(cat $d/class 2>/dev/null)" in 0x02*) nics="$nics pci:${{d##*/}}";; esac
done
echo "{MARK_NICS}$nics"
: > /tmp/xl.out
: > /var/log/xen/console/guest-{GUEST_NAME}.log
tail -f /tmp/xl.out | while IFS= read -r l; do echo "xl| $l"; done &
tail -f /var/log/xen/console/guest-{GUEST_NAME}.log | while IFS= read -r l; do echo "guest| $l"; done &
echo "{MARK_CREATE} at $(cut -d' ' -f1 /proc/uptime)s"
xl -v create -F /guest/guest.cfg >> /tmp/xl.out 2>&1
rc=$?
# Let the relays print what is left before the markers.
sleep 3
echo "{MARK_XL_EXIT}$rc"
echo "{MARK_END} at $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
"#,
        modules = XEN_MODULES.join(" "),
    )
}

/// The initramfs being written, with the directories already in it.
struct Tree {
    w: CpioWriter<BufWriter<File>>,
    dirs: std::collections::BTreeSet<String>,
}

impl Tree {
    /// Writes the directories above `path` that are not in the archive yet.
    fn parents(&mut self, path: &str) -> io::Result<()> {
        let mut acc = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(p);
            if self.dirs.insert(acc.clone()) {
                self.w.dir(&acc)?;
            }
        }
        Ok(())
    }
}

/// xl's configuration of the guest under test: `type = "pv"`, `kernel`, `ramdisk`, `extra`.
pub fn guest_config(args: &str, memory_mib: u32) -> String {
    let quoted = args.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "name = \"{GUEST_NAME}\"\ntype = \"pv\"\nkernel = \"/guest/vmlinuz\"\nramdisk = \"/guest/initrd.gz\"\nextra = \"{quoted}\"\nmemory = {memory_mib}\nvcpus = 1\non_crash = \"destroy\"\n"
    )
}

/// Writes dom0's initramfs (an uncompressed newc cpio) to `out`: busybox, the toolstack and
/// its libraries, `/etc/xen`, the Xen modules of `dom0`, and the pair under test with its
/// xl configuration under `/guest/`.
pub fn write_initramfs(
    out: &Path,
    tools: &Toolstack,
    dom0: &Dom0Kernel,
    kernel: &Path,
    initrd: &Path,
    config: &str,
) -> Result<(), BootError> {
    let io_err = |e: io::Error| BootError::Io {
        path: out.to_path_buf(),
        reason: e.to_string(),
    };
    let f = File::create(out).map_err(io_err)?;
    let mut tree = Tree {
        w: CpioWriter::new(BufWriter::new(f)),
        dirs: std::collections::BTreeSet::new(),
    };
    let ensure = |tree: &mut Tree, p: &str| tree.parents(p);
    let add_host_file = |tree: &mut Tree, host: &Path| -> Result<(), BootError> {
        let name = host.to_string_lossy().trim_start_matches('/').to_string();
        let mut f = File::open(host).map_err(|e| {
            BootError::Toolstack(format!(
                "{}: {}",
                host.display(),
                super::open_error(host, &e)
            ))
        })?;
        let len = f.metadata().map_err(io_err)?.len();
        tree.parents(&name).map_err(io_err)?;
        tree.w.file_from(&name, 0o755, len, &mut f).map_err(io_err)
    };

    // Programs and their libraries, at the paths ldd names.
    let mut files: Vec<PathBuf> = PROGRAMS.iter().map(|p| tools.bin.join(p)).collect();
    for p in &files {
        if !p.is_file() {
            return Err(BootError::Missing {
                what: p.display().to_string(),
                packages: "xen-utils-4.17 (or the xen-utils of your Xen)".into(),
            });
        }
    }
    let mut libs = Vec::new();
    for p in files.iter().chain(std::iter::once(&tools.busybox)) {
        libs.extend(libraries(p)?);
    }
    // pthread_cancel dlopens libgcc_s: ldd does not name it.
    if let Some(dir) = libs
        .iter()
        .find(|l| l.file_name().is_some_and(|n| n == "libc.so.6"))
        .and_then(|l| l.parent())
    {
        let gcc = dir.join("libgcc_s.so.1");
        if gcc.exists() {
            libs.push(gcc);
        }
    }
    libs.sort();
    libs.dedup();
    files.extend(libs);
    for p in &files {
        add_host_file(&mut tree, p)?;
    }
    ensure(&mut tree, "bin/busybox").map_err(io_err)?;
    let mut bb = super::open_readable(&tools.busybox)?;
    let len = bb.metadata().map_err(io_err)?.len();
    tree.w
        .file_from("bin/busybox", 0o755, len, &mut bb)
        .map_err(io_err)?;

    // /etc/xen (xl.conf only) and the state directories.
    for d in [
        "etc/xen",
        "var/lib/xen",
        "var/log/xen",
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "guest",
        "lib/modules",
    ] {
        ensure(&mut tree, &format!("{d}/x")).map_err(io_err)?;
    }
    if let Ok(conf) = std::fs::read("/etc/xen/xl.conf") {
        tree.w
            .file("etc/xen/xl.conf", 0o644, &conf)
            .map_err(io_err)?;
    }
    tree.w.symlink("var/run", "/run").map_err(io_err)?;
    for (name, data) in &dom0.modules {
        tree.w
            .file(&format!("lib/modules/{name}.ko"), 0o644, data)
            .map_err(io_err)?;
    }
    let xl_bin = format!("/{}", tools.bin.to_string_lossy().trim_start_matches('/'));
    tree.w
        .file("init", 0o755, init_script(&xl_bin).as_bytes())
        .map_err(io_err)?;
    tree.w
        .file("guest/guest.cfg", 0o644, config.as_bytes())
        .map_err(io_err)?;
    for (name, src) in [("guest/vmlinuz", kernel), ("guest/initrd.gz", initrd)] {
        let mut f = super::open_readable(src)?;
        let len = f.metadata().map_err(io_err)?.len();
        tree.w
            .file_from(name, 0o644, len, &mut f)
            .map_err(|e| BootError::Io {
                path: src.to_path_buf(),
                reason: e.to_string(),
            })?;
    }
    tree.w.finish().map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_recognised_by_name_and_compression() {
        assert_eq!(
            module_name("lib/modules/6.1.0-57-amd64/kernel/drivers/xen/xenfs/xenfs.ko")
                .map(|m| m.0),
            Some("xenfs")
        );
        assert!(module_name("x/xen-privcmd.ko.xz").unwrap().1.is_some());
        assert!(module_name("x/xen-pciback.ko").is_none());
    }

    #[test]
    fn releases_compare_numerically() {
        assert_eq!(
            version_cmp("6.1.0-9-amd64", "6.1.0-57-amd64"),
            std::cmp::Ordering::Less
        );
    }

    #[test]
    fn the_guest_config_is_pv_and_quotes_the_args() {
        let c = guest_config(r#"quiet console=hvc0 x="y""#, 512);
        assert!(c.contains("type = \"pv\""));
        assert!(c.contains(r#"extra = "quiet console=hvc0 x=\"y\"""#), "{c}");
    }
}
