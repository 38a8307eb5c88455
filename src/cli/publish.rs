//! `elirepo publish`: its arguments, the `[publish]` table of a config file,
//! the call to [`elirepo::remote::publish`] and the report (`--json` or text).

use std::path::PathBuf;
use std::process::ExitCode;

use elirepo::remote::{
    self, Destination, PublishConfig, PublishError, PublishOptions, PublishReport,
};

use super::exit::{json_text, out, usage_error};
use super::ui::{count, human_bytes, Ui};

/// `elirepo publish --help`'s description.
pub const LONG_ABOUT: &str = "Copy a built repository to where clients fetch it: an S3 bucket \
(or any S3-compatible store), a host over ssh (rsync), or another file system. A client never \
sees it half-published: pool files, by-hash objects and versioned netboot files go first, then \
indexes, then Release.gpg, Release and InRelease, then the netboot current/ files; over ssh and \
on a path a suite's whole generation directory is sent and switched with one rename. Files no \
kept publish (the last 3) names are deleted last. Only what changed is sent. One publish at a \
time per destination (a lock there). .elirepo/ is never sent; the destination keeps its own \
state in .elirepo-publish/.";

/// Examples and exit status.
pub const AFTER_HELP: &str = "Examples:
  elirepo publish public/ s3://my-bucket/debian --endpoint https://s3.example.com
  elirepo publish public/ deploy@web:/srv/www/debian
  elirepo publish public/ ssh://deploy@web:2222/srv/www/debian --dry-run
  elirepo publish public/ /mnt/nfs/debian --json

S3 settings: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE
(~/.aws/credentials, ~/.aws/config), AWS_REGION, AWS_ENDPOINT_URL.

Exit status: 0 published (or nothing to do), 2 usage error, destination unreachable or
refused, locked (--no-wait): the destination serves what it served before, or the
new repository if the failure came after the switch.";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct PublishArgs {
    /// The built repository (the directory `elirepo build` wrote)
    repo: PathBuf,
    /// s3://BUCKET[/PREFIX], [USER@]HOST:PATH, ssh://[USER@]HOST[:PORT]/PATH or a path
    dest: String,
    /// Publish only this suite's dists/ (repeatable; default: all)
    #[arg(long = "suite", value_name = "SUITE")]
    suites: Vec<String>,
    /// List what would be sent and deleted; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Parallel transfers (S3)
    #[arg(long, short = 'j', default_value_t = 4, value_name = "N")]
    jobs: usize,
    /// Fail at once if another publish holds the destination's lock
    #[arg(long)]
    no_wait: bool,
    /// S3 endpoint URL (default: AWS_ENDPOINT_URL, else AWS)
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// S3 region (default: AWS_REGION, the profile's, us-east-1)
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The ssh command for ssh destinations, e.g. "ssh -i key -F config"
    #[arg(long, value_name = "COMMAND")]
    rsh: Option<String>,
    /// A config file whose [publish] table sets Cache-Control and Content-Type
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,
}

struct UiListener<'a>(&'a Ui);
impl remote::Listener for UiListener<'_> {
    fn step(&mut self, m: &str) {
        self.0.step(m);
    }
    fn warn(&mut self, m: &str) {
        self.0.warning(m);
    }
}

/// Reads the `[publish]` table of `path` (other tables are `build`'s).
fn read_config(path: &PathBuf) -> Result<PublishConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match v.get("publish") {
        None => Ok(PublishConfig::default()),
        Some(t) => t
            .clone()
            .try_into()
            .map_err(|e| format!("{}: [publish]: {e}", path.display())),
    }
}

/// Runs `elirepo publish`.
pub fn run(a: PublishArgs, ui: &mut Ui) -> ExitCode {
    let dest = match Destination::parse(&a.dest) {
        Ok(d) => d,
        Err(e) => return usage_error(ui, e, None),
    };
    let config = match &a.config {
        Some(p) => match read_config(p) {
            Ok(c) => c,
            Err(e) => return usage_error(ui, e, None),
        },
        None => PublishConfig::default(),
    };
    let opts = PublishOptions {
        repo: a.repo,
        dest,
        suites: a.suites,
        dry_run: a.dry_run,
        jobs: a.jobs.max(1),
        no_wait: a.no_wait,
        endpoint: a.endpoint,
        region: a.region,
        rsh: a.rsh,
        config,
    };
    let report = match remote::publish(&opts, &mut UiListener(ui)) {
        Ok(r) => r,
        Err(e) => {
            let hint = match &e {
                PublishError::Destination(_) | PublishError::Locked(_) => Some("nothing was changed at the destination"),
                PublishError::Interrupted(_) => Some(
                    "the destination still serves a consistent repository (the previous one, or the new one \
                     if the failure came after its switch); rerun to complete the publish",
                ),
                _ => None,
            };
            return usage_error(ui, e, hint);
        }
    };
    if a.json {
        let _ = out(&json_text(&report));
    } else {
        print_text(&report, ui);
    }
    ExitCode::SUCCESS
}

fn print_text(r: &PublishReport, ui: &Ui) {
    let mut text = String::new();
    if r.dry_run {
        for f in &r.sent.files {
            text.push_str(&format!("send {f}\n"));
        }
        for g in &r.generations {
            text.push_str(&format!(
                "{} dists/.generations/{}/{}\n",
                if g.send { "send" } else { "switch" },
                g.suite,
                g.id
            ));
        }
        for f in &r.deleted.files {
            text.push_str(&format!("delete {f}\n"));
        }
        for d in &r.deleted_generations {
            text.push_str(&format!("delete {d}/\n"));
        }
        let _ = out(&text);
    }
    ui.step(&format!(
        "{}{}: {} sent ({}), {} switched, {} deleted, {} unchanged{}",
        if r.dry_run { "dry run: " } else { "" },
        r.destination,
        count(r.sent.count, "file"),
        human_bytes(r.sent.bytes),
        count(r.generations.len(), "generation"),
        count(r.deleted.count, "file"),
        r.unchanged,
        r.requests
            .map(|n| format!(", {n} requests"))
            .unwrap_or_default()
    ));
}
