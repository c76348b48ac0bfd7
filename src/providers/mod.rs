//! Calendar providers behind one trait, and the errors they answer with.
//!
//! An adapter speaks one provider's wire format; calsync's policies (retries,
//! token refresh, timeouts, durable operations) live outside adapters, in
//! [`crate::engine`]. The trait names no implementation: behaviour that
//! applies to every adapter (a per-account rate limit, say) wraps the trait.
//! The [`sandbox`] adapters simulate all four providers in memory; `caldav`
//! (feature `caldav`), `google` (feature `google`), `outlook` (feature
//! `outlook`, Microsoft Graph) and `zoom` (feature `zoom`, a meeting
//! service) speak to real ones.

#[cfg(feature = "caldav")]
pub mod caldav;
mod credentials;
#[cfg(feature = "google")]
pub mod google;
#[cfg(feature = "outlook")]
pub mod outlook;
pub mod sandbox;
#[cfg(feature = "zoom")]
pub mod zoom;

pub use credentials::Credentials;

use crate::model::{AccountId, EventDetails, EventId, Provider, ProviderEventRef};
use crate::schedule::ProviderEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The kinds of provider failure; callers branch on the kind, never on which
/// provider failed or on message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderErrorKind {
    /// The access token was refused (401): refresh once, then retry.
    Unauthorized,
    /// The refresh token or password was refused: the user must re-authorize.
    InvalidGrant,
    /// The credentials given to connect are not valid.
    InvalidCredentials,
    /// Throttled (429, Google's 403 rate reasons); honour `retry_after`.
    RateLimited,
    /// The provider is down or answered 5xx; retry with backoff.
    Unavailable,
    /// No answer in time; retry with backoff (creates carry their key).
    Timeout,
    /// The event or calendar does not exist (or was deleted).
    NotFound,
    /// The event changed since it was read (412 on If-Match).
    PreconditionFailed,
    /// A create with this idempotency key already happened.
    AlreadyExists,
    /// The provider refused the data (400) or is not allowed to do this (403).
    Rejected,
    /// The deployment's own settings were refused (OAuth `invalid_client`: a
    /// wrong client id or secret). Not the user's fault: the account stays
    /// connected and its work waits, retried, until an operator fixes them.
    Misconfigured,
    /// An allowance for a whole period is spent (Zoom's daily limits): the
    /// work waits until `retry_after` (the period's end) without counting as
    /// an outage of the account.
    LimitReached,
}

impl ProviderErrorKind {
    /// The kind's name, as metrics, logs and recorded reasons show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderErrorKind::Unauthorized => "unauthorized",
            ProviderErrorKind::InvalidGrant => "invalid_grant",
            ProviderErrorKind::InvalidCredentials => "invalid_credentials",
            ProviderErrorKind::RateLimited => "rate_limited",
            ProviderErrorKind::Unavailable => "unavailable",
            ProviderErrorKind::Timeout => "timeout",
            ProviderErrorKind::NotFound => "not_found",
            ProviderErrorKind::PreconditionFailed => "precondition_failed",
            ProviderErrorKind::AlreadyExists => "already_exists",
            ProviderErrorKind::Rejected => "rejected",
            ProviderErrorKind::Misconfigured => "misconfigured",
            ProviderErrorKind::LimitReached => "limit_reached",
        }
    }

    /// Whether the provider refused the account's credentials for good, so
    /// that a person must connect it again: a refused refresh token or
    /// password, or an access token refused even after a refresh (the engine
    /// refreshes once on `unauthorized` before it answers one).
    pub fn needs_reauthorization(self) -> bool {
        matches!(
            self,
            ProviderErrorKind::InvalidGrant
                | ProviderErrorKind::InvalidCredentials
                | ProviderErrorKind::Unauthorized
        )
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ProviderErrorKind::RateLimited
                | ProviderErrorKind::Unavailable
                | ProviderErrorKind::Timeout
                | ProviderErrorKind::Misconfigured
                | ProviderErrorKind::LimitReached
        )
    }
}

/// A provider's failure: its kind, the provider's own words, and how long it
/// asked to wait.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// What kind of failure.
    pub kind: ProviderErrorKind,
    /// The provider's reason.
    pub message: String,
    /// How long the provider asked to wait (Retry-After).
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// A failure of `kind` with the provider's `message`.
    pub fn new(kind: ProviderErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same failure, asking to wait `retry_after`.
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }
}

/// A provider result.
pub type ProviderResult<T> = Result<T, ProviderError>;

/// What connecting an account yields.
#[derive(Clone, Debug)]
pub struct Connection {
    /// The credentials to keep (normalised: e.g. `expires_at` instead of `expires_in`).
    pub credentials: Credentials,
    /// The calendar events will be written to.
    pub calendar_id: Option<String>,
    /// A name for people (email or login), when the provider tells.
    pub label: Option<String>,
}

/// One account's side of a call: who it is and how to authenticate.
#[derive(Clone, Debug)]
pub struct Session {
    /// The account.
    pub account: AccountId,
    /// Its current credentials.
    pub credentials: Credentials,
    /// Its target calendar.
    pub calendar_id: Option<String>,
}

/// What a write carries besides the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteContext {
    /// The operation's idempotency key: a repeated create with the same key
    /// must not make a second event.
    pub idempotency_key: String,
    /// calsync's id, stored on the provider's copy (extended property, `X-` property).
    pub synced_id: EventId,
    /// Whether this copy sends the invitations to the attendees. One copy of
    /// a synced event does (the account it was first committed to); the
    /// others carry the attendees without inviting them again.
    pub invite_attendees: bool,
    /// For a create: an earlier attempt may have landed although no answer
    /// said so (its answer was lost, or a process stopped during it). A
    /// provider without client-chosen ids looks for what that attempt made
    /// (by calsync's key on it) before making another.
    pub retry: bool,
}

/// The start of a consent flow at a provider: where to send the person, and
/// what to keep until the provider sends them back.
///
/// `Debug` never shows the PKCE verifier.
#[derive(Clone)]
pub struct ConsentStart {
    /// The provider's consent page, with every parameter.
    pub url: String,
    /// The `state` the provider hands back with the code.
    pub state: String,
    /// The PKCE verifier, sent with the code exchange.
    pub verifier: String,
}

impl std::fmt::Debug for ConsentStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentStart")
            .field("url", &self.url)
            .field("state", &self.state)
            .field("verifier", &"<redacted>")
            .finish()
    }
}

/// One calendar of an account, as listCalendars answers it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarInfo {
    /// The provider's id for it (Google: an address; CalDAV: a URL).
    pub id: String,
    /// Its name, as the person sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether calsync writes the account's events to it.
    pub target: bool,
    /// Whether detectConflicts reads it.
    pub checked_for_conflicts: bool,
}

/// What revoking an account's credentials at its provider did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The provider revoked the grant.
    Revoked,
    /// The provider has no way for an app to revoke its own grant (Microsoft
    /// Graph): the credentials are only wiped by calsync. The reason says
    /// where the person can remove the app's access themselves.
    NotSupported(String),
}

/// An account at a provider: connecting it, keeping its credentials fresh,
/// revoking them. Every provider is one; a [`CalendarProvider`] keeps
/// events, a [`MeetingProvider`] makes video meetings.
#[async_trait]
pub trait AccountProvider: Send + Sync + 'static {
    /// Which provider this is.
    fn provider(&self) -> Provider;

    /// Validates `credentials` with the provider and answers what to keep.
    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection>;
    /// [`connect`](Self::connect) for calsync's `user`. A live provider
    /// tells people apart by their tokens alone; a simulated one, whose
    /// example tokens anyone may send, keeps each user's calendars apart by
    /// the user too.
    async fn connect_as(
        &self,
        user: &crate::model::UserId,
        credentials: &Credentials,
    ) -> ProviderResult<Connection> {
        let _ = user;
        self.connect(credentials).await
    }
    /// Exchanges the refresh token for a new access token; answers the new credentials.
    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials>;
    /// Revokes the credentials at the provider, where it allows that.
    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<Revocation>;
    /// A cheap authenticated call that proves the connection works.
    async fn validate(&self, session: &Session) -> ProviderResult<()>;

    /// Starts a consent flow (OAuth authorization code with PKCE) that ends
    /// at `redirect_uri`; `None` for a provider without one (CalDAV).
    fn start_consent(&self, redirect_uri: &str) -> ProviderResult<Option<ConsentStart>> {
        let _ = redirect_uri;
        Ok(None)
    }

    /// Exchanges the code a consent flow ended with (and its verifier and
    /// redirect URI) for credentials to connect with.
    async fn finish_consent(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> ProviderResult<Credentials> {
        let _ = (code, verifier, redirect_uri);
        Err(ProviderError::new(
            ProviderErrorKind::Rejected,
            format!("{} has no consent flow", self.provider()),
        ))
    }
}

/// A place events live: one provider, spoken to on behalf of many accounts.
#[async_trait]
pub trait CalendarProvider: AccountProvider {
    /// The account's calendars: which one calsync writes to, and which ones
    /// conflicts are read from. By default, the session's calendar alone.
    async fn list_calendars(&self, session: &Session) -> ProviderResult<Vec<CalendarInfo>> {
        Ok(session
            .calendar_id
            .iter()
            .map(|id| CalendarInfo {
                id: id.clone(),
                name: None,
                target: true,
                checked_for_conflicts: true,
            })
            .collect())
    }
    /// Creates the event; a repeat with the same idempotency key answers the
    /// event the first call made instead of making another.
    async fn create_event(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef>;
    /// The event a create with `context`'s idempotency key made, if the
    /// calendar holds it: how calsync settles a create whose answer was lost
    /// (it may or may not have landed), and finds a copy a late delivery of
    /// such a create made after the event was cancelled.
    async fn find_created(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>>;
    /// Writes `event` over the provider's copy; only `changed` fields differ
    /// from what calsync wrote before.
    async fn update_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef>;
    /// Deletes the event; one already gone counts as deleted. The copy that
    /// invited the attendees (`context.invite_attendees`) tells them it is
    /// cancelled, where the provider mails on calsync's behalf.
    async fn delete_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        context: &WriteContext,
    ) -> ProviderResult<()>;
    /// The account's events that may be busy between `start` and `end`
    /// (series masters unexpanded, with their overrides).
    async fn list_events(
        &self,
        session: &Session,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ProviderResult<Vec<ProviderEvent>>;
}

/// A video meeting service (Zoom): it makes meetings whose join link goes
/// into the calendar copies of a synced event. A meeting is no calendar: it
/// is never read for conflicts nor counted as busy time.
///
/// A meeting's reference ([`ProviderEventRef`]) carries its `join_url`.
#[async_trait]
pub trait MeetingProvider: AccountProvider {
    /// Makes the meeting for `event` (its title, start, length and zone); a
    /// repeat with the same idempotency key answers the meeting the first
    /// call made instead of making another.
    async fn create_meeting(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef>;
    /// The meeting a create with `context`'s idempotency key made, if the
    /// account holds it (found by the marker calsync puts on it).
    async fn find_meeting(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>>;
    /// Moves or renames the meeting to follow `event`; only `changed` fields
    /// differ from what calsync wrote before. The join link stays.
    async fn update_meeting(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef>;
    /// Deletes the meeting; one already gone counts as deleted.
    async fn delete_meeting(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        context: &WriteContext,
    ) -> ProviderResult<()>;
}

/// The adapter of one provider: a calendar, or a meeting service.
#[derive(Clone)]
pub enum Adapter {
    /// Keeps events.
    Calendar(Arc<dyn CalendarProvider>),
    /// Makes video meetings.
    Meetings(Arc<dyn MeetingProvider>),
}

impl Adapter {
    /// The account side, which every provider has.
    pub fn account(&self) -> Arc<dyn AccountProvider> {
        match self {
            Adapter::Calendar(calendar) => calendar.clone(),
            Adapter::Meetings(meetings) => meetings.clone(),
        }
    }

    /// The calendar side, when the provider keeps events.
    pub fn calendar(&self) -> Option<&Arc<dyn CalendarProvider>> {
        match self {
            Adapter::Calendar(calendar) => Some(calendar),
            Adapter::Meetings(_) => None,
        }
    }

    /// The meeting side, when the provider makes meetings.
    pub fn meetings(&self) -> Option<&Arc<dyn MeetingProvider>> {
        match self {
            Adapter::Meetings(meetings) => Some(meetings),
            Adapter::Calendar(_) => None,
        }
    }

    /// Which provider it is.
    pub fn provider(&self) -> Provider {
        match self {
            Adapter::Calendar(calendar) => calendar.provider(),
            Adapter::Meetings(meetings) => meetings.provider(),
        }
    }

    /// Makes the account's copy of `event`: the event on a calendar, the
    /// meeting on a meeting service.
    pub async fn create(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        match self {
            Adapter::Calendar(calendar) => calendar.create_event(session, event, context).await,
            Adapter::Meetings(meetings) => meetings.create_meeting(session, event, context).await,
        }
    }

    /// The copy a create with `context`'s idempotency key made, if any.
    pub async fn find(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        match self {
            Adapter::Calendar(calendar) => calendar.find_created(session, context).await,
            Adapter::Meetings(meetings) => meetings.find_meeting(session, context).await,
        }
    }

    /// Brings the account's copy to `event`. A meeting holds only the
    /// title and the time: when neither changed, it is left alone (no call,
    /// none of the provider's daily writes spent) and `target` answered.
    pub async fn update(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        match self {
            Adapter::Calendar(calendar) => {
                calendar
                    .update_event(session, target, event, changed, context)
                    .await
            }
            Adapter::Meetings(meetings) => {
                let moved = changed.is_empty()
                    || changed
                        .iter()
                        .any(|field| MEETING_FIELDS.contains(&field.as_str()));
                if !moved {
                    return Ok(target.clone());
                }
                meetings
                    .update_meeting(session, target, event, changed, context)
                    .await
            }
        }
    }

    /// Deletes the account's copy; one already gone counts as deleted.
    pub async fn delete(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        context: &WriteContext,
    ) -> ProviderResult<()> {
        match self {
            Adapter::Calendar(calendar) => calendar.delete_event(session, target, context).await,
            Adapter::Meetings(meetings) => meetings.delete_meeting(session, target, context).await,
        }
    }
}

/// The event fields a video meeting holds: its topic and its time.
pub const MEETING_FIELDS: [&str; 6] = ["title", "start", "end", "timeZone", "allDay", "recurrence"];

/// The providers a [`crate::CalendarSync`] talks to, one adapter each.
#[derive(Clone, Default)]
pub struct Providers {
    adapters: HashMap<Provider, Adapter>,
    /// Why a provider has no adapter here, when a deployment said.
    missing: HashMap<Provider, String>,
}

impl Providers {
    /// No providers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the calendar adapter for its provider.
    pub fn with(self, adapter: Arc<dyn CalendarProvider>) -> Self {
        self.with_adapter(Adapter::Calendar(adapter))
    }

    /// Adds (or replaces) the meeting adapter for its provider.
    pub fn with_meetings(self, adapter: Arc<dyn MeetingProvider>) -> Self {
        self.with_adapter(Adapter::Meetings(adapter))
    }

    fn with_adapter(mut self, adapter: Adapter) -> Self {
        let provider = adapter.provider();
        self.missing.remove(&provider);
        self.adapters.insert(provider, adapter);
        self
    }

    /// Notes why `provider` has no adapter here (e.g. the setting that is
    /// missing), for the error a connect to it answers.
    pub fn not_configured(mut self, provider: Provider, reason: impl Into<String>) -> Self {
        if !self.adapters.contains_key(&provider) {
            self.missing.insert(provider, reason.into());
        }
        self
    }

    /// Why `provider` has no adapter here, when a deployment said.
    pub fn why_missing(&self, provider: Provider) -> Option<&str> {
        self.missing.get(&provider).map(String::as_str)
    }

    /// The adapter for `provider`, when one is configured.
    pub fn adapter(&self, provider: Provider) -> Option<&Adapter> {
        self.adapters.get(&provider)
    }

    /// The calendar adapter for `provider`, when one is configured.
    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn CalendarProvider>> {
        self.adapters.get(&provider).and_then(Adapter::calendar)
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.adapters.keys().map(|p| p.as_str()).collect();
        names.sort_unstable();
        f.debug_struct("Providers")
            .field("adapters", &names)
            .finish()
    }
}
