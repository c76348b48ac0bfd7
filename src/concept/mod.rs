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

mod calendars;
mod cancel;
mod commit;
mod conflicts;
mod connect;
mod consent;
mod erase;
mod intent;
mod recorded;
mod status;
mod synced_event;
mod update;

pub use crate::engine::Config;
pub use conflicts::{SchedulingWork, Suggestions};
pub use connect::{Disconnected, RevocationStatus};
pub use consent::{CONSENT_LIFETIME, ConnectFinish, ConnectStart, ConsentSettings};
pub use erase::ErasedUser;
pub(crate) use recorded::Recorded;

use crate::clock::{Clock, SystemClock};
use crate::engine::Engine;
use crate::error::Result;
use crate::operations::Operation;
use crate::providers::{Adapter, Providers};
use crate::store::Store;
use crate::vault::Vault;
use std::sync::Arc;

/// Aborts background operations when the last user-held handle goes.
struct Guard(Arc<Engine>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// The CalendarSync concept over a store and a set of providers.
///
/// Cloning is cheap and clones share everything. When the last clone is
/// dropped, operations still running in the background stop; they are
/// durable and resume with [`CalendarSync::resume_operations`] on the next
/// start.
///
/// # Example
/// Connect an account and commit an event to it (on the sandbox providers):
///
/// ```no_run
/// use calsync::model::{EventDetails, UserId};
/// use calsync::providers::Credentials;
/// use calsync::providers::sandbox::Sandbox;
/// use calsync::store::SqliteStore;
/// use calsync::vault::Vault;
/// use calsync::CalendarSync;
/// use std::path::Path;
/// use std::sync::Arc;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::open(Path::new("calsync.db"), "CalendarSync.").await?;
/// let sync = CalendarSync::builder(Arc::new(store))
///     .providers(Sandbox::new().providers())
///     .vault(Vault::from_env_or_file(Path::new("calsync-data"))?)
///     .build();
///
/// let ada = UserId::from("ada");
/// let credentials: Credentials = serde_json::from_str(r#"{"access_token": "token"}"#)?;
/// let google = sync.connect_account(&ada, "google", &credentials).await?;
/// let start = chrono::Utc::now() + chrono::Duration::days(1);
/// let event = EventDetails::timed("Project sync", start, start + chrono::Duration::hours(1));
/// let outcome = sync.commit(&ada, &event, &[google.id.clone()]).await?;
/// println!("{}", outcome.synced_event.provider_ids[&google.id].event_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CalendarSync {
    engine: Arc<Engine>,
    /// The engine's clock too, for what waits on the concept's time beside it.
    clock: Arc<dyn Clock>,
    /// The consent flows started here.
    consent: Arc<consent::ConsentFlows>,
    /// Scheduling work, run off the async workers.
    scheduling: Arc<conflicts::Scheduling>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for CalendarSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarSync")
            .field("engine", &self.engine)
            .finish()
    }
}

/// Builds a [`CalendarSync`].
pub struct Builder {
    store: Arc<dyn Store>,
    providers: Providers,
    vault: Vault,
    clock: Arc<dyn Clock>,
    config: Config,
    consent: ConsentSettings,
}

impl Builder {
    /// Runs consent flows as `settings` say (default: none; see
    /// [`CalendarSync::start_connect`]).
    pub fn consent(mut self, settings: ConsentSettings) -> Self {
        self.consent = settings;
        self
    }

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
        let engine = Engine::new(
            self.store,
            self.providers,
            self.vault,
            self.clock.clone(),
            self.config,
        );
        CalendarSync {
            _guard: Arc::new(Guard(engine.clone())),
            engine,
            clock: self.clock,
            consent: Arc::new(consent::ConsentFlows::new(self.consent)),
            scheduling: Arc::default(),
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
            consent: ConsentSettings::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }

    /// Watches the scheduling work (detectConflicts, suggestReschedules):
    /// how many jobs run, finished, or were stopped when their caller left.
    pub fn scheduling_work(&self) -> tokio::sync::watch::Receiver<SchedulingWork> {
        self.scheduling.watch()
    }

    /// The adapter for a provider, when configured.
    pub fn provider(&self, provider: crate::model::Provider) -> Option<&Adapter> {
        self.engine.provider(provider)
    }

    /// The providers that refuse this deployment's own settings (an OAuth
    /// client id or secret answered `invalid_client`), with the provider's
    /// words: not any user's fault, and until fixed their accounts' work
    /// waits. Cleared when a connect or refresh with the provider succeeds.
    pub fn refused_settings(&self) -> Vec<(crate::model::Provider, String)> {
        self.engine.refused_settings()
    }

    /// Stops background operations now, as a crash would (they stay durable).
    pub fn shutdown(&self) {
        self.engine.shutdown();
    }

    /// Waits until no operation runs in the background.
    pub async fn settle(&self) {
        self.engine.settle().await;
    }

    /// Probes the accounts in error for an outage whose probe is due (an
    /// account whose provider answers is connected again), then takes up
    /// every operation that is due and not held by a live instance
    /// (after a crash or restart, or from another instance whose lease ran
    /// out), carries each out, and answers them as they ended. The operations
    /// of one synced event on one account run in the order they were
    /// recorded; one whose predecessor is still held elsewhere stays pending
    /// (answered as such) and is due again shortly.
    ///
    /// # Errors
    /// [`crate::Error::Store`] when the store cannot be read.
    pub async fn resume_operations(&self) -> Result<Vec<Operation>> {
        self.engine.tend().await
    }

    /// Runs [`CalendarSync::resume_operations`] every `every` until the last
    /// handle is dropped.
    pub fn spawn_resumer(&self, every: std::time::Duration) {
        self.engine
            .spawn_resumer(every, Arc::downgrade(&self._guard));
    }
}
