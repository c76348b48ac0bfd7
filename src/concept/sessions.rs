//! Credentials in use: unsealing, transparent token refresh, and the one
//! place that writes an account record.

use super::Inner;
use crate::error::{Error, Result};
use crate::model::{AccountError, AccountId, AccountRecord, SyncStatus};
use crate::providers::{Credentials, ProviderError, ProviderErrorKind, ProviderResult, Session};
use std::future::Future;
use std::sync::Arc;

/// The reason an account shows when its refresh token or password is refused.
pub(crate) const NEEDS_REAUTHORIZATION: &str = "needs re-authorization";

impl Inner {
    pub(crate) fn seal(&self, account: &AccountId, credentials: &Credentials) -> Result<Vec<u8>> {
        let plain = serde_json::to_vec(credentials).map_err(|e| Error::Vault(e.to_string()))?;
        self.vault
            .seal(&plain, account.as_str().as_bytes())
            .map_err(|e| Error::Vault(e.to_string()))
    }

    pub(crate) fn unseal(&self, record: &AccountRecord) -> Result<Credentials> {
        let Some(sealed) = &record.sealed_credentials else {
            return Err(Error::AccountNotConnected {
                account: record.account.id.clone(),
                status: record.account.sync_status.as_str(),
                reason: Some("its credentials were wiped".to_owned()),
            });
        };
        let plain = self
            .vault
            .open(sealed, record.account.id.as_str().as_bytes())
            .map_err(|e| Error::Vault(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| Error::Vault(e.to_string()))
    }

    fn account_lock(&self, account: &AccountId) -> Arc<tokio::sync::Mutex<()>> {
        super::lock(&self.refresh_locks)
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

    /// Marks an account `error` with `reason`, now.
    pub(crate) async fn mark_error(
        &self,
        account: &AccountId,
        reason: String,
    ) -> Result<AccountRecord> {
        let at = self.clock.now();
        self.update_account(account, |record| {
            if record.account.sync_status != SyncStatus::Disconnected {
                record.account.sync_status = SyncStatus::Error;
                record.account.error = Some(AccountError { reason, at });
            }
            Ok(())
        })
        .await
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
        let adapter = self.adapter(record.account.provider)?;
        let refreshed =
            match tokio::time::timeout(self.config.call_timeout, adapter.refresh(&current)).await {
                Ok(answer) => answer,
                Err(_) => Err(timeout_error()),
            };
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
                if matches!(
                    error.kind,
                    ProviderErrorKind::InvalidGrant | ProviderErrorKind::InvalidCredentials
                ) {
                    let at = self.clock.now();
                    let reason = format!("{NEEDS_REAUTHORIZATION}: {}", error.message);
                    self.update_account_locked(account, |record| {
                        record.account.sync_status = SyncStatus::Error;
                        record.account.error = Some(AccountError { reason, at });
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

    /// Makes one provider call for an account, within the call timeout; a
    /// refused access token is refreshed once and the call made again.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        record: &AccountRecord,
        call: F,
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
        let first = self.timed(provider, call(session.clone())).await;
        match first {
            Err(error) if error.kind == ProviderErrorKind::Unauthorized => {
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
                Ok(self.timed(provider, call(retried)).await)
            }
            other => Ok(other),
        }
    }

    async fn timed<T>(
        &self,
        provider: crate::model::Provider,
        call: impl Future<Output = ProviderResult<T>>,
    ) -> ProviderResult<T> {
        let answer = match tokio::time::timeout(self.config.call_timeout, call).await {
            Ok(answer) => answer,
            Err(_) => Err(timeout_error()),
        };
        super::run::count_call(provider, &answer);
        answer
    }
}

fn timeout_error() -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::Timeout,
        "the provider did not answer in time",
    )
}
