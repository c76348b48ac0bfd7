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

// | file | what |
// |---|---|
// | `settings` | endpoints, the OAuth client, the scopes |
// | `api` | requests with a bearer token; Google's failures as kinds |
// | `wire` | the Event resource and the translation to calsync's events |
// | `writes` | create, find, update, delete |
// | `pace` | a token bucket per account |
mod api;
mod pace;
mod settings;
mod wire;
mod writes;

pub use settings::{
    API_URL, AUTH_URL, CALENDAR_LIST_SCOPE, EVENTS_SCOPE, GoogleSettings, REQUIRED_SCOPES,
    REVOKE_URL, TOKEN_URL, missing_scopes,
};
pub use wire::{KEY_PROPERTY, SYNCED_ID_PROPERTY};
pub use writes::event_id_for;

use crate::model::{AccountId, EventDetails, Provider, ProviderEventRef};
use crate::oauth::{Endpoints, OAuthClient, TokenHint};
use crate::providers::{
    AccountProvider, CalendarInfo, CalendarProvider, Connection, ConsentStart, Credentials,
    ProviderError, ProviderErrorKind, ProviderResult, Revocation, Session, WriteContext,
};
use crate::schedule::ProviderEvent;
use api::{Answer, Api, failure};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::Value;
use url::Url;
use wire::{CalendarEntry, GoogleEvent, Page};

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

fn calendar_of(session: &Session) -> &str {
    session.calendar_id.as_deref().unwrap_or("primary")
}

#[async_trait]
impl AccountProvider for GoogleProvider {
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
            // Every calendar named is one of the account's: a misspelt id
            // would otherwise leave busy time unread without a word.
            let (entries, _) = self
                .all_pages::<CalendarEntry>(
                    &["users", "me", "calendarList"],
                    &[("maxResults", "250")],
                    Caller {
                        token: &tokens.access_token,
                        account: None,
                    },
                    "list the calendars",
                )
                .await?;
            if let Some(unknown) = chosen
                .iter()
                .find(|id| !entries.iter().any(|entry| &entry.id == *id))
            {
                let known: Vec<&str> = entries.iter().map(|entry| entry.id.as_str()).collect();
                return Err(ProviderError::new(
                    ProviderErrorKind::InvalidCredentials,
                    format!(
                        "conflict_calendars: the account has no calendar {unknown:?}; its calendars are {}",
                        known.join(", ")
                    ),
                ));
            }
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

    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<Revocation> {
        // Revoking the refresh token ends the whole grant at Google.
        match credentials.get_str("refresh_token") {
            Some(token) => self.oauth.revoke(token, TokenHint::RefreshToken).await?,
            None => {
                if let Some(token) = credentials.get_str("access_token") {
                    self.oauth.revoke(token, TokenHint::AccessToken).await?;
                }
            }
        }
        Ok(Revocation::Revoked)
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
}

#[async_trait]
impl CalendarProvider for GoogleProvider {
    async fn create_event(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        self.create(session, event, context).await
    }

    async fn find_created(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        self.find(session, context).await
    }

    async fn update_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        self.update(session, target, event, changed, context).await
    }

    async fn delete_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        context: &WriteContext,
    ) -> ProviderResult<()> {
        self.delete(session, target, context).await
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
