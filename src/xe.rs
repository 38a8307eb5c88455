//! The `xe` commands of the XenServer recipe, quoted for a POSIX shell.
//!
//! Pointing a template at the repository (`other-config:install-repository`,
//! `debian-release`, `install-arch`), the `PV-args` of a FAI install, and the
//! two commands that re-arm a VM whose one-time eliloader installation was
//! interrupted. [`check`] refuses what eliloader or the guest cannot use
//! (an `https://` repository, an `install-arch` other than `i386`/`amd64`, a
//! template that is not a UUID, an nfsroot without its host), so that what is
//! printed works when piped to `sh`.
//!
//! `PV-args` depend on how the FAI nfsroot boots ([`BootStyle`]): FAI 6's
//! `fai-make-nfsroot` builds a dracut initrd (`root=nfs:HOST:PATH:vers=3
//! rootovl ip=dhcp`, as `fai-chboot` writes), FAI 3/4 used live-boot
//! (`root=/dev/nfs nfsroot=HOST:PATH boot=live`). [`detect_boot_style`] tells
//! them apart on the nfsroot on disk; it is the one function here that reads
//! files. Everything else only builds text.

use std::path::{Path, PathBuf};

use crate::eliloader::{self, RepositoryUrlProblem};

/// Quotes `s` for a POSIX shell: bare when it is made of safe characters, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// How a FAI nfsroot's initrd mounts the root file system: the syntax of its
/// kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BootStyle {
    /// dracut (FAI 6's `fai-make-nfsroot`): `root=nfs:HOST:PATH:vers=3 rootovl ip=dhcp`.
    #[default]
    Dracut,
    /// live-boot (FAI 3/4): `root=/dev/nfs nfsroot=HOST:PATH boot=live`.
    Live,
}

/// What to print.
#[derive(Debug, Clone, Default)]
pub struct XeOptions {
    /// The repository URL eliloader fetches from.
    pub repo_url: String,
    /// `debian-release`.
    pub suite: String,
    /// `install-arch`.
    pub arch: String,
    /// Template UUID (a placeholder variable when absent).
    pub template: Option<String>,
    /// `HOST:PATH` of the FAI nfsroot, for `PV-args`.
    pub nfsroot: Option<String>,
    /// How the nfsroot boots (the syntax of `PV-args`).
    pub boot_style: BootStyle,
    /// `FAI_ACTION`.
    pub fai_action: Option<String>,
    /// `FAI_CONFIG_SRC`, when given.
    pub fai_config_src: Option<String>,
    /// A VM to re-arm.
    pub vm: Option<String>,
}

/// A value the printed commands cannot use. Each reads
/// `<value>: <what is wrong>`; [`XeError::hint`] says what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XeError {
    /// A repository URL eliloader cannot fetch from.
    #[error("{url}: {}", match problem {
        RepositoryUrlProblem::Https => "eliloader cannot fetch https:// URLs (it fetches http://, ftp:// and nfs:)",
        RepositoryUrlProblem::Credentials => "eliloader sends no credentials: a user or password in the URL does not work",
        _ => "eliloader fetches http://, ftp:// and nfs: repositories only",
    })]
    RepositoryUrl {
        /// The URL.
        url: String,
        /// Why.
        problem: RepositoryUrlProblem,
    },
    /// An `install-arch` eliloader's Debian installs do not use.
    #[error("{arch}: not an eliloader install-arch (i386 or amd64)")]
    Arch {
        /// The value given.
        arch: String,
    },
    /// A template or VM that is not named by its UUID.
    #[error("{value}: {what} takes a UUID (xe names objects by uuid=)")]
    NotAUuid {
        /// `--template` or `--vm`.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// An nfsroot that is not `HOST:PATH`.
    #[error("{value}: --nfsroot takes HOST:PATH, the NFS export as the guest mounts it")]
    Nfsroot {
        /// The value given.
        value: String,
    },
    /// A value that would split the kernel command line.
    #[error("{value:?}: {what} cannot hold spaces (it is one kernel argument)")]
    Spaces {
        /// The option.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// The nfsroot on disk does not say how it boots.
    #[error("{}: {reason}", dir.display())]
    BootStyle {
        /// The nfsroot directory.
        dir: PathBuf,
        /// Why its boot style cannot be told.
        reason: String,
    },
}

impl XeError {
    /// What to give instead.
    pub fn hint(&self) -> String {
        match self {
            XeError::RepositoryUrl { url, problem } => match problem {
                RepositoryUrlProblem::Https => format!(
                    "serve the repository over http:// too and give --repo-url http://{} (apt clients can keep https://; the Release signatures protect them)",
                    url.split_once("://").map_or("HOST/PATH", |(_, r)| r)
                ),
                RepositoryUrlProblem::Credentials => "serve eliloader's two files over http:// without a password (the kernel and initrd are not secret)".into(),
                _ => "give the repository's http:// URL, e.g. --repo-url http://repo.example.com/debian-custom".into(),
            },
            XeError::Arch { arch } => match crate::config::debian_arch_for(arch) {
                Some(a) if eliloader::ARCHITECTURES.contains(&a) => {
                    format!("Debian calls {arch} {a}: give --arch {a}")
                }
                _ => "eliloader installs i386 (32-bit) and amd64 (64-bit) Debian guests only".into(),
            },
            XeError::NotAUuid { what: "--vm", value } => format!(
                "find it with: xe vm-list name-label={} --minimal",
                shell_quote(value)
            ),
            XeError::NotAUuid { value, .. } => format!(
                "find it with: xe template-list name-label={} --minimal",
                shell_quote(value)
            ),
            XeError::Nfsroot { value } => format!(
                "e.g. --nfsroot 192.0.2.10:{}, with the address the guest reaches the FAI server at",
                if value.starts_with('/') { value.as_str() } else { "/srv/fai/nfsroot" }
            ),
            XeError::Spaces { what, .. } => format!("give {what} a value without spaces"),
            XeError::BootStyle { .. } => {
                "give --boot-style dracut (FAI 6) or --boot-style live (FAI 3/4) instead of --nfsroot-dir".into()
            }
        }
    }
}

/// True for `8-4-4-4-12` hexadecimal digits, the form of xe's UUIDs.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Refuses what eliloader or the guest cannot use; see the module documentation.
pub fn check(o: &XeOptions) -> Result<(), XeError> {
    eliloader::check_repository_url(&o.repo_url).map_err(|problem| XeError::RepositoryUrl {
        url: o.repo_url.clone(),
        problem,
    })?;
    if !eliloader::ARCHITECTURES.contains(&o.arch.as_str()) {
        return Err(XeError::Arch {
            arch: o.arch.clone(),
        });
    }
    for (what, value) in [("--template", &o.template), ("--vm", &o.vm)] {
        if let Some(v) = value.as_ref().filter(|v| !is_uuid(v)) {
            return Err(XeError::NotAUuid {
                what,
                value: v.clone(),
            });
        }
    }
    if let Some(nfs) = &o.nfsroot {
        let ok = nfs
            .split_once(':')
            .is_some_and(|(host, path)| !host.is_empty() && path.starts_with('/'));
        if !ok || nfs.contains(char::is_whitespace) {
            return Err(XeError::Nfsroot { value: nfs.clone() });
        }
    }
    for (what, value) in [
        ("--fai-action", &o.fai_action),
        ("--fai-config-src", &o.fai_config_src),
    ] {
        if let Some(v) = value
            .as_ref()
            .filter(|v| v.is_empty() || v.contains(char::is_whitespace))
        {
            return Err(XeError::Spaces {
                what,
                value: v.clone(),
            });
        }
    }
    Ok(())
}

/// True when `rel` is a directory inside `root` reached without following a
/// link: a link in an nfsroot may point anywhere on the host (`lib ->
/// /usr/lib` means the nfsroot's), so none is followed.
fn dir_in_root(root: &Path, rel: &str) -> bool {
    let mut here = root.to_path_buf();
    for c in rel.split('/') {
        here.push(c);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.is_dir() => {}
            _ => return false,
        }
    }
    true
}

/// Where dracut keeps its modules in an nfsroot where it is installed.
const DRACUT_MARKERS: [&str; 2] = ["usr/lib/dracut", "lib/dracut"];
/// Where live-boot keeps its initramfs-tools scripts and its own scripts.
const LIVE_MARKERS: [&str; 3] = [
    "usr/share/initramfs-tools/scripts/live",
    "usr/lib/live/boot",
    "lib/live/boot",
];

/// How the nfsroot at `dir` boots, from what is installed in it: dracut
/// (`usr/lib/dracut`: FAI 6) or live-boot (`usr/share/initramfs-tools/scripts/live`
/// or `lib/live/boot`: FAI 3/4). Its initrd is built by whichever is
/// installed (Debian's dracut and initramfs-tools conflict), so this is what
/// the initrd is. Neither or both is an error.
pub fn detect_boot_style(dir: &Path) -> Result<BootStyle, XeError> {
    let fail = |reason: String| XeError::BootStyle {
        dir: dir.to_path_buf(),
        reason,
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(fail("not a directory".into())),
        Err(e) => return Err(fail(format!("cannot read the nfsroot: {e}"))),
    }
    let dracut = DRACUT_MARKERS.iter().find(|m| dir_in_root(dir, m));
    let live = LIVE_MARKERS.iter().find(|m| dir_in_root(dir, m));
    match (dracut, live) {
        (Some(_), None) => Ok(BootStyle::Dracut),
        (None, Some(_)) => Ok(BootStyle::Live),
        (Some(d), Some(l)) => Err(fail(format!(
            "holds both dracut ({d}) and live-boot ({l}): cannot tell which built its initrd"
        ))),
        (None, None) => Err(fail(format!(
            "holds neither dracut ({}) nor live-boot ({}): cannot tell how its initrd mounts the nfsroot",
            DRACUT_MARKERS[0], LIVE_MARKERS[0]
        ))),
    }
}

/// The kernel command line of a FAI install from the nfsroot `nfs` (`HOST:PATH`).
pub fn pv_args(nfs: &str, style: BootStyle, action: &str, config_src: Option<&str>) -> String {
    let root = match style {
        BootStyle::Dracut => format!("root=nfs:{nfs}:vers=3 rootovl ip=dhcp"),
        BootStyle::Live => format!("root=/dev/nfs nfsroot={nfs} boot=live"),
    };
    let mut args = format!("quiet console=hvc0 {root} FAI_FLAGS=verbose,sshd FAI_ACTION={action}");
    if let Some(src) = config_src {
        args.push_str(&format!(" FAI_CONFIG_SRC={src}"));
    }
    args
}

/// The commands, one per line, with comments. Without a template UUID they
/// read `$TEMPLATE_UUID` and stop (`${TEMPLATE_UUID:?}`) when it is unset.
pub fn commands(o: &XeOptions) -> String {
    let uuid = |u: &Option<String>, var: &str| match u {
        Some(u) => format!("uuid={}", shell_quote(u)),
        None => format!("uuid=\"${{{var}:?set {var} first}}\""),
    };
    let tpl = uuid(&o.template, "TEMPLATE_UUID");
    let mut out = String::new();
    if o.template.is_none() {
        out.push_str("# set TEMPLATE_UUID first, e.g. TEMPLATE_UUID=$(xe template-list name-label='Debian Lenny 5.0 (32-bit)' --minimal)\n");
    }
    out.push_str(
        "# point the template at the repository (eliloader fetches over http or ftp, not https)\n",
    );
    for (k, v) in [
        ("other-config:install-repository", &o.repo_url),
        ("other-config:debian-release", &o.suite),
        ("other-config:install-arch", &o.arch),
    ] {
        out.push_str(&format!(
            "xe template-param-set {tpl} {}\n",
            shell_quote(&format!("{k}={v}"))
        ));
    }
    if let Some(nfs) = &o.nfsroot {
        let action = o.fai_action.as_deref().unwrap_or("install");
        let args = pv_args(nfs, o.boot_style, action, o.fai_config_src.as_deref());
        out.push_str(&format!(
            "# boot the installer into the FAI nfsroot ({})\n",
            match o.boot_style {
                BootStyle::Dracut => "dracut, FAI 6",
                BootStyle::Live => "live-boot, FAI 3/4",
            }
        ));
        out.push_str(&format!(
            "xe template-param-set {tpl} {}\n",
            shell_quote(&format!("PV-args={args}"))
        ));
    }
    if let Some(vm) = &o.vm {
        let v = uuid(&Some(vm.clone()), "VM_UUID");
        out.push_str("# re-arm a VM whose one-time installation was interrupted\n");
        out.push_str(&format!("xe vm-param-set {v} PV-bootloader=eliloader\n"));
        out.push_str(&format!(
            "xe vm-param-set {v} other-config:install-distro=debianlike\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("abc-1.2"), "abc-1.2");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_recipe() {
        let text = commands(&XeOptions {
            repo_url: "http://10.1.1.6/debian-custom".into(),
            suite: "lenny".into(),
            arch: "i386".into(),
            template: Some("5f1d-tpl".into()),
            nfsroot: Some("10.1.1.6:/srv/fai/nfsroot".into()),
            boot_style: BootStyle::Live,
            vm: Some("9a2c-vm".into()),
            ..Default::default()
        });
        assert!(text.contains("xe template-param-set uuid=5f1d-tpl other-config:install-repository=http://10.1.1.6/debian-custom\n"));
        assert!(text
            .contains("xe template-param-set uuid=5f1d-tpl other-config:debian-release=lenny\n"));
        assert!(text.contains("'PV-args=quiet console=hvc0 root=/dev/nfs nfsroot=10.1.1.6:/srv/fai/nfsroot boot=live FAI_FLAGS=verbose,sshd FAI_ACTION=install'"));
        assert!(text.contains("xe vm-param-set uuid=9a2c-vm PV-bootloader=eliloader\n"));
        assert!(
            text.contains("xe vm-param-set uuid=9a2c-vm other-config:install-distro=debianlike\n")
        );
        let text = commands(&XeOptions {
            template: None,
            ..Default::default()
        });
        assert!(text.contains("uuid=\"${TEMPLATE_UUID:?set TEMPLATE_UUID first}\""));
    }

    #[test]
    fn pv_args_per_boot_style() {
        assert_eq!(
            pv_args("h:/srv/fai/nfsroot", BootStyle::Dracut, "install", None),
            "quiet console=hvc0 root=nfs:h:/srv/fai/nfsroot:vers=3 rootovl ip=dhcp FAI_FLAGS=verbose,sshd FAI_ACTION=install"
        );
        assert_eq!(
            pv_args("h:/n", BootStyle::Live, "sysinfo", Some("nfs://h/c")),
            "quiet console=hvc0 root=/dev/nfs nfsroot=h:/n boot=live FAI_FLAGS=verbose,sshd FAI_ACTION=sysinfo FAI_CONFIG_SRC=nfs://h/c"
        );
    }

    #[test]
    fn what_check_refuses() {
        let good = XeOptions {
            repo_url: "http://h/d".into(),
            suite: "s".into(),
            arch: "amd64".into(),
            template: Some("5f1d3a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c".into()),
            nfsroot: Some("h:/srv/fai/nfsroot".into()),
            ..Default::default()
        };
        assert_eq!(check(&good), Ok(()));
        let bad = |o: XeOptions| check(&o).unwrap_err();
        let e = bad(XeOptions {
            arch: "x86_64".into(),
            ..good.clone()
        });
        assert_eq!(e.hint(), "Debian calls x86_64 amd64: give --arch amd64");
        let e = bad(XeOptions {
            template: Some("5f1d3a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2".into()),
            ..good.clone()
        });
        assert!(
            matches!(
                e,
                XeError::NotAUuid {
                    what: "--template",
                    ..
                }
            ),
            "{e}"
        );
        for nfs in ["/srv/fai/nfsroot", ":/srv", "h:srv", "h:/a b"] {
            let e = bad(XeOptions {
                nfsroot: Some(nfs.into()),
                ..good.clone()
            });
            assert!(matches!(e, XeError::Nfsroot { .. }), "{nfs}: {e}");
        }
        let e = bad(XeOptions {
            fai_config_src: Some("a b".into()),
            ..good.clone()
        });
        assert!(matches!(e, XeError::Spaces { .. }), "{e}");
        let e = bad(XeOptions {
            repo_url: "https://h/d".into(),
            ..good
        });
        assert_eq!(e.to_string(), "https://h/d: eliloader cannot fetch https:// URLs (it fetches http://, ftp:// and nfs:)");
        assert!(e.hint().contains("--repo-url http://h/d"), "{}", e.hint());
    }

    #[test]
    fn boot_style_from_the_nfsroot_on_disk() {
        let t = tempfile::tempdir().unwrap();
        let root = |name: &str, dirs: &[&str]| {
            let r = t.path().join(name);
            std::fs::create_dir_all(&r).unwrap();
            for d in dirs {
                std::fs::create_dir_all(r.join(d)).unwrap();
            }
            r
        };
        assert_eq!(
            detect_boot_style(&root("fai6", &["usr/lib/dracut/modules.d"])),
            Ok(BootStyle::Dracut)
        );
        assert_eq!(
            detect_boot_style(&root("fai3", &["lib/live/boot"])),
            Ok(BootStyle::Live)
        );
        assert!(
            detect_boot_style(&root("both", &["usr/lib/dracut", "usr/lib/live/boot"])).is_err()
        );
        assert!(detect_boot_style(&root("none", &["boot"])).is_err());
        // A link is never followed: `lib -> /usr/lib` would be the host's.
        let linked = root("linked", &[]);
        std::os::unix::fs::symlink("/usr/lib", linked.join("lib")).unwrap();
        let usr = root("linked/usr", &[]);
        std::os::unix::fs::symlink(t.path().join("fai6/usr/lib"), usr.join("lib")).unwrap();
        assert!(detect_boot_style(&linked).is_err());
    }
}
