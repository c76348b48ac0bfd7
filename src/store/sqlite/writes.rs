//! The writes that read before they write, each in one `IMMEDIATE`
//! transaction so that concurrent writers (tasks or processes) never
//! overwrite each other.

use super::map_error;
use super::rows::{commit, immediate, query_doc, query_docs, to_json, write_operation};
use super::schema::{Tables, time_key};
use crate::model::{
    AccountId, Conflict, DraftId, EventDetails, EventId, ProviderEventRef, SyncedEvent, UserId,
};
use crate::operations::Operation;
use crate::store::StoreResult;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};
pub(super) fn save_event(
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

pub(super) fn attach(
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

pub(super) fn detach(
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

pub(super) fn set_details(
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

pub(super) fn replace_conflicts(
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

pub(super) fn insert_operations(
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

pub(super) fn claim(
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
