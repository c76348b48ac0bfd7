//! `calsync account`: connect a provider account for a user from the command
//! line (so that `calsync import` can be used end to end), and list a
//! user's accounts. Passwords are read from an environment variable, never
//! from the command line (which other users of the machine can see), and
//! never printed.

use crate::CalendarSync;
use crate::model::UserId;
use crate::providers::Credentials;
use crate::setup::{Setup, SetupError, default_data_dir};
use std::path::PathBuf;

/// `calsync account` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Connect an account; prints its id.
    Connect(ConnectArgs),
    /// List a user's accounts, one per line: id, provider, status, label.
    List(ListArgs),
}

/// `calsync account connect` options.
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectArgs {
    /// The user the account belongs to.
    #[arg(long)]
    pub user: String,
    /// google, outlook, apple or zoom.
    #[arg(long)]
    pub provider: String,
    /// The login (for apple: the Apple Account email, or the CalDAV user).
    #[arg(long)]
    pub username: Option<String>,
    /// The environment variable holding the password (for iCloud: an
    /// app-specific password).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// The environment variable holding an OAuth refresh token (for google:
    /// one granted to the deployment's client, `CALSYNC_GOOGLE_CLIENT_ID`;
    /// for outlook: `CALSYNC_MICROSOFT_CLIENT_ID`;
    /// for zoom: one granted to the user-level app, `CALSYNC_ZOOM_CLIENT_ID`).
    #[arg(long, value_name = "VAR")]
    pub refresh_token_env: Option<String>,
    /// The server (for apple; default `https://caldav.icloud.com`).
    #[arg(long)]
    pub url: Option<String>,
    /// The calendar to write to, by name (default: the first writable one).
    #[arg(long)]
    pub calendar: Option<String>,
    /// Where calsync keeps its state.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `calsync account list` options.
#[derive(Clone, Debug, clap::Args)]
pub struct ListArgs {
    /// Whose accounts.
    #[arg(long)]
    pub user: String,
    /// Where calsync keeps its state.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Why an account command failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A bad option.
    #[error("--{0}: {1}")]
    Option(&'static str, String),
    /// The state could not be opened.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The action failed.
    #[error("{0}")]
    Sync(#[from] crate::Error),
}

async fn state(data_dir: &Option<PathBuf>) -> Result<CalendarSync, SetupError> {
    let dir = data_dir.clone().unwrap_or_else(default_data_dir);
    Ok(Setup::in_data_dir(&dir).open().await?.sync)
}

/// Runs an account command; answers what to print.
///
/// # Errors
/// A bad option, a state that cannot be opened, or a refused action.
pub async fn run(command: &AccountCommand) -> Result<String, AccountError> {
    match command {
        AccountCommand::Connect(args) => connect(args).await,
        AccountCommand::List(args) => {
            let sync = state(&args.data_dir).await?;
            let accounts = sync
                .get_account_status(&UserId::from(args.user.trim()))
                .await?;
            Ok(accounts
                .iter()
                .map(|account| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        account.id,
                        account.provider.as_str(),
                        account.sync_status.as_str(),
                        account.label.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}

async fn connect(args: &ConnectArgs) -> Result<String, AccountError> {
    let mut credentials = Credentials::default();
    if let Some(username) = &args.username {
        credentials.set_str("username", username.as_str());
    }
    if let Some(variable) = &args.password_env {
        let password = std::env::var(variable).map_err(|_| {
            AccountError::Option(
                "password-env",
                format!("the variable {variable} is not set"),
            )
        })?;
        credentials.set_str("password", password.as_str());
    }
    if let Some(variable) = &args.refresh_token_env {
        let token = std::env::var(variable).map_err(|_| {
            AccountError::Option(
                "refresh-token-env",
                format!("the variable {variable} is not set"),
            )
        })?;
        credentials.set_str("refresh_token", token.trim());
    }
    for (name, value) in [("url", &args.url), ("calendar", &args.calendar)] {
        if let Some(value) = value {
            credentials.set_str(name, value.as_str());
        }
    }
    let sync = state(&args.data_dir).await?;
    let account = sync
        .connect_account(
            &UserId::from(args.user.trim()),
            &args.provider,
            &credentials,
        )
        .await?;
    Ok(account.id.to_string())
}
