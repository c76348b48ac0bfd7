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
        Ok(text) => print(&text),
        Err(error) => {
            eprintln!("calsync: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the answer; a reader that went away (`calsync demo | head`) is not an error.
fn print(text: &str) -> ExitCode {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("calsync: cannot write the answer: {error}");
            ExitCode::FAILURE
        }
    }
}
