//! The operational principle with an `apple` account on each real server:
//! connect, see a series another client made, commit, update, cancel.

use super::support::{at, calendar_sync, servers};
use crate::patience::patient;
use calsync::model::{DraftEvent, EventDetails, Provider, SyncResultStatus, UserId};
use serde_json::{Map, json};

#[tokio::test]
async fn the_operational_principle_holds_on_real_caldav_servers() {
    for server in servers("the_operational_principle_holds_on_real_caldav_servers") {
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), patient()).await;
        let ada = UserId::from(format!("ada-{}", server.name));
        let target = server.new_calendar().await;
        let account = sync
            .connect_account(&ada, "apple", &server.credentials(Some(&target)))
            .await
            .expect("connect apple");
        assert_eq!(account.provider, Provider::Apple);

        // Another client keeps a weekly 9:00 UTC series in another calendar.
        let other = server.new_calendar().await;
        let home = account
            .calendar_id
            .as_deref()
            .and_then(|calendar| calendar.strip_suffix(&format!("{target}/")))
            .expect("the target lives in the home")
            .to_owned();
        let uid = format!("weekly-{}", uuid::Uuid::new_v4().simple());
        let series = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\nBEGIN:VEVENT\r\n\
             UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300107T090000Z\r\n\
             DTEND:20300107T100000Z\r\nSUMMARY:Weekly review\r\nRRULE:FREQ=WEEKLY\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let (status, _, text) = server
            .raw(
                "PUT",
                &format!("{home}{other}/{uid}.ics"),
                &[("Content-Type", "text/calendar")],
                Some(series),
            )
            .await;
        assert!((200..300).contains(&status), "{status} {text}");

        // 2030-03-04 09:00 UTC is an instance of the series: a conflict.
        let draft: DraftEvent = serde_json::from_value(json!({
            "id": "draft-1", "title": "Planning",
            "start": at(9).to_rfc3339(), "end": at(10).to_rfc3339(),
        }))
        .expect("draft");
        let report = sync.detect_conflicts(&ada, &draft).await.expect("detect");
        assert!(
            report.unknown_accounts.is_empty(),
            "{:?}",
            report.unknown_accounts
        );
        let seen: Vec<_> = report
            .conflicts
            .iter()
            .flat_map(|conflict| conflict.existing_events.iter())
            .filter(|existing| existing.uid.as_deref() == Some(uid.as_str()))
            .collect();
        assert!(!seen.is_empty(), "{}: {report:?}", server.name);
        assert_eq!(seen[0].account, account.id);

        // Commit at 11:00 instead; the event is on the server once.
        let event = EventDetails::timed("Planning", at(11), at(12));
        let committed = sync
            .commit(&ada, &event, &[account.id.clone()])
            .await
            .expect("commit");
        assert_eq!(
            committed.results[&account.id].status,
            SyncResultStatus::Succeeded
        );
        let synced = committed.synced_event;
        let reference = synced.provider_ids[&account.id].clone();
        let (status, _, body) = server.raw("GET", &reference.event_id, &[], None).await;
        assert_eq!(status, 200);
        assert!(
            body.contains(&format!("X-CALSYNC-ID:{}", synced.internal_id)),
            "{body}"
        );
        let calendar = account.calendar_id.clone().expect("calendar");
        assert_eq!(server.members(&calendar).await.len(), 1);

        // Update the title; cancel.
        let mut changes = Map::new();
        changes.insert("title".into(), json!("Planning, final"));
        let updated = sync
            .update(&ada, &synced.internal_id, &changes)
            .await
            .expect("update");
        assert_eq!(
            updated.results[&account.id].status,
            SyncResultStatus::Succeeded
        );
        let (_, _, body) = server.raw("GET", &reference.event_id, &[], None).await;
        assert!(body.contains("SUMMARY:Planning\\, final"), "{body}");
        let cancelled = sync
            .cancel(&ada, &synced.internal_id)
            .await
            .expect("cancel");
        assert_eq!(
            cancelled.results[&account.id].status,
            SyncResultStatus::Succeeded
        );
        let (status, _, _) = server.raw("GET", &reference.event_id, &[], None).await;
        assert_eq!(status, 404);
        sync.shutdown();
    }
}
