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

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json;
use crate::concept::CalendarSync;
use crate::concept::Recorded;
use crate::model::{SyncOutcome, UserId};
use crate::store::{IdempotencyRecord, IdempotencyState};
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The header's name.
pub const HEADER: &str = "Idempotency-Key";

/// The header on an answer replayed for a key seen before.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// The longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// How long a key is kept after its first use: 24 hours.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);

/// How long after its answer deadline a first call that has not finished is
/// taken for stopped (its store writes come after the deadline).
const GRACE: Duration = Duration::from_secs(60);

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

/// A request body read as JSON into `T`, with its `Idempotency-Key`, if any.
#[derive(Debug)]
pub struct Keyed<T> {
    /// The request.
    pub request: T,
    /// The key and what it is checked against, when the header was sent.
    pub key: Option<KeyUse>,
}

/// One use of an `Idempotency-Key`: the key, who sent it and a digest of
/// the body it came with.
#[derive(Clone)]
pub struct KeyUse {
    key: String,
    caller: Caller,
    body_hash: String,
}

impl std::fmt::Debug for KeyUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyUse")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<S, T> FromRequest<S> for Keyed<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let key = key_of(request.headers())?;
        let caller = request
            .extensions()
            .get::<Caller>()
            .copied()
            .unwrap_or(Caller([0; 32]));
        let bytes = json::read(request, state).await?;
        let parsed = json::parse(&bytes)?;
        let key = match key {
            Some(key) => Some(KeyUse {
                key,
                caller,
                body_hash: body_hash(&bytes)?,
            }),
            None => None,
        };
        Ok(Keyed {
            request: parsed,
            key,
        })
    }
}

/// The `Idempotency-Key` header's value, if sent.
///
/// # Errors
/// A 400 `invalid_idempotency_key` naming the header and its rule.
fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |message: String| ApiError::BadRequest {
        kind: "invalid_idempotency_key",
        message,
    };
    if values.next().is_some() {
        return Err(invalid(format!("send one {HEADER} header, not several")));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(invalid(format!(
            "the {HEADER} header must be 1 to {MAX_KEY_LEN} visible ASCII characters \
             (no spaces or control characters), e.g. a UUID"
        )));
    }
    // Visible ASCII is valid UTF-8.
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// A digest of a JSON body that ignores what JSON ignores: whitespace and
/// the order of object keys.
fn body_hash(bytes: &[u8]) -> Result<String, ApiError> {
    let value: Value = json::parse(bytes)?;
    let mut hasher = Sha256::new();
    canonical(&value, &mut hasher);
    Ok(hex(&hasher.finalize()))
}

fn canonical(value: &Value, hasher: &mut Sha256) {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            hasher.update(b"{");
            for key in keys {
                hasher.update(Value::String(key.clone()).to_string().as_bytes());
                hasher.update(b":");
                canonical(&object[key], hasher);
                hasher.update(b",");
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for item in items {
                canonical(item, hasher);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl KeyUse {
    /// The key's scope for `user`: a digest of the caller and the user.
    fn scope(&self, user: &UserId) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"calsync idempotency scope\0");
        hasher.update(self.caller.0);
        hasher.update(user.as_str().as_bytes());
        hex(&hasher.finalize())
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
    let grace = chrono::Duration::from_std(GRACE).unwrap_or_default();
    let mut action = Some(action);
    for _ in 0..CLAIMS {
        let now = sync.clock().now();
        let claim = IdempotencyRecord {
            scope: scope.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                HEADER,
                HeaderValue::from_bytes(value).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert_eq!(key_of(&HeaderMap::new()).expect("none"), None);
        let long = "k".repeat(MAX_KEY_LEN);
        for good in [
            "a",
            "8e0f2c1a-1b7e-4a53-9b1d-3d1f0e6f7a10",
            long.as_str(),
            "!~",
        ] {
            let key = key_of(&headers(&[good.as_bytes()])).expect("valid");
            assert_eq!(key.as_deref(), Some(good));
        }
        let too_long = "k".repeat(MAX_KEY_LEN + 1);
        let bad: [&[u8]; 5] = [
            b"",
            b"with space",
            b"tab\there",
            too_long.as_bytes(),
            b"caf\xc3\xa9",
        ];
        for bad in bad {
            let error = key_of(&headers(&[bad])).expect_err("invalid");
            let body = error.body();
            assert_eq!(body.kind, "invalid_idempotency_key");
            assert!(body.error.contains(HEADER), "{}", body.error);
        }
        let twice = key_of(&headers(&[b"a", b"b"])).expect_err("two headers");
        assert_eq!(twice.body().kind, "invalid_idempotency_key");
    }

    #[test]
    fn the_body_digest_ignores_whitespace_and_key_order() {
        let one = body_hash(br#"{"user":"ada","event":{"title":"A","start":"x"},"n":[1,2]}"#);
        let two = body_hash(b"{ \"n\": [1, 2], \"event\": {\"start\": \"x\", \"title\": \"A\"},\n \"user\": \"ada\" }");
        assert_eq!(one.expect("json"), two.expect("json"));
        let other = body_hash(br#"{"user":"ada","event":{"title":"B","start":"x"},"n":[1,2]}"#);
        let reordered = body_hash(br#"{"user":"ada","event":{"title":"A","start":"x"},"n":[2,1]}"#);
        let first = body_hash(br#"{"user":"ada","event":{"title":"A","start":"x"},"n":[1,2]}"#);
        assert_ne!(first.as_ref().expect("json"), other.as_ref().expect("json"));
        assert_ne!(first.expect("json"), reordered.expect("json"));
    }

    #[test]
    fn scopes_differ_by_caller_and_user() {
        let key = |caller: u8| KeyUse {
            key: "k".to_owned(),
            caller: Caller([caller; 32]),
            body_hash: String::new(),
        };
        let ada = UserId::from("ada");
        assert_eq!(key(1).scope(&ada), key(1).scope(&ada));
        assert_ne!(key(1).scope(&ada), key(2).scope(&ada));
        assert_ne!(key(1).scope(&ada), key(1).scope(&UserId::from("bob")));
    }
}
