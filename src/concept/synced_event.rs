//! getSyncedEvent, and the one-account query beside getAccountStatus.

use super::CalendarSync;
use crate::error::Result;
use crate::model::{Account, AccountId, EventId, SyncedEvent, UserId};

impl CalendarSync {
    /// The synced event with its provider ids, or none if not synced.
    ///
    /// # Effects
    /// None: answers the user's synced event `eventId` with its provider ids
    /// and details; none when it is not synced or is another user's. The
    /// event carries its `version`, and each provider id the version its
    /// copy holds and, while calsync still has work to do on it, `pending`
    /// (the reason and when it tries next).
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the store cannot be read.
    pub async fn get_synced_event(
        &self,
        user: &UserId,
        event_id: &EventId,
    ) -> Result<Option<SyncedEvent>> {
        user.check()?;
        let event = self
            .engine
            .store()
            .get_synced_event(event_id)
            .await?
            .filter(|event| &event.user == user);
        match event {
            Some(event) => Ok(Some(self.engine.with_pending(event).await?)),
            None => Ok(None),
        }
    }

    /// One account of the user, as getAccountStatus shows it.
    ///
    /// # Effects
    /// None: answers the user's account `account`, without credentials.
    ///
    /// # Errors
    /// - [`crate::Error::AccountNotFound`]: no such account, or another user's.
    pub async fn get_account(&self, user: &UserId, account: &AccountId) -> Result<Account> {
        user.check()?;
        Ok(self.engine.owned_account(user, account).await?.account)
    }
}
