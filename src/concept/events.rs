//! getSyncedEvent, and seeding a sandbox account with existing events.

use super::CalendarSync;
use crate::error::{Error, Result};
use crate::model::{AccountId, EventId, SyncedEvent, UserId};
use crate::schedule::CalendarEvent;

impl CalendarSync {
    /// The synced event with its provider ids, or none if not synced.
    ///
    /// # Effects
    /// None: answers the user's synced event `eventId` with its provider ids
    /// and snapshot; none when it is not synced or is another user's.
    ///
    /// # Errors
    /// [`Error::Store`] when the store cannot be read.
    pub async fn get_synced_event(
        &self,
        user: &UserId,
        event_id: &EventId,
    ) -> Result<Option<SyncedEvent>> {
        Ok(self
            .inner
            .store
            .get_synced_event(event_id)
            .await?
            .filter(|event| &event.user == user))
    }

    /// Adds existing events to a sandbox account's calendar, as if another
    /// client had made them; answers how many were added.
    ///
    /// # Errors
    /// - [`Error::AccountNotFound`]: no such account, or another user's;
    /// - [`Error::Invalid`]: the account's provider is not a sandbox.
    pub async fn seed_sandbox(
        &self,
        user: &UserId,
        account: &AccountId,
        events: Vec<CalendarEvent>,
    ) -> Result<usize> {
        let record = self.inner.owned_account(user, account).await?;
        let adapter = self.inner.adapter(record.account.provider)?;
        let sandbox = adapter
            .as_sandbox()
            .ok_or_else(|| Error::invalid("account", "seeding works only on sandbox providers"))?;
        let calendar = record.account.calendar_id.clone().unwrap_or_default();
        Ok(sandbox.seed(&calendar, events))
    }
}
