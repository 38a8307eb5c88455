//! The `xe` commands of the XenServer recipe, quoted for a POSIX shell.
//!
//! Pointing a template at the repository (`other-config:install-repository`,
//! `debian-release`, `install-arch`), the `PV-args` of a FAI install, and the
//! two commands that re-arm a VM whose one-time eliloader installation was
//! interrupted. This module only builds text.

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
    /// `FAI_ACTION`.
    pub fai_action: Option<String>,
    /// A VM to re-arm.
    pub vm: Option<String>,
}

/// The commands, one per line, with comments.
pub fn commands(o: &XeOptions) -> String {
    let uuid = |u: &Option<String>, var: &str| match u {
        Some(u) => format!("uuid={}", shell_quote(u)),
        None => format!("uuid=\"${var}\""),
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
        let args = format!(
            "quiet console=hvc0 root=/dev/nfs nfsroot={nfs} boot=live FAI_FLAGS=verbose,sshd FAI_ACTION={action}"
        );
        out.push_str("# boot the installer into the FAI nfsroot\n");
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
            fai_action: None,
            vm: Some("9a2c-vm".into()),
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
        assert!(text.contains("uuid=\"$TEMPLATE_UUID\""));
    }
}
