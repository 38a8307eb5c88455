//! Debian's real kernels, fetched as `scripts/check-real-kernel.sh` fetches them: the
//! metapackage (`linux-image-amd64`, `linux-image-686-pae`) names the real
//! `linux-image-<abi>-<flavour>` package, which `apt-get download` fetches.
//!
//! amd64 uses the machine's apt. i386 uses a private apt setup under the cache directory (its
//! own sources, lists and cache; the machine's apt and dpkg are not touched) reading
//! `$ELIREPO_PVH_MIRROR` (default `http://deb.debian.org/debian`), suite
//! `$ELIREPO_PVH_SUITE` (default `bookworm`: Debian 13 ships no i386 kernel), signed by
//! `$ELIREPO_PVH_KEYRING` (default `/usr/share/keyrings/debian-archive-keyring.gpg`).
//! A .deb already in the cache directory is reused.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest `linux-image-<digit>*.deb` in `dir`.
fn cached(dir: &Path) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("linux-image-")
                && n.as_bytes().get(12).is_some_and(u8::is_ascii_digit)
                && n.ends_with(".deb")
        })
        .collect();
    v.sort();
    v.pop()
}

/// `mkdir -p` with mode 755 (apt's `_apt` user downloads into it).
fn mkdir(d: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", d.display()))
}

fn apt_get(apt_config: Option<&Path>, args: &[&str], dir: &Path) -> Result<(), String> {
    let mut c = Command::new("apt-get");
    c.args(args).current_dir(dir);
    if let Some(conf) = apt_config {
        c.env("APT_CONFIG", conf);
    }
    let o = c.output().map_err(|e| format!("apt-get: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "apt-get {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Downloads the package `meta` depends on (`linux-image-<digit>...`) into `dir`.
fn download(meta: &str, dir: &Path, apt_config: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(d) = cached(dir) {
        return Ok(d);
    }
    let metadir = dir.join("meta");
    mkdir(&metadir)?;
    for e in std::fs::read_dir(&metadir).into_iter().flatten().flatten() {
        let _ = std::fs::remove_file(e.path());
    }
    apt_get(apt_config, &["download", "-q", meta], &metadir)?;
    let m = std::fs::read_dir(&metadir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or(format!("apt-get download {meta} left no .deb"))?;
    let o = Command::new("dpkg-deb")
        .arg("-f")
        .arg(&m)
        .arg("Depends")
        .output()
        .map_err(|e| format!("dpkg-deb: {e}"))?;
    let deps = String::from_utf8_lossy(&o.stdout).into_owned();
    let pkg = deps
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or(""))
        .find(|p| {
            p.starts_with("linux-image-") && p.as_bytes().get(12).is_some_and(u8::is_ascii_digit)
        })
        .ok_or(format!(
            "{meta} depends on no linux-image-<version> package: {deps}"
        ))?
        .to_string();
    apt_get(apt_config, &["download", "-q", &pkg], dir)?;
    cached(dir).ok_or(format!(
        "apt-get download {pkg} left no .deb in {}",
        dir.display()
    ))
}

/// Debian's current amd64 kernel package (`linux-image-amd64`'s dependency), in `dir`.
pub fn amd64_deb(dir: &Path) -> Result<PathBuf, String> {
    mkdir(dir)?;
    download("linux-image-amd64", dir, None)
}

/// The private apt setup for Debian's i386 archive under `dir`: its `apt.conf`, after an
/// `apt-get update` that must have produced `linux-image-686-pae`'s entry.
fn i386_apt(dir: &Path) -> Result<PathBuf, String> {
    let var = |k: &str, d: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or(d.into())
    };
    let mirror = var("ELIREPO_PVH_MIRROR", "http://deb.debian.org/debian");
    let suite = var("ELIREPO_PVH_SUITE", "bookworm");
    let keyring = var(
        "ELIREPO_PVH_KEYRING",
        "/usr/share/keyrings/debian-archive-keyring.gpg",
    );
    if std::fs::File::open(&keyring).is_err() {
        return Err(format!(
            "no keyring {keyring} (apt-get install debian-archive-keyring)"
        ));
    }
    let a = dir.join("apt-i386");
    for d in [
        "sources.list.d",
        "preferences.d",
        "lists/partial",
        "cache/archives/partial",
    ] {
        mkdir(&a.join(d))?;
    }
    let w = |name: &str, text: String| {
        std::fs::write(a.join(name), text).map_err(|e| format!("{}: {e}", a.join(name).display()))
    };
    w("status", String::new())?;
    w(
        "sources.list",
        format!("deb [arch=i386 signed-by={keyring}] {mirror} {suite} main\n"),
    )?;
    let p = a.display();
    w(
        "apt.conf",
        format!(
            "Dir::Etc::SourceList \"{p}/sources.list\";\n\
             Dir::Etc::SourceParts \"{p}/sources.list.d\";\n\
             Dir::Etc::Preferences \"{p}/preferences\";\n\
             Dir::Etc::PreferencesParts \"{p}/preferences.d\";\n\
             Dir::State::Lists \"{p}/lists\";\n\
             Dir::State::status \"{p}/status\";\n\
             Dir::Cache \"{p}/cache\";\n\
             Dir::Cache::pkgcache \"\";\n\
             Dir::Cache::srcpkgcache \"\";\n\
             APT::Architecture \"i386\";\n\
             APT::Architectures {{ \"i386\"; }};\n"
        ),
    )?;
    let conf = a.join("apt.conf");
    apt_get(Some(&conf), &["update", "-q"], &a)?;
    // apt-get update can exit 0 without an index it could not fetch: require the one needed.
    let o = Command::new("apt-cache")
        .args(["show", "linux-image-686-pae"])
        .env("APT_CONFIG", &conf)
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "linux-image-686-pae is not in the i386 lists of {mirror} {suite}"
        ));
    }
    Ok(conf)
}

/// Debian 12's 32-bit `linux-image-686-pae` kernel package (PVH-only: built without
/// `CONFIG_XEN_PV`), in `dir`, through a private i386 apt setup.
pub fn i386_686_pae_deb(dir: &Path) -> Result<PathBuf, String> {
    mkdir(dir)?;
    if let Some(d) = cached(dir) {
        return Ok(d);
    }
    let conf = i386_apt(dir)?;
    download("linux-image-686-pae", dir, Some(&conf))
}

/// The `boot/vmlinuz-*` of `deb`, extracted once under `into` (only that file).
pub fn vmlinuz(deb: &Path, into: &Path) -> Result<PathBuf, String> {
    let found = || -> Option<PathBuf> {
        std::fs::read_dir(into.join("boot"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("vmlinuz-")
            })
    };
    if let Some(v) = found() {
        return Ok(v);
    }
    mkdir(into)?;
    // Only the kernel: the dom0 modules are read from the .deb by elirepo itself.
    let st = Command::new("bash")
        .args([
            "-c",
            r#"set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinuz-*'"#,
            "bash",
        ])
        .arg(deb)
        .arg(into)
        .status()
        .map_err(|e| format!("bash: {e}"))?;
    if !st.success() {
        return Err(format!(
            "cannot extract boot/vmlinuz-* from {}",
            deb.display()
        ));
    }
    found().ok_or(format!("{}: no boot/vmlinuz-*", deb.display()))
}
