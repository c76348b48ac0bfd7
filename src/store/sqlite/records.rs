//! The [`Store`] methods on SQLite: each a short blocking function run by
//! [`SqliteStore::read`] or [`SqliteStore::write`].

use super::schema::{Tables, time_key};
use super::{SqliteStore, map_error};
use crate::model::{
    Account, AccountId, AccountRecord, Conflict, DraftId, EventDetails, EventId, OperationId,
    ProviderEventRef, SyncedEvent, UserId,
};
use crate::operations::{Operation, OperationStatus};
use crate::store::{Store, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn to_json<T: Serialize>(value: &T, what: &str) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("{what} cannot be written as JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("stored {what} cannot be read: {e}")))
}

fn immediate<'c>(connection: &'c mut Connection) -> StoreResult<Transaction<'c>> {
    connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| map_error(e, "begin transaction"))
}

fn commit(transaction: Transaction<'_>) -> StoreResult<()> {
    transaction.commit().map_err(|e| map_error(e, "commit"))
}

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<(String, Option<Vec<u8>>)> {
    Ok((row.get(0)?, row.get(1)?))
}

fn account_record(doc: &str, credentials: Option<Vec<u8>>) -> StoreResult<AccountRecord> {
    Ok(AccountRecord {
        account: from_json::<Account>(doc, "account")?,
        sealed_credentials: credentials,
    })
}

fn status_key(status: OperationStatus) -> &'static str {
    match status {
        OperationStatus::Pending => "pending",
        OperationStatus::Succeeded => "succeeded",
        OperationStatus::Failed => "failed",
    }
}

/// Reads the docs a query answers, in order.
fn query_docs<T: DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> StoreResult<Vec<T>> {
    let mut statement = connection
        .prepare_cached(sql)
        .map_err(|e| map_error(e, what))?;
    let docs = statement
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(|e| map_error(e, what))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| map_error(e, what))?;
    docs.iter().map(|doc| from_json(doc, what)).collect()
}

fn query_doc<T: DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    id: &str,
    what: &str,
) -> StoreResult<Option<T>> {
    let doc: Option<String> = connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_row([id], |row| row.get(0)).optional())
        .map_err(|e| map_error(e, what))?;
    doc.map(|doc| from_json(&doc, what)).transpose()
}

fn write_operation(
    connection: &Connection,
    sql: &str,
    operation: &Operation,
) -> StoreResult<usize> {
    let doc = to_json(operation, "operation")?;
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement.execute(params![
                operation.id.as_str(),
                operation.event.as_str(),
                status_key(operation.status),
                time_key(operation.next_attempt_at),
                operation.lease_until.map(time_key),
                time_key(operation.created_at),
                doc,
            ])
        })
        .map_err(|e| map_error(e, &format!("write operation {}", operation.id)))
}

fn write_account(connection: &Connection, sql: &str, record: &AccountRecord) -> StoreResult<usize> {
    let account = &record.account;
    let doc = to_json(account, "account")?;
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement.execute(params![
                account.id.as_str(),
                account.user.as_str(),
                time_key(account.connected_at),
                doc,
                record.sealed_credentials,
            ])
        })
        .map_err(|e| map_error(e, &format!("write account {}", account.id)))
}

fn save_event(
    transaction: &Transaction<'_>,
    tables: &Tables,
    event: &SyncedEvent,
) -> StoreResult<()> {
    let doc = to_json(event, "synced event")?;
    transaction
        .prepare_cached(&tables.upsert_event)
        .and_then(|mut statement| {
            statement.execute(params![
                event.internal_id.as_str(),
                event.user.as_str(),
                doc
            ])
        })
        .map(drop)
        .map_err(|e| map_error(e, &format!("write synced event {}", event.internal_id)))
}

fn attach(
    connection: &mut Connection,
    tables: &Tables,
    base: SyncedEvent,
    account: AccountId,
    reference: ProviderEventRef,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let transaction = immediate(connection)?;
    let stored: Option<SyncedEvent> = query_doc(
        &transaction,
        &tables.get_event,
        base.internal_id.as_str(),
        "synced event",
    )?;
    let mut event = stored.unwrap_or_else(|| SyncedEvent {
        accounts: Default::default(),
        provider_ids: Default::default(),
        ..base
    });
    event.accounts.insert(account.clone());
    event.provider_ids.insert(account, reference);
    event.synced_at = at;
    save_event(&transaction, tables, &event)?;
    commit(transaction)
}

fn detach(
    connection: &mut Connection,
    tables: &Tables,
    id: EventId,
    account: AccountId,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let transaction = immediate(connection)?;
    let stored: Option<SyncedEvent> =
        query_doc(&transaction, &tables.get_event, id.as_str(), "synced event")?;
    let Some(mut event) = stored else {
        return Ok(false);
    };
    event.accounts.remove(&account);
    event.provider_ids.remove(&account);
    let remains = !event.provider_ids.is_empty();
    if remains {
        event.synced_at = at;
        save_event(&transaction, tables, &event)?;
    } else {
        transaction
            .execute(&tables.delete_event, [id.as_str()])
            .map_err(|e| map_error(e, &format!("delete synced event {id}")))?;
    }
    commit(transaction)?;
    Ok(remains)
}

fn set_details(
    connection: &mut Connection,
    tables: &Tables,
    id: EventId,
    details: EventDetails,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let transaction = immediate(connection)?;
    let stored: Option<SyncedEvent> =
        query_doc(&transaction, &tables.get_event, id.as_str(), "synced event")?;
    let Some(mut event) = stored else {
        return Ok(false);
    };
    event.event = details;
    event.synced_at = at;
    save_event(&transaction, tables, &event)?;
    commit(transaction)?;
    Ok(true)
}

fn replace_conflicts(
    connection: &mut Connection,
    tables: &Tables,
    user: UserId,
    draft: DraftId,
    conflicts: Vec<Conflict>,
) -> StoreResult<()> {
    let transaction = immediate(connection)?;
    let what = "replace conflicts";
    transaction
        .execute(&tables.delete_conflicts, [user.as_str(), draft.as_str()])
        .map_err(|e| map_error(e, what))?;
    {
        let mut insert = transaction
            .prepare_cached(&tables.insert_conflict)
            .map_err(|e| map_error(e, what))?;
        for (position, conflict) in conflicts.iter().enumerate() {
            let doc = to_json(conflict, "conflict")?;
            let position = i64::try_from(position).unwrap_or(i64::MAX);
            insert
                .execute(params![
                    user.as_str(),
                    draft.as_str(),
                    position,
                    conflict.id.as_str(),
                    doc
                ])
                .map_err(|e| map_error(e, what))?;
        }
    }
    commit(transaction)
}

fn insert_operations(
    connection: &mut Connection,
    tables: &Tables,
    operations: Vec<Operation>,
) -> StoreResult<()> {
    // Dropping the transaction on the first error rolls back the others.
    let transaction = immediate(connection)?;
    for operation in &operations {
        write_operation(&transaction, &tables.insert_operation, operation)?;
    }
    commit(transaction)
}

fn claim(
    connection: &mut Connection,
    tables: &Tables,
    now: DateTime<Utc>,
    owner: String,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> StoreResult<Vec<Operation>> {
    let transaction = immediate(connection)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut due: Vec<Operation> = query_docs(
        &transaction,
        &tables.due_operations,
        params![time_key(now), limit],
        "due operations",
    )?;
    for operation in &mut due {
        operation.lease_owner = Some(owner.clone());
        operation.lease_until = Some(lease_until);
        let doc = to_json(operation, "operation")?;
        transaction
            .prepare_cached(&tables.lease_operation)
            .and_then(|mut statement| {
                statement.execute(params![operation.id.as_str(), time_key(lease_until), doc])
            })
            .map_err(|e| map_error(e, &format!("lease operation {}", operation.id)))?;
    }
    commit(transaction)?;
    Ok(due)
}

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
            attach(connection, tables, base, account, reference, at)
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
        self.write(move |connection, tables| detach(connection, tables, id, account, at))
            .await
    }

    async fn set_event_details(
        &self,
        id: &EventId,
        details: &EventDetails,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (id, details) = (id.clone(), details.clone());
        self.write(move |connection, tables| set_details(connection, tables, id, details, at))
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
            replace_conflicts(connection, tables, user, draft, conflicts)
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
        self.write(move |connection, tables| insert_operations(connection, tables, operations))
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
            claim(connection, tables, now, owner, lease_until, limit)
        })
        .await
    }
}
