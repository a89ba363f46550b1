//! The `metapseudo` command line: train, evaluate and inspect semi-supervised runs. This file
//! only dispatches; each subcommand lives in `cli/`.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    cli::process::quiet_on_closed_pipe();
    cli::process::keep_freed_memory();
    let cli = Cli::parse();
    if let Err(e) = cli.set_threads() {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Train(args) => cli::train::run(*args),
        Command::Finetune(args) => cli::finetune::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Tune(args) => cli::tune::run(*args),
        Command::Compare(args) => cli::compare::run(args),
        Command::Predict(args) => cli::predict::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Data(cmd) => cli::data::run(cmd),
        Command::Bench(cmd) => cli::bench::run(cmd),
        Command::Devices(args) => cli::devices::run(args),
        Command::Models => cli::models::run(),
        Command::Presets => cli::lists::presets(),
        Command::Methods => cli::lists::methods(),
        Command::Options(args) => cli::lists::options(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<cli::Interrupted>() => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
