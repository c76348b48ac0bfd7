//! `calsync`: the command line. Thin: each command lives in `calsync::cli`
//! (and `calsync serve` in `calsync::http::config`).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A calendar-sync engine for scheduling apps.
#[derive(Parser)]
#[command(name = "calsync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Play the operational principle on the embedded store and the sandbox providers.
    Demo(calsync::cli::demo::DemoArgs),
    /// Serve the CalendarSync actions over HTTP.
    #[cfg(feature = "server")]
    Serve(calsync::http::config::ServeArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => match calsync::cli::demo::run(&args).await {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("calsync: {error}");
                ExitCode::FAILURE
            }
        },
        #[cfg(feature = "server")]
        Command::Serve(args) => {
            calsync::http::config::init_logging(args.log_format);
            match calsync::http::config::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("calsync serve: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
