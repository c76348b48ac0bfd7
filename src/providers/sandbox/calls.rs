//! The sandbox's answers to each call, and the real endpoints they stand in for.

use super::entry::Call;
use super::{SandboxProvider, StoredEvent, calendar_event, ids, overlaps};
use crate::model::{EventDetails, Provider, ProviderEventRef};
use crate::providers::{
    Connection, Credentials, ProviderError, ProviderErrorKind, ProviderResult, Session,
    WriteContext,
};
use crate::schedule::ProviderEvent;
use chrono::{DateTime, Utc};

/// Stands in for the provider's consent flow plus a first authenticated call
/// (Google `GET /calendars/primary`, Graph `GET /me/calendar`, CalDAV
/// discovery, Zoom `GET /users/me`): any object with an `access_token` or a
/// `refresh_token` string is accepted, and calls made with that token then work until it expires.
pub(super) async fn connect(
    sandbox: &SandboxProvider,
    user: Option<&crate::model::UserId>,
    credentials: &Credentials,
) -> ProviderResult<Connection> {
    // Nothing here is left to fail after taking effect.
    sandbox.admit(None).await?;
    let given = |name: &str| credentials.get_str(name).filter(|t| !t.is_empty());
    if given("access_token").is_none() && given("refresh_token").is_none() {
        return Err(ProviderError::new(
            ProviderErrorKind::InvalidCredentials,
            "credentials must carry an access_token or a refresh_token string",
        ));
    }
    // The tokens an app sends are examples that name a person; the
    // connection gets tokens of its own, as a provider issues them per
    // grant, so that revoking or expiring one connection's tokens never
    // touches another's, even when both were made with the same example.
    let calendar = sandbox.calendar_for(user, credentials);
    let access_token = ids::token("ya29.");
    let mut kept = credentials.clone();
    kept.set_str("access_token", access_token.clone());
    kept.0.remove("expires_in");
    let mut state = sandbox.state();
    if given("refresh_token").is_some() {
        let refresh_token = ids::token("rt.");
        state
            .refresh_tokens
            .insert(refresh_token.clone(), calendar.clone());
        kept.set_str("refresh_token", refresh_token);
    }
    let expires_at = sandbox.issue_access_token(&mut state, &calendar, access_token);
    state.calendars.entry(calendar.clone()).or_default();
    kept.set_str("expires_at", expires_at.to_rfc3339());
    Ok(Connection {
        credentials: kept,
        calendar_id: Some(calendar),
        label: credentials.get_str("email").map(str::to_owned),
    })
}

/// Stands in for the token endpoint's `grant_type=refresh_token` (Google
/// `POST oauth2.googleapis.com/token`, Microsoft `POST
/// login.microsoftonline.com/{tenant}/oauth2/v2.0/token`, Zoom `POST
/// zoom.us/oauth/token`). Outlook and Zoom rotate the refresh token: the old
/// one stops working, as theirs do.
pub(super) async fn refresh(
    sandbox: &SandboxProvider,
    credentials: &Credentials,
) -> ProviderResult<Credentials> {
    if let Some(kind) = sandbox.enter(Call::Refresh, None).await {
        return Err(sandbox.fault_error(kind));
    }
    let invalid_grant = || {
        ProviderError::new(
            ProviderErrorKind::InvalidGrant,
            "invalid_grant: Token has been expired or revoked.",
        )
    };
    let refresh_token = credentials
        .get_str("refresh_token")
        .ok_or_else(invalid_grant)?;
    let mut state = sandbox.state();
    state.counts.refreshes += 1;
    let calendar = state
        .refresh_tokens
        .get(refresh_token)
        .cloned()
        .ok_or_else(invalid_grant)?;
    let mut renewed = credentials.clone();
    let access_token = ids::token("ya29.");
    let expires_at = sandbox.issue_access_token(&mut state, &calendar, access_token.clone());
    renewed.set_str("access_token", access_token);
    renewed.set_str("expires_at", expires_at.to_rfc3339());
    if matches!(sandbox.provider, Provider::Outlook | Provider::Zoom) {
        state.refresh_tokens.remove(refresh_token);
        let rotated = ids::token("rt.");
        state.refresh_tokens.insert(rotated.clone(), calendar);
        renewed.set_str("refresh_token", rotated);
    }
    Ok(renewed)
}

/// Stands in for revocation (Google `POST oauth2.googleapis.com/revoke`, Zoom
/// `POST zoom.us/oauth/revoke`; Graph has none per token, the grant is removed
/// by the user): the access and refresh tokens stop working.
pub(super) async fn revoke(
    sandbox: &SandboxProvider,
    credentials: &Credentials,
) -> ProviderResult<()> {
    // Nothing here is left to fail after taking effect.
    sandbox.admit(None).await?;
    let mut state = sandbox.state();
    state.counts.revokes += 1;
    if let Some(token) = credentials.get_str("access_token") {
        state.access_tokens.remove(token);
    }
    if let Some(token) = credentials.get_str("refresh_token") {
        state.refresh_tokens.remove(token);
    }
    Ok(())
}

/// Stands in for a cheap authenticated read (Google `GET
/// /calendars/{calendarId}`, Graph `GET /me/calendars/{id}`, CalDAV `PROPFIND`
/// Depth 0 on the calendar, Zoom `GET /users/me`).
pub(super) async fn validate(sandbox: &SandboxProvider, session: &Session) -> ProviderResult<()> {
    sandbox.begin(session).await.map(|_| ())
}

/// Stands in for Google `POST /calendars/{calendarId}/events` with a
/// client-chosen `id` (409 `duplicate` on a repeat, then GET), Graph `POST
/// /me/calendars/{id}/events` with `transactionId`, CalDAV `PUT
/// {calendar}/{uid}.ics` with `If-None-Match: *` (412 on a repeat), and Zoom
/// `POST /users/me/meetings` (a repeat is found by the marker calsync puts
/// in the agenda). A repeat with the same idempotency key answers the event
/// the first call made.
pub(super) async fn create_event(
    sandbox: &SandboxProvider,
    session: &Session,
    details: &EventDetails,
    context: &WriteContext,
) -> ProviderResult<ProviderEventRef> {
    sandbox
        .write(session, |state, calendar| {
            Ok(create_in(
                state,
                sandbox.provider,
                calendar,
                details,
                context,
            ))
        })
        .await
}

/// A create's effect on a calendar: a repeat of the key answers the event
/// the first made (while the calendar holds it).
pub(super) fn create_in(
    state: &mut super::State,
    provider: Provider,
    calendar: &str,
    details: &EventDetails,
    context: &WriteContext,
) -> ProviderEventRef {
    let key = (calendar.to_owned(), context.idempotency_key.clone());
    let existing = state.keys.get(&key).cloned().and_then(|id| {
        let stored = state.calendars.get(calendar)?.get(&id)?;
        Some((id, stored.etag.clone()))
    });
    let (id, etag) = match existing {
        Some(found) => {
            state.counts.repeated_creates += 1;
            found
        }
        None => {
            let id = ids::event_id(provider, calendar, &context.idempotency_key);
            let etag = state.next_etag();
            let stored = StoredEvent {
                event: calendar_event(&id, details, context),
                details: Some(details.clone()),
                etag: etag.clone(),
                key: Some(context.idempotency_key.clone()),
            };
            state
                .calendars
                .entry(calendar.to_owned())
                .or_default()
                .insert(id.clone(), stored);
            state.keys.insert(key, id.clone());
            state.counts.creates += 1;
            (id, etag)
        }
    };
    reference(provider, id, etag, calendar)
}

/// Stands in for Google `GET /calendars/{calendarId}/events/{id}` with the
/// client-chosen id, a Graph `$filter` on `transactionId`, a CalDAV `GET
/// {calendar}/{uid}.ics`, and Zoom's meeting list searched for calsync's
/// marker: the event a create with this key made, if the calendar holds it.
pub(super) async fn find_created(
    sandbox: &SandboxProvider,
    session: &Session,
    context: &WriteContext,
) -> ProviderResult<Option<ProviderEventRef>> {
    let (calendar, after) = sandbox.begin(session).await?;
    let found = {
        let state = sandbox.state();
        let key = (calendar.clone(), context.idempotency_key.clone());
        state.keys.get(&key).and_then(|id| {
            let stored = state.calendars.get(&calendar)?.get(id)?;
            Some(reference(
                sandbox.provider,
                id.clone(),
                stored.etag.clone(),
                &calendar,
            ))
        })
    };
    sandbox.fail_after(after).await?;
    Ok(found)
}

fn reference(provider: Provider, id: String, etag: String, calendar: &str) -> ProviderEventRef {
    let join_url = (provider == Provider::Zoom).then(|| format!("https://zoom.us/j/{id}"));
    ProviderEventRef {
        provider,
        event_id: id,
        etag: Some(etag),
        calendar_id: Some(calendar.to_owned()),
        join_url,
        // The engine sets the version it wrote.
        version: crate::model::FIRST_VERSION,
        pending: None,
    }
}

/// Stands in for Google `PATCH /calendars/{calendarId}/events/{eventId}`,
/// Graph `PATCH /me/events/{id}`, CalDAV `PUT` with `If-Match`, Zoom `PATCH
/// /meetings/{meetingId}`. An event deleted on the provider answers 404.
/// As a PATCH does, only the `changed` fields are written; the others keep
/// what the provider holds.
pub(super) async fn update_event(
    sandbox: &SandboxProvider,
    session: &Session,
    target: &ProviderEventRef,
    details: &EventDetails,
    changed: &[String],
    context: &WriteContext,
) -> ProviderResult<ProviderEventRef> {
    sandbox
        .write(session, |state, calendar| {
            let etag = state.next_etag();
            let Some(stored) = state
                .calendars
                .get_mut(calendar)
                .and_then(|events| events.get_mut(&target.event_id))
            else {
                return Err(not_found(&target.event_id));
            };
            let written = patched(stored.details.as_ref(), details, changed)?;
            stored.event = calendar_event(&target.event_id, &written, context);
            stored.details = Some(written);
            stored.etag = etag.clone();
            state.counts.updates += 1;
            Ok(reference(
                sandbox.provider,
                target.event_id.clone(),
                etag,
                calendar,
            ))
        })
        .await
}

/// What a PATCH of the `changed` fields of `sent` leaves of `held`: the sent
/// value of each changed field (absent when it is absent there), the held one
/// of every other field. An event calsync did not write takes `sent` whole.
fn patched(
    held: Option<&EventDetails>,
    sent: &EventDetails,
    changed: &[String],
) -> ProviderResult<EventDetails> {
    let Some(held) = held else {
        return Ok(sent.clone());
    };
    let refused = |error: serde_json::Error| {
        ProviderError::new(
            ProviderErrorKind::Rejected,
            format!("400 Bad Request: the event could not be patched: {error}"),
        )
    };
    let mut fields = match serde_json::to_value(held).map_err(refused)? {
        serde_json::Value::Object(fields) => fields,
        _ => return Ok(sent.clone()),
    };
    let sent_fields = match serde_json::to_value(sent).map_err(refused)? {
        serde_json::Value::Object(fields) => fields,
        _ => return Ok(sent.clone()),
    };
    for field in changed {
        match sent_fields.get(field) {
            Some(value) => fields.insert(field.clone(), value.clone()),
            None => fields.remove(field),
        };
    }
    serde_json::from_value(serde_json::Value::Object(fields)).map_err(refused)
}

fn not_found(id: &str) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::NotFound,
        format!("404 Not Found: event {id}"),
    )
}

/// Stands in for Google `DELETE /calendars/{calendarId}/events/{eventId}`
/// (410 `deleted` on a repeat), Graph `DELETE /me/events/{id}` (404 on a
/// repeat), CalDAV `DELETE` with `If-Match`, Zoom `DELETE /meetings/{meetingId}`
/// (404 code 3001 on a repeat). An event already gone counts as deleted.
pub(super) async fn delete_event(
    sandbox: &SandboxProvider,
    session: &Session,
    target: &ProviderEventRef,
) -> ProviderResult<()> {
    sandbox
        .write(session, |state, calendar| {
            if let Some(events) = state.calendars.get_mut(calendar) {
                events.remove(&target.event_id);
            }
            state.counts.deletes += 1;
            Ok(())
        })
        .await
}

/// Stands in for Google `GET /calendars/{calendarId}/events?timeMin&timeMax`
/// (singleEvents=false), Graph `GET /me/events` filtered to the window, CalDAV
/// `REPORT calendar-query` with a `time-range`, and Zoom `GET
/// /users/me/meetings?type=upcoming`. Series masters come unexpanded.
pub(super) async fn list_events(
    sandbox: &SandboxProvider,
    session: &Session,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> ProviderResult<Vec<ProviderEvent>> {
    // A listing changes nothing, so no fault is left to show after it.
    let (calendar, _) = sandbox.begin(session).await?;
    let mut state = sandbox.state();
    state.counts.lists += 1;
    Ok(state
        .calendars
        .get(&calendar)
        .map(|events| {
            events
                .values()
                .filter(|stored| {
                    overlaps(&stored.event, start, end) || stored.event.recurrence_id.is_some()
                })
                .map(|stored| stored.event.clone())
                .collect()
        })
        .unwrap_or_default())
}
