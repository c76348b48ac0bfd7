//! Copies converge to the last details stored: concurrent updates of the
//! same events end with every account holding what calsync holds, and an
//! update sent again repairs an account that missed one.

use super::support::*;
use calsync::model::{EventId, Provider, SyncResultStatus, SyncStatus};
use calsync::providers::sandbox::{FaultKind, FaultPlan};
use serde_json::{Map, Value, json};

on_every_store!(
    an_update_sent_again_repairs_an_account_that_missed_it,
    an_update_for_an_account_in_error_waits_and_runs_once_it_is_back,
    a_cancel_behind_a_retrying_update_runs_at_once,
    a_sustained_outage_is_an_error_that_the_probe_clears,
    a_create_refused_after_a_lost_answer_keeps_what_landed,
    a_late_copy_after_a_cancel_is_swept,
);

fn changes(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("object")
}

/// On the embedded store only: 400 concurrent updates are a load test of the
/// MongoDB-wire test server rather than of calsync.
#[tokio::test]
async fn concurrent_updates_converge_on_every_account() {
    let h = Harness::new().await;
    const EVENTS: usize = 8;
    const UPDATES: usize = 50;
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let both = [google.id.clone(), outlook.id.clone()];
    let mut ids: Vec<EventId> = Vec::new();
    for n in 0..EVENTS {
        let committed = h
            .sync
            .commit(&ada, &event(&format!("e-{n}"), tuesday(9), 30), &both)
            .await
            .expect("commit");
        ids.push(committed.synced_event.internal_id);
    }
    let updates = ids
        .iter()
        .flat_map(|id| (0..UPDATES).map(move |u| (id.clone(), u)));
    let answers = futures::future::join_all(updates.map(|(id, u)| {
        let sync = h.sync.clone();
        let ada = ada.clone();
        async move {
            let body = changes(json!({"title": format!("u-{u}"), "location": format!("room {u}")}));
            sync.update(&ada, &id, &body).await
        }
    }))
    .await;
    for answer in answers {
        let answer = answer.expect("update answers");
        for result in answer.results.values() {
            assert_ne!(result.status, SyncResultStatus::Failed, "{result:?}");
        }
    }
    h.sync.settle().await;

    for id in &ids {
        let synced = h
            .sync
            .get_synced_event(&ada, id)
            .await
            .expect("get")
            .expect("synced");
        for account in [&google, &outlook] {
            let copy = h
                .events_on(account)
                .into_iter()
                .find(|stored| stored.event.event_id == synced.provider_ids[&account.id].event_id)
                .expect("the copy");
            let held = copy.details.expect("details");
            assert_eq!(
                (&held.title, &held.location),
                (&synced.event.title, &synced.event.location),
                "{} on {}",
                id,
                account.provider
            );
        }
    }
    h.assert_invariants(&[&ada]).await;
}

async fn an_update_sent_again_repairs_an_account_that_missed_it(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Review", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::Refused);
    let moved = changes(json!({"location": "Room 4"}));
    let first = h.sync.update(&ada, &id, &moved).await.expect("update");
    assert_eq!(first.results[&outlook.id].status, SyncResultStatus::Failed);
    let again = h
        .sync
        .update(&ada, &id, &moved)
        .await
        .expect("update again");
    assert_eq!(
        again.results[&outlook.id].status,
        SyncResultStatus::Succeeded
    );
    let held = h.events_on(&outlook)[0].details.clone().expect("details");
    assert_eq!(held.location.as_deref(), Some("Room 4"));
    h.assert_invariants(&[&ada]).await;
}

async fn an_update_for_an_account_in_error_waits_and_runs_once_it_is_back(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Review", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    // Outlook refuses for a reason a person must fix: the account is in error.
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::Refused);
    let down = h
        .sync
        .refresh_sync(&ada, &outlook.id)
        .await
        .expect("refresh");
    assert_eq!(down.sync_status, calsync::model::SyncStatus::Error);

    let moved = changes(json!({"location": "Room 4"}));
    let updated = h.sync.update(&ada, &id, &moved).await.expect("update");
    let waiting = &updated.results[&outlook.id];
    assert_eq!(waiting.status, SyncResultStatus::Pending, "{waiting:?}");
    assert!(
        waiting
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("error"),
        "{waiting:?}"
    );
    assert_eq!(
        updated.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    h.sync.settle().await;
    let held = h.events_on(&outlook)[0].details.clone().expect("details");
    assert_eq!(held.location, None, "nothing written while in error");

    let up = h
        .sync
        .refresh_sync(&ada, &outlook.id)
        .await
        .expect("refresh");
    assert_eq!(up.sync_status, calsync::model::SyncStatus::Connected);
    // No client call and no time passing: the account's return wakes the
    // work that waited for it.
    h.sync.settle().await;
    let held = h.events_on(&outlook)[0].details.clone().expect("details");
    assert_eq!(held.location.as_deref(), Some("Room 4"));
    h.assert_invariants(&[&ada]).await;
}

/// An update waits a day between attempts (a long Retry-After, say); a cancel
/// recorded meanwhile supersedes it and deletes the copy at once, instead of
/// waiting for the update's next attempt. While the update waits, the synced
/// event shows the account's pending work.
async fn a_cancel_behind_a_retrying_update_runs_at_once(h: Harness) {
    const A_DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    let h = h.configured(calsync::Config {
        retry: calsync::operations::RetryPolicy {
            base: A_DAY,
            cap: A_DAY,
            ..calsync::operations::RetryPolicy::quick()
        },
        ..answering_at_once()
    });
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let both = [google.id.clone(), outlook.id.clone()];
    let committed = h
        .sync
        .commit(&ada, &event("Review", tuesday(10), 30), &both)
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    h.until_done(&id, &google.id).await;
    h.until_done(&id, &outlook.id).await;
    h.provider(Provider::Google)
        .fail_next(1, FaultKind::ServerError);
    let moved = changes(json!({"location": "Room 4"}));
    let updated = h.sync.update(&ada, &id, &moved).await.expect("update");
    assert_eq!(updated.synced_event.version, 2);
    let waiting = loop {
        let synced = h
            .sync
            .get_synced_event(&ada, &id)
            .await
            .expect("get")
            .expect("synced");
        let held = synced.provider_ids[&google.id].clone();
        if held
            .pending
            .as_ref()
            .is_some_and(|pending| pending.reason.contains("unavailable"))
        {
            break held;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(waiting.version, 1, "google still holds the first version");
    h.until_done(&id, &outlook.id).await;

    tokio::select! {
        cancelled = async {
            let answer = h.sync.cancel(&ada, &id).await;
            h.sync.settle().await;
            answer
        } => drop(cancelled.expect("cancel")),
        () = tokio::time::sleep(GIVE_UP) => panic!("the cancel waited for the update's next attempt"),
    };
    let gone = h.sync.get_synced_event(&ada, &id).await.expect("get");
    assert_eq!(gone, None, "the synced event is removed");
    assert!(h.events_on(&google).is_empty(), "the copy is gone at once");
    assert!(h.events_on(&outlook).is_empty());
    assert_eq!(
        h.provider(Provider::Google).counts().updates,
        0,
        "the superseded update made no second attempt (a refused call is not counted)"
    );
    h.assert_invariants(&[&ada]).await;
}

/// Transient failures alone leave an account connected; only when every call
/// has failed for `outage_after` is the account put in error, as an outage.
/// The probe then validates it with a growing wait, and once the provider
/// answers the account is connected again and the commit it held back
/// reaches it, with no client call.
async fn a_sustained_outage_is_an_error_that_the_probe_clears(h: Harness) {
    let outage_after = std::time::Duration::from_secs(3600);
    let probe_every = std::time::Duration::from_secs(30);
    let h = h.configured(calsync::Config {
        outage_after,
        probe_every,
        ..answering_at_once()
    });
    let span = |wait: std::time::Duration| chrono::Duration::from_std(wait).expect("span");
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.provider(Provider::Google).fail(FaultPlan {
        kind: FaultKind::ServerError,
        remaining: u32::MAX,
        calendar: None,
        retry_after_ms: None,
    });
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Review", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    h.sync.settle().await;
    let status = |h: &Harness| {
        let (sync, ada, google) = (h.sync.clone(), ada.clone(), google.id.clone());
        async move { sync.get_account(&ada, &google).await.expect("account") }
    };
    assert_eq!(
        status(&h).await.sync_status,
        SyncStatus::Connected,
        "a round of transient failures leaves the account connected"
    );

    h.clock.advance(span(outage_after));
    h.sync.resume_operations().await.expect("resume");
    let down = status(&h).await;
    assert_eq!(down.sync_status, SyncStatus::Error);
    let error = down.error.expect("the error");
    assert!(
        error.outage && error.reason.starts_with("outage"),
        "{error:?}"
    );

    // The first probe comes on the next pass, and fails: the next one is
    // due a probe interval later.
    h.sync.resume_operations().await.expect("probe");
    assert_eq!(status(&h).await.sync_status, SyncStatus::Error);
    h.provider(Provider::Google).clear_faults();
    h.sync.resume_operations().await.expect("no probe due");
    assert_eq!(
        status(&h).await.sync_status,
        SyncStatus::Error,
        "the next probe waits its interval"
    );
    assert!(
        h.events_on(&google).is_empty(),
        "nothing written while in error"
    );

    h.clock.advance(span(probe_every));
    h.sync.resume_operations().await.expect("probe");
    let up = status(&h).await;
    assert_eq!((up.sync_status, up.error), (SyncStatus::Connected, None));
    h.sync.settle().await;
    assert_eq!(h.events_on(&google).len(), 1, "the held-back create ran");
    let synced = h
        .sync
        .get_synced_event(&ada, &id)
        .await
        .expect("get")
        .expect("synced");
    assert_eq!(synced.accounts.len(), 2);
    h.assert_invariants(&[&ada]).await;
}

/// The first attempt lands but its answer is lost; the retry is refused.
/// Before calling the create failed, calsync reads back by its key, finds
/// what landed, and records it: no copy it does not know, no false failure.
async fn a_create_refused_after_a_lost_answer_keeps_what_landed(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let provider = h.provider(Provider::Google);
    provider.fail_next(1, FaultKind::TimeoutAfterApply);
    provider.fail_next(1, FaultKind::Refused);
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Review", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect("commit");
    let result = &committed.results[&google.id];
    assert_eq!(result.status, SyncResultStatus::Succeeded, "{result:?}");
    let copies = h.events_on(&google);
    assert_eq!(copies.len(), 1, "one copy on google");
    assert_eq!(
        committed.synced_event.provider_ids[&google.id].event_id, copies[0].event.event_id,
        "calsync holds the copy that landed"
    );
    h.assert_invariants(&[&ada]).await;
}

/// A create's first attempt is held by the network; the retry makes the
/// event, the event is cancelled, and then the held attempt arrives and
/// makes a copy again. The sweep calsync recorded with the cancel finds it
/// by its key once the late-delivery wait has passed, and deletes it.
async fn a_late_copy_after_a_cancel_is_swept(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let details = event("Review", tuesday(10), 30);
    h.provider(Provider::Google)
        .fail_next(1, FaultKind::Timeout);
    let committed = h
        .sync
        .commit(&ada, &details, &[google.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    let id = committed.synced_event.internal_id.clone();
    let create = h
        .store
        .operations_of_event(&id)
        .await
        .expect("operations")
        .into_iter()
        .find(|op| op.kind == calsync::operations::OperationKind::Create)
        .expect("the create");
    h.sync.cancel(&ada, &id).await.expect("cancel");
    assert!(h.events_on(&google).is_empty(), "cancelled");

    let context = calsync::providers::WriteContext {
        idempotency_key: create.idempotency_key.clone(),
        synced_id: id.clone(),
        invite_attendees: false,
        retry: false,
    };
    let calendar = google.calendar_id.clone().expect("calendar");
    h.provider(Provider::Google)
        .deliver_late_create(&calendar, &details, &context);
    assert_eq!(h.events_on(&google).len(), 1, "the late copy");

    // Not before the wait: a request may still be on its way.
    h.sync.resume_operations().await.expect("resume");
    assert_eq!(h.events_on(&google).len(), 1);
    let wait = h.config.late_delivery.max(h.config.call_timeout * 2);
    h.clock
        .advance(chrono::Duration::from_std(wait).expect("span"));
    h.sync.resume_operations().await.expect("resume");
    assert!(h.events_on(&google).is_empty(), "the late copy is swept");
    let operations = h.store.operations_of_event(&id).await.expect("operations");
    assert!(
        operations
            .iter()
            .all(|op| op.status != calsync::operations::OperationStatus::Pending),
        "{operations:?}"
    );
    assert_eq!(h.sync.get_synced_event(&ada, &id).await.expect("get"), None);
}
