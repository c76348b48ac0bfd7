//! The tables of one prefix, and every statement on them, written out once.
//!
//! Times in key columns are nanoseconds since the Unix epoch, so that SQL
//! compares them as integers.

use super::map_error;
use crate::store::StoreResult;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use std::sync::Arc;

/// The statements of one prefix. Cheap to clone.
#[derive(Clone)]
pub(super) struct Tables(Arc<Statements>);

impl std::ops::Deref for Tables {
    type Target = Statements;
    fn deref(&self) -> &Statements {
        &self.0
    }
}

/// SQL text for each query, with the prefixed table names quoted.
pub(super) struct Statements {
    create: String,
    pub insert_account: String,
    pub get_account: String,
    pub accounts_of_user: String,
    pub accounts_in_error: String,
    pub update_account: String,
    pub get_event: String,
    pub events_of_user: String,
    pub upsert_event: String,
    pub delete_event: String,
    pub delete_conflicts: String,
    pub insert_conflict: String,
    pub conflicts_of_draft: String,
    pub insert_operation: String,
    pub update_operation: String,
    pub get_operation: String,
    pub operations_of_event: String,
    pub due_operations: String,
    pub lease_operation: String,
    pub unleased_pending: String,
    pub erase_user: [String; 4],
    pub idempotency: super::idempotency::Statements,
    pub shared: super::shared::Statements,
}

/// Quotes `name` as an SQL identifier. The prefix was validated to hold no
/// quote, but doubling quotes keeps this right on its own.
pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Tables {
    pub(super) fn new(prefix: &str) -> Self {
        let accounts = quote(&format!("{prefix}accounts"));
        let events = quote(&format!("{prefix}syncedEvents"));
        let conflicts = quote(&format!("{prefix}conflicts"));
        let operations = quote(&format!("{prefix}operations"));
        let index = |name: &str| quote(&format!("{prefix}{name}"));
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {accounts} (
                id TEXT PRIMARY KEY NOT NULL,
                user TEXT NOT NULL,
                connected_at INTEGER NOT NULL,
                doc TEXT NOT NULL,
                credentials BLOB);
             CREATE INDEX IF NOT EXISTS {accounts_by_user} ON {accounts} (user, connected_at);
             CREATE INDEX IF NOT EXISTS {accounts_by_status} ON {accounts} (json_extract(doc, '$.syncStatus'));
             CREATE TABLE IF NOT EXISTS {events} (
                id TEXT PRIMARY KEY NOT NULL,
                user TEXT NOT NULL,
                doc TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS {events_by_user} ON {events} (user);
             CREATE TABLE IF NOT EXISTS {conflicts} (
                user TEXT NOT NULL,
                draft TEXT NOT NULL,
                position INTEGER NOT NULL,
                id TEXT NOT NULL,
                doc TEXT NOT NULL,
                PRIMARY KEY (user, draft, position)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS {operations} (
                id TEXT PRIMARY KEY NOT NULL,
                event TEXT NOT NULL,
                status TEXT NOT NULL,
                next_attempt_at INTEGER NOT NULL,
                lease_until INTEGER,
                created_at INTEGER NOT NULL,
                doc TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS {operations_by_event} ON {operations} (event, created_at);
             CREATE INDEX IF NOT EXISTS {operations_due} ON {operations} (status, next_attempt_at);",
            accounts_by_user = index("accounts_by_user"),
            accounts_by_status = index("accounts_by_status"),
            events_by_user = index("syncedEvents_by_user"),
            operations_by_event = index("operations_by_event"),
            operations_due = index("operations_due"),
        );
        Tables(Arc::new(Statements {
            create,
            insert_account: format!(
                "INSERT INTO {accounts} (id, user, connected_at, doc, credentials) \
                 VALUES (?1, ?2, ?3, ?4, ?5)"
            ),
            get_account: format!("SELECT doc, credentials FROM {accounts} WHERE id = ?1"),
            accounts_of_user: format!(
                "SELECT doc, credentials FROM {accounts} WHERE user = ?1 \
                 ORDER BY connected_at, rowid"
            ),
            accounts_in_error: format!(
                "SELECT doc, credentials FROM {accounts} \
                 WHERE json_extract(doc, '$.syncStatus') = 'error' \
                 ORDER BY connected_at, rowid"
            ),
            update_account: format!(
                "UPDATE {accounts} SET user = ?2, connected_at = ?3, doc = ?4, credentials = ?5 \
                 WHERE id = ?1"
            ),
            get_event: format!("SELECT doc FROM {events} WHERE id = ?1"),
            events_of_user: format!("SELECT doc FROM {events} WHERE user = ?1 ORDER BY rowid"),
            upsert_event: format!(
                "INSERT INTO {events} (id, user, doc) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc"
            ),
            delete_event: format!("DELETE FROM {events} WHERE id = ?1"),
            delete_conflicts: format!("DELETE FROM {conflicts} WHERE user = ?1 AND draft = ?2"),
            insert_conflict: format!(
                "INSERT INTO {conflicts} (user, draft, position, id, doc) \
                 VALUES (?1, ?2, ?3, ?4, ?5)"
            ),
            conflicts_of_draft: format!(
                "SELECT doc FROM {conflicts} WHERE user = ?1 AND draft = ?2 ORDER BY position"
            ),
            insert_operation: format!(
                "INSERT INTO {operations} \
                 (id, event, status, next_attempt_at, lease_until, created_at, doc) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            update_operation: format!(
                "UPDATE {operations} SET event = ?2, status = ?3, next_attempt_at = ?4, \
                 lease_until = ?5, created_at = ?6, doc = ?7 WHERE id = ?1"
            ),
            get_operation: format!("SELECT doc FROM {operations} WHERE id = ?1"),
            operations_of_event: format!(
                "SELECT doc FROM {operations} WHERE event = ?1 ORDER BY created_at, rowid"
            ),
            due_operations: format!(
                "SELECT doc FROM {operations} \
                 WHERE status = 'pending' AND next_attempt_at <= ?1 \
                   AND (lease_until IS NULL OR lease_until < ?1) \
                 ORDER BY next_attempt_at, rowid LIMIT ?2"
            ),
            lease_operation: format!(
                "UPDATE {operations} SET lease_until = ?2, doc = ?3 WHERE id = ?1"
            ),
            erase_user: [
                format!("DELETE FROM {accounts} WHERE user = ?1"),
                format!("DELETE FROM {events} WHERE user = ?1"),
                format!("DELETE FROM {conflicts} WHERE user = ?1"),
                format!("DELETE FROM {operations} WHERE json_extract(doc, '$.user') = ?1"),
            ],
            unleased_pending: format!(
                "SELECT doc FROM {operations} \
                 WHERE status = 'pending' AND next_attempt_at > ?1 \
                   AND (lease_until IS NULL OR lease_until < ?1) \
                 ORDER BY rowid"
            ),
            idempotency: super::idempotency::Statements::new(prefix),
            shared: super::shared::Statements::new(prefix),
        }))
    }

    /// Creates the tables and indexes that do not exist yet.
    pub(super) fn create(&self, connection: &Connection) -> StoreResult<()> {
        connection
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {} {} {} COMMIT;",
                self.create, self.idempotency.create, self.shared.create
            ))
            .map_err(|e| map_error(e, "create tables"))
    }
}

/// A time as a key column: nanoseconds since the epoch, clamped to the range
/// an `i64` holds (years 1677 to 2262).
pub(super) fn time_key(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}
