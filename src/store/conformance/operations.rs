//! Cases on operations: all-or-none inserts, and leases that two claimers
//! never share.

use super::{StoreMaker, at, fresh, operation};
use crate::model::{AccountId, EventId, OperationId, ProviderEventRef};
use crate::operations::{Operation, OperationStatus};
use crate::store::{Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;

fn ids(operations: &[Operation]) -> BTreeSet<OperationId> {
    operations
        .iter()
        .map(|operation| operation.id.clone())
        .collect()
}

/// Inserted operations read back equal, by id and by event (oldest first);
/// an update replaces one whole; updating an unknown one is `NotFound`.
pub async fn operations_round_trip(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let mut older = operation("event-1", "acct-1", 0);
    older.created_at = at(-40);
    let newer = operation("event-1", "acct-2", 0);
    let other = operation("event-2", "acct-1", 0);
    store
        .insert_operations(&[newer.clone(), other.clone(), older.clone()])
        .await
        .expect("insert");
    assert_eq!(
        store.get_operation(&older.id).await.expect("get"),
        Some(older.clone())
    );
    let of_event = store
        .operations_of_event(&EventId::from("event-1"))
        .await
        .expect("read");
    assert_eq!(of_event, vec![older.clone(), newer.clone()]);

    let mut done = older.clone();
    done.status = OperationStatus::Succeeded;
    done.attempts = 2;
    done.last_error = Some("HTTP 503".to_owned());
    done.result = Some(ProviderEventRef {
        provider: done.provider,
        event_id: "AAMkAGI2-1".to_owned(),
        etag: Some("W/\"1\"".to_owned()),
        calendar_id: None,
        join_url: None,
        version: 1,
        pending: None,
    });
    done.updated_at = at(5);
    store.update_operation(&done).await.expect("update");
    assert_eq!(
        store.get_operation(&done.id).await.expect("get"),
        Some(done)
    );

    let ghost = operation("event-1", "acct-3", 0);
    let updated = store.update_operation(&ghost).await;
    assert!(
        matches!(updated, Err(StoreError::NotFound(_))),
        "{updated:?}"
    );
    assert_eq!(store.get_operation(&ghost.id).await.expect("get"), None);
    assert!(
        store.insert_operations(&[]).await.is_ok(),
        "an empty batch is fine"
    );
}

/// A batch with a duplicate id, inside it or already stored, inserts nothing.
pub async fn operations_insert_all_or_none(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let (first, second) = (
        operation("event-1", "acct-1", 0),
        operation("event-1", "acct-2", 0),
    );
    let mut twin = operation("event-1", "acct-3", 0);
    twin.id = first.id.clone();
    let result = store
        .insert_operations(&[first.clone(), second.clone(), twin])
        .await;
    assert!(
        matches!(result, Err(StoreError::AlreadyExists(_))),
        "{result:?}"
    );
    for id in [&first.id, &second.id] {
        assert_eq!(store.get_operation(id).await.expect("get"), None);
    }

    store
        .insert_operations(std::slice::from_ref(&first))
        .await
        .expect("insert");
    let fresh_one = operation("event-1", "acct-4", 0);
    let result = store
        .insert_operations(&[fresh_one.clone(), first.clone()])
        .await;
    assert!(
        matches!(result, Err(StoreError::AlreadyExists(_))),
        "{result:?}"
    );
    assert_eq!(store.get_operation(&fresh_one.id).await.expect("get"), None);
    let of_event = store
        .operations_of_event(&EventId::from("event-1"))
        .await
        .expect("read");
    assert_eq!(of_event, vec![first]);
}

/// A claim takes pending operations that are due and unleased (or whose lease
/// ended), up to the limit, and records the lease; nothing else.
pub async fn claim_takes_only_due_pending_unleased(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let due = operation("event-1", "acct-1", -10);
    let due_now = operation("event-1", "acct-2", 0);
    let future = operation("event-1", "acct-3", 1);
    let mut succeeded = operation("event-1", "acct-4", -10);
    succeeded.status = OperationStatus::Succeeded;
    let mut failed = operation("event-1", "acct-5", -10);
    failed.status = OperationStatus::Failed;
    let mut leased = operation("event-1", "acct-6", -10);
    (leased.lease_owner, leased.lease_until) = (Some("someone".to_owned()), Some(at(1)));
    let mut lapsed = operation("event-1", "acct-7", -10);
    (lapsed.lease_owner, lapsed.lease_until) = (Some("crashed".to_owned()), Some(at(-1)));
    let all = [
        &due, &due_now, &future, &succeeded, &failed, &leased, &lapsed,
    ];
    store
        .insert_operations(&all.map(Clone::clone))
        .await
        .expect("insert");

    let none = store
        .claim_due_operations(at(0), "me", at(5), 0)
        .await
        .expect("claim");
    assert!(none.is_empty(), "a limit of 0 claims nothing");
    let first = store
        .claim_due_operations(at(0), "me", at(5), 2)
        .await
        .expect("claim");
    assert_eq!(first.len(), 2, "the limit holds: {first:?}");
    let rest = store
        .claim_due_operations(at(0), "me", at(5), 10)
        .await
        .expect("claim");
    let claimed = ids(&[first, rest.clone()].concat());
    assert_eq!(
        claimed,
        ids(&[due.clone(), due_now.clone(), lapsed.clone()])
    );
    for operation in &rest {
        assert_eq!(operation.lease_owner.as_deref(), Some("me"));
        assert_eq!(operation.lease_until, Some(at(5)));
    }
    for id in &claimed {
        let stored = store.get_operation(id).await.expect("get").expect("stored");
        assert_eq!(
            (stored.lease_owner.as_deref(), stored.lease_until),
            (Some("me"), Some(at(5)))
        );
        assert_eq!(stored.status, OperationStatus::Pending);
    }
    let again = store
        .claim_due_operations(at(1), "you", at(6), 10)
        .await
        .expect("claim");
    assert_eq!(
        ids(&again),
        ids(&[future]),
        "held leases are not taken again"
    );
    let untouched = store.get_operation(&leased.id).await.expect("get");
    assert_eq!(untouched, Some(leased));
}

/// Once a lease ends, another claimer takes the operation.
pub async fn expired_leases_are_claimed_again(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let pending = operation("event-1", "acct-1", 0);
    store
        .insert_operations(std::slice::from_ref(&pending))
        .await
        .expect("insert");
    let first = store
        .claim_due_operations(at(0), "first", at(2), 5)
        .await
        .expect("claim");
    assert_eq!(ids(&first), ids(std::slice::from_ref(&pending)));
    let early = store
        .claim_due_operations(at(1), "second", at(3), 5)
        .await
        .expect("claim");
    assert!(early.is_empty(), "the lease holds until it ends: {early:?}");
    let late = store
        .claim_due_operations(at(3), "second", at(8), 5)
        .await
        .expect("claim");
    assert_eq!(ids(&late), ids(std::slice::from_ref(&pending)));
    let stored = store
        .get_operation(&pending.id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        (stored.lease_owner.as_deref(), stored.lease_until),
        (Some("second"), Some(at(8)))
    );
}

const OPERATIONS: usize = 60;
const CLAIMERS: usize = 12;

/// Many claimers on the given stores, each claiming a few at a time until
/// nothing is left; answers everything claimed, with repeats.
async fn claim_everything(stores: &[Arc<dyn Store>]) -> Vec<OperationId> {
    let claimers = (0..CLAIMERS).map(|claimer| {
        let store = stores[claimer % stores.len()].clone();
        tokio::spawn(async move {
            let owner = format!("claimer-{claimer}");
            let mut claimed = Vec::new();
            loop {
                let batch = store
                    .claim_due_operations(at(0), &owner, at(10), 3)
                    .await
                    .expect("claim");
                // More claims than operations means one was taken twice:
                // stop, and let the check below say so.
                if batch.is_empty() || claimed.len() > OPERATIONS {
                    return claimed;
                }
                claimed.extend(batch.into_iter().map(|operation| operation.id));
            }
        })
    });
    let mut all = Vec::new();
    for claimed in futures::future::join_all(claimers).await {
        all.extend(claimed.expect("claimer task"));
    }
    all
}

async fn insert_due(store: &dyn Store) -> BTreeSet<OperationId> {
    let operations: Vec<Operation> = (0..OPERATIONS)
        .map(|n| operation("event-1", &format!("acct-{n}"), -(n as i64)))
        .collect();
    store.insert_operations(&operations).await.expect("insert");
    ids(&operations)
}

fn assert_each_claimed_once(claimed: Vec<OperationId>, expected: BTreeSet<OperationId>) {
    let distinct: BTreeSet<OperationId> = claimed.iter().cloned().collect();
    assert_eq!(
        claimed.len(),
        distinct.len(),
        "an operation was claimed twice"
    );
    assert_eq!(distinct, expected, "every due operation is claimed");
}

/// Many tasks claiming at once never get the same operation.
pub async fn concurrent_claimers_never_share(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let expected = insert_due(&*store).await;
    let claimed = claim_everything(&[store]).await;
    assert_each_claimed_once(claimed, expected);
}

/// Two stores opened on one place (as two processes would) claiming at once
/// take every operation exactly once.
pub async fn two_stores_on_one_place_claim_each_operation_once(maker: &dyn StoreMaker) {
    let (first, place) = fresh(maker).await;
    let second = maker
        .open(&place, first.prefix())
        .await
        .expect("open again");
    let expected = insert_due(&*first).await;
    let claimed = claim_everything(&[first, second]).await;
    assert_each_claimed_once(claimed, expected);
}

/// Waking an account's operations makes its pending, unleased operations
/// that are due later due now, and nothing else.
pub async fn waking_an_account_makes_its_waiting_operations_due(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let parked = operation("event-1", "acct-1", 15);
    let mut leased = operation("event-2", "acct-1", 15);
    (leased.lease_owner, leased.lease_until) = (Some("someone".to_owned()), Some(at(20)));
    let already_due = operation("event-3", "acct-1", -5);
    let mut done = operation("event-4", "acct-1", 15);
    done.status = OperationStatus::Failed;
    let other_account = operation("event-1", "acct-2", 15);
    let all = [&parked, &leased, &already_due, &done, &other_account];
    store
        .insert_operations(&all.map(Clone::clone))
        .await
        .expect("insert");

    let woken = store
        .wake_operations_of_account(&AccountId::from("acct-1"), at(0))
        .await
        .expect("wake");
    assert_eq!(woken, 1, "only the parked operation changes");
    let read = |op: &Operation| {
        let store = store.clone();
        let id = op.id.clone();
        async move { store.get_operation(&id).await.expect("read").expect("kept") }
    };
    assert_eq!(read(&parked).await.next_attempt_at, at(0));
    assert_eq!(
        read(&leased).await,
        leased,
        "a leased operation is left alone"
    );
    assert_eq!(read(&already_due).await, already_due);
    assert_eq!(read(&done).await, done);
    assert_eq!(read(&other_account).await, other_account);
    let claimed = store
        .claim_due_operations(at(0), "me", at(5), 10)
        .await
        .expect("claim");
    assert_eq!(ids(&claimed), ids(&[already_due, parked]));
}
