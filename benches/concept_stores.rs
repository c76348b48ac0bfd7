//! Concept-level throughput on each store: `commit` of one event to two
//! sandbox accounts, and `get_synced_event`, through [`CalendarSync`] on the
//! embedded SQLite store and on MongoDB (feature `mongodb`, when
//! `CALSYNC_TEST_MONGODB_URI` names a server). Run by hand:
//!
//! ```text
//! eval "$(scripts/mongo-server.sh start)"
//! cargo bench --features mongodb --bench concept_stores
//! scripts/mongo-server.sh stop
//! ```
//!
//! Each action is measured with `IN_FLIGHT` calls at once, as a busy service
//! sees it; the sandbox providers answer at once, so the store sets the pace.

use calsync::model::{AccountId, EventDetails, EventId, Provider, UserId};
use calsync::providers::Credentials;
use calsync::providers::sandbox::Sandbox;
use calsync::store::{DEFAULT_PREFIX, SqliteStore, Store};
use calsync::{CalendarSync, Config};
use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::runtime::Runtime;

/// Synced events committed before measuring, so reads hit a realistic store.
const EVENTS: usize = 500;
/// Calls in flight at once.
const IN_FLIGHT: usize = 32;

/// A concept on `store` with a user who has a Google and an Outlook account.
struct Bed {
    sync: CalendarSync,
    user: UserId,
    accounts: [AccountId; 2],
    events: Vec<EventId>,
}

fn details(n: usize) -> EventDetails {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 24, 14, 0, 0)
        .single()
        .expect("valid date")
        + Duration::minutes((n % 10_000) as i64 * 30);
    let mut event = EventDetails::timed("Planning", start, start + Duration::hours(1));
    event.time_zone = Some("America/New_York".to_owned());
    event.location = Some("Room 4".to_owned());
    event
}

async fn bed(store: Arc<dyn Store>) -> Bed {
    let sandbox = Sandbox::new();
    let sync = CalendarSync::builder(store)
        .providers(sandbox.providers())
        .config(Config::quick())
        .build();
    let user = UserId::from("bench-user");
    let mut accounts = Vec::new();
    for provider in [Provider::Google, Provider::Outlook] {
        let mut credentials = Credentials::default();
        credentials.set_str("access_token", format!("bench-{provider}"));
        let account = sync
            .connect_account(&user, provider.as_str(), &credentials)
            .await
            .expect("connect");
        accounts.push(account.id);
    }
    let accounts: [AccountId; 2] = accounts.try_into().expect("two accounts");
    let mut events = Vec::with_capacity(EVENTS);
    for n in 0..EVENTS {
        let outcome = sync
            .commit(&user, &details(n), &accounts)
            .await
            .expect("seed commit");
        events.push(outcome.synced_event.internal_id);
    }
    Bed {
        sync,
        user,
        accounts,
        events,
    }
}

/// Runs `IN_FLIGHT` calls of `call` as concurrent tasks and waits for all.
async fn in_flight<F, Fut>(call: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..IN_FLIGHT).map(|i| tokio::spawn(call(i))).collect();
    for task in futures::future::join_all(tasks).await {
        task.expect("a call panicked");
    }
}

fn bench_backend(c: &mut Criterion, runtime: &Runtime, name: &str, store: Arc<dyn Store>) {
    let bed = Arc::new(runtime.block_on(bed(store)));
    let counter = Arc::new(AtomicUsize::new(0));
    let mut group = c.benchmark_group(format!("concept/{name}"));
    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    group.bench_function(format!("commit to 2 accounts x{IN_FLIGHT}"), |b| {
        b.to_async(runtime).iter(|| {
            let first = counter.fetch_add(IN_FLIGHT, Ordering::Relaxed);
            let bed = bed.clone();
            in_flight(move |i| {
                let bed = bed.clone();
                async move {
                    let outcome = bed
                        .sync
                        .commit(&bed.user, &details(first + i), &bed.accounts)
                        .await
                        .expect("commit");
                    assert_eq!(outcome.synced_event.accounts.len(), 2, "both accounts");
                }
            })
        })
    });
    group.bench_function(format!("get_synced_event x{IN_FLIGHT}"), |b| {
        b.to_async(runtime).iter(|| {
            let first = counter.fetch_add(IN_FLIGHT, Ordering::Relaxed);
            let bed = bed.clone();
            in_flight(move |i| {
                let bed = bed.clone();
                async move {
                    let id = &bed.events[(first + i) % EVENTS];
                    bed.sync
                        .get_synced_event(&bed.user, id)
                        .await
                        .expect("get")
                        .expect("committed");
                }
            })
        })
    });
    group.finish();
    bed.sync.shutdown();
}

fn backends(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let directory = tempfile::tempdir().expect("a temporary directory");
    let sqlite = runtime
        .block_on(SqliteStore::open(
            directory.path().join("bench.db"),
            DEFAULT_PREFIX,
        ))
        .expect("open SQLite");
    bench_backend(c, &runtime, "sqlite", Arc::new(sqlite));

    #[cfg(feature = "mongodb")]
    match std::env::var("CALSYNC_TEST_MONGODB_URI") {
        Ok(uri) => {
            let database = format!(
                "csconcept{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            let mongo = runtime
                .block_on(calsync::store::MongoStore::connect(
                    &uri,
                    Some(&database),
                    DEFAULT_PREFIX,
                ))
                .expect("connect to MongoDB");
            bench_backend(c, &runtime, "mongodb", Arc::new(mongo));
        }
        Err(_) => eprintln!("skipping MongoDB: CALSYNC_TEST_MONGODB_URI is not set"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(5));
    targets = backends
}
criterion_main!(benches);
