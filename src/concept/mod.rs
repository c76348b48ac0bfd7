//! The CalendarSync concept: the one type users hold, with one async method
//! per action of the spec.
//!
//! *Purpose*: commit events to external calendar providers and maintain
//! consistency across multiple accounts.
//!
//! *Principle*: after committing an event, it appears across all connected
//! calendar accounts; conflicts are detected by querying existing events
//! across accounts; the system proposes ranked reschedule options when
//! conflicts occur; updates and cancellations propagate to all providers;
//! provider-specific event ids are maintained for bidirectional sync.

mod accounts;
mod conflicts;
mod events;
mod order;
mod outcome;
mod run;
mod sessions;
mod sync;

pub use conflicts::Suggestions;
pub use run::{PROVIDER_CALLS, PROVIDER_FAILURES, PROVIDER_RETRIES};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::model::{
    AccountId, AccountRecord, EventId, OperationId, SyncStatus, SyncedEvent, UserId,
};
use crate::operations::RetryPolicy;
use crate::providers::{CalendarProvider, Providers};
use crate::store::Store;
use crate::vault::Vault;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

/// How a [`CalendarSync`] behaves; the defaults suit production.
#[derive(Clone, Debug)]
pub struct Config {
    /// How transient provider failures are retried.
    pub retry: RetryPolicy,
    /// How long commit, update and cancel wait for providers before answering
    /// with what is still pending (which goes on in the background).
    pub answer_within: Duration,
    /// How long an instance holds an operation before another may take it.
    pub lease: Duration,
    /// How long one provider call may take.
    pub call_timeout: Duration,
    /// Tokens expiring within this margin are refreshed first.
    pub refresh_margin: chrono::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            retry: RetryPolicy::default(),
            answer_within: Duration::from_secs(10),
            lease: Duration::from_secs(120),
            call_timeout: Duration::from_secs(30),
            refresh_margin: chrono::Duration::minutes(5),
        }
    }
}

impl Config {
    /// Short waits and retries, for tests and demos.
    pub fn quick() -> Self {
        Config {
            retry: RetryPolicy::quick(),
            answer_within: Duration::from_secs(5),
            lease: Duration::from_secs(30),
            call_timeout: Duration::from_secs(5),
            ..Config::default()
        }
    }
}

/// The state shared by every handle and background task.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) providers: Providers,
    pub(crate) vault: Vault,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    /// This instance's name in operation leases.
    pub(crate) instance: String,
    /// Operations running in the background.
    pub(crate) tasks: Mutex<JoinSet<()>>,
    /// The operations running in this instance, each until its task ends
    /// (see [`order`]): later operations on the same account wait for them.
    pub(crate) running: Mutex<HashMap<OperationId, tokio::sync::watch::Receiver<()>>>,
    /// One lock per account, so that two refreshes never race (Outlook and
    /// Zoom kill the old refresh token on every refresh).
    pub(crate) refresh_locks: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Aborts background operations when the last user-held handle goes.
struct Guard(Arc<Inner>);

impl Drop for Guard {
    fn drop(&mut self) {
        lock(&self.0.tasks).abort_all();
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The CalendarSync concept over a store and a set of providers.
///
/// Cloning is cheap and clones share everything. When the last clone is
/// dropped, operations still running in the background stop; they are
/// durable and resume with [`CalendarSync::resume_operations`] on the next
/// start.
#[derive(Clone)]
pub struct CalendarSync {
    inner: Arc<Inner>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for CalendarSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarSync")
            .field("prefix", &self.inner.store.prefix())
            .field("providers", &self.inner.providers)
            .field("instance", &self.inner.instance)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CalendarSync`].
pub struct Builder {
    store: Arc<dyn Store>,
    providers: Providers,
    vault: Vault,
    clock: Arc<dyn Clock>,
    config: Config,
}

impl Builder {
    /// Uses `providers` (default: none).
    pub fn providers(mut self, providers: Providers) -> Self {
        self.providers = providers;
        self
    }

    /// Seals credentials with `vault` (default: a random key, fit for tests only).
    pub fn vault(mut self, vault: Vault) -> Self {
        self.vault = vault;
        self
    }

    /// Reads time from `clock` (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Behaves as `config` says.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The concept.
    pub fn build(self) -> CalendarSync {
        let inner = Arc::new(Inner {
            store: self.store,
            providers: self.providers,
            vault: self.vault,
            clock: self.clock,
            config: self.config,
            instance: format!("calsync-{}", uuid::Uuid::now_v7()),
            tasks: Mutex::new(JoinSet::new()),
            running: Mutex::new(HashMap::new()),
            refresh_locks: Mutex::new(HashMap::new()),
        });
        CalendarSync {
            _guard: Arc::new(Guard(inner.clone())),
            inner,
        }
    }
}

impl CalendarSync {
    /// Starts building a concept over `store`.
    pub fn builder(store: Arc<dyn Store>) -> Builder {
        Builder {
            store,
            providers: Providers::new(),
            vault: Vault::random(),
            clock: Arc::new(SystemClock),
            config: Config::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The adapter for a provider, when configured.
    pub fn provider(&self, provider: crate::model::Provider) -> Option<&Arc<dyn CalendarProvider>> {
        self.inner.providers.get(provider)
    }

    /// Stops background operations now, as a crash would (they stay durable).
    pub fn shutdown(&self) {
        lock(&self.inner.tasks).abort_all();
    }

    /// Waits until no operation runs in the background.
    pub async fn settle(&self) {
        loop {
            let next = {
                let mut tasks = lock(&self.inner.tasks);
                if tasks.is_empty() {
                    return;
                }
                // Take the set out so that the lock is not held across the wait.
                std::mem::take(&mut *tasks)
            };
            let mut next = next;
            while let Some(joined) = next.join_next().await {
                if let Err(error) = joined
                    && error.is_panic()
                {
                    tracing::error!(%error, "a background operation panicked; it stays pending in the store");
                }
            }
        }
    }
}

impl Inner {
    /// The user's account `id`, answered as missing when it is another user's.
    pub(crate) async fn owned_account(
        &self,
        user: &UserId,
        id: &AccountId,
    ) -> Result<AccountRecord> {
        match self.store.get_account(id).await? {
            Some(record) if &record.account.user == user => Ok(record),
            _ => Err(Error::AccountNotFound(id.clone())),
        }
    }

    /// The user's synced event `id`, answered as missing when it is another user's.
    pub(crate) async fn owned_event(&self, user: &UserId, id: &EventId) -> Result<SyncedEvent> {
        match self.store.get_synced_event(id).await? {
            Some(event) if &event.user == user => Ok(event),
            _ => Err(Error::EventNotFound(id.clone())),
        }
    }

    /// The adapter for an account's provider.
    pub(crate) fn adapter(
        &self,
        provider: crate::model::Provider,
    ) -> Result<Arc<dyn CalendarProvider>> {
        self.providers.get(provider).cloned().ok_or_else(|| {
            Error::UnsupportedProvider(provider.as_str().to_owned(), self.configured_providers())
        })
    }

    pub(crate) fn configured_providers(&self) -> String {
        crate::model::Provider::ALL
            .iter()
            .filter(|p| self.providers.get(**p).is_some())
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether an account takes part in sync (connected; `error` accounts are
/// skipped until refreshSync brings them back).
pub(crate) fn is_connected(record: &AccountRecord) -> bool {
    record.account.sync_status == SyncStatus::Connected
}
