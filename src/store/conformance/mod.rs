//! The conformance suite every [`Store`] backend passes (cargo feature
//! `test-support`, which calsync's own tests turn on).
//!
//! Each case is a public async function taking a [`StoreMaker`], which opens
//! stores of the backend under test; a case panics (as a test does) when the
//! backend breaks a promise of the trait. [`store_conformance_tests!`]
//! expands to one `#[tokio::test]` per case, so a backend's test file is one
//! line:
//!
//! ```no_run
//! use calsync::store::conformance::StoreMaker;
//! use calsync::store::{SqliteStore, Store, StoreResult};
//! use std::sync::Arc;
//!
//! struct InTempDir(tempfile::TempDir);
//!
//! #[async_trait::async_trait]
//! impl StoreMaker for InTempDir {
//!     async fn open(&self, place: &str, prefix: &str) -> StoreResult<Arc<dyn Store>> {
//!         let path = self.0.path().join(format!("{place}.db"));
//!         Ok(Arc::new(SqliteStore::open(path, prefix).await?))
//!     }
//! }
//!
//! calsync::store_conformance_tests!(tempfile::tempdir().ok().map(InTempDir));
//! # fn main() {}
//! ```
//!
//! The macro takes an `Option` of a maker: `None` skips every case, for
//! backends whose server is not configured on this machine.
//!
//! Times in the fixtures are whole milliseconds, the precision every backend
//! keeps.
//!
//! [`store_conformance_tests!`]: crate::store_conformance_tests

mod completion;
mod events;
mod idempotency;
mod operations;
mod records;
mod roundtrip;
mod shared;

pub use completion::{
    a_refresh_never_writes_an_older_version, an_attach_never_brings_back_a_cancelled_event,
    complete_operation_records_event_and_operation,
};
pub use events::{
    attach_creates_and_detach_removes, concurrent_attaches_lose_nothing,
    concurrent_detaches_leave_nothing_behind, set_event_details_replaces_the_snapshot,
};
pub use idempotency::{
    concurrent_claims_of_one_key_have_one_winner, idempotency_keys_are_held_once,
    idempotency_keys_expire_and_are_purged, stopped_calls_are_taken_over_by_the_same_request,
};
pub use operations::{
    claim_takes_only_due_pending_unleased, concurrent_claimers_never_share,
    expired_leases_are_claimed_again, operations_insert_all_or_none, operations_round_trip,
    two_stores_on_one_place_claim_each_operation_once,
    waking_an_account_makes_its_waiting_operations_due,
};
pub use records::{
    account_errors_change_nothing, accounts_in_error_are_found_across_users,
    accounts_of_user_are_that_users_only, accounts_round_trip, conflicts_replace_per_draft,
    erase_user_removes_that_users_data_only, invalid_prefix_is_refused, prefixes_are_isolated,
    reopened_store_keeps_its_data,
};
pub use roundtrip::{stored_events_read_back_as_written, stored_operations_read_back_as_written};
pub use shared::{
    concurrent_shared_writes_lose_no_step, shared_records_are_written_version_by_version,
};

use crate::model::{
    Account, AccountId, AccountRecord, Conflict, ConflictId, ConflictReason, DraftId, EventDetails,
    EventId, OperationId, Provider, ProviderEventRef, SyncStatus, SyncedEvent, UserId,
};
use crate::operations::{Operation, OperationKind, OperationStatus};
use crate::store::{DEFAULT_PREFIX, Store, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Arc;

/// Opens stores of one backend for the suite.
#[async_trait]
pub trait StoreMaker: Send + Sync + 'static {
    /// Opens a store whose collections carry `prefix`, in the place named
    /// `place` (a file name, a database name: short, ASCII letters and digits).
    /// The suite gives each case a new place, so the store starts empty;
    /// opening the same place again, with the same or another prefix, must
    /// reach the same file or database.
    async fn open(&self, place: &str, prefix: &str) -> StoreResult<Arc<dyn Store>>;
}

/// Expands to one `#[tokio::test]` per conformance case, each opening its
/// stores with the maker that `$maker` (an `Option` of a [`StoreMaker`])
/// evaluates to; when it is `None` the case returns at once.
///
/// [`StoreMaker`]: crate::store::conformance::StoreMaker
#[macro_export]
macro_rules! store_conformance_tests {
    ($maker:expr) => {
        $crate::store_conformance_tests!(@cases ($maker);
            accounts_round_trip,
            account_errors_change_nothing,
            accounts_of_user_are_that_users_only,
            accounts_in_error_are_found_across_users,
            erase_user_removes_that_users_data_only,
            conflicts_replace_per_draft,
            prefixes_are_isolated,
            reopened_store_keeps_its_data,
            invalid_prefix_is_refused,
            attach_creates_and_detach_removes,
            set_event_details_replaces_the_snapshot,
            concurrent_attaches_lose_nothing,
            concurrent_detaches_leave_nothing_behind,
            operations_round_trip,
            operations_insert_all_or_none,
            complete_operation_records_event_and_operation,
            an_attach_never_brings_back_a_cancelled_event,
            a_refresh_never_writes_an_older_version,
            claim_takes_only_due_pending_unleased,
            expired_leases_are_claimed_again,
            concurrent_claimers_never_share,
            two_stores_on_one_place_claim_each_operation_once,
            waking_an_account_makes_its_waiting_operations_due,
            stored_events_read_back_as_written,
            stored_operations_read_back_as_written,
            idempotency_keys_are_held_once,
            idempotency_keys_expire_and_are_purged,
            stopped_calls_are_taken_over_by_the_same_request,
            concurrent_claims_of_one_key_have_one_winner,
            shared_records_are_written_version_by_version,
            concurrent_shared_writes_lose_no_step,
        );
    };
    (@cases ($maker:expr); $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                if let Some(maker) = $maker {
                    $crate::store::conformance::$case(&maker).await;
                }
            }
        )*
    };
}

/// A new place name, unique to this run.
fn new_place() -> String {
    format!("cs{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// A fresh, empty store with the default prefix, and its place.
async fn fresh(maker: &dyn StoreMaker) -> (Arc<dyn Store>, String) {
    let place = new_place();
    let store = maker
        .open(&place, DEFAULT_PREFIX)
        .await
        .expect("a fresh store opens");
    (store, place)
}

/// A fixed instant, `minutes` after 2025-01-07 14:00 UTC.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 7, 14, 0, 0)
        .single()
        .expect("a valid fixed date")
        + Duration::minutes(minutes)
}

fn account(user: &str, id: &str, connected_minutes: i64) -> AccountRecord {
    AccountRecord {
        account: Account {
            id: AccountId::from(id),
            user: UserId::from(user),
            provider: Provider::Google,
            sync_status: SyncStatus::Connected,
            last_sync: Some(at(connected_minutes + 1)),
            error: None,
            calendar_id: Some("primary".to_owned()),
            label: Some(format!("{id}@example.com")),
            connected_at: at(connected_minutes),
        },
        sealed_credentials: Some(format!("sealed:{id}").into_bytes()),
    }
}

fn details(title: &str) -> EventDetails {
    EventDetails::timed(title, at(0), at(60))
}

/// A synced event as a caller hands it to `attach_provider_event`: its
/// accounts and provider ids are deliberately wrong, as the store ignores them.
fn base_event(user: &str, id: &str) -> SyncedEvent {
    let stray = AccountId::from("stray-account");
    SyncedEvent {
        internal_id: EventId::from(id),
        user: UserId::from(user),
        accounts: [stray.clone()].into(),
        provider_ids: [(stray, reference(Provider::Zoom, "stray"))].into(),
        synced_at: at(-60),
        event: details("Planning"),
        version: 1,
    }
}

fn reference(provider: Provider, event_id: &str) -> ProviderEventRef {
    ProviderEventRef {
        provider,
        event_id: event_id.to_owned(),
        etag: Some(format!("\"etag-{event_id}\"")),
        calendar_id: Some("primary".to_owned()),
        join_url: None,
        version: 1,
        pending: None,
    }
}

fn conflict(user: &str, draft: &str, title: &str) -> Conflict {
    Conflict {
        id: ConflictId::fresh(),
        user: UserId::from(user),
        draft: DraftId::from(draft),
        draft_start: details(title).start,
        draft_end: details(title).end,
        reason: ConflictReason::TimeOverlap,
        buffer: None,
        existing_events: Vec::new(),
        detected_at: at(-5),
    }
}

fn operation(event: &str, account: &str, due_minutes: i64) -> Operation {
    let id = OperationId::fresh();
    Operation {
        idempotency_key: format!("key-{id}"),
        id,
        user: UserId::from("user-1"),
        event: EventId::from(event),
        account: AccountId::from(account),
        provider: Provider::Outlook,
        kind: OperationKind::Create,
        details: details("Planning"),
        version: 1,
        uncertain: false,
        taken_up: false,
        invites: false,
        changed_fields: Vec::new(),
        target: None,
        status: OperationStatus::Pending,
        attempts: 0,
        next_attempt_at: at(due_minutes),
        last_error: None,
        lease_owner: None,
        lease_until: None,
        result: None,
        created_at: at(-30),
        updated_at: at(-30),
    }
}
