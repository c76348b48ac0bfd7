//! `calsync`: the command line. Thin: each command lives in `calsync::cli`.

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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => calsync::cli::demo::run(&args).await,
    };
    match outcome {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("calsync: {error}");
            ExitCode::FAILURE
        }
    }
}
