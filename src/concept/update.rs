//! update: the new details recorded with one operation per account, then
//! written to each provider.

use super::CalendarSync;
use super::recorded::{Recorded, operation_ids};
use crate::error::Result;
use crate::model::{EventId, SyncOutcome, UserId};
use crate::operations::OperationKind;
use serde_json::{Map, Value};

impl CalendarSync {
    /// Propagates changes of a synced event to every provider that has it.
    ///
    /// # Requires
    /// - `eventId` is synced and belongs to `user`;
    /// - `changes` is a non-empty object of valid field names (title,
    ///   description, location, start, end, timeZone, allDay, attendees,
    ///   recurrence, transparency, virtualMeeting) whose result is a valid event.
    ///
    /// # Effects
    /// Records the new details and one update operation per account (connected
    /// or in error) holding the event or still creating it, then writes the
    /// change to each
    /// provider using the stored provider ids (and etags). On an account with
    /// an earlier operation still pending (a create the commit answered as
    /// pending, an earlier update) the update is answered pending and runs
    /// once that has finished, on the provider event it left; when the create
    /// failed there is nothing to update, and the operation fails saying so.
    /// Disconnected accounts are skipped and said so; on an account in error
    /// the update is answered pending with the account's reason and runs
    /// once the account is connected again. Transient failures are retried
    /// with backoff, round after round: the update stays pending, never
    /// given up, and the account stays connected. `syncedAt` is updated.
    ///
    /// # Errors
    /// - [`crate::Error::EventNotFound`]: not synced, or another user's;
    /// - [`crate::Error::Invalid`]: an unknown field, a wrong type, or an invalid result.
    pub async fn update(
        &self,
        user: &UserId,
        event_id: &EventId,
        changes: &Map<String, Value>,
    ) -> Result<SyncOutcome> {
        user.check()?;
        Ok(self.update_recorded(user, event_id, changes).await?.outcome)
    }

    /// [`CalendarSync::update`], also answering the operations the call recorded.
    pub(crate) async fn update_recorded(
        &self,
        user: &UserId,
        event_id: &EventId,
        changes: &Map<String, Value>,
    ) -> Result<Recorded> {
        let synced = self.engine.owned_event(user, event_id).await?;
        let (mut details, mut changed) = synced.event.apply_changes(changes)?;
        // The meeting's link stays in the event whatever the app writes over
        // its location or description.
        if let Some(link) = synced
            .provider_ids
            .values()
            .find_map(|reference| reference.join_url.as_deref())
            && details.virtual_meeting
            && !crate::engine::holds_link(&details, link)
        {
            let linked = crate::engine::with_meeting_link(&details, link);
            for field in ["location", "description"] {
                let differs = match field {
                    "location" => linked.location != details.location,
                    _ => linked.description != details.description,
                };
                if differs && !changed.iter().any(|name| name == field) {
                    changed.push(field.to_owned());
                }
            }
            details = linked;
        }
        let (operations, skipped) = self
            .plan(&synced, OperationKind::Update, &details, &changed)
            .await?;
        // The details first, then the operations: each operation writes the
        // details stored when it runs, so the last one to run on an account
        // always finds the last details stored.
        let version = self
            .engine
            .store()
            .set_event_details(event_id, &details, self.engine.now())
            .await?
            .ok_or_else(|| crate::Error::EventNotFound(event_id.clone()))?;
        let mut operations = operations;
        for op in &mut operations {
            op.version = version;
        }
        self.engine.store().insert_operations(&operations).await?;
        let mut fallback = synced;
        fallback.event = details;
        fallback.version = version;
        let recorded = operation_ids(&operations);
        let outcome = self.run_and_answer(operations, skipped, fallback).await?;
        Ok(Recorded::new(outcome, recorded))
    }
}
