//! The actions through `CalendarSync` on the SQLite store with a `google`
//! account on the local Google server: the operational principle, then
//! connect, refresh and disconnect, commit, update, cancel and
//! detectConflicts, each with the requests it costs.

use super::server::{GoogleServer, PRIMARY};
use super::support::{at, calendar_sync, meeting, refresh_only, server};
use crate::patience::patient;
use calsync::model::{
    Account, DraftEvent, EventDetails, Provider, SyncResultStatus, SyncStatus, UserId,
};
use calsync::{CalendarSync, Error};
use serde_json::{Map, json};

async fn setup(server: &GoogleServer, dir: &tempfile::TempDir) -> (CalendarSync, UserId, Account) {
    let sync = calendar_sync(dir.path(), server, patient()).await;
    let user = UserId::from("ada");
    let account = sync
        .connect_account(&user, "google", &refresh_only(server))
        .await
        .expect("connect google");
    (sync, user, account)
}

fn draft(start: u32, end: u32) -> DraftEvent {
    serde_json::from_value(json!({
        "id": "draft-1", "title": "Planning",
        "start": at(start).to_rfc3339(), "end": at(end).to_rfc3339(),
    }))
    .expect("draft")
}

#[tokio::test]
async fn the_operational_principle_holds_with_a_google_account() {
    the_operational_principle(None).await;
}

#[tokio::test]
async fn the_operational_principle_holds_when_google_answers_slowly() {
    the_operational_principle(Some(std::time::Duration::from_millis(100))).await;
}

/// Connect, see a series in another calendar, commit, update, cancel, each
/// with the requests it costs; every Google answer after `latency`.
async fn the_operational_principle(latency: Option<std::time::Duration>) {
    let server = server().await;
    if let Some(latency) = latency {
        server.set_latency(latency);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    assert_eq!(account.provider, Provider::Google);
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert_eq!(account.calendar_id.as_deref(), Some(PRIMARY));

    // Someone else's weekly series at 9:00 UTC in a shared calendar.
    server.add_calendar("team@group.example", "Asia/Tokyo", true, false);
    server.put_event(
        "team@group.example",
        json!({"id": "weekly1", "summary": "Weekly review",
            "start": {"dateTime": "2030-02-25T09:00:00Z", "timeZone": "UTC"},
            "end": {"dateTime": "2030-02-25T10:00:00Z", "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=WEEKLY"]}),
    );
    let report = sync
        .detect_conflicts(&ada, &draft(9, 10))
        .await
        .expect("detect");
    assert!(report.unknown_accounts.is_empty(), "{report:?}");
    assert_eq!(report.conflicts.len(), 1, "{report:?}");
    assert_eq!(report.conflicts[0].existing_events[0].account, account.id);

    // Commit at 11:00 instead: one insert.
    server.clear_log();
    let committed = sync
        .commit(&ada, &meeting("Planning"), &[account.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(server.log().len(), 1, "one insert: {:?}", server.log());
    let synced = committed.synced_event;
    let reference = synced.provider_ids[&account.id].clone();
    let stored = server
        .event(PRIMARY, &reference.event_id)
        .expect("on Google");
    assert_eq!(
        stored["extendedProperties"]["private"]["calsyncId"],
        synced.internal_id.as_str()
    );

    // Update the title: one PATCH.
    server.clear_log();
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
    assert_eq!(
        server.log(),
        vec![format!(
            "PATCH /calendar/v3/calendars/{PRIMARY}/events/{}",
            reference.event_id
        )]
    );
    assert_eq!(
        server.event(PRIMARY, &reference.event_id).expect("event")["summary"],
        "Planning, final"
    );

    // Cancel: one DELETE.
    server.clear_log();
    let cancelled = sync
        .cancel(&ada, &synced.internal_id)
        .await
        .expect("cancel");
    assert_eq!(
        cancelled.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(server.count("DELETE", ""), 1);
    assert_eq!(server.log().len(), 1, "{:?}", server.log());
    assert!(server.live_events(PRIMARY).is_empty());
    sync.shutdown();
}

#[tokio::test]
async fn connect_refuses_a_missing_scope_and_a_dead_token_and_changes_nothing() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let mut narrow = calsync::providers::Credentials::default();
    narrow.set_str(
        "refresh_token",
        server.grant("https://www.googleapis.com/auth/calendar.events"),
    );
    let refused = sync.connect_account(&ada, "google", &narrow).await;
    match refused {
        Err(Error::InvalidCredentials { reason, .. }) => {
            assert!(
                reason.contains("calendar.calendarlist.readonly"),
                "{reason}"
            )
        }
        other => panic!("expected invalid credentials: {other:?}"),
    }
    let dead = refresh_only(&server);
    server.revoke_grant(dead.get_str("refresh_token").expect("token"));
    let refused = sync.connect_account(&ada, "google", &dead).await;
    assert!(
        matches!(refused, Err(Error::InvalidCredentials { .. })),
        "{refused:?}"
    );
    assert!(
        sync.get_account_status(&ada)
            .await
            .expect("status")
            .is_empty()
    );
    sync.shutdown();
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_call_made_again() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.expire_access_tokens();
    server.clear_log();
    let committed = sync
        .commit(&ada, &meeting("After expiry"), &[account.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(server.count("POST", "/token"), 1, "{:?}", server.log());
    assert_eq!(
        server.count("POST", "/events"),
        2,
        "401, then the retry: {:?}",
        server.log()
    );
    assert_eq!(server.live_events(PRIMARY).len(), 1);
    let refreshed = sync
        .refresh_sync(&ada, &account.id)
        .await
        .expect("refreshSync");
    assert_eq!(refreshed.sync_status, SyncStatus::Connected);
    sync.shutdown();
}

#[tokio::test]
async fn disconnect_revokes_at_google_and_wipes_the_tokens() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let credentials = refresh_only(&server);
    let refresh = credentials
        .get_str("refresh_token")
        .expect("token")
        .to_owned();
    let account = sync
        .connect_account(&ada, "google", &credentials)
        .await
        .expect("connect");
    let disconnected = sync
        .disconnect_account(&ada, &account.id)
        .await
        .expect("disconnect");
    assert_eq!(disconnected.account.sync_status, SyncStatus::Disconnected);
    assert_eq!(
        disconnected.revocation,
        Some(calsync::concept::RevocationStatus::Revoked)
    );
    assert!(server.is_revoked(&refresh));
    assert_eq!(server.count("POST", "/revoke"), 1);
    let again = sync
        .disconnect_account(&ada, &account.id)
        .await
        .expect("twice is harmless");
    assert_eq!(again.account.sync_status, SyncStatus::Disconnected);
    let refused = sync
        .commit(&ada, &meeting("Late"), &[account.id.clone()])
        .await;
    assert!(
        matches!(refused, Err(Error::AccountNotConnected { .. })),
        "{refused:?}"
    );
    sync.shutdown();
}

#[tokio::test]
async fn a_dead_refresh_token_marks_the_account_and_never_retries() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let credentials = refresh_only(&server);
    let refresh = credentials
        .get_str("refresh_token")
        .expect("token")
        .to_owned();
    let account = sync
        .connect_account(&ada, "google", &credentials)
        .await
        .expect("connect");
    server.revoke_grant(&refresh);
    server.clear_log();
    let refused = sync
        .commit(&ada, &meeting("Refused"), &[account.id.clone()])
        .await;
    let Err(Error::AllProvidersFailed(results)) = refused else {
        panic!("expected every provider to fail: {refused:?}");
    };
    let result = &results[&account.id];
    assert_eq!(result.status, SyncResultStatus::Failed, "{result:?}");
    assert_eq!(
        server.count("POST", "/token"),
        1,
        "never retried: {:?}",
        server.log()
    );
    let status = sync.get_account(&ada, &account.id).await.expect("account");
    assert_eq!(status.sync_status, SyncStatus::Error);
    let reason = status.error.expect("an error").reason;
    assert!(reason.contains("needs re-authorization"), "{reason}");
    assert!(server.live_events(PRIMARY).is_empty());
    sync.shutdown();
}

#[tokio::test]
async fn a_refused_client_keeps_the_account_connected_and_the_work_pending() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.expire_access_tokens();
    server.refuse_client(true);
    let committed = sync
        .commit(&ada, &meeting("Waiting"), &[account.id.clone()])
        .await
        .expect("commit");
    let result = &committed.results[&account.id];
    assert_eq!(result.status, SyncResultStatus::Pending, "{result:?}");
    assert!(
        result
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("invalid_client"),
        "{result:?}"
    );
    let status = sync.get_account(&ada, &account.id).await.expect("account");
    assert_eq!(status.sync_status, SyncStatus::Connected);
    sync.shutdown();
}

#[tokio::test]
async fn commit_requires_a_connected_own_account_and_a_valid_event() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    let mut invalid = meeting("Bad");
    invalid.end = invalid.start;
    let refused = sync.commit(&ada, &invalid, &[account.id.clone()]).await;
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    let refused = sync
        .commit(
            &UserId::from("eve"),
            &meeting("Theirs"),
            &[account.id.clone()],
        )
        .await;
    assert!(
        matches!(refused, Err(Error::AccountNotFound(_))),
        "{refused:?}"
    );
    assert!(server.live_events(PRIMARY).is_empty());
    sync.shutdown();
}

#[tokio::test]
async fn throttling_that_clears_and_a_lost_reply_leave_exactly_one_event() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.fail_next(2, 403, "userRateLimitExceeded", None);
    server.lose_next_reply();
    let committed = sync
        .commit(&ada, &meeting("Once"), &[account.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(server.live_events(PRIMARY).len(), 1);
    let id = &committed.synced_event.provider_ids[&account.id].event_id;
    assert!(server.event(PRIMARY, id).is_some());

    // A restart over the same store resumes nothing that duplicates it.
    sync.shutdown();
    let reopened = calendar_sync(dir.path(), &server, patient()).await;
    reopened.resume_operations().await.expect("resume");
    reopened.settle().await;
    assert_eq!(server.live_events(PRIMARY).len(), 1);
    reopened.shutdown();
}

#[tokio::test]
async fn a_permission_refusal_fails_with_googles_reason_and_is_not_retried() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.fail_next(1, 403, "forbiddenForNonOrganizer", None);
    server.clear_log();
    let refused = sync
        .commit(&ada, &meeting("Refused"), &[account.id.clone()])
        .await;
    let Err(Error::AllProvidersFailed(results)) = refused else {
        panic!("expected every provider to fail: {refused:?}");
    };
    let result = &results[&account.id];
    assert_eq!(result.status, SyncResultStatus::Failed, "{result:?}");
    assert!(
        result
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("forbiddenForNonOrganizer")
    );
    assert_eq!(server.count("POST", "/events"), 1, "{:?}", server.log());
    let status = sync.get_account(&ada, &account.id).await.expect("account");
    assert_eq!(status.sync_status, SyncStatus::Connected);
    sync.shutdown();
}

#[tokio::test]
async fn update_over_someone_elses_edit_keeps_their_other_fields_and_cancel_of_a_deleted_copy_is_done()
 {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    let committed = sync
        .commit(&ada, &meeting("Draft"), &[account.id.clone()])
        .await
        .expect("commit");
    let synced = committed.synced_event;
    let id = synced.provider_ids[&account.id].event_id.clone();
    // Someone sets a colour (no field of calsync's) on Google.
    server.edit_event(PRIMARY, &id, json!({"colorId": "5"}));
    let mut changes = Map::new();
    changes.insert("location".into(), json!("Room 9"));
    let updated = sync
        .update(&ada, &synced.internal_id, &changes)
        .await
        .expect("update");
    assert_eq!(
        updated.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    let stored = server.event(PRIMARY, &id).expect("event");
    assert_eq!(stored["location"], "Room 9");
    assert_eq!(stored["colorId"], "5");

    // Someone deletes the copy on Google; the cancel still succeeds (410).
    server.edit_event(PRIMARY, &id, json!({"status": "cancelled"}));
    let cancelled = sync
        .cancel(&ada, &synced.internal_id)
        .await
        .expect("cancel");
    assert_eq!(
        cancelled.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    sync.shutdown();
}

#[tokio::test]
async fn detect_conflicts_reads_all_day_and_free_events_as_google_marks_them() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, _account) = setup(&server, &dir).await;
    server.put_event(
        PRIMARY,
        json!({"id": "free1", "summary": "Focus", "transparency": "transparent",
            "start": {"dateTime": at(9).to_rfc3339()}, "end": {"dateTime": at(10).to_rfc3339()}}),
    );
    server.put_event(
        PRIMARY,
        json!({"id": "busy1", "summary": "Review",
            "start": {"dateTime": at(9).to_rfc3339()}, "end": {"dateTime": at(10).to_rfc3339()}}),
    );
    let report = sync
        .detect_conflicts(&ada, &draft(9, 10))
        .await
        .expect("detect");
    let titles: Vec<_> = report
        .conflicts
        .iter()
        .flat_map(|c| c.existing_events.iter().map(|e| e.title.to_string()))
        .collect();
    assert_eq!(titles, vec!["Review".to_owned()], "{report:?}");

    // A throttled account is unknown, never free.
    server.fail_next(8, 429, "rateLimitExceeded", None);
    let report = sync
        .detect_conflicts(&ada, &draft(9, 10))
        .await
        .expect("detect");
    assert_eq!(report.unknown_accounts.len(), 1, "{report:?}");
    sync.shutdown();
}

#[tokio::test]
async fn an_all_day_commit_is_dates_on_google() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    let event: EventDetails = serde_json::from_value(json!({
        "title": "Offsite", "start": "2030-03-04", "end": "2030-03-05", "allDay": true
    }))
    .expect("event");
    let committed = sync
        .commit(&ada, &event, &[account.id.clone()])
        .await
        .expect("commit");
    let id = &committed.synced_event.provider_ids[&account.id].event_id;
    let stored = server.event(PRIMARY, id).expect("event");
    assert_eq!(stored["start"], json!({"date": "2030-03-04"}));
    assert_eq!(stored["end"], json!({"date": "2030-03-05"}));
    assert!(id.starts_with("cs"));
    sync.shutdown();
}

#[tokio::test]
async fn a_commit_to_four_accounts_on_a_slow_server_is_one_insert_each() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let mut accounts = Vec::new();
    for _ in 0..4 {
        let account = sync
            .connect_account(&ada, "google", &refresh_only(&server))
            .await
            .expect("connect");
        accounts.push(account.id);
    }
    server.set_latency(std::time::Duration::from_millis(100));
    server.clear_log();
    let started = std::time::Instant::now();
    let committed = sync
        .commit(&ada, &meeting("All four"), &accounts)
        .await
        .expect("commit");
    let took = started.elapsed();
    for account in &accounts {
        assert_eq!(
            committed.results[account].status,
            SyncResultStatus::Succeeded
        );
    }
    assert_eq!(server.log().len(), 4, "{:?}", server.log());
    assert_eq!(server.live_events(PRIMARY).len(), 4);
    // Reported, not asserted: the wall time depends on the machine.
    eprintln!("commit to 4 Google accounts at 100 ms each took {took:?}");
    sync.shutdown();
}

#[tokio::test]
async fn attendees_are_invited_once_from_the_first_account() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let mut accounts = Vec::new();
    for _ in 0..2 {
        let account = sync
            .connect_account(&ada, "google", &refresh_only(&server))
            .await
            .expect("connect");
        accounts.push(account.id);
    }
    let mut event = meeting("With guests");
    event.attendees = vec![calsync::model::Attendee {
        email: "bob@example.com".into(),
        optional: false,
    }];
    server.clear_log();
    let committed = sync.commit(&ada, &event, &accounts).await.expect("commit");
    let inserts: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|line| line.starts_with("POST"))
        .collect();
    assert_eq!(inserts.len(), 2, "{inserts:?}");
    let inviting = inserts
        .iter()
        .filter(|line| line.contains("sendUpdates=all"))
        .count();
    assert_eq!(inviting, 1, "one copy invites: {inserts:?}");
    for copy in server.live_events(PRIMARY) {
        assert_eq!(copy["attendees"][0]["email"], "bob@example.com");
    }

    // An update mails the attendees from the same copy only.
    server.clear_log();
    let mut changes = Map::new();
    changes.insert("location".into(), json!("Room 7"));
    sync.update(&ada, &committed.synced_event.internal_id, &changes)
        .await
        .expect("update");
    let patches: Vec<String> = server.requests();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(
        patches
            .iter()
            .filter(|line| line.contains("sendUpdates=all"))
            .count(),
        1,
        "{patches:?}"
    );

    // A cancel tells the attendees once, from the same copy.
    server.clear_log();
    sync.cancel(&ada, &committed.synced_event.internal_id)
        .await
        .expect("cancel");
    let deletes: Vec<String> = server.requests();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(
        deletes.iter().all(|line| line.starts_with("DELETE")),
        "{deletes:?}"
    );
    assert_eq!(
        deletes
            .iter()
            .filter(|line| line.contains("sendUpdates=all"))
            .count(),
        1,
        "{deletes:?}"
    );
    sync.shutdown();
}

/// The app names the account whose copy invites: that copy alone mails
/// the attendees, the first account's carries them silently; an account
/// not among those committed to is refused, and nothing is written.
#[tokio::test]
async fn the_app_names_the_account_whose_copy_invites() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let mut accounts = Vec::new();
    for _ in 0..3 {
        let account = sync
            .connect_account(&ada, "google", &refresh_only(&server))
            .await
            .expect("connect");
        accounts.push(account.id);
    }
    let mut event = meeting("With guests");
    event.attendees = vec![calsync::model::Attendee {
        email: "bob@example.com".into(),
        optional: false,
    }];
    let (two, outsider) = (&accounts[..2], &accounts[2]);
    let refused = sync
        .commit_inviting_from(&ada, &event, two, outsider)
        .await
        .expect_err("not among the accounts");
    assert!(refused.to_string().contains("invitingAccount"), "{refused}");
    assert!(server.live_events(PRIMARY).is_empty());
    let mut by_id = two.to_vec();
    by_id.sort();
    let named = &by_id[1];
    let committed = sync
        .commit_inviting_from(&ada, &event, two, named)
        .await
        .expect("commit");
    let invited_copy = &committed.synced_event.provider_ids[named].event_id;
    assert_eq!(server.mailed(), [invited_copy.clone()]);
    assert_eq!(server.live_events(PRIMARY).len(), 2);
    sync.shutdown();
}

#[tokio::test]
async fn a_create_whose_reply_was_lost_then_a_restart_leaves_exactly_one_event() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = std::sync::Arc::new(calsync::clock::ManualClock::new(chrono::Utc::now()));
    // One attempt per round: the lost reply parks the create, uncertain.
    let config = calsync::Config {
        retry: calsync::operations::RetryPolicy {
            max_attempts: 1,
            ..calsync::operations::RetryPolicy::quick()
        },
        ..patient()
    };
    let open = |clock: std::sync::Arc<calsync::clock::ManualClock>| {
        let config = config.clone();
        let server = &server;
        let path = dir.path().join("calsync.db");
        async move {
            let store = calsync::store::SqliteStore::open(path, "CalendarSync.")
                .await
                .expect("store");
            CalendarSync::builder(std::sync::Arc::new(store))
                .providers(
                    calsync::providers::Providers::new()
                        .with(std::sync::Arc::new(super::support::provider(server))),
                )
                .vault(calsync::vault::Vault::new(&[7; 32]))
                .clock(clock)
                .config(config)
                .build()
        }
    };
    let sync = open(clock.clone()).await;
    let ada = UserId::from("ada");
    let account = sync
        .connect_account(&ada, "google", &refresh_only(&server))
        .await
        .expect("connect");
    server.lose_next_reply();
    let committed = sync
        .commit(&ada, &meeting("Once"), &[account.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account.id].status,
        SyncResultStatus::Pending
    );
    assert_eq!(server.live_events(PRIMARY).len(), 1, "the insert landed");
    let event = committed.synced_event.internal_id.clone();

    // The process dies; a new one resumes once the parked create is due.
    sync.shutdown();
    drop(sync);
    clock.advance(chrono::Duration::hours(1));
    let reopened = open(clock.clone()).await;
    reopened.resume_operations().await.expect("resume");
    reopened.settle().await;
    let synced = reopened
        .get_synced_event(&ada, &event)
        .await
        .expect("read")
        .expect("the synced event");
    let reference = synced
        .provider_ids
        .get(&account.id)
        .expect("the copy is known");
    assert_eq!(server.live_events(PRIMARY).len(), 1, "exactly one event");
    assert!(server.event(PRIMARY, &reference.event_id).is_some());
    reopened.shutdown();
}

#[tokio::test]
async fn a_recurring_commit_carries_its_rule_and_zone_and_declined_events_never_conflict() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    let mut weekly = meeting("Weekly");
    weekly.recurrence = vec!["RRULE:FREQ=WEEKLY;COUNT=4".into()];
    let committed = sync
        .commit(&ada, &weekly, &[account.id.clone()])
        .await
        .expect("commit");
    let id = &committed.synced_event.provider_ids[&account.id].event_id;
    let stored = server.event(PRIMARY, id).expect("event");
    assert_eq!(stored["recurrence"], json!(["RRULE:FREQ=WEEKLY;COUNT=4"]));
    assert_eq!(stored["start"]["timeZone"], "Europe/Berlin");

    // The second week's 9:00 UTC instance is busy: a conflict.
    let next_week = |hour| at(hour) + chrono::Duration::days(7);
    let clash: DraftEvent = serde_json::from_value(json!({
        "id": "draft-2", "title": "Clash",
        "start": next_week(9).to_rfc3339(), "end": next_week(10).to_rfc3339(),
    }))
    .expect("draft");
    let report = sync.detect_conflicts(&ada, &clash).await.expect("detect");
    assert_eq!(report.conflicts.len(), 1, "{report:?}");

    // An invitation the user declined is not busy.
    server.put_event(
        PRIMARY,
        json!({"id": "declined1", "summary": "Declined",
            "start": {"dateTime": at(14).to_rfc3339()}, "end": {"dateTime": at(15).to_rfc3339()},
            "attendees": [{"email": PRIMARY, "self": true, "responseStatus": "declined"}]}),
    );
    let report = sync
        .detect_conflicts(&ada, &draft(14, 15))
        .await
        .expect("detect");
    assert!(report.conflicts.is_empty(), "{report:?}");
    sync.shutdown();
}

#[tokio::test]
async fn twenty_commits_in_flight_after_expiry_share_one_refresh() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.expire_access_tokens();
    server.clear_log();
    let commits = (0..20).map(|n| {
        let sync = sync.clone();
        let ada = ada.clone();
        let accounts = [account.id.clone()];
        async move {
            sync.commit(&ada, &meeting(&format!("Burst {n}")), &accounts)
                .await
                .expect("commit")
        }
    });
    let outcomes = futures::future::join_all(commits).await;
    for outcome in &outcomes {
        assert_eq!(
            outcome.results[&account.id].status,
            SyncResultStatus::Succeeded
        );
    }
    assert_eq!(server.count("POST", "/token"), 1, "{:?}", server.log());
    assert_eq!(server.live_events(PRIMARY).len(), 20);
    sync.shutdown();
}

#[tokio::test]
async fn list_calendars_says_where_events_go_and_which_calendars_are_checked() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.add_calendar("team@group.example", "Asia/Tokyo", true, false);
    server.add_calendar("hidden@group.example", "UTC", true, true);
    server.add_calendar("unselected@group.example", "UTC", false, false);
    let calendars = sync
        .list_calendars(&ada, &account.id)
        .await
        .expect("list calendars");
    let shown: Vec<(&str, bool, bool)> = calendars
        .iter()
        .map(|c| (c.id.as_str(), c.target, c.checked_for_conflicts))
        .collect();
    assert_eq!(
        shown,
        [
            (PRIMARY, true, true),
            ("hidden@group.example", false, false),
            ("team@group.example", false, true),
            ("unselected@group.example", false, false),
        ]
    );
    let refused = sync.list_calendars(&UserId::from("eve"), &account.id).await;
    assert!(
        matches!(refused, Err(Error::AccountNotFound(_))),
        "{refused:?}"
    );
    sync.shutdown();
}

#[tokio::test]
async fn an_app_names_the_target_and_the_calendars_checked_at_connect() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    server.add_calendar("team@group.example", "Asia/Tokyo", true, false);
    server.add_calendar("rooms@group.example", "UTC", false, false);
    server.put_event(
        "team@group.example",
        json!({"id": "team1", "summary": "Team",
            "start": {"dateTime": at(9).to_rfc3339()}, "end": {"dateTime": at(10).to_rfc3339()}}),
    );
    server.put_event(
        "rooms@group.example",
        json!({"id": "room1", "summary": "Room booked",
            "start": {"dateTime": at(9).to_rfc3339()}, "end": {"dateTime": at(10).to_rfc3339()}}),
    );
    let ada = UserId::from("ada");
    // A calendar the account does not have is refused at connect, naming it.
    let mut misspelt = refresh_only(&server);
    misspelt
        .0
        .insert("conflict_calendars".into(), json!(["roms@group.example"]));
    let refused = sync
        .connect_account(&ada, "google", &misspelt)
        .await
        .expect_err("no such calendar");
    assert!(
        refused.to_string().contains("conflict_calendars")
            && refused.to_string().contains("roms@group.example"),
        "{refused}"
    );
    assert!(
        sync.get_account_status(&ada)
            .await
            .expect("status")
            .is_empty()
    );
    let mut credentials = refresh_only(&server);
    credentials.set_str("calendar", "team@group.example");
    credentials
        .0
        .insert("conflict_calendars".into(), json!(["rooms@group.example"]));
    let account = sync
        .connect_account(&ada, "google", &credentials)
        .await
        .expect("connect");
    assert_eq!(account.calendar_id.as_deref(), Some("team@group.example"));
    let report = sync
        .detect_conflicts(&ada, &draft(9, 10))
        .await
        .expect("detect");
    let mut titles: Vec<String> = report
        .conflicts
        .iter()
        .flat_map(|c| c.existing_events.iter().map(|e| e.title.to_string()))
        .collect();
    titles.sort();
    assert_eq!(titles, ["Room booked", "Team"], "{report:?}");
    let committed = sync
        .commit(
            &ada,
            &meeting("In the team calendar"),
            &[account.id.clone()],
        )
        .await
        .expect("commit");
    let id = &committed.synced_event.provider_ids[&account.id].event_id;
    assert!(server.event("team@group.example", id).is_some());
    sync.shutdown();
}
