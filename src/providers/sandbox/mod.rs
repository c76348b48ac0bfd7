//! The sandbox: simulated Google, Outlook, Apple and Zoom providers.
//!
//! Each [`SandboxProvider`] behaves like its real provider as calsync sees
//! it: ids in the provider's shape, calendars that keep their events (so a
//! committed event is later seen by conflict detection), idempotent creates,
//! access tokens that expire and are refreshed or revoked (Outlook and Zoom
//! rotate refresh tokens), and failures or delays on demand. Each call's doc
//! names the real endpoint it stands in for.

mod entry;
mod faults;
mod hold;
mod ids;
mod seed;

pub use faults::{FaultKind, FaultPlan};
pub use seed::{SeedEvents, read_seed};

use crate::clock::{Clock, SystemClock};
use crate::model::{Account, EventDetails, EventTime, Provider, ProviderEventRef};
use crate::providers::{
    AccountProvider, CalendarProvider, Connection, ConsentStart, Credentials, MeetingProvider,
    ProviderError, ProviderErrorKind, ProviderResult, Providers, Revocation, Session, WriteContext,
};
use crate::schedule::{EventStatus, ProviderEvent};
use async_trait::async_trait;
use chrono::{DateTime, Duration as Span, Utc};
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a sandbox access token lives, as Google's and Graph's do.
const TOKEN_LIFETIME_SECONDS: i64 = 3600;

/// An event as a sandbox calendar keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// The event as conflict detection reads it.
    pub event: ProviderEvent,
    /// The details calsync wrote, when calsync wrote it.
    pub details: Option<EventDetails>,
    /// The version tag, bumped on every change.
    pub etag: String,
    /// The idempotency key of the create that made it.
    pub key: Option<String>,
}

/// How many calls of each kind a sandbox provider answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Creates that made a new event.
    pub creates: u32,
    /// Creates answered with the event an earlier create with the same key made.
    pub repeated_creates: u32,
    /// Updates.
    pub updates: u32,
    /// Deletes.
    pub deletes: u32,
    /// Event listings.
    pub lists: u32,
    /// Token refreshes.
    pub refreshes: u32,
    /// Revocations.
    pub revokes: u32,
    /// Calls that failed by plan.
    pub faults: u32,
}

#[derive(Debug)]
struct Token {
    calendar: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct State {
    access_tokens: HashMap<String, Token>,
    refresh_tokens: HashMap<String, String>,
    calendars: HashMap<String, BTreeMap<String, StoredEvent>>,
    keys: HashMap<(String, String), String>,
    faults: Vec<FaultPlan>,
    latency: Duration,
    /// Whether calls wait before taking effect (see [`SandboxProvider::hold`]).
    held: bool,
    /// Calls waiting now: held before taking effect, or hung after it.
    waiting: usize,
    counts: CallCounts,
    version: u64,
}

impl State {
    /// A version tag never given before (every change bumps it).
    fn next_etag(&mut self) -> String {
        self.version += 1;
        format!("\"{}\"", self.version)
    }
}

/// One simulated provider.
pub struct SandboxProvider {
    provider: Provider,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Told whenever `held` or `waiting` changes.
    changed: tokio::sync::Notify,
}

impl std::fmt::Debug for SandboxProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxProvider")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl SandboxProvider {
    /// A sandbox for `provider` on the system clock.
    pub fn new(provider: Provider) -> Self {
        Self::with_clock(provider, Arc::new(SystemClock))
    }

    /// A sandbox for `provider` reading time from `clock`.
    pub fn with_clock(provider: Provider, clock: Arc<dyn Clock>) -> Self {
        SandboxProvider {
            provider,
            clock,
            state: Mutex::new(State::default()),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fails calls as `plan` says (plans queue up in order).
    pub fn fail(&self, plan: FaultPlan) {
        self.state().faults.push(plan);
    }

    /// Fails the next `count` calls with `kind`.
    pub fn fail_next(&self, count: u32, kind: FaultKind) {
        self.fail(FaultPlan {
            kind,
            remaining: count,
            calendar: None,
            retry_after_ms: None,
        });
    }

    /// Drops every pending failure plan.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Makes every call take `latency` before it answers.
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// How many calls of each kind were answered.
    pub fn counts(&self) -> CallCounts {
        self.state().counts
    }

    /// The events of a calendar, by provider event id.
    pub fn events(&self, calendar: &str) -> Vec<StoredEvent> {
        self.state()
            .calendars
            .get(calendar)
            .map(|events| events.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Adds existing events to a calendar (as if made by another client);
    /// an event with an id already there replaces it. Answers how many were added.
    pub fn seed(&self, calendar: &str, events: Vec<ProviderEvent>) -> usize {
        let mut state = self.state();
        let count = events.len();
        for event in events {
            let etag = state.next_etag();
            state
                .calendars
                .entry(calendar.to_owned())
                .or_default()
                .insert(
                    event.event_id.clone(),
                    StoredEvent {
                        event,
                        details: None,
                        etag,
                        key: None,
                    },
                );
        }
        count
    }

    /// Edits an event as another client would (bumps its etag).
    pub fn edit(
        &self,
        calendar: &str,
        event_id: &str,
        edit: impl FnOnce(&mut ProviderEvent),
    ) -> bool {
        let mut state = self.state();
        let etag = state.next_etag();
        match state
            .calendars
            .get_mut(calendar)
            .and_then(|c| c.get_mut(event_id))
        {
            Some(stored) => {
                edit(&mut stored.event);
                stored.etag = etag;
                true
            }
            None => false,
        }
    }

    /// Carries out a create that the network held back and delivers only
    /// now (its caller gave up waiting long ago): as a create with `context`
    /// would, on `calendar`, with no fault and no hold. Answers the event.
    pub fn deliver_late_create(
        &self,
        calendar: &str,
        details: &EventDetails,
        context: &WriteContext,
    ) -> ProviderEventRef {
        calls::create_in(&mut self.state(), self.provider, calendar, details, context)
    }

    /// Revokes every token of a calendar, as a user removing the app's access would.
    pub fn revoke_all(&self, calendar: &str) {
        let mut state = self.state();
        state
            .access_tokens
            .retain(|_, token| token.calendar != calendar);
        state.refresh_tokens.retain(|_, owner| owner != calendar);
    }

    fn issue_access_token(
        &self,
        state: &mut State,
        calendar: &str,
        token: String,
    ) -> DateTime<Utc> {
        let expires_at = self.clock.now() + Span::seconds(TOKEN_LIFETIME_SECONDS);
        state.access_tokens.insert(
            token,
            Token {
                calendar: calendar.to_owned(),
                expires_at,
            },
        );
        expires_at
    }

    /// The calendar a connection reaches: the person named by the
    /// credentials (their email, else a digest of their token: the calendar
    /// id is stored in the clear, a token must not be), for calsync's `user`
    /// (a digest of it), so that two users sending the same example token
    /// get calendars of their own, and one user reconnecting finds theirs.
    fn calendar_for(
        &self,
        user: Option<&crate::model::UserId>,
        credentials: &Credentials,
    ) -> String {
        let digest = |text: &str| -> String {
            let digest = sha2::Sha256::digest(text.as_bytes());
            digest[..8].iter().map(|b| format!("{b:02x}")).collect()
        };
        let person = match credentials.get_str("email") {
            Some(email) => email.to_owned(),
            None => digest(
                credentials
                    .get_str("refresh_token")
                    .or_else(|| credentials.get_str("access_token"))
                    .unwrap_or_default(),
            ),
        };
        let who = match user {
            Some(user) => format!("{person}~{}", digest(user.as_str())),
            None => person,
        };
        let who = who.as_str();
        match self.provider {
            Provider::Google => format!("primary:{who}"),
            Provider::Outlook => format!("calendar:{who}"),
            Provider::Apple => format!("/calendars/{}/home", sanitize(who)),
            Provider::Zoom => format!("me:{who}"),
        }
    }
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '@' || c == '.' || c == '~' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn overlaps(event: &ProviderEvent, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    if !event.recurrence.is_empty() {
        // A series may have occurrences anywhere after its first start.
        return begin(event.start) < end;
    }
    begin(event.start) < end && finish(event.end) > start
}

// Dates are widened by a day each side so that all-day events in any zone are kept.
fn begin(time: EventTime) -> DateTime<Utc> {
    match time {
        EventTime::Instant(instant) => instant,
        EventTime::Date(date) => date.and_time(chrono::NaiveTime::MIN).and_utc() - Span::days(1),
    }
}

fn finish(time: EventTime) -> DateTime<Utc> {
    match time {
        EventTime::Instant(instant) => instant,
        EventTime::Date(date) => date.and_time(chrono::NaiveTime::MIN).and_utc() + Span::days(1),
    }
}

fn calendar_event(id: &str, details: &EventDetails, context: &WriteContext) -> ProviderEvent {
    ProviderEvent {
        event_id: id.to_owned(),
        uid: Some(context.idempotency_key.clone()),
        title: details.title.clone(),
        start: details.start,
        end: details.end,
        time_zone: details.time_zone.clone(),
        transparency: details.transparency,
        status: EventStatus::Confirmed,
        declined: false,
        recurrence: details.recurrence.clone(),
        recurrence_id: None,
        this_and_future: false,
        synced_id: Some(context.synced_id.clone()),
    }
}

mod calls;

/// The four sandbox providers, sharing one clock.
#[derive(Clone, Debug)]
pub struct Sandbox {
    adapters: [Arc<SandboxProvider>; 4],
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// Sandboxes for google, outlook, apple and zoom on the system clock.
    pub fn new() -> Self {
        Sandbox::with_clock(Arc::new(SystemClock))
    }

    /// Sandboxes reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let make = |provider| Arc::new(SandboxProvider::with_clock(provider, clock.clone()));
        Sandbox {
            adapters: Provider::ALL.map(make),
        }
    }

    /// The sandbox for `provider`.
    pub fn get(&self, provider: Provider) -> &Arc<SandboxProvider> {
        let index = Provider::ALL
            .iter()
            .position(|p| *p == provider)
            .unwrap_or_default();
        &self.adapters[index]
    }

    /// Adds existing events to a sandbox account's calendar, as if another
    /// client had made them; answers how many were added. The account is one
    /// that [`crate::CalendarSync`] answered (for example
    /// [`crate::CalendarSync::get_account`], which checks its owner).
    pub fn seed(&self, account: &Account, events: Vec<ProviderEvent>) -> usize {
        let calendar = account.calendar_id.as_deref().unwrap_or_default();
        self.get(account.provider).seed(calendar, events)
    }

    /// All four as calsync's providers.
    pub fn providers(&self) -> Providers {
        self.adapters
            .iter()
            .fold(Providers::new(), |providers, adapter| {
                if adapter.provider == Provider::Zoom {
                    providers.with_meetings(adapter.clone() as Arc<dyn MeetingProvider>)
                } else {
                    providers.with(adapter.clone() as Arc<dyn CalendarProvider>)
                }
            })
    }
}

#[async_trait]
impl AccountProvider for SandboxProvider {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        calls::connect(self, None, credentials).await
    }

    async fn connect_as(
        &self,
        user: &crate::model::UserId,
        credentials: &Credentials,
    ) -> ProviderResult<Connection> {
        calls::connect(self, Some(user), credentials).await
    }

    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials> {
        calls::refresh(self, credentials).await
    }

    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<Revocation> {
        if self.provider == Provider::Apple {
            // As the live CalDAV adapter: a password is revoked by its owner.
            return Ok(Revocation::NotSupported(
                "a CalDAV server has no way to revoke a password from outside; its owner removes it".to_owned(),
            ));
        }
        calls::revoke(self, credentials).await?;
        Ok(Revocation::Revoked)
    }

    async fn validate(&self, session: &Session) -> ProviderResult<()> {
        calls::validate(self, session).await
    }

    /// Approves at once: the consent "page" is the redirect URI itself with
    /// a code, so an app can build its connect flow without real accounts.
    /// CalDAV (`apple`) has no consent flow.
    fn start_consent(&self, redirect_uri: &str) -> ProviderResult<Option<ConsentStart>> {
        if self.provider == Provider::Apple {
            return Ok(None);
        }
        let state = uuid::Uuid::new_v4().simple().to_string();
        let code = format!("sandbox-code-{}", uuid::Uuid::new_v4().simple());
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        Ok(Some(ConsentStart {
            url: format!("{redirect_uri}{separator}code={code}&state={state}"),
            state,
            verifier: uuid::Uuid::new_v4().simple().to_string(),
        }))
    }

    async fn finish_consent(
        &self,
        code: &str,
        _verifier: &str,
        _redirect_uri: &str,
    ) -> ProviderResult<Credentials> {
        let Some(grant) = code.strip_prefix("sandbox-code-") else {
            return Err(ProviderError::new(
                ProviderErrorKind::InvalidGrant,
                "the code is not one the sandbox issued",
            ));
        };
        let mut credentials = Credentials::default();
        credentials.set_str("refresh_token", format!("sandbox-refresh-{grant}"));
        credentials.set_str("access_token", format!("sandbox-access-{grant}"));
        Ok(credentials)
    }
}

#[async_trait]
impl CalendarProvider for SandboxProvider {
    async fn create_event(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        calls::create_event(self, session, event, context).await
    }

    async fn find_created(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        calls::find_created(self, session, context).await
    }

    async fn update_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        calls::update_event(self, session, target, event, changed, context).await
    }

    async fn delete_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        _context: &WriteContext,
    ) -> ProviderResult<()> {
        calls::delete_event(self, session, target).await
    }

    async fn list_events(
        &self,
        session: &Session,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ProviderResult<Vec<ProviderEvent>> {
        calls::list_events(self, session, start, end).await
    }
}

/// The simulated Zoom: its meetings are kept as events of the account's
/// "calendar", each with a join link, and never read as busy time.
#[async_trait]
impl MeetingProvider for SandboxProvider {
    async fn create_meeting(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        calls::create_event(self, session, event, context).await
    }

    async fn find_meeting(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        calls::find_created(self, session, context).await
    }

    async fn update_meeting(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        calls::update_event(self, session, target, event, changed, context).await
    }

    async fn delete_meeting(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        _context: &WriteContext,
    ) -> ProviderResult<()> {
        calls::delete_event(self, session, target).await
    }
}
