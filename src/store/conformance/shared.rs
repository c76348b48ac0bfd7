//! Cases on shared records: versions written in order, one winner of two
//! writers of one version, and a counter that two stores on one place
//! increment together without losing a step.

use super::{StoreMaker, at, fresh};
use crate::store::SharedRecord;
use serde_json::json;
use std::sync::Arc;

/// A first version is written once; a later one only over the version it
/// names; a stale or skipping write changes nothing; names are apart.
pub async fn shared_records_are_written_version_by_version(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    assert_eq!(store.get_shared("token").await.expect("read"), None);
    let first = SharedRecord::first("token", json!({"access": "a1"}), at(0));
    assert!(store.put_shared(&first).await.expect("write v1"));
    assert!(
        !store
            .put_shared(&SharedRecord::first(
                "token",
                json!({"access": "b1"}),
                at(0)
            ))
            .await
            .expect("second v1"),
        "a second first version loses"
    );
    assert_eq!(
        store.get_shared("token").await.expect("read"),
        Some(first.clone())
    );
    let second = first.next(json!({"access": "a2"}), at(1));
    assert!(store.put_shared(&second).await.expect("write v2"));
    assert!(
        !store
            .put_shared(&first.next(json!({"access": "stale"}), at(1)))
            .await
            .expect("stale v2"),
        "a write over a version already replaced loses"
    );
    let skipping = SharedRecord {
        version: 4,
        ..second.next(json!({"access": "skip"}), at(2))
    };
    assert!(!store.put_shared(&skipping).await.expect("v4 over v2"));
    assert_eq!(store.get_shared("token").await.expect("read"), Some(second));
    assert_eq!(store.get_shared("other").await.expect("read"), None);
}

/// Two stores on one place increment one counter 40 times between them,
/// each reading again when its write loses: the counter ends at 40.
pub async fn concurrent_shared_writes_lose_no_step(maker: &dyn StoreMaker) {
    let (first, place) = fresh(maker).await;
    let second = maker
        .open(&place, crate::store::DEFAULT_PREFIX)
        .await
        .expect("a second store on the same place");
    let steps = (0..40).map(|n| {
        let store = if n % 2 == 0 {
            Arc::clone(&first)
        } else {
            Arc::clone(&second)
        };
        tokio::spawn(async move {
            loop {
                let current = store.get_shared("count").await.expect("read");
                let next = match &current {
                    Some(record) => {
                        let count = record.value.as_u64().expect("a count");
                        record.next(json!(count + 1), at(0))
                    }
                    None => SharedRecord::first("count", json!(1), at(0)),
                };
                if store.put_shared(&next).await.expect("write") {
                    return;
                }
            }
        })
    });
    for step in futures::future::join_all(steps).await {
        step.expect("task");
    }
    let counted = first.get_shared("count").await.expect("read").expect("set");
    assert_eq!(counted.value, json!(40));
    assert_eq!(counted.version, 40);
}
