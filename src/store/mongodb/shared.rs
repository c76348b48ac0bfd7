//! `{prefix}shared` on MongoDB: one document per name (its `_id`), with the
//! version, the value as JSON text (opaque to the server) and when it was
//! written. The first version is an insert, so the unique `_id` decides
//! which of two first writers wins; a later one is an update filtered on
//! the version it read.

use super::{DUPLICATE_KEY, MongoStore, error_codes, map_error};
use crate::store::{SharedRecord, StoreError, StoreResult};
use bson::{Document, doc};

fn corrupt(name: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!(
        "stored shared record {name:?} cannot be read: {detail}"
    ))
}

fn from_document(name: &str, document: &Document) -> StoreResult<SharedRecord> {
    let version = match document.get("version") {
        Some(bson::Bson::Int64(version)) => {
            u64::try_from(*version).map_err(|e| corrupt(name, e))?
        }
        Some(bson::Bson::Int32(version)) => {
            u64::try_from(*version).map_err(|e| corrupt(name, e))?
        }
        _ => return Err(corrupt(name, "no version")),
    };
    let value = document
        .get_str("value")
        .map_err(|e| corrupt(name, e))
        .and_then(|text| serde_json::from_str(text).map_err(|e| corrupt(name, e)))?;
    let updated_at = document
        .get_datetime("updatedAt")
        .map_err(|e| corrupt(name, e))?
        .to_chrono();
    Ok(SharedRecord {
        name: name.to_owned(),
        version,
        value,
        updated_at,
    })
}

impl MongoStore {
    pub(super) async fn get_shared_record(&self, name: &str) -> StoreResult<Option<SharedRecord>> {
        let found = self
            .shared
            .find_one(doc! { "_id": name })
            .await
            .map_err(|e| map_error(e, &format!("read shared record {name:?}")))?;
        found
            .map(|document| from_document(name, &document))
            .transpose()
    }

    pub(super) async fn put_shared_record(&self, record: &SharedRecord) -> StoreResult<bool> {
        let doing = format!("write shared record {:?}", record.name);
        let version = i64::try_from(record.version).map_err(|_| {
            StoreError::Corrupt(format!("shared record version {}", record.version))
        })?;
        let value = record.value.to_string();
        let updated_at = bson::DateTime::from_chrono(record.updated_at);
        match version {
            0 => Err(StoreError::Corrupt(format!(
                "shared record {:?} written as version 0; the first version is 1",
                record.name
            ))),
            1 => {
                let document = doc! {
                    "_id": record.name.as_str(),
                    "version": version,
                    "value": value,
                    "updatedAt": updated_at,
                };
                match self.shared.insert_one(document).await {
                    Ok(_) => Ok(true),
                    Err(error) if error_codes(&error).contains(&DUPLICATE_KEY) => Ok(false),
                    Err(error) => Err(map_error(error, &doing)),
                }
            }
            _ => {
                let updated = self
                    .shared
                    .update_one(
                        doc! { "_id": record.name.as_str(), "version": version - 1 },
                        doc! { "$set": { "version": version, "value": value, "updatedAt": updated_at } },
                    )
                    .await
                    .map_err(|e| map_error(e, &doing))?;
                Ok(updated.matched_count == 1)
            }
        }
    }
}
