//! Credentials in use: sealing and unsealing, transparent token refresh (one
//! refresh at a time per account), the one place that writes an account
//! record, and the one place that puts an account in `error`.

use super::{Engine, ProviderCall, lock};
use crate::error::{Error, Result};
use crate::model::{AccountError, AccountId, AccountRecord, SyncStatus};
use crate::providers::{Credentials, ProviderError, ProviderResult, Session};
use crate::vault::VaultError;
use std::future::Future;
use std::sync::Arc;

/// The reason an account shows when its provider refused its credentials
/// for good: a person must connect it again.
pub(crate) const NEEDS_REAUTHORIZATION: &str = "needs re-authorization";

impl Engine {
    /// Seals `credentials` for `account` (the account id is bound in, so a
    /// sealed value cannot be moved to another account).
    pub(crate) fn seal(&self, account: &AccountId, credentials: &Credentials) -> Result<Vec<u8>> {
        let plain =
            serde_json::to_vec(credentials).map_err(|_| Error::Vault(VaultError::Damaged))?;
        Ok(self.vault.seal(&plain, account.as_str().as_bytes())?)
    }

    /// The account's credentials, unsealed.
    pub(crate) fn unseal(&self, record: &AccountRecord) -> Result<Credentials> {
        let Some(sealed) = &record.sealed_credentials else {
            return Err(Error::AccountNotConnected {
                account: record.account.id.clone(),
                status: record.account.sync_status,
                reason: Some("its credentials were wiped".to_owned()),
            });
        };
        let plain = self
            .vault
            .open(sealed, record.account.id.as_str().as_bytes())?;
        serde_json::from_slice(&plain).map_err(|_| Error::Vault(VaultError::Damaged))
    }

    fn account_lock(&self, account: &AccountId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.account_locks)
            .entry(account.clone())
            .or_default()
            .clone()
    }

    /// Changes an account under its lock: reads it fresh, applies `change`,
    /// writes it back. Every write of an account goes through here (or holds
    /// the same lock), so a refreshed token is never overwritten by a stale copy.
    pub(crate) async fn update_account<F>(
        &self,
        account: &AccountId,
        change: F,
    ) -> Result<AccountRecord>
    where
        F: FnOnce(&mut AccountRecord) -> Result<()>,
    {
        let lock = self.account_lock(account);
        let _held = lock.lock().await;
        self.update_account_locked(account, change).await
    }

    async fn update_account_locked<F>(
        &self,
        account: &AccountId,
        change: F,
    ) -> Result<AccountRecord>
    where
        F: FnOnce(&mut AccountRecord) -> Result<()>,
    {
        let mut record = self
            .store
            .get_account(account)
            .await?
            .ok_or_else(|| Error::AccountNotFound(account.clone()))?;
        change(&mut record)?;
        self.store.update_account(&record).await?;
        Ok(record)
    }

    /// Puts an account in `error` with `reason`, now; a disconnected account
    /// stays disconnected. The one place that does it.
    pub(crate) async fn mark_error(
        &self,
        account: &AccountId,
        reason: String,
    ) -> Result<AccountRecord> {
        let at = self.clock.now();
        self.update_account(account, |record| {
            mark_error_in(record, reason, at);
            Ok(())
        })
        .await
    }

    /// Puts a connected account in `error` for an outage (see
    /// [`super::outages`]); an account already in error, or disconnected,
    /// stays as it is.
    pub(crate) async fn mark_outage(&self, account: &AccountId, reason: String) -> Result<()> {
        let at = self.clock.now();
        self.update_account(account, |record| {
            if record.account.sync_status == SyncStatus::Connected {
                record.account.sync_status = SyncStatus::Error;
                record.account.error = Some(AccountError {
                    reason,
                    at,
                    outage: true,
                });
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Puts an account in `error` when its provider refused its credentials
    /// for good ([`crate::providers::ProviderErrorKind::needs_reauthorization`]):
    /// a person must connect it again. Other failures leave it as it is.
    pub(crate) async fn mark_if_refused(
        &self,
        account: &AccountId,
        error: &ProviderError,
    ) -> Result<()> {
        if error.kind.needs_reauthorization() {
            self.mark_error(account, reauthorization_reason(error))
                .await?;
        }
        Ok(())
    }

    /// Refreshes an account's tokens. When `stale` is given and the stored
    /// access token already differs from it, another task refreshed first and
    /// its credentials are answered instead. A refused refresh token marks the
    /// account "needs re-authorization".
    pub(crate) async fn refresh_credentials(
        &self,
        account: &AccountId,
        stale: Option<&str>,
    ) -> Result<ProviderResult<Credentials>> {
        let lock = self.account_lock(account);
        let _held = lock.lock().await;
        let record = self
            .store
            .get_account(account)
            .await?
            .ok_or_else(|| Error::AccountNotFound(account.clone()))?;
        let current = self.unseal(&record)?;
        if let Some(stale) = stale
            && current.get_str("access_token") != Some(stale)
        {
            return Ok(Ok(current));
        }
        let provider = record.account.provider;
        let adapter = self.account_adapter(provider)?;
        let refreshed = self
            .call_provider(provider, ProviderCall::Refresh, adapter.refresh(&current))
            .await;
        match refreshed {
            Ok(mut credentials) => {
                credentials.normalise_expiry(self.clock.now());
                let sealed = self.seal(account, &credentials)?;
                self.update_account_locked(account, |record| {
                    record.sealed_credentials = Some(sealed);
                    Ok(())
                })
                .await?;
                Ok(Ok(credentials))
            }
            Err(error) => {
                if error.kind.needs_reauthorization() {
                    let at = self.clock.now();
                    let reason = reauthorization_reason(&error);
                    self.update_account_locked(account, |record| {
                        mark_error_in(record, reason, at);
                        Ok(())
                    })
                    .await?;
                }
                Ok(Err(error))
            }
        }
    }

    /// A session for the account, refreshing first when its token expires
    /// within the refresh margin.
    pub(crate) async fn session(&self, record: &AccountRecord) -> Result<ProviderResult<Session>> {
        let mut credentials = self.unseal(record)?;
        if credentials.expires_within(self.clock.now(), self.config.refresh_margin) {
            let stale = credentials.get_str("access_token").map(str::to_owned);
            match self
                .refresh_credentials(&record.account.id, stale.as_deref())
                .await?
            {
                Ok(fresh) => credentials = fresh,
                Err(error) => return Ok(Err(error)),
            }
        }
        Ok(Ok(Session {
            account: record.account.id.clone(),
            credentials,
            calendar_id: record.account.calendar_id.clone(),
        }))
    }

    /// Makes one provider call for an account through the door: with a
    /// session (refreshed first when due); a refused access token is
    /// refreshed once and the call made again.
    pub(crate) async fn call_account<T, F, Fut>(
        &self,
        record: &AccountRecord,
        call: ProviderCall,
        make: F,
    ) -> Result<ProviderResult<T>>
    where
        F: Fn(Session) -> Fut,
        Fut: Future<Output = ProviderResult<T>>,
    {
        let session = match self.session(record).await? {
            Ok(session) => session,
            Err(error) => return Ok(Err(error)),
        };
        let stale = session
            .credentials
            .get_str("access_token")
            .map(str::to_owned);
        let provider = record.account.provider;
        let first = self
            .call_provider(provider, call, make(session.clone()))
            .await;
        match first {
            Err(error) if error.kind == crate::providers::ProviderErrorKind::Unauthorized => {
                let fresh = match self
                    .refresh_credentials(&record.account.id, stale.as_deref())
                    .await?
                {
                    Ok(fresh) => fresh,
                    Err(refused) => return Ok(Err(refused)),
                };
                let retried = Session {
                    credentials: fresh,
                    ..session
                };
                Ok(self.call_provider(provider, call, make(retried)).await)
            }
            other => Ok(other),
        }
    }
}

/// The account's reason when its provider refused its credentials for good.
pub(crate) fn reauthorization_reason(error: &ProviderError) -> String {
    format!("{NEEDS_REAUTHORIZATION}: {}", error.message)
}

/// Sets `error` on an account record, unless it is disconnected.
fn mark_error_in(record: &mut AccountRecord, reason: String, at: chrono::DateTime<chrono::Utc>) {
    if record.account.sync_status != SyncStatus::Disconnected {
        record.account.sync_status = SyncStatus::Error;
        record.account.error = Some(AccountError {
            reason,
            at,
            outage: false,
        });
    }
}
