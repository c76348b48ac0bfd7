//! Leases, and taking up operations after a crash or restart.
//!
//! An instance holds each operation it runs by a lease in the store (owner
//! and end). When an instance dies, its operations stay pending; once their
//! leases end, any instance's resume takes them up and carries them out,
//! re-sending creates with their idempotency keys so nothing is made twice.

use super::{Engine, lock, run};
use crate::error::Result;
use crate::model::AccountId;
use crate::operations::Operation;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How many due operations one claim takes from the store.
const CLAIM_BATCH: usize = 64;

impl Engine {
    /// The end of a lease taken at `at`.
    pub(crate) fn lease_from(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at + chrono::Duration::from_std(self.config.lease)
            .unwrap_or_else(|_| chrono::Duration::minutes(2))
    }

    /// Takes up every operation that is due and not held by a live instance,
    /// carries each out, and answers them as they ended.
    pub(crate) async fn resume(self: &Arc<Self>) -> Result<Vec<Operation>> {
        let mut done = Vec::new();
        loop {
            let now = self.clock.now();
            let claimed = self
                .store
                .claim_due_operations(now, &self.instance, self.lease_from(now), CLAIM_BATCH)
                .await?;
            if claimed.is_empty() {
                return Ok(done);
            }
            let claimed = claimed
                .into_iter()
                .map(|mut op| {
                    op.taken_up = true;
                    op
                })
                .collect();
            done.extend(run::run_until(self, claimed, None).await);
        }
    }

    /// An account is connected again: the operations that waited for it (in
    /// error, or backing off round after round) are due now, and are taken
    /// up at once in the background, without waiting for a client call or
    /// the next resumer pass.
    pub(crate) async fn account_back(self: &Arc<Self>, account: &AccountId) -> Result<()> {
        let now = self.clock.now();
        let woken = self.store.wake_operations_of_account(account, now).await?;
        if woken > 0 {
            tracing::info!(%account, operations = woken, "account back: its waiting operations run now");
            let engine = self.clone();
            lock(&self.tasks).spawn(async move {
                if let Err(error) = engine.resume().await {
                    tracing::warn!(%error, "resuming operations failed; the resumer will try again");
                }
            });
        }
        Ok(())
    }

    /// One pass of the background work: probes the accounts in error for an
    /// outage whose probe is due (bringing back those whose provider
    /// answers), then resumes what is due.
    pub(crate) async fn tend(self: &Arc<Self>) -> Result<Vec<Operation>> {
        self.probe_outages().await?;
        self.resume().await
    }

    /// Runs [`Engine::tend`] every `every` while `alive` can be upgraded.
    pub(crate) fn spawn_resumer<T: Send + Sync + 'static>(
        self: &Arc<Self>,
        every: Duration,
        alive: Weak<T>,
    ) {
        let engine = self.clone();
        lock(&self.tasks).spawn(async move {
            loop {
                let Some(held) = alive.upgrade() else { return };
                if let Err(error) = engine.tend().await {
                    tracing::warn!(%error, "resuming operations failed; will try again");
                }
                drop(held);
                tokio::time::sleep(every).await;
            }
        });
    }
}
