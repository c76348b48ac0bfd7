//! Rows to records and back: JSON documents and key columns.

use super::map_error;
use super::schema::time_key;
use crate::model::{Account, AccountRecord};
use crate::operations::{Operation, OperationStatus};
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
pub(super) fn to_json<T: Serialize>(value: &T, what: &str) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("{what} cannot be written as JSON: {e}")))
}

pub(super) fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("stored {what} cannot be read: {e}")))
}

pub(super) fn account_from_row(row: &Row<'_>) -> rusqlite::Result<(String, Option<Vec<u8>>)> {
    Ok((row.get(0)?, row.get(1)?))
}

pub(super) fn account_record(
    doc: &str,
    credentials: Option<Vec<u8>>,
) -> StoreResult<AccountRecord> {
    Ok(AccountRecord {
        account: from_json::<Account>(doc, "account")?,
        sealed_credentials: credentials,
    })
}

pub(super) fn status_key(status: OperationStatus) -> &'static str {
    match status {
        OperationStatus::Pending => "pending",
        OperationStatus::Succeeded => "succeeded",
        OperationStatus::Failed => "failed",
        OperationStatus::Superseded => "superseded",
    }
}

/// Reads the docs a query answers, in order.
pub(super) fn query_docs<T: DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> StoreResult<Vec<T>> {
    let mut statement = connection
        .prepare_cached(sql)
        .map_err(|e| map_error(e, what))?;
    let docs = statement
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(|e| map_error(e, what))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| map_error(e, what))?;
    docs.iter().map(|doc| from_json(doc, what)).collect()
}

pub(super) fn query_doc<T: DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    id: &str,
    what: &str,
) -> StoreResult<Option<T>> {
    let doc: Option<String> = connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_row([id], |row| row.get(0)).optional())
        .map_err(|e| map_error(e, what))?;
    doc.map(|doc| from_json(&doc, what)).transpose()
}

pub(super) fn write_operation(
    connection: &Connection,
    sql: &str,
    operation: &Operation,
) -> StoreResult<usize> {
    let doc = to_json(operation, "operation")?;
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement.execute(params![
                operation.id.as_str(),
                operation.event.as_str(),
                status_key(operation.status),
                time_key(operation.next_attempt_at),
                operation.lease_until.map(time_key),
                time_key(operation.created_at),
                doc,
            ])
        })
        .map_err(|e| map_error(e, &format!("write operation {}", operation.id)))
}

pub(super) fn write_account(
    connection: &Connection,
    sql: &str,
    record: &AccountRecord,
) -> StoreResult<usize> {
    let account = &record.account;
    let doc = to_json(account, "account")?;
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement.execute(params![
                account.id.as_str(),
                account.user.as_str(),
                time_key(account.connected_at),
                doc,
                record.sealed_credentials,
            ])
        })
        .map_err(|e| map_error(e, &format!("write account {}", account.id)))
}
