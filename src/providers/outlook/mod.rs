//! The live Microsoft Outlook adapter (provider `outlook`): Microsoft 365
//! and Outlook.com calendars, on Microsoft Graph v1.0.
//!
//! Credentials are the identity platform's OAuth tokens: `{refresh_token}`
//! at least (plus `access_token`, `expires_in`, `scope` when the app has
//! them), and optionally `calendar` (the calendar to write to, by Graph id)
//! and `conflict_calendars` (the ids of the calendars to read for
//! conflicts, instead of those the person owns). Connecting refreshes once
//! to prove the refresh token works (and keeps the new one Microsoft
//! answers with: it rotates refresh tokens), checks that the grant holds
//! `Calendars.ReadWrite`, and reads the default calendar, whose owner's
//! address becomes the account's label.
//!
//! Writes never duplicate or clobber:
//! - a create carries a `transactionId` derived from the operation's
//!   idempotency key (Graph drops a repeated one) and calsync's id and key
//!   in single-value extended properties; a create tried again looks the
//!   event up by the key first;
//! - an update PATCHes only calsync's changed fields with `If-Match`; on 412
//!   it reads the current ETag and re-applies the same fields once;
//! - a delete of an event already gone (404) counts as done.
//!
//! Every request asks for immutable ids, so a moved event keeps its id.
//! Conflicts are read from `calendarView` (occurrences expanded by Graph)
//! of the target calendar and every other calendar the person owns, every
//! page followed. Requests to one mailbox are paced ([`pace`](self)): 4 at
//! once and a token bucket, per account.
//!
//! Microsoft has no per-app revocation endpoint: disconnecting wipes the
//! tokens calsync holds and calls nothing (the one endpoint that exists
//! signs the person out of every app).

// | file | what |
// |---|---|
// | `settings` | endpoints, tenant, the OAuth client, the scopes, the pace |
// | `api` | requests with a bearer token; Graph's failures as kinds |
// | `wire` | the event resource, zones, and the translation to calsync's events |
// | `recurrence` | RRULE and `patternedRecurrence`, both ways |
// | `writes` | create, find, update, delete |
// | `pace` | 4 requests at once and a token bucket, per mailbox |
mod api;
mod pace;
mod recurrence;
mod settings;
mod wire;
mod writes;

pub use recurrence::{Unexpressible, from_graph, to_graph};
pub use settings::{
    AUTHORITY_URL, CALENDARS_SCOPE, GRAPH_URL, OFFLINE_SCOPE, OutlookSettings, REQUIRED_SCOPES,
    TENANT, grants_calendars,
};
pub use wire::{KEY_PROPERTY, PROPERTY_SET, SYNCED_ID_PROPERTY, transaction_id, windows_zone};

use crate::model::{AccountId, EventDetails, Provider, ProviderEventRef};
use crate::oauth::{Endpoints, OAuthClient};
use crate::providers::{
    AccountProvider, CalendarInfo, CalendarProvider, Connection, ConsentStart, Credentials,
    ProviderError, ProviderErrorKind, ProviderResult, Revocation, Session, WriteContext,
};
use crate::schedule::ProviderEvent;
use api::{Answer, Api, Request, TIMES_IN_UTC, failure};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use url::Url;
use wire::{GraphCalendar, GraphEvent, Page};

/// The credentials field naming the calendars read for conflicts.
const CONFLICT_CALENDARS: &str = "conflict_calendars";
/// The credentials field holding the mailbox's address (the default
/// calendar's owner), which tells the calendars the person owns.
const MAILBOX: &str = "mailbox";
/// The fields `calendarView` answers with.
const VIEW_FIELDS: &str =
    "id,subject,start,end,isAllDay,isCancelled,showAs,responseStatus,originalStartTimeZone";

/// The Outlook adapter. Cheap to clone; shares one connection pool.
#[derive(Clone, Debug)]
pub struct OutlookProvider {
    api: Api,
    oauth: OAuthClient,
    pacer: Arc<pace::Pacer>,
}

impl OutlookProvider {
    /// An adapter with its own HTTP client.
    ///
    /// # Errors
    /// `Misconfigured` naming a setting that is not a URL or an empty
    /// client id; `Unavailable` when the TLS backend cannot be set up.
    pub fn new(settings: &OutlookSettings) -> ProviderResult<Self> {
        Self::with_client(settings, crate::oauth::build_client()?)
    }

    /// An adapter on `http`, which must not follow redirects.
    ///
    /// # Errors
    /// As [`OutlookProvider::new`].
    pub fn with_client(settings: &OutlookSettings, http: reqwest::Client) -> ProviderResult<Self> {
        if settings.tenant.trim().is_empty() || settings.tenant.contains(['/', '?', '#']) {
            return Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                format!(
                    "the Microsoft tenant {:?} must be common, organizations, consumers or a tenant id",
                    settings.tenant
                ),
            ));
        }
        let endpoints = Endpoints::parse(&settings.authorize_url(), &settings.token_url(), None)?;
        let base = Url::parse(&settings.graph_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    format!(
                        "the Microsoft Graph URL {:?} is not an http(s) URL",
                        settings.graph_url
                    ),
                )
            })?;
        Ok(OutlookProvider {
            api: Api {
                http: http.clone(),
                base,
            },
            oauth: OAuthClient::with_http(settings.client.clone(), endpoints, http)?,
            pacer: Arc::new(pace::Pacer::new(
                settings.concurrent_requests,
                settings.requests_per_second,
                settings.burst,
            )),
        })
    }

    /// The deployment's OAuth client at the identity platform.
    pub fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    async fn call(
        &self,
        method: Method,
        url: Url,
        token: Caller<'_>,
        prefer: &[&str],
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> ProviderResult<Answer> {
        let _turn = match token.account {
            Some(account) => Some(self.pacer.turn(account).await),
            None => None,
        };
        self.api
            .send(Request {
                method,
                url,
                token: token.token,
                prefer,
                headers,
                body,
            })
            .await
    }

    /// Every page of a collection, following `@odata.nextLink` (a whole URL,
    /// which must stay on Graph's host) until it is absent.
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        first: Url,
        token: Caller<'_>,
        what: &str,
    ) -> ProviderResult<Vec<T>> {
        let mut items = Vec::new();
        let mut url = first;
        let mut seen = HashSet::new();
        loop {
            let answer = self
                .call(Method::GET, url.clone(), token, &[TIMES_IN_UTC], &[], None)
                .await?;
            if !answer.ok() {
                return Err(failure(what, &answer));
            }
            let page: Page<T> = answer.json(what)?;
            items.extend(page.value);
            let Some(next) = page.next_link else {
                return Ok(items);
            };
            let next = Url::parse(&next)
                .ok()
                .filter(|next| next.origin() == self.api.base.origin())
                .ok_or_else(|| {
                    ProviderError::new(
                        ProviderErrorKind::Unavailable,
                        format!("Graph's next page {next:?} is not on {}", self.api.base),
                    )
                })?;
            if !seen.insert(next.to_string()) {
                return Err(ProviderError::new(
                    ProviderErrorKind::Unavailable,
                    format!(
                        "Graph repeated the page {next} while listing; the listing is incomplete"
                    ),
                ));
            }
            url = next;
        }
    }

    async fn get_calendar(
        &self,
        token: Caller<'_>,
        id: Option<&str>,
    ) -> ProviderResult<Option<GraphCalendar>> {
        let segments: Vec<&str> = match id {
            Some(id) => vec!["me", "calendars", id],
            None => vec!["me", "calendar"],
        };
        let url = self.api.url(&segments)?;
        let answer = self.call(Method::GET, url, token, &[], &[], None).await?;
        match answer.status.as_u16() {
            200 => answer.json("get calendar").map(Some),
            404 => Ok(None),
            _ => Err(failure("read the calendar", &answer)),
        }
    }

    async fn calendars(&self, token: Caller<'_>) -> ProviderResult<Vec<GraphCalendar>> {
        let url = self.api.url(&["me", "calendars"])?;
        self.all_pages(url, token, "list the calendars").await
    }

    fn event_ref(event: &GraphEvent, calendar: Option<&str>) -> ProviderEventRef {
        ProviderEventRef {
            provider: Provider::Outlook,
            event_id: event.id.clone(),
            etag: event.etag.clone(),
            calendar_id: calendar.map(str::to_owned),
            join_url: None,
            // The engine sets the version it wrote.
            version: crate::model::FIRST_VERSION,
            pending: None,
        }
    }
}

/// The path of a calendar's events: the one named, else the default one.
fn events_of(calendar: Option<&str>) -> Vec<&str> {
    match calendar {
        Some(id) => vec!["me", "calendars", id, "events"],
        None => vec!["me", "calendar", "events"],
    }
}

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
                "refresh_token: is required for an Outlook account (ask for the offline_access scope)",
            )
        })
}

/// A refusal at connect is the credentials' fault.
fn at_connect(error: ProviderError) -> ProviderError {
    match error.kind {
        ProviderErrorKind::InvalidGrant | ProviderErrorKind::Unauthorized => ProviderError::new(
            ProviderErrorKind::InvalidCredentials,
            format!("Microsoft refused the credentials: {}", error.message),
        ),
        _ => error,
    }
}

#[async_trait]
impl AccountProvider for OutlookProvider {
    fn provider(&self) -> Provider {
        Provider::Outlook
    }

    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        let refresh = refresh_token(credentials)?.to_owned();
        let tokens = self
            .oauth
            .refresh_with_scopes(&refresh, &REQUIRED_SCOPES)
            .await
            .map_err(at_connect)?;
        let mut kept = Credentials::default();
        kept.set_str("refresh_token", refresh.as_str());
        if let Some(scope) = credentials.get_str("scope") {
            kept.set_str("scope", scope);
        }
        // Microsoft answers a new refresh token: it replaces the one given.
        tokens.apply_to(&mut kept);
        if let Some(granted) = kept.get_str("scope")
            && !grants_calendars(granted)
        {
            return Err(ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                format!(
                    "insufficient scope: the grant lacks Calendars.ReadWrite (granted: {granted}); \
                     ask for {} when the person consents",
                    REQUIRED_SCOPES.join(" ")
                ),
            ));
        }
        let token = Caller {
            token: &tokens.access_token,
            account: None,
        };
        let default = self
            .get_calendar(token, None)
            .await
            .map_err(at_connect)?
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::InvalidCredentials,
                    "the account has no default calendar (is it a mailbox?)",
                )
            })?;
        let target = match credentials.get_str("calendar") {
            None => default.clone(),
            Some(id) => self
                .get_calendar(token, Some(id))
                .await
                .map_err(at_connect)?
                .ok_or_else(|| {
                    ProviderError::new(
                        ProviderErrorKind::InvalidCredentials,
                        format!("calendar: the account has no calendar {id:?}"),
                    )
                })?,
        };
        if let Some(chosen) = conflict_calendars(credentials)? {
            // Every calendar named is one of the account's: a misspelt id
            // would otherwise leave busy time unread without a word.
            let calendars = self.calendars(token).await.map_err(at_connect)?;
            if let Some(unknown) = chosen
                .iter()
                .find(|id| !calendars.iter().any(|calendar| &calendar.id == *id))
            {
                let known: Vec<&str> = calendars.iter().map(|c| c.id.as_str()).collect();
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
        let mailbox = default.owner_address().map(str::to_owned);
        if let Some(address) = &mailbox {
            kept.set_str(MAILBOX, address.as_str());
        }
        Ok(Connection {
            credentials: kept,
            calendar_id: Some(target.id),
            label: mailbox,
        })
    }

    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials> {
        let tokens = self
            .oauth
            .refresh_with_scopes(refresh_token(credentials)?, &REQUIRED_SCOPES)
            .await?;
        let mut refreshed = credentials.clone();
        // The rotated refresh token replaces the old one; the engine stores
        // it sealed before the access token is used.
        tokens.apply_to(&mut refreshed);
        Ok(refreshed)
    }

    /// Microsoft has no per-app revocation: the tokens are wiped locally by
    /// the caller and nothing is called (`/me/revokeSignInSessions` would
    /// sign the person out of every app). The person removes the app's
    /// consent at <https://myapps.microsoft.com> or
    /// <https://account.live.com/consent/Manage>.
    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<Revocation> {
        let _ = credentials;
        Ok(Revocation::NotSupported(
            "Microsoft has no way for an app to revoke its own grant; the tokens are wiped here, and the person removes the app's access at https://myapps.microsoft.com (work or school) or https://account.live.com/consent/Manage (personal)".to_owned(),
        ))
    }

    async fn validate(&self, session: &Session) -> ProviderResult<()> {
        let token = caller(session)?;
        match self
            .get_calendar(token, session.calendar_id.as_deref())
            .await?
        {
            Some(_) => Ok(()),
            None => Err(ProviderError::new(
                ProviderErrorKind::NotFound,
                "the account's calendar is gone from Outlook",
            )),
        }
    }

    fn start_consent(&self, redirect_uri: &str) -> ProviderResult<Option<ConsentStart>> {
        let start = self.oauth.start_authorization(
            &REQUIRED_SCOPES,
            redirect_uri,
            &[("response_mode", "query")],
        )?;
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
                "Microsoft sent no refresh token (offline_access was not granted)",
            ));
        }
        let mut credentials = Credentials::default();
        tokens.apply_to(&mut credentials);
        Ok(credentials)
    }
}

#[async_trait]
impl CalendarProvider for OutlookProvider {
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
        let _ = context;
        self.delete(session, target).await
    }

    async fn list_calendars(&self, session: &Session) -> ProviderResult<Vec<CalendarInfo>> {
        let token = caller(session)?;
        let calendars = self.calendars(token).await?;
        let chosen = conflict_calendars(&session.credentials)?;
        let mailbox = session.credentials.get_str(MAILBOX);
        let target = session.calendar_id.as_deref();
        let mut listed: Vec<CalendarInfo> = calendars
            .into_iter()
            .map(|calendar| {
                let is_target = match target {
                    Some(id) => calendar.id == id,
                    None => calendar.is_default_calendar,
                };
                let owned = match (mailbox, calendar.owner_address()) {
                    (Some(mailbox), Some(owner)) => owner.eq_ignore_ascii_case(mailbox),
                    _ => true,
                };
                let checked = match &chosen {
                    Some(chosen) => chosen.contains(&calendar.id),
                    None => calendar.is_default_calendar || owned,
                };
                CalendarInfo {
                    checked_for_conflicts: is_target || checked,
                    target: is_target,
                    name: calendar.name,
                    id: calendar.id,
                }
            })
            .collect();
        if let Some(id) = target
            && !listed.iter().any(|calendar| calendar.target)
        {
            listed.insert(
                0,
                CalendarInfo {
                    id: id.to_owned(),
                    name: None,
                    target: true,
                    checked_for_conflicts: true,
                },
            );
        }
        Ok(listed)
    }

    async fn list_events(
        &self,
        session: &Session,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ProviderResult<Vec<ProviderEvent>> {
        let token = caller(session)?;
        let mut calendars: Vec<CalendarInfo> = self
            .list_calendars(session)
            .await?
            .into_iter()
            .filter(|calendar| calendar.checked_for_conflicts)
            .collect();
        // The target first.
        calendars.sort_by_key(|calendar| !calendar.target);
        let (from, to) = (
            start.to_rfc3339_opts(SecondsFormat::Secs, true),
            end.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        let mut events = Vec::new();
        for calendar in &calendars {
            let mut url =
                self.api
                    .url(&["me", "calendars", calendar.id.as_str(), "calendarView"])?;
            url.query_pairs_mut()
                .append_pair("startDateTime", &from)
                .append_pair("endDateTime", &to)
                .append_pair("$select", VIEW_FIELDS)
                .append_pair("$expand", &writes::expand_properties());
            let items: Vec<GraphEvent> =
                self.all_pages(url, token, "read the calendar view").await?;
            events.extend(items.iter().filter_map(GraphEvent::provider_event));
        }
        Ok(events)
    }
}
