//! The live CalDAV adapter (provider `apple`): iCloud and any CalDAV server
//! (Fastmail, Nextcloud, Radicale, Xandikos, ...).
//!
//! Credentials are `{username, password, url?, calendar?,
//! conflict_calendars?}`: `url` defaults to iCloud
//! (`https://caldav.icloud.com`, which wants an app-specific password),
//! `calendar` names the calendar to write to (by URL, path or display name),
//! otherwise the first writable event calendar is used. When the account's
//! calendar home holds no calendar at all (a fresh Radicale account), connect
//! creates one named `calsync` (or the name asked for) with MKCALENDAR.
//! Connecting keeps `calendar_url` and `home_url` beside the credentials.
//!
//! Conflicts are read from the target and from every event calendar of the
//! home, or, when the app names them in `conflict_calendars` (URLs or paths,
//! each checked at connect and kept as its URL), from those alone (module
//! `calendars`). Event ids are the resources' URLs, so they stay unique
//! across calendars.
//!
//! Writes never duplicate or clobber: a create PUTs `{calendar}/{name}.ics`
//! with `If-None-Match: *`, `name` derived from the idempotency key, so a
//! retry finds its own event (same UID) instead of making a second; updates
//! and deletes send `If-Match`, and an update that meets someone else's edit
//! re-applies only calsync's changed fields onto the server's copy, once.
//!
//! Writes to one calendar are paced (module `pace`): the adapter finds out by
//! measuring how many at once the server turns into more throughput.

mod calendars;
mod client;
mod discovery;
mod ical;
mod objects;
mod pace;
mod serialize;
mod timezone;
mod xml;

use crate::model::{EventDetails, Provider, ProviderEventRef};
use crate::providers::{
    AccountProvider, CalendarInfo, CalendarProvider, Connection, Credentials, ProviderError,
    ProviderErrorKind, ProviderResult, Revocation, Session, WriteContext,
};
use crate::schedule::ProviderEvent;
use crate::schedule::ics::{IcsOptions, events_from_ics, events_from_ics_with};
use async_trait::async_trait;
use calendars::{CONFLICT_CALENDARS, ReadCalendar};
use chrono::{DateTime, Utc};
use client::Auth;
use discovery::{CalendarCollection, DEFAULT_CALENDAR_NAME};
use objects::PutOutcome;
use url::Url;

/// iCloud's CalDAV host, used when the credentials name no `url`.
pub const ICLOUD_URL: &str = "https://caldav.icloud.com";

/// The CalDAV adapter. Cheap to clone; shares one connection pool.
#[derive(Clone, Debug)]
pub struct CalDavProvider {
    client: reqwest::Client,
    pacer: std::sync::Arc<pace::Pacer>,
}

impl CalDavProvider {
    /// An adapter with its own HTTP client (timeouts, keep-alive, redirects
    /// followed by hand).
    ///
    /// # Errors
    /// `Unavailable` when the TLS backend cannot be set up.
    pub fn new() -> ProviderResult<Self> {
        Ok(Self::with_client(client::build_client()?))
    }

    /// An adapter on `client`, which must not follow redirects itself
    /// (`redirect::Policy::none()`): PROPFIND and REPORT must keep their
    /// method and body across a redirect.
    pub fn with_client(client: reqwest::Client) -> Self {
        CalDavProvider {
            client,
            pacer: std::sync::Arc::default(),
        }
    }

    /// A PUT in its turn among the writes to the same calendar.
    async fn paced_put(
        &self,
        account: &Account,
        href: &Url,
        body: String,
        precondition: (&'static str, String),
    ) -> ProviderResult<PutOutcome> {
        let mut turn = self.pacer.write_turn(href).await;
        let outcome = objects::put(&self.client, &account.auth, href, body, precondition).await;
        if outcome
            .as_ref()
            .is_err_and(|error| error.kind.is_transient())
        {
            turn.overloaded();
        }
        outcome
    }

    /// A DELETE in its turn among the writes to the same calendar.
    async fn paced_delete(
        &self,
        account: &Account,
        href: &Url,
        etag: Option<&str>,
    ) -> ProviderResult<client::Answer> {
        let mut turn = self.pacer.write_turn(href).await;
        let answer = objects::delete(&self.client, &account.auth, href, etag).await;
        let busy = match &answer {
            Ok(answer) => client::is_busy(answer.status),
            Err(error) => error.kind.is_transient(),
        };
        if busy {
            turn.overloaded();
        }
        answer
    }

    async fn discover(&self, account: &Account) -> ProviderResult<Discovered> {
        let principal = discovery::principal(&self.client, &account.auth, &account.base).await?;
        let home = discovery::calendar_home(&self.client, &account.auth, principal).await?;
        let mut collections = discovery::calendars(&self.client, &account.auth, &home).await?;
        let chosen = discovery::choose(&collections, account.calendar.as_deref())
            .map_err(|error| {
                ProviderError::new(ProviderErrorKind::InvalidCredentials, error.to_string())
            })?
            .cloned();
        let target = match chosen {
            Some(calendar) => calendar,
            None if collections.iter().any(|c| c.supports_events) => {
                return Err(ProviderError::new(
                    ProviderErrorKind::InvalidCredentials,
                    "calendar: the account has no event calendar it may write to",
                ));
            }
            None => {
                let name = account.calendar.as_deref().unwrap_or(DEFAULT_CALENDAR_NAME);
                let made =
                    discovery::make_calendar(&self.client, &account.auth, &home, name).await?;
                collections.push(made.clone());
                made
            }
        };
        Ok(Discovered {
            home,
            target,
            collections,
        })
    }

    /// The calendar a session writes to: its `calendar_id`, else the one kept
    /// at connect, else found again.
    async fn calendar_url(&self, account: &Account, session: &Session) -> ProviderResult<Url> {
        if let Some(id) = &session.calendar_id {
            return parse_url("calendar_id", id);
        }
        if let Some(url) = &account.calendar_url {
            return Ok(url.clone());
        }
        Ok(self.discover(account).await?.target.url)
    }

    /// The event calendars of the account's home: one PROPFIND of the home
    /// kept at connect (found again only for an account connected without it).
    async fn collections(&self, account: &Account) -> ProviderResult<Vec<CalendarCollection>> {
        match &account.home_url {
            Some(home) => discovery::calendars(&self.client, &account.auth, home).await,
            None => Ok(self.discover(account).await?.collections),
        }
    }

    /// The calendars the app chose to read for conflicts, as URLs, if it chose.
    fn chosen_urls(account: &Account, target: &Url) -> ProviderResult<Option<Vec<Url>>> {
        let base = account.home_url.as_ref().unwrap_or(target);
        Ok(account
            .conflict_calendars
            .as_deref()
            .map(|chosen| calendars::kept_urls(chosen, base))
            .transpose()?)
    }

    /// The events of one calendar overlapping `from..to`, each named by its
    /// resource's URL.
    async fn read_calendar(
        &self,
        account: &Account,
        calendar: &ReadCalendar,
        (from, to): (&str, &str),
    ) -> ProviderResult<Vec<ProviderEvent>> {
        let found = match objects::query(&self.client, &account.auth, &calendar.url, from, to).await
        {
            Ok(found) => found,
            // A calendar of the home that refuses queries must not hide the
            // others, nor one deleted since the home was listed (it holds no
            // busy time); the target and the calendars the app named must
            // answer.
            Err(error)
                if calendar.may_skip
                    && matches!(
                        error.kind,
                        ProviderErrorKind::Rejected | ProviderErrorKind::NotFound
                    ) =>
            {
                tracing::warn!(calendar = %calendar.url, %error, "calendar-query refused; calendar skipped");
                return Ok(Vec::new());
            }
            Err(error) => return Err(error),
        };
        let options = IcsOptions {
            attendee: account.email(),
        };
        let mut events = Vec::new();
        for (href, data) in found {
            let (read, problems) = events_from_ics_with(&data, &options);
            for problem in problems {
                tracing::warn!(%href, line = problem.line, problem = %problem.message, "iCalendar problem");
            }
            events.extend(read.into_iter().map(|event| at_href(event, &href)));
        }
        Ok(events)
    }

    async fn fetch_etag(&self, account: &Account, href: &Url) -> ProviderResult<String> {
        objects::etag(&self.client, &account.auth, href).await
    }

    fn event_ref(href: &Url, etag: String, calendar: &Url) -> ProviderEventRef {
        ProviderEventRef {
            provider: Provider::Apple,
            event_id: href.to_string(),
            etag: Some(etag),
            calendar_id: Some(calendar.to_string()),
            join_url: None,
            // The engine sets the version it wrote.
            version: crate::model::FIRST_VERSION,
            pending: None,
        }
    }
}

/// What discovery found: the calendar home, the calendar to write to, and
/// every calendar collection of the home.
struct Discovered {
    home: Url,
    target: CalendarCollection,
    collections: Vec<CalendarCollection>,
}

/// An account's settings, read from its credentials.
struct Account {
    auth: Auth,
    base: Url,
    calendar: Option<String>,
    calendar_url: Option<Url>,
    home_url: Option<Url>,
    conflict_calendars: Option<Vec<String>>,
}

impl Account {
    fn from(credentials: &Credentials) -> ProviderResult<Account> {
        let field = |name: &str| {
            credentials
                .get_str(name)
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let missing = |name: &str| {
            ProviderError::new(
                ProviderErrorKind::InvalidCredentials,
                format!("{name}: is required for a CalDAV account"),
            )
        };
        let username = field("username").ok_or_else(|| missing("username"))?;
        let password = credentials
            .get_str("password")
            .filter(|value| !value.is_empty())
            .ok_or_else(|| missing("password"))?;
        let base = parse_url("url", field("url").unwrap_or(ICLOUD_URL))?;
        let optional_url = |name: &str| field(name).map(|text| parse_url(name, text)).transpose();
        Ok(Account {
            auth: Auth {
                username: username.to_owned(),
                password: password.to_owned(),
            },
            base,
            calendar: field("calendar").map(str::to_owned),
            calendar_url: optional_url("calendar_url")?,
            home_url: optional_url("home_url")?,
            conflict_calendars: calendars::chosen(credentials)?,
        })
    }

    /// The user's address, when the login is one (for reading declines).
    fn email(&self) -> Option<&str> {
        Some(self.auth.username.as_str()).filter(|name| name.contains('@'))
    }
}

fn parse_url(field: &str, text: &str) -> ProviderResult<Url> {
    let url = Url::parse(text).map_err(|error| {
        ProviderError::new(
            ProviderErrorKind::InvalidCredentials,
            format!("{field}: {text:?} is not a URL: {error}"),
        )
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(ProviderError::new(
            ProviderErrorKind::InvalidCredentials,
            format!("{field}: must be an http:// or https:// URL, got {text:?}"),
        ));
    }
    Ok(url)
}

/// Turns a 401 into `kind` (connect: invalid credentials; refresh: invalid grant).
fn refused_as(kind: ProviderErrorKind) -> impl Fn(ProviderError) -> ProviderError {
    move |error| {
        if error.kind == ProviderErrorKind::Unauthorized {
            ProviderError::new(
                kind,
                format!("the server refused the username or password ({error})"),
            )
        } else {
            error
        }
    }
}

/// The UID of the first event of a resource, when it has one.
fn uid_of(text: &str) -> Option<String> {
    events_from_ics(text)
        .0
        .into_iter()
        .find_map(|event| event.uid)
}

/// An event read from the resource at `href`, named by it (an overridden
/// instance by `href#RECURRENCE-ID`), as the adapter's event ids are hrefs.
fn at_href(mut event: ProviderEvent, href: &impl std::fmt::Display) -> ProviderEvent {
    event.event_id = match event.recurrence_id {
        Some(id) => format!("{href}#{id}"),
        None => href.to_string(),
    };
    event
}

/// An event calsync cannot write as iCalendar: the provider would refuse it too.
fn rejected(error: ical::IcalError) -> ProviderError {
    ProviderError::new(ProviderErrorKind::Rejected, error.to_string())
}

#[async_trait]
impl AccountProvider for CalDavProvider {
    fn provider(&self) -> Provider {
        Provider::Apple
    }

    async fn connect(&self, credentials: &Credentials) -> ProviderResult<Connection> {
        let account = Account::from(credentials)?;
        let found = self
            .discover(&account)
            .await
            .map_err(refused_as(ProviderErrorKind::InvalidCredentials))?;
        let chosen = account
            .conflict_calendars
            .as_deref()
            .map(|chosen| calendars::resolve(chosen, &found.collections))
            .transpose()?;
        let mut kept = Credentials::default();
        kept.set_str("username", account.auth.username.as_str());
        kept.set_str("password", account.auth.password.as_str());
        kept.set_str("url", account.base.as_str());
        if let Some(name) = &account.calendar {
            kept.set_str("calendar", name.as_str());
        }
        if let Some(chosen) = &chosen {
            kept.0
                .insert(CONFLICT_CALENDARS.to_owned(), calendars::to_value(chosen));
        }
        kept.set_str("calendar_url", found.target.url.as_str());
        kept.set_str("home_url", found.home.as_str());
        Ok(Connection {
            credentials: kept,
            calendar_id: Some(found.target.url.to_string()),
            label: Some(account.auth.username),
        })
    }

    async fn refresh(&self, credentials: &Credentials) -> ProviderResult<Credentials> {
        // CalDAV has no tokens: refreshing is proving the password still works.
        let account = Account::from(credentials)?;
        let target = match &account.calendar_url {
            Some(url) => url.clone(),
            None => account.base.clone(),
        };
        discovery::propfind(
            &self.client,
            &account.auth,
            target,
            "0",
            &["D:resourcetype"],
        )
        .await
        .map_err(refused_as(ProviderErrorKind::InvalidGrant))?;
        Ok(credentials.clone())
    }

    async fn revoke(&self, credentials: &Credentials) -> ProviderResult<Revocation> {
        // Nothing to revoke at the server: an app-specific password is
        // revoked by its owner (at Apple: account.apple.com). Checking the
        // fields keeps a malformed account from passing silently.
        Account::from(credentials)?;
        Ok(Revocation::NotSupported(
            "a CalDAV server has no way to revoke a password from outside; its owner removes it (for iCloud, at account.apple.com under app-specific passwords)".to_owned(),
        ))
    }

    async fn validate(&self, session: &Session) -> ProviderResult<()> {
        let account = Account::from(&session.credentials)?;
        let calendar = self.calendar_url(&account, session).await?;
        discovery::propfind(
            &self.client,
            &account.auth,
            calendar,
            "0",
            &["D:resourcetype"],
        )
        .await
        .map(|_| ())
    }
}

#[async_trait]
impl CalendarProvider for CalDavProvider {
    async fn create_event(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let account = Account::from(&session.credentials)?;
        let calendar = self.calendar_url(&account, session).await?;
        let name = objects::resource_name(&context.idempotency_key);
        let href = discovery::join(&calendar, &format!("{name}.ics"))?;
        let body = ical::render(event, &name, &context.synced_id, Utc::now()).map_err(rejected)?;
        let precondition = ("If-None-Match", "*".to_owned());
        match self.paced_put(&account, &href, body, precondition).await? {
            PutOutcome::Stored(Some(etag)) => Ok(Self::event_ref(&href, etag, &calendar)),
            PutOutcome::Stored(None) => {
                let etag = self.fetch_etag(&account, &href).await?;
                Ok(Self::event_ref(&href, etag, &calendar))
            }
            PutOutcome::PreconditionFailed => {
                // The name is taken: by this create's earlier attempt if the
                // UID is ours, else by something calsync must not touch.
                let existing = objects::get(&self.client, &account.auth, &href).await?;
                if uid_of(&existing.body).as_deref() != Some(name.as_str()) {
                    return Err(ProviderError::new(
                        ProviderErrorKind::AlreadyExists,
                        format!("{href} already holds another event"),
                    ));
                }
                let etag = match existing.etag {
                    Some(etag) => etag,
                    None => self.fetch_etag(&account, &href).await?,
                };
                Ok(Self::event_ref(&href, etag, &calendar))
            }
        }
    }

    async fn find_created(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        let account = Account::from(&session.credentials)?;
        let calendar = self.calendar_url(&account, session).await?;
        let name = objects::resource_name(&context.idempotency_key);
        let href = discovery::join(&calendar, &format!("{name}.ics"))?;
        let existing = match objects::get(&self.client, &account.auth, &href).await {
            Ok(existing) => existing,
            Err(error) if error.kind == ProviderErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        // The name is the key's; an event there with another UID is not one
        // calsync made.
        if uid_of(&existing.body).as_deref() != Some(name.as_str()) {
            return Ok(None);
        }
        let etag = match existing.etag {
            Some(etag) => etag,
            None => self.fetch_etag(&account, &href).await?,
        };
        Ok(Some(Self::event_ref(&href, etag, &calendar)))
    }

    async fn update_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        changed: &[String],
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let account = Account::from(&session.credentials)?;
        let href = parse_url("event_id", &target.event_id)?;
        let calendar = match &target.calendar_id {
            Some(id) => parse_url("calendar_id", id)?,
            None => self.calendar_url(&account, session).await?,
        };
        let mut expected = target.etag.clone();
        for _attempt in 0..2 {
            let server = objects::get(&self.client, &account.auth, &href).await?;
            let body = ical::merge(&server.body, event, changed, &context.synced_id, Utc::now())
                .map_err(rejected)?;
            let etag = match expected.take().or(server.etag) {
                Some(etag) => etag,
                None => self.fetch_etag(&account, &href).await?,
            };
            let precondition = ("If-Match", etag);
            match self.paced_put(&account, &href, body, precondition).await? {
                PutOutcome::Stored(Some(etag)) => {
                    return Ok(Self::event_ref(&href, etag, &calendar));
                }
                PutOutcome::Stored(None) => {
                    let etag = self.fetch_etag(&account, &href).await?;
                    return Ok(Self::event_ref(&href, etag, &calendar));
                }
                // Someone changed it since calsync read it: read again and
                // re-apply calsync's fields onto their version, once.
                PutOutcome::PreconditionFailed => continue,
            }
        }
        Err(ProviderError::new(
            ProviderErrorKind::PreconditionFailed,
            format!("{href} kept changing on the server while calsync updated it"),
        ))
    }

    async fn delete_event(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        _context: &WriteContext,
    ) -> ProviderResult<()> {
        let account = Account::from(&session.credentials)?;
        let href = parse_url("event_id", &target.event_id)?;
        let mut etag = target.etag.clone();
        for attempt in 0..2 {
            let answer = self.paced_delete(&account, &href, etag.as_deref()).await?;
            match answer.status.as_u16() {
                200..=299 | 404 | 410 => return Ok(()),
                412 if attempt == 0 => match self.fetch_etag(&account, &href).await {
                    Ok(fresh) => etag = Some(fresh),
                    Err(error) if error.kind == ProviderErrorKind::NotFound => return Ok(()),
                    Err(error) => return Err(error),
                },
                _ => return Err(client::status_error("DELETE", &answer)),
            }
        }
        Err(ProviderError::new(
            ProviderErrorKind::PreconditionFailed,
            format!("{href} kept changing on the server while calsync deleted it"),
        ))
    }

    async fn list_calendars(&self, session: &Session) -> ProviderResult<Vec<CalendarInfo>> {
        let account = Account::from(&session.credentials)?;
        let target = self.calendar_url(&account, session).await?;
        let chosen = Self::chosen_urls(&account, &target)?;
        let collections = self.collections(&account).await?;
        Ok(calendars::listing(&collections, &target, chosen.as_deref()))
    }

    async fn list_events(
        &self,
        session: &Session,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> ProviderResult<Vec<ProviderEvent>> {
        let account = Account::from(&session.credentials)?;
        let target = self.calendar_url(&account, session).await?;
        let chosen = Self::chosen_urls(&account, &target)?;
        // The home is read only when its calendars are the ones to check.
        let collections = match &chosen {
            Some(_) => Vec::new(),
            None => self.collections(&account).await?,
        };
        let (from, to) = (
            start.format("%Y%m%dT%H%M%SZ").to_string(),
            end.format("%Y%m%dT%H%M%SZ").to_string(),
        );
        let mut events = Vec::new();
        for calendar in calendars::to_read(&target, chosen.as_deref(), &collections) {
            events.extend(
                self.read_calendar(&account, &calendar, (&from, &to))
                    .await?,
            );
        }
        Ok(events)
    }
}
