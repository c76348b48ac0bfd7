//! A commit with a video meeting through `CalendarSync` on the SQLite store:
//! a sandbox Google account and a live Zoom account.

use super::server::{USER_ID, ZoomServer};
use super::support::{event, store, user_adapter, vault};
use calsync::model::{Provider, SyncResultStatus, UserId};
use calsync::providers::Credentials;
use calsync::providers::sandbox::Sandbox;
use std::sync::Arc;

#[tokio::test]
async fn a_commit_whose_meeting_reply_is_lost_makes_one_meeting_and_links_it() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = Sandbox::new();
    let zoom = Arc::new(user_adapter(&server, dir.path()).await);
    let providers = calsync::providers::Providers::new()
        .with(sandbox.get(Provider::Google).clone())
        .with_meetings(zoom);
    let sync = calsync::CalendarSync::builder(store(dir.path()).await)
        .providers(providers)
        .vault(vault())
        .config(crate::patience::patient())
        .build();
    let ada = UserId::from("ada");
    let mut google_credentials = Credentials::default();
    google_credentials.set_str("access_token", "ya29.sandbox");
    let google = sync
        .connect_account(&ada, "google", &google_credentials)
        .await
        .expect("connect google");
    let mut zoom_credentials = Credentials::default();
    zoom_credentials.set_str("refresh_token", server.grant(USER_ID));
    let meeting_account = sync
        .connect_account(&ada, "zoom", &zoom_credentials)
        .await
        .expect("connect zoom");

    server.lose_next_reply();
    let committed = sync
        .commit(
            &ada,
            &event("Planning", 9),
            &[google.id.clone(), meeting_account.id.clone()],
        )
        .await
        .expect("commit");
    for account in [&google.id, &meeting_account.id] {
        assert_eq!(
            committed.results[account].status,
            SyncResultStatus::Succeeded,
            "{:?}",
            committed.results
        );
    }
    let meetings = server.meetings();
    assert_eq!(meetings.len(), 1, "exactly one meeting: {meetings:?}");
    let link = meetings[0]["join_url"]
        .as_str()
        .expect("join_url")
        .to_owned();
    let reference = &committed.synced_event.provider_ids[&meeting_account.id];
    assert_eq!(reference.join_url.as_deref(), Some(link.as_str()));
    assert_eq!(reference.event_id, meetings[0]["id"].to_string());

    let calendar = google.calendar_id.as_deref().expect("a calendar");
    let copies = sandbox.get(Provider::Google).events(calendar);
    assert_eq!(copies.len(), 1);
    let details = copies[0].details.as_ref().expect("calsync's copy");
    let text = format!(
        "{} {}",
        details.location.as_deref().unwrap_or_default(),
        details.description.as_deref().unwrap_or_default()
    );
    assert!(text.contains(&link), "{text}");
    assert!(!text.contains("zak"), "{text}");
}
