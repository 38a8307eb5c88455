//! The `elirepo` command: parse the command line, run one command, exit.
//!
//! The command line, each command's front end and the output rules are in
//! [`cli`]; the work is the `elirepo` library's. Exit statuses are in
//! [`cli::exit`].

mod cli;

use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    cli::exit::report_panics();
    // Test hook, on purpose in no help, man page or completion: the tests prove
    // with it that they tell a crash from a clean failure (tests/cli.rs).
    if std::env::var_os("ELIREPO_TEST_PANIC").is_some_and(|v| v == "1") {
        panic!("ELIREPO_TEST_PANIC=1: a deliberate panic");
    }
    let cli = match cli::parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut ui = cli::ui::Ui::new(cli.level());
    cli::ui::handle_interrupts(&ui);
    let code = match cli.command {
        Command::Build(a) => cli::build::run(a, &mut ui),
        Command::Verify(a) => cli::verify::run(a, &mut ui),
        Command::Publish(a) => cli::publish::run(a, &mut ui),
        Command::XeCommands(a) => cli::xe::run(a, &mut ui),
        Command::Kernel(a) => cli::kernel::run(a, &mut ui),
        Command::BootTest(a) => cli::boot_test::run(a, &mut ui),
        Command::Packages(a) => cli::packages::run(a, &mut ui),
        Command::Man(a) => cli::man::run(a, &mut ui),
        Command::Completions(a) => cli::man::run_completions(a),
        Command::Config(a) => cli::config::run(a),
    };
    ui.finish();
    code
}
