//! Cases on synced events: attach and detach keep the spec's invariants,
//! also when many tasks change one event at once.

use super::{StoreMaker, at, base_event, details, fresh, reference};
use crate::model::{AccountId, EventId, Provider, SyncedEvent, UserId};
use crate::store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;

async fn read(store: &dyn Store, id: &EventId) -> Option<SyncedEvent> {
    store.get_synced_event(id).await.expect("get synced event")
}

fn assert_invariants(event: &SyncedEvent) {
    assert!(
        event.invariants_hold(),
        "providerIds must be non-empty with keys equal to accounts: {event:?}"
    );
}

/// The first attach creates the synced event from the base (without the
/// base's accounts); later attaches add or replace one account's reference;
/// detaching the last account removes the event.
pub async fn attach_creates_and_detach_removes(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let base = base_event("user-1", "event-1");
    let id = base.internal_id.clone();
    let (google, outlook) = (AccountId::from("acct-g"), AccountId::from("acct-o"));
    let first = reference(Provider::Google, "g1");
    store
        .attach_provider_event(&base, &google, &first, at(1))
        .await
        .expect("attach");
    let event = read(&*store, &id)
        .await
        .expect("the first attach creates the event");
    assert_invariants(&event);
    assert_eq!(event.accounts, BTreeSet::from([google.clone()]));
    assert_eq!(event.provider_ids.get(&google), Some(&first));
    assert_eq!((event.synced_at, &event.user), (at(1), &base.user));
    assert_eq!(event.event, base.event);

    let mut later_base = base.clone();
    later_base.event = details("Renamed base is not applied to an existing event");
    let second = reference(Provider::Outlook, "AAMkAG-o1");
    store
        .attach_provider_event(&later_base, &outlook, &second, at(2))
        .await
        .expect("attach");
    let replaced = reference(Provider::Google, "g1-again");
    store
        .attach_provider_event(&base, &google, &replaced, at(3))
        .await
        .expect("attach");
    let event = read(&*store, &id).await.expect("event");
    assert_invariants(&event);
    assert_eq!(
        event.accounts,
        BTreeSet::from([google.clone(), outlook.clone()])
    );
    assert_eq!(event.provider_ids.get(&google), Some(&replaced));
    assert_eq!(event.provider_ids.get(&outlook), Some(&second));
    assert_eq!((event.synced_at, &event.event), (at(3), &base.event));
    let mine = store
        .synced_events_of_user(&base.user)
        .await
        .expect("events");
    assert_eq!(mine, vec![event]);
    let theirs = store.synced_events_of_user(&UserId::from("user-2")).await;
    assert!(matches!(theirs.as_deref(), Ok([])), "{theirs:?}");

    let remains = store
        .detach_provider_event(&id, &google, at(4))
        .await
        .expect("detach");
    assert!(remains, "one account is left");
    let event = read(&*store, &id).await.expect("event");
    assert_invariants(&event);
    assert_eq!(event.accounts, BTreeSet::from([outlook.clone()]));
    assert_eq!(event.synced_at, at(4));

    let remains = store
        .detach_provider_event(&id, &outlook, at(5))
        .await
        .expect("detach");
    assert!(!remains, "no account is left");
    assert_eq!(read(&*store, &id).await, None);
    assert!(
        store
            .synced_events_of_user(&base.user)
            .await
            .expect("events")
            .is_empty()
    );
    let again = store
        .detach_provider_event(&id, &outlook, at(6))
        .await
        .expect("detach");
    assert!(!again, "detaching from a missing event answers false");
    assert_eq!(read(&*store, &id).await, None, "a detach creates nothing");
}

/// `set_event_details` replaces the snapshot and `syncedAt` of an existing
/// event only, adds one to its version, and answers the new version (none
/// for a missing event).
pub async fn set_event_details_replaces_the_snapshot(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let base = base_event("user-1", "event-1");
    let account = AccountId::from("acct-1");
    let attached = reference(Provider::Apple, "uid-1.ics");
    store
        .attach_provider_event(&base, &account, &attached, at(1))
        .await
        .expect("attach");
    let mut new_details = details("Moved");
    new_details.location = Some("Room 4".to_owned());
    let set = store
        .set_event_details(&base.internal_id, &new_details, at(2))
        .await;
    assert!(matches!(set, Ok(Some(2))), "{set:?}");
    let event = read(&*store, &base.internal_id).await.expect("event");
    assert_eq!((&event.event, event.synced_at), (&new_details, at(2)));
    assert_eq!(event.version, 2);
    assert_eq!(event.provider_ids.get(&account), Some(&attached));
    let again = store
        .set_event_details(&base.internal_id, &details("Again"), at(3))
        .await;
    assert!(matches!(again, Ok(Some(3))), "{again:?}");

    let missing = EventId::from("event-missing");
    let set = store.set_event_details(&missing, &new_details, at(3)).await;
    assert!(matches!(set, Ok(None)), "{set:?}");
    assert_eq!(read(&*store, &missing).await, None);
}

const TASKS: usize = 24;

fn account_of(task: usize) -> AccountId {
    AccountId::from(format!("acct-{task:02}").as_str())
}

async fn attach_all(store: &Arc<dyn Store>, base: &SyncedEvent) {
    let attaches = (0..TASKS).map(|task| {
        let (store, base) = (store.clone(), base.clone());
        tokio::spawn(async move {
            let attached = reference(Provider::Google, &format!("g{task}"));
            store
                .attach_provider_event(&base, &account_of(task), &attached, at(1))
                .await
        })
    });
    for outcome in futures::future::join_all(attaches).await {
        outcome.expect("attach task").expect("attach");
    }
}

/// Attaches of many accounts to one event from many tasks at once all land.
pub async fn concurrent_attaches_lose_nothing(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let base = base_event("user-1", "event-1");
    attach_all(&store, &base).await;
    let event = read(&*store, &base.internal_id).await.expect("event");
    assert_invariants(&event);
    let expected: BTreeSet<AccountId> = (0..TASKS).map(account_of).collect();
    assert_eq!(event.accounts, expected);
    for task in 0..TASKS {
        let got = event
            .provider_ids
            .get(&account_of(task))
            .map(|r| r.event_id.as_str());
        assert_eq!(got, Some(format!("g{task}").as_str()));
    }
}

/// Detaches of every account at once, racing with attaches of new ones,
/// leave exactly the new accounts; detaching those at once removes the event.
pub async fn concurrent_detaches_leave_nothing_behind(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let base = base_event("user-1", "event-1");
    attach_all(&store, &base).await;
    let id = base.internal_id.clone();
    let detaches = (0..TASKS).map(|task| {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move {
            store
                .detach_provider_event(&id, &account_of(task), at(2))
                .await
        })
    });
    let newcomers = (TASKS..TASKS + 4).map(|task| {
        let (store, base) = (store.clone(), base.clone());
        tokio::spawn(async move {
            let attached = reference(Provider::Zoom, &format!("8{task}"));
            store
                .attach_provider_event(&base, &account_of(task), &attached, at(2))
                .await
        })
    });
    let (detached, attached) = futures::future::join(
        futures::future::join_all(detaches),
        futures::future::join_all(newcomers),
    )
    .await;
    for outcome in detached {
        outcome.expect("detach task").expect("detach");
    }
    for outcome in attached {
        outcome.expect("attach task").expect("attach");
    }
    let event = read(&*store, &id)
        .await
        .expect("the newcomers keep the event");
    assert_invariants(&event);
    let expected: BTreeSet<AccountId> = (TASKS..TASKS + 4).map(account_of).collect();
    assert_eq!(event.accounts, expected);

    let last = (TASKS..TASKS + 4).map(|task| {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move {
            store
                .detach_provider_event(&id, &account_of(task), at(3))
                .await
        })
    });
    let mut remaining = 0;
    for outcome in futures::future::join_all(last).await {
        remaining += usize::from(outcome.expect("detach task").expect("detach"));
    }
    assert_eq!(read(&*store, &id).await, None, "every account is detached");
    assert_eq!(
        remaining, 3,
        "exactly the last detach answers that nothing remains"
    );
}
