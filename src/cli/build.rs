//! `elirepo build`: its flags, the settings resolved from them
//! ([`elirepo::config`]), the build ([`elirepo::build`]) and what it tells
//! people: the hints for errors whose fix is obvious, the `-v` settings, the
//! summary lines and the `--json` report.

use std::io;
use std::process::ExitCode;

use elirepo::build::{BuildError, BuildReport};
use elirepo::config::{BuildFlags, BuildOptions, ConfigError, KeyFileProblem};
use elirepo::sign::SignError;

use super::config::EXAMPLE_COMMAND;
use super::exit::{failed, json_error_and, json_text, out, EXIT_USAGE};
use super::ui::{count, Level, Phase, Ui};

/// Where the Debian package installs the commented example configuration
/// (`elirepo config example` prints it wherever elirepo is installed).
pub const EXAMPLE_CONFIG: &str = "/usr/share/doc/elirepo/examples/elirepo.toml";

/// `elirepo build --help`'s description.
pub const LONG_ABOUT: &str = "\
Build and publish the repository: the pool, the Packages and Release \
indexes, by-hash copies, the signatures and, with netboot inputs, the eliloader kernel and \
initrd. Everything is read and checked before the repository is touched; a failed build \
publishes nothing. A rerun with unchanged inputs rewrites nothing.\n\n\
Settings come from --config FILE (TOML; `elirepo config example` prints \
every key) and flags override them. A signing \
flag (--sign-key, --gpg-homedir, --sign-key-file, --passphrase-file, --unsigned) \
replaces the file's [sign] table as a whole.";

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
            return failed(ui, a.json, e, hint.as_deref());
        }
    };
    show_options(ui, &opts);
    // The time the build stamps is an input of the build, read here once.
    let time = match elirepo::release::BuildTime::from_env() {
        Ok(t) => t,
        Err(e) => return nothing_published(ui, &opts, a.json, e, None),
    };
    ui.set_phase(Phase::Building);
    let result = elirepo::build::build(&opts, time, ui);
    ui.set_phase(Phase::Other);
    match result {
        Ok(report) => {
            if a.json {
                print_json(&opts, &report);
            }
            tell(ui, &opts, &report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let hint = build_hint(&e);
            let published = e.published();
            failed_build(ui, &opts, a.json, e, hint, published)
        }
    }
}

/// A build that failed: the error, its hint, and that nothing was published.
fn nothing_published(
    ui: &Ui,
    opts: &BuildOptions,
    json: bool,
    error: impl std::fmt::Display,
    hint: Option<String>,
) -> ExitCode {
    failed_build(ui, opts, json, error, hint, false)
}

/// A build that failed (exit 2): the error, its hint, and what is true of the
/// repository: nothing was published, or (`published`) the new suite was and what
/// follows failed. With `json`, the same on stdout (`ok: false`, `error`,
/// `published`).
fn failed_build(
    ui: &Ui,
    opts: &BuildOptions,
    json: bool,
    error: impl std::fmt::Display,
    hint: Option<String>,
    published: bool,
) -> ExitCode {
    if json {
        let extra = serde_json::json!({ "published": published });
        let _ = out(&json_error_and(&error, hint.as_deref(), &extra));
    }
    ui.error(error);
    if let Some(h) = hint {
        ui.hint(&h);
    }
    if published {
        ui.error(format!(
            "{}: the new suite {} is published; cleaning up after it failed: fix the cause and rerun the build to finish it",
            opts.repo.display(),
            opts.suite
        ));
    } else {
        ui.error(format!(
            "{}: nothing was published; the repository is unchanged",
            opts.repo.display()
        ));
    }
    ExitCode::from(EXIT_USAGE)
}

/// The hint for a settings error whose fix is obvious, if any.
fn config_hint(e: &ConfigError) -> Option<String> {
    match e {
        ConfigError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound => Some(
            format!("`{EXAMPLE_COMMAND}` prints an example with every key; flags alone work too (elirepo build --help)"),
        ),
        ConfigError::Parse { message, .. } if message.contains("unknown field") => {
            let meant = e
                .suggestion()
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            Some(format!(
                "{meant}keys are kebab-case; `{EXAMPLE_COMMAND}` prints every key"
            ))
        }
        ConfigError::ArchName { meant, .. } => Some(format!(
            "Debian calls it {meant}: give --arch {meant} (in the config file, architectures = [\"{meant}\"])"
        )),
        ConfigError::NetbootArchNeeded => {
            Some("or describe each architecture in a [[netboot]] table of the config file".into())
        }
        ConfigError::KeyFile { problem, .. } => key_file_hint(problem).map(str::to_string),
        ConfigError::SigningFlagsWithoutKey { .. } => Some(
            "signing flags replace the config file's [sign] table as a whole: give the key on the command line too, or no signing flag to sign as [sign] says".into(),
        ),
        _ => None,
    }
}

/// The hint for a key, keyring, passphrase file or gpg home that cannot be
/// used (`build` and `verify`).
pub fn key_file_hint(problem: &KeyFileProblem) -> Option<&'static str> {
    match problem {
        KeyFileProblem::ArmoredKeyring => Some(
            "make a binary keyring of it: gpg --dearmor < KEY.asc > KEY.gpg (a build publishes one: <label>-archive-keyring.gpg)",
        ),
        KeyFileProblem::NotAKeyring => Some(
            "give the keyring a build published (<label>-archive-keyring.gpg at the repository's top) or gpg --export KEYID > KEY.gpg",
        ),
        KeyFileProblem::NotAKey | KeyFileProblem::PublicKeyOnly => {
            Some("export the secret key: gpg --armor --export-secret-keys KEYID > KEY.asc")
        }
        KeyFileProblem::NoDirectory | KeyFileProblem::NotADirectory => Some(
            "give the gpg home that holds the key (gpg's default is ~/.gnupg), or the key itself with --sign-key-file",
        ),
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
        BuildError::Sign(SignError::PassphraseNeeded { .. }) => Some(
            "put the passphrase in a file only the build can read (chmod 600) and give --passphrase-file FILE (config: passphrase-file in [sign])".into(),
        ),
        BuildError::Sign(SignError::WrongPassphrase { .. }) => Some(
            "the file must hold the key's passphrase on its first line; check that it belongs to this key".into(),
        ),
        BuildError::NoPackages { .. } => Some(
            "check that the --deb inputs are there (a mount, a checkout); to publish an empty suite give --allow-empty (config: allow-empty = true)".into(),
        ),
        BuildError::TooManyRemovals { .. } => Some(
            "a suite holds exactly its inputs: give the missing .debs, or --allow-removals (config: allow-removals = true) if they are meant to go".into(),
        ),
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

/// `--json`: the report on stdout, with `ok: true`, the repository and suite.
fn print_json(opts: &BuildOptions, report: &BuildReport) {
    #[derive(serde::Serialize)]
    struct BuildJson<'a> {
        ok: bool,
        repo: &'a std::path::Path,
        suite: &'a str,
        #[serde(flatten)]
        report: &'a BuildReport,
    }
    let _ = out(&json_text(&BuildJson {
        ok: true,
        repo: &opts.repo,
        suite: &opts.suite,
        report,
    }));
}

/// `; clients' keyring: <repo>/<name> (fingerprint <FPR>)` for a signed suite.
fn keyring(opts: &BuildOptions, report: &BuildReport) -> String {
    let Some(k) = &report.keyring else {
        return String::new();
    };
    let fpr = report
        .keyring_fingerprint
        .as_ref()
        .map(|f| format!(" (fingerprint {f})"))
        .unwrap_or_default();
    format!("; clients' keyring: {}{fpr}", opts.repo.join(k).display())
}

/// What a successful build did: one step line, details with -v.
fn tell(ui: &Ui, opts: &BuildOptions, report: &BuildReport) {
    let suite = &opts.suite;
    if report.changed {
        ui.step(&format!(
            "published {} suite {suite}: {} ({} added, {} removed), {} written, {} removed{}",
            opts.repo.display(),
            count(report.packages.len(), "package"),
            report.added.len(),
            report.removed.len(),
            count(report.files_written, "file"),
            report.files_removed,
            keyring(opts, report)
        ));
    } else {
        ui.step(&format!(
            "nothing changed in {} suite {suite}{}",
            opts.repo.display(),
            keyring(opts, report)
        ));
    }
    for p in &report.added {
        ui.detail(&format!("added {p}"));
    }
    if report.changed && !report.removed.is_empty() {
        ui.step(&format!(
            "removed from suite {suite}: {}",
            report.removed.join(", ")
        ));
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
        assert!(config_hint(&missing).is_some_and(|h| h.contains(EXAMPLE_COMMAND)));
        let typo = ConfigError::Parse {
            path: "elirepo.toml".into(),
            message: "unknown field `architecture`, expected one of `repo`, `architectures`".into(),
        };
        assert_eq!(
            config_hint(&typo).as_deref(),
            Some("did you mean `architectures`? keys are kebab-case; `elirepo config example` prints every key")
        );
        assert_eq!(count(1, "package"), "1 package");
        assert_eq!(count(0, "file"), "0 files");
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
