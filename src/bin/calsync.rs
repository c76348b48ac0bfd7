//! `calsync`: the command line. Thin: each command lives in `calsync::cli`.

use calsync::cli::{account, demo, import, scheduling};
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
    Conflicts(scheduling::ConflictsArgs),
    /// Ranked alternative times for a draft, given .ics calendar files.
    Suggest(scheduling::SuggestArgs),
    /// Commit every event of an .ics file (or a folder of them) to accounts.
    Import(import::ImportArgs),
    /// Connect or list a user's provider accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Serve the CalendarSync actions over HTTP.
    #[cfg(feature = "server")]
    Serve(Box<calsync::cli::serve::ServeArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    match &cli.command {
        Command::Conflicts(args) => finish(scheduling::run_conflicts(args, &mut out, &mut err)),
        Command::Suggest(args) => finish(scheduling::run_suggest(args, &mut out, &mut err)),
        Command::Demo(args) => block_on(demo::run(args), &mut out),
        Command::Account(command) => block_on(account::run(command), &mut out),
        Command::Import(args) => match runtime() {
            Ok(runtime) => match runtime.block_on(import::run(args)) {
                // Some events failed: the report says which; the exit code says so too.
                Ok(report) if !report.failures.is_empty() => {
                    print(&mut out, &report.to_string());
                    ExitCode::FAILURE
                }
                Ok(report) => print(&mut out, &report.to_string()),
                Err(error) => finish::<import::ImportError>(Err(error)),
            },
            Err(error) => finish::<std::io::Error>(Err(error)),
        },
        #[cfg(feature = "server")]
        Command::Serve(args) => {
            calsync::cli::serve::init_logging(args.log_format);
            match runtime() {
                Ok(runtime) => {
                    finish(runtime.block_on(calsync::cli::serve::run(args.as_ref().clone())))
                }
                Err(error) => finish::<std::io::Error>(Err(error)),
            }
        }
    }
}

/// Runs an async command and prints its answer.
fn block_on<E: Display>(
    command: impl std::future::Future<Output = Result<String, E>>,
    out: &mut impl std::io::Write,
) -> ExitCode {
    match runtime() {
        Ok(runtime) => match runtime.block_on(command) {
            Ok(text) => print(out, &text),
            Err(error) => finish::<E>(Err(error)),
        },
        Err(error) => finish::<std::io::Error>(Err(error)),
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
