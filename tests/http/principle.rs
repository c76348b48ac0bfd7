//! The operational principle, over HTTP, step by step.

use super::support::*;
use calsync::model::Provider;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|instant| instant.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not an instant: {value}"))
}

#[tokio::test]
async fn the_operational_principle_holds_over_http() {
    let server = Server::start().await;

    // The user connects Google Calendar and Outlook accounts.
    let google = server.connect("ada", Provider::Google).await;
    let outlook = server.connect("ada", Provider::Outlook).await;
    assert_eq!(google["syncStatus"], "connected");
    assert!(
        google.get("credentials").is_none(),
        "never credentials: {google}"
    );
    let status = server.ok("getAccountStatus", json!({"user": "ada"})).await;
    assert_eq!(status["accounts"].as_array().map(Vec::len), Some(2));

    // Google already has an event from 2pm to 3pm on Tuesday.
    let two = next_tuesday(14);
    let (code, seeded) = server
        .post(
            "/api/sandbox/seed",
            json!({
                "user": "ada",
                "account": google["id"],
                "events": [{
                    "eventId": "busy1",
                    "title": "Design review",
                    "start": two.to_rfc3339(),
                    "end": (two + Duration::hours(1)).to_rfc3339(),
                    "timeZone": "America/New_York"
                }]
            }),
        )
        .await;
    assert_eq!((code, seeded["added"].clone()), (200, json!(1)), "{seeded}");

    // A draft for 2pm Tuesday conflicts with it, on Google.
    let mut draft = event_json("Project sync", two, 60);
    draft["id"] = json!("draft-1");
    let report = server
        .ok("detectConflicts", json!({"user": "ada", "draft": draft}))
        .await;
    let conflicts = report["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{report}");
    assert_eq!(conflicts[0]["reason"], "double_booking");
    assert_eq!(conflicts[0]["existingEvents"][0]["account"], google["id"]);
    assert_eq!(conflicts[0]["existingEvents"][0]["eventId"], "busy1");
    assert_eq!(report["unknownAccounts"], json!([]));

    // suggestReschedules proposes 3pm, 4pm, 1pm, none in the busy hour.
    let suggested = server
        .ok(
            "suggestReschedules",
            json!({"user": "ada", "draft": draft, "constraints": {}}),
        )
        .await;
    let suggestions = suggested["suggestions"].as_array().expect("suggestions");
    for suggestion in suggestions {
        let (start, end) = (instant(&suggestion["start"]), instant(&suggestion["end"]));
        assert!(
            end <= two || start >= two + Duration::hours(1),
            "{suggestion} overlaps the busy hour"
        );
        assert!(suggestion["score"].is_number() && suggestion["scoreParts"].is_object());
    }
    let starts: Vec<_> = suggestions
        .iter()
        .take(3)
        .map(|s| instant(&s["start"]))
        .collect();
    assert_eq!(
        starts,
        vec![next_tuesday(15), next_tuesday(16), next_tuesday(13)]
    );

    // The user picks 3pm; commit creates the event on both accounts.
    let accounts = json!([google["id"], outlook["id"]]);
    let committed = server
        .ok(
            "commit",
            json!({"user": "ada", "event": event_json("Project sync", starts[0], 60), "accounts": accounts}),
        )
        .await;
    let synced = &committed["syncedEvent"];
    let id = synced["internalId"]
        .as_str()
        .expect("internal id")
        .to_owned();
    for account in [&google, &outlook] {
        let key = account["id"].as_str().expect("id");
        assert_eq!(synced["results"][key]["status"], "succeeded", "{synced}");
        assert_eq!(synced["providerIds"][key]["provider"], account["provider"]);
        let on_provider = server.events_on(account);
        assert_eq!(on_provider.len(), usize::from(account == &google) + 1);
        let provider_id = synced["providerIds"][key]["eventId"]
            .as_str()
            .expect("event id");
        assert!(on_provider.iter().any(|e| e.event.event_id == provider_id));
    }

    // Later the user updates the location: both providers get it, by their ids.
    let updated = server
        .ok(
            "update",
            json!({"user": "ada", "eventId": id, "changes": {"location": "Room 4"}}),
        )
        .await;
    assert_eq!(updated["syncedEvent"]["event"]["location"], "Room 4");
    for account in [&google, &outlook] {
        let key = account["id"].as_str().expect("id");
        assert_eq!(
            updated["syncedEvent"]["results"][key]["status"],
            "succeeded"
        );
        let provider_id = &synced["providerIds"][key]["eventId"];
        let copy = server
            .events_on(account)
            .into_iter()
            .find(|e| json!(e.event.event_id) == *provider_id)
            .expect("the provider still has it under the same id");
        let details = copy.details.expect("written by calsync");
        assert_eq!(details.location.as_deref(), Some("Room 4"));
    }
    for provider in [Provider::Google, Provider::Outlook] {
        assert_eq!(server.provider(provider).counts().updates, 1);
    }

    // getSyncedEvent answers the provider ids; another user sees nothing.
    let fetched = server
        .ok("getSyncedEvent", json!({"user": "ada", "eventId": id}))
        .await;
    assert_eq!(
        fetched["syncedEvent"]["providerIds"],
        updated["syncedEvent"]["providerIds"]
    );
    for account in [&google, &outlook] {
        let key = account["id"].as_str().expect("id");
        let kept = &fetched["syncedEvent"]["providerIds"][key]["eventId"];
        assert_eq!(
            kept, &synced["providerIds"][key]["eventId"],
            "the same provider id"
        );
    }
    let stranger = server
        .ok("getSyncedEvent", json!({"user": "bob", "eventId": id}))
        .await;
    assert_eq!(stranger, json!({"syncedEvent": null}));

    // Cancel removes it everywhere.
    let cancelled = server
        .ok("cancel", json!({"user": "ada", "eventId": id}))
        .await;
    assert_eq!(cancelled["syncedEvent"]["stored"], false);
    assert_eq!(server.events_on(&outlook).len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn disconnect_and_refresh_are_served() {
    let server = Server::start().await;
    let zoom = server.connect("cy", Provider::Zoom).await;
    let body = json!({"user": "cy", "account": zoom["id"]});
    let refreshed = server.ok("refreshSync", body.clone()).await;
    assert_eq!(refreshed["account"]["syncStatus"], "connected");
    let gone = server.ok("disconnectAccount", body.clone()).await;
    assert_eq!(gone["account"]["syncStatus"], "disconnected");
    let (status, error) = server.call("refreshSync", body).await;
    assert_error(status, &error, 409, "account_not_connected");
    server.stop().await;
}

#[tokio::test]
async fn seeded_icalendar_events_are_busy_time() {
    let server = Server::start().await;
    let outlook = server.connect("dee", Provider::Outlook).await;
    let ten = next_tuesday(10);
    let stamp = |at: chrono::DateTime<Utc>| at.format("%Y%m%dT%H%M%SZ").to_string();
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ics-1\r\nSUMMARY:Dentist\r\n\
         DTSTART:{}\r\nDTEND:{}\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:broken\r\nDTSTART:whenever\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
        stamp(ten),
        stamp(ten + Duration::minutes(30)),
    );
    let (code, seeded) = server
        .post(
            "/api/sandbox/seed",
            json!({"user": "dee", "account": outlook["id"], "ics": ics}),
        )
        .await;
    assert_eq!(code, 200, "{seeded}");
    assert_eq!(seeded["added"], 1, "{seeded}");
    assert!(
        !seeded["problems"].as_array().expect("problems").is_empty(),
        "{seeded}"
    );

    let mut draft = event_json("Call", ten, 60);
    draft["id"] = json!("d-ics");
    let report = server
        .ok("detectConflicts", json!({"user": "dee", "draft": draft}))
        .await;
    assert_eq!(
        report["conflicts"][0]["existingEvents"][0]["title"], "Dentist",
        "{report}"
    );

    let (code, refused) = server
        .post(
            "/api/sandbox/seed",
            json!({"user": "dee", "account": outlook["id"]}),
        )
        .await;
    assert_error(code, &refused, 400, "invalid_input");
    server.stop().await;
}

#[tokio::test]
async fn seeding_another_users_account_is_answered_as_missing_and_adds_nothing() {
    let server = Server::start().await;
    let adas = server.connect("ada", Provider::Google).await;
    let start = next_tuesday(9);
    let (code, refused) = server
        .post(
            "/api/sandbox/seed",
            json!({"user": "bob", "account": adas["id"], "events": [{
                "eventId": "planted", "title": "Planted",
                "start": start.to_rfc3339(), "end": (start + Duration::minutes(30)).to_rfc3339(),
            }]}),
        )
        .await;
    assert_error(code, &refused, 404, "account_not_found");
    assert!(server.events_on(&adas).is_empty(), "nothing added");
    server.stop().await;
}
