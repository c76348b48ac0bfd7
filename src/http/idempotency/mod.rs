//! `Idempotency-Key` on commit, update and cancel: a client that sends the
//! same request again under the same key (because the answer was lost, or
//! the connection dropped) gets the answer of the first call, as it stands
//! now, and the work is never done twice.
//!
//! Each key is recorded in the store (`{prefix}idempotencyKeys`, see
//! [`IdempotencyRecord`]) under a scope, a digest of the API key and the
//! user, so that it holds across restarts and across processes sharing the
//! store, and so that two callers or two users never share a key:
//!
//! - the first call claims the key (running), does the work, and records its
//!   answer with the operations it recorded (done);
//! - a retry of a done key answers the same synced event with each
//!   account's result as its operation stands now (header
//!   `Idempotent-Replayed: true`);
//! - a retry of a running key waits for it, up to the answer deadline, then
//!   answers 409 `idempotency_key_in_use`; a running key whose call stopped
//!   without finishing (its process ended) is taken over by its retry once
//!   the first call's answer deadline (plus a grace) has passed;
//! - the same key with another action, event or body is refused with 422
//!   `idempotency_key_reused`;
//! - a call that ends in an error frees its key, so that a retry runs again:
//!   commit's synced event id and provider keys are derived from the key, so
//!   even then no second event is made;
//! - keys are forgotten [`DEFAULT_EXPIRY`] after their first use: an expired
//!   key acts as one never used, and expired records are purged.

mod key;

pub use key::{HEADER, KeyUse, Keyed, MAX_KEY_LEN};

use super::AppState;
use super::error::ApiError;
use crate::concept::CalendarSync;
use crate::concept::Recorded;
use crate::model::{SyncOutcome, UserId};
use crate::store::{IdempotencyRecord, IdempotencyState};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The header on an answer replayed for a key seen before.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// How long a key is kept after its first use: 24 hours.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// How long after its answer deadline a first call that has not finished is
/// taken for stopped (its store writes come after the deadline), unless
/// told otherwise ([`Idempotency::with_grace`]).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);

/// How often a waiting retry looks at the store again, for a first call
/// running in another process (one in this process wakes it at once).
const LOOK_AGAIN: Duration = Duration::from_millis(250);

/// How often expired keys are purged, at most, by the concept's clock.
const PURGE_EVERY: chrono::Duration = chrono::Duration::hours(1);

/// How many times a call tries to claim its key when the holder keeps
/// letting it go (a first call that failed, an expiry) before answering 409.
const CLAIMS: usize = 4;

/// The idempotency keys' settings, and what waiting retries share in this
/// process. Cheap to clone; clones share everything.
#[derive(Clone, Debug)]
pub struct Idempotency {
    expire_after: Duration,
    grace: Duration,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Woken each time a first call in this process finishes.
    finished: Notify,
    /// How many retries wait for a first call now.
    waiting: watch::Sender<usize>,
    /// When expired keys were last purged.
    last_purge: Mutex<Option<DateTime<Utc>>>,
}

impl Default for Idempotency {
    fn default() -> Self {
        Idempotency::new(DEFAULT_EXPIRY)
    }
}

impl Idempotency {
    /// Keys kept for `expire_after` after their first use.
    pub fn new(expire_after: Duration) -> Self {
        Idempotency {
            expire_after,
            grace: DEFAULT_GRACE,
            shared: Arc::new(Shared {
                finished: Notify::new(),
                waiting: watch::Sender::new(0),
                last_purge: Mutex::new(None),
            }),
        }
    }

    /// How long a key is kept after its first use.
    pub fn expire_after(&self) -> Duration {
        self.expire_after
    }

    /// The same settings, with a first call that has not finished `grace`
    /// after its answer deadline taken for stopped (its process ended), so
    /// that a retry takes it over. It must exceed the time a live call
    /// needs to record its answer after the deadline.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long after its answer deadline a running first call is taken for stopped.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// How many retries wait for a first call in this process now.
    pub fn waiting(&self) -> usize {
        *self.shared.waiting.borrow()
    }

    /// Waits until `count` retries wait for a first call at once, however
    /// fast the machine is (for tests and diagnostics).
    pub async fn until_waiting(&self, count: usize) {
        let mut waiting = self.shared.waiting.subscribe();
        // The sender lives as long as `self`.
        let _ = waiting.wait_for(|now| *now >= count).await;
    }

    /// Purges expired keys in the background, at most once per
    /// [`PURGE_EVERY`] of the concept's clock.
    fn purge_now_and_then(&self, sync: &CalendarSync) {
        let now = sync.clock().now();
        {
            let mut last = lock(&self.shared.last_purge);
            if last.is_some_and(|last| now - last < PURGE_EVERY) {
                return;
            }
            *last = Some(now);
        }
        let store = sync.store().clone();
        tokio::spawn(async move {
            match store.purge_idempotency_keys(now).await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "expired idempotency keys purged"),
                Err(error) => tracing::warn!(%error, "cannot purge expired idempotency keys"),
            }
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts a retry as waiting until dropped.
struct Waiting<'a>(&'a Idempotency);

impl<'a> Waiting<'a> {
    fn start(idempotency: &'a Idempotency) -> Self {
        idempotency.shared.waiting.send_modify(|count| *count += 1);
        Waiting(idempotency)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.shared.waiting.send_modify(|count| *count -= 1);
    }
}

/// An answer of commit, update or cancel under a key.
#[derive(Debug)]
pub struct KeyedAnswer {
    /// The answer.
    pub outcome: SyncOutcome,
    /// Whether it is the answer of an earlier call with the same key.
    pub replayed: bool,
}

/// Runs `action` once for `key` (used by `user` for `request`, an action
/// name and the event it acts on), or answers the call that ran it.
/// `action` gets a key derived from the scope and the client's key, for
/// work that must be repeatable by itself (commit's event id).
///
/// # Errors
/// `action`'s error (the key is then free again); 422 for a key used with
/// another request; 409 when the first call is still running at the answer
/// deadline.
pub(crate) async fn once<F, Fut>(
    state: &AppState,
    user: &UserId,
    request: String,
    key: KeyUse,
    action: F,
) -> Result<KeyedAnswer, ApiError>
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = crate::Result<Recorded>> + Send + 'static,
{
    let sync = &state.sync;
    let idempotency = &state.idempotency;
    idempotency.purge_now_and_then(sync);
    let scope = key.scope(user);
    let deadline = sync.answer_deadline();
    let expire_after =
        chrono::Duration::from_std(idempotency.expire_after).unwrap_or(chrono::Duration::MAX);
    let grace = chrono::Duration::from_std(idempotency.grace).unwrap_or_default();
    let mut action = Some(action);
    for _ in 0..CLAIMS {
        let now = sync.clock().now();
        let claim = IdempotencyRecord {
            scope: scope.clone(),
            user: user.clone(),
            key: key.key.clone(),
            request: request.clone(),
            body_hash: key.body_hash.clone(),
            state: IdempotencyState::Running,
            event: None,
            operations: Vec::new(),
            answer: None,
            running_until: deadline + grace,
            created_at: now,
            expires_at: now
                .checked_add_signed(expire_after)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        };
        let claimed = sync.store().claim_idempotency_key(&claim, now).await;
        let Some(holder) = claimed.map_err(crate::Error::from)? else {
            let Some(action) = action.take() else { break };
            let outcome = run_first(state, claim, action).await?;
            return Ok(KeyedAnswer {
                outcome,
                replayed: false,
            });
        };
        match wait(state, &claim, holder, deadline).await? {
            Some(done) => {
                let outcome = replay(sync, user, &done).await?;
                return Ok(KeyedAnswer {
                    outcome,
                    replayed: true,
                });
            }
            None => continue,
        }
    }
    Err(in_use())
}

/// Runs the first call of a key in a task of its own, so that it finishes
/// (and records its answer, or frees the key) even when the request is cut
/// off or the client goes away; wakes the retries waiting here.
async fn run_first<F, Fut>(
    state: &AppState,
    claim: IdempotencyRecord,
    action: F,
) -> Result<SyncOutcome, ApiError>
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = crate::Result<Recorded>> + Send + 'static,
{
    let derived = format!("{}/{}", claim.scope, claim.key);
    let sync = state.sync.clone();
    let idempotency = state.idempotency.clone();
    let task = tokio::spawn(async move {
        let answer = action(derived).await;
        let store = sync.store();
        let recorded = match &answer {
            Ok(recorded) => {
                let mut done = claim;
                done.state = IdempotencyState::Done;
                done.event = Some(recorded.outcome.synced_event.internal_id.clone());
                done.operations = recorded.operations.clone();
                done.answer = Some(recorded.outcome.clone());
                store.update_idempotency_key(&done).await
            }
            Err(_) => store.remove_idempotency_key(&claim.scope, &claim.key).await,
        };
        if let Err(error) = recorded {
            // The key stays running: a retry takes it over once the first
            // call's deadline has passed, and runs again (safely: see the
            // module's documentation).
            tracing::warn!(%error, "cannot record the end of a call with an Idempotency-Key");
        }
        idempotency.shared.finished.notify_waiters();
        answer
    });
    match task.await {
        Ok(answer) => Ok(answer?.outcome),
        Err(error) => Err(ApiError::Internal(format!(
            "a call with an Idempotency-Key stopped: {error}"
        ))),
    }
}

/// Waits while `holder` (the record holding the key) is running, until the
/// answer `deadline`. Answers the record once done, or `None` when the key
/// is free to claim again (the first call failed, the key expired, or the
/// first call stopped without finishing).
///
/// # Errors
/// 422 when the key stands for another request; 409 when the first call
/// still runs at the deadline.
async fn wait(
    state: &AppState,
    claim: &IdempotencyRecord,
    holder: IdempotencyRecord,
    deadline: DateTime<Utc>,
) -> Result<Option<IdempotencyRecord>, ApiError> {
    let sync = &state.sync;
    let mut holder = Some(holder);
    let _waiting = Waiting::start(&state.idempotency);
    loop {
        let finished = state.idempotency.shared.finished.notified();
        tokio::pin!(finished);
        // Registered before the look, so that a call finishing between the
        // two is not missed.
        finished.as_mut().enable();
        let record = match holder.take() {
            Some(record) => Some(record),
            None => sync
                .store()
                .get_idempotency_key(&claim.scope, &claim.key)
                .await
                .map_err(crate::Error::from)?,
        };
        let now = sync.clock().now();
        let Some(record) = record.filter(|record| !record.expired(now)) else {
            return Ok(None);
        };
        if !record.same_request(claim) {
            return Err(reused(&record));
        }
        if record.state == IdempotencyState::Done {
            return Ok(Some(record));
        }
        if record.running_until <= now {
            return Ok(None);
        }
        if deadline <= now {
            return Err(in_use());
        }
        let clock = sync.clock();
        tokio::select! {
            () = &mut finished => {}
            () = clock.sleep_until(deadline.min(record.running_until)) => {}
            () = tokio::time::sleep(LOOK_AGAIN) => {}
        }
    }
}

/// The answer of the done call `record`, as it stands now.
async fn replay(
    sync: &CalendarSync,
    user: &UserId,
    record: &IdempotencyRecord,
) -> Result<SyncOutcome, ApiError> {
    let Some(answer) = &record.answer else {
        return Err(ApiError::Internal(format!(
            "the done idempotency key {:?} has no answer",
            record.key
        )));
    };
    Ok(sync.outcome_now(user, answer, &record.operations).await?)
}

fn reused(first: &IdempotencyRecord) -> ApiError {
    ApiError::Unprocessable {
        kind: "idempotency_key_reused",
        message: format!(
            "this {HEADER} header was first sent with another request ({}, or another body): \
             a key stands for one request; send the same request to retry it, or a new key \
             for a new request",
            first.request
        ),
    }
}

fn in_use() -> ApiError {
    ApiError::Conflict {
        kind: "idempotency_key_in_use",
        message: format!(
            "the first request with this {HEADER} header is still running; \
             retry it later to get its answer"
        ),
    }
}
