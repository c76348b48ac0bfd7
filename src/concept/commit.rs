//! commit: intent recorded first, providers called concurrently, each
//! outcome recorded, partial failure reported per account.

use super::CalendarSync;
use super::recorded::{Recorded, operation_ids};
use crate::engine::{Intent, is_connected, results, run_known_until, run_until};
use crate::error::{Error, Result};
use crate::model::{
    AccountId, EventDetails, EventId, Provider, SyncOutcome, SyncResultStatus, SyncedEvent, UserId,
};
use crate::operations::{Operation, OperationKind, OperationStatus};
use std::collections::{BTreeMap, BTreeSet};

impl CalendarSync {
    /// Commits an event to every given account at once.
    ///
    /// # Requires
    /// - the event is validated (every field obeys its rule);
    /// - `accounts` is not empty, and every account exists and belongs to `user`;
    /// - every account is connected.
    ///
    /// # Effects
    /// Records one operation per account (with an idempotency key) before any
    /// provider is called, then creates the event in each provider's calendar
    /// concurrently. The synced event maps its internal id to each provider's
    /// event id, and `syncedAt` is set. The answer says, per account,
    /// succeeded (with the provider's id), failed (the provider refused the
    /// event, with its reason) or pending (still being retried in the
    /// background: a transient failure never fails a create, nor puts the
    /// account in error).
    ///
    /// # Errors
    /// - [`Error::Invalid`]: the event is not valid, or `accounts` is empty;
    /// - [`Error::AccountNotFound`]: an account does not exist or is another user's;
    /// - [`Error::AccountNotConnected`]: an account is disconnected or in error;
    /// - [`Error::AllProvidersFailed`]: every provider refused the event (the
    ///   refusals are recorded; no synced event is kept).
    pub async fn commit(
        &self,
        user: &UserId,
        event: &EventDetails,
        accounts: &[AccountId],
    ) -> Result<SyncOutcome> {
        let recorded = self.commit_keyed(user, event, accounts, None, None).await?;
        Ok(recorded.outcome)
    }

    /// [`CalendarSync::commit`], with the copy on `inviting` sending the
    /// invitations to the attendees (by default the first calendar account,
    /// in the order of their ids, does); the other copies carry the
    /// attendees without inviting them again.
    ///
    /// # Errors
    /// Those of commit; [`Error::Invalid`] when `inviting` is not one of
    /// `accounts`' calendar accounts.
    pub async fn commit_inviting_from(
        &self,
        user: &UserId,
        event: &EventDetails,
        accounts: &[AccountId],
        inviting: &AccountId,
    ) -> Result<SyncOutcome> {
        let recorded = self
            .commit_keyed(user, event, accounts, None, Some(inviting))
            .await?;
        Ok(recorded.outcome)
    }

    /// [`CalendarSync::commit`] made repeatable: the synced event's id and
    /// each account's idempotency key are derived from (`user`, `key`[,
    /// account]) instead of drawn at random, so committing the same `key`
    /// again (after a crash, or a second run of an import) finds the events
    /// the first attempt created instead of creating them twice, and records
    /// them under the same synced event. Requires, effects and errors are
    /// those of commit; `key` must not be empty.
    pub async fn commit_with_key(
        &self,
        user: &UserId,
        event: &EventDetails,
        accounts: &[AccountId],
        key: &str,
    ) -> Result<SyncOutcome> {
        Ok(self
            .commit_with_key_recorded(user, event, accounts, key, None)
            .await?
            .outcome)
    }

    /// [`CalendarSync::commit_with_key`], also answering the operations the
    /// call recorded, with the invitations sent from `inviting` when given.
    pub(crate) async fn commit_with_key_recorded(
        &self,
        user: &UserId,
        event: &EventDetails,
        accounts: &[AccountId],
        key: &str,
        inviting: Option<&AccountId>,
    ) -> Result<Recorded> {
        if key.is_empty() {
            return Err(Error::invalid("key", "must not be empty"));
        }
        self.commit_keyed(user, event, accounts, Some(key), inviting)
            .await
    }

    /// The synced event id [`CalendarSync::commit_with_key`] gives `key`.
    pub fn keyed_event_id(user: &UserId, key: &str) -> EventId {
        let digest = digest(&[user.as_str(), key]);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        EventId(
            uuid::Builder::from_custom_bytes(bytes)
                .into_uuid()
                .to_string(),
        )
    }

    async fn commit_keyed(
        &self,
        user: &UserId,
        event: &EventDetails,
        accounts: &[AccountId],
        key: Option<&str>,
        inviting: Option<&AccountId>,
    ) -> Result<Recorded> {
        user.check()?;
        event.validate().map_err(|error| error.under("event"))?;
        if accounts.is_empty() {
            return Err(Error::invalid("accounts", "must name at least one account"));
        }
        let targets: BTreeSet<&AccountId> = accounts.iter().collect();
        if inviting.is_some_and(|inviting| !targets.contains(inviting)) {
            return Err(Error::invalid(
                "invitingAccount",
                "must be one of the accounts the event is committed to",
            ));
        }
        let mut has_meeting_account = false;
        let mut records = Vec::with_capacity(targets.len());
        for account in targets {
            let record = self.engine.owned_account(user, account).await?;
            if !is_connected(&record) {
                return Err(Error::AccountNotConnected {
                    account: account.clone(),
                    status: record.account.sync_status,
                    reason: record.account.error.as_ref().map(|e| e.reason.clone()),
                });
            }
            self.engine.adapter(record.account.provider)?;
            has_meeting_account |= record.account.provider == Provider::Zoom;
            records.push(record);
        }
        let inviter = match inviting {
            Some(inviting) => {
                let named = records.iter().find(|r| &r.account.id == inviting);
                if named.is_some_and(|r| r.account.provider == Provider::Zoom) {
                    return Err(Error::invalid(
                        "invitingAccount",
                        "must be a calendar account (a zoom meeting sends no invitations)",
                    ));
                }
                Some(inviting.clone())
            }
            None => records
                .iter()
                .find(|r| r.account.provider != Provider::Zoom)
                .map(|r| r.account.id.clone()),
        };
        if event.virtual_meeting && !has_meeting_account {
            return Err(Error::invalid(
                "event.virtualMeeting",
                "needs a zoom account among the accounts, to make the meeting link",
            ));
        }
        let internal_id = match key {
            Some(key) => Self::keyed_event_id(user, key),
            None => EventId::fresh(),
        };
        let now = self.engine.now();
        let operations: Vec<Operation> = records
            .iter()
            .map(|record| {
                let mut op = self.engine.new_operation(Intent {
                    user,
                    event: &internal_id,
                    account: &record.account.id,
                    provider: record.account.provider,
                    kind: OperationKind::Create,
                    details: event,
                    target: None,
                });
                if let Some(key) = key {
                    op.idempotency_key =
                        hex(&digest(&[user.as_str(), key, record.account.id.as_str()])[..16]);
                }
                op.invites = inviter.as_ref() == Some(&record.account.id);
                op
            })
            .collect();
        self.engine.store().insert_operations(&operations).await?;
        let recorded = operation_ids(&operations);
        let finished = if event.virtual_meeting {
            self.run_meeting_first(operations).await?
        } else {
            let known = operations.into_iter().zip(records.into_iter().map(Some));
            run_known_until(
                &self.engine,
                known.collect(),
                Some(self.engine.answer_deadline()),
            )
            .await
        };
        let results = results(&finished);
        if results
            .values()
            .all(|r| r.status == SyncResultStatus::Failed)
        {
            return Err(Error::AllProvidersFailed(results));
        }
        let placeholder = SyncedEvent {
            internal_id: internal_id.clone(),
            user: user.clone(),
            accounts: BTreeSet::new(),
            provider_ids: BTreeMap::new(),
            synced_at: now,
            event: event.clone(),
            version: crate::model::FIRST_VERSION,
        };
        let outcome = self.outcome(&internal_id, placeholder, results).await?;
        Ok(Recorded::new(outcome, recorded))
    }

    /// Makes the video meeting first, then the calendar copies. A meeting
    /// made in time puts its link into the event (see the engine's
    /// meetings), and each calendar create writes the event with it. The
    /// copies wait for the meeting half the answer time at most: one made
    /// later brings every copy to its link then, by itself.
    async fn run_meeting_first(&self, operations: Vec<Operation>) -> Result<Vec<Operation>> {
        let now = self.engine.now();
        let deadline = self.engine.answer_deadline();
        let halfway = now + (deadline - now) / 2;
        let (meetings, calendars): (Vec<_>, Vec<_>) = operations
            .into_iter()
            .partition(|op| self.engine.is_meeting_service(op.provider));
        let meetings = run_until(&self.engine, meetings, Some(halfway)).await;
        let mut finished = run_until(&self.engine, calendars, Some(deadline)).await;
        // A meeting still being made when the copies started is answered as
        // it stands now.
        for meeting in meetings {
            let latest = match meeting.status {
                OperationStatus::Pending => self.engine.store().get_operation(&meeting.id).await?,
                _ => None,
            };
            finished.push(latest.unwrap_or(meeting));
        }
        Ok(finished)
    }
}

/// SHA-256 of `parts`, each ended by a NUL so that no two lists collide.
fn digest(parts: &[&str]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

/// Lowercase hex: a valid Google client-chosen id and CalDAV resource name.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
