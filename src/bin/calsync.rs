//! The `calsync` command line: a thin dispatcher over the library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// calsync: commit events to Google, Outlook, Apple and Zoom calendars at once.
#[derive(Debug, Parser)]
#[command(name = "calsync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the CalendarSync actions over HTTP.
    #[cfg(feature = "server")]
    Serve(calsync::http::config::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("calsync: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        #[cfg(feature = "server")]
        Command::Serve(args) => {
            calsync::http::config::init_logging(args.log_format);
            match runtime.block_on(calsync::http::config::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("calsync serve: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
