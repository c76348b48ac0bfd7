//! commit: requires and effects, with partial failure.

use super::support::*;
use calsync::Error;
use calsync::model::{Provider, SyncResultStatus, SyncStatus};
use calsync::operations::OperationStatus;
use calsync::providers::sandbox::{FaultKind, FaultPlan};
use chrono::Duration;

on_every_store!(
    commit_creates_the_event_on_every_account_with_provider_shaped_ids,
    commit_to_two_accounts_of_one_provider_keeps_both_ids,
    commit_requires_a_validated_event_and_changes_nothing_otherwise,
    commit_requires_accounts_of_the_user_and_changes_nothing_otherwise,
    commit_requires_all_accounts_connected,
    transient_failures_are_retried_and_leave_no_duplicate,
    an_expired_token_is_refreshed_once_and_the_call_retried,
    partial_failure_is_reported_per_account_and_stays_pending,
    refused_credentials_fail_the_account_without_retries,
    when_every_provider_refuses_nothing_is_kept,
    a_slow_provider_is_answered_as_pending_and_finishes_in_the_background,
    a_virtual_meeting_is_made_on_zoom_and_its_link_written_into_the_calendars,
    a_virtual_meeting_requires_a_zoom_account,
);

async fn commit_creates_the_event_on_every_account_with_provider_shaped_ids(h: Harness) {
    let ada = user("ada");
    let accounts = [
        h.connect(&ada, Provider::Google).await,
        h.connect(&ada, Provider::Outlook).await,
        h.connect(&ada, Provider::Apple).await,
        h.connect(&ada, Provider::Zoom).await,
    ];
    let ids: Vec<_> = accounts.iter().map(|a| a.id.clone()).collect();
    let outcome = h
        .sync
        .commit(&ada, &event("Kickoff", tuesday(9), 45), &ids)
        .await
        .expect("commit");
    let synced = &outcome.synced_event;
    assert_eq!(synced.synced_at, start_of_test());
    assert_eq!(synced.event.title, "Kickoff");
    for account in &accounts {
        let reference = &synced.provider_ids[&account.id];
        let result = &outcome.results[&account.id];
        assert_eq!(result.status, SyncResultStatus::Succeeded);
        assert_eq!(result.event_id.as_ref(), Some(&reference.event_id));
        let on_provider = h.events_on(account);
        assert_eq!(on_provider.len(), 1);
        assert_eq!(on_provider[0].event.event_id, reference.event_id);
        assert_eq!(
            on_provider[0].event.synced_id.as_ref(),
            Some(&synced.internal_id)
        );
    }
    let google = &synced.provider_ids[&accounts[0].id].event_id;
    assert!(
        google
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
    );
    assert!(synced.provider_ids[&accounts[1].id].event_id.len() > 100);
    assert!(
        synced.provider_ids[&accounts[2].id]
            .event_id
            .ends_with(".ics")
    );
    assert!(
        synced.provider_ids[&accounts[3].id]
            .event_id
            .parse::<u64>()
            .is_ok()
    );
    assert!(synced.provider_ids[&accounts[3].id].join_url.is_some());
    let fetched = h
        .sync
        .get_synced_event(&ada, &synced.internal_id)
        .await
        .expect("get");
    assert_eq!(fetched.as_ref(), Some(synced));
    h.assert_invariants(&[&ada]).await;
}

async fn commit_to_two_accounts_of_one_provider_keeps_both_ids(h: Harness) {
    let ada = user("ada");
    let work = h.connect(&ada, Provider::Google).await;
    let home = h.connect(&ada, Provider::Google).await;
    let outcome = h
        .sync
        .commit(
            &ada,
            &event("Dentist", tuesday(8), 30),
            &[work.id.clone(), home.id.clone()],
        )
        .await
        .expect("commit");
    assert_eq!(outcome.synced_event.provider_ids.len(), 2);
    assert_eq!(h.events_on(&work).len(), 1);
    assert_eq!(h.events_on(&home).len(), 1);
    h.assert_invariants(&[&ada]).await;
}

async fn commit_requires_a_validated_event_and_changes_nothing_otherwise(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let mut bad = event("Backwards", tuesday(10), 30);
    std::mem::swap(&mut bad.start, &mut bad.end);
    let error = h
        .sync
        .commit(&ada, &bad, &[google.id.clone()])
        .await
        .expect_err("invalid");
    assert!(
        matches!(&error, Error::Invalid(v) if v.field == "event.end"),
        "{error}"
    );
    let mut untitled = event(" ", tuesday(10), 30);
    untitled.attendees.clear();
    let error = h
        .sync
        .commit(&ada, &untitled, &[google.id.clone()])
        .await
        .expect_err("invalid");
    assert!(
        matches!(&error, Error::Invalid(v) if v.field == "event.title"),
        "{error}"
    );
    let mut zoned = event("Zone", tuesday(10), 30);
    zoned.time_zone = Some("Mars/Olympus".to_owned());
    let error = h
        .sync
        .commit(&ada, &zoned, &[google.id.clone()])
        .await
        .expect_err("invalid");
    assert!(error.to_string().contains("timeZone"), "{error}");
    let error = h
        .sync
        .commit(&ada, &event("None", tuesday(10), 30), &[])
        .await
        .expect_err("no accounts");
    assert!(matches!(&error, Error::Invalid(v) if v.field == "accounts"));
    assert!(h.events_on(&google).is_empty());
    assert_eq!(h.provider(Provider::Google).counts().creates, 0);
    assert!(
        h.store
            .synced_events_of_user(&ada)
            .await
            .expect("events")
            .is_empty()
    );
}

async fn commit_requires_accounts_of_the_user_and_changes_nothing_otherwise(h: Harness) {
    let (ada, bob) = (user("ada"), user("bob"));
    let mine = h.connect(&ada, Provider::Google).await;
    let theirs = h.connect(&bob, Provider::Outlook).await;
    let error = h
        .sync
        .commit(
            &ada,
            &event("x", tuesday(10), 30),
            &[mine.id.clone(), theirs.id.clone()],
        )
        .await
        .expect_err("not ada's");
    assert!(matches!(&error, Error::AccountNotFound(id) if id == &theirs.id));
    assert!(
        h.events_on(&mine).is_empty(),
        "nothing was created anywhere"
    );
    assert!(h.events_on(&theirs).is_empty());
}

async fn commit_requires_all_accounts_connected(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.sync
        .disconnect_account(&ada, &outlook.id)
        .await
        .expect("disconnect");
    let error = h
        .sync
        .commit(
            &ada,
            &event("x", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect_err("disconnected");
    assert!(matches!(&error, Error::AccountNotConnected { account, .. } if account == &outlook.id));
    assert!(h.events_on(&google).is_empty());
}

async fn transient_failures_are_retried_and_leave_no_duplicate(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.provider(Provider::Google).fail(FaultPlan {
        kind: FaultKind::RateLimited,
        remaining: 1,
        calendar: None,
        retry_after_ms: Some(20),
    });
    h.provider(Provider::Outlook)
        .fail_next(2, FaultKind::TimeoutAfterApply);
    let outcome = h
        .sync
        .commit(
            &ada,
            &event("Retry", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect("commit");
    assert!(
        outcome
            .results
            .values()
            .all(|r| r.status == SyncResultStatus::Succeeded)
    );
    assert_eq!(h.events_on(&google).len(), 1);
    assert_eq!(
        h.events_on(&outlook).len(),
        1,
        "a create whose answer was lost is not repeated"
    );
    assert_eq!(h.provider(Provider::Outlook).counts().creates, 1);
    assert_eq!(h.provider(Provider::Outlook).counts().repeated_creates, 2);
    h.assert_invariants(&[&ada]).await;
}

async fn an_expired_token_is_refreshed_once_and_the_call_retried(h: Harness) {
    let ada = user("ada");
    let zoom = h.connect(&ada, Provider::Zoom).await;
    h.provider(Provider::Zoom)
        .fail_next(1, FaultKind::Unauthorized);
    let outcome = h
        .sync
        .commit(&ada, &event("Call", tuesday(10), 30), &[zoom.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        outcome.results[&zoom.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(h.provider(Provider::Zoom).counts().refreshes, 1);
    // Past expiry, the next call refreshes first.
    h.clock.advance(Duration::minutes(61));
    h.sync
        .commit(&ada, &event("Call 2", tuesday(11), 30), &[zoom.id.clone()])
        .await
        .expect("commit");
    assert_eq!(h.provider(Provider::Zoom).counts().refreshes, 2);
    assert_eq!(h.events_on(&zoom).len(), 2);
}

async fn partial_failure_is_reported_per_account_and_stays_pending(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let apple = h.connect(&ada, Provider::Apple).await;
    h.provider(Provider::Apple)
        .fail_next(50, FaultKind::ServerError);
    let outcome = h
        .sync
        .commit(
            &ada,
            &event("Half", tuesday(10), 30),
            &[google.id.clone(), apple.id.clone()],
        )
        .await
        .expect("commit");
    assert_eq!(
        outcome.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    h.sync.settle().await;
    // Spent retries never drop the create: it stays pending, with its reason.
    let id = outcome.synced_event.internal_id.clone();
    let create = h
        .store
        .operations_of_event(&id)
        .await
        .expect("operations")
        .into_iter()
        .find(|op| op.account == apple.id)
        .expect("recorded");
    assert_eq!(create.status, OperationStatus::Pending);
    let reason = create.last_error.clone().unwrap_or_default();
    assert!(reason.contains("503"), "{reason}");
    assert!(create.next_attempt_at > start_of_test(), "due again later");
    // The event stays in calsync, on the account that has it.
    assert!(outcome.stored);
    assert_eq!(outcome.synced_event.accounts.len(), 1);
    // A transient failure does not make the account unhealthy.
    let account = h
        .store
        .get_account(&apple.id)
        .await
        .expect("get")
        .expect("record")
        .account;
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert!(account.error.is_none());

    // Once the provider answers again, a resume brings the event there.
    h.provider(Provider::Apple).clear_faults();
    h.clock
        .advance(chrono::Duration::from_std(h.config.retry.park_cap).expect("span"));
    h.sync.resume_operations().await.expect("resume");
    let synced = h
        .sync
        .get_synced_event(&ada, &id)
        .await
        .expect("get")
        .expect("synced");
    assert_eq!(
        synced.accounts,
        [google.id.clone(), apple.id.clone()].into()
    );
    assert_eq!(h.events_on(&apple).len(), 1);
    h.assert_invariants(&[&ada]).await;
}

async fn refused_credentials_fail_the_account_without_retries(h: Harness) {
    let ada = user("ada");
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let google = h.connect(&ada, Provider::Google).await;
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::Unauthorized);
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::InvalidGrant);
    let outcome = h
        .sync
        .commit(
            &ada,
            &event("x", tuesday(10), 30),
            &[outlook.id.clone(), google.id.clone()],
        )
        .await
        .expect("commit");
    assert_eq!(
        outcome.results[&outlook.id].status,
        SyncResultStatus::Failed
    );
    let account = h
        .store
        .get_account(&outlook.id)
        .await
        .expect("get")
        .expect("record")
        .account;
    assert_eq!(account.sync_status, SyncStatus::Error);
    assert!(
        account
            .error
            .expect("error")
            .reason
            .contains("re-authorization")
    );
    assert_eq!(h.provider(Provider::Outlook).counts().creates, 0);
}

async fn when_every_provider_refuses_nothing_is_kept(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    h.provider(Provider::Google)
        .fail_next(50, FaultKind::Refused);
    let error = h
        .sync
        .commit(&ada, &event("x", tuesday(10), 30), &[google.id.clone()])
        .await
        .expect_err("all failed");
    match error {
        Error::AllProvidersFailed(results) => {
            assert_eq!(results[&google.id].status, SyncResultStatus::Failed);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(
        h.store
            .synced_events_of_user(&ada)
            .await
            .expect("events")
            .is_empty()
    );
    h.assert_invariants(&[&ada]).await;
}

async fn a_slow_provider_is_answered_as_pending_and_finishes_in_the_background(h: Harness) {
    let h = h.configured(answering_beside_held());
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let zoom = h.connect(&ada, Provider::Zoom).await;
    h.provider(Provider::Zoom).hold();
    let outcome = h
        .answered_when(
            h.sync.commit(
                &ada,
                &event("Slow", tuesday(10), 30),
                &[google.id.clone(), zoom.id.clone()],
            ),
            h.until_recorded_on(&ada, &google.id),
        )
        .await
        .expect("commit");
    assert_eq!(
        outcome.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(outcome.results[&zoom.id].status, SyncResultStatus::Pending);
    h.provider(Provider::Zoom).release();
    h.sync.settle().await;
    let synced = h
        .sync
        .get_synced_event(&ada, &outcome.synced_event.internal_id)
        .await
        .expect("get")
        .expect("synced");
    assert!(synced.accounts.contains(&zoom.id));
    assert_eq!(h.events_on(&zoom).len(), 1);
    h.assert_invariants(&[&ada]).await;
}

async fn a_virtual_meeting_is_made_on_zoom_and_its_link_written_into_the_calendars(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let zoom = h.connect(&ada, Provider::Zoom).await;
    let mut meeting = event("Call", tuesday(10), 30);
    meeting.virtual_meeting = true;
    let outcome = h
        .sync
        .commit(&ada, &meeting, &[google.id.clone(), zoom.id.clone()])
        .await
        .expect("commit");
    let link = outcome.synced_event.provider_ids[&zoom.id]
        .join_url
        .clone()
        .expect("the meeting's join link");
    let on_google = h.events_on(&google)[0].details.clone().expect("details");
    assert_eq!(on_google.location.as_deref(), Some(link.as_str()));
    assert!(on_google.description.unwrap_or_default().contains(&link));
    assert_eq!(
        outcome.synced_event.event.location.as_deref(),
        Some(link.as_str())
    );
    h.assert_invariants(&[&ada]).await;
}

async fn a_virtual_meeting_requires_a_zoom_account(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let mut meeting = event("Call", tuesday(10), 30);
    meeting.virtual_meeting = true;
    let error = h
        .sync
        .commit(&ada, &meeting, &[google.id.clone()])
        .await
        .expect_err("no zoom account");
    assert!(
        matches!(&error, Error::Invalid(v) if v.field == "event.virtualMeeting"),
        "{error}"
    );
    assert!(h.events_on(&google).is_empty());
}
