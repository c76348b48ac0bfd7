//! The MongoDB store, for deployments where several calsync processes share
//! one store (a replica set or Atlas in production).
//!
//! The collections `{prefix}accounts`, `{prefix}syncedEvents`,
//! `{prefix}conflicts`, `{prefix}operations`, `{prefix}idempotencyKeys` and `{prefix}shared`
//! live in one database. Every
//! write is a single-document atomic command, so no transactions are needed:
//! attach and detach change one synced event with `$set`/`$unset` and
//! `$addToSet`/`$pull`, and operations are claimed one by one with
//! `findOneAndUpdate`. Only features that MongoDB-wire servers commonly share
//! are used: CRUD, single-document find-and-modify, comparison, `$in` and
//! `$or` queries, and named indexes.

mod complete;
mod documents;
mod idempotency;
mod records;
mod shared;

use crate::store::uri::redact_message;
use crate::store::{StoreError, StoreResult, redact_uri, validate_prefix};
use bson::{Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{
    Acknowledgment, ClientOptions, DatabaseOptions, IndexOptions, WriteConcern,
};
use mongodb::{Client, Collection, Database, IndexModel};
use std::time::Duration;

/// The database used when neither the caller nor the URI names one.
pub const DEFAULT_DATABASE: &str = "calsync";

/// How long an action waits for a reachable server before answering that the
/// store is unavailable, unless the URI says otherwise.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// MongoDB's code for a duplicate key.
const DUPLICATE_KEY: i32 = 11000;

/// A [`Store`](crate::store::Store) on a MongoDB database.
pub struct MongoStore {
    prefix: String,
    redacted_uri: String,
    database: Database,
    accounts: Collection<Document>,
    synced_events: Collection<Document>,
    conflicts: Collection<Document>,
    operations: Collection<Document>,
    idempotency_keys: Collection<Document>,
    shared: Collection<Document>,
}

impl std::fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoStore")
            .field("uri", &self.redacted_uri)
            .field("database", &self.database.name())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl MongoStore {
    /// Connects to the deployment at `uri`, uses the database `database` (or
    /// the URI's, or `calsync`), and creates the indexes the
    /// queries need when they are missing. Writes use majority write concern
    /// when the deployment is a replica set or a sharded cluster and the URI
    /// sets none.
    ///
    /// # Errors
    /// `InvalidConfiguration` for a bad URI, database name or prefix;
    /// `Unavailable` when no server answers.
    pub async fn connect(uri: &str, database: Option<&str>, prefix: &str) -> StoreResult<Self> {
        validate_prefix(prefix)?;
        let redacted_uri = redact_uri(uri);
        let mut options = ClientOptions::parse(uri).await.map_err(|e| {
            StoreError::InvalidConfiguration(format!(
                "MongoDB URI {redacted_uri}: {}",
                redact_message(&e.to_string(), uri)
            ))
        })?;
        options.app_name.get_or_insert_with(|| "calsync".to_owned());
        options
            .server_selection_timeout
            .get_or_insert(SERVER_SELECTION_TIMEOUT);
        let name = database
            .map(str::to_owned)
            .or_else(|| options.default_database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        validate_database_name(&name)?;
        let uri_sets_write_concern = options.write_concern.is_some();
        let client = Client::with_options(options).map_err(|e| map_error(e, "connect"))?;

        let hello = client
            .database("admin")
            .run_command(doc! { "hello": 1 })
            .await
            .map_err(|e| map_error(e, &format!("reach MongoDB at {redacted_uri}")))?;
        let replicated = hello.get_str("setName").is_ok()
            || hello.get_str("msg").is_ok_and(|msg| msg == "isdbgrid");
        let mut database_options = DatabaseOptions::default();
        if replicated && !uri_sets_write_concern {
            database_options.write_concern = Some(
                WriteConcern::builder()
                    .w(Acknowledgment::Majority)
                    .journal(true)
                    .build(),
            );
        }
        let database = client.database_with_options(&name, database_options);
        let collection = |name: &str| database.collection::<Document>(&format!("{prefix}{name}"));
        let store = MongoStore {
            prefix: prefix.to_owned(),
            redacted_uri,
            accounts: collection("accounts"),
            synced_events: collection("syncedEvents"),
            conflicts: collection("conflicts"),
            operations: collection("operations"),
            idempotency_keys: collection("idempotencyKeys"),
            shared: collection("shared"),
            database,
        };
        store.create_indexes().await?;
        Ok(store)
    }

    /// Creates every index under a fixed name; creating an index that exists
    /// with the same keys and name does nothing, so this runs at every start.
    async fn create_indexes(&self) -> StoreResult<()> {
        let index = |keys: Document, name: &str, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_owned())
                        .unique(unique.then_some(true))
                        .build(),
                )
                .build()
        };
        let plan = [
            (
                &self.accounts,
                vec![
                    index(doc! { "user": 1, "connectedAt": 1 }, "by_user", false),
                    index(doc! { "syncStatus": 1 }, "by_status", false),
                ],
            ),
            (
                &self.synced_events,
                vec![
                    index(doc! { "user": 1 }, "by_user", false),
                    index(doc! { "accounts": 1 }, "by_account", false),
                ],
            ),
            (
                &self.conflicts,
                vec![index(doc! { "user": 1, "draft": 1 }, "by_user_draft", true)],
            ),
            (
                &self.operations,
                vec![
                    index(doc! { "status": 1, "nextAttemptAt": 1 }, "by_due", false),
                    index(doc! { "event": 1, "createdAt": 1 }, "by_event", false),
                    index(doc! { "account": 1 }, "by_account", false),
                ],
            ),
            (
                &self.idempotency_keys,
                vec![index(doc! { "expiresAt": 1 }, "by_expiry", false)],
            ),
        ];
        for (collection, indexes) in plan {
            collection
                .create_indexes(indexes)
                .await
                .map_err(|e| map_error(e, &format!("create indexes on {}", collection.name())))?;
        }
        Ok(())
    }
}

fn validate_database_name(name: &str) -> StoreResult<()> {
    let bad = name.chars().find(|c| "/\\. \"$*<>:|?\0".contains(*c));
    if name.is_empty() || name.len() > 63 || bad.is_some() {
        return Err(StoreError::InvalidConfiguration(format!(
            "database: must be 1 to 63 characters without / \\ . space \" $ * < > : | ?, got {name:?}"
        )));
    }
    Ok(())
}

/// The server's error codes in a driver error, wherever the driver put them.
fn error_codes(error: &mongodb::error::Error) -> Vec<i32> {
    match error.kind.as_ref() {
        ErrorKind::Command(command) => vec![command.code],
        ErrorKind::Write(WriteFailure::WriteError(write)) => vec![write.code],
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => vec![concern.code],
        ErrorKind::InsertMany(insert) => insert
            .write_errors
            .iter()
            .flatten()
            .map(|write| write.code)
            .chain(
                insert
                    .write_concern_error
                    .iter()
                    .map(|concern| concern.code),
            )
            .collect(),
        _ => Vec::new(),
    }
}

/// Maps a driver error by kind and code, never by message: a duplicate key is
/// `AlreadyExists`, an unreadable document `Corrupt`, and the rest (network,
/// no server, refused write concern, authentication) `Unavailable`.
fn map_error(error: mongodb::error::Error, doing: &str) -> StoreError {
    if error_codes(&error).contains(&DUPLICATE_KEY) {
        return StoreError::AlreadyExists(format!("{doing}: duplicate key"));
    }
    match error.kind.as_ref() {
        ErrorKind::BsonDeserialization(_) => StoreError::Corrupt(format!("{doing}: {error}")),
        ErrorKind::InvalidArgument { .. } => {
            StoreError::InvalidConfiguration(format!("{doing}: {error}"))
        }
        _ => StoreError::Unavailable(format!("{doing}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_checked() {
        assert!(validate_database_name("calsync_test1").is_ok());
        for bad in ["", "a.b", "a/b", "a b", "x$", &"d".repeat(64)] {
            assert!(
                matches!(
                    validate_database_name(bad),
                    Err(StoreError::InvalidConfiguration(_))
                ),
                "{bad:?}"
            );
        }
    }
}
