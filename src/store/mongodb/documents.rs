//! How records become BSON documents and back.
//!
//! A record's serde form becomes a document whose id field is `_id` and whose
//! instants are BSON dates (milliseconds), so that the server compares and
//! indexes them as times. Account ids used as keys of `providerIds` are
//! escaped, because a key holding `.` or starting with `$` cannot be updated
//! by path.

use crate::model::{Account, AccountId, AccountRecord, ProviderEventRef, SyncedEvent};
use crate::operations::Operation;
use crate::store::{StoreError, StoreResult};
use bson::{Bson, Document, doc, spec::BinarySubtype};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The instants of an account, by path.
pub(super) const ACCOUNT_DATES: &[&str] = &["connectedAt", "lastSync", "error.at"];
/// The instants of a synced event.
pub(super) const EVENT_DATES: &[&str] = &["syncedAt"];
/// The instants of a conflict.
pub(super) const CONFLICT_DATES: &[&str] = &["detectedAt"];
/// The instants of an operation.
pub(super) const OPERATION_DATES: &[&str] =
    &["nextAttemptAt", "leaseUntil", "createdAt", "updatedAt"];

/// A time as BSON.
pub(super) fn date(at: DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_chrono(at))
}

/// `record`'s serde form, with `id_field` moved to `_id` and the instants at
/// `dates` made BSON dates.
pub(super) fn to_document<T: Serialize>(
    record: &T,
    id_field: Option<&str>,
    dates: &[&str],
    what: &str,
) -> StoreResult<Document> {
    let mut document = bson::to_document(record)
        .map_err(|e| StoreError::Corrupt(format!("{what} cannot be written as BSON: {e}")))?;
    for path in dates {
        convert_at(&mut document, path, &|value| match value {
            Bson::String(text) => DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|at| date(at.with_timezone(&Utc))),
            _ => None,
        });
    }
    if let Some(field) = id_field
        && let Some(id) = document.remove(field)
    {
        let mut with_id = Document::new();
        with_id.insert("_id", id);
        with_id.extend(document);
        return Ok(with_id);
    }
    Ok(document)
}

/// The record a document stores, undoing [`to_document`].
pub(super) fn from_document<T: DeserializeOwned>(
    mut document: Document,
    id_field: Option<&str>,
    dates: &[&str],
    what: &str,
) -> StoreResult<T> {
    if let Some(field) = id_field
        && let Some(id) = document.remove("_id")
    {
        document.insert(field, id);
    }
    for path in dates {
        convert_at(&mut document, path, &|value| match value {
            Bson::DateTime(at) => Some(Bson::String(
                at.to_chrono().to_rfc3339_opts(SecondsFormat::AutoSi, true),
            )),
            _ => None,
        });
    }
    bson::from_document(document)
        .map_err(|e| StoreError::Corrupt(format!("stored {what} cannot be read: {e}")))
}

/// Replaces the value at a dotted `path` by `convert(value)` when that is
/// `Some`; absent paths and null values stay as they are.
fn convert_at(document: &mut Document, path: &str, convert: &dyn Fn(&Bson) -> Option<Bson>) {
    match path.split_once('.') {
        Some((head, rest)) => {
            if let Ok(inner) = document.get_document_mut(head) {
                convert_at(inner, rest, convert);
            }
        }
        None => {
            if let Some(value) = document.get(path).and_then(convert) {
                document.insert(path, value);
            }
        }
    }
}

/// An account id as a document key: `%`, `.`, `$` and NUL percent-escaped.
pub(super) fn escape_key(account: &AccountId) -> String {
    let mut key = String::with_capacity(account.as_str().len());
    for c in account.as_str().chars() {
        match c {
            '%' => key.push_str("%25"),
            '.' => key.push_str("%2E"),
            '$' => key.push_str("%24"),
            '\0' => key.push_str("%00"),
            c => key.push(c),
        }
    }
    key
}

/// Undoes [`escape_key`].
/// `value` as a BSON value; `what` names it in the error.
pub(super) fn to_bson<T: Serialize>(value: &T, what: &str) -> StoreResult<Bson> {
    bson::to_bson(value).map_err(|e| StoreError::Corrupt(format!("{what} as BSON: {e}")))
}

/// The update that records `reference` as `account`'s provider event on a
/// synced event, synced at `at`.
pub(super) fn set_reference(
    account: &AccountId,
    reference: &ProviderEventRef,
    at: DateTime<Utc>,
) -> StoreResult<Document> {
    let reference = to_bson(reference, "provider event")?;
    Ok(doc! {
        "$set": {
            format!("providerIds.{}", escape_key(account)): reference,
            "syncedAt": date(at),
        },
        "$addToSet": { "accounts": account.as_str() },
    })
}

pub(super) fn unescape_key(key: &str) -> String {
    let mut account = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(at) = rest.find('%') {
        account.push_str(&rest[..at]);
        let escaped = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        match escaped {
            "%25" => account.push('%'),
            "%2E" => account.push('.'),
            "%24" => account.push('$'),
            "%00" => account.push('\0'),
            other => account.push_str(other),
        }
        rest = &rest[at + escaped.len()..];
    }
    account.push_str(rest);
    account
}

pub(super) fn account_document(record: &AccountRecord) -> StoreResult<Document> {
    let mut document = to_document(&record.account, Some("id"), ACCOUNT_DATES, "account")?;
    let credentials = match &record.sealed_credentials {
        Some(bytes) => Bson::Binary(bson::Binary {
            subtype: BinarySubtype::Generic,
            bytes: bytes.clone(),
        }),
        None => Bson::Null,
    };
    document.insert("sealedCredentials", credentials);
    Ok(document)
}

pub(super) fn account_record(mut document: Document) -> StoreResult<AccountRecord> {
    let sealed_credentials = match document.remove("sealedCredentials") {
        Some(Bson::Binary(binary)) => Some(binary.bytes),
        None | Some(Bson::Null) => None,
        Some(other) => {
            return Err(StoreError::Corrupt(format!(
                "stored account credentials are {:?}, not binary",
                other.element_type()
            )));
        }
    };
    let account: Account = from_document(document, Some("id"), ACCOUNT_DATES, "account")?;
    Ok(AccountRecord {
        account,
        sealed_credentials,
    })
}

/// A stored synced event, or `None` for one whose last account was just
/// detached and whose removal is under way.
pub(super) fn synced_event(mut document: Document) -> StoreResult<Option<SyncedEvent>> {
    if let Ok(provider_ids) = document.get_document_mut("providerIds") {
        let escaped = std::mem::take(provider_ids);
        *provider_ids = escaped
            .into_iter()
            .map(|(key, value)| (unescape_key(&key), value))
            .collect();
    }
    let event: SyncedEvent =
        from_document(document, Some("internalId"), EVENT_DATES, "synced event")?;
    Ok((!event.provider_ids.is_empty() || !event.accounts.is_empty()).then_some(event))
}

pub(super) fn operation_document(operation: &Operation) -> StoreResult<Document> {
    to_document(operation, Some("id"), OPERATION_DATES, "operation")
}

pub(super) fn operation(document: Document) -> StoreResult<Operation> {
    from_document(document, Some("id"), OPERATION_DATES, "operation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_keys_round_trip_and_hold_no_dot_or_dollar() {
        for id in [
            "plain", "a.b", "$x", "50%", "%2E", "a\0b", "%", "%2", "é.%24$",
        ] {
            let key = escape_key(&AccountId::from(id));
            assert!(
                !key.contains('.') && !key.contains('$') && !key.contains('\0'),
                "{key}"
            );
            assert_eq!(unescape_key(&key), id);
        }
    }
}
