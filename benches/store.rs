//! Store throughput: `get_synced_event` and `attach_provider_event` on the
//! embedded SQLite store, and on MongoDB when `CALSYNC_TEST_MONGODB_URI` is
//! set (and the `mongodb` feature is on).
//!
//! ```text
//! cargo bench --bench store
//! eval "$(scripts/mongo-server.sh start)"
//! cargo bench --features mongodb --bench store
//! ```
//!
//! Each store is measured one call at a time (latency) and with 64 calls in
//! flight at once (throughput, as a busy service sees it).

use calsync::model::{
    AccountId, EventDetails, EventId, Provider, ProviderEventRef, SyncedEvent, UserId,
};
use calsync::store::{DEFAULT_PREFIX, SqliteStore, Store};
use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::runtime::Runtime;

/// Synced events stored before measuring, so reads hit a realistic table.
const EVENTS: usize = 2_000;
/// Calls in flight in the concurrent measurements.
const IN_FLIGHT: usize = 64;

fn synced_event(n: usize) -> SyncedEvent {
    let start = Utc
        .with_ymd_and_hms(2025, 1, 7, 14, 0, 0)
        .single()
        .expect("valid date")
        + Duration::minutes(n as i64);
    let mut details = EventDetails::timed("Planning", start, start + Duration::hours(1));
    details.location = Some("Room 4".to_owned());
    details.description = Some("Quarterly planning with the whole team.".to_owned());
    SyncedEvent {
        internal_id: EventId::from(format!("event-{n}").as_str()),
        user: UserId::from(format!("user-{}", n % 50).as_str()),
        accounts: Default::default(),
        provider_ids: Default::default(),
        synced_at: start,
        event: details,
        version: 1,
    }
}

fn reference(provider: Provider, n: usize) -> ProviderEventRef {
    ProviderEventRef {
        provider,
        event_id: format!("evt{n:024}"),
        etag: Some(format!("\"{n}\"")),
        calendar_id: Some("primary".to_owned()),
        join_url: None,
        version: 1,
        pending: None,
    }
}

async fn seed(store: &dyn Store) {
    for n in 0..EVENTS {
        let event = synced_event(n);
        for (account, provider) in [("acct-g", Provider::Google), ("acct-o", Provider::Outlook)] {
            store
                .attach_provider_event(
                    &event,
                    &AccountId::from(account),
                    &reference(provider, n),
                    event.synced_at,
                )
                .await
                .expect("seed");
        }
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

fn bench_store(c: &mut Criterion, runtime: &Runtime, name: &str, store: Arc<dyn Store>) {
    runtime.block_on(seed(&*store));
    let ids: Arc<Vec<EventId>> =
        Arc::new((0..EVENTS).map(|n| synced_event(n).internal_id).collect());
    let counter = Arc::new(AtomicUsize::new(0));
    let mut group = c.benchmark_group(name);

    group.throughput(Throughput::Elements(1));
    group.bench_function("get_synced_event", |b| {
        b.to_async(runtime).iter(|| {
            let id = &ids[counter.fetch_add(1, Ordering::Relaxed) % EVENTS];
            let store = store.clone();
            async move {
                store
                    .get_synced_event(id)
                    .await
                    .expect("get")
                    .expect("seeded")
            }
        })
    });
    group.bench_function("attach_provider_event", |b| {
        b.to_async(runtime).iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let event = synced_event(n % EVENTS);
            let store = store.clone();
            async move {
                let account = AccountId::from(format!("acct-{}", n % 8).as_str());
                store
                    .attach_provider_event(
                        &event,
                        &account,
                        &reference(Provider::Apple, n),
                        event.synced_at,
                    )
                    .await
                    .expect("attach")
            }
        })
    });

    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    group.bench_function(format!("get_synced_event x{IN_FLIGHT} in flight"), |b| {
        b.to_async(runtime).iter(|| {
            let first = counter.fetch_add(IN_FLIGHT, Ordering::Relaxed);
            let (store, ids) = (store.clone(), ids.clone());
            in_flight(move |i| {
                let (store, ids) = (store.clone(), ids.clone());
                async move {
                    let id = &ids[(first + i) % EVENTS];
                    store
                        .get_synced_event(id)
                        .await
                        .expect("get")
                        .expect("seeded");
                }
            })
        })
    });
    group.bench_function(
        format!("attach_provider_event x{IN_FLIGHT} in flight"),
        |b| {
            b.to_async(runtime).iter(|| {
                let first = counter.fetch_add(IN_FLIGHT, Ordering::Relaxed);
                let store = store.clone();
                in_flight(move |i| {
                    let store = store.clone();
                    async move {
                        let n = first + i;
                        let event = synced_event(n % EVENTS);
                        let account = AccountId::from(format!("acct-{}", n % 8).as_str());
                        let reference = reference(Provider::Zoom, n);
                        store
                            .attach_provider_event(&event, &account, &reference, event.synced_at)
                            .await
                            .expect("attach");
                    }
                })
            })
        },
    );
    group.finish();
}

fn stores(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("bench.db");
    let sqlite = runtime
        .block_on(SqliteStore::open(&path, DEFAULT_PREFIX))
        .expect("open SQLite");
    bench_store(c, &runtime, "sqlite", Arc::new(sqlite));

    #[cfg(feature = "mongodb")]
    match std::env::var("CALSYNC_TEST_MONGODB_URI") {
        Ok(uri) => {
            let database = format!("csbench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            let mongo = runtime
                .block_on(calsync::store::MongoStore::connect(
                    &uri,
                    Some(&database),
                    DEFAULT_PREFIX,
                ))
                .expect("connect to MongoDB");
            bench_store(c, &runtime, "mongodb", Arc::new(mongo));
        }
        Err(_) => eprintln!("skipping MongoDB: CALSYNC_TEST_MONGODB_URI is not set"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = stores
}
criterion_main!(benches);
