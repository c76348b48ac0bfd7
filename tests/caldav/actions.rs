//! Every requires and effect of commit, update, cancel and detectConflicts
//! with an `apple` account on each real server.

use super::support::{Server, at, calendar_sync, meeting, servers};
use crate::patience::patient;
use calsync::model::{Account, DraftEvent, SyncResultStatus, UserId};
use calsync::{CalendarSync, Error};
use serde_json::{Map, json};

/// A concept with one apple account on a calendar of its own.
async fn setup(server: &Server, dir: &tempfile::TempDir) -> (CalendarSync, UserId, Account) {
    let sync = calendar_sync(dir.path(), patient()).await;
    let user = UserId::from(format!("ada-{}", server.name));
    let calendar = server.new_calendar().await;
    let account = sync
        .connect_account(&user, "apple", &server.credentials(Some(&calendar)))
        .await
        .expect("connect apple");
    (sync, user, account)
}

fn calendar_of(account: &Account) -> String {
    account
        .calendar_id
        .clone()
        .expect("a connected account names its calendar")
}

fn draft(start: u32, end: u32) -> DraftEvent {
    serde_json::from_value(json!({
        "id": "draft-1", "title": "Planning",
        "start": at(start).to_rfc3339(), "end": at(end).to_rfc3339(),
    }))
    .expect("draft")
}

#[tokio::test]
async fn commit_requires_a_connected_account_and_a_valid_event() {
    for server in servers("commit_requires_a_connected_account_and_a_valid_event") {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sync, user, account) = setup(&server, &dir).await;
        let calendar = calendar_of(&account);

        let mut invalid = meeting("Bad");
        invalid.end = invalid.start;
        let refused = sync.commit(&user, &invalid, &[account.id.clone()]).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");

        let other = UserId::from("somebody-else");
        let refused = sync
            .commit(&other, &meeting("Theirs"), &[account.id.clone()])
            .await;
        assert!(
            matches!(refused, Err(Error::AccountNotFound(_))),
            "{refused:?}"
        );

        sync.disconnect_account(&user, &account.id)
            .await
            .expect("disconnect");
        let refused = sync
            .commit(&user, &meeting("Late"), &[account.id.clone()])
            .await;
        assert!(
            matches!(refused, Err(Error::AccountNotConnected { .. })),
            "{refused:?}"
        );

        assert!(
            server.members(&calendar).await.is_empty(),
            "{}",
            server.name
        );
        assert!(
            sync.store()
                .synced_events_of_user(&user)
                .await
                .expect("read")
                .is_empty()
        );
        sync.shutdown();
    }
}

#[tokio::test]
async fn commit_creates_the_event_once_and_maps_its_href() {
    for server in servers("commit_creates_the_event_once_and_maps_its_href") {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sync, user, account) = setup(&server, &dir).await;
        let committed = sync
            .commit(&user, &meeting("Kick-off"), &[account.id.clone()])
            .await
            .expect("commit");
        let result = &committed.results[&account.id];
        assert_eq!(result.status, SyncResultStatus::Succeeded, "{result:?}");
        let synced = &committed.synced_event;
        let reference = &synced.provider_ids[&account.id];
        assert_eq!(
            result.event_id.as_deref(),
            Some(reference.event_id.as_str())
        );
        let members = server.members(&calendar_of(&account)).await;
        assert_eq!(members.len(), 1, "{members:?}");
        assert!(reference.event_id.ends_with(&members[0]), "{members:?}");
        let (status, etag, body) = server.raw("GET", &reference.event_id, &[], None).await;
        assert_eq!(status, 200);
        assert_eq!(etag, reference.etag, "the stored ETag is the server's");
        assert!(body.contains("SUMMARY:Kick-off"), "{body}");
        assert!(body.contains("LOCATION:Room 1"), "{body}");
        assert!(
            body.contains(&format!("X-CALSYNC-ID:{}", synced.internal_id)),
            "{body}"
        );
        assert!(body.contains("TZID=Europe/Berlin"), "{body}");
        sync.shutdown();
    }
}

#[tokio::test]
async fn update_changes_only_valid_fields_on_the_server() {
    for server in servers("update_changes_only_valid_fields_on_the_server") {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sync, user, account) = setup(&server, &dir).await;
        let committed = sync
            .commit(&user, &meeting("Review"), &[account.id.clone()])
            .await
            .expect("commit");
        let id = committed.synced_event.internal_id.clone();
        let href = committed.synced_event.provider_ids[&account.id]
            .event_id
            .clone();
        let (_, before_etag, before) = server.raw("GET", &href, &[], None).await;

        let mut unknown = Map::new();
        unknown.insert("colour".into(), json!("red"));
        let refused = sync.update(&user, &id, &unknown).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
        let (_, after_etag, after) = server.raw("GET", &href, &[], None).await;
        assert_eq!(
            (after_etag, after),
            (before_etag, before.clone()),
            "nothing changed"
        );

        let missing = sync
            .update(&user, &calsync::model::EventId::from("nope"), &Map::new())
            .await;
        assert!(
            matches!(missing, Err(Error::EventNotFound(_))),
            "{missing:?}"
        );

        let mut changes = Map::new();
        changes.insert("location".into(), json!("Room 2"));
        let updated = sync.update(&user, &id, &changes).await.expect("update");
        assert_eq!(
            updated.results[&account.id].status,
            SyncResultStatus::Succeeded
        );
        let (_, etag, body) = server.raw("GET", &href, &[], None).await;
        assert!(body.contains("LOCATION:Room 2"), "{body}");
        assert!(body.contains("SUMMARY:Review"), "the title is kept: {body}");
        assert!(body.contains("SEQUENCE:1"), "{body}");
        let stored = sync
            .store()
            .get_synced_event(&id)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(
            stored.provider_ids[&account.id].etag, etag,
            "the new ETag is kept"
        );
        assert_eq!(stored.event.location.as_deref(), Some("Room 2"));
        sync.shutdown();
    }
}

#[tokio::test]
async fn cancel_removes_the_resource_and_the_synced_event() {
    for server in servers("cancel_removes_the_resource_and_the_synced_event") {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sync, user, account) = setup(&server, &dir).await;
        let committed = sync
            .commit(&user, &meeting("Short-lived"), &[account.id.clone()])
            .await
            .expect("commit");
        let id = committed.synced_event.internal_id.clone();
        let cancelled = sync.cancel(&user, &id).await.expect("cancel");
        assert_eq!(
            cancelled.results[&account.id].status,
            SyncResultStatus::Succeeded
        );
        assert!(!cancelled.stored);
        assert!(server.members(&calendar_of(&account)).await.is_empty());
        assert!(
            sync.store()
                .get_synced_event(&id)
                .await
                .expect("read")
                .is_none()
        );
        let again = sync.cancel(&user, &id).await;
        assert!(matches!(again, Err(Error::EventNotFound(_))), "{again:?}");
        sync.shutdown();
    }
}

#[tokio::test]
async fn detect_conflicts_reads_server_side_series_and_their_moved_instances() {
    for server in servers("detect_conflicts_reads_server_side_series_and_their_moved_instances") {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sync, user, account) = setup(&server, &dir).await;
        // Another client's daily 9:00 UTC series in the target calendar,
        // starting weeks before the draft, with the draft's day moved to 14:00.
        let uid = format!("daily-{}", uuid::Uuid::new_v4().simple());
        let series = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\nBEGIN:VEVENT\r\n\
             UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300201T090000Z\r\n\
             DTEND:20300201T100000Z\r\nSUMMARY:Stand-up\r\nRRULE:FREQ=DAILY\r\n\
             END:VEVENT\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\n\
             RECURRENCE-ID:20300304T090000Z\r\nDTSTART:20300304T140000Z\r\n\
             DTEND:20300304T150000Z\r\nSUMMARY:Stand-up (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let href = format!("{}{uid}.ics", calendar_of(&account));
        let (status, _, text) = server
            .raw(
                "PUT",
                &href,
                &[("Content-Type", "text/calendar")],
                Some(series),
            )
            .await;
        assert!((200..300).contains(&status), "{status} {text}");

        let seen = |report: &calsync::model::ConflictReport| {
            report
                .conflicts
                .iter()
                .flat_map(|conflict| conflict.existing_events.iter())
                .filter(|existing| existing.uid.as_deref() == Some(uid.as_str()))
                .count()
        };
        // 9:00 that day was moved away: free. 14:00 is the moved instance.
        let at_nine = sync
            .detect_conflicts(&user, &draft(9, 10))
            .await
            .expect("detect");
        assert_eq!(seen(&at_nine), 0, "{}: {at_nine:?}", server.name);
        let at_two = sync
            .detect_conflicts(&user, &draft(14, 15))
            .await
            .expect("detect");
        assert_eq!(seen(&at_two), 1, "{}: {at_two:?}", server.name);
        assert!(at_two.unknown_accounts.is_empty());

        sync.shutdown();
    }
}
