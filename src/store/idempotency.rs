//! The records of `{prefix}idempotencyKeys`: one per `Idempotency-Key` a
//! client sent with a commit, update or cancel, so that a retry of the same
//! request answers what the first call did instead of doing it again.
//!
//! The store keeps them and decides atomically who holds a key
//! ([`Store::claim_idempotency_key`](super::Store::claim_idempotency_key));
//! what a key means (its scope, the request it stands for, how a retry is
//! answered) belongs to the HTTP service.

use crate::model::{EventId, OperationId, SyncOutcome, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where the call a key stands for is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdempotencyState {
    /// The first call is still running (or stopped without finishing: see
    /// [`IdempotencyRecord::running_until`]).
    Running,
    /// The first call answered; its answer is recorded.
    Done,
}

impl IdempotencyState {
    /// The state as stored: `running` or `done`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdempotencyState::Running => "running",
            IdempotencyState::Done => "done",
        }
    }
}

/// One idempotency key and the call it stands for. `(scope, key)` is unique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    /// Whose key it is: a digest of the caller's identity and the user, so
    /// that two callers (or two users) never share a key.
    pub scope: String,
    /// The user the key's calls act for, so that erasing a user erases
    /// their keys too.
    #[serde(default)]
    pub user: UserId,
    /// The key as the client sent it.
    pub key: String,
    /// The request the key was first used for: the action, and the synced
    /// event it acts on when it names one (`update 0199…`).
    pub request: String,
    /// A digest of the first request's body.
    pub body_hash: String,
    /// Running or done.
    pub state: IdempotencyState,
    /// The synced event the call answered, once done.
    #[serde(default)]
    pub event: Option<EventId>,
    /// The operations the call recorded, once done: a retry answers each
    /// account's result from their status as it stands then.
    #[serde(default)]
    pub operations: Vec<OperationId>,
    /// The first call's answer, once done.
    #[serde(default)]
    pub answer: Option<SyncOutcome>,
    /// While running: when the first call must have answered by. A running
    /// record past this instant belongs to a call that stopped without
    /// finishing (its process ended), and a retry of the same request takes
    /// it over.
    pub running_until: DateTime<Utc>,
    /// When the key was first used.
    pub created_at: DateTime<Utc>,
    /// When the key is forgotten: from then on it acts as a key never used.
    pub expires_at: DateTime<Utc>,
}

impl IdempotencyRecord {
    /// Whether the key is forgotten at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// Whether `self` and `other` stand for the same request with the same body.
    pub fn same_request(&self, other: &IdempotencyRecord) -> bool {
        self.request == other.request && self.body_hash == other.body_hash
    }

    /// Whether a claim of `claim` at `now` replaces `self`, the record that
    /// holds the key: when `self` expired, or when it is running past its
    /// `running_until` and `claim` is the same request (a first call that
    /// stopped without finishing, taken over by its retry).
    pub fn yields_to(&self, claim: &IdempotencyRecord, now: DateTime<Utc>) -> bool {
        self.expired(now)
            || (self.state == IdempotencyState::Running
                && self.running_until <= now
                && self.same_request(claim))
    }
}
