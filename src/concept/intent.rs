//! What commit, update and cancel share: planning one operation per account
//! of a synced event, and the answer they give.

use super::CalendarSync;
use crate::engine::{Intent, results, run_until};
use crate::error::Result;
use crate::model::{
    AccountId, EventDetails, EventId, Provider, ProviderEventRef, SyncOutcome, SyncResult,
    SyncResultStatus, SyncStatus, SyncedEvent,
};
use crate::operations::{Operation, OperationKind, OperationStatus};
use std::collections::BTreeMap;

impl CalendarSync {
    /// One operation per account of the event that is connected or in
    /// error; disconnected and removed accounts are skipped.
    ///
    /// The accounts are those holding the event and those with an operation
    /// of it still pending (a create the commit answered as pending): each
    /// operation runs after the earlier ones of its account and acts on the
    /// provider event they leave (see the engine's per-account order).
    pub(super) async fn plan(
        &self,
        synced: &SyncedEvent,
        kind: OperationKind,
        details: &EventDetails,
        changed: &[String],
    ) -> Result<(Vec<Operation>, BTreeMap<AccountId, SyncResult>)> {
        let mut accounts: BTreeMap<AccountId, (Provider, Option<ProviderEventRef>)> = synced
            .provider_ids
            .iter()
            .map(|(account, reference)| {
                (
                    account.clone(),
                    (reference.provider, Some(reference.clone())),
                )
            })
            .collect();
        for earlier in self
            .engine
            .store()
            .operations_of_event(&synced.internal_id)
            .await?
        {
            if earlier.status == OperationStatus::Pending && earlier.kind != OperationKind::Sweep {
                accounts
                    .entry(earlier.account)
                    .or_insert((earlier.provider, None));
            }
        }
        let mut operations = Vec::new();
        let mut skipped = BTreeMap::new();
        for (account, (provider, reference)) in accounts {
            let record = self.engine.store().get_account(&account).await?;
            match record {
                // An account in error gets its operation too: it waits,
                // pending, until the account comes back.
                Some(record) if record.account.sync_status != SyncStatus::Disconnected => {
                    let mut op = self.engine.new_operation(Intent {
                        user: &synced.user,
                        event: &synced.internal_id,
                        account: &account,
                        provider,
                        kind,
                        details,
                        target: reference,
                    });
                    op.changed_fields = changed.to_vec();
                    operations.push(op);
                }
                other => {
                    let reason = match other {
                        Some(record) => format!(
                            "skipped: account is {}",
                            record.account.sync_status.as_str()
                        ),
                        None => "skipped: account no longer exists".to_owned(),
                    };
                    skipped.insert(
                        account,
                        SyncResult {
                            status: SyncResultStatus::Skipped,
                            reason: Some(reason),
                            event_id: reference.map(|reference| reference.event_id),
                        },
                    );
                }
            }
        }
        Ok((operations, skipped))
    }

    /// Runs the recorded `operations` until the answer deadline, and answers
    /// with their results beside those of the accounts `skipped`.
    pub(super) async fn run_and_answer(
        &self,
        operations: Vec<Operation>,
        mut skipped: BTreeMap<AccountId, SyncResult>,
        fallback: SyncedEvent,
    ) -> Result<SyncOutcome> {
        let id = fallback.internal_id.clone();
        let deadline = self.engine.answer_deadline();
        let finished = run_until(&self.engine, operations, Some(deadline)).await;
        skipped.extend(results(&finished));
        self.outcome(&id, fallback, skipped).await
    }

    /// The answer: the synced event as stored now (or `fallback` when it is
    /// gone or not yet stored) and the results.
    pub(super) async fn outcome(
        &self,
        id: &EventId,
        fallback: SyncedEvent,
        results: BTreeMap<AccountId, SyncResult>,
    ) -> Result<SyncOutcome> {
        let stored = match self.engine.store().get_synced_event(id).await? {
            Some(event) => Some(self.engine.with_pending(event).await?),
            None => None,
        };
        Ok(SyncOutcome {
            stored: stored.is_some(),
            synced_event: stored.unwrap_or(fallback),
            results,
        })
    }
}
