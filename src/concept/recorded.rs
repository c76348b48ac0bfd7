//! What commit, update and cancel recorded, and their answer as it stands
//! later: what the HTTP service needs to answer a retry under the same
//! `Idempotency-Key` without doing the work twice.

use super::CalendarSync;
use crate::clock::Clock;
use crate::engine::results;
use crate::error::Result;
use crate::model::{OperationId, SyncOutcome, UserId};
use crate::operations::Operation;
use chrono::{DateTime, Utc};

/// The answer of a commit, update or cancel, with the operations it recorded.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    /// The answer.
    pub(crate) outcome: SyncOutcome,
    /// The operations the call recorded, one per account it acted on.
    pub(crate) operations: Vec<OperationId>,
}

impl Recorded {
    pub(super) fn new(outcome: SyncOutcome, operations: Vec<OperationId>) -> Self {
        Recorded {
            outcome,
            operations,
        }
    }
}

/// The ids of `operations`, in order.
pub(super) fn operation_ids(operations: &[Operation]) -> Vec<OperationId> {
    operations.iter().map(|op| op.id.clone()).collect()
}

impl CalendarSync {
    /// An earlier answer of a commit, update or cancel for `user`, as it
    /// stands now: the synced event as stored now (or as it was answered,
    /// when it is gone or not stored yet), and each account's result from
    /// the current status of the `operations` that call recorded (accounts
    /// it recorded none for keep their earlier result, e.g. skipped).
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the store cannot be read.
    pub(crate) async fn outcome_now(
        &self,
        user: &UserId,
        earlier: &SyncOutcome,
        operations: &[OperationId],
    ) -> Result<SyncOutcome> {
        let store = self.engine.store();
        let mut current = Vec::with_capacity(operations.len());
        for id in operations {
            if let Some(operation) = store.get_operation(id).await? {
                current.push(operation);
            }
        }
        let mut answered = earlier.results.clone();
        answered.extend(results(&current));
        let stored = store
            .get_synced_event(&earlier.synced_event.internal_id)
            .await?
            .filter(|event| &event.user == user);
        Ok(SyncOutcome {
            stored: stored.is_some(),
            synced_event: stored.unwrap_or_else(|| earlier.synced_event.clone()),
            results: answered,
        })
    }

    /// The concept's clock.
    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// When commit, update and cancel called now stop waiting for providers,
    /// by the concept's clock.
    pub(crate) fn answer_deadline(&self) -> DateTime<Utc> {
        self.engine.answer_deadline()
    }
}
