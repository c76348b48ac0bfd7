//! The live Google Calendar adapter (provider `google`), on Calendar API v3.
//!
//! Credentials are Google's OAuth tokens: `{refresh_token}` at least (plus
//! `access_token`, `expires_in`, `scope` when the app has them), and
//! optionally `calendar` (the calendar to write to, by id) and
//! `conflict_calendars` (the ids of the calendars to read for conflicts,
//! instead of those the person shows). Connecting
//! refreshes once to prove the refresh token works, checks that the grant
//! holds the two narrow scopes calsync needs ([`REQUIRED_SCOPES`]), and
//! reads the primary calendar, whose id (the user's address) becomes the
//! account's calendar and label.
//!
//! Writes never duplicate or clobber:
//! - a create inserts with a client-chosen id derived from the operation's
//!   idempotency key (base32hex), so a retry after a lost answer gets 409
//!   `duplicate`; the event is then read back and accepted only when its
//!   private extended property holds calsync's id;
//! - an update PATCHes only calsync's changed fields with `If-Match`; on 412
//!   it reads the current ETag and re-applies the same fields once, so
//!   fields someone else changed stay as they are;
//! - a delete of an event already gone (404, 410) counts as done.
//!
//! Listing reads every selected, not hidden calendar of the account's list
//! plus the target calendar, as series masters plus exceptions
//! (`singleEvents=false`): one item per series however long it runs, and the
//! scheduling engine expands it in the event's zone; cancelled instances
//! come as stubs that remove their occurrence. Every page is read; only an
//! absent `nextPageToken` ends a listing.

mod api;
mod pace;
mod wire;

pub use wire::{KEY_PROPERTY, SYNCED_ID_PROPERTY};

use crate::model::{AccountId, EventDetails, Provider, ProviderEventRef};
use crate::oauth::{ClientSettings, Endpoints, OAuthClient, TokenHint};
use crate::providers::{
    CalendarInfo, CalendarProvider, Connection, ConsentStart, Credentials, ProviderError,
    ProviderErrorKind, ProviderResult, Session, WriteContext,
};
use crate::schedule::ProviderEvent;
use api::{Answer, Api, failure};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;
use wire::{CalendarEntry, GoogleEvent, Page};

/// Google's Calendar API v3.
pub const API_URL: &str = "https://www.googleapis.com/calendar/v3";
/// Google's consent page.
pub const AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint (RFC 7009).
pub const REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";

/// The scope to write events.
pub const EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
/// The scope to read the calendar list (for conflicts across calendars).
pub const CALENDAR_LIST_SCOPE: &str =
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly";
/// The scopes calsync asks for and checks at connect: the narrow ones, not
/// the whole account.
pub const REQUIRED_SCOPES: [&str; 2] = [EVENTS_SCOPE, CALENDAR_LIST_SCOPE];

/// The broader scopes that also grant each required one.
fn granted_by(required: &str) -> &'static [&'static str] {
    match required {
        EVENTS_SCOPE => &["https://www.googleapis.com/auth/calendar"],
        CALENDAR_LIST_SCOPE => &[
            "https://www.googleapis.com/auth/calendar.calendarlist",
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/calendar",
        ],
        _ => &[],
    }
}

/// The scopes of `required` that `granted` (space-separated) lacks.
pub fn missing_scopes(granted: &str) -> Vec<&'static str> {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    REQUIRED_SCOPES
        .into_iter()
        .filter(|required| {
            !granted.contains(required)
                && !granted_by(required)
                    .iter()
                    .any(|broader| granted.contains(broader))
        })
        .collect()
}

/// Where the adapter reaches Google, and the deployment's OAuth client.
///
/// `Debug` never shows the client secret.
#[derive(Clone, Debug)]
pub struct GoogleSettings {
    /// The OAuth client (client id and secret).
    pub client: ClientSettings,
    /// The Calendar API's base URL.
    pub api_url: String,
    /// The consent page.
    pub auth_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The revocation endpoint.
    pub revoke_url: String,
    /// Requests a second to one Google user (a token bucket per account);
    /// 0 turns pacing off.
    pub requests_per_second: f64,
    /// How many requests to one user may go at once before pacing starts.
    pub burst: u32,
}

impl GoogleSettings {
    /// Google's own endpoints, for `client`.
    pub fn new(client: ClientSettings) -> Self {
        GoogleSettings {
            client,
            api_url: API_URL.to_owned(),
            auth_url: AUTH_URL.to_owned(),
            token_url: TOKEN_URL.to_owned(),
            revoke_url: REVOKE_URL.to_owned(),
            requests_per_second: pace::DEFAULT_RATE,
            burst: pace::DEFAULT_BURST,
        }
    }

    /// The same settings with every endpoint under `base` (a test server or
    /// a proxy that serves them all): `{base}/calendar/v3`, `{base}/o/oauth2/auth`,
    /// `{base}/token`, `{base}/revoke`.
    pub fn all_at(mut self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        self.api_url = format!("{base}/calendar/v3");
        self.auth_url = format!("{base}/o/oauth2/auth");
        self.token_url = format!("{base}/token");
        self.revoke_url = format!("{base}/revoke");
        self
    }
}

/// The Google adapter. Cheap to clone; shares one connection pool.
#[derive(Clone, Debug)]
pub struct GoogleProvider {
    api: Api,
    oauth: OAuthClient,
    pacer: std::sync::Arc<pace::Pacer>,
}

impl GoogleProvider {
    /// An adapter with its own HTTP client.
    ///
    /// # Errors
    /// `Misconfigured` naming a setting that is not a URL or an empty
    /// client id; `Unavailable` when the TLS backend cannot be set up.
    pub fn new(settings: &GoogleSettings) -> ProviderResult<Self> {
        Self::with_client(settings, crate::oauth::build_client()?)
    }

    /// An adapter on `http`, which must not follow redirects.
    ///
    /// # Errors
    /// As [`GoogleProvider::new`].
    pub fn with_client(settings: &GoogleSettings, http: reqwest::Client) -> ProviderResult<Self> {
        let endpoints = Endpoints::parse(
            &settings.auth_url,
            &settings.token_url,
            Some(&settings.revoke_url),
        )?;
        let base = Url::parse(&settings.api_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    format!(
                        "the Google API URL {:?} is not an http(s) URL",
                        settings.api_url
                    ),
                )
            })?;
        Ok(GoogleProvider {
            api: Api {
                http: http.clone(),
                base,
            },
            oauth: OAuthClient::with_http(settings.client.clone(), endpoints, http)?,
            pacer: std::sync::Arc::new(pace::Pacer::new(
                settings.requests_per_second,
                settings.burst,
            )),
        })
    }

    /// The deployment's OAuth client at Google (for the consent flow).
    pub fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        token: Caller<'_>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> ProviderResult<Answer> {
        let mut url = self.api.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        if let Some(account) = token.account {
            self.pacer.turn(account).await;
        }
        self.api.send(method, url, token.token, headers, body).await
    }

    async fn get_event(
        &self,
        token: Caller<'_>,
        calendar: &str,
        id: &str,
    ) -> ProviderResult<Option<GoogleEvent>> {
        let answer = self
            .call(
                Method::GET,
                &["calendars", calendar, "events", id],
                &[],
                token,
                &[],
                None,
            )
            .await?;
        match answer.status.as_u16() {
            200 => answer.json("events.get").map(Some),
            404 | 410 => Ok(None),
            _ => Err(failure("read the event", &answer)),
        }
    }

    /// Every page of a list, following `nextPageToken` until it is absent.
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        token: Caller<'_>,
        what: &str,
    ) -> ProviderResult<(Vec<T>, Option<String>)> {
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        let mut zone = None;
        let mut seen_tokens = std::collections::HashSet::new();
        loop {
            let mut query = query.to_vec();
            if let Some(page) = &page_token {
                query.push(("pageToken", page.as_str()));
            }
            let answer = self
                .call(Method::GET, segments, &query, token, &[], None)
                .await?;
            if !answer.ok() {
                return Err(failure(what, &answer));
            }
            let page: Page<T> = answer.json(what)?;
            items.extend(page.items);
            zone = zone.or(page.time_zone);
            match page.next_page_token {
                // A page may be short or empty and still have a successor.
                Some(next) if seen_tokens.insert(next.clone()) => page_token = Some(next),
                Some(repeated) => {
                    return Err(ProviderError::new(
                        ProviderErrorKind::Unavailable,
                        format!(
                            "Google repeated the page token {repeated:?} while listing; the listing is incomplete"
                        ),
                    ));
                }
                None => return Ok((items, zone)),
            }
        }
    }

    fn event_ref(event: &GoogleEvent, calendar: &str) -> ProviderEventRef {
        ProviderEventRef {
            provider: Provider::Google,
            event_id: event.id.clone(),
            etag: event.etag.clone(),
            calendar_id: Some(calendar.to_owned()),
            join_url: None,
            // The engine sets the version it wrote.
            version: crate::model::FIRST_VERSION,
            pending: None,
        }
    }
}

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

/// The credentials field naming the calendars read for conflicts (besides
/// the target), chosen by the app at connect instead of the ones the
/// person shows.
const CONFLICT_CALENDARS: &str = "conflict_calendars";

/// The calendars the app chose to read for conflicts, if it chose.
fn conflict_calendars(credentials: &Credentials) -> ProviderResult<Option<Vec<String>>> {
    let Some(value) = credentials.0.get(CONFLICT_CALENDARS) else {
        return Ok(None);
    };
    let refused = || {
        ProviderError::new(
            ProviderErrorKind::InvalidCredentials,
            "conflict_calendars: must be an array of calendar ids",
        )
    };
    let ids = value.as_array().ok_or_else(refused)?;
    ids.iter()
        .map(|id| id.as_str().map(str::to_owned).ok_or_else(refused))
        .collect::<ProviderResult<Vec<_>>>()
        .map(Some)
}

/// Who a request is for: the access token, and the account whose pace it
/// keeps (none while connecting).
#[derive(Clone, Copy)]
struct Caller<'a> {
    token: &'a str,
    account: Option<&'a AccountId>,
}

fn caller(session: &Session) -> ProviderResult<Caller<'_>> {
    Ok(Caller {
        token: access_token(&session.credentials)?,
        account: Some(&session.account),
    })
}

fn access_token(credentials: &Credentials) -> ProviderResult<&str> {
    credentials
        .get_str("access_token")
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            // No access token yet: the engine refreshes on `unauthorized`.
            ProviderError::new(ProviderErrorKind::Unauthorized, "no access token yet")
        })
}

fn refresh_token(credentials: &Credentials) -> ProviderResult<&str> {
    credentials
        .get_str("refresh_token")
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                "refresh_token: is required for a Google account (ask for offline access)",
            )
        })
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

fn calendar_of(session: &Session) -> &str {
    session.calendar_id.as_deref().unwrap_or("primary")
}

#[async_trait]
impl CalendarProvider for GoogleProvider {
    fn provider(&self) -> Provider {
        Provider::Google
    }

    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        let refresh = refresh_token(credentials)?.to_owned();
        let tokens = self.oauth.refresh(&refresh).await.map_err(|error| {
            if error.kind == ProviderErrorKind::InvalidGrant {
                ProviderError::new(
                    ProviderErrorKind::InvalidCredentials,
                    format!("Google refused the refresh token: {}", error.message),
                )
            } else {
                error
            }
        })?;
        let mut kept = Credentials::default();
        kept.set_str("refresh_token", refresh.as_str());
        if let Some(scope) = credentials.get_str("scope") {
            kept.set_str("scope", scope);
        }
        tokens.apply_to(&mut kept);
        if let Some(granted) = kept.get_str("scope") {
            let missing = missing_scopes(granted);
            if !missing.is_empty() {
                return Err(ProviderError::new(
                    ProviderErrorKind::InvalidCredentials,
                    format!(
                        "insufficient scope: the grant lacks {}; ask for {} when the person consents",
                        missing.join(" and "),
                        REQUIRED_SCOPES.join(" ")
                    ),
                ));
            }
        }
        if let Some(chosen) = conflict_calendars(credentials)? {
            kept.0.insert(
                CONFLICT_CALENDARS.to_owned(),
                Value::from(chosen.into_iter().map(Value::from).collect::<Vec<_>>()),
            );
        }
        let calendar = credentials.get_str("calendar").unwrap_or("primary");
        let answer = self
            .call(
                Method::GET,
                &["calendars", calendar],
                &[],
                Caller {
                    token: &tokens.access_token,
                    account: None,
                },
                &[],
                None,
            )
            .await?;
        if !answer.ok() {
            let error = failure("read the calendar", &answer);
            return Err(match error.kind {
                ProviderErrorKind::NotFound | ProviderErrorKind::Unauthorized => {
                    ProviderError::new(ProviderErrorKind::InvalidCredentials, error.message)
                }
                _ => error,
            });
        }
        let id = answer
            .json::<Value>("calendars.get")?
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(calendar)
            .to_owned();
        Ok(Connection {
            credentials: kept,
            calendar_id: Some(id.clone()),
            label: Some(id).filter(|id| id.contains('@')),
        })
    }

    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials> {
        let tokens = self.oauth.refresh(refresh_token(credentials)?).await?;
        let mut refreshed = credentials.clone();
        tokens.apply_to(&mut refreshed);
        Ok(refreshed)
    }

    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<()> {
        // Revoking the refresh token ends the whole grant at Google.
        match credentials.get_str("refresh_token") {
            Some(token) => self.oauth.revoke(token, TokenHint::RefreshToken).await,
            None => match credentials.get_str("access_token") {
                Some(token) => self.oauth.revoke(token, TokenHint::AccessToken).await,
                None => Ok(()),
            },
        }
    }

    async fn validate(&self, session: &Session) -> ProviderResult<()> {
        let token = caller(session)?;
        let answer = self
            .call(
                Method::GET,
                &["calendars", calendar_of(session)],
                &[],
                token,
                &[],
                None,
            )
            .await?;
        if answer.ok() {
            Ok(())
        } else {
            Err(failure("read the calendar", &answer))
        }
    }

    fn start_consent(&self, redirect_uri: &str) -> ProviderResult<Option<ConsentStart>> {
        // Offline access for a refresh token, asked again on every consent
        // (Google sends one only on the first otherwise).
        let extra = [("access_type", "offline"), ("prompt", "consent")];
        let start = self
            .oauth
            .start_authorization(&REQUIRED_SCOPES, redirect_uri, &extra)?;
        Ok(Some(ConsentStart {
            url: start.url.to_string(),
            state: start.state,
            verifier: start.pkce_verifier,
        }))
    }

    async fn finish_consent(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> ProviderResult<Credentials> {
        let tokens = self
            .oauth
            .exchange_code(code, verifier, redirect_uri)
            .await?;
        if tokens.refresh_token.is_none() {
            return Err(ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                "Google sent no refresh token (offline access was not granted)",
            ));
        }
        let mut credentials = Credentials::default();
        tokens.apply_to(&mut credentials);
        Ok(credentials)
    }

    async fn create_event(
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

    async fn find_created(
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

    async fn update_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let token = caller(session)?;
        let calendar = target
            .calendar_id
            .clone()
            .unwrap_or_else(|| calendar_of(session).to_owned());
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
            let if_match: Vec<(&str, &str)> = etag
                .as_deref()
                .map(|tag| ("If-Match", tag))
                .into_iter()
                .collect();
            let answer = self
                .call(
                    Method::PATCH,
                    &segments,
                    &[("sendUpdates", send_updates(context))],
                    token,
                    &if_match,
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

    async fn delete_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
    ) -> ProviderResult<()> {
        let token = caller(session)?;
        let calendar = target
            .calendar_id
            .clone()
            .unwrap_or_else(|| calendar_of(session).to_owned());
        let segments = [
            "calendars",
            calendar.as_str(),
            "events",
            target.event_id.as_str(),
        ];
        let mut etag = target.etag.clone();
        for attempt in 0..2 {
            let if_match: Vec<(&str, &str)> = etag
                .as_deref()
                .map(|tag| ("If-Match", tag))
                .into_iter()
                .collect();
            let answer = self
                .call(
                    Method::DELETE,
                    &segments,
                    &[("sendUpdates", "none")],
                    token,
                    &if_match,
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

    async fn list_calendars(&self, session: &Session) -> ProviderResult<Vec<CalendarInfo>> {
        let token = caller(session)?;
        let (entries, _) = self
            .all_pages::<CalendarEntry>(
                &["users", "me", "calendarList"],
                &[("maxResults", "250")],
                token,
                "list the calendars",
            )
            .await?;
        let target = calendar_of(session);
        let chosen = conflict_calendars(&session.credentials)?;
        let mut calendars: Vec<CalendarInfo> = entries
            .into_iter()
            .map(|entry| {
                let is_target = entry.id == target || (entry.primary && target == "primary");
                let checked = match &chosen {
                    Some(chosen) => chosen.contains(&entry.id),
                    None => entry.selected && !entry.hidden,
                };
                CalendarInfo {
                    checked_for_conflicts: is_target || checked,
                    target: is_target,
                    name: entry.summary,
                    id: entry.id,
                }
            })
            .collect();
        if !calendars.iter().any(|calendar| calendar.target) {
            calendars.insert(
                0,
                CalendarInfo {
                    id: target.to_owned(),
                    name: None,
                    target: true,
                    checked_for_conflicts: true,
                },
            );
        }
        Ok(calendars)
    }

    async fn list_events(
        &self,
        session: &Session,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ProviderResult<Vec<ProviderEvent>> {
        let token = caller(session)?;
        // The target first, then every other calendar the person shows.
        let mut calendars: Vec<String> = self
            .list_calendars(session)
            .await?
            .into_iter()
            .filter(|calendar| calendar.checked_for_conflicts)
            .map(|calendar| calendar.id)
            .collect();
        calendars.sort_by_key(|id| id.as_str() != calendar_of(session));
        let (from, to) = (
            start.to_rfc3339_opts(SecondsFormat::Secs, true),
            end.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        let mut events = Vec::new();
        for calendar in &calendars {
            let (items, zone) = self
                .all_pages::<GoogleEvent>(
                    &["calendars", calendar, "events"],
                    &[
                        ("timeMin", from.as_str()),
                        ("timeMax", to.as_str()),
                        ("singleEvents", "false"),
                        ("maxResults", "2500"),
                    ],
                    token,
                    "list the events",
                )
                .await?;
            // Cancelled instances come as sparse stubs without the series'
            // iCalUID: they are tied to their master through `recurringEventId`.
            let series_uids: std::collections::HashMap<&str, &str> = items
                .iter()
                .filter_map(|item| Some((item.id.as_str(), item.ical_uid.as_deref()?)))
                .collect();
            events.extend(items.iter().filter_map(|item| {
                let mut event = item.provider_event(zone.as_deref())?;
                if let Some(uid) = item
                    .recurring_event_id
                    .as_deref()
                    .and_then(|series| series_uids.get(series))
                {
                    event.uid = Some((*uid).to_owned());
                }
                Some(event)
            }));
        }
        Ok(events)
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

    #[test]
    fn the_narrow_scopes_or_broader_ones_are_enough() {
        assert!(missing_scopes(&REQUIRED_SCOPES.join(" ")).is_empty());
        assert!(missing_scopes("https://www.googleapis.com/auth/calendar").is_empty());
        assert_eq!(missing_scopes(EVENTS_SCOPE), vec![CALENDAR_LIST_SCOPE]);
        assert_eq!(missing_scopes("openid email").len(), 2);
    }
}
