//! How a run of `elirepo` ends: its exit status, its data on stdout, its
//! errors with hints, and the report of a crash.
//!
//! Exit status (also in `elirepo(1)` and the README):
//!
//! * 0: success (`verify`: every check holds; `kernel`: PV-capable).
//! * 1: the command ran and found a problem (`verify`: problems; `kernel`: not
//!   PV-capable; `packages`: some .deb could not be read).
//! * 2: usage or input error; `build` published nothing.
//! * 101: elirepo crashed (a bug: please report it).
//!
//! A closed stdout (`elirepo packages pool | head`) is not an error: exit 0.

use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;

use super::ui::Ui;

/// The command ran and found a problem.
pub const EXIT_PROBLEM: u8 = 1;
/// Usage or input error.
pub const EXIT_USAGE: u8 = 2;

/// The version of every `--json` shape; bumped only when a key is renamed or
/// removed (keys are added without a bump).
const SCHEMA_VERSION: u32 = 1;

/// Prints `error` and, if any, its `hint`; the run ends with exit status 2.
pub fn usage_error(ui: &Ui, error: impl Display, hint: Option<&str>) -> ExitCode {
    ui.error(error);
    if let Some(h) = hint {
        ui.hint(h);
    }
    ExitCode::from(EXIT_USAGE)
}

/// Writes `text` to stdout; a closed pipe is not an error.
pub fn out(text: &str) -> io::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(text.as_bytes())?;
    o.flush()
}

/// `report` as pretty JSON, with `schema_version` first.
pub fn json_text(report: &impl serde::Serialize) -> String {
    #[derive(serde::Serialize)]
    struct Versioned<'a, T> {
        schema_version: u32,
        #[serde(flatten)]
        report: &'a T,
    }
    let mut s = serde_json::to_string_pretty(&Versioned {
        schema_version: SCHEMA_VERSION,
        report,
    })
    .expect("reports serialise");
    s.push('\n');
    s
}

/// `--json` for a run that failed before it had a report: `ok: false` and the
/// error's message (every line, without the `elirepo: error: ` that stderr
/// puts before each) and hint (null when none).
pub fn json_error(error: impl Display, hint: Option<&str>) -> String {
    json_error_and(error, hint, &serde_json::Map::new())
}

/// [`json_error`] with the keys of `extra` after `error`.
pub fn json_error_and(
    error: impl Display,
    hint: Option<&str>,
    extra: &impl serde::Serialize,
) -> String {
    #[derive(serde::Serialize)]
    struct Error<'a> {
        message: String,
        hint: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct Failed<'a, E> {
        ok: bool,
        error: Error<'a>,
        #[serde(flatten)]
        extra: &'a E,
    }
    let message = error
        .to_string()
        .lines()
        .map(|l| l.strip_prefix("elirepo: error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    json_text(&Failed {
        ok: false,
        error: Error { message, hint },
        extra,
    })
}

/// A usage or input error (exit 2): on stderr, and with `json` also as
/// [`json_error`] on stdout.
pub fn failed(ui: &Ui, json: bool, error: impl Display, hint: Option<&str>) -> ExitCode {
    if json {
        let _ = out(&json_error(&error, hint));
    }
    usage_error(ui, error, hint)
}

/// A panic is a bug: say so in elirepo's error format (exit status 101). With
/// `RUST_BACKTRACE` set, Rust's own report follows.
pub fn report_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            io::stderr(),
            "elirepo: error: internal error{at}: {}",
            what.replace('\n', " ")
        );
        let _ = writeln!(
            io::stderr(),
            "elirepo: hint: this is a bug in elirepo: please report it with the command line (RUST_BACKTRACE=1 shows where)"
        );
        if std::env::var_os("RUST_BACKTRACE").is_some() {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reports_open_with_their_schema_version() {
        #[derive(serde::Serialize)]
        struct R {
            ok: bool,
        }
        assert_eq!(
            json_text(&R { ok: true }),
            "{\n  \"schema_version\": 1,\n  \"ok\": true\n}\n"
        );
    }

    #[test]
    fn a_failure_in_json_has_ok_false_and_the_error() {
        let v: serde_json::Value = serde_json::from_str(&json_error(
            "a.deb: bad\nelirepo: error: b.deb: bad",
            Some("fix them"),
        ))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "schema_version": 1,
                "ok": false,
                "error": {"message": "a.deb: bad\nb.deb: bad", "hint": "fix them"}
            })
        );
        let v: serde_json::Value = serde_json::from_str(&json_error("x", None)).unwrap();
        assert!(v["error"]["hint"].is_null());
    }
}
