//! The concept's errors: one variant per requires clause, each with a stable kind.

use crate::model::{AccountId, DraftId, EventId, SyncResult, SyncStatus, ValidationError};
use crate::providers::ProviderError;
use crate::store::StoreError;
use crate::vault::VaultError;
use std::collections::BTreeMap;

/// Why an action did not happen. Every variant has a stable machine-readable
/// [`kind`](Error::kind) and a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a rule (status 400): names the field and the rule.
    #[error("invalid {}: {}", .0.field, .0.rule)]
    Invalid(#[from] ValidationError),
    /// The provider is not one calsync supports or has configured (400).
    #[error("provider {provider:?} is not supported here; supported: {supported}")]
    UnsupportedProvider {
        /// The provider asked for.
        provider: String,
        /// The providers configured here, comma-separated.
        supported: String,
    },
    /// The provider refused the credentials given to connect (422).
    #[error("the {provider} credentials are not valid: {reason}")]
    InvalidCredentials {
        /// The provider.
        provider: String,
        /// The provider's reason.
        reason: String,
    },
    /// The provider could not be reached to validate (502).
    #[error("could not reach {provider}: {reason}")]
    ProviderUnreachable {
        /// The provider.
        provider: String,
        /// Why.
        reason: String,
    },
    /// No such account for this user (404): another user's account is answered the same.
    #[error("account {0} does not exist")]
    AccountNotFound(AccountId),
    /// No such synced event for this user (404).
    #[error("synced event {0} does not exist")]
    EventNotFound(EventId),
    /// The account is not connected (409): commit and refreshSync need a connected account.
    #[error("account {account} is {}, not connected{}", .status.as_str(), .reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    AccountNotConnected {
        /// The account.
        account: AccountId,
        /// Its status.
        status: SyncStatus,
        /// Why, when in error.
        reason: Option<String>,
    },
    /// suggestReschedules was asked for a draft whose conflicts were not detected (409).
    #[error("conflicts were not detected for draft {0} at this time; call detectConflicts first")]
    ConflictsNotDetected(DraftId),
    /// Every account failed (502); per account, why.
    #[error("no provider accepted the change: {}", summarize(.0))]
    AllProvidersFailed(BTreeMap<AccountId, SyncResult>),
    /// A provider call failed outside the sync path (502).
    #[error("provider error: {0}")]
    Provider(#[from] ProviderError),
    /// The store failed (503 when unavailable, 500 otherwise).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The credentials vault failed (500).
    #[error("credentials could not be unsealed: {0}")]
    Vault(#[from] VaultError),
    /// Answering would cost more work than one request may (422): names the
    /// field whose value asks for it.
    #[error("{field}: {message}")]
    TooMuchWork {
        /// The field to change (`draft`, `constraints.maxDays`...).
        field: String,
        /// What needs the work, in words.
        message: String,
    },
    /// The work was stopped because nobody waits for its answer (503).
    #[error("the work was stopped: nobody waits for its answer any more")]
    Stopped,
}

fn summarize(results: &BTreeMap<AccountId, SyncResult>) -> String {
    results
        .iter()
        .map(|(account, result)| {
            format!(
                "{account}: {}",
                result.reason.as_deref().unwrap_or("failed")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// A stable machine-readable kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_input",
            Error::UnsupportedProvider { .. } => "unsupported_provider",
            Error::InvalidCredentials { .. } => "invalid_credentials",
            Error::ProviderUnreachable { .. } => "provider_unreachable",
            Error::AccountNotFound(_) => "account_not_found",
            Error::EventNotFound(_) => "event_not_found",
            Error::AccountNotConnected { .. } => "account_not_connected",
            Error::ConflictsNotDetected(_) => "conflicts_not_detected",
            Error::AllProvidersFailed(_) => "all_providers_failed",
            Error::Provider(_) => "provider_error",
            Error::Store(StoreError::Unavailable(_)) => "store_unavailable",
            Error::Store(StoreError::AlreadyExists(_)) => "already_exists",
            Error::Store(_) => "store_error",
            Error::Vault(_) => "vault_error",
            Error::TooMuchWork { .. } => "too_much_work",
            Error::Stopped => "timeout",
        }
    }

    /// An `Invalid` error for `field` breaking `rule`.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::Invalid(ValidationError::new(field, rule))
    }
}

/// An action's result.
pub type Result<T> = std::result::Result<T, Error>;
