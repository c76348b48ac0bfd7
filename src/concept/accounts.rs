//! connectAccount, disconnectAccount, refreshSync and getAccountStatus.

use super::CalendarSync;
use super::sessions::NEEDS_REAUTHORIZATION;
use crate::error::{Error, Result};
use crate::model::{Account, AccountError, AccountId, AccountRecord, Provider, SyncStatus, UserId};
use crate::providers::{Credentials, ProviderErrorKind};

impl CalendarSync {
    /// Connects a provider account for a user.
    ///
    /// # Requires
    /// - `provider` is supported (one of google, outlook, apple, zoom, and
    ///   configured here);
    /// - `credentials` are valid: the provider accepts them.
    ///
    /// # Effects
    /// Validates the credentials with the provider, seals them, and creates
    /// the account with `syncStatus` "connected" and `lastSync` now. Answers
    /// the account (never its credentials).
    ///
    /// # Errors
    /// - [`Error::Invalid`]: `user` is empty or `credentials` is not an object;
    /// - [`Error::UnsupportedProvider`]: the provider is unknown or not configured;
    /// - [`Error::InvalidCredentials`]: the provider refused the credentials;
    /// - [`Error::ProviderUnreachable`]: the provider could not be reached.
    pub async fn connect_account(
        &self,
        user: &UserId,
        provider: &str,
        credentials: &Credentials,
    ) -> Result<Account> {
        if user.as_str().trim().is_empty() {
            return Err(Error::invalid("user", "must not be empty"));
        }
        let provider: Provider = provider.parse().map_err(|_| {
            Error::UnsupportedProvider(
                provider.to_owned(),
                "google, outlook, apple, zoom".to_owned(),
            )
        })?;
        let adapter = self.inner.adapter(provider)?;
        if credentials.0.is_empty() {
            return Err(Error::invalid("credentials", "must be a non-empty object"));
        }
        let connected = match tokio::time::timeout(
            self.inner.config.call_timeout,
            adapter.connect(credentials),
        )
        .await
        {
            Ok(Ok(connected)) => connected,
            Ok(Err(error)) => return Err(connect_error(provider, error.kind, error.message)),
            Err(_) => {
                return Err(Error::ProviderUnreachable {
                    provider: provider.as_str().to_owned(),
                    reason: "no answer in time".to_owned(),
                });
            }
        };
        let now = self.inner.clock.now();
        let mut kept = connected.credentials;
        kept.normalise_expiry(now);
        let id = AccountId::fresh();
        let record = AccountRecord {
            account: Account {
                id: id.clone(),
                user: user.clone(),
                provider,
                sync_status: SyncStatus::Connected,
                last_sync: Some(now),
                error: None,
                calendar_id: connected.calendar_id,
                label: connected.label,
                connected_at: now,
            },
            sealed_credentials: Some(self.inner.seal(&id, &kept)?),
        };
        self.inner.store.insert_account(&record).await?;
        Ok(record.account)
    }

    /// Disconnects an account.
    ///
    /// # Requires
    /// - the account exists and belongs to `user`.
    ///
    /// # Effects
    /// Revokes the credentials at the provider, wipes them from the store, and
    /// marks the account "disconnected". Events already committed stay on the
    /// provider; the account takes no part in later operations (updates and
    /// cancels say they skipped it). Disconnecting twice is harmless.
    ///
    /// # Errors
    /// - [`Error::AccountNotFound`]: no such account, or another user's.
    pub async fn disconnect_account(&self, user: &UserId, account: &AccountId) -> Result<Account> {
        let record = self.inner.owned_account(user, account).await?;
        if record.sealed_credentials.is_some() {
            // Revocation is best effort: the credentials are wiped whatever the
            // provider answers, and a refusal is kept in the log.
            let unsealed = self.inner.unseal(&record);
            let adapter = self.inner.adapter(record.account.provider);
            if let Err(error) = unsealed
                .as_ref()
                .map(|_| ())
                .and(adapter.as_ref().map(|_| ()))
            {
                tracing::warn!(account = %account, %error, "not revoked at the provider; credentials are wiped anyway");
            }
            if let (Ok(credentials), Ok(adapter)) = (unsealed, adapter) {
                let revoked = tokio::time::timeout(
                    self.inner.config.call_timeout,
                    adapter.revoke(&credentials),
                )
                .await;
                match revoked {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(account = %account, %error, "revocation refused")
                    }
                    Err(_) => {
                        tracing::warn!(account = %account, "revocation got no answer in time")
                    }
                }
            }
        }
        let record = self
            .inner
            .update_account(account, |record| {
                record.sealed_credentials = None;
                record.account.sync_status = SyncStatus::Disconnected;
                record.account.error = None;
                Ok(())
            })
            .await?;
        Ok(record.account)
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
    /// `syncStatus`: "connected" when the provider answers, "error: needs
    /// re-authorization" when the refresh token is refused, "error" with the
    /// provider's reason otherwise.
    ///
    /// # Errors
    /// - [`Error::AccountNotFound`]: no such account, or another user's;
    /// - [`Error::AccountNotConnected`]: the account is disconnected.
    pub async fn refresh_sync(&self, user: &UserId, account: &AccountId) -> Result<Account> {
        let record = self.inner.owned_account(user, account).await?;
        if record.account.sync_status == SyncStatus::Disconnected
            || record.sealed_credentials.is_none()
        {
            return Err(Error::AccountNotConnected {
                account: account.clone(),
                status: record.account.sync_status.as_str(),
                reason: None,
            });
        }
        let adapter = self.inner.adapter(record.account.provider)?;
        let validated = self
            .inner
            .call(&record, |session| {
                let adapter = adapter.clone();
                async move { adapter.validate(&session).await }
            })
            .await?;
        let now = self.inner.clock.now();
        let record = self
            .inner
            .update_account(account, |record| {
                match &validated {
                    Ok(()) => {
                        record.account.sync_status = SyncStatus::Connected;
                        record.account.error = None;
                        record.account.last_sync = Some(now);
                    }
                    Err(error) => {
                        let reason = match error.kind {
                            ProviderErrorKind::InvalidGrant
                            | ProviderErrorKind::InvalidCredentials
                            | ProviderErrorKind::Unauthorized => {
                                format!("{NEEDS_REAUTHORIZATION}: {}", error.message)
                            }
                            _ => error.message.clone(),
                        };
                        record.account.sync_status = SyncStatus::Error;
                        record.account.error = Some(AccountError { reason, at: now });
                    }
                }
                Ok(())
            })
            .await?;
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
        Ok(self
            .inner
            .store
            .accounts_of_user(user)
            .await?
            .into_iter()
            .map(|record| record.account)
            .collect())
    }
}

fn connect_error(provider: Provider, kind: ProviderErrorKind, message: String) -> Error {
    let provider = provider.as_str().to_owned();
    match kind {
        ProviderErrorKind::Unavailable
        | ProviderErrorKind::Timeout
        | ProviderErrorKind::RateLimited => Error::ProviderUnreachable {
            provider,
            reason: message,
        },
        _ => Error::InvalidCredentials {
            provider,
            reason: message,
        },
    }
}
