//! The store: where accounts, synced events, conflicts and operations live.
//!
//! [`Store`] is a trait with an embedded backend ([`SqliteStore`], one file)
//! and room for others; every backend passes the one conformance suite in
//! `conformance` (feature `test-support`). Collections are named `{prefix}accounts`,
//! `{prefix}syncedEvents`, `{prefix}conflicts` and `{prefix}operations`, and
//! the HTTP service's `Idempotency-Key`s live in `{prefix}idempotencyKeys`.

use crate::model::{
    AccountId, AccountRecord, Conflict, DraftId, EventDetails, EventId, OperationId,
    ProviderEventRef, SyncedEvent, UserId,
};
use crate::operations::{Operation, OperationKind, OperationStatus};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[cfg(feature = "test-support")]
pub mod conformance;
mod idempotency;
#[cfg(feature = "mongodb")]
mod mongodb;
mod shared;
mod sqlite;
mod uri;

#[cfg(feature = "mongodb")]
pub use self::mongodb::MongoStore;
pub use idempotency::{IdempotencyRecord, IdempotencyState};
pub use shared::SharedRecord;
pub use sqlite::SqliteStore;
pub use uri::redact_uri;

/// The prefix collections get unless told otherwise.
pub const DEFAULT_PREFIX: &str = "CalendarSync.";

/// The longest prefix accepted, so that every collection name stays well
/// within MongoDB's namespace limit.
pub const MAX_PREFIX_LEN: usize = 64;

/// Checks a collection prefix: at most [`MAX_PREFIX_LEN`] characters, each an
/// ASCII letter, a digit, `.`, `_` or `-`. Such a prefix can be quoted as an
/// SQL identifier and used in a MongoDB collection name without escaping.
///
/// # Errors
/// `InvalidConfiguration` naming the rule the prefix breaks.
pub fn validate_prefix(prefix: &str) -> StoreResult<()> {
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(StoreError::InvalidConfiguration(format!(
            "prefix: must be at most {MAX_PREFIX_LEN} characters, got {}",
            prefix.len()
        )));
    }
    if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(StoreError::InvalidConfiguration(format!(
            "prefix: may hold only letters, digits, '.', '_' and '-', found {bad:?} in {prefix:?}"
        )));
    }
    Ok(())
}

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or opened; trying again later may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A record with this id already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The record to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored record could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store was configured wrongly (a bad prefix, path or URI); names the
    /// setting and the rule.
    #[error("invalid store configuration: {0}")]
    InvalidConfiguration(String),
}

/// A store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// How many records [`Store::erase_user`] removed, per collection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Erased {
    /// Accounts, with their sealed credentials.
    pub accounts: u64,
    /// Synced events.
    pub synced_events: u64,
    /// Conflict reports (one per draft on MongoDB, one per conflict on SQLite).
    pub conflicts: u64,
    /// Operations, done or pending.
    pub operations: u64,
    /// Idempotency keys.
    pub idempotency_keys: u64,
}

/// What finishing an operation changes in its synced event, for
/// [`Store::complete_operation`]. The account is the operation's account.
#[derive(Debug, Clone, PartialEq)]
pub enum EventChange {
    /// Nothing (the operation failed, or no provider event came of it).
    None,
    /// The event lives on the account as `reference`: as
    /// [`Store::attach_provider_event`] with `base` (which creates the synced
    /// event when it does not exist yet), except that a missing synced event
    /// stays missing while a delete of it on the same account is pending. A
    /// cancel recorded while the account's create ran has then removed it
    /// from the other accounts, and that delete removes the provider event
    /// (see [`is_waiting_delete`]): a cancelled event never comes back.
    Attach {
        /// The synced event to create when it is missing.
        base: Box<SyncedEvent>,
        /// The provider's event.
        reference: ProviderEventRef,
    },
    /// The account's provider event changed (an update): sets
    /// `providerIds[account]` and `syncedAt` only while the synced event
    /// exists (a synced event removed meanwhile stays removed) and the
    /// account's recorded version is not newer than the reference's (an
    /// older version never overwrites a newer one).
    Refresh(ProviderEventRef),
    /// The event is gone from the account: as [`Store::detach_provider_event`].
    Detach,
}

/// Whether `other` is a delete of `operation`'s synced event on the same
/// account, still pending: the delete that keeps an [`EventChange::Attach`]
/// of `operation` from creating the synced event again.
pub fn is_waiting_delete(other: &Operation, operation: &Operation) -> bool {
    other.id != operation.id
        && other.event == operation.event
        && other.account == operation.account
        && other.kind == OperationKind::Delete
        && other.status == OperationStatus::Pending
}

/// The four collections of the concept, behind one trait.
///
/// Times are kept at least to the millisecond (MongoDB's date precision);
/// finer parts may be dropped.
///
/// Every method is atomic on its own. Methods that change a synced event's
/// providers (`attach_provider_event`, `detach_provider_event`) are single
/// atomic updates, so that operations finishing at once on several accounts
/// never overwrite each other.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The collection prefix.
    fn prefix(&self) -> &str;

    /// Checks that the store answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Adds an account. `AlreadyExists` if its id is taken.
    async fn insert_account(&self, record: &AccountRecord) -> StoreResult<()>;
    /// One account by id.
    async fn get_account(&self, id: &AccountId) -> StoreResult<Option<AccountRecord>>;
    /// A user's accounts, oldest first.
    async fn accounts_of_user(&self, user: &UserId) -> StoreResult<Vec<AccountRecord>>;
    /// Replaces an account. `NotFound` if it does not exist.
    async fn update_account(&self, record: &AccountRecord) -> StoreResult<()>;
    /// Removes everything stored for `user`, atomically where the backend
    /// can: accounts (with their sealed credentials), synced events,
    /// conflicts, operations and idempotency keys. Answers how many of each.
    async fn erase_user(&self, user: &UserId) -> StoreResult<Erased>;
    /// Every account whose status is `error`, oldest first.
    async fn accounts_in_error(&self) -> StoreResult<Vec<AccountRecord>>;

    /// One synced event by internal id.
    async fn get_synced_event(&self, id: &EventId) -> StoreResult<Option<SyncedEvent>>;
    /// A user's synced events.
    async fn synced_events_of_user(&self, user: &UserId) -> StoreResult<Vec<SyncedEvent>>;
    /// Records that the event lives on `account` as `reference`: creates the
    /// synced event from `base` if it does not exist yet (ignoring `base`'s
    /// accounts and provider ids), then sets `providerIds[account]`, adds the
    /// account, and sets `syncedAt` to `at`.
    async fn attach_provider_event(
        &self,
        base: &SyncedEvent,
        account: &AccountId,
        reference: &ProviderEventRef,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Records that the event no longer lives on `account`; when no account is
    /// left, removes the synced event. Answers whether the synced event remains.
    async fn detach_provider_event(
        &self,
        id: &EventId,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Replaces the event's details, adds one to its `version` and sets
    /// `syncedAt`, atomically: two calls at once get two versions. Answers
    /// the new version, or `None` when the synced event does not exist.
    async fn set_event_details(
        &self,
        id: &EventId,
        details: &EventDetails,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<u64>>;

    /// Replaces the conflicts recorded for a user's draft.
    async fn replace_conflicts(
        &self,
        user: &UserId,
        draft: &DraftId,
        conflicts: &[Conflict],
    ) -> StoreResult<()>;
    /// The conflicts recorded for a user's draft.
    async fn conflicts_of_draft(
        &self,
        user: &UserId,
        draft: &DraftId,
    ) -> StoreResult<Vec<Conflict>>;

    /// Adds operations, all or none.
    async fn insert_operations(&self, operations: &[Operation]) -> StoreResult<()>;
    /// Replaces an operation. `NotFound` if it does not exist.
    async fn update_operation(&self, operation: &Operation) -> StoreResult<()>;
    /// Records a finished operation: applies `change` to the synced event
    /// `operation.event` for `operation.account` at `at` (an attach to a
    /// missing event that a delete on the account waits for changes
    /// nothing), then replaces the operation (as [`Store::update_operation`]).
    ///
    /// Backends with multi-record transactions do both at once, all or none.
    /// A backend without them may write the event first and the operation
    /// second: a crash between the two leaves the operation pending, and
    /// resuming it repeats a provider call made idempotent by its key and an
    /// event change that is idempotent too, so the end state is the same.
    async fn complete_operation(
        &self,
        operation: &Operation,
        change: &EventChange,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// One operation by id.
    async fn get_operation(&self, id: &OperationId) -> StoreResult<Option<Operation>>;
    /// The operations of a synced event, oldest first; operations recorded at
    /// the same instant come in the order they were recorded (fresh ids are
    /// time-ordered, so id order is that order too). Operations of one
    /// account run in this order.
    async fn operations_of_event(&self, event: &EventId) -> StoreResult<Vec<Operation>>;
    /// Atomically takes up to `limit` pending operations that are due at `now`
    /// and not leased (or whose lease ended before `now`): sets their lease to
    /// `owner` until `lease_until`, and answers them. Two callers never take
    /// the same operation while its lease holds.
    async fn claim_due_operations(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Operation>>;
    /// Makes every pending operation of `account` that no lease holds at
    /// `now` and that is due later due at `now` (its account came back, so
    /// the work waiting for it need not wait out its backoff). Answers how
    /// many it changed.
    async fn wake_operations_of_account(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
    ) -> StoreResult<usize>;

    // Idempotency keys (`{prefix}idempotencyKeys`), one record per scope and
    // key: see [`IdempotencyRecord`].

    /// Atomically stores `record` unless another record holds its scope and
    /// key: answers `None` when `record` now holds the key, else the record
    /// that does. A record that holds the key is replaced when it
    /// [yields](IdempotencyRecord::yields_to) to `record` at `now` (it
    /// expired, or it is a running call of the same request past its
    /// `running_until`). Of two callers claiming one key at once, one wins.
    async fn claim_idempotency_key(
        &self,
        record: &IdempotencyRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    /// The record of `scope` and `key`, expired or not.
    async fn get_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    /// Replaces the record of `record.scope` and `record.key` (to record
    /// that the call is done). `NotFound` if there is none.
    async fn update_idempotency_key(&self, record: &IdempotencyRecord) -> StoreResult<()>;
    /// Removes the record of `scope` and `key`, if any, so that the key is
    /// free again.
    async fn remove_idempotency_key(&self, scope: &str, key: &str) -> StoreResult<()>;
    /// Removes every record expired at `now`; answers how many.
    async fn purge_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    // Shared records: see [`SharedRecord`].

    /// The shared record `name`, if any.
    async fn get_shared(&self, name: &str) -> StoreResult<Option<SharedRecord>>;
    /// Writes `record` if the stored record of its name is at version
    /// `record.version - 1` (an absent record counts as version 0); answers
    /// whether it wrote. Of two writers of one version, one wins.
    async fn put_shared(&self, record: &SharedRecord) -> StoreResult<bool>;
}
