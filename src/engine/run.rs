//! Carrying out operations: one provider call per operation, retried with
//! backoff, each outcome recorded in the store before it is reported.

use super::calls::PROVIDER_RETRIES;
use super::late::{may_have_landed, settle_uncertain_create, sweep};
use super::order::{Running, Turn, cancelled_after, desire, take_turn};
use super::outcome::{give_up, park, record_failure, step_back, succeed, supersede};
use super::{Engine, ProviderCall, lock};
use crate::error::Result;
use crate::model::{
    AccountId, AccountRecord, ProviderEventRef, SyncResult, SyncResultStatus, SyncStatus,
};
use crate::operations::{Operation, OperationKind, OperationStatus};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult, WriteContext};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Runs `operations` in the background, one task each, and waits for them
/// until `deadline`; answers each operation as it stood when it finished or
/// when the deadline came (then still pending).
pub(crate) async fn run_until(
    engine: &Arc<Engine>,
    operations: Vec<Operation>,
    deadline: Option<DateTime<Utc>>,
) -> Vec<Operation> {
    let operations = operations.into_iter().map(|op| (op, None)).collect();
    run_known_until(engine, operations, deadline).await
}

/// As [`run_until`], each operation with its account's record when the
/// caller has just read it (the first attempt then does not read it again;
/// retries do, since the account may change meanwhile).
pub(crate) async fn run_known_until(
    engine: &Arc<Engine>,
    operations: Vec<(Operation, Option<AccountRecord>)>,
    deadline: Option<DateTime<Utc>>,
) -> Vec<Operation> {
    let mut waiting = Vec::with_capacity(operations.len());
    // All are marked running before any starts, so that a later operation
    // on an account waits for an earlier one of the same batch.
    let marked: Vec<_> = operations
        .into_iter()
        .map(|(operation, record)| {
            let running = Running::mark(engine, &operation.id);
            (operation, record, running)
        })
        .collect();
    {
        let mut tasks = lock(&engine.tasks);
        for (operation, record, running) in marked {
            let (sender, receiver) = oneshot::channel();
            let task_engine = engine.clone();
            let started = operation.clone();
            tasks.spawn(async move {
                let finished = run(&task_engine, started, record).await;
                drop(running);
                // The caller may have stopped waiting; the outcome is in the store.
                let _ = sender.send(finished);
            });
            waiting.push((operation, receiver));
        }
    }
    let mut answers = Vec::with_capacity(waiting.len());
    for (operation, mut receiver) in waiting {
        let answer = match deadline {
            Some(deadline) => tokio::select! {
                biased;
                finished = &mut receiver => finished.ok(),
                () = engine.clock.sleep_until(deadline) => None,
            },
            None => receiver.await.ok(),
        };
        match answer {
            Some(finished) => answers.push(finished),
            None => {
                // Still running: answer it as last recorded (pending).
                let latest = match engine.store.get_operation(&operation.id).await {
                    Ok(latest) => latest,
                    Err(error) => {
                        tracing::warn!(operation = %operation.id, %error, "cannot read the operation's progress");
                        None
                    }
                };
                answers.push(latest.unwrap_or(operation));
            }
        }
    }
    answers
}

/// Starts `operations` in the background, without waiting for them: their
/// outcomes are in the store. For operations recorded while another one
/// finishes (a meeting's link brought to the calendar copies).
pub(crate) fn start(engine: &Arc<Engine>, operations: Vec<Operation>) {
    let marked: Vec<_> = operations
        .into_iter()
        .map(|operation| {
            let running = Running::mark(engine, &operation.id);
            (operation, running)
        })
        .collect();
    let mut tasks = lock(&engine.tasks);
    for (operation, running) in marked {
        let task_engine = engine.clone();
        // Boxed: this runs inside an operation's own run.
        let future: std::pin::Pin<Box<dyn std::future::Future<Output = Operation> + Send>> =
            Box::pin(async move { run(&task_engine, operation, None).await });
        tasks.spawn(async move {
            future.await;
            drop(running);
        });
    }
}

/// What each operation's outcome means for the answer.
pub(crate) fn results(operations: &[Operation]) -> BTreeMap<AccountId, SyncResult> {
    operations
        .iter()
        .map(|op| {
            let event_id = op
                .result
                .as_ref()
                .or(op.target.as_ref())
                .map(|reference| reference.event_id.clone());
            let result = match op.status {
                OperationStatus::Succeeded => SyncResult {
                    status: SyncResultStatus::Succeeded,
                    reason: None,
                    event_id,
                },
                OperationStatus::Superseded => SyncResult {
                    status: SyncResultStatus::Succeeded,
                    reason: Some("superseded: the event was cancelled after it".to_owned()),
                    event_id,
                },
                OperationStatus::Failed => SyncResult {
                    status: SyncResultStatus::Failed,
                    reason: op.last_error.clone(),
                    event_id: None,
                },
                OperationStatus::Pending => SyncResult {
                    status: SyncResultStatus::Pending,
                    reason: Some(op.last_error.clone().map_or_else(
                        || "in progress".to_owned(),
                        |error| format!("retrying after: {error}"),
                    )),
                    event_id: None,
                },
            };
            (op.account.clone(), result)
        })
        .collect()
}

/// Carries out one operation until it succeeds, fails for good, or the
/// store cannot record it (then it stays pending for a later resume).
pub(crate) async fn run(
    engine: &Arc<Engine>,
    mut op: Operation,
    record: Option<AccountRecord>,
) -> Operation {
    match drive(engine, &mut op, record).await {
        Ok(()) => op,
        Err(error) => {
            tracing::error!(operation = %op.id, %error, "operation left pending: the store failed");
            op
        }
    }
}

async fn drive(
    engine: &Arc<Engine>,
    op: &mut Operation,
    mut known: Option<AccountRecord>,
) -> Result<()> {
    if matches!(op.kind, OperationKind::Update | OperationKind::Delete) {
        match take_turn(engine, op).await? {
            Turn::Ready => {}
            Turn::Current => {
                let current = op.target.clone();
                return succeed(engine, op, current).await;
            }
            Turn::Superseded => return supersede(engine, op).await,
            Turn::Later(at) => return step_back(engine, op, at).await,
            Turn::Nothing(why) if op.kind == OperationKind::Delete => {
                tracing::debug!(operation = %op.id, %why, "nothing to delete");
                return succeed(engine, op, None).await;
            }
            Turn::Nothing(why) => {
                return record_failure(engine, op, Some(format!("not updated: {why}"))).await;
            }
        }
    }
    loop {
        if op.kind == OperationKind::Update && op.attempts > 0 {
            match look_again(engine, op).await? {
                Again::Write => {}
                Again::Current => {
                    let current = op.target.clone();
                    return succeed(engine, op, current).await;
                }
                Again::Superseded => return supersede(engine, op).await,
            }
        }
        let record = match known.take() {
            Some(record) => Some(record),
            None => engine.store.get_account(&op.account).await?,
        };
        let Some(record) = record else {
            return record_failure(engine, op, Some("the account no longer exists".to_owned()))
                .await;
        };
        let status = record.account.sync_status;
        if status != SyncStatus::Connected {
            let reason = format!(
                "account is {}{}",
                status.as_str(),
                record
                    .account
                    .error
                    .as_ref()
                    .map(|e| format!(": {}", e.reason))
                    .unwrap_or_default()
            );
            if status == SyncStatus::Disconnected {
                return give_up(engine, op, reason).await;
            }
            // In error: the work waits for the account to come back.
            let wait = engine.config.retry.park;
            return park(engine, op, reason, wait).await;
        }
        super::meetings::adopt_latest(engine, op).await?;
        let outcome = attempt(engine, &record, op).await?;
        match outcome {
            Ok(reference) => {
                engine.provider_answered(&op.account);
                return succeed(engine, op, reference).await;
            }
            Err(error) => {
                if let Some(wait) = failed_attempt(engine, op, &error).await? {
                    let mut nudges = engine.nudges.subscribe();
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        // A cancel recorded meanwhile may make this moot.
                        _ = nudges.changed(), if op.kind == OperationKind::Update => {}
                    }
                } else {
                    return Ok(());
                }
            }
        }
    }
}

/// What an update that failed an attempt finds when it looks again.
enum Again {
    /// Write the (possibly newer) desired state.
    Write,
    /// The account already holds the latest version.
    Current,
    /// A cancel was recorded after it on the account.
    Superseded,
}

/// Before an update tries again: a cancel recorded since supersedes it, and
/// an update recorded since makes it write the newer details (with their
/// version) in this attempt, so that the later update finds nothing to do.
async fn look_again(engine: &Arc<Engine>, op: &mut Operation) -> Result<Again> {
    let operations = engine.store.operations_of_event(&op.event).await?;
    if cancelled_after(&operations, op) {
        return Ok(Again::Superseded);
    }
    let Some(synced) = engine.store.get_synced_event(&op.event).await? else {
        return Ok(Again::Write);
    };
    desire(op, &synced);
    if let Some(current) = synced.provider_ids.get(&op.account) {
        op.target = Some(current.clone());
        if current.version >= synced.version {
            return Ok(Again::Current);
        }
    }
    Ok(Again::Write)
}

async fn attempt(
    engine: &Arc<Engine>,
    record: &AccountRecord,
    op: &Operation,
) -> Result<ProviderResult<Option<ProviderEventRef>>> {
    if op.kind == OperationKind::Sweep {
        return sweep(engine, record, op).await;
    }
    let adapter = engine.adapter(record.account.provider)?;
    let context = WriteContext {
        idempotency_key: op.idempotency_key.clone(),
        synced_id: op.event.clone(),
        invite_attendees: invites(engine, op).await?,
        retry: op.kind == OperationKind::Create && (op.uncertain || op.attempts > 0 || op.taken_up),
    };
    let call = match op.kind {
        OperationKind::Create => ProviderCall::Create,
        OperationKind::Update => ProviderCall::Update,
        OperationKind::Delete => ProviderCall::Delete,
        OperationKind::Sweep => ProviderCall::Find,
    };
    let answer = engine
        .call_account(record, call, |session| {
            let adapter = adapter.clone();
            let context = context.clone();
            async move {
                match op.kind {
                    OperationKind::Create => adapter
                        .create(&session, &op.details, &context)
                        .await
                        .map(Some),
                    OperationKind::Update => {
                        let target = target(op)?;
                        adapter
                            .update(&session, &target, &op.details, &op.changed_fields, &context)
                            .await
                            .map(Some)
                    }
                    // A sweep was carried out above; it has no target here.
                    OperationKind::Delete | OperationKind::Sweep => {
                        let target = target(op)?;
                        match adapter.delete(&session, &target, &context).await {
                            Err(error) if error.kind == ProviderErrorKind::NotFound => Ok(None),
                            other => other.map(|()| None),
                        }
                    }
                }
            }
        })
        .await?;
    Ok(answer)
}

/// Whether `op`'s copy sends the invitations: the attendees are invited
/// once, from the account commit chose (the one the app named, else the
/// first calendar account), never again from the other copies. Creates
/// recorded before that choice was kept invite from the first account.
async fn invites(engine: &Arc<Engine>, op: &Operation) -> Result<bool> {
    if op.details.attendees.is_empty() || op.kind == OperationKind::Sweep {
        return Ok(false);
    }
    let operations = engine.store.operations_of_event(&op.event).await?;
    let mut creates = operations
        .iter()
        .filter(|other| other.kind == OperationKind::Create);
    let chosen = creates
        .clone()
        .find(|create| create.invites)
        .or_else(|| creates.next())
        .map(|create| &create.account);
    Ok(chosen == Some(&op.account))
}

fn target(op: &Operation) -> ProviderResult<ProviderEventRef> {
    op.target.clone().ok_or_else(|| {
        ProviderError::new(
            ProviderErrorKind::Rejected,
            "the operation has no provider event to act on",
        )
    })
}

/// Records a failed attempt; answers how long to wait before the next one,
/// or `None` when the operation has failed for good.
async fn failed_attempt(
    engine: &Arc<Engine>,
    op: &mut Operation,
    error: &ProviderError,
) -> Result<Option<std::time::Duration>> {
    op.attempts += 1;
    if op.kind == OperationKind::Create && may_have_landed(error.kind) {
        op.uncertain = true;
    }
    let reason = format!("{}: {}", error.kind.as_str(), error.message);
    if error.kind == ProviderErrorKind::LimitReached {
        // The provider answered: the account is fine, its allowance for the
        // period is spent. The work waits, unclaimed, until the period ends.
        engine.provider_answered(&op.account);
        let wait = error
            .retry_after
            .unwrap_or_else(|| engine.config.retry.parked(op.attempts));
        park(engine, op, reason, wait).await?;
        return Ok(None);
    }
    if error.kind == ProviderErrorKind::Misconfigured {
        // The deployment's own settings were refused (its OAuth client): no
        // outage of this account, whose work waits until an operator fixes them.
        tracing::error!(account = %op.account, provider = op.provider.as_str(), %error, "the provider refused the deployment's settings");
    } else if error.kind.is_transient() {
        engine.failed_transiently(&op.account, error).await?;
    } else {
        engine.provider_answered(&op.account);
        // Refused credentials (an access token refused even after a refresh,
        // or a refused refresh token) mean the grant is gone.
        engine.mark_if_refused(&op.account, error).await?;
        if op.kind == OperationKind::Create && op.uncertain {
            settle_uncertain_create(engine, op, reason).await?;
        } else {
            give_up(engine, op, reason).await?;
        }
        return Ok(None);
    }
    if engine.config.retry.round_spent(op.attempts) {
        // A transient failure never drops the work nor marks the account:
        // the operation stays pending, for a later resume.
        let wait = engine
            .config
            .retry
            .parked(op.attempts)
            .max(error.retry_after.unwrap_or_default());
        park(engine, op, reason, wait).await?;
        return Ok(None);
    }
    metrics::counter!(PROVIDER_RETRIES, "provider" => op.provider.as_str()).increment(1);
    let wait = engine
        .config
        .retry
        .backoff(op.attempts, error.retry_after)
        .min(super::LONGEST_WAIT);
    let now = engine.clock.now();
    let due = super::later(now, wait);
    op.last_error = Some(reason);
    op.next_attempt_at = due;
    op.lease_until = Some(engine.lease_from(due));
    op.lease_owner = Some(engine.instance.clone());
    op.updated_at = now;
    engine.store.update_operation(op).await?;
    Ok(Some(wait))
}
