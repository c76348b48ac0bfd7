//! listCalendars: an account's calendars, and what calsync does with each.

use super::CalendarSync;
use crate::engine::ProviderCall;
use crate::error::{Error, Result};
use crate::model::{AccountId, UserId};
use crate::providers::CalendarInfo;

impl CalendarSync {
    /// The calendars of an account: which one calsync writes to, and which
    /// ones detectConflicts reads (the target, and the calendars the app
    /// named at connect in `conflict_calendars`; without them, Google: every
    /// calendar the person shows in their list, CalDAV: every event calendar
    /// of the account's calendar home).
    ///
    /// # Requires
    /// - the account exists, belongs to `user`, and is not disconnected.
    ///
    /// # Effects
    /// None: reads the provider.
    ///
    /// # Errors
    /// - [`Error::AccountNotFound`]: no such account, or another user's;
    /// - [`Error::AccountNotConnected`]: the account is disconnected;
    /// - [`Error::ProviderUnreachable`]: the provider could not be reached;
    /// - [`Error::Provider`]: the provider refused.
    pub async fn list_calendars(
        &self,
        user: &UserId,
        account: &AccountId,
    ) -> Result<Vec<CalendarInfo>> {
        user.check()?;
        let record = self.reachable_account(user, account).await?;
        let adapter = self.engine.calendar_adapter(record.account.provider)?;
        let listed = self
            .engine
            .call_account(&record, ProviderCall::List, |session| {
                let adapter = adapter.clone();
                async move { adapter.list_calendars(&session).await }
            })
            .await?;
        listed.map_err(|error| {
            if error.kind.is_transient() {
                Error::ProviderUnreachable {
                    provider: record.account.provider.as_str().to_owned(),
                    reason: error.message,
                }
            } else {
                Error::Provider(error)
            }
        })
    }
}
