//! The conformance suite on a MongoDB-wire server named by
//! `CALSYNC_TEST_MONGODB_URI` (start one with `scripts/mongo-server.sh start`),
//! plus what only the MongoDB store promises: BSON dates, named indexes, and
//! a clear error when the server is down.
//!
//! Without the variable the tests pass with a message saying they were
//! skipped, except under CI (`CI` set), where they fail.

use async_trait::async_trait;
use calsync::model::{Account, AccountId, AccountRecord, Provider, SyncStatus, UserId};
use calsync::store::conformance::StoreMaker;
use calsync::store::{MongoStore, Store, StoreError, StoreResult};
use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use std::sync::Arc;

const URI_VARIABLE: &str = "CALSYNC_TEST_MONGODB_URI";

/// Opens each place as a database of its own on the test server.
struct MongoMaker {
    uri: String,
}

#[async_trait]
impl StoreMaker for MongoMaker {
    async fn open(&self, place: &str, prefix: &str) -> StoreResult<Arc<dyn Store>> {
        Ok(Arc::new(
            MongoStore::connect(&self.uri, Some(place), prefix).await?,
        ))
    }
}

/// The maker for the configured server; `None` (after saying so) when none is
/// configured outside CI.
fn maker() -> Option<MongoMaker> {
    test_uri().map(|uri| MongoMaker { uri })
}

/// The URI of the test server; `None` (after saying so) when none is
/// configured outside CI, where it must be.
pub fn test_uri() -> Option<String> {
    match std::env::var(URI_VARIABLE) {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URI_VARIABLE} must be set in CI: run scripts/mongo-server.sh start")
        }
        _ => {
            eprintln!("skipping MongoDB tests: {URI_VARIABLE} is not set");
            None
        }
    }
}

calsync::store_conformance_tests!(maker());

/// A database name no other test uses.
pub fn unique_database() -> String {
    format!(
        "csmongo{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

#[tokio::test]
async fn records_keep_bson_dates_and_collections_have_named_indexes() {
    let Some(maker) = maker() else { return };
    let database = unique_database();
    let store = MongoStore::connect(&maker.uri, Some(&database), "Tenant-1.")
        .await
        .expect("connect");
    let connected_at = Utc
        .with_ymd_and_hms(2025, 1, 7, 14, 0, 0)
        .single()
        .expect("date");
    let record = AccountRecord {
        account: Account {
            id: AccountId::from("acct-1"),
            user: UserId::from("user-1"),
            provider: Provider::Google,
            sync_status: SyncStatus::Connected,
            last_sync: None,
            error: None,
            calendar_id: None,
            label: None,
            connected_at,
        },
        sealed_credentials: Some(vec![1, 2, 3]),
    };
    store.insert_account(&record).await.expect("insert");

    let client = mongodb::Client::with_uri_str(&maker.uri)
        .await
        .expect("client");
    let raw = client
        .database(&database)
        .collection::<Document>("Tenant-1.accounts");
    let stored = raw.find_one(doc! { "_id": "acct-1" }).await.expect("find");
    let stored = stored.expect("the account is in {prefix}accounts under its id");
    assert!(
        matches!(stored.get("connectedAt"), Some(Bson::DateTime(at)) if at.to_chrono() == connected_at),
        "connectedAt is a BSON date: {stored:?}"
    );
    assert!(
        matches!(stored.get("sealedCredentials"), Some(Bson::Binary(_))),
        "{stored:?}"
    );

    let names: Vec<String> = client
        .database(&database)
        .collection::<Document>("Tenant-1.operations")
        .list_index_names()
        .await
        .expect("indexes");
    for name in ["by_due", "by_event", "by_account"] {
        assert!(names.iter().any(|n| n == name), "index {name} in {names:?}");
    }
    // Connecting again finds the indexes in place and changes nothing.
    MongoStore::connect(&maker.uri, Some(&database), "Tenant-1.")
        .await
        .expect("connecting twice is fine");
    let collections: Vec<String> = client
        .database(&database)
        .list_collection_names()
        .await
        .expect("collections");
    let mut collections = collections;
    collections.sort();
    assert_eq!(
        collections,
        [
            "Tenant-1.accounts",
            "Tenant-1.conflicts",
            "Tenant-1.idempotencyKeys",
            "Tenant-1.operations",
            "Tenant-1.syncedEvents"
        ]
    );
    let names: Vec<String> = client
        .database(&database)
        .collection::<Document>("Tenant-1.idempotencyKeys")
        .list_index_names()
        .await
        .expect("indexes");
    assert!(names.iter().any(|n| n == "by_expiry"), "{names:?}");
    let cursor = raw.find(doc! {}).await.expect("find");
    let all: Vec<Document> = cursor.try_collect().await.expect("documents");
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_unavailable_and_hides_credentials() {
    // Port 9 on loopback has no MongoDB; selection gives up after 300 ms.
    let uri = "mongodb://calsync:hunter2@127.0.0.1:9/?serverSelectionTimeoutMS=300";
    let result = MongoStore::connect(uri, Some("calsync"), "CalendarSync.").await;
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("hunter2"), "{message}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(store) => panic!("connected to nothing: {store:?}"),
    }
    let bad = MongoStore::connect("mongodb://127.0.0.1:9/", Some("a.b"), "CalendarSync.").await;
    assert!(matches!(bad, Err(StoreError::InvalidConfiguration(_))));
    let bad = MongoStore::connect("not a uri", None, "CalendarSync.").await;
    assert!(matches!(bad, Err(StoreError::InvalidConfiguration(_))));
}
