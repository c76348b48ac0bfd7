//! `calsync import`: every event of an .ics file (or a folder of them)
//! committed to the given accounts as synced events.
//!
//! Resumable without a journal of its own: each event is committed with
//! [`CalendarSync::commit_with_key`] under a key derived from its UID, so its
//! synced event id and each account's idempotency key are the same on every
//! run. A second run finds the synced event in the store and skips the
//! accounts it already has; a run that was killed between a provider's create
//! and the store's record commits again under the same idempotency key, which
//! the provider answers with the event it already made.

mod plan;

use crate::CalendarSync;
use crate::model::{AccountId, SyncResultStatus, UserId};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `calsync import` options.
#[derive(Clone, Debug, clap::Args)]
pub struct ImportArgs {
    /// The user whose accounts receive the events.
    #[arg(long)]
    pub user: String,
    /// An account to commit to (repeat for several).
    #[arg(long = "account", required = true, value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// An .ics file, or a folder of .ics files.
    #[arg(value_name = "FILE.ics|DIR")]
    pub path: PathBuf,
    /// Where calsync keeps its state (default: `CALSYNC_DATA_DIR`, else
    /// `~/.local/share/calsync`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// How many events are committed at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Why an import did not run.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A bad option or unreadable input.
    #[error("{0}")]
    Input(String),
    /// The state could not be opened.
    #[error(transparent)]
    Setup(#[from] crate::setup::SetupError),
    /// The store failed.
    #[error("{0}")]
    Sync(#[from] crate::Error),
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Events read from the files and meant for import.
    pub events: usize,
    /// (event, account) pairs created now.
    pub created: usize,
    /// (event, account) pairs that an earlier run already created.
    pub already: usize,
    /// Cancelled events, not imported.
    pub left_out: usize,
    /// Lines of the files that could not be read.
    pub problems: Vec<String>,
    /// What failed, and why (`file UID account: reason`).
    pub failures: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events: {} created, {} already imported, {} failed",
            self.events,
            self.created,
            self.already,
            self.failures.len()
        )?;
        if self.left_out > 0 {
            write!(f, "; {} cancelled events left out", self.left_out)?;
        }
        for problem in &self.problems {
            write!(f, "\nskipped {problem}")?;
        }
        for failure in &self.failures {
            write!(f, "\nfailed {failure}")?;
        }
        Ok(())
    }
}

/// How one (event, account) pair ended.
enum Outcome {
    Created,
    Already,
    Failed(String),
    /// Still retried in the background; settled before the report.
    Pending(crate::model::EventId, AccountId),
}

/// Runs the import with the deployment's providers.
///
/// # Errors
/// Bad options, unreadable files, or a state that cannot be opened.
pub async fn run(args: &ImportArgs) -> Result<ImportReport, ImportError> {
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(crate::setup::default_data_dir);
    let sync = crate::setup::Setup::in_data_dir(&dir).open().await?.sync;
    import(&sync, args).await
}

/// Imports into `sync`.
///
/// # Errors
/// Bad options (an account the user does not have), unreadable files, or a
/// store failure.
pub async fn import(sync: &CalendarSync, args: &ImportArgs) -> Result<ImportReport, ImportError> {
    let user = UserId::from(args.user.trim());
    if user.as_str().is_empty() {
        return Err(ImportError::Input("--user: must not be empty".into()));
    }
    let accounts: Vec<AccountId> = args
        .accounts
        .iter()
        .map(|account| AccountId::from(account.trim()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let owned = sync.get_account_status(&user).await?;
    for account in &accounts {
        if !owned.iter().any(|known| &known.id == account) {
            return Err(ImportError::Input(format!(
                "--account: {account} is not an account of user {user}"
            )));
        }
    }
    let plan = plan::files(&args.path)
        .and_then(|files| plan::read(&files))
        .map_err(ImportError::Input)?;
    // Operations an interrupted run left behind finish first.
    sync.resume_operations().await?;
    let bar = progress(plan.items.len());
    let outcomes: Vec<Vec<(String, Outcome)>> =
        futures::stream::iter(plan.items.iter().map(|item| {
            let bar = bar.clone();
            let (user, accounts) = (&user, &accounts);
            async move {
                let outcome = import_one(sync, user, accounts, item).await;
                bar.inc(1);
                outcome
            }
        }))
        .buffer_unordered(usize::from(args.concurrency))
        .collect()
        .await;
    bar.finish_and_clear();
    let mut report = ImportReport {
        events: plan.items.len(),
        left_out: plan.left_out,
        problems: plan.problems,
        ..ImportReport::default()
    };
    let outcomes: Vec<(String, Outcome)> = outcomes.into_iter().flatten().collect();
    if outcomes
        .iter()
        .any(|(_, outcome)| matches!(outcome, Outcome::Pending(..)))
    {
        // Let background retries end (their policy bounds them) before saying.
        sync.settle().await;
    }
    for (label, outcome) in outcomes {
        match settled(sync, outcome).await {
            Outcome::Created => report.created += 1,
            Outcome::Already => report.already += 1,
            Outcome::Failed(reason) => report.failures.push(format!("{label}: {reason}")),
            Outcome::Pending(..) => report.failures.push(format!(
                "{label}: still pending; run the import again to finish it"
            )),
        }
    }
    report.failures.sort();
    Ok(report)
}

/// A pending outcome as the store has it now.
async fn settled(sync: &CalendarSync, outcome: Outcome) -> Outcome {
    let Outcome::Pending(id, account) = outcome else {
        return outcome;
    };
    if let Ok(Some(event)) = sync.store().get_synced_event(&id).await
        && event.accounts.contains(&account)
    {
        return Outcome::Created;
    }
    let last_error = sync
        .store()
        .operations_of_event(&id)
        .await
        .ok()
        .and_then(|ops| {
            ops.into_iter()
                .filter(|op| op.account == account)
                .find_map(|op| op.last_error)
        });
    match last_error {
        Some(reason) => Outcome::Failed(reason),
        None => Outcome::Pending(id, account),
    }
}

/// A bar on a terminal; nothing when stdout is a file or a pipe.
fn progress(length: usize) -> ProgressBar {
    let target = if std::io::stdout().is_terminal() {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(length as u64), target);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} events {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// Commits one event to the accounts that do not have it yet.
async fn import_one(
    sync: &CalendarSync,
    user: &UserId,
    accounts: &[AccountId],
    item: &plan::Item,
) -> Vec<(String, Outcome)> {
    let label = |account: &AccountId| format!("{} {account}", item.label);
    let id = CalendarSync::keyed_event_id(user, &item.key);
    let have = match sync.store().get_synced_event(&id).await {
        Ok(found) => found.map(|event| event.accounts).unwrap_or_default(),
        Err(error) => {
            let reason = format!("the store could not be read: {error}");
            return accounts
                .iter()
                .map(|account| (label(account), Outcome::Failed(reason.clone())))
                .collect();
        }
    };
    let (done, missing): (Vec<AccountId>, Vec<AccountId>) =
        accounts.iter().cloned().partition(|a| have.contains(a));
    let mut outcomes: Vec<(String, Outcome)> = done
        .iter()
        .map(|account| (label(account), Outcome::Already))
        .collect();
    if missing.is_empty() {
        return outcomes;
    }
    match sync
        .commit_with_key(user, &item.details, &missing, &item.key)
        .await
    {
        Ok(answer) => outcomes.extend(answer.results.into_iter().map(|(account, result)| {
            let outcome = match result.status {
                SyncResultStatus::Succeeded => Outcome::Created,
                SyncResultStatus::Pending => Outcome::Pending(id.clone(), account.clone()),
                _ => Outcome::Failed(result.reason.unwrap_or_else(|| "failed".into())),
            };
            (label(&account), outcome)
        })),
        Err(crate::Error::AllProvidersFailed(results)) => {
            outcomes.extend(results.into_iter().map(|(account, result)| {
                let reason = result.reason.unwrap_or_else(|| "failed".into());
                (label(&account), Outcome::Failed(reason))
            }));
        }
        Err(error) => outcomes.extend(
            missing
                .iter()
                .map(|account| (label(account), Outcome::Failed(error.to_string()))),
        ),
    }
    outcomes
}
