//! Per-account order: the operations of one synced event on one account run
//! one after another, in the order they were recorded, and each acts on the
//! provider event its predecessors left.
//!
//! An update or cancel may be recorded while the account's create (or an
//! earlier update) is still running: the commit answered it as pending. Its
//! operation then waits for the earlier ones to finish, reads from the store
//! the provider event they produced (never the one known when it was
//! recorded, which may be none yet or carry an old etag), and only then calls
//! the provider. So the last word wins on every account, and a cancel deletes
//! what a late create made.
//!
//! An earlier operation running in this instance is waited for where it
//! runs. One held elsewhere (by another instance, or by a dead one whose
//! lease has not ended yet) cannot be: the later operation steps back, due
//! again a little later, and a later resume takes it up. A resume that takes
//! up both starts them together, and the later one waits here.
//!
//! Versions: an update writes the synced event's details as they are when
//! its turn comes, with their version, and an account that already holds
//! that version (a later update ran first, or an earlier one already wrote
//! the latest details) needs no call. A cancel is the last version: an
//! update still waiting on the account when a cancel is recorded after it
//! is superseded, so the cancel runs as soon as any call in flight ends,
//! not after the update's retries.

use super::outcome::supersede;
use super::{Engine, lock};
use crate::error::Result;
use crate::model::{EVENT_FIELDS, OperationId, ProviderEventRef, SyncedEvent};
use crate::operations::{Operation, OperationKind, OperationStatus};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::watch;

/// Marks an operation as running in this instance until dropped, that is
/// until its task ends, however it ends.
pub(crate) struct Running {
    engine: Arc<Engine>,
    id: OperationId,
    receiver: watch::Receiver<()>,
    // Never sends: dropping it is the signal that the operation stopped.
    _sender: watch::Sender<()>,
}

impl Running {
    /// Marks `id` as running. Every operation of a batch is marked before
    /// any of them starts, so that a later one always finds an earlier one.
    pub(crate) fn mark(engine: &Arc<Engine>, id: &OperationId) -> Running {
        let (sender, receiver) = watch::channel(());
        lock(&engine.running).insert(id.clone(), receiver.clone());
        Running {
            engine: engine.clone(),
            id: id.clone(),
            receiver,
            _sender: sender,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = lock(&self.engine.running);
        // A newer task may run the same operation (taken up again after its
        // lease ran out): its mark stays.
        if running
            .get(&self.id)
            .is_some_and(|receiver| receiver.same_channel(&self.receiver))
        {
            running.remove(&self.id);
        }
    }
}

/// What an update or delete finds when it asks for its turn.
pub(crate) enum Turn {
    /// Every earlier operation on the account has finished; the operation's
    /// target is the provider event they left.
    Ready,
    /// An update whose account already holds the latest version: nothing to
    /// write.
    Current,
    /// An update with a cancel recorded after it on the account.
    Superseded,
    /// Every earlier operation has finished and left no provider event on
    /// the account; says why.
    Nothing(String),
    /// An earlier operation is held elsewhere: try again at this time.
    Later(DateTime<Utc>),
}

/// Waits until every operation recorded before `op` for the same synced
/// event and account has finished, then sets `op.target` to the provider
/// event they left and, for an update, `op.details` to the synced event's
/// details as they are now.
pub(crate) async fn take_turn(engine: &Arc<Engine>, op: &mut Operation) -> Result<Turn> {
    // An earlier operation found neither running here nor finished, once:
    // it may have finished between the two looks, so the store is read again.
    let mut not_here: Option<OperationId> = None;
    loop {
        let operations = engine.store.operations_of_event(&op.event).await?;
        if op.kind == OperationKind::Update && cancelled_after(&operations, op) {
            return Ok(Turn::Superseded);
        }
        let earlier = earlier_on_account(&operations, op);
        let Some(unfinished) = earlier
            .iter()
            .find(|other| other.status == OperationStatus::Pending)
        else {
            let synced = engine.store.get_synced_event(&op.event).await?;
            op.target = current_target(synced.as_ref(), &earlier, op);
            if op.kind == OperationKind::Update
                && let Some(synced) = &synced
            {
                // When the account holds the version right before this
                // update's, the fields the update recorded are exactly
                // those that differ; otherwise every field is written.
                let recorded = std::mem::take(&mut op.changed_fields);
                let exact = op.version == synced.version
                    && !recorded.is_empty()
                    && op
                        .target
                        .as_ref()
                        .is_some_and(|target| target.version + 1 == synced.version);
                desire(op, synced);
                if exact {
                    op.changed_fields = recorded;
                }
                if op
                    .target
                    .as_ref()
                    .is_some_and(|target| target.version >= synced.version)
                {
                    return Ok(Turn::Current);
                }
            }
            return Ok(match op.target {
                Some(_) => Turn::Ready,
                None => Turn::Nothing(why_nothing(&earlier)),
            });
        };
        if op.kind == OperationKind::Delete
            && unfinished.kind == OperationKind::Update
            && supersede_waiting(engine, unfinished).await?
        {
            not_here = None;
            continue;
        }
        let running = lock(&engine.running).get(&unfinished.id).cloned();
        match running {
            Some(mut receiver) => {
                not_here = None;
                // Nothing is ever sent: this returns once the sender is dropped.
                while receiver.changed().await.is_ok() {}
            }
            None if not_here.as_ref() == Some(&unfinished.id) => {
                return Ok(Turn::Later(retry_at(engine, unfinished)));
            }
            None => not_here = Some(unfinished.id.clone()),
        }
    }
}

/// Sets an update to write the desired state: calsync's fields as they are
/// now, all of them, with their version; never a diff against a record that
/// may be ahead of (or behind) what the account holds. So the last update to
/// run on an account writes the latest details, and an update sent again
/// repairs an account that missed one.
pub(crate) fn desire(op: &mut Operation, synced: &SyncedEvent) {
    op.details = synced.event.clone();
    op.version = synced.version;
    op.changed_fields = EVENT_FIELDS
        .iter()
        .map(|field| (*field).to_owned())
        .collect();
}

/// Whether a cancel (a delete) was recorded on `op`'s account after it
/// (`operations` is the event's, oldest first).
pub(crate) fn cancelled_after(operations: &[Operation], op: &Operation) -> bool {
    operations
        .iter()
        .skip_while(|other| other.id != op.id)
        .any(|other| other.account == op.account && other.kind == OperationKind::Delete)
}

/// A cancel asks for its turn behind an update still waiting on the account:
/// the update is superseded. One running in this instance is woken from its
/// wait between attempts and supersedes itself (a call in flight ends
/// first), and is waited for as any earlier operation; one held by no live
/// lease is superseded here. Answers whether it was.
async fn supersede_waiting(engine: &Arc<Engine>, update: &Operation) -> Result<bool> {
    if lock(&engine.running).contains_key(&update.id) {
        engine.nudge();
        return Ok(false);
    }
    let free = update
        .lease_until
        .is_none_or(|until| until <= engine.clock.now())
        || update.lease_owner.as_deref() == Some(engine.instance.as_str());
    if !free {
        return Ok(false);
    }
    let mut update = update.clone();
    supersede(engine, &mut update).await?;
    Ok(true)
}

/// The operations recorded before `op` on its account (`operations` is the
/// event's, oldest first).
fn earlier_on_account<'a>(operations: &'a [Operation], op: &Operation) -> Vec<&'a Operation> {
    // A sweep runs on its own, a while after what it follows; nothing waits for it.
    operations
        .iter()
        .take_while(|other| other.id != op.id)
        .filter(|other| other.account == op.account && other.kind != OperationKind::Sweep)
        .collect()
}

/// The account's provider event: as the synced event records it, else as
/// the last earlier operation left it (the synced event is gone when a
/// cancel removed it while the account's create still ran).
fn current_target(
    synced: Option<&SyncedEvent>,
    earlier: &[&Operation],
    op: &Operation,
) -> Option<ProviderEventRef> {
    if let Some(reference) = synced.and_then(|event| event.provider_ids.get(&op.account)) {
        return Some(reference.clone());
    }
    earlier
        .iter()
        .filter(|other| other.status == OperationStatus::Succeeded)
        .fold(None, |current, other| match other.kind {
            OperationKind::Create | OperationKind::Update => other.result.clone().or(current),
            OperationKind::Delete => None,
            OperationKind::Sweep => current,
        })
}

/// Why the account has no provider event, from its last earlier create or
/// delete.
fn why_nothing(earlier: &[&Operation]) -> String {
    let last = earlier
        .iter()
        .rev()
        .find(|other| other.kind != OperationKind::Update);
    match last {
        Some(last)
            if last.kind == OperationKind::Create && last.status == OperationStatus::Failed =>
        {
            format!(
                "the event was never made on this account: its create failed ({})",
                last.last_error.as_deref().unwrap_or("no reason recorded")
            )
        }
        Some(last)
            if last.kind == OperationKind::Delete && last.status == OperationStatus::Succeeded =>
        {
            "the event was already deleted from this account".to_owned()
        }
        _ => "the account holds no provider event of this synced event".to_owned(),
    }
}

/// When to look again for an earlier operation held elsewhere: once its
/// holder's lease ends or it is due (a resume may then take up both), but
/// no sooner than the first retry backoff and no later than the longest.
fn retry_at(engine: &Engine, earlier: &Operation) -> DateTime<Utc> {
    let now = engine.clock.now();
    let span = |wait: std::time::Duration| chrono::Duration::from_std(wait).unwrap_or_default();
    let free = earlier
        .lease_until
        .map_or(earlier.next_attempt_at, |lease| {
            lease.max(earlier.next_attempt_at)
        });
    let latest = now + span(engine.config.retry.cap);
    let soonest = now + span(engine.config.retry.base);
    free.min(latest).max(soonest)
}
