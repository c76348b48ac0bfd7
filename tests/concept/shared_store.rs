//! Several processes, one store: operations a dead instance left pending are
//! taken up by two live instances at once, and each is done exactly once.

use super::support::*;
use calsync::model::{OperationId, Provider};
use calsync::operations::{Operation, OperationStatus};
use calsync::providers::sandbox::FaultKind;
use std::collections::BTreeSet;

on_every_store!(two_instances_resuming_at_once_do_each_pending_operation_exactly_once);

/// Commits cut off together, each leaving a create on both accounts pending.
const COMMITS: u32 = 8;

async fn two_instances_resuming_at_once_do_each_pending_operation_exactly_once(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    // Every create reaches its provider and never answers; then the instance dies.
    for provider in [Provider::Google, Provider::Outlook] {
        h.provider(provider)
            .fail_next(COMMITS, FaultKind::HangAfterApply);
    }
    let both = [google.id.clone(), outlook.id.clone()];
    let events: Vec<_> = (0..COMMITS)
        .map(|n| {
            let start = tuesday(9) + chrono::Duration::minutes(30 * i64::from(n));
            event(&format!("Stand-up {n}"), start, 15)
        })
        .collect();
    let commits = futures::future::join_all(events.iter().map(|e| h.sync.commit(&ada, e, &both)));
    let hanging = async {
        for provider in [Provider::Google, Provider::Outlook] {
            h.provider(provider).until_waiting(events.len()).await;
        }
    };
    tokio::select! {
        answers = commits => panic!("the commits answered while every create hangs: {answers:?}"),
        () = hanging => {}
    }
    h.sync.shutdown();
    let expected = usize::try_from(COMMITS).expect("a small count");
    assert_eq!(
        h.events_on(&google).len(),
        expected,
        "every create reached Google"
    );
    assert_eq!(
        h.events_on(&outlook).len(),
        expected,
        "every create reached Outlook"
    );

    // Two instances, each with its own connection to the store, as two processes.
    let first = h.instance(h.backend.open().await);
    let second = h.instance(h.backend.open().await);
    h.clock.advance(chrono::Duration::minutes(5));
    let (by_first, by_second) = tokio::join!(first.resume_operations(), second.resume_operations());
    let by_first = by_first.expect("the first instance resumes");
    let by_second = by_second.expect("the second instance resumes");

    let ids = |done: &[Operation]| -> BTreeSet<OperationId> {
        done.iter().map(|op| op.id.clone()).collect()
    };
    let (first_ids, second_ids) = (ids(&by_first), ids(&by_second));
    assert_eq!(
        first_ids.len(),
        by_first.len(),
        "no operation twice in one instance"
    );
    assert_eq!(
        second_ids.len(),
        by_second.len(),
        "no operation twice in one instance"
    );
    assert!(
        first_ids.is_disjoint(&second_ids),
        "no operation done by both: {:?}",
        first_ids.intersection(&second_ids).collect::<Vec<_>>()
    );
    assert_eq!(
        first_ids.len() + second_ids.len(),
        2 * expected,
        "every operation was done"
    );
    assert!(
        by_first
            .iter()
            .chain(&by_second)
            .all(|op| op.status == OperationStatus::Succeeded),
        "{by_first:#?} {by_second:#?}"
    );

    for provider in [Provider::Google, Provider::Outlook] {
        assert_eq!(
            h.provider(provider).counts().creates,
            COMMITS,
            "no repeated create on {provider}"
        );
    }
    assert_eq!(
        h.events_on(&google).len(),
        expected,
        "one event per commit on Google"
    );
    assert_eq!(
        h.events_on(&outlook).len(),
        expected,
        "one event per commit on Outlook"
    );
    let synced = h.store.synced_events_of_user(&ada).await.expect("events");
    assert_eq!(synced.len(), expected, "one synced event per commit");
    for event in &synced {
        assert_eq!(event.accounts.len(), 2, "{event:#?}");
        for (account, on) in [(&google, &google.id), (&outlook, &outlook.id)] {
            let id = &event.provider_ids[on].event_id;
            assert_eq!(
                h.events_on(account)
                    .iter()
                    .filter(|e| &e.event.event_id == id)
                    .count(),
                1,
                "the recorded id names the one event on {}",
                account.provider
            );
        }
    }
    h.assert_invariants(&[&ada]).await;

    h.clock.advance(chrono::Duration::minutes(5));
    assert!(first.resume_operations().await.expect("resume").is_empty());
    assert!(second.resume_operations().await.expect("resume").is_empty());
}
