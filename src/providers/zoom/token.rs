//! The deployment's Server-to-Server token: one for every calsync process
//! on the store.
//!
//! Zoom may invalidate the previous Server-to-Server token when it issues a
//! new one, so processes that each fetched their own would refuse one
//! another's. The token therefore lives in the store, sealed, as the shared
//! record [`RECORD`]: `{"token": base64(sealed {access_token, expires_at}),
//! "leaseUntil", "leaseOwner"}`. A process that needs a token (none yet, one
//! about to expire, or the one Zoom just refused with 401) claims a short
//! lease by writing the record's next version; of two claimants one wins
//! (the store compares versions). The winner fetches and writes the token;
//! the others wait, bounded, and read it. A lease left by a process that
//! died ends by itself after [`TOKEN_LEASE`].

use super::settings::TOKEN_LEASE;
use crate::clock::Clock;
use crate::oauth::OAuthClient;
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use crate::store::{SharedRecord, Store, StoreError};
use crate::vault::Vault;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shared record holding the deployment's token.
pub const RECORD: &str = "zoom.s2s-token";
/// How long before its expiry a token is no longer used.
const MARGIN_SECONDS: i64 = 300;
/// Zoom's documented lifetime, when an answer leaves `expires_in` out.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// How often a waiting process reads the record again.
const POLL: Duration = Duration::from_millis(50);

/// A token as sealed in the record.
#[derive(Clone, Serialize, Deserialize)]
struct Held {
    access_token: String,
    expires_at: DateTime<Utc>,
}

/// The record's content, read.
struct State {
    version: u64,
    /// The sealed token as stored (kept as is through a claim).
    sealed: Value,
    token: Option<Held>,
    lease_until: Option<DateTime<Utc>>,
    lease_owner: Option<String>,
}

/// Fetches, shares and keeps the deployment's Server-to-Server token.
pub struct DeploymentToken {
    oauth: OAuthClient,
    account_id: String,
    store: Arc<dyn Store>,
    vault: Vault,
    clock: Arc<dyn Clock>,
    /// This process's name in a lease.
    owner: String,
    wait: Duration,
    cached: Mutex<Option<Held>>,
    /// One fetch at a time in this process.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DeploymentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentToken")
            .field("account_id", &self.account_id)
            .field("owner", &self.owner)
            .finish()
    }
}

fn store_error(error: StoreError) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::Unavailable,
        format!("cannot read or write the deployment's Zoom token in the store: {error}"),
    )
}

impl DeploymentToken {
    /// The token of the Server-to-Server app `oauth` for `account_id`,
    /// shared through `store`, sealed with `vault`; a process waits at most
    /// `wait` for another one's fetch.
    pub fn new(
        oauth: OAuthClient,
        account_id: String,
        store: Arc<dyn Store>,
        vault: Vault,
        clock: Arc<dyn Clock>,
        wait: Duration,
    ) -> Self {
        DeploymentToken {
            oauth,
            account_id,
            store,
            vault,
            clock,
            owner: uuid::Uuid::now_v7().to_string(),
            wait,
            cached: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn context(&self) -> Vec<u8> {
        format!("{RECORD}:{}", self.account_id).into_bytes()
    }

    fn usable(&self, held: &Held, refused: Option<&str>) -> bool {
        held.expires_at - chrono::Duration::seconds(MARGIN_SECONDS) > self.clock.now()
            && Some(held.access_token.as_str()) != refused
    }

    fn cached_token(&self, refused: Option<&str>) -> Option<String> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|held| self.usable(held, refused))
            .map(|held| held.access_token.clone())
    }

    fn keep(&self, held: &Held) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(held.clone());
    }

    /// An access token to call Zoom with: the one in use, unless it is
    /// `refused` (Zoom just answered 401 to it) or about to expire; then the
    /// one another process fetched since, or a new one.
    ///
    /// # Errors
    /// The token endpoint's failures (`Misconfigured` for a refused app);
    /// `Unavailable` when the store fails or another process's fetch did not
    /// end within the wait.
    pub async fn token(&self, refused: Option<&str>) -> ProviderResult<String> {
        if let Some(token) = self.cached_token(refused) {
            return Ok(token);
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(token) = self.cached_token(refused) {
            return Ok(token);
        }
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let state = self.read().await?;
            if let Some(held) = state
                .token
                .as_ref()
                .filter(|held| self.usable(held, refused))
            {
                self.keep(held);
                return Ok(held.access_token.clone());
            }
            let now = self.clock.now();
            let leased = state.lease_until.is_some_and(|until| until > now)
                && state.lease_owner.as_deref() != Some(self.owner.as_str());
            if !leased && self.claim(&state, now).await? {
                return self.fetch(state.version + 1, &state.sealed).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    "another calsync process is fetching the deployment's Zoom token and has not finished; trying again later",
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn read(&self) -> ProviderResult<State> {
        let record = self.store.get_shared(RECORD).await.map_err(store_error)?;
        let Some(record) = record else {
            return Ok(State {
                version: 0,
                sealed: Value::Null,
                token: None,
                lease_until: None,
                lease_owner: None,
            });
        };
        let text = |name: &str| record.value.get(name).and_then(Value::as_str);
        let instant = |name: &str| {
            text(name)
                .and_then(|value| DateTime::parse_from_rfc3339(value).ok())
                .map(|at| at.with_timezone(&Utc))
        };
        let sealed = record.value.get("token").cloned().unwrap_or(Value::Null);
        Ok(State {
            version: record.version,
            // A token sealed under another key, or damaged, is fetched anew.
            token: sealed.as_str().and_then(|sealed| self.open(sealed)),
            sealed,
            lease_until: instant("leaseUntil"),
            lease_owner: text("leaseOwner").map(str::to_owned),
        })
    }

    fn open(&self, sealed: &str) -> Option<Held> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .ok()?;
        let plain = self.vault.open(&bytes, &self.context()).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    fn seal(&self, held: &Held) -> ProviderResult<String> {
        let plain = serde_json::to_vec(held).map_err(|error| {
            ProviderError::new(ProviderErrorKind::Unavailable, error.to_string())
        })?;
        let sealed = self.vault.seal(&plain, &self.context()).map_err(|error| {
            ProviderError::new(
                ProviderErrorKind::Unavailable,
                format!("cannot seal the deployment's Zoom token: {error}"),
            )
        })?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    /// Writes the next version with this process's lease; answers whether it won.
    async fn claim(&self, state: &State, now: DateTime<Utc>) -> ProviderResult<bool> {
        let until = now
            + chrono::Duration::from_std(TOKEN_LEASE)
                .unwrap_or_else(|_| chrono::Duration::seconds(30));
        let record = SharedRecord {
            name: RECORD.to_owned(),
            version: state.version + 1,
            value: json!({"token": state.sealed, "leaseUntil": until.to_rfc3339(),
                "leaseOwner": self.owner}),
            updated_at: now,
        };
        self.store.put_shared(&record).await.map_err(store_error)
    }

    /// Fetches a token under the lease of record version `claimed`, writes
    /// it (sealed) and ends the lease.
    async fn fetch(&self, claimed: u64, previous: &Value) -> ProviderResult<String> {
        let fetched = self.oauth.account_credentials(&self.account_id).await;
        let now = self.clock.now();
        let release = |token: Value| SharedRecord {
            name: RECORD.to_owned(),
            version: claimed + 1,
            value: json!({"token": token, "leaseUntil": null, "leaseOwner": null}),
            updated_at: now,
        };
        let tokens = match fetched {
            Ok(tokens) => tokens,
            Err(error) => {
                // The lease ends now, so another attempt need not wait for it.
                let _ = self.store.put_shared(&release(previous.clone())).await;
                return Err(error);
            }
        };
        let lifetime = tokens.expires_in.unwrap_or(DEFAULT_LIFETIME);
        let held = Held {
            access_token: tokens.access_token,
            expires_at: now
                + chrono::Duration::from_std(lifetime)
                    .unwrap_or_else(|_| chrono::Duration::hours(1)),
        };
        let sealed = self.seal(&held)?;
        let written = self
            .store
            .put_shared(&release(Value::from(sealed)))
            .await
            .map_err(store_error)?;
        if !written {
            // The lease ran out and another process took over: its token
            // will be the newer one; this one still serves this call.
            tracing::warn!("the deployment's Zoom token was fetched after the lease ran out");
        }
        self.keep(&held);
        Ok(held.access_token)
    }
}
