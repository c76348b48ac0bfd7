//! The operation engine: it carries out the provider calls the actions
//! promised, and keeps the accounts' credentials usable while it does.
//!
//! The actions of [`crate::concept`] decide *what* must happen (they record
//! one [`Operation`] per account in the store); the engine makes it happen:
//!
//! | file | what it does |
//! |---|---|
//! | `calls.rs` | the one door into a provider: every call (connect, refresh, revoke, validate, create, update, delete, list) gets the call timeout, is counted in the metrics, and has its failure mapped |
//! | `sessions.rs` | credentials in use: sealing and unsealing, transparent refresh (one at a time per account), the one place that writes an account record and the one that puts an account in `error` |
//! | `run.rs` | carrying out an operation: attempts, backoff, the answer deadline |
//! | `order.rs` | per-account order: an event's operations on one account run in the order recorded |
//! | `outcome.rs` | recording how an operation ended |
//! | `resume.rs` | leases, and taking up operations that are due after a crash or restart |
//! | `late.rs` | creates whose answer was lost: read back by key before a failure is recorded, and swept for late copies after a cancel |
//! | `outages.rs` | the rule that puts an account in `error` for a sustained outage, and the probe that brings it back |
//!
//! Nothing here is an action of the spec; [`crate::CalendarSync`] is the one
//! door users go through, and its methods call into this module.

mod calls;
mod late;
mod meetings;
mod order;
mod outages;
mod outcome;
mod resume;
mod run;
mod sessions;

pub use calls::{PROVIDER_CALLS, PROVIDER_FAILURES, PROVIDER_RETRIES, ProviderCall};
pub(crate) use meetings::{holds_link, with_meeting_link};
pub use outages::PROBE_CAP;
pub(crate) use run::{results, run_known_until, run_until};
pub(crate) use sessions::reauthorization_reason;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::model::{
    AccountId, AccountRecord, EventId, OperationId, PendingWork, Provider, SyncStatus, SyncedEvent,
    UserId,
};
use crate::operations::{Operation, OperationKind, OperationStatus, RetryPolicy};
use crate::providers::{AccountProvider, Adapter, CalendarProvider, Providers};
use crate::store::Store;
use crate::vault::Vault;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

/// How a [`crate::CalendarSync`] behaves; the defaults suit production.
#[derive(Clone, Debug)]
pub struct Config {
    /// How transient provider failures are retried.
    pub retry: RetryPolicy,
    /// How long commit, update and cancel wait for providers before answering
    /// with what is still pending (which goes on in the background), by the
    /// concept's clock.
    pub answer_within: Duration,
    /// How long an instance holds an operation before another may take it.
    pub lease: Duration,
    /// How long one provider call may take.
    pub call_timeout: Duration,
    /// Tokens expiring within this margin are refreshed first.
    pub refresh_margin: chrono::Duration,
    /// How long every call of an account's operations must fail transiently,
    /// with no answer from the provider in between, before the account goes
    /// to `error` for an outage (by the concept's clock).
    pub outage_after: Duration,
    /// The first wait between probes of an account in error for an outage;
    /// it doubles after each probe the provider does not answer, up to
    /// [`PROBE_CAP`].
    pub probe_every: Duration,
    /// How long after a cancel or a failure that followed a create whose
    /// answer was lost calsync looks for a copy a late delivery of that
    /// create made, and deletes it. At least twice `call_timeout` is used
    /// whatever this says: a request held longer than that is not expected.
    pub late_delivery: Duration,
    /// The units of work one detectConflicts or suggestReschedules may
    /// spend in the scheduling engine (see [`crate::schedule::work`]).
    pub work_limit: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            retry: RetryPolicy::default(),
            answer_within: Duration::from_secs(10),
            lease: Duration::from_secs(120),
            call_timeout: Duration::from_secs(30),
            refresh_margin: chrono::Duration::minutes(5),
            outage_after: Duration::from_secs(3600),
            probe_every: Duration::from_secs(30),
            late_delivery: Duration::from_secs(60),
            work_limit: crate::schedule::work::DEFAULT_WORK_LIMIT,
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

/// The engine's state, shared by every [`crate::CalendarSync`] handle and
/// every background task.
pub(crate) struct Engine {
    store: Arc<dyn Store>,
    providers: Providers,
    vault: Vault,
    clock: Arc<dyn Clock>,
    config: Config,
    /// This instance's name in operation leases.
    instance: String,
    /// Operations running in the background.
    tasks: Mutex<JoinSet<()>>,
    /// The operations running in this instance, each until its task ends
    /// (see [`order`]): later operations on the same account wait for them.
    running: Mutex<HashMap<OperationId, tokio::sync::watch::Receiver<()>>>,
    /// One lock per account, so that two refreshes never race (Outlook and
    /// Zoom kill the old refresh token on every refresh).
    account_locks: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
    /// Moved on whenever this instance records something that may end an
    /// operation's wait early (a cancel that supersedes waiting updates):
    /// operations waiting between attempts wake and look again.
    nudges: tokio::sync::watch::Sender<u64>,
    /// Failure streaks and probe times (see [`outages`]).
    outages: Mutex<outages::Outages>,
    /// Per provider, the refusal of the deployment's own settings (OAuth
    /// `invalid_client`) since its last successful connect or refresh.
    refused_settings: Mutex<HashMap<Provider, String>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("prefix", &self.store.prefix())
            .field("providers", &self.providers)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// Locks a std mutex, taking the data of a poisoned one: every value kept
/// under these locks stays consistent between statements.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Engine {
    /// An engine over `store` and `providers`.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        providers: Providers,
        vault: Vault,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            providers,
            vault,
            clock,
            config,
            instance: format!("calsync-{}", uuid::Uuid::now_v7()),
            tasks: Mutex::new(JoinSet::new()),
            running: Mutex::new(HashMap::new()),
            account_locks: Mutex::new(HashMap::new()),
            nudges: tokio::sync::watch::Sender::new(0),
            outages: Mutex::new(outages::Outages::default()),
            refused_settings: Mutex::new(HashMap::new()),
        })
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, by the engine's clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The settings the engine runs with.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The adapter for `provider`, when one is configured.
    pub(crate) fn provider(&self, provider: Provider) -> Option<&Adapter> {
        self.providers.adapter(provider)
    }

    /// The adapter for an account's provider, or why there is none.
    pub(crate) fn adapter(&self, provider: Provider) -> Result<Adapter> {
        self.providers
            .adapter(provider)
            .cloned()
            .ok_or_else(|| Error::UnsupportedProvider {
                provider: provider.as_str().to_owned(),
                supported: match self.providers.why_missing(provider) {
                    Some(why) => format!("{} ({why})", self.configured_providers()),
                    None => self.configured_providers(),
                },
            })
    }

    /// Whether `provider` is a meeting service here (Zoom): it makes the
    /// meeting of an event, whose link goes into the calendar copies.
    pub(crate) fn is_meeting_service(&self, provider: Provider) -> bool {
        self.providers
            .adapter(provider)
            .is_some_and(|adapter| adapter.meetings().is_some())
    }

    /// The account side of an account's provider (connect, refresh,
    /// revoke, validate), or why there is none.
    pub(crate) fn account_adapter(&self, provider: Provider) -> Result<Arc<dyn AccountProvider>> {
        self.adapter(provider).map(|adapter| adapter.account())
    }

    /// The calendar adapter of an account's provider; a meeting service
    /// (Zoom) has no calendar, and the account is refused as `account`.
    pub(crate) fn calendar_adapter(&self, provider: Provider) -> Result<Arc<dyn CalendarProvider>> {
        match self.adapter(provider)? {
            Adapter::Calendar(calendar) => Ok(calendar),
            Adapter::Meetings(_) => Err(Error::invalid(
                "account",
                format!("is a {provider} account: it makes video meetings and keeps no calendars"),
            )),
        }
    }

    /// The configured providers, comma-separated.
    pub(crate) fn configured_providers(&self) -> String {
        Provider::ALL
            .iter()
            .filter(|p| self.providers.adapter(**p).is_some())
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

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

    /// `event` with each account's outstanding work: the last operation still
    /// pending on the account (its reason and when it is tried next).
    pub(crate) async fn with_pending(&self, mut event: SyncedEvent) -> Result<SyncedEvent> {
        let operations = self.store.operations_of_event(&event.internal_id).await?;
        for (account, reference) in &mut event.provider_ids {
            reference.pending = operations
                .iter()
                .rev()
                .find(|op| &op.account == account && op.status == OperationStatus::Pending)
                .map(|op| PendingWork {
                    reason: op.last_error.clone().unwrap_or_else(|| {
                        match op.kind {
                            OperationKind::Create => "creating",
                            OperationKind::Update => "writing the latest version",
                            OperationKind::Delete | OperationKind::Sweep => "deleting",
                        }
                        .to_owned()
                    }),
                    next_attempt_at: op.next_attempt_at,
                });
        }
        Ok(event)
    }

    /// When an answer stops waiting for providers: the answer deadline from
    /// now, by the engine's clock.
    pub(crate) fn answer_deadline(&self) -> DateTime<Utc> {
        later(self.clock.now(), self.config.answer_within)
    }

    /// Stops background operations now, as a crash would (they stay durable).
    pub(crate) fn shutdown(&self) {
        lock(&self.tasks).abort_all();
    }

    /// Waits until no operation runs in the background.
    pub(crate) async fn settle(&self) {
        loop {
            // Take the set out so that the lock is not held across the wait.
            let mut next = std::mem::take(&mut *lock(&self.tasks));
            if next.is_empty() {
                return;
            }
            while let Some(joined) = next.join_next().await {
                if let Err(error) = joined
                    && error.is_panic()
                {
                    tracing::error!(%error, "a background operation panicked; it stays pending in the store");
                }
            }
        }
    }

    /// Wakes the operations of this instance that wait between attempts, to
    /// look again whether they are still needed.
    pub(crate) fn nudge(&self) {
        self.nudges
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A new pending operation, recorded now and held by this instance.
    pub(crate) fn new_operation(&self, intent: Intent<'_>) -> Operation {
        let now = self.now();
        Operation {
            id: OperationId::fresh(),
            user: intent.user.clone(),
            event: intent.event.clone(),
            account: intent.account.clone(),
            provider: intent.provider,
            kind: intent.kind,
            // Lowercase dashless hex: a valid Google client-chosen id and CalDAV resource name.
            idempotency_key: uuid::Uuid::new_v4().simple().to_string(),
            details: intent.details.clone(),
            version: crate::model::FIRST_VERSION,
            uncertain: false,
            taken_up: false,
            invites: false,
            changed_fields: Vec::new(),
            target: intent.target,
            status: crate::operations::OperationStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            lease_owner: Some(self.instance.clone()),
            lease_until: Some(self.lease_from(now)),
            result: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// What one new operation is to do: see [`Engine::new_operation`].
pub(crate) struct Intent<'a> {
    /// The user it acts for.
    pub(crate) user: &'a UserId,
    /// The synced event it belongs to.
    pub(crate) event: &'a EventId,
    /// The account it acts on.
    pub(crate) account: &'a AccountId,
    /// The account's provider.
    pub(crate) provider: Provider,
    /// Create, update or delete.
    pub(crate) kind: crate::operations::OperationKind,
    /// The details to write.
    pub(crate) details: &'a crate::model::EventDetails,
    /// For an update or delete, the provider event known now.
    pub(crate) target: Option<crate::model::ProviderEventRef>,
}

/// The longest the engine waits before trying an operation again, whatever
/// a provider's Retry-After asks.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `wait` after `now`, a wait longer than [`LONGEST_WAIT`] counting as that.
pub(crate) fn later(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    let span = chrono::Duration::from_std(wait.min(LONGEST_WAIT)).unwrap_or_default();
    now + span
}

/// Whether an account takes part in sync (connected; `error` accounts are
/// skipped until refreshSync brings them back).
pub(crate) fn is_connected(record: &AccountRecord) -> bool {
    record.account.sync_status == SyncStatus::Connected
}
