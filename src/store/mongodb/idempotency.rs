//! `{prefix}idempotencyKeys` on MongoDB: one document per scope and key,
//! whose `_id` is `{scope}:{key}` (a scope is hex, so the two never blur), so
//! that the unique `_id` index decides which of two claims wins. Instants are
//! BSON dates for the purge and the claim's filters; the first call's answer
//! is kept as JSON text, opaque to the server.

use super::{DUPLICATE_KEY, MongoStore, error_codes, map_error};
use crate::model::{EventId, OperationId, UserId};
use crate::store::{IdempotencyRecord, IdempotencyState, StoreError, StoreResult};
use bson::{Document, doc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many times a claim tries again when the record it met vanished
/// before it could be read (removed or purged in between).
const CLAIM_TRIES: usize = 3;

/// A record as stored.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(rename = "_id")]
    id: String,
    scope: String,
    #[serde(default)]
    user: UserId,
    key: String,
    request: String,
    body_hash: String,
    state: IdempotencyState,
    event: Option<EventId>,
    operations: Vec<OperationId>,
    answer: Option<String>,
    running_until: bson::DateTime,
    created_at: bson::DateTime,
    expires_at: bson::DateTime,
}

fn id(scope: &str, key: &str) -> String {
    format!("{scope}:{key}")
}

fn date(at: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_chrono(at)
}

fn to_document(record: &IdempotencyRecord) -> StoreResult<Document> {
    let answer = record
        .answer
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("an idempotency key's answer as JSON: {e}")))?;
    let stored = Stored {
        id: id(&record.scope, &record.key),
        scope: record.scope.clone(),
        user: record.user.clone(),
        key: record.key.clone(),
        request: record.request.clone(),
        body_hash: record.body_hash.clone(),
        state: record.state,
        event: record.event.clone(),
        operations: record.operations.clone(),
        answer,
        running_until: date(record.running_until),
        created_at: date(record.created_at),
        expires_at: date(record.expires_at),
    };
    bson::to_document(&stored)
        .map_err(|e| StoreError::Corrupt(format!("an idempotency key as BSON: {e}")))
}

fn from_document(document: Document) -> StoreResult<IdempotencyRecord> {
    let what = "stored idempotency key cannot be read";
    let stored: Stored =
        bson::from_document(document).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
    let answer = stored
        .answer
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
    Ok(IdempotencyRecord {
        scope: stored.scope,
        user: stored.user,
        key: stored.key,
        request: stored.request,
        body_hash: stored.body_hash,
        state: stored.state,
        event: stored.event,
        operations: stored.operations,
        answer,
        running_until: stored.running_until.to_chrono(),
        created_at: stored.created_at.to_chrono(),
        expires_at: stored.expires_at.to_chrono(),
    })
}

impl MongoStore {
    pub(super) async fn claim_key(
        &self,
        record: &IdempotencyRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let document = to_document(record)?;
        let id = id(&record.scope, &record.key);
        let doing = format!("claim idempotency key {:?}", record.key);
        for _ in 0..CLAIM_TRIES {
            match self.idempotency_keys.insert_one(document.clone()).await {
                Ok(_) => return Ok(None),
                Err(error) if error_codes(&error).contains(&DUPLICATE_KEY) => {}
                Err(error) => return Err(map_error(error, &doing)),
            }
            // The key is held: replace the holder only if it yields, in one
            // command, so that of two claims replacing it one wins.
            let yields = doc! {
                "_id": id.as_str(),
                "$or": [
                    { "expiresAt": { "$lte": date(now) } },
                    {
                        "state": IdempotencyState::Running.as_str(),
                        "runningUntil": { "$lte": date(now) },
                        "request": record.request.as_str(),
                        "bodyHash": record.body_hash.as_str(),
                    },
                ],
            };
            let replaced = self
                .idempotency_keys
                .replace_one(yields, document.clone())
                .await
                .map_err(|e| map_error(e, &doing))?;
            if replaced.matched_count == 1 {
                return Ok(None);
            }
            if let Some(holder) = self.get_key(&record.scope, &record.key).await? {
                return Ok(Some(holder));
            }
        }
        Err(StoreError::Unavailable(format!(
            "{doing}: the key changed hands {CLAIM_TRIES} times while claimed"
        )))
    }

    pub(super) async fn get_key(
        &self,
        scope: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let found = self
            .idempotency_keys
            .find_one(doc! { "_id": id(scope, key) })
            .await
            .map_err(|e| map_error(e, &format!("read idempotency key {key:?}")))?;
        found.map(from_document).transpose()
    }

    pub(super) async fn update_key(&self, record: &IdempotencyRecord) -> StoreResult<()> {
        let result = self
            .idempotency_keys
            .replace_one(
                doc! { "_id": id(&record.scope, &record.key) },
                to_document(record)?,
            )
            .await
            .map_err(|e| map_error(e, &format!("update idempotency key {:?}", record.key)))?;
        match result.matched_count {
            0 => Err(StoreError::NotFound(format!(
                "idempotency key {:?}",
                record.key
            ))),
            _ => Ok(()),
        }
    }

    pub(super) async fn remove_key(&self, scope: &str, key: &str) -> StoreResult<()> {
        self.idempotency_keys
            .delete_one(doc! { "_id": id(scope, key) })
            .await
            .map(drop)
            .map_err(|e| map_error(e, &format!("remove idempotency key {key:?}")))
    }

    pub(super) async fn purge_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.idempotency_keys
            .delete_many(doc! { "expiresAt": { "$lte": date(now) } })
            .await
            .map(|result| result.deleted_count)
            .map_err(|e| map_error(e, "purge idempotency keys"))
    }
}
