//! The Outlook adapter call by call against the local Graph server.

use super::server::{DEFAULT_CALENDAR, MAILBOX};
use super::support::{at, connected, context, meeting, provider, refresh_only, server};
use calsync::model::{EventTime, Transparency};
use calsync::providers::outlook::{KEY_PROPERTY, SYNCED_ID_PROPERTY, transaction_id};
use calsync::providers::{AccountProvider, CalendarProvider, Credentials, ProviderErrorKind};
use calsync::schedule::EventStatus;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn connect_refreshes_once_keeps_the_rotated_token_and_reads_the_default_calendar() {
    let server = server().await;
    let given = refresh_only(&server);
    let connection = provider(&server).connect(&given).await.expect("connect");
    let kept = &connection.credentials;
    assert!(kept.get_str("access_token").is_some());
    assert_ne!(
        kept.get_str("refresh_token"),
        given.get_str("refresh_token"),
        "Microsoft rotated the refresh token: the new one is kept"
    );
    assert_eq!(kept.get_str("mailbox"), Some(MAILBOX));
    assert_eq!(connection.calendar_id.as_deref(), Some(DEFAULT_CALENDAR));
    assert_eq!(connection.label.as_deref(), Some(MAILBOX));
    assert_eq!(server.count("POST", "/token"), 1, "{:?}", server.log());
    assert!(server.requests()[0].contains("/common/oauth2/v2.0/token"));
    assert_eq!(server.without_immutable_ids(), 0);

    let refused = provider(&server)
        .connect(&Credentials::default())
        .await
        .expect_err("no refresh token");
    assert!(refused.message.contains("refresh_token"), "{refused}");
    let mut misnamed = refresh_only(&server);
    misnamed.set_str("calendar", "AAMkNoSuchCalendar=");
    let refused = provider(&server)
        .connect(&misnamed)
        .await
        .expect_err("no such calendar");
    assert_eq!(refused.kind, ProviderErrorKind::InvalidCredentials);
    assert!(refused.message.contains("calendar: "), "{refused}");
}

#[tokio::test]
async fn a_create_is_one_post_with_wall_times_a_windows_zone_and_calsyncs_keys() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let context = context();
    server.clear_log();
    let created = adapter
        .create_event(&session, &meeting("Plan"), &context)
        .await
        .expect("create");
    assert_eq!(
        server.log(),
        [format!("POST /v1.0/me/calendars/{DEFAULT_CALENDAR}/events")]
    );
    assert!(created.event_id.len() > 100, "{}", created.event_id);
    assert!(
        created
            .etag
            .as_deref()
            .is_some_and(|tag| tag.starts_with("W/\""))
    );
    let stored = server.event(&created.event_id).expect("stored");
    assert_eq!(
        stored["start"],
        json!({"dateTime": "2030-03-04T10:00:00", "timeZone": "W. Europe Standard Time"})
    );
    assert_eq!(
        stored["transactionId"],
        transaction_id(&context.idempotency_key)
    );
    assert_eq!(
        stored["singleValueExtendedProperties"],
        json!([{"id": SYNCED_ID_PROPERTY, "value": context.synced_id.as_str()},
            {"id": KEY_PROPERTY, "value": context.idempotency_key}])
    );
    assert_eq!(stored["location"]["displayName"], "Room 1");
    assert_eq!(stored["showAs"], "busy");

    // The same create again: Graph drops it by its transactionId.
    let again = adapter
        .create_event(&session, &meeting("Plan"), &context)
        .await
        .expect("create again");
    assert_eq!(again.event_id, created.event_id);
    assert_eq!(server.events(DEFAULT_CALENDAR).len(), 1);
    assert_eq!(server.without_immutable_ids(), 0);
}

#[tokio::test]
async fn a_create_whose_reply_was_lost_is_found_by_its_key_before_creating_again() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let context = context();
    server.lose_next_reply();
    let lost = adapter
        .create_event(&session, &meeting("Once"), &context)
        .await
        .expect_err("the reply was lost");
    assert_eq!(lost.kind, ProviderErrorKind::Unavailable);
    // Graph publishes no retention for transactionId: assume it forgot.
    server.forget_transactions();
    server.clear_log();
    // The engine says the earlier attempt may have landed (its answer was
    // lost, or the process stopped during it).
    let retried = calsync::providers::WriteContext {
        retry: true,
        ..context.clone()
    };
    let found = adapter
        .create_event(&session, &meeting("Once"), &retried)
        .await
        .expect("found");
    assert_eq!(
        server.events(DEFAULT_CALENDAR).len(),
        1,
        "exactly one event"
    );
    assert_eq!(server.count("POST", ""), 0, "{:?}", server.log());
    assert_eq!(server.count("GET", "/events"), 1, "{:?}", server.log());
    assert!(server.event(&found.event_id).is_some());
    let by_key = adapter
        .find_created(&session, &context)
        .await
        .expect("find");
    assert_eq!(by_key.map(|r| r.event_id), Some(found.event_id));
}

#[tokio::test]
async fn an_update_over_someone_elses_edit_reapplies_once_and_a_second_delete_is_done() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let context = context();
    let created = adapter
        .create_event(&session, &meeting("Draft"), &context)
        .await
        .expect("create");
    server.edit_event(&created.event_id, json!({"categories": ["Red category"]}));
    let mut event = meeting("Draft");
    event.location = Some("Room 9".into());
    server.clear_log();
    let updated = adapter
        .update_event(&session, &created, &event, &["location".into()], &context)
        .await
        .expect("update");
    assert_eq!(
        server.count("PATCH", ""),
        2,
        "412, then again: {:?}",
        server.log()
    );
    assert_ne!(updated.etag, created.etag);
    let stored = server.event(&created.event_id).expect("stored");
    assert_eq!(stored["location"]["displayName"], "Room 9");
    assert_eq!(
        stored["categories"],
        json!(["Red category"]),
        "their field stays"
    );
    assert_eq!(stored["subject"], "Draft");

    adapter
        .delete_event(&session, &updated, &context)
        .await
        .expect("delete");
    assert!(server.event(&created.event_id).is_none());
    adapter
        .delete_event(&session, &updated, &context)
        .await
        .expect("404 is done");
}

#[tokio::test]
async fn throttling_with_a_fractional_retry_after_is_rate_limited_and_says_how_long() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    server.fail_next(1, 429, "TooManyRequests", Some("2.128"));
    let error = adapter
        .create_event(&session, &meeting("Later"), &context())
        .await
        .expect_err("throttled");
    assert_eq!(error.kind, ProviderErrorKind::RateLimited);
    assert_eq!(error.retry_after, Some(Duration::from_millis(2128)));
    server.fail_next(1, 503, "ServiceNotAvailable", Some("0.5"));
    let error = adapter.validate(&session).await.expect_err("down");
    assert_eq!(error.kind, ProviderErrorKind::Unavailable);
    assert_eq!(error.retry_after, Some(Duration::from_millis(500)));
}

#[tokio::test]
async fn what_graph_cannot_express_is_refused_before_any_request() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    let mut hourly = meeting("Every hour");
    hourly.recurrence = vec!["RRULE:FREQ=HOURLY;COUNT=3".into()];
    server.clear_log();
    let error = adapter
        .create_event(&session, &hourly, &context())
        .await
        .expect_err("refused");
    assert_eq!(error.kind, ProviderErrorKind::Rejected);
    assert!(error.message.starts_with("recurrence: "), "{error}");
    assert!(server.log().is_empty(), "{:?}", server.log());
}

#[tokio::test]
async fn the_calendar_view_is_read_page_by_page_in_utc_whatever_the_zones() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    for n in 0..23 {
        server.put_event(
            DEFAULT_CALENDAR,
            json!({"subject": format!("Busy {n}"),
                "start": {"dateTime": "2030-03-04T04:00:00", "timeZone": "Eastern Standard Time"},
                "end": {"dateTime": "2030-03-04T05:00:00", "timeZone": "Eastern Standard Time"}}),
        );
    }
    server.put_event(
        DEFAULT_CALENDAR,
        json!({"subject": "Holiday", "isAllDay": true,
            "start": {"dateTime": "2030-03-04T00:00:00", "timeZone": "Tokyo Standard Time"},
            "end": {"dateTime": "2030-03-05T00:00:00", "timeZone": "Tokyo Standard Time"}}),
    );
    server.put_event(
        DEFAULT_CALENDAR,
        json!({"subject": "Daily", "recurrence": {"pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "numberOfOccurrences": 3, "startDate": "2030-03-03"}},
            "start": {"dateTime": "2030-03-03T12:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-03-03T12:30:00", "timeZone": "UTC"}}),
    );
    server.clear_log();
    let events = adapter
        .list_events(&session, at(0), at(23))
        .await
        .expect("list");
    assert_eq!(
        server.count("GET", "/calendarView"),
        3,
        "10-item pages: {:?}",
        server.log()
    );
    let busy: Vec<_> = events
        .iter()
        .filter(|e| e.title.starts_with("Busy"))
        .collect();
    assert_eq!(busy.len(), 23);
    assert!(
        busy.iter().all(|e| e.start == EventTime::Instant(at(9))),
        "{:?}",
        busy[0]
    );
    let holiday = events
        .iter()
        .find(|e| e.title == "Holiday")
        .expect("holiday");
    assert_eq!(
        holiday.start,
        EventTime::Date(chrono::NaiveDate::from_ymd_opt(2030, 3, 4).unwrap())
    );
    let daily: Vec<_> = events.iter().filter(|e| e.title == "Daily").collect();
    assert_eq!(
        daily.len(),
        1,
        "Graph expands the series; one occurrence in the window"
    );
    assert_eq!(daily[0].start, EventTime::Instant(at(12)));
    assert!(events.iter().all(|e| e.status == EventStatus::Confirmed));
    assert!(events.iter().all(|e| e.transparency == Transparency::Busy));
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.contains("calendarView") || r.contains("startDateTime=")),
        "{:?}",
        server.requests()
    );
}

#[tokio::test]
async fn at_most_four_requests_are_in_flight_to_one_mailbox() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    server.set_latency(Duration::from_millis(50));
    server.clear_log();
    let creates = (0..10).map(|n| {
        let (adapter, session) = (adapter.clone(), session.clone());
        async move {
            adapter
                .create_event(&session, &meeting(&format!("Burst {n}")), &context())
                .await
                .expect("create")
        }
    });
    futures::future::join_all(creates).await;
    assert_eq!(server.events(DEFAULT_CALENDAR).len(), 10);
    assert!(server.most_in_flight() <= 4, "{}", server.most_in_flight());
}

#[tokio::test]
async fn revoke_calls_nothing() {
    let server = server().await;
    let (adapter, session) = connected(&server).await;
    server.clear_log();
    let revoked = adapter.revoke(&session.credentials).await.expect("revoke");
    assert!(
        matches!(revoked, calsync::providers::Revocation::NotSupported(_)),
        "{revoked:?}"
    );
    assert!(server.log().is_empty(), "{:?}", server.log());
}
