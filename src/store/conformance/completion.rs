//! Cases on finishing operations: the event change and the operation's new
//! state recorded by one call.

use super::{StoreMaker, at, base_event, fresh, operation, reference};
use crate::model::{AccountId, EventId, Provider, ProviderEventRef};
use crate::operations::{Operation, OperationKind, OperationStatus};
use crate::store::{EventChange, StoreError};

fn succeeded(mut op: Operation, result: Option<crate::model::ProviderEventRef>) -> Operation {
    op.status = OperationStatus::Succeeded;
    op.result = result;
    op.lease_owner = None;
    op.lease_until = None;
    op.updated_at = at(1);
    op
}

/// `complete_operation` attaches (creating the synced event), refreshes the
/// reference of an event that exists (never re-creating a removed one),
/// detaches (removing the event with its last account), or changes nothing,
/// and in each case stores the operation as given; an unknown operation is
/// `NotFound`.
pub async fn complete_operation_records_event_and_operation(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let event = EventId::from("event-1");
    let acct = AccountId::from("acct-1");
    let create = operation("event-1", "acct-1", 0);
    let mut update = operation("event-1", "acct-1", 0);
    update.kind = OperationKind::Update;
    let mut orphan_update = operation("event-gone", "acct-1", 0);
    orphan_update.kind = OperationKind::Update;
    let failed = operation("event-1", "acct-2", 0);
    let all = [&create, &update, &orphan_update, &failed].map(Clone::clone);
    store.insert_operations(&all).await.expect("insert");

    let first = reference(Provider::Outlook, "o-1");
    let base = base_event("user-1", "event-1");
    let create = succeeded(create, Some(first.clone()));
    let change = EventChange::Attach {
        base: Box::new(base.clone()),
        reference: first.clone(),
    };
    store
        .complete_operation(&create, &change, at(1))
        .await
        .expect("complete create");
    let synced = store.get_synced_event(&event).await.expect("read");
    let synced = synced.expect("the attach created the synced event");
    assert_eq!(synced.user, base.user);
    assert_eq!(synced.event, base.event);
    assert_eq!(synced.accounts, [acct.clone()].into());
    assert_eq!(synced.provider_ids, [(acct.clone(), first)].into());
    assert_eq!(synced.synced_at, at(1));
    assert_eq!(
        store.get_operation(&create.id).await.expect("read"),
        Some(create)
    );

    let second = reference(Provider::Outlook, "o-2");
    let update = succeeded(update, Some(second.clone()));
    let change = EventChange::Refresh(second.clone());
    store
        .complete_operation(&update, &change, at(2))
        .await
        .expect("complete update");
    let synced = store.get_synced_event(&event).await.expect("read");
    let synced = synced.expect("still synced");
    assert_eq!(synced.provider_ids, [(acct.clone(), second.clone())].into());
    assert_eq!(synced.synced_at, at(2));
    assert_eq!(
        store.get_operation(&update.id).await.expect("read"),
        Some(update)
    );

    let orphan_update = succeeded(orphan_update, Some(second.clone()));
    store
        .complete_operation(&orphan_update, &EventChange::Refresh(second), at(2))
        .await
        .expect("complete an update of a removed event");
    let gone = store.get_synced_event(&EventId::from("event-gone")).await;
    assert_eq!(
        gone.expect("read"),
        None,
        "a refresh never creates an event"
    );
    let stored = store.get_operation(&orphan_update.id).await.expect("read");
    assert_eq!(stored, Some(orphan_update));

    let mut failed = failed;
    failed.status = OperationStatus::Failed;
    failed.last_error = Some("Rejected: bad event".to_owned());
    store
        .complete_operation(&failed, &EventChange::None, at(3))
        .await
        .expect("complete a failure");
    let synced = store.get_synced_event(&event).await.expect("read");
    assert_eq!(synced.expect("unchanged").synced_at, at(2));
    assert_eq!(
        store.get_operation(&failed.id).await.expect("read"),
        Some(failed)
    );

    let mut delete = operation("event-1", "acct-1", 0);
    delete.kind = OperationKind::Delete;
    store
        .insert_operations(std::slice::from_ref(&delete))
        .await
        .expect("insert");
    let delete = succeeded(delete, None);
    store
        .complete_operation(&delete, &EventChange::Detach, at(4))
        .await
        .expect("complete delete");
    let synced = store.get_synced_event(&event).await.expect("read");
    assert_eq!(synced, None, "the last account is gone, so is the event");
    assert_eq!(
        store.get_operation(&delete.id).await.expect("read"),
        Some(delete)
    );

    let ghost = succeeded(operation("event-1", "acct-1", 0), None);
    let answer = store
        .complete_operation(&ghost, &EventChange::None, at(5))
        .await;
    assert!(
        matches!(answer, Err(StoreError::NotFound(_))),
        "completing an unknown operation: {answer:?}"
    );
    assert_eq!(store.get_operation(&ghost.id).await.expect("read"), None);
}

fn delete(event: &str, account: &str) -> Operation {
    let mut op = operation(event, account, 0);
    op.kind = OperationKind::Delete;
    op
}

fn attach(reference: &ProviderEventRef) -> EventChange {
    EventChange::Attach {
        base: Box::new(base_event("user-1", "event-1")),
        reference: reference.clone(),
    }
}

/// A cancel recorded while an account's create ran removes the synced event
/// from the other accounts; the create, finishing while that account's
/// delete waits, records its operation but does not bring the event back.
/// Once no delete waits (the delete itself failing), an attach creates it
/// again; an event that exists is attached to even while a delete waits.
pub async fn an_attach_never_brings_back_a_cancelled_event(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let event = EventId::from("event-1");
    let (early, late) = (AccountId::from("acct-1"), AccountId::from("acct-2"));
    let create_early = operation("event-1", "acct-1", 0);
    let create_late = operation("event-1", "acct-2", 0);
    let both = [create_early.clone(), create_late.clone()];
    store.insert_operations(&both).await.expect("insert");
    let first = reference(Provider::Outlook, "o-1");
    let create_early = succeeded(create_early, Some(first.clone()));
    store
        .complete_operation(&create_early, &attach(&first), at(1))
        .await
        .expect("complete the first create");

    let (delete_early, delete_late) = (delete("event-1", "acct-1"), delete("event-1", "acct-2"));
    let cancel = [delete_early.clone(), delete_late.clone()];
    store.insert_operations(&cancel).await.expect("insert");
    store
        .complete_operation(&succeeded(delete_early, None), &EventChange::Detach, at(2))
        .await
        .expect("complete the first delete");
    assert_eq!(store.get_synced_event(&event).await.expect("read"), None);

    let second = reference(Provider::Outlook, "o-2");
    let create_late = succeeded(create_late, Some(second.clone()));
    store
        .complete_operation(&create_late, &attach(&second), at(3))
        .await
        .expect("complete the late create");
    assert_eq!(
        store.get_synced_event(&event).await.expect("read"),
        None,
        "a cancelled event stays removed"
    );
    assert_eq!(
        store.get_operation(&create_late.id).await.expect("read"),
        Some(create_late),
        "the create is recorded with the provider event its delete needs"
    );

    let mut failed_delete = delete_late;
    failed_delete.status = OperationStatus::Failed;
    failed_delete.last_error = Some("Unavailable: 503".to_owned());
    store
        .complete_operation(&failed_delete, &attach(&second), at(4))
        .await
        .expect("complete the failed delete");
    let kept = store.get_synced_event(&event).await.expect("read");
    let kept = kept.expect("no delete waits: the event is kept with the account");
    assert_eq!(kept.accounts, [late.clone()].into());
    assert_eq!(kept.provider_ids, [(late.clone(), second)].into());

    let waiting = delete("event-1", "acct-1");
    store
        .insert_operations(std::slice::from_ref(&waiting))
        .await
        .expect("insert");
    let again = succeeded(operation("event-1", "acct-1", 0), Some(first.clone()));
    store
        .insert_operations(std::slice::from_ref(&again))
        .await
        .expect("insert");
    store
        .complete_operation(&again, &attach(&first), at(5))
        .await
        .expect("complete an attach to an event that exists");
    let both = store.get_synced_event(&event).await.expect("read");
    assert_eq!(both.expect("exists").accounts, [early, late].into());
}

/// A refresh never puts an older version over a newer one: an update that
/// finishes late (its instance was thought dead) leaves the newer record.
pub async fn a_refresh_never_writes_an_older_version(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let event = EventId::from("event-1");
    let acct = AccountId::from("acct-1");
    let base = base_event("user-1", "event-1");
    let first = reference(Provider::Google, "g-1");
    store
        .attach_provider_event(&base, &acct, &first, at(1))
        .await
        .expect("attach");
    let versioned = |version: u64, etag: &str| ProviderEventRef {
        version,
        etag: Some(etag.to_owned()),
        ..first.clone()
    };
    let mut updates = Vec::new();
    for _ in 0..3 {
        let mut update = operation("event-1", "acct-1", 0);
        update.kind = OperationKind::Update;
        updates.push(update);
    }
    store.insert_operations(&updates).await.expect("insert");
    let (newer, older, same) = (
        versioned(3, "\"e3\""),
        versioned(2, "\"e2\""),
        versioned(3, "\"e3b\""),
    );
    for (update, reference) in updates.into_iter().zip([&newer, &older, &same]) {
        let update = succeeded(update, Some(reference.clone()));
        store
            .complete_operation(&update, &EventChange::Refresh(reference.clone()), at(2))
            .await
            .expect("complete update");
        let synced = store.get_synced_event(&event).await.expect("read");
        let held = synced.expect("synced").provider_ids[&acct].clone();
        let expected = if reference.version >= 3 {
            reference
        } else {
            &newer
        };
        assert_eq!(
            &held, expected,
            "after a refresh at version {}",
            reference.version
        );
        assert_eq!(
            store.get_operation(&update.id).await.expect("read"),
            Some(update),
            "the operation is stored either way"
        );
    }
}
