//! The spec's `SyncedEvent`: one event of the app, and where it lives on each account.

use crate::model::{AccountId, EventDetails, EventId, Provider, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a synced event lives on one account, and what a later safe change needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderEventRef {
    /// The account's provider.
    pub provider: Provider,
    /// The provider's own id for the event (Google id, Graph id, CalDAV href, Zoom meeting id).
    pub event_id: String,
    /// The provider's version tag, for `If-Match` on the next change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The calendar the event is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    /// A join link the provider made (Zoom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    /// The version of the synced event's details this copy holds (see
    /// [`SyncedEvent::version`]).
    #[serde(default = "first_version")]
    pub version: u64,
    /// While calsync still has work to do on this copy (it is behind the
    /// synced event's version, or being removed): why, and when it tries
    /// next. Never stored: filled in when the synced event is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingWork>,
}

/// Work calsync has still to do on one account's copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingWork {
    /// Why it is not done yet (the last failure, or what it waits for).
    pub reason: String,
    /// When calsync tries next.
    pub next_attempt_at: DateTime<Utc>,
}

/// The version a synced event starts at.
pub const FIRST_VERSION: u64 = 1;

fn first_version() -> u64 {
    FIRST_VERSION
}

/// An event calsync has written to one or more accounts.
///
/// Invariants: `providerIds` is never empty, and its keys equal `accounts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncedEvent {
    /// calsync's id for the event (the spec's `internalId`).
    pub internal_id: EventId,
    /// The user it belongs to.
    pub user: UserId,
    /// The accounts that have the event.
    pub accounts: BTreeSet<AccountId>,
    /// Per account, the provider's id for the event.
    pub provider_ids: BTreeMap<AccountId, ProviderEventRef>,
    /// When calsync last wrote it to a provider.
    pub synced_at: DateTime<Utc>,
    /// The event's details: the desired state every account is brought to.
    pub event: EventDetails,
    /// The version of `event`: [`FIRST_VERSION`] at commit, one more for
    /// every accepted update. Each `providerIds` entry says which version its
    /// copy holds.
    #[serde(default = "first_version")]
    pub version: u64,
}

impl SyncedEvent {
    /// Whether the spec's invariants hold: at least one provider id, and
    /// `providerIds` keys equal to `accounts`.
    pub fn invariants_hold(&self) -> bool {
        !self.provider_ids.is_empty()
            && self.provider_ids.keys().cloned().collect::<BTreeSet<_>>() == self.accounts
    }
}

/// What happened on one account in a commit, update or cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncResultStatus {
    /// The provider did it.
    Succeeded,
    /// The provider refused it, or retries are spent; see `reason`.
    Failed,
    /// Still going on in the background: being retried, or waiting for the
    /// account's earlier operation on the event (a create still pending).
    Pending,
    /// Not attempted (the account is disconnected or in error).
    Skipped,
}

/// The outcome on one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    /// Succeeded, failed, pending or skipped.
    pub status: SyncResultStatus,
    /// Why it failed, is pending, or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The provider's event id, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// The answer of commit, update and cancel: the synced event as it now stands
/// (for a cancel that removed it: as it stood) and the outcome per account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOutcome {
    /// The synced event.
    #[serde(flatten)]
    pub synced_event: SyncedEvent,
    /// Per account, what happened.
    pub results: BTreeMap<AccountId, SyncResult>,
    /// Whether the synced event is still in calsync (false after a complete cancel).
    pub stored: bool,
}
