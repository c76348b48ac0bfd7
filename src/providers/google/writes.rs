//! Writes: creates that never duplicate, updates that never clobber,
//! deletes that count "already gone" as done.

use super::api::failure;
use super::wire::{self, GoogleEvent};
use super::{GoogleProvider, SYNCED_ID_PROPERTY, calendar_of, caller};
use crate::model::{EventDetails, ProviderEventRef};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult, Session, WriteContext};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The client-chosen event id for an idempotency key: base32hex (Google
/// allows `a-v` and `0-9`), here `cs` and 32 lowercase hex digits of the
/// key's SHA-256, so a retried create names the same event.
pub fn event_id_for(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("cs{hex}")
}

/// Google's `sendUpdates`: only the copy that invites the attendees mails
/// them; the other copies carry them silently.
fn send_updates(context: &WriteContext) -> &'static str {
    if context.invite_attendees {
        "all"
    } else {
        "none"
    }
}

/// The `If-Match` header on a stored ETag, when there is one.
fn if_match(etag: Option<&str>) -> Vec<(&'static str, &str)> {
    etag.map(|tag| ("If-Match", tag)).into_iter().collect()
}

/// The calendar an event calsync wrote lives in: the one recorded with it,
/// else the session's.
fn target_calendar(session: &Session, target: &ProviderEventRef) -> String {
    target
        .calendar_id
        .clone()
        .unwrap_or_else(|| calendar_of(session).to_owned())
}

impl GoogleProvider {
    /// Inserts with the key's id; a 409 is read back and accepted only
    /// when it holds calsync's id.
    pub(super) async fn create(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let token = caller(session)?;
        let calendar = calendar_of(session);
        let id = event_id_for(&context.idempotency_key);
        let body = wire::insert_body(event, &id, &context.synced_id, &context.idempotency_key);
        let answer = self
            .call(
                Method::POST,
                &["calendars", calendar, "events"],
                &[("sendUpdates", send_updates(context))],
                token,
                &[],
                Some(&body),
            )
            .await?;
        if answer.ok() {
            let created: GoogleEvent = answer.json("events.insert")?;
            return Ok(Self::event_ref(&created, calendar));
        }
        if answer.status.as_u16() != 409 {
            return Err(failure("insert the event", &answer));
        }
        // 409 duplicate: the id is taken, by this create's earlier attempt
        // if the event holds calsync's id, else by something calsync must
        // not touch.
        match self.get_event(token, calendar, &id).await? {
            Some(existing)
                if !existing.is_cancelled()
                    && existing.private_property(SYNCED_ID_PROPERTY)
                        == Some(context.synced_id.as_str()) =>
            {
                Ok(Self::event_ref(&existing, calendar))
            }
            Some(existing) if existing.is_cancelled() => Err(ProviderError::new(
                ProviderErrorKind::AlreadyExists,
                format!("the event {id} this create made was deleted on Google since"),
            )),
            _ => Err(ProviderError::new(
                ProviderErrorKind::AlreadyExists,
                format!("Google already holds another event with the id {id}"),
            )),
        }
    }

    /// The event the key's id names, when it is calsync's and not deleted.
    pub(super) async fn find(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        let token = caller(session)?;
        let calendar = calendar_of(session);
        let id = event_id_for(&context.idempotency_key);
        Ok(self
            .get_event(token, calendar, &id)
            .await?
            .filter(|event| {
                !event.is_cancelled()
                    && event.private_property(SYNCED_ID_PROPERTY)
                        == Some(context.synced_id.as_str())
            })
            .map(|event| Self::event_ref(&event, calendar)))
    }

    /// PATCHes calsync's `changed` fields with `If-Match`; on 412, once more
    /// over the current version.
    pub(super) async fn update(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let token = caller(session)?;
        let calendar = target_calendar(session, target);
        let fields: Vec<&str> = if changed.is_empty() {
            crate::model::EVENT_FIELDS.to_vec()
        } else {
            changed.iter().map(String::as_str).collect()
        };
        let body = Value::Object(wire::event_fields(event, &fields));
        let segments = [
            "calendars",
            calendar.as_str(),
            "events",
            target.event_id.as_str(),
        ];
        let mut etag = target.etag.clone();
        for attempt in 0..2 {
            let answer = self
                .call(
                    Method::PATCH,
                    &segments,
                    &[("sendUpdates", send_updates(context))],
                    token,
                    &if_match(etag.as_deref()),
                    Some(&body),
                )
                .await?;
            if answer.ok() {
                let updated: GoogleEvent = answer.json("events.patch")?;
                return Ok(Self::event_ref(&updated, &calendar));
            }
            if answer.status.as_u16() != 412 || attempt == 1 {
                return Err(failure("update the event", &answer));
            }
            // Someone changed the event since calsync wrote it: the PATCH
            // carries only calsync's fields, so applying it once more over
            // their version keeps what they changed.
            match self.get_event(token, &calendar, &target.event_id).await? {
                Some(current) if !current.is_cancelled() => etag = current.etag,
                _ => {
                    return Err(ProviderError::new(
                        ProviderErrorKind::NotFound,
                        format!("the event {} was deleted on Google", target.event_id),
                    ));
                }
            }
        }
        unreachable!("the loop answers on its second attempt")
    }

    /// Deletes with `If-Match`; gone already (404, 410) is done. The copy
    /// that invited the attendees mails them the cancellation.
    pub(super) async fn delete(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        context: &WriteContext,
    ) -> ProviderResult<()> {
        let token = caller(session)?;
        let calendar = target_calendar(session, target);
        let segments = [
            "calendars",
            calendar.as_str(),
            "events",
            target.event_id.as_str(),
        ];
        let mut etag = target.etag.clone();
        for attempt in 0..2 {
            let answer = self
                .call(
                    Method::DELETE,
                    &segments,
                    &[("sendUpdates", send_updates(context))],
                    token,
                    &if_match(etag.as_deref()),
                    None,
                )
                .await?;
            match answer.status.as_u16() {
                200..=299 | 404 | 410 => return Ok(()),
                412 if attempt == 0 => {
                    match self.get_event(token, &calendar, &target.event_id).await? {
                        Some(current) if !current.is_cancelled() => etag = current.etag,
                        _ => return Ok(()),
                    }
                }
                _ => return Err(failure("delete the event", &answer)),
            }
        }
        Err(ProviderError::new(
            ProviderErrorKind::PreconditionFailed,
            format!(
                "{} kept changing on Google while calsync deleted it",
                target.event_id
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_base32hex_and_follow_the_key() {
        let id = event_id_for("op-1");
        assert_eq!(id, event_id_for("op-1"));
        assert_ne!(id, event_id_for("op-2"));
        assert!((5..=1024).contains(&id.len()));
        assert!(
            id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')),
            "{id}"
        );
    }
}
