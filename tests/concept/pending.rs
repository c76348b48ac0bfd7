//! update and cancel while an account's create is still pending: the later
//! operation runs after the create, on what it made, so the last word wins
//! on every account and a cancelled event ends up nowhere, across a restart
//! too.

use super::support::*;
use calsync::model::{EventId, Provider, SyncResultStatus};
use calsync::operations::{Operation, OperationKind, OperationStatus};
use calsync::providers::sandbox::FaultKind;
use serde_json::{Map, Value, json};

on_every_store!(
    updates_while_the_create_is_pending_reach_that_account_in_order,
    a_cancel_while_the_create_is_pending_deletes_what_it_made,
    a_cancel_recorded_before_a_restart_ends_with_the_event_nowhere,
    a_cancel_recorded_after_a_restart_waits_for_the_resumed_create,
    an_update_after_a_create_that_failed_calls_no_provider_and_says_why,
    a_late_delete_that_fails_keeps_the_event_to_be_cancelled_again,
);

fn changes(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("object")
}

async fn operations_of(h: &Harness, id: &EventId) -> Vec<Operation> {
    h.store.operations_of_event(id).await.expect("operations")
}

/// Nothing is left to do, even once every lease has run out.
async fn assert_nothing_left(h: &Harness, id: &EventId) {
    let unfinished: Vec<Operation> = operations_of(h, id)
        .await
        .into_iter()
        .filter(|op| op.status == OperationStatus::Pending)
        .collect();
    assert!(unfinished.is_empty(), "{unfinished:#?}");
    h.clock.advance(chrono::Duration::minutes(5));
    assert!(h.sync.resume_operations().await.expect("resume").is_empty());
}

async fn updates_while_the_create_is_pending_reach_that_account_in_order(h: Harness) {
    let h = h.configured(answering_beside_held());
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.provider(Provider::Outlook).hold();
    let both = [google.id.clone(), outlook.id.clone()];
    let committed = h
        .answered_when(
            h.sync
                .commit(&ada, &event("Draft title", tuesday(10), 30), &both),
            h.until_recorded_on(&ada, &google.id),
        )
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    let id = committed.synced_event.internal_id.clone();
    h.until_done(&id, &google.id).await;

    let first = h
        .answered_when(
            h.sync
                .update(&ada, &id, &changes(json!({"title": "Second title"}))),
            h.until_finished(&id, &google.id, 2),
        )
        .await
        .expect("update");
    assert_eq!(
        first.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(
        first.results[&outlook.id].status,
        SyncResultStatus::Pending,
        "the update waits for the account's create"
    );
    let second = h
        .answered_when(
            h.sync.update(
                &ada,
                &id,
                &changes(json!({"title": "Final title", "location": "Room 4"})),
            ),
            h.until_finished(&id, &google.id, 3),
        )
        .await
        .expect("update");
    assert_eq!(
        second.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    h.provider(Provider::Outlook).release();
    h.sync.settle().await;

    let synced = h
        .sync
        .get_synced_event(&ada, &id)
        .await
        .expect("get")
        .expect("synced");
    assert_eq!(synced.event.title, "Final title");
    assert_eq!(synced.accounts.len(), 2);
    for account in [&google, &outlook] {
        let copies = h.events_on(account);
        assert_eq!(copies.len(), 1, "one copy on {}", account.provider);
        let details = copies[0].details.clone().expect("written by calsync");
        assert_eq!(
            details.title, "Final title",
            "the last word on {}",
            account.provider
        );
        assert_eq!(details.location.as_deref(), Some("Room 4"));
        assert_eq!(
            synced.provider_ids[&account.id].etag.as_ref(),
            Some(&copies[0].etag),
            "the latest etag is kept"
        );
    }
    // The first update to run writes the latest version; the second finds
    // the account already holding it and makes no call.
    let counts = h.provider(Provider::Outlook).counts();
    assert_eq!((counts.creates, counts.updates), (1, 1));
    assert_eq!(synced.version, 3);
    for account in [&google, &outlook] {
        let held = &synced.provider_ids[&account.id];
        assert_eq!((held.version, &held.pending), (3, &None));
    }
    h.assert_invariants(&[&ada]).await;
    assert_nothing_left(&h, &id).await;
}

async fn a_cancel_while_the_create_is_pending_deletes_what_it_made(h: Harness) {
    let h = h.configured(answering_beside_held());
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.provider(Provider::Outlook).hold();
    let both = [google.id.clone(), outlook.id.clone()];
    let committed = h
        .answered_when(
            h.sync
                .commit(&ada, &event("Soon gone", tuesday(10), 30), &both),
            h.until_recorded_on(&ada, &google.id),
        )
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    let id = committed.synced_event.internal_id.clone();
    h.until_done(&id, &google.id).await;

    let cancelled = h
        .answered_when(
            h.sync.cancel(&ada, &id),
            h.until_finished(&id, &google.id, 2),
        )
        .await
        .expect("cancel");
    assert_eq!(
        cancelled.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(
        cancelled.results[&outlook.id].status,
        SyncResultStatus::Pending,
        "the delete waits for the account's create"
    );
    h.provider(Provider::Outlook).release();
    h.sync.settle().await;

    assert!(h.events_on(&google).is_empty());
    assert!(
        h.events_on(&outlook).is_empty(),
        "what the late create made is deleted"
    );
    assert_eq!(h.sync.get_synced_event(&ada, &id).await.expect("get"), None);
    let counts = h.provider(Provider::Outlook).counts();
    assert_eq!((counts.creates, counts.deletes), (1, 1));
    h.assert_invariants(&[&ada]).await;
    assert_nothing_left(&h, &id).await;
}

async fn a_cancel_recorded_before_a_restart_ends_with_the_event_nowhere(mut h: Harness) {
    h = h.configured(answering_at_once());
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    // Outlook takes the create and never answers.
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::HangAfterApply);
    let both = [google.id.clone(), outlook.id.clone()];
    let committed = h
        .sync
        .commit(&ada, &event("Crash", tuesday(10), 30), &both)
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    h.provider(Provider::Outlook).until_waiting(1).await;
    assert_eq!(h.events_on(&outlook).len(), 1, "the create reached Outlook");
    let id = committed.synced_event.internal_id.clone();
    h.until_done(&id, &google.id).await;
    let cancelled = h.sync.cancel(&ada, &id).await.expect("cancel");
    assert_eq!(
        cancelled.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    // Google's create and delete are done before the process dies.
    h.until_done(&id, &google.id).await;

    // The process dies with Outlook's create and delete both pending.
    h.reopen().await;
    assert!(
        h.sync.resume_operations().await.expect("resume").is_empty(),
        "nothing resumes while the dead instance's leases hold"
    );
    h.clock.advance(chrono::Duration::minutes(5));
    let resumed = h.sync.resume_operations().await.expect("resume");
    let kinds: Vec<OperationKind> = resumed.iter().map(|op| op.kind).collect();
    assert_eq!(kinds, [OperationKind::Create, OperationKind::Delete]);
    assert!(
        resumed
            .iter()
            .all(|op| op.status == OperationStatus::Succeeded),
        "{resumed:#?}"
    );

    assert!(h.events_on(&google).is_empty());
    assert!(h.events_on(&outlook).is_empty());
    assert_eq!(h.store.get_synced_event(&id).await.expect("get"), None);
    let counts = h.provider(Provider::Outlook).counts();
    assert_eq!(
        (counts.creates, counts.deletes),
        (1, 1),
        "made once, deleted exactly once"
    );
    h.assert_invariants(&[&ada]).await;
    assert_nothing_left(&h, &id).await;
}

async fn a_cancel_recorded_after_a_restart_waits_for_the_resumed_create(mut h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::HangAfterApply);
    let both = [google.id.clone(), outlook.id.clone()];
    let crash = event("Crash", tuesday(10), 30);
    // The process dies once Google has the event and Outlook's create hangs.
    let id = tokio::select! {
        answer = h.sync.commit(&ada, &crash, &both) => {
            panic!("the commit answered while Outlook hangs: {answer:?}")
        }
        synced = async {
            h.provider(Provider::Outlook).until_waiting(1).await;
            h.until_recorded_on(&ada, &google.id).await;
            h.until_synced_on(&ada, &google.id).await
        } => synced.internal_id,
    };
    h.reopen().await;

    // The create is held by the dead instance: the delete cannot wait for it
    // here, so it stays pending for a later resume.
    let cancelled = h.sync.cancel(&ada, &id).await.expect("cancel");
    assert_eq!(
        cancelled.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(
        cancelled.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    h.sync.settle().await;
    assert_eq!(
        h.events_on(&outlook).len(),
        1,
        "not deleted before the create ends"
    );
    assert_eq!(h.provider(Provider::Outlook).counts().deletes, 0);

    h.clock.advance(chrono::Duration::minutes(5));
    let resumed = h.sync.resume_operations().await.expect("resume");
    assert!(
        resumed
            .iter()
            .all(|op| op.status == OperationStatus::Succeeded),
        "{resumed:#?}"
    );
    assert!(h.events_on(&google).is_empty());
    assert!(h.events_on(&outlook).is_empty());
    assert_eq!(h.store.get_synced_event(&id).await.expect("get"), None);
    let counts = h.provider(Provider::Outlook).counts();
    assert_eq!((counts.creates, counts.deletes), (1, 1));
    h.assert_invariants(&[&ada]).await;
    assert_nothing_left(&h, &id).await;
}

async fn an_update_after_a_create_that_failed_calls_no_provider_and_says_why(h: Harness) {
    let h = h.configured(answering_at_once());
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let slow = h.provider(Provider::Outlook);
    slow.hold();
    slow.fail_next(50, FaultKind::Refused);
    let both = [google.id.clone(), outlook.id.clone()];
    let committed = h
        .sync
        .commit(&ada, &event("Half", tuesday(10), 30), &both)
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    let id = committed.synced_event.internal_id.clone();
    h.until_done(&id, &google.id).await;
    let updated = h
        .sync
        .update(&ada, &id, &changes(json!({"title": "Renamed"})))
        .await
        .expect("update");
    assert_eq!(
        updated.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    slow.release();
    h.sync.settle().await;

    let counts = slow.counts();
    assert_eq!(
        (counts.creates, counts.updates),
        (0, 0),
        "no call for the update"
    );
    let operations = operations_of(&h, &id).await;
    let on_outlook = |kind| {
        operations
            .iter()
            .find(|op| op.account == outlook.id && op.kind == kind)
            .expect("recorded")
    };
    assert_eq!(
        on_outlook(OperationKind::Create).status,
        OperationStatus::Failed
    );
    let update = on_outlook(OperationKind::Update);
    assert_eq!(update.status, OperationStatus::Failed);
    let reason = update.last_error.clone().unwrap_or_default();
    assert!(reason.contains("its create failed"), "{reason}");
    assert!(
        reason.contains("403"),
        "the create's reason is given: {reason}"
    );

    let synced = h
        .sync
        .get_synced_event(&ada, &id)
        .await
        .expect("get")
        .expect("synced");
    assert_eq!(synced.event.title, "Renamed");
    assert_eq!(synced.accounts, [google.id.clone()].into());
    let on_google = h.events_on(&google)[0].details.clone().expect("details");
    assert_eq!(on_google.title, "Renamed");
    h.assert_invariants(&[&ada]).await;
    assert_nothing_left(&h, &id).await;
}

async fn a_late_delete_that_fails_keeps_the_event_to_be_cancelled_again(h: Harness) {
    let h = h.configured(answering_at_once());
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let slow = h.provider(Provider::Outlook);
    slow.hold();
    let both = [google.id.clone(), outlook.id.clone()];
    let committed = h
        .sync
        .commit(&ada, &event("Stubborn", tuesday(10), 30), &both)
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    h.until_done(&id, &google.id).await;
    // The create has already reached Outlook; every call after it fails.
    slow.until_waiting(1).await;
    slow.fail_next(50, FaultKind::Refused);
    let cancelled = h.sync.cancel(&ada, &id).await.expect("cancel");
    assert_eq!(
        cancelled.results[&outlook.id].status,
        SyncResultStatus::Pending
    );
    slow.release();
    h.sync.settle().await;

    assert_eq!(h.events_on(&outlook).len(), 1, "the deletion failed");
    let kept = h
        .sync
        .get_synced_event(&ada, &id)
        .await
        .expect("get")
        .expect("kept with the account that still has it");
    assert_eq!(kept.accounts, [outlook.id.clone()].into());
    assert_eq!(
        kept.provider_ids[&outlook.id].event_id,
        h.events_on(&outlook)[0].event.event_id
    );
    h.assert_invariants(&[&ada]).await;

    slow.clear_faults();
    // Nothing runs now; from here on answers wait for every provider.
    let h = h.configured(patient());
    h.sync
        .refresh_sync(&ada, &outlook.id)
        .await
        .expect("the account comes back");
    let again = h.sync.cancel(&ada, &id).await.expect("cancel again");
    assert_eq!(
        again.results[&outlook.id].status,
        SyncResultStatus::Succeeded
    );
    assert!(!again.stored);
    assert!(h.events_on(&outlook).is_empty());
    h.assert_invariants(&[&ada]).await;
    assert_nothing_left(&h, &id).await;
}
