//! The writes that read before they write. Each runs inside the writer's
//! `IMMEDIATE` transaction (see [`super::writer`]), so that concurrent
//! writers (tasks or processes) never overwrite each other.

use super::map_error;
use super::rows::{query_doc, query_docs, to_json, write_operation};
use super::schema::{Tables, time_key};
use crate::model::{
    AccountId, Conflict, DraftId, EventDetails, EventId, ProviderEventRef, SyncedEvent, UserId,
};
use crate::operations::Operation;
use crate::store::{EventChange, StoreError, StoreResult, is_waiting_delete};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
pub(super) fn save_event(
    connection: &Connection,
    tables: &Tables,
    event: &SyncedEvent,
) -> StoreResult<()> {
    let doc = to_json(event, "synced event")?;
    connection
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
    connection: &Connection,
    tables: &Tables,
    base: SyncedEvent,
    account: AccountId,
    reference: ProviderEventRef,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let stored: Option<SyncedEvent> = query_doc(
        connection,
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
    save_event(connection, tables, &event)?;
    Ok(())
}

/// Reads a synced event, changes it with `change`, stamps `syncedAt` and saves
/// it; answers whether it exists (a missing event is left missing).
fn change_event(
    connection: &Connection,
    tables: &Tables,
    id: &EventId,
    at: DateTime<Utc>,
    change: impl FnOnce(&mut SyncedEvent),
) -> StoreResult<bool> {
    let stored: Option<SyncedEvent> =
        query_doc(connection, &tables.get_event, id.as_str(), "synced event")?;
    let Some(mut event) = stored else {
        return Ok(false);
    };
    change(&mut event);
    event.synced_at = at;
    save_event(connection, tables, &event)?;
    Ok(true)
}

/// Sets the account's provider event on a synced event that exists; answers
/// whether it does.
pub(super) fn refresh(
    connection: &Connection,
    tables: &Tables,
    id: &EventId,
    account: AccountId,
    reference: ProviderEventRef,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    change_event(connection, tables, id, at, |event| {
        let newer = event
            .provider_ids
            .get(&account)
            .is_some_and(|held| held.version > reference.version);
        if !newer {
            event.accounts.insert(account.clone());
            event.provider_ids.insert(account, reference);
        }
    })
}

/// The event change and the operation's new state, in one atomic write
/// (the writer's savepoint undoes the first when the second fails).
pub(super) fn complete(
    connection: &Connection,
    tables: &Tables,
    operation: &Operation,
    change: EventChange,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let (id, account) = (&operation.event, &operation.account);
    match change {
        EventChange::None => {}
        EventChange::Attach { base, reference } => {
            if !cancelled_meanwhile(connection, tables, operation)? {
                attach(connection, tables, *base, account.clone(), reference, at)?;
            }
        }
        EventChange::Refresh(reference) => {
            refresh(connection, tables, id, account.clone(), reference, at)?;
        }
        EventChange::Detach => {
            detach(connection, tables, id.clone(), account.clone(), at)?;
        }
    }
    match write_operation(connection, &tables.update_operation, operation)? {
        0 => Err(StoreError::NotFound(format!("operation {}", operation.id))),
        _ => Ok(()),
    }
}

/// Whether the operation's synced event is missing while a delete on its
/// account waits: a cancel removed it while the operation ran.
fn cancelled_meanwhile(
    connection: &Connection,
    tables: &Tables,
    operation: &Operation,
) -> StoreResult<bool> {
    // A waiting delete is rare, so it is looked for first: most attaches
    // then need one read, not two.
    let id = operation.event.as_str();
    let operations: Vec<Operation> =
        query_docs(connection, &tables.operations_of_event, [id], "operations")?;
    if !operations
        .iter()
        .any(|other| is_waiting_delete(other, operation))
    {
        return Ok(false);
    }
    let stored: Option<SyncedEvent> = query_doc(connection, &tables.get_event, id, "synced event")?;
    Ok(stored.is_none())
}

pub(super) fn detach(
    connection: &Connection,
    tables: &Tables,
    id: EventId,
    account: AccountId,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let stored: Option<SyncedEvent> =
        query_doc(connection, &tables.get_event, id.as_str(), "synced event")?;
    let Some(mut event) = stored else {
        return Ok(false);
    };
    event.accounts.remove(&account);
    event.provider_ids.remove(&account);
    let remains = !event.provider_ids.is_empty();
    if remains {
        event.synced_at = at;
        save_event(connection, tables, &event)?;
    } else {
        connection
            .execute(&tables.delete_event, [id.as_str()])
            .map_err(|e| map_error(e, &format!("delete synced event {id}")))?;
    }
    Ok(remains)
}

pub(super) fn set_details(
    connection: &Connection,
    tables: &Tables,
    id: EventId,
    details: EventDetails,
    at: DateTime<Utc>,
) -> StoreResult<Option<u64>> {
    let mut version = None;
    change_event(connection, tables, &id, at, |event| {
        event.event = details;
        event.version += 1;
        version = Some(event.version);
    })?;
    Ok(version)
}

pub(super) fn replace_conflicts(
    connection: &Connection,
    tables: &Tables,
    user: UserId,
    draft: DraftId,
    conflicts: Vec<Conflict>,
) -> StoreResult<()> {
    let what = "replace conflicts";
    connection
        .execute(&tables.delete_conflicts, [user.as_str(), draft.as_str()])
        .map_err(|e| map_error(e, what))?;
    {
        let mut insert = connection
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
    Ok(())
}

pub(super) fn insert_operations(
    connection: &Connection,
    tables: &Tables,
    operations: Vec<Operation>,
) -> StoreResult<()> {
    // The writer rolls back this job's savepoint on the first error: all or none.
    for operation in &operations {
        write_operation(connection, &tables.insert_operation, operation)?;
    }
    Ok(())
}

pub(super) fn claim(
    connection: &Connection,
    tables: &Tables,
    now: DateTime<Utc>,
    owner: String,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> StoreResult<Vec<Operation>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut due: Vec<Operation> = query_docs(
        connection,
        &tables.due_operations,
        params![time_key(now), limit],
        "due operations",
    )?;
    for operation in &mut due {
        operation.lease_owner = Some(owner.clone());
        operation.lease_until = Some(lease_until);
        let doc = to_json(operation, "operation")?;
        connection
            .prepare_cached(&tables.lease_operation)
            .and_then(|mut statement| {
                statement.execute(params![operation.id.as_str(), time_key(lease_until), doc])
            })
            .map_err(|e| map_error(e, &format!("lease operation {}", operation.id)))?;
    }
    Ok(due)
}

pub(super) fn wake(
    connection: &Connection,
    tables: &Tables,
    account: &AccountId,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    // Pending operations are few (work in flight), so they are read and
    // filtered by account here rather than indexed by it.
    let waiting: Vec<Operation> = query_docs(
        connection,
        &tables.unleased_pending,
        params![time_key(now)],
        "pending operations",
    )?;
    let mut woken = 0;
    for mut operation in waiting
        .into_iter()
        .filter(|operation| &operation.account == account)
    {
        operation.next_attempt_at = now;
        write_operation(connection, &tables.update_operation, &operation)?;
        woken += 1;
    }
    Ok(woken)
}

/// Removes everything of `user`, in the writer's one transaction.
pub(super) fn erase_user(
    connection: &Connection,
    tables: &Tables,
    user: &UserId,
) -> StoreResult<crate::store::Erased> {
    let mut counts = [0u64; 4];
    for (count, sql) in counts.iter_mut().zip(&tables.erase_user) {
        *count = connection
            .execute(sql, [user.as_str()])
            .map(|removed| removed as u64)
            .map_err(|e| map_error(e, &format!("erase user {user}")))?;
    }
    let [accounts, synced_events, conflicts, operations] = counts;
    Ok(crate::store::Erased {
        accounts,
        synced_events,
        conflicts,
        operations,
        idempotency_keys: super::idempotency::erase_user(connection, tables, user.as_str())?,
    })
}
