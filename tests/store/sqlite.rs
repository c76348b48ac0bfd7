//! The conformance suite on SQLite files in a temporary directory, plus the
//! file-level promises of the embedded store.

use async_trait::async_trait;
use calsync::model::UserId;
use calsync::model::{AccountId, EventDetails, EventId, Provider, ProviderEventRef, SyncedEvent};
use calsync::store::conformance::StoreMaker;
use calsync::store::{SqliteStore, Store, StoreError, StoreResult};
use chrono::{TimeZone, Utc};
use std::sync::Arc;
use tempfile::TempDir;

/// Opens each place as `{place}.db` in its own temporary directory.
struct SqliteMaker {
    directory: TempDir,
}

impl SqliteMaker {
    fn new() -> Self {
        SqliteMaker {
            directory: tempfile::tempdir().expect("a temporary directory"),
        }
    }
}

#[async_trait]
impl StoreMaker for SqliteMaker {
    async fn open(&self, place: &str, prefix: &str) -> StoreResult<Arc<dyn Store>> {
        let path = self.directory.path().join(format!("{place}.db"));
        Ok(Arc::new(SqliteStore::open(path, prefix).await?))
    }
}

calsync::store_conformance_tests!(Some(SqliteMaker::new()));

fn synced_event() -> SyncedEvent {
    let start = Utc
        .with_ymd_and_hms(2025, 1, 7, 14, 0, 0)
        .single()
        .expect("valid date");
    SyncedEvent {
        internal_id: EventId::from("event-1"),
        user: UserId::from("user-1"),
        accounts: Default::default(),
        provider_ids: Default::default(),
        synced_at: start,
        event: EventDetails::timed("Planning", start, start + chrono::Duration::hours(1)),
    }
}

fn google_ref() -> ProviderEventRef {
    ProviderEventRef {
        provider: Provider::Google,
        event_id: "g1".to_owned(),
        etag: None,
        calendar_id: None,
        join_url: None,
    }
}

#[tokio::test]
async fn a_reopened_file_keeps_its_data_and_names_its_tables_after_the_prefix() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("calsync.db");
    let event = synced_event();
    let account = AccountId::from("acct-1");
    {
        let store = SqliteStore::open(&path, "CalendarSync.")
            .await
            .expect("open");
        store
            .attach_provider_event(&event, &account, &google_ref(), event.synced_at)
            .await
            .expect("attach");
    }
    let store = SqliteStore::open(&path, "CalendarSync.")
        .await
        .expect("reopen");
    let read = store
        .get_synced_event(&event.internal_id)
        .await
        .expect("get");
    let read = read.expect("the event survives reopening the file");
    assert_eq!(read.provider_ids.get(&account), Some(&google_ref()));

    let connection = rusqlite::Connection::open(&path).expect("open raw");
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare");
    let tables: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        tables,
        [
            "CalendarSync.accounts",
            "CalendarSync.conflicts",
            "CalendarSync.operations",
            "CalendarSync.syncedEvents"
        ]
    );
}

#[tokio::test]
async fn an_unopenable_path_is_unavailable_and_an_in_memory_store_works() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("missing-dir").join("calsync.db");
    let result = SqliteStore::open(&path, "CalendarSync.").await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );

    let store = SqliteStore::in_memory("CalendarSync.").expect("in memory");
    let event = synced_event();
    let account = AccountId::from("acct-1");
    store
        .attach_provider_event(&event, &account, &google_ref(), event.synced_at)
        .await
        .expect("attach");
    assert!(
        store
            .get_synced_event(&event.internal_id)
            .await
            .expect("get")
            .is_some()
    );
    let bad = SqliteStore::in_memory("bad prefix");
    assert!(
        matches!(bad, Err(StoreError::InvalidConfiguration(_))),
        "{bad:?}"
    );
}

#[tokio::test]
async fn an_unreadable_record_is_corrupt() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("calsync.db");
    let store = SqliteStore::open(&path, "CalendarSync.")
        .await
        .expect("open");
    let connection = rusqlite::Connection::open(&path).expect("open raw");
    connection
        .execute(
            "INSERT INTO \"CalendarSync.syncedEvents\" (id, user, doc) VALUES ('e', 'u', '{oops')",
            [],
        )
        .expect("insert raw");
    let result = store.get_synced_event(&EventId::from("e")).await;
    assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
}
