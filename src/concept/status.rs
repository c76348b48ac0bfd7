//! refreshSync and getAccountStatus.

use super::CalendarSync;
use crate::engine::{ProviderCall, reauthorization_reason};
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, SyncStatus, UserId};

impl CalendarSync {
    /// `user`'s account, when it still holds credentials calsync can call
    /// the provider with (connected, or in error): what refreshSync and
    /// listCalendars act on.
    pub(super) async fn reachable_account(
        &self,
        user: &UserId,
        account: &AccountId,
    ) -> Result<crate::model::AccountRecord> {
        let record = self.engine.owned_account(user, account).await?;
        if record.account.sync_status == SyncStatus::Disconnected
            || record.sealed_credentials.is_none()
        {
            return Err(Error::AccountNotConnected {
                account: account.clone(),
                status: record.account.sync_status,
                reason: None,
            });
        }
        Ok(record)
    }

    /// Refreshes an account's connection.
    ///
    /// # Requires
    /// - the account exists and belongs to `user`;
    /// - the account is connected (status "connected", or "error" while it
    ///   still holds credentials; a disconnected account has none).
    ///
    /// # Effects
    /// Refreshes the OAuth tokens when they expire within five minutes,
    /// validates the connection with the provider, and sets `lastSync` and
    /// `syncStatus`: "connected" when the provider answers (operations that
    /// waited for the account then run at once, in the background), "error: needs
    /// re-authorization" when the credentials are refused, "error" with the
    /// provider's reason when it refuses for another reason a person must
    /// fix. When the provider cannot be reached (a transient failure) the
    /// account is left as it was.
    ///
    /// # Errors
    /// - [`Error::AccountNotFound`]: no such account, or another user's;
    /// - [`Error::AccountNotConnected`]: the account is disconnected;
    /// - [`Error::ProviderUnreachable`]: the provider could not be reached
    ///   (timeout, 5xx, throttled); nothing changed.
    pub async fn refresh_sync(&self, user: &UserId, account: &AccountId) -> Result<Account> {
        user.check()?;
        let record = self.reachable_account(user, account).await?;
        let adapter = self.engine.account_adapter(record.account.provider)?;
        let validated = self
            .engine
            .call_account(&record, ProviderCall::Validate, |session| {
                let adapter = adapter.clone();
                async move { adapter.validate(&session).await }
            })
            .await?;
        let record = match validated {
            Ok(()) => {
                let now = self.engine.now();
                let record = self
                    .engine
                    .update_account(account, |record| {
                        record.account.sync_status = SyncStatus::Connected;
                        record.account.error = None;
                        record.account.last_sync = Some(now);
                        Ok(())
                    })
                    .await?;
                self.engine.account_back(account).await?;
                record
            }
            Err(error) if error.kind.is_transient() => {
                return Err(Error::ProviderUnreachable {
                    provider: record.account.provider.as_str().to_owned(),
                    reason: error.message,
                });
            }
            Err(error) => {
                let reason = if error.kind.needs_reauthorization() {
                    reauthorization_reason(&error)
                } else {
                    error.message
                };
                self.engine.mark_error(account, reason).await?
            }
        };
        Ok(record.account)
    }

    /// The user's accounts with their sync status and last sync time.
    ///
    /// # Effects
    /// None: answers every account of `user` (none for an unknown user),
    /// oldest first, without credentials.
    ///
    /// # Errors
    /// [`Error::Store`] when the store cannot be read.
    pub async fn get_account_status(&self, user: &UserId) -> Result<Vec<Account>> {
        user.check()?;
        Ok(self
            .engine
            .store()
            .accounts_of_user(user)
            .await?
            .into_iter()
            .map(|record| record.account)
            .collect())
    }
}
