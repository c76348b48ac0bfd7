//! `{prefix}shared` on SQLite: one row per name, its version beside the
//! record as JSON. A write checks the version inside the writer's
//! `IMMEDIATE` transaction, so that of two writers of one version (two tasks
//! or two processes) one wins.

use super::rows::{from_json, to_json};
use super::schema::{Tables, quote};
use super::{SqliteStore, map_error};
use crate::store::{SharedRecord, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// The table's statements, for one prefix.
pub(super) struct Statements {
    /// Creates the table when missing.
    pub(super) create: String,
    get: String,
    insert: String,
    update: String,
}

impl Statements {
    pub(super) fn new(prefix: &str) -> Self {
        let table = quote(&format!("{prefix}shared"));
        Statements {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    name TEXT PRIMARY KEY NOT NULL,
                    version INTEGER NOT NULL,
                    doc TEXT NOT NULL) WITHOUT ROWID;"
            ),
            get: format!("SELECT doc FROM {table} WHERE name = ?1"),
            insert: format!(
                "INSERT INTO {table} (name, version, doc) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO NOTHING"
            ),
            update: format!(
                "UPDATE {table} SET version = ?2, doc = ?3 WHERE name = ?1 AND version = ?4"
            ),
        }
    }
}

fn get(connection: &Connection, tables: &Tables, name: &str) -> StoreResult<Option<SharedRecord>> {
    let what = "shared record";
    let doc: Option<String> = connection
        .prepare_cached(&tables.shared.get)
        .and_then(|mut statement| statement.query_row([name], |row| row.get(0)).optional())
        .map_err(|e| map_error(e, what))?;
    doc.map(|doc| from_json(&doc, what)).transpose()
}

fn put(connection: &Connection, tables: &Tables, record: &SharedRecord) -> StoreResult<bool> {
    let what = "write shared record";
    let doc = to_json(record, "shared record")?;
    let version = i64::try_from(record.version)
        .map_err(|_| StoreError::Corrupt(format!("shared record version {}", record.version)))?;
    let changed = match version {
        0 => {
            return Err(StoreError::Corrupt(format!(
                "shared record {:?} written as version 0; the first version is 1",
                record.name
            )));
        }
        1 => connection
            .prepare_cached(&tables.shared.insert)
            .and_then(|mut statement| statement.execute(params![record.name, version, doc])),
        _ => connection
            .prepare_cached(&tables.shared.update)
            .and_then(|mut statement| {
                statement.execute(params![record.name, version, doc, version - 1])
            }),
    }
    .map_err(|e| map_error(e, what))?;
    Ok(changed == 1)
}

impl SqliteStore {
    pub(super) async fn get_shared_record(&self, name: &str) -> StoreResult<Option<SharedRecord>> {
        let name = name.to_owned();
        self.read(move |connection, tables| get(connection, tables, &name))
            .await
    }

    pub(super) async fn put_shared_record(&self, record: &SharedRecord) -> StoreResult<bool> {
        let record = record.clone();
        self.write(move |connection, tables| put(connection, tables, &record))
            .await
    }
}
