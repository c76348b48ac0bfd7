//! Writes: creates that never duplicate, updates that never clobber,
//! deletes that count "already gone" as done (PROVIDERS.md §2.2).

use super::api::failure;
use super::wire::{self, GraphEvent, KEY_PROPERTY, SYNCED_ID_PROPERTY};
use super::{Caller, OutlookProvider, caller, events_of};
use crate::model::{EventDetails, ProviderEventRef};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult, Session, WriteContext};
use reqwest::Method;
use serde_json::Value;

/// An OData string literal: quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The `$expand` that brings calsync's two properties along.
pub(super) fn expand_properties() -> String {
    format!(
        "singleValueExtendedProperties($filter=id eq {} or id eq {})",
        literal(SYNCED_ID_PROPERTY),
        literal(KEY_PROPERTY)
    )
}

/// The `If-Match` header on a stored ETag, when there is one.
fn if_match(etag: Option<&str>) -> Vec<(&'static str, &str)> {
    etag.map(|tag| ("If-Match", tag)).into_iter().collect()
}

fn refused_recurrence(error: &super::recurrence::Unexpressible) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Rejected, error.to_string())
}

impl OutlookProvider {
    /// Creates with the key's `transactionId` and calsync's properties. A
    /// create whose earlier attempt may have landed (`context.retry`: its
    /// answer was lost, it timed out, or a process stopped during it) first
    /// looks the event up by the key, so a retry never makes a second event
    /// even after Graph forgot the `transactionId`.
    pub(super) async fn create(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let token = caller(session)?;
        let body = wire::create_body(
            event,
            &context.synced_id,
            &context.idempotency_key,
            context.invite_attendees,
        )
        .map_err(|error| refused_recurrence(&error))?;
        if context.retry
            && let Some(found) = self.find(session, context).await?
        {
            return Ok(found);
        }
        let calendar = session.calendar_id.as_deref();
        let url = self.api.url(&events_of(calendar))?;
        let answer = self
            .call(Method::POST, url, token, &[], &[], Some(&body))
            .await?;
        if !answer.ok() {
            return Err(failure("create the event", &answer));
        }
        let created: GraphEvent = answer.json("create event")?;
        Ok(Self::event_ref(&created, calendar))
    }

    /// The event a create with the key made, found by calsync's key
    /// property and accepted only when it holds calsync's id.
    pub(super) async fn find(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        let token = caller(session)?;
        let calendar = session.calendar_id.as_deref();
        let mut url = self.api.url(&events_of(calendar))?;
        let filter = format!(
            "singleValueExtendedProperties/any(ep: ep/id eq {} and ep/value eq {})",
            literal(KEY_PROPERTY),
            literal(&context.idempotency_key)
        );
        url.query_pairs_mut()
            .append_pair("$filter", &filter)
            .append_pair("$expand", &expand_properties());
        let events: Vec<GraphEvent> = self
            .all_pages(url, token, "find the event by calsync's key")
            .await?;
        Ok(events
            .iter()
            .find(|found| {
                !found.is_cancelled
                    && found.property(SYNCED_ID_PROPERTY) == Some(context.synced_id.as_str())
            })
            .map(|found| Self::event_ref(found, calendar)))
    }

    async fn current_etag(&self, token: Caller<'_>, id: &str) -> ProviderResult<Option<String>> {
        let url = self.api.url(&["me", "events", id])?;
        let answer = self.call(Method::GET, url, token, &[], &[], None).await?;
        match answer.status.as_u16() {
            200 => Ok(answer
                .json::<GraphEvent>("get event")?
                .etag
                .or(Some("*".into()))),
            404 | 410 => Ok(None),
            _ => Err(failure("read the event", &answer)),
        }
    }

    /// PATCHes calsync's `changed` fields (all of them when none are named)
    /// with `If-Match`; on 412, once more over the current version, so that
    /// fields someone else changed stay as they are.
    pub(super) async fn update(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let token = caller(session)?;
        let fields: Vec<&str> = if changed.is_empty() {
            crate::model::EVENT_FIELDS.to_vec()
        } else {
            changed.iter().map(String::as_str).collect()
        };
        let body = Value::Object(
            wire::event_fields(event, &fields, context.invite_attendees)
                .map_err(|error| refused_recurrence(&error))?,
        );
        let url = self.api.url(&["me", "events", target.event_id.as_str()])?;
        let mut etag = target.etag.clone();
        for attempt in 0..2 {
            let answer = self
                .call(
                    Method::PATCH,
                    url.clone(),
                    token,
                    &[],
                    &if_match(etag.as_deref()),
                    Some(&body),
                )
                .await?;
            if answer.ok() {
                let updated: GraphEvent = answer.json("update event")?;
                let calendar = target
                    .calendar_id
                    .as_deref()
                    .or(session.calendar_id.as_deref());
                return Ok(Self::event_ref(&updated, calendar));
            }
            if answer.status.as_u16() != 412 || attempt == 1 {
                return Err(failure("update the event", &answer));
            }
            // 412 ErrorIrresolvableConflict: someone changed the event since
            // calsync wrote it; the PATCH carries only calsync's fields.
            match self.current_etag(token, &target.event_id).await? {
                Some(current) => etag = Some(current),
                None => {
                    return Err(ProviderError::new(
                        ProviderErrorKind::NotFound,
                        format!("the event {} was deleted in Outlook", target.event_id),
                    ));
                }
            }
        }
        Err(ProviderError::new(
            ProviderErrorKind::PreconditionFailed,
            format!(
                "{} kept changing in Outlook while calsync updated it",
                target.event_id
            ),
        ))
    }

    /// Deletes with `If-Match`; gone already (404) is done. Graph tells the
    /// attendees of a meeting deleted from the organizer's calendar.
    pub(super) async fn delete(
        &self,
        session: &Session,
        target: &ProviderEventRef,
    ) -> ProviderResult<()> {
        let token = caller(session)?;
        let url = self.api.url(&["me", "events", target.event_id.as_str()])?;
        let mut etag = target.etag.clone();
        for attempt in 0..2 {
            let answer = self
                .call(
                    Method::DELETE,
                    url.clone(),
                    token,
                    &[],
                    &if_match(etag.as_deref()),
                    None,
                )
                .await?;
            match answer.status.as_u16() {
                200..=299 | 404 | 410 => return Ok(()),
                412 if attempt == 0 => match self.current_etag(token, &target.event_id).await? {
                    Some(current) => etag = Some(current),
                    None => return Ok(()),
                },
                _ => return Err(failure("delete the event", &answer)),
            }
        }
        Err(ProviderError::new(
            ProviderErrorKind::PreconditionFailed,
            format!(
                "{} kept changing in Outlook while calsync deleted it",
                target.event_id
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_literals_double_their_quotes() {
        assert_eq!(literal("o'clock"), "'o''clock'");
        assert!(expand_properties().contains("Name calsyncId'"));
    }
}
