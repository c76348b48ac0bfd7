//! The Google adapter call by call against the local Google server.

use super::server::{PRIMARY, SCOPES};
use super::support::{at, connected, context, meeting, provider, refresh_only, server};
use calsync::model::EventTime;
use calsync::providers::google::{SYNCED_ID_PROPERTY, event_id_for};
use calsync::providers::{AccountProvider, CalendarProvider, Credentials, ProviderErrorKind};
use calsync::schedule::EventStatus;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn connect_refreshes_once_checks_the_scopes_and_keeps_the_tokens() {
    let server = server().await;
    let (_, session) = connected(&server).await;
    let credentials = &session.credentials;
    assert!(credentials.get_str("access_token").is_some());
    assert!(credentials.get_str("refresh_token").is_some());
    assert_eq!(credentials.get_str("scope"), Some(SCOPES));
    assert_eq!(credentials.0.get("expires_in"), Some(&json!(3599)));
    assert_eq!(session.calendar_id.as_deref(), Some(PRIMARY));
    assert_eq!(server.count("POST", "/token"), 1, "{:?}", server.log());
}

#[tokio::test]
async fn connect_names_a_missing_scope_and_a_dead_refresh_token() {
    let server = server().await;
    let adapter = provider(&server);
    let mut narrow = Credentials::default();
    narrow.set_str(
        "refresh_token",
        server.grant("https://www.googleapis.com/auth/calendar.events"),
    );
    let refused = adapter
        .connect(&narrow)
        .await
        .expect_err("a scope is missing");
    assert_eq!(refused.kind, ProviderErrorKind::InvalidCredentials);
    assert!(refused.message.contains("insufficient scope"), "{refused}");
    assert!(
        refused.message.contains("calendar.calendarlist.readonly"),
        "{refused}"
    );

    let credentials = refresh_only(&server);
    server.revoke_grant(credentials.get_str("refresh_token").expect("token"));
    let refused = adapter.connect(&credentials).await.expect_err("revoked");
    assert_eq!(refused.kind, ProviderErrorKind::InvalidCredentials);
    assert!(refused.message.contains("invalid_grant"), "{refused}");

    let refused = adapter
        .connect(&Credentials::default())
        .await
        .expect_err("no refresh token");
    assert!(refused.message.contains("refresh_token"), "{refused}");
}

#[tokio::test]
async fn refresh_failures_map_to_kinds() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let refreshed = adapter
        .refresh(&session.credentials)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.get_str("access_token"),
        session.credentials.get_str("access_token")
    );
    assert_eq!(
        refreshed.get_str("refresh_token"),
        session.credentials.get_str("refresh_token"),
        "Google sends no new refresh token: the old one is kept"
    );

    server.fail_token_next(1, 503, "backend_error");
    let error = adapter
        .refresh(&session.credentials)
        .await
        .expect_err("503");
    assert_eq!(error.kind, ProviderErrorKind::Unavailable, "{error}");

    server.refuse_client(true);
    let error = adapter
        .refresh(&session.credentials)
        .await
        .expect_err("client");
    assert_eq!(error.kind, ProviderErrorKind::Misconfigured, "{error}");
    assert!(error.message.contains("invalid_client"), "{error}");
    server.refuse_client(false);

    server.revoke_grant(session.credentials.get_str("refresh_token").expect("token"));
    let error = adapter
        .refresh(&session.credentials)
        .await
        .expect_err("revoked");
    assert_eq!(error.kind, ProviderErrorKind::InvalidGrant, "{error}");
    assert!(error.message.contains("expired or revoked"), "{error}");
}

#[tokio::test]
async fn revoke_ends_the_grant_and_a_second_revoke_is_done() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let refresh = session.credentials.get_str("refresh_token").expect("token");
    adapter.revoke(&session.credentials).await.expect("revoke");
    assert!(server.is_revoked(refresh));
    adapter
        .revoke(&session.credentials)
        .await
        .expect("already revoked counts as done");
    let error = adapter.validate(&session).await.expect_err("token is gone");
    assert_eq!(error.kind, ProviderErrorKind::Unauthorized);
}

#[tokio::test]
async fn create_is_one_insert_with_the_keys_id_zone_and_calsyncs_id() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    server.clear_log();
    let context = context();
    let created = adapter
        .create_event(&session, &meeting("Kick-off"), &context)
        .await
        .expect("create");
    assert_eq!(
        server.log(),
        vec![format!("POST /calendar/v3/calendars/{PRIMARY}/events")]
    );
    assert_eq!(created.event_id, event_id_for(&context.idempotency_key));
    let stored = server.event(PRIMARY, &created.event_id).expect("stored");
    assert_eq!(created.etag.as_deref(), stored["etag"].as_str());
    assert_eq!(stored["summary"], "Kick-off");
    assert_eq!(stored["start"]["timeZone"], "Europe/Berlin");
    assert_eq!(stored["start"]["dateTime"], "2030-03-04T10:00:00+01:00");
    assert_eq!(
        stored["extendedProperties"]["private"][SYNCED_ID_PROPERTY],
        context.synced_id.as_str()
    );
}

#[tokio::test]
async fn all_day_events_are_dates_with_an_exclusive_end() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let event: calsync::model::EventDetails = serde_json::from_value(json!({
        "title": "Offsite", "start": "2030-03-04", "end": "2030-03-06", "allDay": true
    }))
    .expect("event");
    let created = adapter
        .create_event(&session, &event, &context())
        .await
        .expect("create");
    let stored = server.event(PRIMARY, &created.event_id).expect("stored");
    assert_eq!(stored["start"], json!({"date": "2030-03-04"}));
    assert_eq!(stored["end"], json!({"date": "2030-03-06"}));
}

#[tokio::test]
async fn a_create_whose_reply_was_lost_is_recognised_by_its_duplicate() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let context = context();
    server.lose_next_reply();
    let lost = adapter
        .create_event(&session, &meeting("Once"), &context)
        .await
        .expect_err("the reply is lost");
    assert_eq!(lost.kind, ProviderErrorKind::Unavailable);
    let found = adapter
        .find_created(&session, &context)
        .await
        .expect("find")
        .expect("it landed");
    let again = adapter
        .create_event(&session, &meeting("Once"), &context)
        .await
        .expect("the retry answers the first event");
    assert_eq!(again.event_id, found.event_id);
    assert_eq!(server.live_events(PRIMARY).len(), 1);
}

#[tokio::test]
async fn an_id_taken_by_someone_else_or_deleted_is_never_taken_for_ours() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let theirs = context();
    server.put_event(
        PRIMARY,
        json!({"id": event_id_for(&theirs.idempotency_key), "summary": "Not ours",
            "start": {"dateTime": "2030-03-04T09:00:00Z"}, "end": {"dateTime": "2030-03-04T10:00:00Z"}}),
    );
    let refused = adapter
        .create_event(&session, &meeting("Mine"), &theirs)
        .await
        .expect_err("someone else's id");
    assert_eq!(refused.kind, ProviderErrorKind::AlreadyExists);
    assert!(
        adapter
            .find_created(&session, &theirs)
            .await
            .expect("find")
            .is_none()
    );

    // Ids stay taken after a delete: a retry of a deleted create is refused.
    let ours = context();
    let created = adapter
        .create_event(&session, &meeting("Mine"), &ours)
        .await
        .expect("create");
    adapter
        .delete_event(&session, &created, &context())
        .await
        .expect("delete");
    let refused = adapter
        .create_event(&session, &meeting("Mine"), &ours)
        .await
        .expect_err("a deleted id stays taken");
    assert_eq!(refused.kind, ProviderErrorKind::AlreadyExists);
    assert!(
        adapter
            .find_created(&session, &ours)
            .await
            .expect("find")
            .is_none()
    );
}

#[tokio::test]
async fn update_is_one_patch_and_a_stale_etag_reapplies_calsyncs_fields_once() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let context = context();
    let created = adapter
        .create_event(&session, &meeting("Draft"), &context)
        .await
        .expect("create");
    server.clear_log();
    let mut event = meeting("Final");
    let updated = adapter
        .update_event(&session, &created, &event, &["title".into()], &context)
        .await
        .expect("update");
    assert_eq!(server.log().len(), 1, "{:?}", server.log());
    assert_eq!(server.count("PATCH", &created.event_id), 1);
    assert_ne!(updated.etag, created.etag);

    // Someone edits the colour and the description; calsync's stale ETag
    // meets a 412, and only calsync's field is applied over their version.
    server.edit_event(
        PRIMARY,
        &created.event_id,
        json!({"colorId": "5", "description": "their notes"}),
    );
    server.clear_log();
    event.location = Some("Room 2".into());
    let again = adapter
        .update_event(&session, &updated, &event, &["location".into()], &context)
        .await
        .expect("update over their edit");
    assert_eq!(server.count("PATCH", ""), 2, "{:?}", server.log());
    assert_eq!(server.count("GET", ""), 1, "{:?}", server.log());
    let stored = server.event(PRIMARY, &created.event_id).expect("stored");
    assert_eq!(stored["location"], "Room 2");
    assert_eq!(stored["colorId"], "5");
    assert_eq!(stored["description"], "their notes");
    assert_eq!(stored["summary"], "Final");
    assert_eq!(again.etag.as_deref(), stored["etag"].as_str());
}

#[tokio::test]
async fn deleting_twice_or_an_unknown_event_is_done() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let created = adapter
        .create_event(&session, &meeting("Gone"), &context())
        .await
        .expect("create");
    adapter
        .delete_event(&session, &created, &context())
        .await
        .expect("delete");
    server.clear_log();
    adapter
        .delete_event(&session, &created, &context())
        .await
        .expect("410 is done");
    assert_eq!(server.count("DELETE", ""), 1);
    let mut unknown = created.clone();
    unknown.event_id = "nosuchevent".into();
    adapter
        .delete_event(&session, &unknown, &context())
        .await
        .expect("404 is done");
}

#[tokio::test]
async fn googles_failures_keep_their_reason_and_rate_limits_clear() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    server.fail_next(2, 403, "rateLimitExceeded", Some(7));
    for _ in 0..2 {
        let error = adapter
            .create_event(&session, &meeting("Busy"), &context())
            .await
            .expect_err("throttled");
        assert_eq!(error.kind, ProviderErrorKind::RateLimited);
        assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
        assert!(error.message.contains("rateLimitExceeded"), "{error}");
    }
    adapter
        .create_event(&session, &meeting("Busy"), &context())
        .await
        .expect("cleared after two tries");
    for (status, reason, kind) in [
        (403, "userRateLimitExceeded", ProviderErrorKind::RateLimited),
        (429, "rateLimitExceeded", ProviderErrorKind::RateLimited),
        (403, "quotaExceeded", ProviderErrorKind::RateLimited),
        (403, "forbiddenForNonOrganizer", ProviderErrorKind::Rejected),
        (400, "invalid", ProviderErrorKind::Rejected),
        (503, "backendError", ProviderErrorKind::Unavailable),
    ] {
        server.fail_next(1, status, reason, None);
        let error = adapter
            .create_event(&session, &meeting("x"), &context())
            .await
            .expect_err("scripted");
        assert_eq!(error.kind, kind, "{status} {reason}");
        assert!(error.message.contains(reason), "{error}");
    }
    server.expire_access_tokens();
    let error = adapter.validate(&session).await.expect_err("expired");
    assert_eq!(error.kind, ProviderErrorKind::Unauthorized);
}

#[tokio::test]
async fn listing_reads_every_page_of_the_shown_calendars_in_their_zones() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    server.add_calendar("team@group.example", "Asia/Tokyo", true, false);
    server.add_calendar("hidden@group.example", "UTC", true, true);
    server.add_calendar("unselected@group.example", "UTC", false, false);
    let timed = |id: &str, hour: u32| {
        json!({"id": id, "summary": id,
            "start": {"dateTime": at(hour).to_rfc3339(), "timeZone": "Europe/Berlin"},
            "end": {"dateTime": at(hour + 1).to_rfc3339(), "timeZone": "Europe/Berlin"}})
    };
    for n in 0..5 {
        server.put_event(PRIMARY, timed(&format!("primary{n}"), 8 + n));
    }
    server.put_event("team@group.example", timed("team0", 9));
    server.put_event("hidden@group.example", timed("hidden0", 9));
    server.put_event("unselected@group.example", timed("unselected0", 9));
    server.set_page_size(2);
    server.empty_first_pages();
    let events = adapter
        .list_events(&session, at(0), at(23))
        .await
        .expect("list");
    let mut ids: Vec<_> = events.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "primary0", "primary1", "primary2", "primary3", "primary4", "team0"
        ]
    );
    let team = events.iter().find(|e| e.event_id == "team0").expect("team");
    assert_eq!(
        team.start,
        EventTime::Instant(at(9)),
        "read in Tokyo's offset"
    );
    assert!(server.count("GET", "/events") >= 4, "{:?}", server.log());
}

#[tokio::test]
async fn a_series_comes_as_its_master_an_exception_and_a_cancelled_instance() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    server.put_event(
        PRIMARY,
        json!({"id": "weekly1", "iCalUID": "weekly1@google.com", "summary": "Weekly",
            "start": {"dateTime": "2030-03-04T09:00:00Z", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-04T10:00:00Z", "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=WEEKLY"]}),
    );
    server.put_event(
        PRIMARY,
        json!({"id": "weekly1_20300311T090000Z", "iCalUID": "weekly1@google.com",
            "status": "cancelled", "recurringEventId": "weekly1",
            "originalStartTime": {"dateTime": "2030-03-11T09:00:00Z", "timeZone": "UTC"}}),
    );
    server.put_event(
        PRIMARY,
        json!({"id": "weekly1_20300318T090000Z", "iCalUID": "weekly1@google.com",
            "summary": "Weekly (moved)", "recurringEventId": "weekly1",
            "originalStartTime": {"dateTime": "2030-03-18T09:00:00Z", "timeZone": "UTC"},
            "start": {"dateTime": "2030-03-18T11:00:00Z", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-18T12:00:00Z", "timeZone": "UTC"}}),
    );
    let events = adapter
        .list_events(&session, at(0), at(0) + chrono::Duration::days(30))
        .await
        .expect("list");
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.uid.as_deref() == Some("weekly1@google.com"))
    );
    let master = events
        .iter()
        .find(|e| e.event_id == "weekly1")
        .expect("master");
    assert_eq!(master.recurrence, vec!["RRULE:FREQ=WEEKLY".to_owned()]);
    let cancelled = events
        .iter()
        .find(|e| e.status == EventStatus::Cancelled)
        .expect("the cancelled instance");
    assert!(cancelled.recurrence_id.is_some());
}
