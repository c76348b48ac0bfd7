//! Every provider call goes through one door: each of connect, refresh,
//! revoke, validate, create, update, delete and list is counted in the
//! provider-call metrics and cut off at the call timeout.
//!
//! A provider that never answers the call under test stands behind the
//! sandbox. Time is paused, so the call timeout passes as soon as nothing
//! else can run: the only way the stalled call ends is the engine dropping
//! it, which the stall records.

use super::support::{event, start_of_test, tuesday, user};
use async_trait::async_trait;
use calsync::clock::ManualClock;
use calsync::engine::{PROVIDER_CALLS, PROVIDER_FAILURES, ProviderCall};
use calsync::model::{EventDetails, Provider, ProviderEventRef, UserId};
use calsync::operations::RetryPolicy;
use calsync::providers::sandbox::Sandbox;
use calsync::providers::{
    AccountProvider, CalendarProvider, Connection, Credentials, ProviderResult, Providers,
    Revocation, Session, WriteContext,
};
use calsync::schedule::ProviderEvent;
use calsync::store::SqliteStore;
use calsync::{CalendarSync, Config};
use chrono::{DateTime, Utc};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::{Map, json};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How long one call may take in these tests.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A provider that answers as `inner` does, except for the call it is told
/// to stall: that one never answers.
struct Stall {
    inner: Arc<dyn CalendarProvider>,
    stalled: Mutex<Option<ProviderCall>>,
    /// Stalled calls that started.
    entered: AtomicU32,
    started: Notify,
    /// Stalled calls that were dropped unanswered (cut off).
    dropped: Arc<(AtomicU32, Notify)>,
}

/// Counts a stalled call as dropped when its future goes.
struct DropCount(Arc<(AtomicU32, Notify)>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        self.0.1.notify_one();
    }
}

impl Stall {
    fn new(inner: Arc<dyn CalendarProvider>) -> Stall {
        Stall {
            inner,
            stalled: Mutex::new(None),
            entered: AtomicU32::new(0),
            started: Notify::new(),
            dropped: Arc::new((AtomicU32::new(0), Notify::new())),
        }
    }

    fn stall(&self, call: ProviderCall) {
        *self.stalled.lock().expect("lock") = Some(call);
    }

    /// Never returns when `call` is the stalled one.
    async fn hold(&self, call: ProviderCall) {
        if *self.stalled.lock().expect("lock") == Some(call) {
            self.entered.fetch_add(1, Ordering::SeqCst);
            let _counted = DropCount(self.dropped.clone());
            self.started.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait]
impl AccountProvider for Stall {
    fn provider(&self) -> Provider {
        self.inner.provider()
    }

    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        self.hold(ProviderCall::Connect).await;
        self.inner.connect(credentials).await
    }

    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials> {
        self.hold(ProviderCall::Refresh).await;
        self.inner.refresh(credentials).await
    }

    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<Revocation> {
        self.hold(ProviderCall::Revoke).await;
        self.inner.revoke(credentials).await
    }

    async fn validate(&self, session: &Session) -> ProviderResult<()> {
        self.hold(ProviderCall::Validate).await;
        self.inner.validate(session).await
    }
}

#[async_trait]
impl CalendarProvider for Stall {
    async fn create_event(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        self.hold(ProviderCall::Create).await;
        self.inner.create_event(session, event, context).await
    }

    async fn find_created(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        self.hold(ProviderCall::Find).await;
        self.inner.find_created(session, context).await
    }

    async fn update_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        self.hold(ProviderCall::Update).await;
        self.inner
            .update_event(session, target, event, changed, context)
            .await
    }

    async fn delete_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        context: &WriteContext,
    ) -> ProviderResult<()> {
        self.hold(ProviderCall::Delete).await;
        self.inner.delete_event(session, target, context).await
    }

    async fn list_events(
        &self,
        session: &Session,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ProviderResult<Vec<ProviderEvent>> {
        self.hold(ProviderCall::List).await;
        self.inner.list_events(session, start, end).await
    }
}

struct World {
    sync: CalendarSync,
    clock: Arc<ManualClock>,
    stall: Arc<Stall>,
    /// The sandbox behind the stall, for faults.
    google: Arc<calsync::providers::sandbox::SandboxProvider>,
    metrics: Snapshotter,
    ada: UserId,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(metrics: Snapshotter) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("calsync.db"), "CalendarSync.")
            .await
            .expect("store");
        let clock = Arc::new(ManualClock::new(start_of_test()));
        let sandbox = Sandbox::with_clock(clock.clone());
        let google = sandbox.get(Provider::Google).clone();
        let stall = Arc::new(Stall::new(google.clone()));
        let config = Config {
            call_timeout: CALL_TIMEOUT,
            // Long enough that an answer waits for the call timeout.
            answer_within: Duration::from_secs(3600),
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::quick()
            },
            ..Config::quick()
        };
        let sync = CalendarSync::builder(Arc::new(store))
            .providers(Providers::new().with(stall.clone() as Arc<dyn CalendarProvider>))
            .clock(clock.clone())
            .config(config)
            .build();
        World {
            sync,
            clock,
            stall,
            google,
            metrics,
            ada: user("ada"),
            _dir: dir,
        }
    }

    fn credentials() -> Credentials {
        serde_json::from_value(json!({
            "access_token": "google-access",
            "refresh_token": "google-refresh",
            "expires_in": 3600,
            "email": "ada@google.example",
        }))
        .expect("credentials")
    }

    async fn connect(&self) -> calsync::model::Account {
        self.sync
            .connect_account(&self.ada, "google", &World::credentials())
            .await
            .expect("connect")
    }

    /// Google's calls and failures of each kind counted since the last look.
    fn counted(&self) -> (u64, u64, u64) {
        let (mut ok, mut failed, mut timeouts) = (0, 0, 0);
        for (key, _, _, value) in self.metrics.snapshot().into_vec() {
            let DebugValue::Counter(count) = value else {
                continue;
            };
            let key = key.key();
            let label = |name: &str| {
                key.labels()
                    .find(|label| label.key() == name)
                    .map(|label| label.value().to_owned())
            };
            if label("provider").as_deref() != Some("google") {
                continue;
            }
            match (key.name(), label("outcome").as_deref()) {
                (PROVIDER_CALLS, Some("ok")) => ok += count,
                (PROVIDER_CALLS, Some("error")) => failed += count,
                (PROVIDER_FAILURES, _) if label("kind").as_deref() == Some("timeout") => {
                    timeouts += count
                }
                _ => {}
            }
        }
        (ok, failed, timeouts)
    }
}

/// Runs `action` with `call` stalled, and checks that the stalled call was
/// made once, dropped when the call timeout passed, and counted once as a
/// failed call of kind `timeout`.
///
/// A watchdog of a day (paused time) stands only between the stalled call's
/// start and its end: store reads and writes happen on other threads, and
/// paused time jumps to the next timer while they run, so no timer may wait
/// across them.
async fn stalled(world: &World, call: ProviderCall, action: impl std::future::Future<Output = ()>) {
    let name = call.as_str();
    world.counted();
    world.stall.stall(call);
    let run = async {
        action.await;
        world.sync.settle().await;
    };
    tokio::pin!(run);
    let mut finished = false;
    tokio::select! {
        biased;
        () = world.stall.started.notified() => {}
        () = &mut run => panic!("the action ended without a {name} call"),
    }
    let started = tokio::time::Instant::now();
    tokio::select! {
        biased;
        () = world.stall.dropped.1.notified() => {}
        () = &mut run => finished = true,
        () = tokio::time::sleep(Duration::from_secs(24 * 3600)) => {
            panic!("the {name} call was never cut off")
        }
    }
    assert_eq!(
        started.elapsed(),
        CALL_TIMEOUT,
        "{name} cut off at the call timeout"
    );
    if !finished {
        run.await;
    }
    assert_eq!(world.stall.entered.load(Ordering::SeqCst), 1, "{name}");
    assert_eq!(world.stall.dropped.0.load(Ordering::SeqCst), 1, "{name}");
    assert_eq!(world.counted(), (0, 1, 1), "{name} counted");
}

async fn world() -> (World, metrics::LocalRecorderGuard<'static>) {
    // The recorder lives for the test binary; each test reads its own
    // counters through its snapshotter, on its own thread.
    let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
    let guard = metrics::set_default_local_recorder(recorder);
    (World::new(recorder.snapshotter()).await, guard)
}

#[tokio::test(start_paused = true)]
async fn connect_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    stalled(&world, ProviderCall::Connect, async {
        let refused = world
            .sync
            .connect_account(&world.ada, "google", &World::credentials())
            .await;
        assert!(
            matches!(refused, Err(calsync::Error::ProviderUnreachable { .. })),
            "{refused:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn refresh_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    // The access token now expires within the refresh margin: the next call refreshes first.
    world.clock.advance(chrono::Duration::minutes(58));
    stalled(&world, ProviderCall::Refresh, async {
        let unreachable = world.sync.refresh_sync(&world.ada, &google.id).await;
        assert!(
            matches!(unreachable, Err(calsync::Error::ProviderUnreachable { .. })),
            "{unreachable:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn revoke_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    stalled(&world, ProviderCall::Revoke, async {
        let account = world
            .sync
            .disconnect_account(&world.ada, &google.id)
            .await
            .expect("disconnect");
        assert_eq!(
            account.account.sync_status,
            calsync::model::SyncStatus::Disconnected
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn validate_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    stalled(&world, ProviderCall::Validate, async {
        let unreachable = world.sync.refresh_sync(&world.ada, &google.id).await;
        assert!(
            matches!(unreachable, Err(calsync::Error::ProviderUnreachable { .. })),
            "{unreachable:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn create_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    stalled(&world, ProviderCall::Create, async {
        // Answered failed, or pending when the answer deadline passed while
        // the failure was being recorded: the call itself is what is checked.
        let _ = world
            .sync
            .commit(
                &world.ada,
                &event("Sync", tuesday(9), 30),
                &[google.id.clone()],
            )
            .await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn update_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    let committed = world
        .sync
        .commit(
            &world.ada,
            &event("Sync", tuesday(9), 30),
            &[google.id.clone()],
        )
        .await
        .expect("commit");
    world.sync.settle().await;
    let changes: Map<String, serde_json::Value> =
        serde_json::from_value(json!({"location": "Room 4"})).expect("changes");
    stalled(&world, ProviderCall::Update, async {
        world
            .sync
            .update(&world.ada, &committed.synced_event.internal_id, &changes)
            .await
            .expect("update answers");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn delete_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    let committed = world
        .sync
        .commit(
            &world.ada,
            &event("Sync", tuesday(9), 30),
            &[google.id.clone()],
        )
        .await
        .expect("commit");
    world.sync.settle().await;
    stalled(&world, ProviderCall::Delete, async {
        world
            .sync
            .cancel(&world.ada, &committed.synced_event.internal_id)
            .await
            .expect("cancel answers");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn list_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    stalled(&world, ProviderCall::List, async {
        let draft = super::support::draft("d1", tuesday(14), 60);
        let report = world
            .sync
            .detect_conflicts(&world.ada, &draft)
            .await
            .expect("detectConflicts answers");
        assert_eq!(report.unknown_accounts.len(), 1);
        assert_eq!(report.unknown_accounts[0].account, google.id);
    })
    .await;
}

/// A find comes from a sweep: a cancel after a create whose first answer was
/// lost looks for a late copy once the late-delivery wait has passed.
#[tokio::test(start_paused = true)]
async fn find_is_counted_and_cut_off() {
    let (world, _recorder) = world().await;
    let google = world.connect().await;
    world
        .google
        .fail_next(1, calsync::providers::sandbox::FaultKind::Timeout);
    let committed = world
        .sync
        .commit(
            &world.ada,
            &event("Sync", tuesday(9), 30),
            &[google.id.clone()],
        )
        .await
        .expect("commit");
    world.sync.settle().await;
    let span = |wait: Duration| chrono::Duration::from_std(wait).expect("span");
    // The first attempt's answer was lost; the create is parked, then done.
    world.clock.advance(span(Duration::from_secs(60)));
    world.sync.resume_operations().await.expect("resume");
    world
        .sync
        .cancel(&world.ada, &committed.synced_event.internal_id)
        .await
        .expect("cancel");
    world.sync.settle().await;
    world
        .clock
        .advance(span((CALL_TIMEOUT * 2).max(Duration::from_secs(60))));
    stalled(&world, ProviderCall::Find, async {
        world.sync.resume_operations().await.expect("resume");
    })
    .await;
}
