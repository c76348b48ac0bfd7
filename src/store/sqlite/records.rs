//! The [`Store`] methods on SQLite: each a short blocking function run by
//! [`SqliteStore::read`] or [`SqliteStore::write`].

use super::rows::{
    account_from_row, account_record, query_doc, query_docs, write_account, write_operation,
};
use super::writes;
use super::{SqliteStore, map_error};
use crate::model::{
    AccountId, AccountRecord, Conflict, DraftId, EventDetails, EventId, OperationId,
    ProviderEventRef, SyncedEvent, UserId,
};
use crate::operations::Operation;
use crate::store::{EventChange, IdempotencyRecord, SharedRecord, Store, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

#[async_trait]
impl Store for SqliteStore {
    fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|connection, _| {
            connection
                .query_row("SELECT 1", [], |_| Ok(()))
                .map_err(|e| map_error(e, "ping"))
        })
        .await
    }

    async fn insert_account(&self, record: &AccountRecord) -> StoreResult<()> {
        let record = record.clone();
        self.write(move |connection, tables| {
            write_account(connection, &tables.insert_account, &record).map(drop)
        })
        .await
    }

    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<AccountRecord>> {
        let id = id.clone();
        self.read(move |connection, tables| {
            let row = connection
                .prepare_cached(&tables.get_account)
                .and_then(|mut s| s.query_row([id.as_str()], account_from_row).optional())
                .map_err(|e| map_error(e, "read account"))?;
            row.map(|(doc, credentials)| account_record(&doc, credentials))
                .transpose()
        })
        .await
    }

    async fn accounts_of_user(&self, user: &UserId) -> StoreResult<Vec<AccountRecord>> {
        let user = user.clone();
        self.read(move |connection, tables| {
            let what = "read accounts";
            let mut statement = connection
                .prepare_cached(&tables.accounts_of_user)
                .map_err(|e| map_error(e, what))?;
            let rows = statement
                .query_map([user.as_str()], account_from_row)
                .map_err(|e| map_error(e, what))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| map_error(e, what))?;
            rows.into_iter()
                .map(|(doc, credentials)| account_record(&doc, credentials))
                .collect()
        })
        .await
    }

    async fn erase_user(&self, user: &UserId) -> StoreResult<crate::store::Erased> {
        let user = user.clone();
        self.write(move |connection, tables| writes::erase_user(connection, tables, &user))
            .await
    }

    async fn accounts_in_error(&self) -> StoreResult<Vec<AccountRecord>> {
        self.read(move |connection, tables| {
            let what = "read accounts in error";
            let mut statement = connection
                .prepare_cached(&tables.accounts_in_error)
                .map_err(|e| map_error(e, what))?;
            let rows = statement
                .query_map([], account_from_row)
                .map_err(|e| map_error(e, what))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| map_error(e, what))?;
            rows.into_iter()
                .map(|(doc, credentials)| account_record(&doc, credentials))
                .collect()
        })
        .await
    }

    async fn update_account(&self, record: &AccountRecord) -> StoreResult<()> {
        let record = record.clone();
        self.write(move |connection, tables| {
            match write_account(connection, &tables.update_account, &record)? {
                0 => Err(StoreError::NotFound(format!(
                    "account {}",
                    record.account.id
                ))),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn get_synced_event(&self, id: &EventId) -> StoreResult<Option<SyncedEvent>> {
        let id = id.clone();
        self.read(move |connection, tables| {
            query_doc(connection, &tables.get_event, id.as_str(), "synced event")
        })
        .await
    }

    async fn synced_events_of_user(&self, user: &UserId) -> StoreResult<Vec<SyncedEvent>> {
        let user = user.clone();
        self.read(move |connection, tables| {
            query_docs(
                connection,
                &tables.events_of_user,
                [user.as_str()],
                "synced events",
            )
        })
        .await
    }

    async fn attach_provider_event(
        &self,
        base: &SyncedEvent,
        account: &AccountId,
        reference: &ProviderEventRef,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (base, account, reference) = (base.clone(), account.clone(), reference.clone());
        self.write(move |connection, tables| {
            writes::attach(connection, tables, base, account, reference, at)
        })
        .await
    }

    async fn detach_provider_event(
        &self,
        id: &EventId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (id, account) = (id.clone(), account.clone());
        self.write(move |connection, tables| writes::detach(connection, tables, id, account, at))
            .await
    }

    async fn set_event_details(
        &self,
        id: &EventId,
        details: &EventDetails,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        let (id, details) = (id.clone(), details.clone());
        self.write(move |connection, tables| {
            writes::set_details(connection, tables, id, details, at)
        })
        .await
    }

    async fn replace_conflicts(
        &self,
        user: &UserId,
        draft: &DraftId,
        conflicts: &[Conflict],
    ) -> StoreResult<()> {
        let (user, draft, conflicts) = (user.clone(), draft.clone(), conflicts.to_vec());
        self.write(move |connection, tables| {
            writes::replace_conflicts(connection, tables, user, draft, conflicts)
        })
        .await
    }

    async fn conflicts_of_draft(
        &self,
        user: &UserId,
        draft: &DraftId,
    ) -> StoreResult<Vec<Conflict>> {
        let (user, draft) = (user.clone(), draft.clone());
        self.read(move |connection, tables| {
            query_docs(
                connection,
                &tables.conflicts_of_draft,
                [user.as_str(), draft.as_str()],
                "conflicts",
            )
        })
        .await
    }

    async fn insert_operations(&self, operations: &[Operation]) -> StoreResult<()> {
        let operations = operations.to_vec();
        self.write(move |connection, tables| {
            writes::insert_operations(connection, tables, operations)
        })
        .await
    }

    async fn update_operation(&self, operation: &Operation) -> StoreResult<()> {
        let operation = operation.clone();
        self.write(move |connection, tables| {
            match write_operation(connection, &tables.update_operation, &operation)? {
                0 => Err(StoreError::NotFound(format!("operation {}", operation.id))),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn complete_operation(
        &self,
        operation: &Operation,
        change: &EventChange,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (operation, change) = (operation.clone(), change.clone());
        self.write(move |connection, tables| {
            writes::complete(connection, tables, &operation, change, at)
        })
        .await
    }

    async fn get_operation(&self, id: &OperationId) -> StoreResult<Option<Operation>> {
        let id = id.clone();
        self.read(move |connection, tables| {
            query_doc(connection, &tables.get_operation, id.as_str(), "operation")
        })
        .await
    }

    async fn operations_of_event(&self, event: &EventId) -> StoreResult<Vec<Operation>> {
        let event = event.clone();
        self.read(move |connection, tables| {
            query_docs(
                connection,
                &tables.operations_of_event,
                [event.as_str()],
                "operations",
            )
        })
        .await
    }

    async fn claim_due_operations(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Operation>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        self.write(move |connection, tables| {
            writes::claim(connection, tables, now, owner, lease_until, limit)
        })
        .await
    }

    async fn wake_operations_of_account(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let account = account.clone();
        self.write(move |connection, tables| writes::wake(connection, tables, &account, now))
            .await
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
