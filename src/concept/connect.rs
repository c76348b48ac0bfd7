//! connectAccount and disconnectAccount.

use super::CalendarSync;
use crate::engine::ProviderCall;
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, AccountRecord, Provider, SyncStatus, UserId};
use crate::providers::{Credentials, ProviderError, Revocation};

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
        user.check()?;
        let provider: Provider = provider.parse().map_err(|_| Error::UnsupportedProvider {
            provider: provider.to_owned(),
            supported: "google, outlook, apple, zoom".to_owned(),
        })?;
        let adapter = self.engine.account_adapter(provider)?;
        if credentials.0.is_empty() {
            return Err(Error::invalid("credentials", "must be a non-empty object"));
        }
        let connected = self
            .engine
            .call_provider(
                provider,
                ProviderCall::Connect,
                adapter.connect_as(user, credentials),
            )
            .await
            .map_err(|error| connect_error(provider, error))?;
        let now = self.engine.now();
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
            sealed_credentials: Some(self.engine.seal(&id, &kept)?),
        };
        self.engine.store().insert_account(&record).await?;
        Ok(record.account)
    }

    /// Disconnects an account.
    ///
    /// # Requires
    /// - the account exists and belongs to `user`.
    ///
    /// # Effects
    /// Revokes the credentials at the provider where it allows that, wipes
    /// them from the store, and marks the account "disconnected". Answers the
    /// account and what revocation did: `revoked`, `not_supported` (the
    /// provider has no way for an app to revoke: Microsoft, CalDAV) or
    /// `failed` (the provider could not be reached or refused), with the
    /// reason; the credentials are wiped in every case. Events already
    /// committed stay on the provider; the account takes no part in later
    /// operations (updates and cancels say they skipped it). Disconnecting
    /// twice is harmless, and the second time there is nothing to revoke.
    ///
    /// # Errors
    /// - [`Error::AccountNotFound`]: no such account, or another user's.
    pub async fn disconnect_account(
        &self,
        user: &UserId,
        account: &AccountId,
    ) -> Result<Disconnected> {
        user.check()?;
        let record = self.engine.owned_account(user, account).await?;
        let (mut revocation, mut revocation_reason) = (None, None);
        if record.sealed_credentials.is_some() {
            // The credentials are wiped whatever the provider answers.
            let (status, reason) = match self.revoke(&record).await {
                Ok(Revocation::Revoked) => (RevocationStatus::Revoked, None),
                Ok(Revocation::NotSupported(reason)) => {
                    (RevocationStatus::NotSupported, Some(reason))
                }
                Err(error) => {
                    tracing::warn!(account = %account, %error, "not revoked at the provider; credentials are wiped anyway");
                    (RevocationStatus::Failed, Some(error.to_string()))
                }
            };
            revocation = Some(status);
            revocation_reason = reason;
        }
        let record = self
            .engine
            .update_account(account, |record| {
                record.sealed_credentials = None;
                record.account.sync_status = SyncStatus::Disconnected;
                record.account.error = None;
                Ok(())
            })
            .await?;
        Ok(Disconnected {
            account: record.account,
            revocation,
            revocation_reason,
        })
    }

    /// Revokes an account's credentials at its provider.
    pub(super) async fn revoke(&self, record: &AccountRecord) -> Result<Revocation> {
        let credentials = self.engine.unseal(record)?;
        let provider = record.account.provider;
        let adapter = self.engine.account_adapter(provider)?;
        Ok(self
            .engine
            .call_provider(provider, ProviderCall::Revoke, adapter.revoke(&credentials))
            .await?)
    }
}

/// What disconnectAccount did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disconnected {
    /// The account, now disconnected.
    pub account: Account,
    /// What revoking its credentials at the provider did; `None` when the
    /// account had none left to revoke (it was disconnected before).
    pub revocation: Option<RevocationStatus>,
    /// Why it was not revoked (with `not_supported` and `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
}

/// What revoking an account's credentials at its provider did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    /// The provider revoked the grant.
    Revoked,
    /// The provider has no way for an app to revoke its grant; the
    /// credentials are only wiped here.
    NotSupported,
    /// The provider could not be reached or refused; the credentials are
    /// wiped anyway.
    Failed,
}

/// What a refused connect means: the provider could not be reached (a
/// transient failure), or it refused the credentials.
pub(super) fn connect_error(provider: Provider, error: ProviderError) -> Error {
    let provider = provider.as_str().to_owned();
    if error.kind.is_transient() {
        Error::ProviderUnreachable {
            provider,
            reason: error.message,
        }
    } else {
        Error::InvalidCredentials {
            provider,
            reason: error.message,
        }
    }
}
