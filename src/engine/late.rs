//! Creates whose answer was lost: settled by reading back, never guessed.
//!
//! A create attempt that timed out or met a 5xx may have landed. Its retries
//! carry the same idempotency key, so a later success finds the same event.
//! Two cases remain, and both read the provider back by the key:
//!
//! - the create then fails for good (refused on a retry): before the failure
//!   is recorded, calsync looks for the event the lost attempt may have
//!   made, and when the provider holds it the create succeeded after all;
//! - a cancel, or that failure, follows: a request held by the network may
//!   still arrive and make a copy after it. calsync records a sweep, due
//!   [`Engine::late_delivery`] later, that reads back by the key again and
//!   deletes a copy calsync does not hold.

use super::outcome::{give_up, succeed};
use super::{Engine, Intent, ProviderCall, later};
use crate::error::Result;
use crate::model::{AccountRecord, ProviderEventRef, SyncStatus};
use crate::operations::{Operation, OperationKind, OperationStatus};
use crate::providers::{ProviderErrorKind, ProviderResult, WriteContext};
use std::sync::Arc;
use std::time::Duration;

impl Engine {
    /// How long after a cancel or failure calsync looks for a late copy:
    /// the configured time, and at least twice the call timeout.
    pub(crate) fn late_delivery(&self) -> Duration {
        self.config
            .late_delivery
            .max(self.config.call_timeout.saturating_mul(2))
    }
}

/// Whether a failed attempt may have landed on the provider although it
/// answered no success: its answer was lost (a timeout) or was a 5xx that a
/// server may send after acting. A 429 and every refusal say the request was
/// not carried out.
pub(crate) fn may_have_landed(kind: ProviderErrorKind) -> bool {
    matches!(
        kind,
        ProviderErrorKind::Timeout | ProviderErrorKind::Unavailable
    )
}

/// The event a create with `op`'s idempotency key made, if the provider holds it.
pub(crate) async fn read_back(
    engine: &Arc<Engine>,
    record: &AccountRecord,
    op: &Operation,
) -> Result<ProviderResult<Option<ProviderEventRef>>> {
    let adapter = engine.adapter(record.account.provider)?;
    let context = WriteContext {
        idempotency_key: op.idempotency_key.clone(),
        synced_id: op.event.clone(),
        invite_attendees: false,
        retry: false,
    };
    engine
        .call_account(record, ProviderCall::Find, |session| {
            let adapter = adapter.clone();
            let context = context.clone();
            async move { adapter.find(&session, &context).await }
        })
        .await
}

/// A create failed for good after an attempt whose answer was lost: when the
/// provider holds what that attempt made, the create succeeded; otherwise
/// the failure is recorded, and a sweep looks again later.
pub(crate) async fn settle_uncertain_create(
    engine: &Arc<Engine>,
    op: &mut Operation,
    reason: String,
) -> Result<()> {
    let record = engine.store.get_account(&op.account).await?;
    if let Some(record) =
        record.filter(|record| record.account.sync_status == SyncStatus::Connected)
    {
        match read_back(engine, &record, op).await? {
            Ok(Some(found)) => {
                tracing::info!(operation = %op.id, account = %op.account, "an attempt whose answer was lost had made the event");
                return succeed(engine, op, Some(found)).await;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(operation = %op.id, %error, "cannot read back a create whose answer was lost; a sweep will look later");
            }
        }
    }
    give_up(engine, op, reason).await?;
    sweep_after(engine, op).await
}

/// Records a sweep, due [`Engine::late_delivery`] from now, for each create of
/// `op`'s event on its account whose answer was once lost, unless one is
/// pending for it already.
pub(crate) async fn sweep_after(engine: &Arc<Engine>, op: &Operation) -> Result<()> {
    let operations = engine.store.operations_of_event(&op.event).await?;
    let creates = operations.iter().filter(|create| {
        create.account == op.account && create.kind == OperationKind::Create && create.uncertain
    });
    let now = engine.clock.now();
    let due = later(now, engine.late_delivery());
    let mut sweeps = Vec::new();
    for create in creates {
        let pending = operations.iter().any(|other| {
            other.kind == OperationKind::Sweep
                && other.status == OperationStatus::Pending
                && other.account == create.account
                && other.idempotency_key == create.idempotency_key
        });
        if pending {
            continue;
        }
        let mut sweep = engine.new_operation(Intent {
            user: &create.user,
            event: &create.event,
            account: &create.account,
            provider: create.provider,
            kind: OperationKind::Sweep,
            details: &create.details,
            target: None,
        });
        sweep.idempotency_key = create.idempotency_key.clone();
        sweep.next_attempt_at = due;
        sweep.lease_owner = None;
        sweep.lease_until = None;
        sweeps.push(sweep);
    }
    if !sweeps.is_empty() {
        tracing::debug!(event = %op.event, account = %op.account, sweeps = sweeps.len(), due = %due, "late copies will be looked for");
        engine.store.insert_operations(&sweeps).await?;
    }
    Ok(())
}

/// A sweep's call: reads back by the key and deletes the copy found unless
/// it is the one the synced event holds on the account.
pub(crate) async fn sweep(
    engine: &Arc<Engine>,
    record: &AccountRecord,
    op: &Operation,
) -> Result<ProviderResult<Option<ProviderEventRef>>> {
    let found = match read_back(engine, record, op).await? {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(Ok(None)),
        Err(error) => return Ok(Err(error)),
    };
    let synced = engine.store.get_synced_event(&op.event).await?;
    let held = synced.is_some_and(|event| {
        event
            .provider_ids
            .get(&op.account)
            .is_some_and(|reference| reference.event_id == found.event_id)
    });
    if held {
        return Ok(Ok(None));
    }
    tracing::warn!(operation = %op.id, account = %op.account, event = %found.event_id, "a late copy calsync does not hold: deleting it");
    let adapter = engine.adapter(record.account.provider)?;
    let deleted = engine
        .call_account(record, ProviderCall::Delete, |session| {
            let adapter = adapter.clone();
            let found = found.clone();
            // A copy nobody was told about is removed without a word.
            let silent = WriteContext {
                idempotency_key: op.idempotency_key.clone(),
                synced_id: op.event.clone(),
                invite_attendees: false,
                retry: false,
            };
            async move {
                match adapter.delete(&session, &found, &silent).await {
                    Err(error) if error.kind == ProviderErrorKind::NotFound => Ok(()),
                    other => other,
                }
            }
        })
        .await?;
    Ok(deleted.map(|()| None))
}
