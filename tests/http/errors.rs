//! Each error answers `{"error", "kind"}` with the status that fits.

use super::support::*;
use calsync::model::Provider;
use serde_json::{Value, json};

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_field() {
    let server = Server::start().await;
    let raw = server
        .client
        .post(format!("{}/api/CalendarSync/getAccountStatus", server.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(r#"{"user": "#)
        .send()
        .await
        .expect("request");
    let (status, body) = answer(raw).await;
    assert_error(status, &body, 400, "malformed_json");

    let start = next_tuesday(10);
    let mut event = event_json("Standup", start, 15);
    event["title"] = json!(5);
    let (status, body) = server
        .call(
            "commit",
            json!({"user": "ada", "event": event, "accounts": ["a"]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("event.title: invalid type"),
        "{body}"
    );

    let (status, body) = server
        .call("getAccountStatus", json!({"user": "ada", "verbose": true}))
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("verbose: is not a field here"),
        "{body}"
    );

    let mut event = event_json("Standup", start, 15);
    event["colour"] = json!("red");
    let (status, body) = server
        .call(
            "commit",
            json!({"user": "ada", "event": event, "accounts": ["a"]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("colour"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn broken_rules_and_unsupported_providers_are_400() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    let mut event = event_json("  ", next_tuesday(10), 30);
    event["title"] = json!(" ");
    let (status, body) = server
        .call(
            "commit",
            json!({"user": "ada", "event": event, "accounts": [google["id"]]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("event.title"),
        "{body}"
    );
    assert!(server.events_on(&google).is_empty(), "nothing changed");

    let (status, body) = server
        .call(
            "connectAccount",
            json!({"user": "ada", "provider": "myspace", "credentials": {"access_token": "x"}}),
        )
        .await;
    assert_error(status, &body, 400, "unsupported_provider");
    server.stop().await;
}

#[tokio::test]
async fn refused_credentials_are_422() {
    let server = Server::start().await;
    let (status, body) = server
        .call(
            "connectAccount",
            json!({"user": "ada", "provider": "google", "credentials": {"password": "x"}}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_credentials");
    server.stop().await;
}

#[tokio::test]
async fn missing_and_foreign_things_are_404() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    let event = event_json("Standup", next_tuesday(10), 15);
    for user in ["bob", "ada"] {
        let account = if user == "bob" {
            google["id"].clone()
        } else {
            json!("no-such-account")
        };
        let (status, body) = server
            .call(
                "commit",
                json!({"user": user, "event": event, "accounts": [account]}),
            )
            .await;
        assert_error(status, &body, 404, "account_not_found");
    }
    let (status, body) = server
        .call(
            "update",
            json!({"user": "ada", "eventId": "nope", "changes": {"title": "x"}}),
        )
        .await;
    assert_error(status, &body, 404, "event_not_found");
    let (status, body) = server
        .call("cancel", json!({"user": "ada", "eventId": "nope"}))
        .await;
    assert_error(status, &body, 404, "event_not_found");
    let (status, body) = server.post("/api/nowhere", json!({})).await;
    assert_error(status, &body, 404, "no_such_route");
    server.stop().await;
}

#[tokio::test]
async fn unmet_requires_about_state_are_409() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    let mut draft = event_json("Sync", next_tuesday(11), 30);
    draft["id"] = json!("d1");
    let (status, body) = server
        .call("suggestReschedules", json!({"user": "ada", "draft": draft}))
        .await;
    assert_error(status, &body, 409, "conflicts_not_detected");

    server
        .ok(
            "disconnectAccount",
            json!({"user": "ada", "account": google["id"]}),
        )
        .await;
    let (status, body) = server
        .call(
            "commit",
            json!({"user": "ada", "event": event_json("Sync", next_tuesday(11), 30), "accounts": [google["id"]]}),
        )
        .await;
    assert_error(status, &body, 409, "account_not_connected");
    server.stop().await;
}

#[tokio::test]
async fn every_provider_refusing_is_502() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    let (status, _) = server
        .post(
            "/api/sandbox/failures",
            json!({"provider": "google", "kind": "refused", "count": 50}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .call(
            "commit",
            json!({"user": "ada", "event": event_json("Sync", next_tuesday(11), 30), "accounts": [google["id"]]}),
        )
        .await;
    assert_error(status, &body, 502, "all_providers_failed");
    server.stop().await;
}

#[tokio::test]
async fn wrong_methods_are_405_in_the_same_shape() {
    let server = Server::start().await;
    let response = server
        .client
        .get(format!("{}/api/CalendarSync/commit", server.base))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let (status, body) = answer(response).await;
    assert_error(status, &body, 405, "method_not_allowed");
    server.stop().await;
}

/// A path segment that is not UTF-8 once percent-decoded is refused in the
/// same shape, on a keyed route and on the open callback route.
#[tokio::test]
async fn paths_that_are_not_utf8_are_400_in_the_same_shape() {
    let server = Server::start().await;
    let (status, body) = server.post("/api/CalendarSync/%FF", json!({})).await;
    assert_error(status, &body, 400, "malformed_request");
    let response = server
        .client
        .get(format!("{}/oauth/%FF/callback?state=x", server.base))
        .send()
        .await
        .expect("request");
    let (status, body) = answer(response).await;
    assert_error(status, &body, 400, "malformed_request");
    server.stop().await;
}

/// An instant valid in RFC 3339 but outside the documented range (this one is
/// year 10000 in UTC) is refused naming the field, and nothing is written:
/// before, the copies were made while the synced event could not be stored.
#[tokio::test]
async fn instants_outside_the_range_are_400_and_change_nothing() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    for (field, value) in [
        ("end", "9999-12-31T23:00:00-14:00"),
        ("start", "1899-12-31T23:59:59Z"),
    ] {
        let mut event = event_json("Far", next_tuesday(10), 30);
        if field == "start" {
            event["start"] = json!(value);
        } else {
            event["end"] = json!(value);
        }
        let (status, body) = server
            .call(
                "commit",
                json!({"user": "ada", "event": event, "accounts": [google["id"]]}),
            )
            .await;
        assert_error(status, &body, 400, "invalid_input");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("event.{field}")), "{body}");
        assert!(message.contains("3000-01-01"), "{body}");
    }
    assert!(server.events_on(&google).is_empty(), "nothing changed");
    let draft = json!({"id": "d1", "title": "Far",
        "start": "2999-12-31T22:00:00Z", "end": "9999-12-31T23:00:00-14:00"});
    let (status, body) = server
        .call("suggestReschedules", json!({"user": "ada", "draft": draft}))
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("draft.end"),
        "{body}"
    );
    server.stop().await;
}

/// Free text and lists are capped, each cap named in its error; and a
/// conflict keeps only the draft's times, so that a long description
/// against many busy events is neither stored nor answered once per conflict.
#[tokio::test]
async fn text_and_lists_are_capped_and_conflicts_do_not_copy_the_draft() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    let start = next_tuesday(10);
    let end = start + chrono::Duration::minutes(30);
    let events: Vec<_> = (0..50)
        .map(|n| {
            json!({"eventId": format!("busy{n}"), "title": format!("Busy {n}"),
                "start": start.to_rfc3339(), "end": end.to_rfc3339()})
        })
        .collect();
    let (code, seeded) = server
        .post(
            "/api/sandbox/seed",
            json!({"user": "ada", "account": google["id"], "events": events}),
        )
        .await;
    assert_eq!(code, 200, "{seeded}");

    let draft = |description: &str| {
        json!({"id": "d1", "title": "Review", "start": start.to_rfc3339(),
            "end": end.to_rfc3339(), "description": description})
    };
    let (status, body) = server
        .call(
            "detectConflicts",
            json!({"user": "ada", "draft": draft(&"x".repeat(8193))}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("draft.description: must be at most 8192 characters"),
        "{body}"
    );

    let long = "y".repeat(8192);
    let report = server
        .ok(
            "detectConflicts",
            json!({"user": "ada", "draft": draft(&long)}),
        )
        .await;
    assert_eq!(report["conflicts"].as_array().map(Vec::len), Some(50));
    assert!(
        !report.to_string().contains(&long),
        "the draft is not answered back"
    );
    let file = server.store_file().expect("an embedded store");
    let stored = std::fs::read(&file).expect("store file");
    let wal = std::fs::read(file.with_extension("db-wal")).unwrap_or_default();
    let needle = &long.as_bytes()[..1024];
    assert!(
        !stored.windows(needle.len()).any(|w| w == needle)
            && !wal.windows(needle.len()).any(|w| w == needle),
        "the draft's description is not stored"
    );

    let mut event = event_json("Party", start, 30);
    event["attendees"] = json!(
        (0..301)
            .map(|n| json!({"email": format!("guest{n}@example.com")}))
            .collect::<Vec<_>>()
    );
    let (status, body) = server
        .call(
            "commit",
            json!({"user": "ada", "event": event, "accounts": [google["id"]]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("event.attendees: must hold at most 300 entries, got 301"),
        "{body}"
    );
    let mut event = event_json("Party", start, 30);
    event["attendees"] = json!([{"email": "ev\u{202e}il@example.com"}]);
    let (status, body) = server
        .call(
            "commit",
            json!({"user": "ada", "event": event, "accounts": [google["id"]]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("event.attendees[0].email"),
        "{body}"
    );
    let (status, body) = server
        .call(
            "detectConflicts",
            json!({"user": "ada", "draft": {"id": "d".repeat(257), "title": "T",
                "start": start.to_rfc3339(), "end": end.to_rfc3339()}}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("draft.id: must be at most 256 characters"),
        "{body}"
    );
    server.stop().await;
}

/// A series repeating more often than hourly is refused at input, naming the
/// line: one such series would make every later conflict check walk
/// millions of occurrences.
#[tokio::test]
async fn sub_hourly_series_are_refused_naming_the_line() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    for rule in ["RRULE:FREQ=SECONDLY", "RRULE:FREQ=MINUTELY;INTERVAL=30"] {
        let mut event = event_json("Dense", next_tuesday(10), 30);
        event["recurrence"] = json!(["RRULE:FREQ=WEEKLY", rule]);
        let (status, body) = server
            .call(
                "commit",
                json!({"user": "ada", "event": event, "accounts": [google["id"]]}),
            )
            .await;
        assert_error(status, &body, 400, "invalid_input");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains("event.recurrence[1]"),
            "{body}"
        );
    }
    assert!(server.events_on(&google).is_empty(), "nothing changed");
    server.stop().await;
}

/// Errors inside nested objects name the whole path, once: `constraints.maxDays`,
/// never `constraints.constraints.maxDays`; constraints are checked before
/// anything is read.
#[tokio::test]
async fn errors_in_constraints_name_the_whole_path_once() {
    let server = Server::start().await;
    let mut draft = event_json("Draft", next_tuesday(10), 30);
    draft["id"] = json!("d1");
    for (constraints, field) in [
        (json!({"maxDays": 99}), "constraints.maxDays: "),
        (
            json!({"workingHours": {"mon": {"start": "25:00", "end": "17:00"}}}),
            "constraints.workingHours.mon.start: ",
        ),
        (json!({"granulrity": 15}), "constraints.granulrity: "),
        (
            json!({"attendees": [{"email": "a@b.co", "busy": [{"start": "2026-12-01T10:00:00Z", "end": "2026-12-01T09:00:00Z"}]}]}),
            "constraints.attendees[0].busy[0].end: ",
        ),
    ] {
        let (status, body) = server
            .call(
                "suggestReschedules",
                json!({"user": "ada", "draft": draft, "constraints": constraints}),
            )
            .await;
        assert_error(status, &body, 400, "invalid_input");
        let message = body["error"].as_str().unwrap_or_default();
        let message = message.strip_prefix("invalid ").unwrap_or(message);
        assert!(message.starts_with(field), "{constraints}: {message}");
    }
    let many: Vec<Value> = (0..301)
        .map(|i| json!({"email": format!("a{i}@b.co")}))
        .collect();
    let (status, body) = server
        .call(
            "suggestReschedules",
            json!({"user": "ada", "draft": draft, "constraints": {"attendees": many}}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_input");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("constraints.attendees: must list at most 300"),
        "{body}"
    );
    server.stop().await;
}

/// A key named twice in one object is refused wherever the object is, with
/// its path, and nothing changes.
#[tokio::test]
async fn a_key_given_twice_is_refused_with_its_path() {
    let server = Server::start().await;
    for (body, field) in [
        (r#"{"user": "ada", "user": "bob"}"#, "user: is given twice"),
        (
            r#"{"user": "ada", "provider": "google", "credentials": {"access_token": "a", "access_token": "b"}}"#,
            "credentials.access_token: is given twice",
        ),
        (
            r#"{"user": "ada", "draft": {"id": "d", "title": "x", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T11:00:00Z"}, "constraints": {"maxDays": 1, "maxDays": 2}}"#,
            "constraints.maxDays: is given twice",
        ),
        (
            r#"{"user": "ada", "event": {"title": "x", "attendees": [{"email": "a@b.co", "email": "c@d.co"}]}, "accounts": []}"#,
            "event.attendees[0].email: is given twice",
        ),
    ] {
        let action = if body.contains("provider") {
            "connectAccount"
        } else if body.contains("constraints") {
            "suggestReschedules"
        } else if body.contains("accounts") {
            "commit"
        } else {
            "getAccountStatus"
        };
        let raw = server
            .client
            .post(format!("{}/api/CalendarSync/{action}", server.base))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let (status, answer) = answer(raw).await;
        assert_error(status, &answer, 400, "invalid_input");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.starts_with(field), "{body}: {message}");
    }
    let status = server.ok("getAccountStatus", json!({"user": "ada"})).await;
    assert_eq!(status["accounts"], json!([]), "nothing was connected");
    server.stop().await;
}

/// One rule for one kind of field wherever it is: ids the app gives, zone
/// names, objects given as arrays; each refused naming its whole path.
#[tokio::test]
async fn the_same_rule_reads_the_same_for_the_same_field_everywhere() {
    let server = Server::start().await;
    let account = server.connect("ada", Provider::Google).await;
    let mut draft = event_json("Draft", next_tuesday(10), 30);
    draft["id"] = json!("d1");
    let committed = server
        .ok(
            "commit",
            json!({"user": "ada", "event": event_json("Held", next_tuesday(8), 30), "accounts": [account["id"]]}),
        )
        .await;
    let event_id = committed["syncedEvent"]["internalId"].clone();
    let cases = [
        (
            "getAccountStatus",
            json!({"user": "a\u{7}b"}),
            "user: must not hold control or text-direction characters",
        ),
        (
            "commit",
            json!({"user": "ad\u{202e}a", "event": event_json("x", next_tuesday(9), 30), "accounts": [account["id"]]}),
            "user: must not hold control or text-direction characters",
        ),
        (
            "detectConflicts",
            json!({"user": "ada", "draft": {"id": "d\u{2066}1", "title": "x", "start": draft["start"], "end": draft["end"]}}),
            "draft.id: must not hold control or text-direction characters",
        ),
        (
            "commit",
            json!({"user": "ada", "event": {"title": "x", "start": draft["start"], "end": draft["end"], "timeZone": "Mars/Olympus"}, "accounts": [account["id"]]}),
            "event.timeZone: \"Mars/Olympus\" is not an IANA time zone name",
        ),
        (
            "suggestReschedules",
            json!({"user": "ada", "draft": draft, "constraints": {"timeZone": "Mars/Olympus"}}),
            "constraints.timeZone: \"Mars/Olympus\" is not an IANA time zone name",
        ),
        (
            "detectConflicts",
            json!({"user": "ada", "draft": []}),
            "draft: invalid type: sequence",
        ),
        (
            "suggestReschedules",
            json!({"user": "ada", "draft": draft, "constraints": []}),
            "constraints: invalid type: sequence",
        ),
        (
            "update",
            json!({"user": "ada", "eventId": event_id, "changes": []}),
            "changes: invalid type: sequence",
        ),
        (
            "update",
            json!({"user": "ada", "eventId": event_id, "changes": {"location": 5}}),
            "changes.location: ",
        ),
    ];
    for (action, body, want) in cases {
        let (status, answer) = server.call(action, body.clone()).await;
        assert_error(status, &answer, 400, "invalid_input");
        let message = answer["error"].as_str().unwrap_or_default();
        let message = message.strip_prefix("invalid ").unwrap_or(message);
        assert!(message.starts_with(want), "{action} {body}: {message}");
    }
    server.stop().await;
}
