//! Cases on finishing operations: the event change and the operation's new
//! state recorded by one call.

use super::{StoreMaker, at, base_event, fresh, operation, reference};
use crate::model::{AccountId, EventId, Provider};
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
    let mut delete = operation("event-1", "acct-1", 0);
    delete.kind = OperationKind::Delete;
    let failed = operation("event-1", "acct-2", 0);
    let all = [&create, &update, &orphan_update, &delete, &failed].map(Clone::clone);
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
