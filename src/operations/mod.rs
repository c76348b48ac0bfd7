//! Durable intent: one [`Operation`] per account per commit, update or cancel,
//! written to the store before any provider is called, so that a crash loses
//! nothing and duplicates nothing.

mod retry;

pub use retry::RetryPolicy;

use crate::model::{
    AccountId, EventDetails, EventId, OperationId, Provider, ProviderEventRef, UserId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an operation does on its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    /// Create the event (with the operation's idempotency key).
    Create,
    /// Write the event's new details over the provider's copy.
    Update,
    /// Remove the event from the provider.
    Delete,
    /// Look for a copy that a create with the operation's idempotency key
    /// made, and delete it unless calsync holds it: recorded, due a while
    /// later (longer than any request can be held), when a cancel or a
    /// failure followed a create whose answer was lost, since a late
    /// delivery of that create may make a copy after it.
    Sweep,
}

/// Where an operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationStatus {
    /// Not yet done: due at `next_attempt_at`.
    Pending,
    /// Done.
    Succeeded,
    /// Given up: refused by the provider, or the account is disconnected.
    Failed,
    /// Not needed any more: an update overtaken by a cancel recorded after
    /// it on the same account, which makes the event's last version "gone".
    Superseded,
}

/// One provider call calsync has promised to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The operation's id.
    pub id: OperationId,
    /// The user it acts for.
    pub user: UserId,
    /// The synced event it belongs to.
    pub event: EventId,
    /// The account it acts on.
    pub account: AccountId,
    /// The account's provider.
    pub provider: Provider,
    /// Create, update or delete.
    pub kind: OperationKind,
    /// Sent to the provider so that a repeated create makes no duplicate.
    pub idempotency_key: String,
    /// The event's details to write (for a delete: the last known details).
    pub details: EventDetails,
    /// For a create or update, the version of the synced event's details it
    /// writes (an update takes the latest version when its turn comes).
    #[serde(default)]
    pub version: u64,
    /// For an update, the fields the change touched.
    #[serde(default)]
    pub changed_fields: Vec<String>,
    /// For an update or delete, the provider's event.
    #[serde(default)]
    pub target: Option<ProviderEventRef>,
    /// For a create: an attempt's answer was lost (a timeout, a 5xx), so the
    /// event may be on the provider although no answer said so.
    #[serde(default)]
    pub uncertain: bool,
    /// Taken up from the store by a resume (never stored): an earlier
    /// process may have been in the middle of it when it stopped.
    #[serde(skip)]
    pub taken_up: bool,
    /// For a create: whether this copy sends the invitations to the
    /// attendees (one copy of a synced event does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invites: bool,
    /// Pending, succeeded or failed.
    pub status: OperationStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// The last error, when an attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The instance that holds the operation, while one does.
    #[serde(default)]
    pub lease_owner: Option<String>,
    /// Until when the lease holds; after that another instance may take it.
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
    /// The provider's event once the operation succeeded.
    #[serde(default)]
    pub result: Option<ProviderEventRef>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}
