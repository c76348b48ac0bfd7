//! The [`Store`] methods on MongoDB, each made of single-document atomic
//! commands.

use super::documents::{
    CONFLICT_DATES, account_document, account_record, date, escape_key, operation,
    operation_document, set_reference, synced_event, to_bson, to_document,
};
use super::{MongoStore, map_error};
use crate::model::{
    AccountId, AccountRecord, Conflict, DraftId, EventDetails, EventId, OperationId,
    ProviderEventRef, SyncedEvent, UserId,
};
use crate::operations::Operation;
use crate::store::{EventChange, IdempotencyRecord, SharedRecord, Store, StoreError, StoreResult};
use async_trait::async_trait;
use bson::{Bson, Document, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::options::ReturnDocument;
use std::collections::BTreeSet;

async fn find_all(
    collection: &Collection<Document>,
    filter: Document,
    sort: Document,
    what: &str,
) -> StoreResult<Vec<Document>> {
    collection
        .find(filter)
        .sort(sort)
        .await
        .map_err(|e| map_error(e, what))?
        .try_collect()
        .await
        .map_err(|e| map_error(e, what))
}

/// The document of `collection` whose `_id` is `id`, if any; `what` names
/// the kind of record in the error.
async fn find_by_id(
    collection: &Collection<Document>,
    id: &str,
    what: &str,
) -> StoreResult<Option<Document>> {
    collection
        .find_one(doc! { "_id": id })
        .await
        .map_err(|e| map_error(e, &format!("read {what} {id}")))
}

/// Replaces the document of `collection` whose `_id` is `id`; `NotFound`
/// when there is none. `what` names the kind of record in the error.
async fn replace_by_id(
    collection: &Collection<Document>,
    id: &str,
    document: Document,
    what: &str,
) -> StoreResult<()> {
    let result = collection
        .replace_one(doc! { "_id": id }, document)
        .await
        .map_err(|e| map_error(e, &format!("update {what} {id}")))?;
    match result.matched_count {
        0 => Err(StoreError::NotFound(format!("{what} {id}"))),
        _ => Ok(()),
    }
}

impl MongoStore {
    /// The attach update; `AlreadyExists` when two first attaches raced to
    /// create the event (the caller then runs it again as an update).
    async fn attach_once(
        &self,
        base: &SyncedEvent,
        account: &AccountId,
        reference: &ProviderEventRef,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let event = to_bson(&base.event, "event details")?;
        let mut update = set_reference(account, reference, at)?;
        update.insert(
            "$setOnInsert",
            doc! {
                "user": base.user.as_str(),
                "event": event,
                "version": i64::try_from(base.version).unwrap_or(i64::MAX),
            },
        );
        self.synced_events
            .update_one(doc! { "_id": base.internal_id.as_str() }, update)
            .upsert(true)
            .await
            .map(drop)
            .map_err(|e| map_error(e, &format!("attach {account} to {}", base.internal_id)))
    }

    async fn replace_conflicts_once(
        &self,
        user: &UserId,
        draft: &DraftId,
        conflicts: &[Conflict],
    ) -> StoreResult<()> {
        let conflicts = conflicts
            .iter()
            .map(|conflict| to_document(conflict, None, CONFLICT_DATES, "conflict").map(Bson::from))
            .collect::<StoreResult<Vec<Bson>>>()?;
        let key = doc! { "user": user.as_str(), "draft": draft.as_str() };
        let mut replacement = key.clone();
        replacement.insert("conflicts", conflicts);
        self.conflicts
            .replace_one(key, replacement)
            .upsert(true)
            .await
            .map(drop)
            .map_err(|e| map_error(e, &format!("replace conflicts of draft {draft}")))
    }

    /// Removes the operations inserted before a batch failed, so that the
    /// batch leaves none behind.
    async fn undo_insert(&self, inserted: &[Operation]) -> StoreResult<()> {
        if inserted.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = inserted.iter().map(|op| op.id.as_str()).collect();
        self.operations
            .delete_many(doc! { "_id": { "$in": ids } })
            .await
            .map(drop)
            .map_err(|e| map_error(e, "remove a partly inserted batch of operations"))
    }
}

/// The index of the first operation the server refused in an ordered insert.
fn first_refused(error: &mongodb::error::Error) -> Option<usize> {
    match error.kind.as_ref() {
        mongodb::error::ErrorKind::InsertMany(insert) => insert
            .write_errors
            .iter()
            .flatten()
            .map(|write| write.index)
            .min(),
        _ => None,
    }
}

#[async_trait]
impl Store for MongoStore {
    fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn ping(&self) -> StoreResult<()> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(|e| map_error(e, "ping"))
    }

    async fn insert_account(&self, record: &AccountRecord) -> StoreResult<()> {
        let document = account_document(record)?;
        self.accounts
            .insert_one(document)
            .await
            .map(drop)
            .map_err(|e| map_error(e, &format!("insert account {}", record.account.id)))
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<AccountRecord>> {
        let found = find_by_id(&self.accounts, id.as_str(), "account").await?;
        found.map(account_record).transpose()
    }

    async fn accounts_of_user(&self, user: &UserId) -> StoreResult<Vec<AccountRecord>> {
        let filter = doc! { "user": user.as_str() };
        let sort = doc! { "connectedAt": 1, "_id": 1 };
        let documents = find_all(&self.accounts, filter, sort, "read accounts").await?;
        documents.into_iter().map(account_record).collect()
    }

    async fn erase_user(&self, user: &UserId) -> StoreResult<crate::store::Erased> {
        let filter = doc! { "user": user.as_str() };
        let doing = format!("erase user {user}");
        let erase = |collection: &Collection<Document>| {
            let (filter, doing) = (filter.clone(), doing.clone());
            let collection = collection.clone();
            async move {
                collection
                    .delete_many(filter)
                    .await
                    .map(|removed| removed.deleted_count)
                    .map_err(|e| map_error(e, &doing))
            }
        };
        // Accounts last: while any of the user's data remains, so does the
        // account that makes it theirs, so an erase cut short can be repeated.
        Ok(crate::store::Erased {
            synced_events: erase(&self.synced_events).await?,
            conflicts: erase(&self.conflicts).await?,
            operations: erase(&self.operations).await?,
            idempotency_keys: erase(&self.idempotency_keys).await?,
            accounts: erase(&self.accounts).await?,
        })
    }

    async fn accounts_in_error(&self) -> StoreResult<Vec<AccountRecord>> {
        let filter = doc! { "syncStatus": "error" };
        let sort = doc! { "connectedAt": 1, "_id": 1 };
        let documents = find_all(&self.accounts, filter, sort, "read accounts in error").await?;
        documents.into_iter().map(account_record).collect()
    }

    async fn update_account(&self, record: &AccountRecord) -> StoreResult<()> {
        let id = record.account.id.as_str();
        replace_by_id(&self.accounts, id, account_document(record)?, "account").await
    }

    async fn get_synced_event(&self, id: &EventId) -> StoreResult<Option<SyncedEvent>> {
        let found = find_by_id(&self.synced_events, id.as_str(), "synced event").await?;
        Ok(found.map(synced_event).transpose()?.flatten())
    }

    async fn synced_events_of_user(&self, user: &UserId) -> StoreResult<Vec<SyncedEvent>> {
        let filter = doc! { "user": user.as_str() };
        let documents = find_all(
            &self.synced_events,
            filter,
            doc! { "_id": 1 },
            "read synced events",
        )
        .await?;
        let events = documents.into_iter().map(synced_event);
        Ok(events
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    async fn attach_provider_event(
        &self,
        base: &SyncedEvent,
        account: &AccountId,
        reference: &ProviderEventRef,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        match self.attach_once(base, account, reference, at).await {
            // Two upserts creating the same event at once: one made it, so
            // the other's update now finds the event.
            Err(StoreError::AlreadyExists(_)) => {
                self.attach_once(base, account, reference, at).await
            }
            other => other,
        }
    }

    async fn detach_provider_event(
        &self,
        id: &EventId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let doing = format!("detach {account} from {id}");
        let update = doc! {
            "$unset": { format!("providerIds.{}", escape_key(account)): "" },
            "$pull": { "accounts": account.as_str() },
            "$set": { "syncedAt": date(at) },
        };
        let after = self
            .synced_events
            .find_one_and_update(doc! { "_id": id.as_str() }, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| map_error(e, &doing))?;
        let Some(after) = after else {
            return Ok(false);
        };
        if after
            .get_array("accounts")
            .is_ok_and(|accounts| !accounts.is_empty())
        {
            return Ok(true);
        }
        // The last account is gone. Remove the event only while it still has
        // no account: an attach racing in between keeps it.
        let empty: Vec<Bson> = Vec::new();
        let deleted = self
            .synced_events
            .delete_one(doc! { "_id": id.as_str(), "accounts": empty })
            .await
            .map_err(|e| map_error(e, &doing))?;
        if deleted.deleted_count == 1 {
            return Ok(false);
        }
        Ok(self.get_synced_event(id).await?.is_some())
    }

    async fn set_event_details(
        &self,
        id: &EventId,
        details: &EventDetails,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        let doing = format!("update synced event {id}");
        let details = to_bson(details, "event details")?;
        // An event stored before versions were kept is at the first version:
        // say so first, so that the increment below starts from it.
        self.synced_events
            .update_one(
                doc! { "_id": id.as_str(), "version": { "$exists": false } },
                doc! { "$set": { "version": crate::model::FIRST_VERSION as i64 } },
            )
            .await
            .map_err(|e| map_error(e, &doing))?;
        let after = self
            .synced_events
            .find_one_and_update(
                doc! { "_id": id.as_str() },
                doc! {
                    "$set": { "event": details, "syncedAt": date(at) },
                    "$inc": { "version": 1_i64 },
                },
            )
            .projection(doc! { "version": 1 })
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| map_error(e, &doing))?;
        let Some(after) = after else {
            return Ok(None);
        };
        let version = match after.get("version") {
            Some(Bson::Int64(version)) => u64::try_from(*version).ok(),
            Some(Bson::Int32(version)) => u64::try_from(*version).ok(),
            _ => None,
        };
        version
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("{id}: version is not a count")))
    }

    async fn replace_conflicts(
        &self,
        user: &UserId,
        draft: &DraftId,
        conflicts: &[Conflict],
    ) -> StoreResult<()> {
        match self.replace_conflicts_once(user, draft, conflicts).await {
            // A concurrent first replace created the draft's document.
            Err(StoreError::AlreadyExists(_)) => {
                self.replace_conflicts_once(user, draft, conflicts).await
            }
            other => other,
        }
    }

    async fn conflicts_of_draft(
        &self,
        user: &UserId,
        draft: &DraftId,
    ) -> StoreResult<Vec<Conflict>> {
        let found = self
            .conflicts
            .find_one(doc! { "user": user.as_str(), "draft": draft.as_str() })
            .await
            .map_err(|e| map_error(e, &format!("read conflicts of draft {draft}")))?;
        let Some(mut found) = found else {
            return Ok(Vec::new());
        };
        let Some(Bson::Array(conflicts)) = found.remove("conflicts") else {
            return Err(StoreError::Corrupt(format!(
                "stored conflicts of draft {draft} are not a list"
            )));
        };
        conflicts
            .into_iter()
            .map(|conflict| match conflict {
                Bson::Document(document) => {
                    super::documents::from_document(document, None, CONFLICT_DATES, "conflict")
                }
                _ => Err(StoreError::Corrupt(
                    "a stored conflict is not a document".into(),
                )),
            })
            .collect()
    }

    async fn insert_operations(&self, operations: &[Operation]) -> StoreResult<()> {
        let distinct: BTreeSet<&OperationId> = operations.iter().map(|op| &op.id).collect();
        if distinct.len() != operations.len() {
            return Err(StoreError::AlreadyExists(
                "operations: the batch holds one id twice".to_owned(),
            ));
        }
        if operations.is_empty() {
            return Ok(());
        }
        let documents = operations
            .iter()
            .map(operation_document)
            .collect::<StoreResult<Vec<_>>>()?;
        let Err(error) = self.operations.insert_many(documents).ordered(true).await else {
            return Ok(());
        };
        // An ordered insert stops at the first refused operation; the ones
        // before it were new and are taken back.
        let inserted = first_refused(&error).unwrap_or(0).min(operations.len());
        self.undo_insert(&operations[..inserted]).await?;
        Err(map_error(error, "insert operations"))
    }

    async fn update_operation(&self, operation: &Operation) -> StoreResult<()> {
        let id = operation.id.as_str();
        replace_by_id(
            &self.operations,
            id,
            operation_document(operation)?,
            "operation",
        )
        .await
    }

    async fn complete_operation(
        &self,
        operation: &Operation,
        change: &EventChange,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.complete(operation, change, at).await
    }

    async fn get_operation(&self, id: &OperationId) -> StoreResult<Option<Operation>> {
        let found = find_by_id(&self.operations, id.as_str(), "operation").await?;
        found.map(operation).transpose()
    }

    async fn operations_of_event(&self, event: &EventId) -> StoreResult<Vec<Operation>> {
        let filter = doc! { "event": event.as_str() };
        let sort = doc! { "createdAt": 1, "_id": 1 };
        let documents = find_all(&self.operations, filter, sort, "read operations").await?;
        documents.into_iter().map(operation).collect()
    }

    async fn claim_due_operations(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Operation>> {
        let filter = doc! {
            "status": "pending",
            "nextAttemptAt": { "$lte": date(now) },
            "$or": [ { "leaseUntil": Bson::Null }, { "leaseUntil": { "$lt": date(now) } } ],
        };
        let lease = doc! { "$set": { "leaseOwner": owner, "leaseUntil": date(lease_until) } };
        let mut claimed = Vec::new();
        // One find-and-modify per operation: each is atomic on its document,
        // so two claimers never take the same one.
        while claimed.len() < limit {
            let taken = self
                .operations
                .find_one_and_update(filter.clone(), lease.clone())
                .sort(doc! { "nextAttemptAt": 1, "_id": 1 })
                .return_document(ReturnDocument::After)
                .await
                .map_err(|e| map_error(e, "claim due operations"))?;
            match taken {
                Some(document) => claimed.push(operation(document)?),
                None => break,
            }
        }
        Ok(claimed)
    }

    async fn wake_operations_of_account(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let filter = doc! {
            "account": account.as_str(),
            "status": "pending",
            "nextAttemptAt": { "$gt": date(now) },
            "$or": [ { "leaseUntil": Bson::Null }, { "leaseUntil": { "$lt": date(now) } } ],
        };
        let woken = self
            .operations
            .update_many(filter, doc! { "$set": { "nextAttemptAt": date(now) } })
            .await
            .map_err(|e| map_error(e, &format!("wake the operations of {account}")))?;
        Ok(usize::try_from(woken.modified_count).unwrap_or(usize::MAX))
    }

    // Idempotency keys: see `idempotency.rs`.

    async fn claim_idempotency_key(
        &self,
        record: &IdempotencyRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        self.claim_key(record, now).await
    }

    async fn get_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        self.get_key(scope, key).await
    }

    async fn update_idempotency_key(&self, record: &IdempotencyRecord) -> StoreResult<()> {
        self.update_key(record).await
    }

    async fn remove_idempotency_key(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.remove_key(scope, key).await
    }

    async fn purge_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.purge_keys(now).await
    }

    // Shared records: see `shared.rs`.

    async fn get_shared(&self, name: &str) -> StoreResult<Option<SharedRecord>> {
        self.get_shared_record(name).await
    }

    async fn put_shared(&self, record: &SharedRecord) -> StoreResult<bool> {
        self.put_shared_record(record).await
    }
}
