//! The spec's `Account`: a user's connection to one provider account.

use crate::model::{AccountId, Provider, SyncStatus, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why an account is in `error`, and since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountError {
    /// The provider's reason, or calsync's (e.g. "needs re-authorization").
    pub reason: String,
    /// When the error was recorded.
    pub at: DateTime<Utc>,
    /// Whether it is an outage: the provider failed transiently for longer
    /// than the engine's `outage_after`. calsync probes such an account and
    /// brings it back itself once the provider answers; any other error
    /// needs a person (refreshSync, or a new connect).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outage: bool,
}

/// A connected calendar account as answers show it: never with credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The account's id, used in every later action.
    pub id: AccountId,
    /// The user it belongs to (exactly one).
    pub user: UserId,
    /// Its provider.
    pub provider: Provider,
    /// Whether it takes part in sync.
    pub sync_status: SyncStatus,
    /// When calsync last talked to the provider successfully for it.
    pub last_sync: Option<DateTime<Utc>>,
    /// Why it is in `error`, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AccountError>,
    /// The provider calendar events are written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    /// A name for people (the provider account's email or login), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// When it was connected.
    pub connected_at: DateTime<Utc>,
}

/// An account as the store keeps it: the account plus its sealed credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The account.
    pub account: Account,
    /// The credentials, sealed by the vault; `None` once disconnected.
    pub sealed_credentials: Option<Vec<u8>>,
}

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("account", &self.account)
            .field(
                "sealed_credentials",
                &self
                    .sealed_credentials
                    .as_ref()
                    .map(|bytes| format!("<{} sealed bytes>", bytes.len())),
            )
            .finish()
    }
}
