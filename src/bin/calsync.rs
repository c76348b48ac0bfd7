//! `calsync`: the command line. Thin: each command lives in `calsync::cli`.

use calsync::cli::{demo, engine};
use clap::{Parser, Subcommand};
use std::fmt::Display;
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
    /// Play the operational principle on the embedded store and the sandbox providers.
    Demo(demo::DemoArgs),
    /// Conflicts of a draft with the events of .ics calendar files.
    Conflicts(engine::ConflictsArgs),
    /// Ranked alternative times for a draft, given .ics calendar files.
    Suggest(engine::SuggestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    match &cli.command {
        Command::Conflicts(args) => finish(engine::run_conflicts(args, &mut out, &mut err)),
        Command::Suggest(args) => finish(engine::run_suggest(args, &mut out, &mut err)),
        Command::Demo(args) => match runtime() {
            Ok(runtime) => match runtime.block_on(demo::run(args)) {
                Ok(text) => print(&mut out, &text),
                Err(error) => finish::<demo::DemoError>(Err(error)),
            },
            Err(error) => finish::<std::io::Error>(Err(error)),
        },
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn finish<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("calsync: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the answer; a reader that went away (`calsync demo | head`) is not an error.
fn print(out: &mut impl std::io::Write, text: &str) -> ExitCode {
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => finish::<std::io::Error>(Err(error)),
    }
}
