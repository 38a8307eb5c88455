//! `elirepo man` and `elirepo completions`: the manual pages and the shell
//! completions, generated from the clap definition ([`super::Cli`]) so that
//! they cannot drift from `--help`.
//!
//! `elirepo.1` has the sections clap_mangen writes plus EXIT STATUS,
//! ENVIRONMENT, FILES, OUTPUT, EXAMPLES and SEE ALSO; each command has its own
//! `elirepo-<command>.1`, its after-help turned into sections. Each block of
//! roff is written as its own [`Roff`] (each opens with roff's apostrophe
//! preamble): the pages' bytes depend on where those blocks begin.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_mangen::roff::{roman, Roff};

use super::build::EXAMPLE_CONFIG;
use super::exit::{usage_error, EXIT_USAGE};
use super::ui::Ui;
use super::{Cli, LONG_ABOUT};

/// `elirepo man`'s examples.
pub const MAN_AFTER_HELP: &str = "Examples:
  elirepo man | man -l -
  elirepo man --dir /usr/local/share/man/man1";

/// `elirepo completions`' examples.
pub const COMPLETIONS_AFTER_HELP: &str = "Examples:
  source <(elirepo completions bash)
  elirepo completions bash > /etc/bash_completion.d/elirepo
  elirepo completions zsh > ~/.zfunc/_elirepo
  elirepo completions fish > ~/.config/fish/completions/elirepo.fish";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct ManArgs {
    /// Write elirepo.1 and one elirepo-COMMAND.1 per command into DIR
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell
    shell: clap_complete::Shell,
}

/// Runs `elirepo man`: `elirepo.1` on stdout, or every page into `--dir`.
pub fn run(a: ManArgs, ui: &mut Ui) -> ExitCode {
    let pages = match man_pages() {
        Ok(p) => p,
        Err(e) => return usage_error(ui, format!("rendering the manual: {e}"), None),
    };
    let Some(dir) = a.dir else {
        let _ = io::stdout().lock().write_all(&pages[0].1);
        return ExitCode::SUCCESS;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return usage_error(ui, format!("{}: cannot create: {e}", dir.display()), None);
    }
    for (name, bytes) in &pages {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            ui.error(format!("{}: cannot write: {e}", path.display()));
            return ExitCode::from(EXIT_USAGE);
        }
        ui.step(&format!("wrote {}", path.display()));
    }
    ExitCode::SUCCESS
}

/// Runs `elirepo completions`: the script for `shell` on stdout.
pub fn run_completions(a: CompletionsArgs) -> ExitCode {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "elirepo", &mut buf);
    let _ = io::stdout().lock().write_all(&buf);
    ExitCode::SUCCESS
}

/// The manual pages, as (file name, roff): `elirepo.1` first, then one
/// `elirepo-<command>.1` per command.
fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = vec![("elirepo.1".to_string(), main_page(&cmd)?)];
    for sub in commands(&cmd) {
        pages.push(command_page(sub)?);
    }
    Ok(pages)
}

/// The commands that get a page of their own.
fn commands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "help")
}

/// `elirepo.1`.
fn main_page(cmd: &clap::Command) -> io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone()).date("");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    description().to_writer(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    let mut extra = Roff::new();
    reference_sections(&mut extra);
    examples_section(&mut extra);
    let pages: Vec<String> = commands(cmd)
        .map(|s| format!("elirepo-{}(1)", s.get_name()))
        .collect();
    section(
        &mut extra,
        "SEE ALSO",
        &[&format!(
            "{}, apt-ftparchive(1), gpg(1), fai-make-nfsroot(8), xe(1)",
            pages.join(", ")
        )],
    );
    extra.to_writer(&mut page)?;
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// DESCRIPTION, by hand: the indented lines of [`LONG_ABOUT`] (the eliloader
/// paths) stay lines.
fn description() -> Roff {
    let mut desc = Roff::new();
    desc.control("SH", ["DESCRIPTION"]);
    for (i, para) in LONG_ABOUT.split("\n\n").enumerate() {
        if i > 0 {
            desc.control("PP", []);
        }
        if para.starts_with("  ") {
            desc.control("EX", []);
            for line in para.lines() {
                desc.text([roman(line.trim_start())]);
            }
            desc.control("EE", []);
        } else {
            desc.text([roman(para)]);
        }
    }
    desc
}

/// EXIT STATUS, ENVIRONMENT, FILES and OUTPUT of `elirepo.1`.
fn reference_sections(r: &mut Roff) {
    tagged(
        r,
        "EXIT STATUS",
        &[
            ("0", "Success: published, or nothing changed (build); every check holds (verify); PV-capable (kernel); booted (boot-test)."),
            ("1", "The command ran and found a problem: verify found problems, kernel is not PV-capable, boot-test did not boot, packages could not read some .deb (the others are still written)."),
            ("2", "Usage or input error, or could not check: a bad flag, a missing or unreadable file, a bad .deb, a kernel that fails the checks; verify could not reach the server (refused, no such host, silent past --timeout) or the suite (HTTP 403 or 404, no such Release). A build that exits 2 published nothing and left the repository as it was, unless its last line says the new suite is published (a failure after the switch, while cleaning up: a rerun finishes it). A publish that exits 2 changed nothing (unreachable, refused, locked), or stopped midway with the destination still serving a consistent repository (a rerun completes it)."),
            ("130", "Interrupted (Ctrl-C); the last line says what is true of the repository (before a build starts writing: unchanged)."),
            ("101", "elirepo crashed: a bug, please report it."),
        ],
    );
    tagged(
        r,
        "ENVIRONMENT",
        &[
            ("NO_COLOR", "When set and not empty, no colour is written, even on a terminal."),
            ("SOURCE_DATE_EPOCH", "Seconds since 1970 to use as the Release Date (reproducible builds); verify uses it as now."),
            ("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL", "The S3 settings of publish, read as the AWS tools read them (with ~/.aws/credentials and ~/.aws/config)."),
            ("COLUMNS", "Width of the progress bar line when the terminal does not tell its own (default 80)."),
            ("TERM", "When dumb, neither colour nor progress bars."),
        ],
    );
    tagged(
        r,
        "FILES",
        &[
            ("/etc/elirepo/elirepo.toml", "The configuration the FAI nfsroot hook reads (any file works with --config)."),
            (EXAMPLE_CONFIG, "A commented example with every key, installed by the Debian package; elirepo config example prints it wherever elirepo is installed."),
            ("/usr/share/elirepo/fai-nfsroot-hook", "Republishes the kernel and initrd after every fai-make-nfsroot: link it as /etc/fai/nfsroot-hooks/50-elirepo."),
            ("<repo>/.elirepo/", "elirepo's private state: the lock, the staging area, the by-hash history. It need not be served."),
        ],
    );
    section(
        r,
        "OUTPUT",
        &[
            "Steps, warnings and errors go to stderr, one line each, each starting with elirepo:. Errors read elirepo: error: PATH: WHAT WENT WRONG, sometimes followed by elirepo: hint: WHAT TO DO. On a terminal a progress bar shows long work (hashing, copying, decompressing); off a terminal there are no bars and no escape sequences.",
            "Data goes to stdout: the --json reports of build, verify and kernel (one JSON object with a schema_version key; keys are only ever added), the Packages index of packages, the commands of xe-commands. Each --json object has an ok key, true exactly when the exit status is 0; a run that fails before it has a report (exit 2) writes {\"schema_version\": 1, \"ok\": false, \"error\": {\"message\": ..., \"hint\": ... or null}}.",
        ],
    );
}

/// EXAMPLES of `elirepo.1`: what, then the command line, unfilled.
fn examples_section(r: &mut Roff) {
    r.control("SH", ["EXAMPLES"]);
    for (what, cmdline) in [
        (
            "Publish from a configuration file:",
            "elirepo build --config /etc/elirepo/elirepo.toml",
        ),
        (
            "Republish the FAI nfsroot's kernel and initrd and report what changed:",
            "elirepo build --config /etc/elirepo/elirepo.toml --nfsroot /srv/fai/nfsroot --json",
        ),
        (
            "Check what clients will see:",
            "elirepo verify http://repo.example.com/debian --suite lenny",
        ),
        (
            "Will Xen boot this kernel?",
            "elirepo kernel /srv/fai/nfsroot/boot/vmlinuz-6.1.0-26-amd64",
        ),
    ] {
        r.control("TP", []);
        r.text([roman(what)]);
        r.control("EX", []);
        r.text([roman(cmdline)]);
        r.control("EE", []);
    }
}

/// `elirepo-<command>.1`, as (file name, roff).
fn command_page(sub: &clap::Command) -> io::Result<(String, Vec<u8>)> {
    let name = format!("elirepo-{}", sub.get_name());
    // A name for clap must live as long as the command: this runs once per page.
    let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
    let sub = sub.clone().name(static_name).display_name(name.clone());
    let after = sub.get_after_help().map(|h| h.to_string());
    let man = clap_mangen::Man::new(sub).title(name.clone()).date("");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    after_help_sections(after.as_deref().unwrap_or_default()).to_writer(&mut page)?;
    let mut see = Roff::new();
    section(&mut see, "SEE ALSO", &["elirepo(1)"]);
    see.to_writer(&mut page)?;
    man.render_version_section(&mut page)?;
    Ok((format!("{name}.1"), page))
}

/// A section of paragraphs.
fn section(r: &mut Roff, title: &str, paras: &[&str]) {
    r.control("SH", [title]);
    for (i, p) in paras.iter().enumerate() {
        if i > 0 {
            r.control("PP", []);
        }
        r.text([roman(*p)]);
    }
}

/// A section of tagged paragraphs (`.TP`).
fn tagged(r: &mut Roff, title: &str, items: &[(&str, &str)]) {
    r.control("SH", [title]);
    for (tag, text) in items {
        r.control("TP", []);
        r.text([roman(*tag)]);
        r.text([roman(*text)]);
    }
}

/// A command's after-help as man sections: `Example...` blocks as EXAMPLES (no
/// fill, as in --help), `Exit status:` as EXIT STATUS, anything else as NOTES.
fn after_help_sections(text: &str) -> Roff {
    let mut r = Roff::new();
    let mut last = "";
    for block in text
        .split("\n\n")
        .map(str::trim_end)
        .filter(|b| !b.is_empty())
    {
        let (title, body) = if let Some(rest) = block.strip_prefix("Exit status:") {
            r.control("SH", ["EXIT STATUS"]);
            r.text([roman(rest.trim())]);
            last = "EXIT STATUS";
            continue;
        } else if block.starts_with("Example") {
            let body = block.split_once('\n').map_or("", |(_, b)| b);
            ("EXAMPLES", body)
        } else {
            ("NOTES", block)
        };
        if title == last {
            r.control("PP", []);
        } else {
            r.control("SH", [title]);
        }
        last = title;
        r.control("nf", []);
        for line in body.lines() {
            r.text([roman(line)]);
            r.control("br", []);
        }
        r.control("fi", []);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_help_becomes_examples_notes_and_exit_status() {
        let roff = after_help_sections(
            "Examples:\n  elirepo a\n  elirepo b\n\nA note.\n\nExample:\n  elirepo c\n\nExit status: 0 fine.",
        )
        .to_roff();
        let sections: Vec<&str> = roff.lines().filter(|l| l.starts_with(".SH")).collect();
        assert_eq!(
            sections,
            [
                ".SH EXAMPLES",
                ".SH NOTES",
                ".SH EXAMPLES",
                ".SH \"EXIT STATUS\""
            ]
        );
        assert!(
            roff.contains(".nf\n  elirepo a\n.br\n  elirepo b\n.br\n.fi\n"),
            "{roff}"
        );
        assert!(roff.contains(".SH \"EXIT STATUS\"\n0 fine.\n"), "{roff}");
    }

    #[test]
    fn every_command_has_a_page_and_elirepo_1_names_them_all() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "elirepo.1",
                "elirepo-build.1",
                "elirepo-publish.1",
                "elirepo-verify.1",
                "elirepo-xe-commands.1",
                "elirepo-kernel.1",
                "elirepo-boot-test.1",
                "elirepo-packages.1",
                "elirepo-man.1",
                "elirepo-completions.1",
                "elirepo-config.1"
            ]
        );
        let main = String::from_utf8_lossy(&pages[0].1);
        for name in &names[1..] {
            // roff writes a hyphen as `\-`.
            let page = name.trim_end_matches(".1").replace('-', "\\-");
            assert!(
                main.contains(&format!("{page}(1)")),
                "{page} not in SEE ALSO"
            );
        }
    }
}
