//! The operational principle with a video meeting, on three local servers:
//! a commit with `virtualMeeting` to Google, Outlook and Zoom makes one
//! meeting and writes its link into both calendar copies; an update that
//! moves the event moves the meeting and keeps the link; a cancel removes
//! the meeting and both copies.

use super::server::{USER_ID, ZoomServer};
use super::support::{store, user_adapter, vault};
use crate::google::server::PRIMARY;
use crate::outlook::server::DEFAULT_CALENDAR;
use calsync::model::{SyncResultStatus, UserId};
use calsync::providers::{Credentials, Providers};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn a_meeting_commit_to_google_outlook_and_zoom_then_a_move_and_a_cancel() {
    let google_server = crate::google::support::server().await;
    let graph = crate::outlook::support::server().await;
    let zoom_server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let zoom = Arc::new(user_adapter(&zoom_server, dir.path()).await);
    let providers = Providers::new()
        .with(Arc::new(crate::google::support::provider(&google_server)))
        .with(Arc::new(crate::outlook::support::provider(&graph)))
        .with_meetings(zoom);
    let sync = calsync::CalendarSync::builder(store(dir.path()).await)
        .providers(providers)
        .vault(vault())
        .config(crate::patience::patient())
        .build();
    let ada = UserId::from("ada");
    let google = sync
        .connect_account(
            &ada,
            "google",
            &crate::google::support::refresh_only(&google_server),
        )
        .await
        .expect("connect google");
    let outlook = sync
        .connect_account(
            &ada,
            "outlook",
            &crate::outlook::support::refresh_only(&graph),
        )
        .await
        .expect("connect outlook");
    let mut zoom_credentials = Credentials::default();
    zoom_credentials.set_str("refresh_token", zoom_server.grant(USER_ID));
    let meeting_account = sync
        .connect_account(&ada, "zoom", &zoom_credentials)
        .await
        .expect("connect zoom");
    let accounts = [
        google.id.clone(),
        outlook.id.clone(),
        meeting_account.id.clone(),
    ];

    let mut details = crate::google::support::meeting("Planning");
    details.virtual_meeting = true;
    let committed = sync
        .commit(&ada, &details, &accounts)
        .await
        .expect("commit");
    sync.settle().await;
    assert!(
        committed
            .results
            .values()
            .all(|result| result.status == SyncResultStatus::Succeeded),
        "{:?}",
        committed.results
    );
    let meetings = zoom_server.meetings();
    assert_eq!(meetings.len(), 1, "one meeting: {meetings:?}");
    let link = meetings[0]["join_url"]
        .as_str()
        .expect("join_url")
        .to_owned();
    let on_google = google_server.live_events(PRIMARY);
    let on_outlook = graph.events(DEFAULT_CALENDAR);
    assert_eq!((on_google.len(), on_outlook.len()), (1, 1));
    assert!(on_google[0].to_string().contains(&link), "{}", on_google[0]);
    assert!(
        on_outlook[0].to_string().contains(&link),
        "{}",
        on_outlook[0]
    );

    let first_start = meetings[0]["start_time"].clone();
    let id = committed.synced_event.internal_id.clone();
    let moved = crate::google::support::at(15);
    let updated = sync
        .update(
            &ada,
            &id,
            json!({
                "start": moved.to_rfc3339(),
                "end": (moved + chrono::Duration::hours(1)).to_rfc3339(),
            })
            .as_object()
            .expect("object"),
        )
        .await
        .expect("update");
    sync.settle().await;
    assert!(
        updated
            .results
            .values()
            .all(|result| result.status == SyncResultStatus::Succeeded),
        "{:?}",
        updated.results
    );
    let meetings = zoom_server.meetings();
    assert_eq!(meetings.len(), 1);
    assert_eq!(meetings[0]["join_url"], json!(link), "the same link");
    assert_ne!(
        meetings[0]["start_time"], first_start,
        "the meeting moved: {}",
        meetings[0]
    );
    assert!(
        google_server.live_events(PRIMARY)[0]
            .to_string()
            .contains(&link)
    );
    assert!(
        graph.events(DEFAULT_CALENDAR)[0]
            .to_string()
            .contains(&link)
    );

    let cancelled = sync.cancel(&ada, &id).await.expect("cancel");
    sync.settle().await;
    assert!(
        cancelled
            .results
            .values()
            .all(|result| result.status == SyncResultStatus::Succeeded),
        "{:?}",
        cancelled.results
    );
    assert!(zoom_server.meetings().is_empty(), "the meeting is deleted");
    assert!(google_server.live_events(PRIMARY).is_empty());
    assert!(graph.events(DEFAULT_CALENDAR).is_empty());
    sync.shutdown();
}
