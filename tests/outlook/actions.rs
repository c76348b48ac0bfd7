//! The actions through `CalendarSync` on the SQLite store with an `outlook`
//! account on the local Graph server: the operational principle, then
//! connect, refresh and disconnect, commit, update, cancel and
//! detectConflicts, each with the requests it costs.

use super::server::{DEFAULT_CALENDAR, GraphServer, MAILBOX};
use super::support::{at, calendar_sync, meeting, refresh_only, server};
use crate::patience::patient;
use calsync::model::{
    Account, DraftEvent, EventDetails, Provider, SyncResultStatus, SyncStatus, UserId,
};
use calsync::{CalendarSync, Error};
use serde_json::{Map, json};

async fn setup(server: &GraphServer, dir: &tempfile::TempDir) -> (CalendarSync, UserId, Account) {
    let sync = calendar_sync(dir.path(), server, patient()).await;
    let user = UserId::from("ada");
    let account = sync
        .connect_account(&user, "outlook", &refresh_only(server))
        .await
        .expect("connect outlook");
    (sync, user, account)
}

fn draft(start: u32, end: u32) -> DraftEvent {
    serde_json::from_value(json!({
        "id": "draft-1", "title": "Planning",
        "start": at(start).to_rfc3339(), "end": at(end).to_rfc3339(),
    }))
    .expect("draft")
}

fn utc(hour: u32) -> serde_json::Value {
    json!({"dateTime": at(hour).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"})
}

/// Connect, see a series in another owned calendar, commit, update, cancel,
/// each with the requests it costs.
#[tokio::test]
async fn the_operational_principle_holds_with_an_outlook_account() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    assert_eq!(account.provider, Provider::Outlook);
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert_eq!(account.calendar_id.as_deref(), Some(DEFAULT_CALENDAR));

    // A weekly series at 9:00 UTC in another calendar the person owns.
    let team = server.add_calendar("Team", MAILBOX);
    server.put_event(
        &team,
        json!({"subject": "Weekly review",
            "start": {"dateTime": "2030-02-25T10:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2030-02-25T11:00:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "noEnd", "startDate": "2030-02-25"}}}),
    );
    let report = sync
        .detect_conflicts(&ada, &draft(9, 10))
        .await
        .expect("detect");
    assert!(report.unknown_accounts.is_empty(), "{report:?}");
    assert_eq!(report.conflicts.len(), 1, "{report:?}");
    assert_eq!(report.conflicts[0].existing_events[0].account, account.id);

    // Commit: one POST.
    server.clear_log();
    let committed = sync
        .commit(&ada, &meeting("Planning"), &[account.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(server.log().len(), 1, "one POST: {:?}", server.log());
    eprintln!(
        "requests per action (outlook): commit {}",
        server.log().len()
    );
    let synced = committed.synced_event;
    let reference = synced.provider_ids[&account.id].clone();
    let stored = server.event(&reference.event_id).expect("in Outlook");
    assert_eq!(
        stored["singleValueExtendedProperties"][0]["value"],
        synced.internal_id.as_str()
    );

    // Update the title: one PATCH of that field alone.
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
        [format!("PATCH /v1.0/me/events/{}", reference.event_id)]
    );
    eprintln!(
        "requests per action (outlook): update {}",
        server.log().len()
    );
    assert_eq!(
        server.event(&reference.event_id).expect("event")["subject"],
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
    assert_eq!(
        server.log(),
        [format!("DELETE /v1.0/me/events/{}", reference.event_id)]
    );
    eprintln!(
        "requests per action (outlook): cancel {}",
        server.log().len()
    );
    assert!(server.events(DEFAULT_CALENDAR).is_empty());

    server.clear_log();
    sync.detect_conflicts(&ada, &draft(9, 10))
        .await
        .expect("detect");
    eprintln!(
        "requests per action (outlook): detectConflicts over 2 calendars {}",
        server.log().len()
    );
    assert_eq!(server.without_immutable_ids(), 0);
    sync.shutdown();
}

#[tokio::test]
async fn connect_refuses_a_dead_token_and_a_misspelt_calendar_and_changes_nothing() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let dead = refresh_only(&server);
    server.revoke_grant(dead.get_str("refresh_token").expect("token"));
    let refused = sync.connect_account(&ada, "outlook", &dead).await;
    match refused {
        Err(Error::InvalidCredentials { reason, .. }) => {
            assert!(reason.contains("AADSTS50173"), "{reason}")
        }
        other => panic!("expected invalid credentials: {other:?}"),
    }
    let mut misspelt = refresh_only(&server);
    misspelt
        .0
        .insert("conflict_calendars".into(), json!(["AAMkNoSuch="]));
    let refused = sync
        .connect_account(&ada, "outlook", &misspelt)
        .await
        .expect_err("no such calendar");
    assert!(
        refused.to_string().contains("conflict_calendars"),
        "{refused}"
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
async fn a_revoked_grant_or_one_needing_interaction_marks_the_account_and_is_never_retried() {
    for interaction in [false, true] {
        let server = server().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), &server, patient()).await;
        let ada = UserId::from("ada");
        let credentials = refresh_only(&server);
        let account = sync
            .connect_account(&ada, "outlook", &credentials)
            .await
            .expect("connect");
        let given = credentials.get_str("refresh_token").expect("token");
        if interaction {
            server.require_interaction(given);
        } else {
            server.revoke_grant(given);
        }
        server.expire_access_tokens();
        server.clear_log();
        let refused = sync
            .commit(&ada, &meeting("Refused"), &[account.id.clone()])
            .await;
        assert!(
            matches!(refused, Err(Error::AllProvidersFailed(_))),
            "{refused:?}"
        );
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
        let code = if interaction {
            "interaction_required"
        } else {
            "AADSTS50173"
        };
        assert!(reason.contains(code), "{reason}");
        sync.shutdown();
    }
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
async fn disconnect_calls_nothing_at_microsoft_and_wipes_the_tokens() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.clear_log();
    let disconnected = sync
        .disconnect_account(&ada, &account.id)
        .await
        .expect("disconnect");
    assert_eq!(disconnected.account.sync_status, SyncStatus::Disconnected);
    assert_eq!(
        disconnected.revocation,
        Some(calsync::concept::RevocationStatus::NotSupported)
    );
    let reason = disconnected.revocation_reason.expect("a reason");
    assert!(reason.contains("myapps.microsoft.com"), "{reason}");
    assert!(
        server.log().is_empty(),
        "no sign-out of every app: {:?}",
        server.log()
    );
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
    assert!(server.events(DEFAULT_CALENDAR).is_empty());
    sync.shutdown();
}

#[tokio::test]
async fn throttling_that_clears_and_a_lost_reply_leave_exactly_one_event() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    server.fail_next(2, 429, "TooManyRequests", Some("0.05"));
    server.lose_next_reply();
    let committed = sync
        .commit(&ada, &meeting("Once"), &[account.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(server.events(DEFAULT_CALENDAR).len(), 1);
    let id = &committed.synced_event.provider_ids[&account.id].event_id;
    assert!(server.event(id).is_some());
    sync.shutdown();
    let reopened = calendar_sync(dir.path(), &server, patient()).await;
    reopened.resume_operations().await.expect("resume");
    reopened.settle().await;
    assert_eq!(server.events(DEFAULT_CALENDAR).len(), 1);
    reopened.shutdown();
}

#[tokio::test]
async fn update_over_someone_elses_edit_keeps_their_fields_and_cancel_of_a_deleted_copy_is_done() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    let committed = sync
        .commit(&ada, &meeting("Draft"), &[account.id.clone()])
        .await
        .expect("commit");
    let synced = committed.synced_event;
    let id = synced.provider_ids[&account.id].event_id.clone();
    server.edit_event(&id, json!({"importance": "high"}));
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
    let stored = server.event(&id).expect("event");
    assert_eq!(stored["location"]["displayName"], "Room 9");
    assert_eq!(stored["importance"], "high");
    // Someone deletes the copy in Outlook; the cancel still succeeds (404).
    server.remove_event(&id);
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
async fn detect_conflicts_reads_show_as_declined_and_cancelled_as_documented() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, _account) = setup(&server, &dir).await;
    for (subject, extra) in [
        ("Focus", json!({"showAs": "free"})),
        ("Remote day", json!({"showAs": "workingElsewhere"})),
        ("Maybe", json!({"showAs": "tentative"})),
        ("Away", json!({"showAs": "oof"})),
        (
            "Declined",
            json!({"responseStatus": {"response": "declined"}}),
        ),
        ("Called off", json!({"isCancelled": true})),
    ] {
        let mut event = json!({"subject": subject, "start": utc(9), "end": utc(10)});
        for (name, value) in extra.as_object().expect("object") {
            event[name] = value.clone();
        }
        server.put_event(DEFAULT_CALENDAR, event);
    }
    // Another person's calendar shared with the account is not read.
    let shared = server.add_calendar("Bob's calendar", "bob@contoso.example");
    server.put_event(
        &shared,
        json!({"subject": "Bob's", "start": utc(9), "end": utc(10)}),
    );
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
    assert_eq!(titles, ["Away", "Maybe"], "{report:?}");

    // A throttled account is unknown, never free.
    server.fail_next(8, 429, "TooManyRequests", Some("0.01"));
    let report = sync
        .detect_conflicts(&ada, &draft(9, 10))
        .await
        .expect("detect");
    assert_eq!(report.unknown_accounts.len(), 1, "{report:?}");
    sync.shutdown();
}

#[tokio::test]
async fn an_all_day_commit_is_midnight_to_midnight_in_the_events_zone() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (sync, ada, account) = setup(&server, &dir).await;
    let event: EventDetails = serde_json::from_value(json!({
        "title": "Offsite", "start": "2030-03-04", "end": "2030-03-05", "allDay": true,
        "timeZone": "America/New_York"
    }))
    .expect("event");
    let committed = sync
        .commit(&ada, &event, &[account.id.clone()])
        .await
        .expect("commit");
    let id = &committed.synced_event.provider_ids[&account.id].event_id;
    let stored = server.event(id).expect("event");
    assert_eq!(stored["isAllDay"], true);
    assert_eq!(
        stored["start"],
        json!({"dateTime": "2030-03-04T00:00:00", "timeZone": "Eastern Standard Time"})
    );
    assert_eq!(
        stored["end"],
        json!({"dateTime": "2030-03-05T00:00:00", "timeZone": "Eastern Standard Time"})
    );
    sync.shutdown();
}

#[tokio::test]
async fn a_recurring_commit_carries_its_pattern_and_an_unexpressible_rule_fails_clearly() {
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
    let stored = server.event(id).expect("event");
    assert_eq!(stored["recurrence"]["pattern"]["type"], "weekly");
    assert_eq!(stored["recurrence"]["range"]["numberOfOccurrences"], 4);
    assert_eq!(
        stored["recurrence"]["range"]["recurrenceTimeZone"],
        "W. Europe Standard Time"
    );
    let next_week = |hour| at(hour) + chrono::Duration::days(7);
    let clash: DraftEvent = serde_json::from_value(json!({"id": "draft-2", "title": "Clash",
        "start": next_week(9).to_rfc3339(), "end": next_week(10).to_rfc3339()}))
    .expect("draft");
    let report = sync.detect_conflicts(&ada, &clash).await.expect("detect");
    assert_eq!(report.conflicts.len(), 1, "{report:?}");

    let mut hourly = meeting("Hourly");
    hourly.recurrence = vec!["RRULE:FREQ=HOURLY;COUNT=4".into()];
    let refused = sync.commit(&ada, &hourly, &[account.id.clone()]).await;
    let Err(Error::AllProvidersFailed(results)) = refused else {
        panic!("expected the provider to refuse: {refused:?}");
    };
    let reason = results[&account.id].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("recurrence: ") && reason.contains("HOURLY"),
        "{reason}"
    );
    sync.shutdown();
}

#[tokio::test]
async fn a_commit_to_four_accounts_on_a_slow_server_is_one_post_each() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let mut accounts = Vec::new();
    for _ in 0..4 {
        let account = sync
            .connect_account(&ada, "outlook", &refresh_only(&server))
            .await
            .expect("connect");
        accounts.push(account.id);
    }
    server.set_latency(std::time::Duration::from_millis(100));
    server.clear_log();
    let started = std::time::Instant::now();
    let one = sync
        .commit(&ada, &meeting("Just one"), &accounts[..1])
        .await
        .expect("commit");
    let single = started.elapsed();
    assert_eq!(
        one.results[&accounts[0]].status,
        SyncResultStatus::Succeeded
    );
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
    // Reported, not asserted: the wall time depends on the machine.
    eprintln!(
        "commit to 4 Outlook accounts at 100 ms each took {took:?}; to 1 account {single:?} ({:.2}x)",
        took.as_secs_f64() / single.as_secs_f64()
    );
    sync.shutdown();
}

#[tokio::test]
async fn attendees_are_invited_once_from_the_inviting_copy() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let mut accounts = Vec::new();
    for _ in 0..2 {
        let account = sync
            .connect_account(&ada, "outlook", &refresh_only(&server))
            .await
            .expect("connect");
        accounts.push(account.id);
    }
    let mut event = meeting("With guests");
    event.attendees = vec![calsync::model::Attendee {
        email: "bob@example.com".into(),
        optional: true,
    }];
    let committed = sync.commit(&ada, &event, &accounts).await.expect("commit");
    let with_attendees: Vec<_> = server
        .events(DEFAULT_CALENDAR)
        .into_iter()
        .filter(|copy| copy.get("attendees").is_some())
        .collect();
    assert_eq!(
        with_attendees.len(),
        1,
        "Graph mails every attendee it is given: one copy carries them"
    );
    assert_eq!(with_attendees[0]["attendees"][0]["type"], "optional");
    let mut changes = Map::new();
    changes.insert("attendees".into(), json!([{"email": "carol@example.com"}]));
    sync.update(&ada, &committed.synced_event.internal_id, &changes)
        .await
        .expect("update");
    let with_attendees = server
        .events(DEFAULT_CALENDAR)
        .into_iter()
        .filter(|copy| copy.get("attendees").is_some())
        .count();
    assert_eq!(with_attendees, 1);
    sync.shutdown();
}

#[tokio::test]
async fn list_calendars_and_the_calendars_an_app_names_at_connect() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = calendar_sync(dir.path(), &server, patient()).await;
    let ada = UserId::from("ada");
    let team = server.add_calendar("Team", MAILBOX);
    let shared = server.add_calendar("Bob's calendar", "bob@contoso.example");
    let plain = sync
        .connect_account(&ada, "outlook", &refresh_only(&server))
        .await
        .expect("connect");
    let calendars = sync.list_calendars(&ada, &plain.id).await.expect("list");
    let shown: Vec<(&str, bool, bool)> = calendars
        .iter()
        .map(|c| (c.id.as_str(), c.target, c.checked_for_conflicts))
        .collect();
    for expected in [
        (DEFAULT_CALENDAR, true, true),
        (team.as_str(), false, true),
        (shared.as_str(), false, false),
    ] {
        assert!(shown.contains(&expected), "{expected:?} in {shown:?}");
    }
    let mut credentials = refresh_only(&server);
    credentials.set_str("calendar", &team);
    credentials
        .0
        .insert("conflict_calendars".into(), json!([shared]));
    let named = sync
        .connect_account(&ada, "outlook", &credentials)
        .await
        .expect("connect");
    assert_eq!(named.calendar_id.as_deref(), Some(team.as_str()));
    let committed = sync
        .commit(&ada, &meeting("In Team"), &[named.id.clone()])
        .await
        .expect("commit");
    let id = &committed.synced_event.provider_ids[&named.id].event_id;
    assert_eq!(server.events(&team).len(), 1);
    assert!(server.event(id).is_some());
    let calendars = sync.list_calendars(&ada, &named.id).await.expect("list");
    let checked: Vec<&str> = calendars
        .iter()
        .filter(|c| c.checked_for_conflicts)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(checked.len(), 2, "{checked:?}");
    assert!(checked.contains(&shared.as_str()) && checked.contains(&team.as_str()));
    sync.shutdown();
}
