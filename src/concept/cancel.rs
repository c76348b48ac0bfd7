//! cancel: one delete per account, and the synced event removed once every
//! copy is gone.

use super::CalendarSync;
use super::recorded::{Recorded, operation_ids};
use crate::error::Result;
use crate::model::{EventId, SyncOutcome, UserId};
use crate::operations::OperationKind;

impl CalendarSync {
    /// Removes a synced event from every provider.
    ///
    /// # Requires
    /// - `eventId` is synced and belongs to `user`.
    ///
    /// # Effects
    /// Deletes the event from each account's provider using the stored ids
    /// (an event already gone counts as deleted); disconnected accounts are
    /// skipped and said so, and on an account in error the deletion is
    /// answered pending and runs once the account is connected again.
    /// Transient failures are retried with backoff, round after round, never
    /// given up. A cancel is the event's last version: updates still waiting
    /// on an account (between retries, or for the account to come back) are
    /// superseded and not written, so the deletion runs as soon as a call in
    /// flight ends. On an account
    /// whose create is still pending the deletion is answered pending and
    /// waits for the create, then deletes what it made (nothing, when it
    /// failed); the synced event does not come back meanwhile. The synced
    /// event is removed from state once every deletion succeeded; otherwise
    /// it is kept with the accounts that still have it, and the answer says
    /// which succeeded.
    ///
    /// # Errors
    /// - [`crate::Error::EventNotFound`]: not synced, or another user's.
    pub async fn cancel(&self, user: &UserId, event_id: &EventId) -> Result<SyncOutcome> {
        user.check()?;
        Ok(self.cancel_recorded(user, event_id).await?.outcome)
    }

    /// [`CalendarSync::cancel`], also answering the operations the call recorded.
    pub(crate) async fn cancel_recorded(
        &self,
        user: &UserId,
        event_id: &EventId,
    ) -> Result<Recorded> {
        let synced = self.engine.owned_event(user, event_id).await?;
        let (operations, skipped) = self
            .plan(&synced, OperationKind::Delete, &synced.event, &[])
            .await?;
        self.engine.store().insert_operations(&operations).await?;
        // Updates waiting here between attempts are superseded by it.
        self.engine.nudge();
        let recorded = operation_ids(&operations);
        let outcome = self.run_and_answer(operations, skipped, synced).await?;
        Ok(Recorded::new(outcome, recorded))
    }
}
