//! The `calsync` command: a thin dispatcher over the library's command modules.

use calsync::cli::engine;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// calsync: one event on every calendar account, conflicts found before booking.
#[derive(Parser)]
#[command(name = "calsync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Conflicts of a draft with the events of .ics calendar files.
    Conflicts(engine::ConflictsArgs),
    /// Ranked alternative times for a draft, given .ics calendar files.
    Suggest(engine::SuggestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    let result = match &cli.command {
        Command::Conflicts(args) => engine::run_conflicts(args, &mut out, &mut err),
        Command::Suggest(args) => engine::run_suggest(args, &mut out, &mut err),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("calsync: {error}");
            ExitCode::FAILURE
        }
    }
}
