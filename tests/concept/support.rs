//! A concept on a fresh embedded store and sandbox providers, with a clock
//! the test moves, and the spec's invariants checked on demand.

use calsync::clock::ManualClock;
use calsync::model::{
    Account, AccountId, DraftConstraints, DraftEvent, DraftId, EventDetails, Provider, UserId,
};
use calsync::providers::Credentials;
use calsync::providers::sandbox::{Sandbox, SandboxProvider};
use calsync::store::{SqliteStore, Store};
use calsync::vault::Vault;
use calsync::{CalendarSync, Config};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

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

pub struct Harness {
    pub sync: CalendarSync,
    pub sandbox: Sandbox,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub path: PathBuf,
    pub config: Config,
    vault: Vault,
    _dir: tempfile::TempDir,
    counter: AtomicU32,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_config(Config::quick()).await
    }

    pub async fn with_config(config: Config) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("calsync.db");
        let clock = Arc::new(ManualClock::new(start_of_test()));
        let sandbox = Sandbox::with_clock(clock.clone());
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&path, "CalendarSync.")
                .await
                .expect("store"),
        );
        let vault = Vault::random();
        let sync = build(&store, &sandbox, &clock, &config, &vault);
        Harness {
            vault,
            sync,
            sandbox,
            clock,
            store,
            path,
            config,
            _dir: dir,
            counter: AtomicU32::new(0),
        }
    }

    /// A new concept over the same store file and the same providers, as
    /// after a restart.
    pub async fn reopen(&mut self) {
        self.sync.shutdown();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&self.path, "CalendarSync.")
                .await
                .expect("store"),
        );
        self.store = store;
        self.sync = build(
            &self.store,
            &self.sandbox,
            &self.clock,
            &self.config,
            &self.vault,
        );
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
) -> calsync::schedule::CalendarEvent {
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
