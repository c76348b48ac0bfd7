//! Outages: the one rule by which transient failures put an account in
//! `error`, and the probe that brings it back.
//!
//! A transient failure (a timeout, 5xx, 423, 429) never puts an account in
//! `error` by itself. When every provider call of an account's operations
//! has failed transiently for [`crate::Config::outage_after`] with no answer
//! from the provider in between, the account goes to `error` as an outage:
//! its operations stop calling the provider and wait. The probe, run before
//! every resume pass, validates each account in error for an outage whose
//! probe is due, first at once and then with a doubling interval from
//! [`crate::Config::probe_every`] up to [`PROBE_CAP`]; when the provider
//! answers, the account is connected again and its waiting operations run
//! at once. A refusal a person must act on turns the outage into that error.
//!
//! The failure streaks and probe times live in memory: after a restart a
//! streak starts again, and every account in error for an outage is probed
//! on the first pass.

use super::{Engine, ProviderCall, lock, reauthorization_reason};
use crate::error::Result;
use crate::model::{AccountId, SyncStatus};
use crate::providers::{Adapter, ProviderError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// The longest wait between two probes of an account in error for an outage.
pub const PROBE_CAP: Duration = Duration::from_secs(5 * 60);

/// When an account's provider last started failing, and the probe schedule
/// of accounts in error for an outage.
#[derive(Default)]
pub(crate) struct Outages {
    /// Per account, the first transient failure since the provider last answered.
    failing_since: std::collections::HashMap<AccountId, DateTime<Utc>>,
    /// Per account in error for an outage: the next probe and the wait after it.
    probes: std::collections::HashMap<AccountId, (DateTime<Utc>, Duration)>,
}

impl Engine {
    /// The provider answered a call for the account (with success or a
    /// refusal): any failure streak ends.
    pub(crate) fn provider_answered(&self, account: &AccountId) {
        lock(&self.outages).failing_since.remove(account);
    }

    /// A call for the account failed transiently with `error`. Puts the
    /// account in `error` for an outage once its streak of failures has
    /// lasted [`crate::Config::outage_after`].
    pub(crate) async fn failed_transiently(
        &self,
        account: &AccountId,
        error: &ProviderError,
    ) -> Result<()> {
        let now = self.clock.now();
        let since = *lock(&self.outages)
            .failing_since
            .entry(account.clone())
            .or_insert(now);
        let sustained = chrono::Duration::from_std(self.config.outage_after)
            .is_ok_and(|outage| now - since >= outage);
        if sustained {
            let reason = format!(
                "outage: every call has failed since {}; the last: {}: {}",
                since.to_rfc3339(),
                error.kind.as_str(),
                error.message
            );
            tracing::warn!(%account, %reason, "account in error for an outage");
            self.mark_outage(account, reason).await?;
            lock(&self.outages).failing_since.remove(account);
        }
        Ok(())
    }

    /// Probes every account in error for an outage whose probe is due, and
    /// brings back each whose provider answers.
    pub(crate) async fn probe_outages(self: &Arc<Self>) -> Result<()> {
        let now = self.clock.now();
        let down: Vec<_> = self
            .store
            .accounts_in_error()
            .await?
            .into_iter()
            .filter(|record| record.account.error.as_ref().is_some_and(|e| e.outage))
            .collect();
        {
            // Forget the schedules of accounts no longer down.
            let mut outages = lock(&self.outages);
            outages
                .probes
                .retain(|account, _| down.iter().any(|record| &record.account.id == account));
        }
        for record in down {
            let id = record.account.id.clone();
            let due = lock(&self.outages)
                .probes
                .get(&id)
                .is_none_or(|(at, _)| *at <= now);
            if !due {
                continue;
            }
            let Some(adapter) = self.provider(record.account.provider).map(Adapter::account) else {
                continue;
            };
            let answer = self
                .call_account(&record, ProviderCall::Validate, |session| {
                    let adapter = adapter.clone();
                    async move { adapter.validate(&session).await }
                })
                .await?;
            match answer {
                Ok(()) => {
                    lock(&self.outages).probes.remove(&id);
                    tracing::info!(account = %id, "the provider answers again: account connected");
                    self.update_account(&id, |record| {
                        let outage = record.account.error.as_ref().is_some_and(|e| e.outage);
                        if record.account.sync_status == SyncStatus::Error && outage {
                            record.account.sync_status = SyncStatus::Connected;
                            record.account.error = None;
                            record.account.last_sync = Some(now);
                        }
                        Ok(())
                    })
                    .await?;
                    self.account_back(&id).await?;
                }
                Err(error) if error.kind.is_transient() => {
                    let mut outages = lock(&self.outages);
                    let wait = outages
                        .probes
                        .get(&id)
                        .map_or(self.config.probe_every, |(_, wait)| {
                            (*wait * 2).min(PROBE_CAP)
                        })
                        .min(PROBE_CAP);
                    outages.probes.insert(id, (super::later(now, wait), wait));
                }
                Err(error) => {
                    lock(&self.outages).probes.remove(&id);
                    let reason = if error.kind.needs_reauthorization() {
                        reauthorization_reason(&error)
                    } else {
                        error.message
                    };
                    self.mark_error(&id, reason).await?;
                }
            }
        }
        Ok(())
    }
}
