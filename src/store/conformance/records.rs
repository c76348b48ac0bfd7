//! Cases on accounts and conflicts, and on how stores are opened: prefixes
//! and reopening.

use super::{StoreMaker, account, at, base_event, conflict, fresh, operation, reference};
use crate::model::{
    AccountError, AccountId, AccountRecord, DraftId, EventId, Provider, SyncStatus, UserId,
};
use crate::store::{StoreError, StoreResult};

fn assert_already_exists<T: std::fmt::Debug>(result: StoreResult<T>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::AlreadyExists(_))),
        "{what}: expected AlreadyExists, got {result:?}"
    );
}

fn assert_not_found<T: std::fmt::Debug>(result: StoreResult<T>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::NotFound(_))),
        "{what}: expected NotFound, got {result:?}"
    );
}

/// An inserted account reads back equal, credentials included; an update
/// replaces it whole, and can wipe the credentials.
pub async fn accounts_round_trip(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    store.ping().await.expect("a fresh store answers");
    let mut record = account("user-1", "acct-1", 0);
    record.account.error = None;
    store.insert_account(&record).await.expect("insert");
    let read = store.get_account(&record.account.id).await.expect("get");
    assert_eq!(read.as_ref(), Some(&record));

    record.account.sync_status = SyncStatus::Disconnected;
    record.account.last_sync = Some(at(30));
    record.sealed_credentials = None;
    store.update_account(&record).await.expect("update");
    let read = store.get_account(&record.account.id).await.expect("get");
    assert_eq!(read, Some(record.clone()));

    let absent = store.get_account(&AccountId::from("nobody")).await;
    assert!(matches!(absent, Ok(None)), "unknown account: {absent:?}");
}

/// A taken id is `AlreadyExists` and the first record stays; updating an
/// unknown account is `NotFound` and creates nothing.
pub async fn account_errors_change_nothing(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let first = account("user-1", "acct-1", 0);
    store.insert_account(&first).await.expect("insert");
    let mut second = account("user-2", "acct-1", 5);
    second.account.provider = Provider::Apple;
    assert_already_exists(store.insert_account(&second).await, "same id");
    let read = store.get_account(&first.account.id).await.expect("get");
    assert_eq!(read, Some(first));
    let others = store.accounts_of_user(&UserId::from("user-2")).await;
    assert!(matches!(others.as_deref(), Ok([])), "{others:?}");

    let ghost = account("user-1", "acct-ghost", 0);
    assert_not_found(store.update_account(&ghost).await, "update unknown");
    let read = store.get_account(&ghost.account.id).await.expect("get");
    assert_eq!(read, None);
}

/// `accounts_of_user` answers that user's accounts only, oldest first.
pub async fn accounts_of_user_are_that_users_only(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let newest = account("user-1", "acct-a", 20);
    let oldest = account("user-1", "acct-b", 0);
    let other = account("user-2", "acct-c", 10);
    for record in [&newest, &other, &oldest] {
        store.insert_account(record).await.expect("insert");
    }
    let mine = store
        .accounts_of_user(&UserId::from("user-1"))
        .await
        .expect("accounts");
    assert_eq!(mine, vec![oldest, newest]);
    let theirs = store
        .accounts_of_user(&UserId::from("user-2"))
        .await
        .expect("accounts");
    assert_eq!(theirs, vec![other]);
    let nobody = store
        .accounts_of_user(&UserId::from("user-3"))
        .await
        .expect("accounts");
    assert!(nobody.is_empty());
}

/// `accounts_in_error` answers every user's accounts in error, oldest first,
/// and follows status changes.
pub async fn accounts_in_error_are_found_across_users(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let in_error = |mut record: AccountRecord, outage: bool| {
        record.account.sync_status = SyncStatus::Error;
        record.account.error = Some(AccountError {
            reason: "outage: 503".to_owned(),
            at: at(30),
            outage,
        });
        record
    };
    let late = in_error(account("user-1", "acct-a", 20), true);
    let early = in_error(account("user-2", "acct-b", 0), false);
    let fine = account("user-1", "acct-c", 10);
    let mut gone = account("user-3", "acct-d", 5);
    gone.account.sync_status = SyncStatus::Disconnected;
    for record in [&late, &fine, &early, &gone] {
        store.insert_account(record).await.expect("insert");
    }
    let found = store.accounts_in_error().await.expect("accounts");
    assert_eq!(found, vec![early.clone(), late.clone()]);
    let mut back = late;
    back.account.sync_status = SyncStatus::Connected;
    back.account.error = None;
    store.update_account(&back).await.expect("update");
    let found = store.accounts_in_error().await.expect("accounts");
    assert_eq!(found, vec![early]);
}

/// Replacing a draft's conflicts touches that (user, draft) only; an empty
/// replacement clears it.
pub async fn conflicts_replace_per_draft(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let (user, other_user) = (UserId::from("user-1"), UserId::from("user-2"));
    let (draft, other_draft) = (DraftId::from("draft-1"), DraftId::from("draft-2"));
    let first = vec![
        conflict("user-1", "draft-1", "a"),
        conflict("user-1", "draft-1", "b"),
    ];
    let beside = vec![conflict("user-1", "draft-2", "c")];
    let elsewhere = vec![conflict("user-2", "draft-1", "d")];
    store
        .replace_conflicts(&user, &draft, &first)
        .await
        .expect("replace");
    store
        .replace_conflicts(&user, &other_draft, &beside)
        .await
        .expect("replace");
    store
        .replace_conflicts(&other_user, &draft, &elsewhere)
        .await
        .expect("replace");
    let read = store.conflicts_of_draft(&user, &draft).await.expect("read");
    assert_eq!(read, first);

    let second = vec![conflict("user-1", "draft-1", "e")];
    store
        .replace_conflicts(&user, &draft, &second)
        .await
        .expect("replace");
    assert_eq!(
        store.conflicts_of_draft(&user, &draft).await.expect("read"),
        second
    );
    assert_eq!(
        store
            .conflicts_of_draft(&user, &other_draft)
            .await
            .expect("read"),
        beside
    );
    assert_eq!(
        store
            .conflicts_of_draft(&other_user, &draft)
            .await
            .expect("read"),
        elsewhere
    );

    store
        .replace_conflicts(&user, &draft, &[])
        .await
        .expect("clear");
    assert!(
        store
            .conflicts_of_draft(&user, &draft)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .conflicts_of_draft(&user, &other_draft)
            .await
            .expect("read"),
        beside
    );
}

/// Two prefixes in one place never see each other's records, and may reuse
/// the same ids.
pub async fn prefixes_are_isolated(maker: &dyn StoreMaker) {
    let (first, place) = fresh(maker).await;
    let second = maker.open(&place, "Other_prefix-2.").await.expect("open");
    assert_eq!(second.prefix(), "Other_prefix-2.");
    let user = UserId::from("user-1");
    let record = account("user-1", "acct-1", 0);
    let event = base_event("user-1", "event-1");
    let draft = DraftId::from("draft-1");
    let due = operation("event-1", "acct-1", -1);
    first.insert_account(&record).await.expect("insert");
    let attached = reference(Provider::Google, "g1");
    first
        .attach_provider_event(&event, &record.account.id, &attached, at(1))
        .await
        .expect("attach");
    first
        .replace_conflicts(&user, &draft, &[conflict("user-1", "draft-1", "a")])
        .await
        .expect("conflicts");
    first
        .insert_operations(std::slice::from_ref(&due))
        .await
        .expect("operations");

    assert_eq!(
        second.get_account(&record.account.id).await.expect("get"),
        None
    );
    assert!(
        second
            .accounts_of_user(&user)
            .await
            .expect("accounts")
            .is_empty()
    );
    assert_eq!(
        second
            .get_synced_event(&event.internal_id)
            .await
            .expect("get"),
        None
    );
    assert!(
        second
            .synced_events_of_user(&user)
            .await
            .expect("events")
            .is_empty()
    );
    assert!(
        second
            .conflicts_of_draft(&user, &draft)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(second.get_operation(&due.id).await.expect("get"), None);
    let claimed = second.claim_due_operations(at(0), "other", at(5), 10).await;
    assert!(matches!(claimed.as_deref(), Ok([])), "{claimed:?}");
    let set = second
        .set_event_details(&event.internal_id, &event.event, at(2))
        .await;
    assert!(matches!(set, Ok(None)), "{set:?}");

    // The same ids are free under the other prefix, and stay apart.
    let mut twin = account("user-1", "acct-1", 3);
    twin.account.provider = Provider::Outlook;
    second
        .insert_account(&twin)
        .await
        .expect("same id, other prefix");
    second
        .insert_operations(std::slice::from_ref(&due))
        .await
        .expect("same id, other prefix");
    let read = first.get_account(&record.account.id).await.expect("get");
    assert_eq!(read, Some(record));
    assert_eq!(
        second.get_account(&twin.account.id).await.expect("get"),
        Some(twin)
    );
    let account_id = AccountId::from("acct-1");
    let remains = second
        .detach_provider_event(&event.internal_id, &account_id, at(4))
        .await;
    assert!(matches!(remains, Ok(false)), "{remains:?}");
    let kept = first
        .get_synced_event(&event.internal_id)
        .await
        .expect("get");
    assert!(
        kept.is_some(),
        "a detach under another prefix removed the event"
    );
}

/// A store opened again on the same place finds what was written before.
pub async fn reopened_store_keeps_its_data(maker: &dyn StoreMaker) {
    let (store, place) = fresh(maker).await;
    let prefix = store.prefix().to_owned();
    let record = account("user-1", "acct-1", 0);
    let event = base_event("user-1", "event-1");
    let due = operation("event-1", "acct-1", 0);
    store.insert_account(&record).await.expect("insert");
    let attached = reference(Provider::Google, "g1");
    store
        .attach_provider_event(&event, &record.account.id, &attached, at(1))
        .await
        .expect("attach");
    store
        .insert_operations(std::slice::from_ref(&due))
        .await
        .expect("operations");
    drop(store);

    let reopened = maker.open(&place, &prefix).await.expect("reopen");
    assert_eq!(
        reopened.get_account(&record.account.id).await.expect("get"),
        Some(record)
    );
    let synced = reopened
        .get_synced_event(&event.internal_id)
        .await
        .expect("get");
    let synced = synced.expect("the synced event survives reopening");
    assert_eq!(
        synced.provider_ids.get(&AccountId::from("acct-1")),
        Some(&attached)
    );
    assert_eq!(
        reopened.get_operation(&due.id).await.expect("get"),
        Some(due)
    );
    let unknown = reopened.get_synced_event(&EventId::from("event-2")).await;
    assert!(matches!(unknown, Ok(None)));
}

/// A prefix with characters outside letters, digits, `.`, `_`, `-` is refused
/// with a configuration error naming the prefix.
pub async fn invalid_prefix_is_refused(maker: &dyn StoreMaker) {
    let place = super::new_place();
    for bad in ["Calendar Sync.", "x\";DROP", "a$b", "ünï.", "a/b"] {
        match maker.open(&place, bad).await {
            Err(StoreError::InvalidConfiguration(message)) => {
                assert!(message.contains("prefix"), "{message}");
            }
            Err(other) => panic!("prefix {bad:?}: expected InvalidConfiguration, got {other:?}"),
            Ok(_) => panic!("prefix {bad:?} was accepted"),
        }
    }
    let long = "p".repeat(crate::store::MAX_PREFIX_LEN + 1);
    let result = maker.open(&place, &long).await;
    assert!(matches!(result, Err(StoreError::InvalidConfiguration(_))));
    for good in ["", "CalendarSync.", "tenant_7-prod."] {
        let store = maker
            .open(&place, good)
            .await
            .expect("a valid prefix opens");
        assert_eq!(store.prefix(), good);
    }
}

/// `erase_user` removes the user's accounts, synced events, conflicts,
/// operations and idempotency keys, and nothing of another user.
pub async fn erase_user_removes_that_users_data_only(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let (gone, kept) = (UserId::from("user-gone"), UserId::from("user-kept"));
    let mut records = Vec::new();
    for (user, id) in [(&gone, "acct-g1"), (&gone, "acct-g2"), (&kept, "acct-k")] {
        let record = account(user.as_str(), id, 0);
        store.insert_account(&record).await.expect("account");
        records.push(record);
    }
    for (user, id, account) in [(&gone, "event-g", "acct-g1"), (&kept, "event-k", "acct-k")] {
        let base = base_event(user.as_str(), id);
        store
            .attach_provider_event(
                &base,
                &AccountId::from(account),
                &reference(Provider::Google, id),
                at(1),
            )
            .await
            .expect("event");
        let mut op = operation(id, account, 0);
        op.user = user.clone();
        store.insert_operations(&[op]).await.expect("operation");
        store
            .replace_conflicts(
                user,
                &DraftId::from("draft-1"),
                &[conflict(user.as_str(), "draft-1", "Clash")],
            )
            .await
            .expect("conflicts");
        let record = crate::store::IdempotencyRecord {
            scope: format!("scope-{user}"),
            user: user.clone(),
            key: "key-1".to_owned(),
            request: "commit".to_owned(),
            body_hash: "body".to_owned(),
            state: crate::store::IdempotencyState::Running,
            event: None,
            operations: Vec::new(),
            answer: None,
            running_until: at(1),
            created_at: at(0),
            expires_at: at(60),
        };
        let claimed = store.claim_idempotency_key(&record, at(0)).await;
        assert!(matches!(claimed, Ok(None)), "{claimed:?}");
    }

    let erased = store.erase_user(&gone).await.expect("erase");
    assert_eq!(
        (
            erased.accounts,
            erased.synced_events,
            erased.operations,
            erased.idempotency_keys
        ),
        (2, 1, 1, 1)
    );
    assert!(erased.conflicts >= 1, "{erased:?}");
    assert!(
        store
            .accounts_of_user(&gone)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .synced_events_of_user(&gone)
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .operations_of_event(&EventId::from("event-g"))
            .await
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .conflicts_of_draft(&gone, &DraftId::from("draft-1"))
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .get_idempotency_key("scope-user-gone", "key-1")
            .await
            .expect("read"),
        None
    );

    assert_eq!(store.accounts_of_user(&kept).await.expect("read").len(), 1);
    assert_eq!(
        store
            .synced_events_of_user(&kept)
            .await
            .expect("read")
            .len(),
        1
    );
    assert_eq!(
        store
            .operations_of_event(&EventId::from("event-k"))
            .await
            .expect("read")
            .len(),
        1
    );
    assert_eq!(
        store
            .conflicts_of_draft(&kept, &DraftId::from("draft-1"))
            .await
            .expect("read")
            .len(),
        1
    );
    assert!(
        store
            .get_idempotency_key("scope-user-kept", "key-1")
            .await
            .expect("read")
            .is_some()
    );
    let again = store.erase_user(&gone).await.expect("erase again");
    assert_eq!(again, crate::store::Erased::default());
}
