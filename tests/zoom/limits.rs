//! Zoom's limits: per second (backed off), per day (held until the reset),
//! and the per-user cap of 100 meeting writes a day, held without a call.

use super::server::{USER_ID, ZoomServer};
use super::support::{adapter_on, context, event, manual_clock, refresh_only, session};
use calsync::providers::{MeetingProvider, ProviderErrorKind};
use std::time::Duration;

#[tokio::test]
async fn a_per_second_limit_is_backed_off_and_a_daily_one_held_until_its_reset() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = adapter_on(&server.user_app(), dir.path(), manual_clock()).await;
    let session = session(&adapter, &refresh_only(server.grant(USER_ID))).await;
    let context = context();

    server.fail_qps(1);
    let throttled = adapter
        .create_meeting(&session, &event("Planning", 9), &context)
        .await
        .expect_err("429 QPS");
    assert_eq!(throttled.kind, ProviderErrorKind::RateLimited);
    assert!(throttled.retry_after.is_some());
    adapter
        .create_meeting(&session, &event("Planning", 9), &context)
        .await
        .expect("tried again, it passes");
    assert_eq!(server.meetings().len(), 1);

    // The clock reads 15:30 UTC; the limit is spent until 18:00.
    server.fail_daily("2030-03-04T18:00:00Z");
    let held = adapter
        .create_meeting(&session, &event("Review", 11), &super::support::context())
        .await
        .expect_err("429 Daily-limit");
    assert_eq!(held.kind, ProviderErrorKind::LimitReached);
    assert_eq!(held.retry_after, Some(Duration::from_secs(150 * 60)));
}

#[tokio::test]
async fn the_hundred_and_first_write_of_a_day_waits_for_midnight_without_a_call() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = manual_clock();
    let adapter = adapter_on(&server.user_app(), dir.path(), clock.clone()).await;
    let session = session(&adapter, &refresh_only(server.grant(USER_ID))).await;
    let mut last = None;
    for n in 0..99 {
        last = Some(
            adapter
                .create_meeting(&session, &event(&format!("Meeting {n}"), 9), &context())
                .await
                .expect("create"),
        );
    }
    let last = last.expect("a meeting");
    adapter
        .update_meeting(&session, &last, &event("Moved", 10), &[], &context())
        .await
        .expect("the hundredth write");
    assert_eq!(server.writes_today(USER_ID), 100);

    server.clear_log();
    let held = adapter
        .update_meeting(&session, &last, &event("Moved again", 11), &[], &context())
        .await
        .expect_err("the cap is spent");
    assert_eq!(held.kind, ProviderErrorKind::LimitReached);
    // 15:30 to 00:00 UTC.
    assert_eq!(
        held.retry_after,
        Some(Duration::from_secs(8 * 3600 + 30 * 60))
    );
    let held = adapter
        .create_meeting(&session, &event("One more", 12), &context())
        .await
        .expect_err("the cap is spent");
    assert_eq!(held.kind, ProviderErrorKind::LimitReached);
    assert!(server.log().is_empty(), "no call: {:?}", server.log());

    // A new UTC day.
    clock.advance(chrono::Duration::hours(9));
    server.set_day("2030-03-05");
    adapter
        .create_meeting(&session, &event("One more", 12), &context())
        .await
        .expect("a new day's write");
    assert_eq!(server.writes_today(USER_ID), 1);
}

#[tokio::test]
async fn refusals_and_outages_answer_their_kinds() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = adapter_on(&server.user_app(), dir.path(), manual_clock()).await;
    let session = session(&adapter, &refresh_only(server.grant(USER_ID))).await;
    for (status, code, kind) in [
        (400, 300, ProviderErrorKind::Rejected),
        (403, 4711, ProviderErrorKind::Rejected),
        (500, 500, ProviderErrorKind::Unavailable),
    ] {
        server.fail_next(1, status, code, "scripted failure");
        let error = adapter
            .create_meeting(&session, &event("Planning", 9), &context())
            .await
            .expect_err("scripted");
        assert_eq!(error.kind, kind, "{status}: {}", error.message);
        assert!(
            error.message.contains(&code.to_string()),
            "{}",
            error.message
        );
    }
    assert!(server.meetings().is_empty());
}
