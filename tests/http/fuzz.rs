//! Mutated bodies for every action, through the router in process: never a
//! 5xx, never a panic, every refusal in the `{error, kind}` shape, an
//! `invalid_input` naming the field at fault.
//!
//! The default run plays a fixed seed; `CALSYNC_FUZZ_SEED` and
//! `CALSYNC_FUZZ_CASES` replay or lengthen it (see the README).

use super::support::*;
use axum::body::Body;
use axum::http::Request;
use calsync::CalendarSync;
use calsync::http::{AppState, Auth};
use calsync::providers::sandbox::Sandbox;
use calsync::store::SqliteStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tower::ServiceExt;

/// Values that have broken parsers before: edges of numbers, times and text.
fn odd_value(rng: &mut StdRng, depth: u32) -> Value {
    let strings = [
        "",
        " ",
        "9999-12-31T23:00:00-14:00",
        "0000-01-01T00:00:00Z",
        "2025-02-30",
        "2025-01-07T14:00:00",
        "2025-01-07T14:00:00+25:00",
        "RRULE:FREQ=SECONDLY",
        "RRULE:FREQ=DAILY;COUNT=0",
        "RRULE:FREQ=YEARLY;UNTIL=99991231T000000Z",
        "EXDATE:20250101T000000Z",
        "Europe/Berlin",
        "Mars/Olympus",
        "google",
        "\u{0}",
        "\u{202e}evil",
        "a@b.c",
        "@",
        "${x}",
        "constructor",
        "__proto__",
        "null",
        "🗓",
    ];
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => Value::Bool(rng.random_bool(0.5)),
        2 => json!(rng.random::<i64>()),
        3 => json!(u64::MAX),
        4 => json!(-1.5e308),
        5 => json!(0),
        6 => json!("x".repeat(rng.random_range(1000..20_000))),
        7 if depth < 3 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| odd_value(rng, depth + 1))
                .collect(),
        ),
        8 if depth < 3 => {
            let mut object = Map::new();
            for _ in 0..rng.random_range(0..4) {
                let key = strings[rng.random_range(0..strings.len())].to_owned();
                object.insert(key, odd_value(rng, depth + 1));
            }
            Value::Object(object)
        }
        _ => json!(strings[rng.random_range(0..strings.len())]),
    }
}

/// Every (path, value) slot of `value`, objects and arrays included.
fn slots(value: &Value, path: &mut Vec<Value>, found: &mut Vec<Vec<Value>>) {
    found.push(path.clone());
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                path.push(json!(key));
                slots(inner, path, found);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                path.push(json!(index));
                slots(inner, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at_path<'a>(value: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |value, step| match step {
        Value::String(key) => value.get_mut(key.as_str()),
        Value::Number(index) => value.get_mut(index.as_u64()? as usize),
        _ => None,
    })
}

/// `body` with one to three random changes: a value replaced, a key
/// removed, an unknown key added.
fn mutate(rng: &mut StdRng, mut body: Value) -> Value {
    for _ in 0..rng.random_range(1..=3) {
        let mut found = Vec::new();
        slots(&body, &mut Vec::new(), &mut found);
        let path = found[rng.random_range(0..found.len())].clone();
        match rng.random_range(0..4) {
            0 if !path.is_empty() => {
                let (last, parent) = path.split_last().expect("not empty");
                if let (Some(Value::Object(object)), Value::String(key)) =
                    (at_path(&mut body, parent), last)
                {
                    object.remove(key);
                }
            }
            1 => {
                if let Some(Value::Object(object)) = at_path(&mut body, &path) {
                    object.insert("unexpected".to_owned(), odd_value(rng, 0));
                }
            }
            _ => {
                let replacement = odd_value(rng, 0);
                if let Some(slot) = at_path(&mut body, &path) {
                    *slot = replacement;
                }
            }
        }
    }
    body
}

#[tokio::test]
async fn mutated_bodies_never_break_the_service() {
    let seed: u64 = std::env::var("CALSYNC_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x00C0_FFEE);
    let cases: usize = std::env::var("CALSYNC_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(5000);
    println!("fuzz seed {seed}, {cases} cases (CALSYNC_FUZZ_SEED={seed} replays)");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    let sandbox = Sandbox::new();
    let sync = CalendarSync::builder(Arc::new(store))
        .providers(sandbox.providers())
        .config(calsync::Config {
            answer_within: std::time::Duration::ZERO,
            ..crate::patience::patient()
        })
        .build();
    let mut state = AppState::new(sync.clone(), Some(sandbox), Auth::keys([KEY]));
    // Every answer is awaited: an outcome never depends on how fast the
    // machine is (commits leave their provider work to run beside the
    // cases, on this same runtime).
    state.request_timeout = crate::patience::NEVER;
    let app = calsync::http::app(state);
    let call = |path: String, body: String| {
        let app = app.clone();
        async move {
            let request = Request::post(path)
                .header("authorization", format!("Bearer {KEY}"))
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            let response = app.oneshot(request).await.expect("infallible");
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (status, bytes)
        }
    };
    let (_, connected) = call(
        "/api/CalendarSync/connectAccount".into(),
        json!({"user": "ada", "provider": "google", "credentials": {"access_token": "fuzz"}})
            .to_string(),
    )
    .await;
    let account: Value = serde_json::from_slice(&connected).expect("account");
    let account = account["account"]["id"].clone();
    let start = next_tuesday(10);
    let event = event_json("Fuzz", start, 30);
    let (_, committed) = call(
        "/api/CalendarSync/commit".into(),
        json!({"user": "ada", "event": event, "accounts": [account]}).to_string(),
    )
    .await;
    let committed: Value = serde_json::from_slice(&committed).expect("commit");
    let event_id = committed["syncedEvent"]["internalId"].clone();
    let draft = json!({"id": "d1", "title": "Draft", "start": start.to_rfc3339(),
        "end": (start + chrono::Duration::minutes(30)).to_rfc3339(),
        "timeZone": "America/New_York", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        "attendees": [{"email": "bo@example.com"}],
        "constraints": {"bufferBefore": 10, "bufferAfter": 5, "travelTime": 0}});
    let bodies = [
        (
            "connectAccount",
            json!({"user": "ada", "provider": "google", "credentials": {"access_token": "t2"}}),
        ),
        (
            "commit",
            json!({"user": "ada", "event": event, "accounts": [account]}),
        ),
        ("detectConflicts", json!({"user": "ada", "draft": draft})),
        (
            "suggestReschedules",
            json!({"user": "ada", "draft": draft,
            "constraints": {"workingHours": {"mon": ["09:00", "17:00"]}, "maxDays": 5}}),
        ),
        (
            "update",
            json!({"user": "ada", "eventId": event_id,
            "changes": {"title": "New", "location": "Room 2", "start": start.to_rfc3339()}}),
        ),
        ("cancel", json!({"user": "ada", "eventId": event_id})),
        (
            "disconnectAccount",
            json!({"user": "bob", "account": account}),
        ),
        ("refreshSync", json!({"user": "ada", "account": account})),
        ("getAccountStatus", json!({"user": "ada"})),
        (
            "getSyncedEvent",
            json!({"user": "ada", "eventId": event_id}),
        ),
        ("deleteUser", json!({"user": "bob"})),
        ("listCalendars", json!({"user": "ada", "account": account})),
        (
            "startConnect",
            json!({"user": "ada", "provider": "google", "returnUrl": "https://app.example/"}),
        ),
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut by_status = std::collections::BTreeMap::new();
    for case in 0..cases {
        let (action, valid) = &bodies[rng.random_range(0..bodies.len())];
        let body = mutate(&mut rng, valid.clone());
        let text = body.to_string();
        let (status, answer) = call(format!("/api/CalendarSync/{action}"), text.clone()).await;
        *by_status.entry(status).or_insert(0u32) += 1;
        let shown: String = text.chars().take(300).collect();
        assert!(
            status < 500,
            "case {case} (seed {seed}): {action} {shown} answered {status}: {answer:?}"
        );
        if status >= 400 {
            let error: Value = serde_json::from_slice(&answer)
                .unwrap_or_else(|_| panic!("case {case}: {action} {shown}: not JSON: {answer:?}"));
            let (Some(message), Some(kind)) = (error["error"].as_str(), error["kind"].as_str())
            else {
                panic!("case {case}: {action} {shown}: not {{error, kind}}: {error}");
            };
            if kind == "invalid_input" {
                assert!(
                    message.contains(": "),
                    "case {case}: {action} {shown}: names no field: {message}"
                );
                for part in ["draft", "constraints", "changes", "event"] {
                    assert!(
                        !message.contains(&format!("{part}.{part}.")),
                        "case {case}: {action} {shown}: a path named twice: {message}"
                    );
                }
            }
        }
    }
    sync.settle().await;
    println!("fuzz answers by status: {by_status:?}");
}
