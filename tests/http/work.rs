//! Work per request bounded by what was asked: a dense series read from a
//! provider costs its window, not its age; a request that needs more than
//! its budget is refused naming the field; scheduling work runs off the
//! threads that serve other requests, and stops when nobody waits for it.

use super::support::*;
use crate::patience::{NEVER, patient};
use calsync::concept::SchedulingWork;
use calsync::model::Provider;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::watch;

/// A series of one-second events every second since 2000, as a provider may
/// hold one: hundreds of millions of occurrences before any window of today.
fn every_second_since_2000() -> Value {
    json!({
        "eventId": "ticker",
        "title": "Ticker",
        "start": "2000-01-01T00:00:00Z",
        "end": "2000-01-01T00:00:01Z",
        "recurrence": ["RRULE:FREQ=SECONDLY"]
    })
}

/// A series that no window can skip ahead in (its COUNT runs from 1900):
/// four billion occurrences, more than any test could wait for.
fn endless_counted_series() -> Value {
    json!({
        "eventId": "counted",
        "title": "Counted",
        "start": "1900-01-01T00:00:00Z",
        "end": "1900-01-01T00:00:01Z",
        "recurrence": ["RRULE:FREQ=SECONDLY;COUNT=4000000000"]
    })
}

async fn seeded(server: &Server, user: &str, event: Value) -> Value {
    let google = server.connect(user, Provider::Google).await;
    let (code, seeded) = server
        .post(
            "/api/sandbox/seed",
            json!({"user": user, "account": google["id"], "events": [event]}),
        )
        .await;
    assert_eq!((code, seeded["added"].clone()), (200, json!(1)), "{seeded}");
    google
}

/// Far longer than any step here takes: only a hang reaches it, and then
/// the test fails instead of waiting for ever.
const HANG: Duration = Duration::from_secs(300);

/// The scheduling work once a job was stopped.
async fn stopped_once(seen: &mut watch::Receiver<SchedulingWork>) -> SchedulingWork {
    tokio::time::timeout(HANG, seen.wait_for(|work| work.stopped == 1))
        .await
        .expect("the work stops")
        .map(|work| *work)
        .expect("the concept is alive")
}

fn draft() -> Value {
    let mut draft = event_json("Project sync", next_tuesday(9), 30);
    draft["id"] = json!("draft-1");
    draft
}

/// A server over a concept with `work_limit`, and a watch on its scheduling work.
async fn server_with(
    work_limit: u64,
    request_timeout: Duration,
) -> (Server, watch::Receiver<SchedulingWork>) {
    let mut seen = None;
    let config = calsync::Config {
        work_limit,
        ..patient()
    };
    let server = Server::start_configured(config, |state| {
        state.request_timeout = request_timeout;
        seen = Some(state.sync.scheduling_work());
    })
    .await;
    (server, seen.expect("the state was adjusted"))
}

#[tokio::test]
async fn a_dense_series_costs_its_window_not_its_age() {
    let (server, seen) = server_with(calsync::schedule::work::DEFAULT_WORK_LIMIT, NEVER).await;
    seeded(&server, "ada", every_second_since_2000()).await;
    let report = server
        .ok("detectConflicts", json!({"user": "ada", "draft": draft()}))
        .await;
    // Every second of the draft's half hour is busy: the series is not cut
    // down to its first occurrence.
    let conflicts = report["conflicts"].as_array().expect("conflicts");
    assert!(conflicts.len() >= 1800, "{} conflicts", conflicts.len());
    // The window read is the draft's day and a day each side, expanded two
    // more days each side for moved instances: about 520,000 seconds.
    // Walking from 2000 would be 800 million.
    let spent = seen.borrow().last_finished_spent;
    assert!(spent < 600_000, "{spent} units of work");
    server.stop().await;
}

#[tokio::test]
async fn a_request_needing_more_than_its_budget_is_422_naming_the_field() {
    let (server, _) = server_with(calsync::schedule::work::DEFAULT_WORK_LIMIT, NEVER).await;
    seeded(&server, "ada", every_second_since_2000()).await;
    server
        .ok("detectConflicts", json!({"user": "ada", "draft": draft()}))
        .await;
    // Sixty days of a series every second are five million occurrences.
    let (status, body) = server
        .call(
            "suggestReschedules",
            json!({"user": "ada", "draft": draft(), "constraints": {"maxDays": 60}}),
        )
        .await;
    assert_error(status, &body, 422, "too_much_work");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.starts_with("constraints.maxDays: "), "{message}");
    assert!(message.contains("\"ticker\""), "names the event: {message}");
    // Asking for less time is answered.
    server
        .ok(
            "suggestReschedules",
            json!({"user": "ada", "draft": draft(), "constraints": {"maxDays": 1}}),
        )
        .await;
    server.stop().await;
}

/// A request's timeout drops the future that waits for its answer: the
/// work stops then. Dropped here at a known point, once the work runs, as
/// the timeout drops it (the 504 itself is `limits`' test).
#[tokio::test]
async fn a_request_whose_answer_nobody_waits_for_stops_its_work() {
    let mut sync = None;
    let config = calsync::Config {
        work_limit: u64::MAX,
        ..patient()
    };
    let server = Server::start_configured(config, |state| sync = Some(state.sync.clone())).await;
    let sync = sync.expect("the state was adjusted");
    let mut seen = sync.scheduling_work();
    seeded(&server, "ada", endless_counted_series()).await;
    let draft: calsync::model::DraftEvent = serde_json::from_value(draft()).expect("a draft");
    let user = calsync::model::UserId::from("ada");
    let mut detect = Box::pin(sync.detect_conflicts(&user, &draft));
    tokio::select! {
        answer = &mut detect => panic!("four billion occurrences expanded: {answer:?}"),
        started = seen.wait_for(|work| work.running == 1) => {
            started.expect("the concept is alive");
        }
    }
    drop(detect);
    // The work stops at its next check: it never outlives the request by
    // more than a few thousand units.
    let stopped = stopped_once(&mut seen).await;
    assert_eq!(stopped.running, 0);
    assert!(
        stopped.last_stopped_spent < 4_000_000_000,
        "stopped after {} units",
        stopped.last_stopped_spent
    );
    server.stop().await;
}

/// On a single-threaded runtime, work pinning the thread that serves would
/// leave every other request unanswered; scheduling work runs beside it.
#[tokio::test(flavor = "current_thread")]
async fn other_requests_are_served_while_scheduling_work_runs() {
    let (server, mut seen) = server_with(u64::MAX, NEVER).await;
    seeded(&server, "ada", endless_counted_series()).await;
    let heavy = {
        let client = server.client.clone();
        let url = format!("{}/api/CalendarSync/detectConflicts", server.base);
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(KEY)
                .json(&json!({"user": "ada", "draft": draft()}))
                .send()
                .await
        })
    };
    tokio::time::timeout(HANG, seen.wait_for(|work| work.running == 1))
        .await
        .expect("the work starts")
        .expect("the concept is alive");
    let health = server
        .client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);
    let status = server.ok("getAccountStatus", json!({"user": "ada"})).await;
    assert_eq!(status["accounts"].as_array().map(Vec::len), Some(1));
    assert_eq!(seen.borrow().running, 1, "the heavy request still runs");
    // Its client leaves: the work stops.
    heavy.abort();
    let stopped = stopped_once(&mut seen).await;
    assert_eq!(stopped.running, 0);
    server.stop().await;
}
