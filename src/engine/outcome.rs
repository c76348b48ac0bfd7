//! How an operation ended, recorded in the store: succeeded (with what it
//! changes in the synced event), failed for good, or stepped back to wait
//! for an earlier operation held elsewhere.

use super::Engine;
use crate::error::Result;
use crate::model::{ProviderEventRef, SyncedEvent};
use crate::operations::{Operation, OperationKind, OperationStatus};
use crate::store::EventChange;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Records a success and what it changes in the synced event: a create
/// attaches the account, an update refreshes its provider event, a delete
/// detaches it.
pub(crate) async fn succeed(
    engine: &Arc<Engine>,
    op: &mut Operation,
    mut reference: Option<ProviderEventRef>,
) -> Result<()> {
    let now = engine.clock.now();
    if let Some(reference) = &mut reference {
        // The copy now holds the details the operation wrote.
        reference.version = op.version;
        reference.pending = None;
    }
    let change = match (&op.kind, &reference) {
        (OperationKind::Create, Some(reference)) => EventChange::Attach {
            base: base_event(op, now),
            reference: reference.clone(),
        },
        (OperationKind::Update, Some(reference)) => EventChange::Refresh(reference.clone()),
        (OperationKind::Delete, _) => EventChange::Detach,
        _ => EventChange::None,
    };
    op.result = reference;
    op.status = OperationStatus::Succeeded;
    op.last_error = None;
    release(op, now);
    // One write: the event change and the operation's success together.
    engine.store.complete_operation(op, &change, now).await?;
    if let (OperationKind::Create, Some(reference)) = (op.kind, &op.result)
        && reference.join_url.is_some()
    {
        super::meetings::link_meeting(engine, op, reference).await?;
    }
    if op.kind == OperationKind::Delete {
        // A create of this account whose answer was lost may still arrive.
        super::late::sweep_after(engine, op).await?;
    }
    Ok(())
}

/// Records that an update is not needed any more: a cancel recorded after it
/// on the same account removes the copy it would write. The synced event is
/// left as it is.
pub(crate) async fn supersede(engine: &Arc<Engine>, op: &mut Operation) -> Result<()> {
    tracing::debug!(operation = %op.id, account = %op.account, "update superseded by a later cancel");
    op.status = OperationStatus::Superseded;
    op.last_error = None;
    release(op, engine.clock.now());
    engine.store.update_operation(op).await?;
    Ok(())
}

/// Records that an operation failed for good; the synced event is left as
/// it is.
pub(crate) async fn record_failure(
    engine: &Arc<Engine>,
    op: &mut Operation,
    reason: Option<String>,
) -> Result<()> {
    mark_failed(op, reason, engine.clock.now());
    engine.store.update_operation(op).await?;
    Ok(())
}

fn mark_failed(op: &mut Operation, reason: Option<String>, now: DateTime<Utc>) {
    op.status = OperationStatus::Failed;
    op.last_error = reason;
    release(op, now);
}

/// Lets go of an operation's lease: no instance holds it any more.
fn release(op: &mut Operation, now: DateTime<Utc>) {
    op.lease_owner = None;
    op.lease_until = None;
    op.updated_at = now;
}

/// Records that an operation failed for good on an account that exists. A
/// delete that failed leaves the provider event in place, so the synced
/// event keeps the account, as cancel promises: when a cancel already
/// removed the synced event while the account's create ran, the event comes
/// back with this account alone, to be seen and cancelled again rather than
/// left on the provider unknown to calsync.
pub(crate) async fn give_up(
    engine: &Arc<Engine>,
    op: &mut Operation,
    reason: String,
) -> Result<()> {
    let left = match (op.kind, &op.target) {
        (OperationKind::Delete, Some(target)) => target.clone(),
        _ => return record_failure(engine, op, Some(reason)).await,
    };
    let synced = engine.store.get_synced_event(&op.event).await?;
    if synced.is_some_and(|event| event.provider_ids.contains_key(&op.account)) {
        return record_failure(engine, op, Some(reason)).await;
    }
    let now = engine.clock.now();
    let change = EventChange::Attach {
        base: base_event(op, now),
        reference: left,
    };
    mark_failed(op, Some(reason), now);
    engine.store.complete_operation(op, &change, now).await?;
    Ok(())
}

/// Leaves an operation pending with `reason`, held by no one and due again
/// after `wait`, for a later resume: its account failed transiently round
/// after round, or is in error.
pub(crate) async fn park(
    engine: &Arc<Engine>,
    op: &mut Operation,
    reason: String,
    wait: std::time::Duration,
) -> Result<()> {
    let now = engine.clock.now();
    tracing::info!(operation = %op.id, account = %op.account, %reason, wait_seconds = wait.as_secs(), "operation stays pending");
    op.last_error = Some(reason);
    op.next_attempt_at = super::later(now, wait);
    release(op, now);
    engine.store.update_operation(op).await?;
    Ok(())
}

/// Leaves an update or delete pending, due at `at` and held by no one, for a
/// later resume: an earlier operation on its account is held elsewhere.
pub(crate) async fn step_back(
    engine: &Arc<Engine>,
    op: &mut Operation,
    at: DateTime<Utc>,
) -> Result<()> {
    tracing::debug!(operation = %op.id, due = %at, "waiting for an earlier operation on the account, held elsewhere");
    op.next_attempt_at = at;
    release(op, engine.clock.now());
    engine.store.update_operation(op).await?;
    Ok(())
}

/// The synced event an attach creates when it is missing: the operation's.
fn base_event(op: &Operation, now: DateTime<Utc>) -> Box<SyncedEvent> {
    Box::new(SyncedEvent {
        internal_id: op.event.clone(),
        user: op.user.clone(),
        accounts: BTreeSet::new(),
        provider_ids: BTreeMap::new(),
        synced_at: now,
        event: op.details.clone(),
        version: op.version,
    })
}
