//! The adapter call by call: create, find, update, delete.

use super::server::{USER_ID, ZoomServer};
use super::support::{context, event, refresh_only, session, user_adapter};
use calsync::providers::{MeetingProvider, ProviderErrorKind};

#[tokio::test]
async fn a_meeting_is_made_moved_and_deleted_with_one_request_each() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = user_adapter(&server, dir.path()).await;
    let session = session(&adapter, &refresh_only(server.grant(USER_ID))).await;
    let context = context();

    server.clear_log();
    let made = adapter
        .create_meeting(&session, &event("Planning", 9), &context)
        .await
        .expect("create");
    assert_eq!(server.log(), vec!["POST /v2/users/me/meetings"]);
    let stored = server.meeting(&made.event_id).expect("on Zoom");
    assert_eq!(made.join_url.as_deref(), stored["join_url"].as_str());
    assert!(made.event_id.parse::<i64>().is_ok(), "{}", made.event_id);
    assert_eq!(stored["topic"], "Planning");
    assert_eq!(stored["type"], 2);
    assert_eq!(stored["start_time"], "2030-03-04T10:00:00");
    assert_eq!(stored["timezone"], "Europe/Berlin");
    assert_eq!(stored["duration"], 60);
    let marker = format!("calsync:{}", context.idempotency_key);
    assert!(
        stored["agenda"]
            .as_str()
            .expect("agenda")
            .starts_with(&marker),
        "{stored}"
    );
    let shown = serde_json::to_string(&made).expect("json");
    assert!(!shown.contains("zak") && !shown.contains("/s/"), "{shown}");

    server.clear_log();
    let moved = adapter
        .update_meeting(
            &session,
            &made,
            &event("Planning, moved", 11),
            &[],
            &context,
        )
        .await
        .expect("update");
    assert_eq!(
        server.log(),
        vec![format!("PATCH /v2/meetings/{}", made.event_id)]
    );
    assert_eq!(moved.join_url, made.join_url);
    assert_eq!(moved.event_id, made.event_id);
    let stored = server.meeting(&made.event_id).expect("on Zoom");
    assert_eq!(stored["start_time"], "2030-03-04T12:00:00");
    assert_eq!(stored["topic"], "Planning, moved");

    adapter
        .delete_meeting(&session, &made, &context)
        .await
        .expect("delete");
    assert!(server.meetings().is_empty());
    // Gone already (404, code 3001): done.
    adapter
        .delete_meeting(&session, &made, &context)
        .await
        .expect("a second delete is done");
    assert_eq!(server.count("DELETE", "/v2/meetings/"), 2);
    let refused = adapter
        .update_meeting(&session, &made, &event("Planning", 9), &[], &context)
        .await
        .expect_err("no meeting to move");
    assert_eq!(refused.kind, ProviderErrorKind::NotFound);
}

#[tokio::test]
async fn find_meeting_reads_every_page_for_the_marker() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = user_adapter(&server, dir.path()).await;
    let session = session(&adapter, &refresh_only(server.grant(USER_ID))).await;
    for n in 0..5 {
        server.put_meeting(USER_ID, &format!("Other {n}"), "calsync:someone-else");
    }
    let context = context();
    let made = adapter
        .create_meeting(&session, &event("Planning", 9), &context)
        .await
        .expect("create");
    server.put_meeting(USER_ID, "Later", "");
    server.set_page_size(2);

    server.clear_log();
    let found = adapter
        .find_meeting(&session, &context)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.event_id, made.event_id);
    assert_eq!(found.join_url, made.join_url);
    let pages = server.requests();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|page| page.contains("type=upcoming")));
    assert!(pages[1].contains("next_page_token="), "{pages:?}");

    server.clear_log();
    let none = adapter
        .find_meeting(&session, &super::support::context())
        .await;
    assert_eq!(none.expect("find"), None);
    assert_eq!(server.log().len(), 4, "every page: {:?}", server.log());
}

#[tokio::test]
async fn a_create_tried_again_after_a_lost_reply_makes_one_meeting() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = user_adapter(&server, dir.path()).await;
    let session = session(&adapter, &refresh_only(server.grant(USER_ID))).await;
    let context = context();

    server.lose_next_reply();
    let lost = adapter
        .create_meeting(&session, &event("Planning", 9), &context)
        .await
        .expect_err("the reply was lost");
    assert_eq!(lost.kind, ProviderErrorKind::Unavailable);
    assert_eq!(server.meetings().len(), 1, "the meeting was made");

    server.clear_log();
    let again = adapter
        .create_meeting(&session, &event("Planning", 9), &context)
        .await
        .expect("the retry");
    assert_eq!(server.meetings().len(), 1, "no second meeting");
    assert_eq!(server.count("POST", "/meetings"), 0, "{:?}", server.log());
    let stored = &server.meetings()[0];
    assert_eq!(again.event_id, stored["id"].to_string());
    assert_eq!(again.join_url.as_deref(), stored["join_url"].as_str());
    let found = adapter
        .find_meeting(&session, &context)
        .await
        .expect("find");
    assert_eq!(found.map(|found| found.event_id), Some(again.event_id));

    // A create of another key is one POST again.
    server.clear_log();
    adapter
        .create_meeting(&session, &event("Review", 13), &super::support::context())
        .await
        .expect("create");
    assert_eq!(server.log(), vec!["POST /v2/users/me/meetings"]);
}

#[tokio::test]
async fn a_create_resumed_by_another_process_after_a_kill_makes_one_meeting() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let first = user_adapter(&server, dir.path()).await;
    let credentials = refresh_only(server.grant(USER_ID));
    let session_before = session(&first, &credentials).await;
    let context = context();
    // The meeting is made; the process is killed before the answer is stored.
    server.lose_next_reply();
    first
        .create_meeting(&session_before, &event("Planning", 9), &context)
        .await
        .expect_err("the process never saw the answer");
    drop(first);
    // Another process on the same store takes the create up: the engine says
    // an earlier attempt may have landed.
    let second = user_adapter(&server, dir.path()).await;
    let resumed = calsync::providers::WriteContext {
        retry: true,
        ..context.clone()
    };
    server.clear_log();
    let found = second
        .create_meeting(&session_before, &event("Planning", 9), &resumed)
        .await
        .expect("found");
    assert_eq!(server.meetings().len(), 1, "no second meeting");
    assert_eq!(server.count("POST", "/meetings"), 0, "{:?}", server.log());
    assert_eq!(found.event_id, server.meetings()[0]["id"].to_string());
}
