//! `elirepo build`: its flags, the settings resolved from them
//! ([`elirepo::config`]), the build ([`elirepo::build`]) and what it tells
//! people: the hints for errors whose fix is obvious, the `-v` settings, the
//! summary lines and the `--json` report.

use std::io;
use std::process::ExitCode;

use elirepo::build::{BuildError, BuildReport};
use elirepo::config::{BuildFlags, BuildOptions, ConfigError};

use super::exit::{json_text, out, usage_error, EXIT_USAGE};
use super::ui::{Level, Ui};

/// Where the Debian package installs the commented example configuration.
pub const EXAMPLE_CONFIG: &str = "/usr/share/doc/elirepo/examples/elirepo.toml";

/// `elirepo build --help`'s description.
pub const LONG_ABOUT: &str = "\
Build and publish the repository: the pool, the Packages and Release \
indexes, by-hash copies, the signatures and, with netboot inputs, the eliloader kernel and \
initrd. Everything is read and checked before the repository is touched; a failed build \
publishes nothing. A rerun with unchanged inputs rewrites nothing.\n\n\
Settings come from --config FILE (TOML, every key in \
/usr/share/doc/elirepo/examples/elirepo.toml) and flags override them.";

/// Examples and exit status, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Examples:
  elirepo build --config /etc/elirepo/elirepo.toml
  elirepo build --config elirepo.toml --nfsroot /srv/fai/nfsroot --json
  elirepo build --repo /srv/repo --suite lenny --arch i386 --arch amd64 \\
      --deb debs/ --sign-key 0xDEADBEEF --origin XS --label XS
  elirepo build --repo /srv/repo --suite lenny --arch amd64 --deb debs/ \\
      --sign-key-file /run/secrets/signing-key.asc

Exit status: 0 published (or nothing changed), 2 nothing was published.";

// No doc comment: clap would read it as help text. The build settings'
// flags are the library's (`BuildFlags` is their clap definition): they go to
// `config::resolve` as they are, with no copy.
#[derive(clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    flags: BuildFlags,
    /// Print what the build did as JSON on stdout
    #[arg(long)]
    json: bool,
}

/// Runs `elirepo build`: settings, build, report.
pub fn run(a: BuildArgs, ui: &mut Ui) -> ExitCode {
    let opts = match elirepo::config::resolve(a.flags) {
        Ok(o) => o,
        Err(e) => {
            let hint = config_hint(&e);
            return usage_error(ui, e, hint.as_deref());
        }
    };
    show_options(ui, &opts);
    // The time the build stamps is an input of the build, read here once.
    let time = match elirepo::release::BuildTime::from_env() {
        Ok(t) => t,
        Err(e) => return nothing_published(ui, &opts, e, None),
    };
    match elirepo::build::build(&opts, time, ui) {
        Ok(report) => {
            if a.json {
                print_json(&opts, &report);
            }
            tell(ui, &opts, &report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let hint = build_hint(&e);
            nothing_published(ui, &opts, e, hint)
        }
    }
}

/// A build that failed: the error, its hint, and that nothing was published.
fn nothing_published(
    ui: &Ui,
    opts: &BuildOptions,
    error: impl std::fmt::Display,
    hint: Option<String>,
) -> ExitCode {
    ui.error(error);
    if let Some(h) = hint {
        ui.hint(&h);
    }
    ui.error(format!(
        "{}: nothing was published; the repository is unchanged",
        opts.repo.display()
    ));
    ExitCode::from(EXIT_USAGE)
}

/// The hint for a settings error whose fix is obvious, if any.
fn config_hint(e: &ConfigError) -> Option<String> {
    match e {
        ConfigError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound => Some(
            format!("an example with every key is {EXAMPLE_CONFIG}; flags alone work too (elirepo build --help)"),
        ),
        ConfigError::Parse { message, .. } if message.contains("unknown field") => Some(format!(
            "keys are kebab-case; every key is in {EXAMPLE_CONFIG}"
        )),
        ConfigError::NetbootArchNeeded => {
            Some("or describe each architecture in a [[netboot]] table of the config file".into())
        }
        _ => None,
    }
}

/// The hint for a build error whose fix is obvious, if any.
fn build_hint(e: &BuildError) -> Option<String> {
    match e {
        BuildError::Input { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            Some("--deb takes a .deb file or a directory holding .debs".into())
        }
        BuildError::Debs(errors) if errors.len() == 1 => Some(
            "fix or leave out that file; `elirepo packages DIR >/dev/null` lists every unreadable .deb".into(),
        ),
        BuildError::Debs(_) => {
            Some("fix or leave out those files; a build publishes all of its inputs or none".into())
        }
        _ => None,
    }
}

/// With -v: the settings the build runs with, after the config file and flags.
fn show_options(ui: &Ui, o: &BuildOptions) {
    if ui.level() < Level::Verbose {
        return;
    }
    ui.detail(&format!("repo: {}", o.repo.display()));
    ui.detail(&format!(
        "suite: {} (codename {}), component {}, architectures {}",
        o.suite,
        o.codename,
        o.component,
        o.architectures.join(" ")
    ));
    for d in &o.debs {
        ui.detail(&format!("deb input: {}", d.display()));
    }
    match &o.sign {
        Some(s) => ui.detail(&format!(
            "signing with {}",
            s.key_file.as_ref().map_or_else(
                || s.key.clone().unwrap_or_default(),
                |k| format!("the key in {}", k.display())
            )
        )),
        None => ui.detail("not signing"),
    }
    for n in &o.netboot {
        let from = [&n.nfsroot, &n.kernel_deb, &n.kernel, &n.initrd]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        ui.detail(&format!("netboot installer-{}: {from}", n.arch));
    }
}

/// `--json`: the report on stdout, with the repository and suite.
fn print_json(opts: &BuildOptions, report: &BuildReport) {
    #[derive(serde::Serialize)]
    struct BuildJson<'a> {
        repo: &'a std::path::Path,
        suite: &'a str,
        #[serde(flatten)]
        report: &'a BuildReport,
    }
    let _ = out(&json_text(&BuildJson {
        repo: &opts.repo,
        suite: &opts.suite,
        report,
    }));
}

/// What a successful build did: one step line, details with -v.
fn tell(ui: &Ui, opts: &BuildOptions, report: &BuildReport) {
    let suite = &opts.suite;
    if report.changed {
        ui.step(&format!(
            "published {} suite {suite}: {} packages ({} added, {} removed), {} files written, {} removed",
            opts.repo.display(),
            report.packages.len(),
            report.added.len(),
            report.removed.len(),
            report.files_written,
            report.files_removed
        ));
    } else {
        ui.step(&format!(
            "nothing changed in {} suite {suite}",
            opts.repo.display()
        ));
    }
    for p in &report.added {
        ui.detail(&format!("added {p}"));
    }
    for p in &report.removed {
        ui.detail(&format!("removed {p}"));
    }
    for n in &report.netboot {
        ui.detail(&format!(
            "{}: {} bytes, sha256 {}",
            n.kernel_path, n.kernel_size, n.kernel_sha256
        ));
        ui.detail(&format!(
            "{}: {} bytes, sha256 {}",
            n.initrd_path, n.initrd_size, n.initrd_sha256
        ));
    }
    ui.detail(&format!(
        "dists/{suite}/Release: sha256 {}{}",
        report.release_sha256,
        if report.signed {
            ", signed"
        } else {
            ", unsigned"
        }
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_errors_with_an_obvious_fix_get_a_hint() {
        let missing = ConfigError::Read {
            path: "elirepo.toml".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert!(config_hint(&missing).is_some_and(|h| h.contains(EXAMPLE_CONFIG)));
        let typo = ConfigError::Parse {
            path: "elirepo.toml".into(),
            message: "unknown field `architecture`".into(),
        };
        assert!(config_hint(&typo).is_some_and(|h| h.starts_with("keys are kebab-case")));
        assert_eq!(
            config_hint(&ConfigError::NetbootArchNeeded).as_deref(),
            Some("or describe each architecture in a [[netboot]] table of the config file")
        );
        let denied = ConfigError::Read {
            path: "elirepo.toml".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(config_hint(&denied), None);
        assert_eq!(config_hint(&ConfigError::Invalid("no suite".into())), None);
    }
}
