//! The conformance suite on SQLite files in a temporary directory, plus the
//! file-level promises of the embedded store.

use async_trait::async_trait;
use calsync::model::UserId;
use calsync::model::{AccountId, EventDetails, EventId, Provider, ProviderEventRef, SyncedEvent};
use calsync::store::conformance::StoreMaker;
use calsync::store::{
    IdempotencyRecord, IdempotencyState, SqliteStore, Store, StoreError, StoreResult,
};
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
        version: 1,
    }
}

fn google_ref() -> ProviderEventRef {
    ProviderEventRef {
        provider: Provider::Google,
        event_id: "g1".to_owned(),
        etag: None,
        calendar_id: None,
        join_url: None,
        version: 1,
        pending: None,
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
            "CalendarSync.idempotencyKeys",
            "CalendarSync.operations",
            "CalendarSync.shared",
            "CalendarSync.syncedEvents"
        ]
    );
}

#[tokio::test]
async fn a_file_made_before_idempotency_keys_gets_their_table_when_opened() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("calsync.db");
    let store = SqliteStore::open(&path, "CalendarSync.")
        .await
        .expect("open");
    store
        .attach_provider_event(
            &synced_event(),
            &AccountId::from("acct-1"),
            &google_ref(),
            Utc::now(),
        )
        .await
        .expect("attach");
    drop(store);
    // The file as an earlier version left it: without the table.
    let connection = rusqlite::Connection::open(&path).expect("open raw");
    connection
        .execute_batch(
            "DROP INDEX \"CalendarSync.idempotencyKeys_by_expiry\";
             DROP TABLE \"CalendarSync.idempotencyKeys\";",
        )
        .expect("drop the table");
    drop(connection);

    let store = SqliteStore::open(&path, "CalendarSync.")
        .await
        .expect("reopen");
    let now = Utc::now();
    let record = IdempotencyRecord {
        scope: "scope".to_owned(),
        user: UserId::from("user-1"),
        key: "key".to_owned(),
        request: "commit".to_owned(),
        body_hash: "body".to_owned(),
        state: IdempotencyState::Running,
        event: None,
        operations: Vec::new(),
        answer: None,
        running_until: now,
        created_at: now,
        expires_at: now + chrono::Duration::hours(24),
    };
    let claimed = store.claim_idempotency_key(&record, now).await;
    assert_eq!(claimed.expect("claim"), None);
    let event = store.get_synced_event(&EventId::from("event-1")).await;
    assert!(event.expect("read").is_some(), "the data is kept");
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

fn pending_operation(id: &str) -> calsync::operations::Operation {
    let event = synced_event();
    calsync::operations::Operation {
        id: calsync::model::OperationId::from(id),
        user: event.user.clone(),
        event: event.internal_id.clone(),
        account: AccountId::from("acct-1"),
        provider: Provider::Google,
        kind: calsync::operations::OperationKind::Create,
        idempotency_key: format!("key-{id}"),
        details: event.event.clone(),
        version: 1,
        uncertain: false,
        taken_up: false,
        invites: false,
        changed_fields: Vec::new(),
        target: None,
        status: calsync::operations::OperationStatus::Pending,
        attempts: 0,
        next_attempt_at: event.synced_at,
        last_error: None,
        lease_owner: None,
        lease_until: None,
        result: None,
        created_at: event.synced_at,
        updated_at: event.synced_at,
    }
}

/// On SQLite, completing an operation is one transaction: when the operation
/// cannot be written, the event change is undone too.
#[tokio::test]
async fn completing_an_unknown_operation_attaches_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("open");
    let ghost = pending_operation("op-ghost");
    let change = calsync::store::EventChange::Attach {
        base: Box::new(synced_event()),
        reference: ProviderEventRef {
            provider: Provider::Google,
            event_id: "g-1".to_owned(),
            etag: None,
            calendar_id: None,
            join_url: None,
            version: 1,
            pending: None,
        },
    };
    let answer = store
        .complete_operation(&ghost, &change, synced_event().synced_at)
        .await;
    assert!(matches!(answer, Err(StoreError::NotFound(_))), "{answer:?}");
    let event = store.get_synced_event(&synced_event().internal_id).await;
    assert_eq!(event.expect("read"), None);
}

/// Many writes at once (committed in shared transactions) each get their
/// own answer: the duplicates alone fail, every other write is kept, and
/// all of it is still there after reopening the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_each_get_their_own_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("calsync.db");
    let store = Arc::new(
        SqliteStore::open(&path, "CalendarSync.")
            .await
            .expect("open"),
    );
    let writes = (0..200).map(|n| {
        let store = store.clone();
        // Every tenth operation repeats an id already written.
        let id = if n % 10 == 9 { n - 1 } else { n };
        tokio::spawn(async move {
            let op = pending_operation(&format!("op-{id}"));
            (n, store.insert_operations(&[op]).await)
        })
    });
    let mut duplicates = 0;
    for write in futures::future::join_all(writes).await {
        let (n, answer) = write.expect("task");
        match answer {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => duplicates += 1,
            Err(other) => panic!("write {n}: {other}"),
        }
    }
    assert_eq!(duplicates, 20);
    drop(store);
    let reopened = SqliteStore::open(&path, "CalendarSync.")
        .await
        .expect("reopen");
    let kept = reopened
        .operations_of_event(&synced_event().internal_id)
        .await
        .expect("read");
    assert_eq!(kept.len(), 180);
}

/// The store's file and its journals are readable by their owner only, and
/// so is the data directory calsync creates: titles, attendees and emails
/// are private even though credentials are sealed.
#[cfg(unix)]
#[tokio::test]
async fn the_store_and_the_data_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data").join("calsync");
    if std::env::var("CALSYNC_MASTER_KEY").is_err() {
        calsync::vault::Vault::from_env_or_file(&data).expect("vault");
        assert_eq!(mode(&data), 0o700, "the data directory");
    }
    let file = dir.path().join("calsync.db");
    // A journal left world-readable by an earlier version is tightened too.
    std::fs::write(dir.path().join("calsync.db-wal"), b"").expect("old journal");
    std::fs::set_permissions(
        dir.path().join("calsync.db-wal"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let store = SqliteStore::open(&file, "CalendarSync.")
        .await
        .expect("open");
    store
        .attach_provider_event(
            &synced_event(),
            &AccountId::from("acct-1"),
            &google_ref(),
            synced_event().synced_at,
        )
        .await
        .expect("write");
    for name in ["calsync.db", "calsync.db-wal", "calsync.db-shm"] {
        let path = dir.path().join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    assert_eq!(mode(&file), 0o600);
}
