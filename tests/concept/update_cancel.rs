//! update and cancel: requires and effects.

use super::support::*;
use calsync::Error;
use calsync::model::{Provider, SyncResultStatus};
use calsync::providers::sandbox::FaultKind;
use serde_json::{Map, Value, json};

on_every_store!(
    update_propagates_to_every_provider_and_updates_synced_at,
    update_requires_valid_field_names_and_changes_nothing_otherwise,
    update_and_cancel_require_the_users_synced_event,
    cancel_removes_the_event_everywhere_then_from_state,
    cancel_with_a_failing_provider_keeps_what_is_left_and_says_which_succeeded,
    cancel_counts_an_event_already_deleted_on_the_provider_as_done,
);

fn changes(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("object")
}

async fn update_propagates_to_every_provider_and_updates_synced_at(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let apple = h.connect(&ada, Provider::Apple).await;
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Review", tuesday(10), 30),
            &[google.id.clone(), apple.id.clone()],
        )
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    let before = committed.synced_event.provider_ids.clone();
    h.clock.advance(chrono::Duration::minutes(3));
    let new_start = tuesday(11);
    let updated = h
        .sync
        .update(
            &ada,
            &id,
            &changes(json!({"start": new_start.to_rfc3339(), "end": (new_start + chrono::Duration::minutes(30)).to_rfc3339(), "description": "moved"})),
        )
        .await
        .expect("update");
    assert!(
        updated
            .results
            .values()
            .all(|r| r.status == SyncResultStatus::Succeeded)
    );
    let synced = updated.synced_event;
    assert_eq!(
        synced.synced_at,
        start_of_test() + chrono::Duration::minutes(3)
    );
    assert_eq!(synced.event.start.instant(), Some(new_start));
    for account in [&google, &apple] {
        let copy = &h.events_on(account)[0];
        assert_eq!(copy.event.start.instant(), Some(new_start));
        assert_eq!(
            copy.event.event_id, before[&account.id].event_id,
            "the stored id was used"
        );
        assert_ne!(
            Some(&copy.etag),
            before[&account.id].etag.as_ref(),
            "a new version"
        );
        assert_eq!(
            synced.provider_ids[&account.id].etag.as_ref(),
            Some(&copy.etag),
            "the new etag is kept"
        );
    }
    h.assert_invariants(&[&ada]).await;
}

async fn update_requires_valid_field_names_and_changes_nothing_otherwise(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let committed = h
        .sync
        .commit(&ada, &event("Plan", tuesday(10), 30), &[google.id.clone()])
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    let error = h
        .sync
        .update(&ada, &id, &changes(json!({"colour": "red"})))
        .await
        .expect_err("unknown");
    assert!(
        matches!(&error, Error::Invalid(v) if v.field == "changes.colour"),
        "{error}"
    );
    let error = h
        .sync
        .update(&ada, &id, &changes(json!({"title": 42})))
        .await
        .expect_err("wrong type");
    assert_eq!(error.kind(), "invalid_input");
    let error = h
        .sync
        .update(&ada, &id, &changes(json!({"end": tuesday(9).to_rfc3339()})))
        .await
        .expect_err("end before start");
    assert!(error.to_string().contains("end"), "{error}");
    let error = h
        .sync
        .update(&ada, &id, &Map::new())
        .await
        .expect_err("empty");
    assert_eq!(error.kind(), "invalid_input");
    assert_eq!(h.provider(Provider::Google).counts().updates, 0);
    let stored = h
        .sync
        .get_synced_event(&ada, &id)
        .await
        .expect("get")
        .expect("event");
    assert_eq!(stored, committed.synced_event);
}

async fn update_and_cancel_require_the_users_synced_event(h: Harness) {
    let (ada, bob) = (user("ada"), user("bob"));
    let google = h.connect(&ada, Provider::Google).await;
    let committed = h
        .sync
        .commit(&ada, &event("Mine", tuesday(10), 30), &[google.id.clone()])
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    let error = h
        .sync
        .update(&bob, &id, &changes(json!({"title": "x"})))
        .await
        .expect_err("not bob's");
    assert_eq!(error.kind(), "event_not_found");
    let error = h.sync.cancel(&bob, &id).await.expect_err("not bob's");
    assert_eq!(error.kind(), "event_not_found");
    assert_eq!(h.sync.get_synced_event(&bob, &id).await.expect("get"), None);
    let error = h
        .sync
        .cancel(&ada, &"missing".into())
        .await
        .expect_err("missing");
    assert_eq!(error.kind(), "event_not_found");
    assert_eq!(h.events_on(&google).len(), 1);
    assert_eq!(h.provider(Provider::Google).counts().deletes, 0);
}

async fn cancel_removes_the_event_everywhere_then_from_state(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let zoom = h.connect(&ada, Provider::Zoom).await;
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Gone", tuesday(10), 30),
            &[google.id.clone(), zoom.id.clone()],
        )
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    let cancelled = h.sync.cancel(&ada, &id).await.expect("cancel");
    assert!(!cancelled.stored);
    assert!(
        cancelled
            .results
            .values()
            .all(|r| r.status == SyncResultStatus::Succeeded)
    );
    assert!(h.events_on(&google).is_empty());
    assert!(h.events_on(&zoom).is_empty());
    assert_eq!(h.sync.get_synced_event(&ada, &id).await.expect("get"), None);
    h.assert_invariants(&[&ada]).await;
}

async fn cancel_with_a_failing_provider_keeps_what_is_left_and_says_which_succeeded(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Half", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    h.provider(Provider::Outlook)
        .fail_next(50, FaultKind::Refused);
    let cancelled = h.sync.cancel(&ada, &id).await.expect("cancel");
    assert_eq!(
        cancelled.results[&google.id].status,
        SyncResultStatus::Succeeded
    );
    assert_eq!(
        cancelled.results[&outlook.id].status,
        SyncResultStatus::Failed
    );
    assert!(cancelled.stored);
    let left = h
        .sync
        .get_synced_event(&ada, &id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(left.accounts.len(), 1);
    assert!(left.accounts.contains(&outlook.id));
    assert!(h.events_on(&google).is_empty());
    assert_eq!(h.events_on(&outlook).len(), 1);
    h.assert_invariants(&[&ada]).await;
}

async fn cancel_counts_an_event_already_deleted_on_the_provider_as_done(h: Harness) {
    let ada = user("ada");
    let apple = h.connect(&ada, Provider::Apple).await;
    let committed = h
        .sync
        .commit(&ada, &event("x", tuesday(10), 30), &[apple.id.clone()])
        .await
        .expect("commit");
    let reference = committed.synced_event.provider_ids[&apple.id].clone();
    h.provider(Provider::Apple).edit(
        apple.calendar_id.as_deref().unwrap_or_default(),
        &reference.event_id,
        |_| {},
    );
    let cancelled = h
        .sync
        .cancel(&ada, &committed.synced_event.internal_id)
        .await
        .expect("cancel");
    assert!(!cancelled.stored);
    let cancelled_again = h
        .sync
        .cancel(&ada, &committed.synced_event.internal_id)
        .await;
    assert_eq!(cancelled_again.expect_err("gone").kind(), "event_not_found");
}
