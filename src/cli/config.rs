//! `elirepo config`: the configuration file. `elirepo config example` prints
//! the commented example with every key (`fixtures/elirepo.example.toml`,
//! built into the binary), so that it is there after a checkout build or
//! `cargo install` too, not only where the Debian package installs it.

use std::process::ExitCode;

use super::exit::out;

/// The example, as shipped.
pub const EXAMPLE: &str = include_str!("../../fixtures/elirepo.example.toml");

/// How the hints name the example.
pub const EXAMPLE_COMMAND: &str = "elirepo config example";

/// Examples, after the options in `--help` and the man page.
pub const AFTER_HELP: &str = "Examples:
  elirepo config example > /etc/elirepo/elirepo.toml
  elirepo config example | less";

// No doc comment: clap would read it as help text.
#[derive(clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(clap::Subcommand)]
enum ConfigCommand {
    /// Print the commented example configuration, every key with its default and flag
    Example,
}

/// Runs `elirepo config`.
pub fn run(a: ConfigArgs) -> ExitCode {
    match a.command {
        ConfigCommand::Example => {
            let _ = out(EXAMPLE);
            ExitCode::SUCCESS
        }
    }
}
