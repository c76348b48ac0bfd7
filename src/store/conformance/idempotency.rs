//! Cases on idempotency keys: one holder per scope and key, expiry and
//! purge, and the takeover of a call that stopped without finishing.

use super::{StoreMaker, at, fresh};
use crate::model::{AccountId, EventId, OperationId, SyncOutcome, SyncResult, SyncResultStatus};
use crate::store::{IdempotencyRecord, IdempotencyState, StoreError};
use std::sync::Arc;

/// A running record of `key` in `scope`, made at `at(0)`, running until
/// `at(1)` and expiring at `at(60)`.
fn running(scope: &str, key: &str, body_hash: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: scope.to_owned(),
        user: crate::model::UserId::from("user-1"),
        key: key.to_owned(),
        request: "update event-1".to_owned(),
        body_hash: body_hash.to_owned(),
        state: IdempotencyState::Running,
        event: None,
        operations: Vec::new(),
        answer: None,
        running_until: at(1),
        created_at: at(0),
        expires_at: at(60),
    }
}

/// `record` done, with an answer and two operations.
fn done(mut record: IdempotencyRecord) -> IdempotencyRecord {
    let event = super::base_event("user-1", "event-1");
    let account = AccountId::from("acct-1");
    let result = SyncResult {
        status: SyncResultStatus::Pending,
        reason: Some("in progress".to_owned()),
        event_id: None,
    };
    record.state = IdempotencyState::Done;
    record.event = Some(EventId::from("event-1"));
    record.operations = vec![OperationId::fresh(), OperationId::fresh()];
    record.answer = Some(SyncOutcome {
        synced_event: event,
        results: [(account, result)].into(),
        stored: true,
    });
    record
}

/// The first claim of a key holds it; a later claim is answered the holder
/// (running, then done) and changes nothing; other scopes and keys are
/// apart; a removed key can be claimed again; updating a missing record is
/// `NotFound`.
pub async fn idempotency_keys_are_held_once(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let first = running("scope-a", "key-1", "body-1");
    let claimed = store.claim_idempotency_key(&first, at(0)).await;
    assert_eq!(claimed.expect("claim"), None, "a new key is claimed");
    let again = running("scope-a", "key-1", "body-2");
    let holder = store.claim_idempotency_key(&again, at(0)).await;
    assert_eq!(holder.expect("claim"), Some(first.clone()));
    let read = store.get_idempotency_key("scope-a", "key-1").await;
    assert_eq!(read.expect("read"), Some(first.clone()), "unchanged");

    for (scope, key) in [("scope-b", "key-1"), ("scope-a", "key-2")] {
        let other = running(scope, key, "body-1");
        let claimed = store.claim_idempotency_key(&other, at(0)).await;
        assert_eq!(claimed.expect("claim"), None, "{scope} {key} is apart");
    }

    let finished = done(first.clone());
    store
        .update_idempotency_key(&finished)
        .await
        .expect("update");
    let read = store.get_idempotency_key("scope-a", "key-1").await;
    assert_eq!(read.expect("read"), Some(finished.clone()));
    let holder = store.claim_idempotency_key(&first, at(30)).await;
    assert_eq!(holder.expect("claim"), Some(finished), "done is kept");

    store
        .remove_idempotency_key("scope-a", "key-1")
        .await
        .expect("remove");
    let read = store.get_idempotency_key("scope-a", "key-1").await;
    assert_eq!(read.expect("read"), None);
    store
        .remove_idempotency_key("scope-a", "key-1")
        .await
        .expect("removing a missing key is no error");
    let claimed = store.claim_idempotency_key(&again, at(0)).await;
    assert_eq!(claimed.expect("claim"), None, "a removed key is free");

    let missing = running("scope-c", "key-9", "body-1");
    assert!(matches!(
        store.update_idempotency_key(&missing).await,
        Err(StoreError::NotFound(_))
    ));
}

/// A key is forgotten when it expires: a claim replaces it then (whatever
/// its body or state), and a purge removes every expired record and no
/// other.
pub async fn idempotency_keys_expire_and_are_purged(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let first = done(running("scope-a", "key-1", "body-1"));
    store
        .claim_idempotency_key(&running("scope-a", "key-1", "body-1"), at(0))
        .await
        .expect("claim");
    store.update_idempotency_key(&first).await.expect("update");
    let mut later = running("scope-a", "key-1", "body-2");
    later.created_at = at(60);
    later.expires_at = at(120);
    let holder = store.claim_idempotency_key(&later, at(59)).await;
    assert_eq!(holder.expect("claim"), Some(first), "not yet expired");
    let claimed = store.claim_idempotency_key(&later, at(60)).await;
    assert_eq!(claimed.expect("claim"), None, "expired: acts as new");
    let read = store.get_idempotency_key("scope-a", "key-1").await;
    assert_eq!(read.expect("read"), Some(later.clone()));

    for (key, expires) in [("key-2", 30), ("key-3", 90), ("key-4", 200)] {
        let mut record = running("scope-b", key, "body-1");
        record.expires_at = at(expires);
        store
            .claim_idempotency_key(&record, at(0))
            .await
            .expect("claim");
    }
    let purged = store.purge_idempotency_keys(at(90)).await.expect("purge");
    assert_eq!(purged, 2, "key-2 and key-3 expired by then");
    for (scope, key, kept) in [
        ("scope-a", "key-1", true),
        ("scope-b", "key-2", false),
        ("scope-b", "key-3", false),
        ("scope-b", "key-4", true),
    ] {
        let read = store.get_idempotency_key(scope, key).await.expect("read");
        assert_eq!(read.is_some(), kept, "{scope} {key}");
    }
    assert_eq!(
        store.purge_idempotency_keys(at(90)).await.expect("purge"),
        0
    );
}

/// A running record past its `running_until` yields to a claim of the same
/// request and body (its call stopped without finishing), never to another
/// request, and never before that instant.
pub async fn stopped_calls_are_taken_over_by_the_same_request(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let first = running("scope-a", "key-1", "body-1");
    store
        .claim_idempotency_key(&first, at(0))
        .await
        .expect("claim");
    let mut retry = running("scope-a", "key-1", "body-1");
    retry.created_at = at(2);
    retry.running_until = at(3);
    let holder = store.claim_idempotency_key(&retry, at(0)).await;
    assert_eq!(holder.expect("claim"), Some(first.clone()), "still running");
    let mut other = retry.clone();
    other.body_hash = "body-2".to_owned();
    let holder = store.claim_idempotency_key(&other, at(2)).await;
    assert_eq!(holder.expect("claim"), Some(first.clone()), "another body");
    let mut elsewhere = retry.clone();
    elsewhere.request = "cancel event-1".to_owned();
    let holder = store.claim_idempotency_key(&elsewhere, at(2)).await;
    assert_eq!(holder.expect("claim"), Some(first), "another request");
    let claimed = store.claim_idempotency_key(&retry, at(2)).await;
    assert_eq!(claimed.expect("claim"), None, "taken over");
    let read = store.get_idempotency_key("scope-a", "key-1").await;
    assert_eq!(read.expect("read"), Some(retry));
}

/// Many claims of one key at once, through two stores on one place: exactly
/// one holds it, and every other is answered the winner's record.
pub async fn concurrent_claims_of_one_key_have_one_winner(maker: &dyn StoreMaker) {
    let (first, place) = fresh(maker).await;
    let second = maker
        .open(&place, crate::store::DEFAULT_PREFIX)
        .await
        .expect("a second store on the same place");
    let claims = (0..16).map(|n| {
        let store = if n % 2 == 0 {
            Arc::clone(&first)
        } else {
            Arc::clone(&second)
        };
        let record = running("scope-a", "key-1", &format!("body-{n}"));
        tokio::spawn(async move {
            let answer = store.claim_idempotency_key(&record, at(0)).await;
            (record, answer.expect("claim"))
        })
    });
    let answers = futures::future::join_all(claims).await;
    let answers: Vec<_> = answers.into_iter().map(|a| a.expect("task")).collect();
    let winners: Vec<_> = answers
        .iter()
        .filter(|(_, holder)| holder.is_none())
        .map(|(record, _)| record.clone())
        .collect();
    assert_eq!(winners.len(), 1, "one claim holds the key");
    for (_, holder) in &answers {
        if let Some(holder) = holder {
            assert_eq!(holder, &winners[0], "the others see the winner");
        }
    }
    let read = first.get_idempotency_key("scope-a", "key-1").await;
    assert_eq!(read.expect("read").as_ref(), Some(&winners[0]));
}
