//! `{prefix}idempotencyKeys` on SQLite: one row per scope and key, the
//! record as JSON beside the expiry the purge filters on. A claim reads and
//! writes inside the writer's `IMMEDIATE` transaction, so that two claims
//! (from two tasks or two processes) never both win.

use super::rows::{from_json, to_json};
use super::schema::{Tables, quote, time_key};
use super::{SqliteStore, map_error};
use crate::store::{IdempotencyRecord, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// The table's statements, for one prefix.
pub(super) struct Statements {
    /// Creates the table and its index when missing (run at every open, so
    /// a file made before the table existed gets it too).
    pub(super) create: String,
    get: String,
    upsert: String,
    update: String,
    delete: String,
    purge: String,
    erase_user: String,
}

impl Statements {
    pub(super) fn new(prefix: &str) -> Self {
        let table = quote(&format!("{prefix}idempotencyKeys"));
        let by_expiry = quote(&format!("{prefix}idempotencyKeys_by_expiry"));
        Statements {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    scope TEXT NOT NULL,
                    key TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
                    doc TEXT NOT NULL,
                    PRIMARY KEY (scope, key)) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS {by_expiry} ON {table} (expires_at);"
            ),
            get: format!("SELECT doc FROM {table} WHERE scope = ?1 AND key = ?2"),
            upsert: format!(
                "INSERT INTO {table} (scope, key, expires_at, doc) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (scope, key) DO UPDATE SET expires_at = excluded.expires_at, \
                 doc = excluded.doc"
            ),
            update: format!(
                "UPDATE {table} SET expires_at = ?3, doc = ?4 WHERE scope = ?1 AND key = ?2"
            ),
            delete: format!("DELETE FROM {table} WHERE scope = ?1 AND key = ?2"),
            purge: format!("DELETE FROM {table} WHERE expires_at <= ?1"),
            erase_user: format!("DELETE FROM {table} WHERE json_extract(doc, '$.user') = ?1"),
        }
    }
}

fn get(
    connection: &Connection,
    tables: &Tables,
    scope: &str,
    key: &str,
) -> StoreResult<Option<IdempotencyRecord>> {
    let what = "idempotency key";
    let doc: Option<String> = connection
        .prepare_cached(&tables.idempotency.get)
        .and_then(|mut statement| {
            statement
                .query_row([scope, key], |row| row.get(0))
                .optional()
        })
        .map_err(|e| map_error(e, what))?;
    doc.map(|doc| from_json(&doc, what)).transpose()
}

/// Writes `record` with `sql` (upsert or update); answers the rows changed.
fn write(connection: &Connection, sql: &str, record: &IdempotencyRecord) -> StoreResult<usize> {
    let doc = to_json(record, "idempotency key")?;
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement.execute(params![
                record.scope,
                record.key,
                time_key(record.expires_at),
                doc
            ])
        })
        .map_err(|e| map_error(e, "write idempotency key"))
}

fn claim(
    connection: &Connection,
    tables: &Tables,
    record: &IdempotencyRecord,
    now: DateTime<Utc>,
) -> StoreResult<Option<IdempotencyRecord>> {
    match get(connection, tables, &record.scope, &record.key)? {
        Some(holder) if !holder.yields_to(record, now) => Ok(Some(holder)),
        _ => {
            write(connection, &tables.idempotency.upsert, record)?;
            Ok(None)
        }
    }
}

/// Removes the user's idempotency keys; answers how many.
pub(super) fn erase_user(connection: &Connection, tables: &Tables, user: &str) -> StoreResult<u64> {
    connection
        .execute(&tables.idempotency.erase_user, [user])
        .map(|removed| removed as u64)
        .map_err(|e| map_error(e, "erase idempotency keys"))
}

impl SqliteStore {
    pub(super) async fn claim_key(
        &self,
        record: &IdempotencyRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let record = record.clone();
        self.write(move |connection, tables| claim(connection, tables, &record, now))
            .await
    }

    pub(super) async fn get_key(
        &self,
        scope: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.read(move |connection, tables| get(connection, tables, &scope, &key))
            .await
    }

    pub(super) async fn update_key(&self, record: &IdempotencyRecord) -> StoreResult<()> {
        let record = record.clone();
        self.write(move |connection, tables| {
            match write(connection, &tables.idempotency.update, &record)? {
                0 => Err(StoreError::NotFound(format!(
                    "idempotency key {:?}",
                    record.key
                ))),
                _ => Ok(()),
            }
        })
        .await
    }

    pub(super) async fn remove_key(&self, scope: &str, key: &str) -> StoreResult<()> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.write(move |connection, tables| {
            connection
                .prepare_cached(&tables.idempotency.delete)
                .and_then(|mut statement| statement.execute([&scope, &key]))
                .map(drop)
                .map_err(|e| map_error(e, "remove idempotency key"))
        })
        .await
    }

    pub(super) async fn purge_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |connection, tables| {
            connection
                .prepare_cached(&tables.idempotency.purge)
                .and_then(|mut statement| statement.execute([time_key(now)]))
                .map(|removed| removed as u64)
                .map_err(|e| map_error(e, "purge idempotency keys"))
        })
        .await
    }
}
