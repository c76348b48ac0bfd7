//! A concept on a fresh store (an embedded file, or a database of its own on
//! the MongoDB-wire server named by `CALSYNC_TEST_MONGODB_URI`) and sandbox
//! providers, with a clock the test moves, and the spec's invariants checked
//! on demand.
//!
//! [`on_every_store!`] turns test bodies `async fn name(h: Harness)` into one
//! `#[tokio::test]` per backend: `sqlite::name` and `mongodb::name`.
//!
//! Outcomes do not depend on how fast the machine is: answers wait for every
//! provider ([`patient`]), a provider that must not have answered yet is held
//! by the sandbox until the test releases it, and the test waits for the
//! events it needs (a call held, an operation recorded) rather than for time.
//! An answer that must show a held provider as pending beside others comes
//! when the test moves the manual clock past the answer deadline, once the
//! others are recorded ([`Harness::answered_when`]).

pub use crate::patience::{GIVE_UP, patient};
use calsync::clock::ManualClock;
use calsync::model::{
    Account, AccountId, DraftConstraints, DraftEvent, DraftId, EventDetails, EventId, Provider,
    SyncedEvent, UserId,
};
use calsync::operations::OperationStatus;
use calsync::providers::Credentials;
use calsync::providers::sandbox::{Sandbox, SandboxProvider};
use calsync::store::{SqliteStore, Store};
use calsync::vault::Vault;
use calsync::{CalendarSync, Config};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// [`patient`], except that commit, update and cancel answer at once with
/// each operation as the store records it then: a provider the test holds
/// is answered as pending (with any other still at work), and the test
/// waits itself for what it needs done.
pub fn answering_at_once() -> Config {
    Config {
        answer_within: std::time::Duration::ZERO,
        ..patient()
    }
}

/// How long, on the manual clock, an answer waits when it must show a
/// provider the test holds as pending beside others that answered; the test
/// moves the clock this far once the others are recorded.
pub const ANSWER_BESIDE_HELD: std::time::Duration = std::time::Duration::from_secs(60);

/// [`patient`], except that commit, update and cancel answer after
/// [`ANSWER_BESIDE_HELD`] on the manual clock.
pub fn answering_beside_held() -> Config {
    Config {
        answer_within: ANSWER_BESIDE_HELD,
        ..patient()
    }
}

/// Monday 2026-11-23, 07:00 in New York.
pub fn start_of_test() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid instant")
}

/// Tuesday 2026-11-24 at `hour`:00 in New York (EST, UTC-5).
pub fn tuesday(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, hour + 5, 0, 0)
        .single()
        .expect("valid instant")
}

/// Generates, for each test body `async fn name(h: Harness)` of the calling
/// module, `sqlite::name` on an embedded file and `mongodb::name` on a
/// MongoDB database of its own (skipped with a message when no server is
/// configured, failing under CI).
macro_rules! on_every_store {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Harness::new().await).await;
                }
            )+
        }

        #[cfg(feature = "mongodb")]
        mod mongodb {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(h) = super::Harness::on_mongodb().await {
                        super::$name(h).await;
                    }
                }
            )+
        }
    };
}
pub(crate) use on_every_store;

/// Where a harness keeps its store; opening it again reaches the same data.
#[derive(Clone, Debug)]
pub enum Backend {
    /// An embedded file.
    Sqlite(PathBuf),
    /// A database of its own on the test MongoDB server.
    #[cfg(feature = "mongodb")]
    MongoDb { uri: String, database: String },
}

impl Backend {
    /// A new connection to the store, as another process would open it.
    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(path) => Arc::new(
                SqliteStore::open(path, "CalendarSync.")
                    .await
                    .expect("store"),
            ),
            #[cfg(feature = "mongodb")]
            Backend::MongoDb { uri, database } => Arc::new(
                calsync::store::MongoStore::connect(uri, Some(database), "CalendarSync.")
                    .await
                    .expect("MongoDB store"),
            ),
        }
    }
}

pub struct Harness {
    pub sync: CalendarSync,
    pub sandbox: Sandbox,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub backend: Backend,
    pub config: Config,
    vault: Vault,
    _dir: tempfile::TempDir,
    counter: AtomicU32,
}

impl Harness {
    /// A harness on a fresh embedded file.
    pub async fn new() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend = Backend::Sqlite(dir.path().join("calsync.db"));
        Harness::on(backend, dir).await
    }

    /// A harness on a fresh database of the test MongoDB server; `None`
    /// (after saying so) when none is configured outside CI.
    #[cfg(feature = "mongodb")]
    pub async fn on_mongodb() -> Option<Harness> {
        let uri = crate::store::mongodb::test_uri()?;
        let database = crate::store::mongodb::unique_database();
        let dir = tempfile::tempdir().expect("temp dir");
        Some(Harness::on(Backend::MongoDb { uri, database }, dir).await)
    }

    async fn on(backend: Backend, dir: tempfile::TempDir) -> Harness {
        let config = patient();
        let clock = Arc::new(ManualClock::new(start_of_test()));
        let sandbox = Sandbox::with_clock(clock.clone());
        let store = backend.open().await;
        let vault = Vault::random();
        let sync = build(&store, &sandbox, &clock, &config, &vault);
        Harness {
            vault,
            sync,
            sandbox,
            clock,
            store,
            backend,
            config,
            _dir: dir,
            counter: AtomicU32::new(0),
        }
    }

    /// The same harness with the concept rebuilt to behave as `config` says.
    pub fn configured(mut self, config: Config) -> Harness {
        self.sync.shutdown();
        self.config = config;
        self.sync = self.instance(self.store.clone());
        self
    }

    /// The embedded store's file; only SQLite harnesses have one.
    pub fn path(&self) -> &Path {
        match &self.backend {
            Backend::Sqlite(path) => path,
            #[cfg(feature = "mongodb")]
            Backend::MongoDb { .. } => panic!("a MongoDB harness has no store file"),
        }
    }

    /// A concept over `store` with this harness's providers, clock, vault and
    /// settings: another process sharing the store.
    pub fn instance(&self, store: Arc<dyn Store>) -> CalendarSync {
        build(
            &store,
            &self.sandbox,
            &self.clock,
            &self.config,
            &self.vault,
        )
    }

    /// A new concept over the same store and the same providers, as after a
    /// restart.
    pub async fn reopen(&mut self) {
        self.sync.shutdown();
        self.store = self.backend.open().await;
        self.sync = self.instance(self.store.clone());
    }

    pub fn provider(&self, provider: Provider) -> &Arc<SandboxProvider> {
        self.sandbox.get(provider)
    }

    pub fn credentials(&self, provider: Provider) -> Credentials {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let value = json!({
            "access_token": format!("{provider}-access-{n}"),
            "refresh_token": format!("{provider}-refresh-{n}"),
            "expires_in": 3600,
            "email": format!("user{n}@{provider}.example"),
        });
        serde_json::from_value(value).expect("credentials")
    }

    pub async fn connect(&self, user: &UserId, provider: Provider) -> Account {
        let credentials = self.credentials(provider);
        self.sync
            .connect_account(user, provider.as_str(), &credentials)
            .await
            .expect("connect")
    }

    /// Adds existing events to the user's sandbox account, as another client
    /// would; answers how many were added.
    pub async fn seed_sandbox(
        &self,
        user: &UserId,
        account: &AccountId,
        events: Vec<calsync::schedule::ProviderEvent>,
    ) -> calsync::Result<usize> {
        let account = self.sync.get_account(user, account).await?;
        Ok(self.sandbox.seed(&account, events))
    }

    /// Runs `action` (a commit, update or cancel under
    /// [`answering_beside_held`]) and, once `ready` has ended (the providers
    /// not held are recorded), moves the clock past the answer deadline, so
    /// that the answer comes with the held ones pending.
    pub async fn answered_when<T>(
        &self,
        action: impl std::future::Future<Output = T>,
        ready: impl std::future::Future<Output = ()>,
    ) -> T {
        let (answer, ()) = tokio::join!(action, async {
            ready.await;
            self.clock
                .advance(Duration::from_std(ANSWER_BESIDE_HELD).expect("span"));
        });
        answer
    }

    /// Waits until a synced event of `user` is on `account` and every
    /// operation of it there has ended (on MongoDB the synced event and the
    /// operation are two writes, so the first alone says too little).
    pub async fn until_recorded_on(&self, user: &UserId, account: &AccountId) {
        let event = self.until_synced_on(user, account).await;
        self.until_done(&event.internal_id, account).await;
    }

    /// Waits until `count` operations of `event` on `account` are recorded
    /// and none of them is pending (looking again after each short pause).
    pub async fn until_finished(&self, event: &EventId, account: &AccountId, count: usize) {
        loop {
            let operations = self
                .store
                .operations_of_event(event)
                .await
                .expect("operations");
            let on_account: Vec<_> = operations
                .iter()
                .filter(|op| &op.account == account)
                .collect();
            if on_account.len() >= count
                && on_account
                    .iter()
                    .all(|op| op.status != OperationStatus::Pending)
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Waits until every operation of `event` on `account` has ended, as the
    /// store records it (looking again after each short pause).
    pub async fn until_done(&self, event: &EventId, account: &AccountId) {
        loop {
            let operations = self
                .store
                .operations_of_event(event)
                .await
                .expect("operations");
            if operations
                .iter()
                .filter(|op| &op.account == account)
                .all(|op| op.status != OperationStatus::Pending)
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Waits until the store holds a synced event of `user` on `account`
    /// (looking again after each short pause); answers it.
    pub async fn until_synced_on(&self, user: &UserId, account: &AccountId) -> SyncedEvent {
        loop {
            let events = self
                .store
                .synced_events_of_user(user)
                .await
                .expect("events");
            if let Some(event) = events.into_iter().find(|e| e.accounts.contains(account)) {
                return event;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The events a sandbox calendar holds for an account.
    pub fn events_on(&self, account: &Account) -> Vec<calsync::providers::sandbox::StoredEvent> {
        self.provider(account.provider)
            .events(account.calendar_id.as_deref().expect("calendar id"))
    }

    /// The spec's invariants, for every user given.
    pub async fn assert_invariants(&self, users: &[&UserId]) {
        for user in users {
            let accounts: BTreeSet<AccountId> = self
                .store
                .accounts_of_user(user)
                .await
                .expect("accounts")
                .into_iter()
                .map(|record| {
                    assert_eq!(
                        &record.account.user, *user,
                        "every account belongs to exactly one user"
                    );
                    record.account.id
                })
                .collect();
            for event in self
                .store
                .synced_events_of_user(user)
                .await
                .expect("events")
            {
                assert!(
                    !event.provider_ids.is_empty(),
                    "every synced event has at least one provider id"
                );
                let keys: BTreeSet<AccountId> = event.provider_ids.keys().cloned().collect();
                assert_eq!(keys, event.accounts, "providerIds keys match accounts");
                assert!(
                    event.accounts.is_subset(&accounts),
                    "a synced event's accounts are its user's"
                );
                for (account, reference) in &event.provider_ids {
                    let record = self
                        .store
                        .get_account(account)
                        .await
                        .expect("get")
                        .expect("account");
                    assert_eq!(record.account.provider, reference.provider);
                }
            }
        }
    }
}

fn build(
    store: &Arc<dyn Store>,
    sandbox: &Sandbox,
    clock: &Arc<ManualClock>,
    config: &Config,
    vault: &Vault,
) -> CalendarSync {
    CalendarSync::builder(store.clone())
        .vault(vault.clone())
        .providers(sandbox.providers())
        .clock(clock.clone())
        .config(config.clone())
        .build()
}

pub fn user(name: &str) -> UserId {
    UserId::from(name)
}

pub fn event(title: &str, start: DateTime<Utc>, minutes: i64) -> EventDetails {
    let mut event = EventDetails::timed(title, start, start + Duration::minutes(minutes));
    event.time_zone = Some("America/New_York".to_owned());
    event
}

pub fn draft(id: &str, start: DateTime<Utc>, minutes: i64) -> DraftEvent {
    DraftEvent {
        id: DraftId::from(id),
        event_id: None,
        event: event("Project sync", start, minutes),
        constraints: DraftConstraints::default(),
    }
}

/// A busy event as another client would have made it.
pub fn existing(
    id: &str,
    title: &str,
    start: DateTime<Utc>,
    minutes: i64,
) -> calsync::schedule::ProviderEvent {
    serde_json::from_value(json!({
        "eventId": id,
        "uid": format!("{id}@elsewhere"),
        "title": title,
        "start": start.to_rfc3339(),
        "end": (start + Duration::minutes(minutes)).to_rfc3339(),
        "timeZone": "America/New_York",
    }))
    .expect("calendar event")
}
