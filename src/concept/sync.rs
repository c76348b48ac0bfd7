//! commit, update and cancel: intent recorded first, providers called
//! concurrently, each outcome recorded, partial failure reported per account.

use super::run::{results, run_known_until, run_until};
use super::{CalendarSync, is_connected};
use crate::error::{Error, Result};
use crate::model::{
    AccountId, EventDetails, EventId, OperationId, Provider, ProviderEventRef, SyncOutcome,
    SyncResult, SyncResultStatus, SyncedEvent, UserId,
};
use crate::operations::{Operation, OperationKind, OperationStatus};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

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
    /// succeeded (with the provider's id), failed (with the reason) or pending
    /// (still being retried in the background).
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
        self.commit_keyed(user, event, accounts, None).await
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
        if key.is_empty() {
            return Err(Error::invalid("key", "must not be empty"));
        }
        self.commit_keyed(user, event, accounts, Some(key)).await
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
    ) -> Result<SyncOutcome> {
        event.validate().map_err(|error| error.under("event"))?;
        if accounts.is_empty() {
            return Err(Error::invalid("accounts", "must name at least one account"));
        }
        let targets: BTreeSet<&AccountId> = accounts.iter().collect();
        let mut has_meeting_account = false;
        let mut records = Vec::with_capacity(targets.len());
        for account in targets {
            let record = self.inner.owned_account(user, account).await?;
            if !is_connected(&record) {
                return Err(Error::AccountNotConnected {
                    account: account.clone(),
                    status: record.account.sync_status.as_str(),
                    reason: record.account.error.as_ref().map(|e| e.reason.clone()),
                });
            }
            self.inner.adapter(record.account.provider)?;
            has_meeting_account |= record.account.provider == Provider::Zoom;
            records.push(record);
        }
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
        let now = self.inner.clock.now();
        let operations: Vec<Operation> = records
            .iter()
            .map(|record| {
                let mut op = self.operation(
                    user,
                    &internal_id,
                    &record.account.id,
                    record.account.provider,
                    OperationKind::Create,
                    event,
                    None,
                );
                if let Some(key) = key {
                    op.idempotency_key =
                        hex(&digest(&[user.as_str(), key, record.account.id.as_str()])[..16]);
                }
                op
            })
            .collect();
        self.inner.store.insert_operations(&operations).await?;
        let finished = if event.virtual_meeting {
            self.run_meeting_first(&internal_id, operations).await?
        } else {
            let known = operations.into_iter().zip(records.into_iter().map(Some));
            run_known_until(&self.inner, known.collect(), Some(self.deadline())).await
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
        };
        self.outcome(&internal_id, placeholder, results).await
    }

    /// Propagates changes of a synced event to every provider that has it.
    ///
    /// # Requires
    /// - `eventId` is synced and belongs to `user`;
    /// - `changes` is a non-empty object of valid field names (title,
    ///   description, location, start, end, timeZone, allDay, attendees,
    ///   recurrence, transparency, virtualMeeting) whose result is a valid event.
    ///
    /// # Effects
    /// Records the new details and one update operation per connected account
    /// holding the event or still creating it, then writes the change to each
    /// provider using the stored provider ids (and etags). On an account with
    /// an earlier operation still pending (a create the commit answered as
    /// pending, an earlier update) the update is answered pending and runs
    /// once that has finished, on the provider event it left; when the create
    /// failed there is nothing to update, and the operation fails saying so.
    /// Accounts that are disconnected or in error are skipped and said so.
    /// Partial failures are retried with backoff; an account whose retries
    /// are spent is marked `error`. `syncedAt` is updated.
    ///
    /// # Errors
    /// - [`Error::EventNotFound`]: not synced, or another user's;
    /// - [`Error::Invalid`]: an unknown field, a wrong type, or an invalid result.
    pub async fn update(
        &self,
        user: &UserId,
        event_id: &EventId,
        changes: &Map<String, Value>,
    ) -> Result<SyncOutcome> {
        let synced = self.inner.owned_event(user, event_id).await?;
        let (details, changed) = synced.event.apply_changes(changes)?;
        let (operations, mut skipped) = self
            .plan(&synced, OperationKind::Update, &details, &changed)
            .await?;
        self.inner.store.insert_operations(&operations).await?;
        self.inner
            .store
            .set_event_details(event_id, &details, self.inner.clock.now())
            .await?;
        let finished = run_until(&self.inner, operations, Some(self.deadline())).await;
        skipped.extend(results(&finished));
        let mut fallback = synced;
        fallback.event = details;
        self.outcome(event_id, fallback, skipped).await
    }

    /// Removes a synced event from every provider.
    ///
    /// # Requires
    /// - `eventId` is synced and belongs to `user`.
    ///
    /// # Effects
    /// Deletes the event from each connected account's provider using the
    /// stored ids (an event already gone counts as deleted). On an account
    /// whose create is still pending the deletion is answered pending and
    /// waits for the create, then deletes what it made (nothing, when it
    /// failed); the synced event does not come back meanwhile. The synced
    /// event is removed from state once every deletion succeeded; otherwise
    /// it is kept with the accounts that still have it, and the answer says
    /// which succeeded.
    ///
    /// # Errors
    /// - [`Error::EventNotFound`]: not synced, or another user's.
    pub async fn cancel(&self, user: &UserId, event_id: &EventId) -> Result<SyncOutcome> {
        let synced = self.inner.owned_event(user, event_id).await?;
        let (operations, mut skipped) = self
            .plan(&synced, OperationKind::Delete, &synced.event, &[])
            .await?;
        self.inner.store.insert_operations(&operations).await?;
        let finished = run_until(&self.inner, operations, Some(self.deadline())).await;
        skipped.extend(results(&finished));
        self.outcome(event_id, synced, skipped).await
    }

    /// Takes up every operation that is due and not held by a live instance
    /// (after a crash or restart, or from another instance whose lease ran
    /// out), carries each out, and answers them as they ended. The operations
    /// of one synced event on one account run in the order they were
    /// recorded; one whose predecessor is still held elsewhere stays pending
    /// (answered as such) and is due again shortly.
    ///
    /// # Errors
    /// [`Error::Store`] when the store cannot be read.
    pub async fn resume_operations(&self) -> Result<Vec<Operation>> {
        let mut done = Vec::new();
        loop {
            let now = self.inner.clock.now();
            let lease = chrono::Duration::from_std(self.inner.config.lease)
                .unwrap_or_else(|_| chrono::Duration::minutes(2));
            let claimed = self
                .inner
                .store
                .claim_due_operations(now, &self.inner.instance, now + lease, 64)
                .await?;
            if claimed.is_empty() {
                return Ok(done);
            }
            done.extend(run_until(&self.inner, claimed, None).await);
        }
    }

    /// Runs [`CalendarSync::resume_operations`] every `every` until the last
    /// handle is dropped.
    pub fn spawn_resumer(&self, every: std::time::Duration) {
        let weak = std::sync::Arc::downgrade(&self._guard);
        let inner = self.inner.clone();
        super::lock(&self.inner.tasks).spawn(async move {
            loop {
                let Some(guard) = weak.upgrade() else { return };
                let sync = CalendarSync {
                    inner: inner.clone(),
                    _guard: guard,
                };
                if let Err(error) = sync.resume_operations().await {
                    tracing::warn!(%error, "resuming operations failed; will try again");
                }
                drop(sync);
                tokio::time::sleep(every).await;
            }
        });
    }

    /// Creates the video meeting first, then writes its join link into the
    /// event on the calendar accounts (Zoom has no link to calendar events:
    /// the link goes into the event, the meeting id stays with calsync).
    async fn run_meeting_first(
        &self,
        id: &EventId,
        operations: Vec<Operation>,
    ) -> Result<Vec<Operation>> {
        let deadline = self.deadline();
        let (meetings, mut calendars): (Vec<_>, Vec<_>) = operations
            .into_iter()
            .partition(|op| op.provider == Provider::Zoom);
        let mut finished = run_until(&self.inner, meetings, Some(deadline)).await;
        let link = finished
            .iter()
            .filter_map(|op| op.result.as_ref()?.join_url.clone())
            .next();
        if let Some(link) = link {
            let details = calendars
                .first()
                .map(|op| with_meeting_link(&op.details, &link));
            if let Some(details) = details {
                for op in &mut calendars {
                    op.details = details.clone();
                    self.inner.store.update_operation(op).await?;
                }
                self.inner
                    .store
                    .set_event_details(id, &details, self.inner.clock.now())
                    .await?;
            }
        }
        finished.extend(run_until(&self.inner, calendars, Some(deadline)).await);
        Ok(finished)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.config.answer_within
    }

    #[allow(clippy::too_many_arguments)]
    fn operation(
        &self,
        user: &UserId,
        event: &EventId,
        account: &AccountId,
        provider: crate::model::Provider,
        kind: OperationKind,
        details: &EventDetails,
        target: Option<crate::model::ProviderEventRef>,
    ) -> Operation {
        let now = self.inner.clock.now();
        let lease = chrono::Duration::from_std(self.inner.config.lease)
            .unwrap_or_else(|_| chrono::Duration::minutes(2));
        Operation {
            id: OperationId::fresh(),
            user: user.clone(),
            event: event.clone(),
            account: account.clone(),
            provider,
            kind,
            // Lowercase dashless hex: a valid Google client-chosen id and CalDAV resource name.
            idempotency_key: uuid::Uuid::new_v4().simple().to_string(),
            details: details.clone(),
            changed_fields: Vec::new(),
            target,
            status: OperationStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            lease_owner: Some(self.inner.instance.clone()),
            lease_until: Some(now + lease),
            result: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// One operation per connected account of the event; the rest skipped.
    ///
    /// The accounts are those holding the event and those with an operation
    /// of it still pending (a create the commit answered as pending): each
    /// operation runs after the earlier ones of its account and acts on the
    /// provider event they leave (see [`super::order`]).
    async fn plan(
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
            .inner
            .store
            .operations_of_event(&synced.internal_id)
            .await?
        {
            if earlier.status == OperationStatus::Pending {
                accounts
                    .entry(earlier.account)
                    .or_insert((earlier.provider, None));
            }
        }
        let mut operations = Vec::new();
        let mut skipped = BTreeMap::new();
        for (account, (provider, reference)) in accounts {
            let record = self.inner.store.get_account(&account).await?;
            match record {
                Some(record) if is_connected(&record) => {
                    let mut op = self.operation(
                        &synced.user,
                        &synced.internal_id,
                        &account,
                        provider,
                        kind,
                        details,
                        reference,
                    );
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

    /// The answer: the synced event as stored now (or `fallback` when it is
    /// gone or not yet stored) and the results.
    async fn outcome(
        &self,
        id: &EventId,
        fallback: SyncedEvent,
        results: BTreeMap<AccountId, SyncResult>,
    ) -> Result<SyncOutcome> {
        let stored = self.inner.store.get_synced_event(id).await?;
        Ok(SyncOutcome {
            stored: stored.is_some(),
            synced_event: stored.unwrap_or(fallback),
            results,
        })
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

/// The event with a video meeting's join link: as its location when it has
/// none, and at the end of its description.
fn with_meeting_link(details: &EventDetails, link: &str) -> EventDetails {
    let mut linked = details.clone();
    if linked.location.is_none() {
        linked.location = Some(link.to_owned());
    }
    let line = format!("Join the video meeting: {link}");
    linked.description = Some(match linked.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{line}"),
        _ => line,
    });
    linked
}
