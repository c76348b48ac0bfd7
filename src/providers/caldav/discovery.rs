//! Finding an account's calendars the way CalDAV clients must (RFC 6764,
//! RFC 5397, RFC 4791 §6.2): `/.well-known/caldav`, the current user's
//! principal, its calendar home (which may live on another host: every href
//! is followed as given), then the event calendars in the home.

use super::client::{Answer, Auth, Request, send, status_error};
use super::xml::{self, CALDAV, DAV};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use reqwest::Method;
use url::Url;

/// The calendar calsync creates in a home that has none.
pub const DEFAULT_CALENDAR_NAME: &str = "calsync";

/// One calendar collection in a home.
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarCollection {
    /// Its absolute URL (ends with `/`).
    pub url: Url,
    /// Its display name, when it has one.
    pub display_name: Option<String>,
    /// Whether it holds events (`VEVENT` among its supported components).
    pub supports_events: bool,
    /// Whether the user may write to it (as far as the server tells).
    pub writable: bool,
}

impl CalendarCollection {
    /// Whether `name` names this calendar (display name, or last path segment).
    pub fn is_named(&self, name: &str) -> bool {
        let segment = self
            .url
            .path_segments()
            .and_then(|mut segments| segments.rfind(|part| !part.is_empty()))
            .unwrap_or_default();
        self.display_name
            .as_deref()
            .is_some_and(|display| display.eq_ignore_ascii_case(name))
            || segment.eq_ignore_ascii_case(name)
    }

    /// Whether `address` is this calendar's URL, or its path on the server
    /// (the slash that ends a collection's path may be left out).
    pub fn is_at(&self, address: &str) -> bool {
        let wanted = address.trim().trim_end_matches('/');
        !wanted.is_empty()
            && (self.url.as_str().trim_end_matches('/') == wanted
                || self.url.path().trim_end_matches('/') == wanted)
    }

    /// What to call it in messages.
    pub fn label(&self) -> String {
        self.display_name
            .clone()
            .unwrap_or_else(|| self.url.path().to_owned())
    }
}

/// Sends a PROPFIND and answers its multistatus, with the URL that answered.
pub async fn propfind(
    client: &reqwest::Client,
    auth: &Auth,
    url: Url,
    depth: &str,
    props: &[&str],
) -> ProviderResult<(Url, Vec<xml::Response>)> {
    let request = Request::new(propfind_method(), url)
        .header("Depth", depth)
        .xml(xml::propfind(props));
    let answer = send(client, auth, request).await?;
    if answer.status.as_u16() != 207 {
        return Err(status_error("PROPFIND", &answer));
    }
    let responses = multistatus(&answer)?;
    Ok((answer.url, responses))
}

/// The `PROPFIND` method.
pub fn propfind_method() -> Method {
    Method::from_bytes(b"PROPFIND").expect("PROPFIND is a valid method token")
}

/// Parses a 207 body, or says which server answered nonsense.
pub fn multistatus(answer: &Answer) -> ProviderResult<Vec<xml::Response>> {
    xml::multistatus(&answer.body).map_err(|error| {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("{} answered an unreadable multistatus: {error}", answer.url),
        )
    })
}

/// The current user's principal URL, found from the account's base URL.
///
/// A base URL with a path is tried first as the context path; then (or
/// otherwise first) `/.well-known/caldav`.
pub async fn principal(client: &reqwest::Client, auth: &Auth, base: &Url) -> ProviderResult<Url> {
    let well_known = base.join("/.well-known/caldav").map_err(|error| {
        ProviderError::new(
            ProviderErrorKind::InvalidCredentials,
            format!("url: {error}"),
        )
    })?;
    let candidates = if base.path() == "/" || base.path().is_empty() {
        vec![well_known, base.clone()]
    } else {
        vec![base.clone(), well_known]
    };
    let mut last_error = None;
    for candidate in candidates {
        match propfind(client, auth, candidate, "0", &["D:current-user-principal"]).await {
            Ok((answered, responses)) => {
                let href = responses
                    .iter()
                    .find_map(|response| response.prop_href(DAV, "current-user-principal"));
                match href {
                    Some(href) => return join(&answered, &href),
                    None => {
                        last_error = Some(ProviderError::new(
                            ProviderErrorKind::Rejected,
                            format!("{answered} names no current-user-principal"),
                        ))
                    }
                }
            }
            Err(error) if error.kind == ProviderErrorKind::Unauthorized => return Err(error),
            Err(error) if error.kind.is_transient() => return Err(error),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        ProviderError::new(ProviderErrorKind::Rejected, "no CalDAV service found")
    }))
}

/// The principal's calendar home.
pub async fn calendar_home(
    client: &reqwest::Client,
    auth: &Auth,
    principal: Url,
) -> ProviderResult<Url> {
    let (answered, responses) =
        propfind(client, auth, principal, "0", &["C:calendar-home-set"]).await?;
    let href = responses
        .iter()
        .find_map(|response| response.prop_href(CALDAV, "calendar-home-set"))
        .ok_or_else(|| {
            ProviderError::new(
                ProviderErrorKind::Rejected,
                format!("{answered} names no calendar-home-set: is this a CalDAV account?"),
            )
        })?;
    join(&answered, &href)
}

/// The calendars in `home` (collections of resource type `C:calendar`).
pub async fn calendars(
    client: &reqwest::Client,
    auth: &Auth,
    home: &Url,
) -> ProviderResult<Vec<CalendarCollection>> {
    let (answered, responses) = propfind(
        client,
        auth,
        home.clone(),
        "1",
        &[
            "D:resourcetype",
            "D:displayname",
            "C:supported-calendar-component-set",
            "D:current-user-privilege-set",
            "ICAL:calendar-color",
        ],
    )
    .await?;
    let mut found = Vec::new();
    for response in &responses {
        let is_calendar = response
            .prop(DAV, "resourcetype")
            .is_some_and(|kinds| kinds.child(CALDAV, "calendar").is_some());
        if !is_calendar {
            continue;
        }
        let url = join(&answered, &response.href)?;
        let supports_events = response
            .prop(CALDAV, "supported-calendar-component-set")
            .is_none_or(|set| {
                set.children_named(CALDAV, "comp")
                    .any(|comp| comp.attribute("name") == Some("VEVENT"))
            });
        let writable = response
            .prop(DAV, "current-user-privilege-set")
            .is_none_or(|set| {
                ["all", "write", "write-content", "bind"]
                    .iter()
                    .any(|name| set.find(DAV, name).is_some())
            });
        found.push(CalendarCollection {
            url,
            display_name: response.prop_text(DAV, "displayname"),
            supports_events,
            writable,
        });
    }
    Ok(found)
}

/// Creates an event calendar named `name` in `home`.
pub async fn make_calendar(
    client: &reqwest::Client,
    auth: &Auth,
    home: &Url,
    name: &str,
) -> ProviderResult<CalendarCollection> {
    let segment: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let url = join(home, &format!("{}/", segment.trim_matches('-')))?;
    let method = Method::from_bytes(b"MKCALENDAR").expect("MKCALENDAR is a valid method token");
    let answer = send(
        client,
        auth,
        Request::new(method, url.clone()).xml(xml::mkcalendar(name)),
    )
    .await?;
    // Two clients connecting at once both find no calendar and both make one:
    // the loser is told the resource exists (405 per RFC 4791 §5.3.1;
    // Radicale answers 409 `resource-must-be-null`). The name is the same, so
    // the calendar the other client made is the one wanted.
    let exists = answer.status == reqwest::StatusCode::METHOD_NOT_ALLOWED
        || (answer.status == reqwest::StatusCode::CONFLICT
            && answer.body.contains("resource-must-be-null"));
    if !answer.status.is_success() && !exists {
        return Err(status_error("MKCALENDAR", &answer));
    }
    Ok(CalendarCollection {
        url,
        display_name: Some(name.to_owned()),
        supports_events: true,
        writable: true,
    })
}

/// The account names an event calendar it does not have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("calendar: the account has no event calendar named or at {wanted:?}; it has {}", quoted(.available))]
pub struct NoCalendarNamed {
    /// The name the account gives.
    pub wanted: String,
    /// The names of the event calendars it has.
    pub available: Vec<String>,
}

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Picks the calendar `wanted` names (its URL, its path, its display name or
/// the last segment of its path), or else the first writable event calendar.
/// `None` when there is none to pick: the home holds no event calendar, so
/// one of the name wanted may be made.
///
/// # Errors
/// [`NoCalendarNamed`]: `wanted` names none of the account's event calendars
/// (or gives an address, when the home holds none: a calendar is made by
/// name only).
pub fn choose<'a>(
    calendars: &'a [CalendarCollection],
    wanted: Option<&str>,
) -> Result<Option<&'a CalendarCollection>, NoCalendarNamed> {
    let events: Vec<&CalendarCollection> = calendars.iter().filter(|c| c.supports_events).collect();
    match wanted {
        Some(name) => match events
            .iter()
            .find(|c| c.is_at(name))
            .or_else(|| events.iter().find(|c| c.is_named(name)))
        {
            Some(found) => Ok(Some(found)),
            None if events.is_empty() && !is_address(name) => Ok(None),
            None => Err(NoCalendarNamed {
                wanted: name.to_owned(),
                available: events.iter().map(|c| c.label()).collect(),
            }),
        },
        None => Ok(events.iter().find(|c| c.writable).copied()),
    }
}

/// Whether `text` is written as a calendar's address (a URL or a path)
/// rather than as its name.
pub fn is_address(text: &str) -> bool {
    text.starts_with('/') || text.contains("://")
}

/// `href` resolved against the URL that sent it.
pub fn join(base: &Url, href: &str) -> ProviderResult<Url> {
    base.join(href).map_err(|error| {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("{base} sent an unusable href {href:?}: {error}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar(
        path: &str,
        name: Option<&str>,
        events: bool,
        writable: bool,
    ) -> CalendarCollection {
        CalendarCollection {
            url: Url::parse("https://dav.example")
                .and_then(|base| base.join(path))
                .expect("valid url"),
            display_name: name.map(str::to_owned),
            supports_events: events,
            writable,
        }
    }

    #[test]
    fn chooses_by_name_or_first_writable_event_calendar() {
        let all = [
            calendar("/u/tasks/", Some("Tasks"), false, true),
            calendar("/u/shared/", Some("Shared"), true, false),
            calendar("/u/work/", Some("Work"), true, true),
        ];
        assert_eq!(
            choose(&all, None).expect("ok").map(|c| c.label()),
            Some("Work".into())
        );
        assert_eq!(
            choose(&all, Some("shared")).expect("ok").map(|c| c.label()),
            Some("Shared".into())
        );
        assert_eq!(
            choose(&all, Some("work"))
                .expect("ok")
                .map(|c| c.url.path().to_owned()),
            Some("/u/work/".into())
        );
        let error = choose(&all, Some("Home")).expect_err("no such calendar");
        assert_eq!(error.available, ["Shared", "Work"]);
        assert!(error.to_string().contains("\"Work\""), "{error}");
        assert_eq!(choose(&all[..1], None).expect("ok"), None);
    }

    #[test]
    fn chooses_by_url_or_path_and_never_makes_a_calendar_for_an_address() {
        let all = [
            calendar("/u/shared/", Some("Shared"), true, false),
            calendar("/u/work/", Some("Work"), true, true),
        ];
        for address in ["https://dav.example/u/shared/", "/u/shared/", "/u/shared"] {
            assert_eq!(
                choose(&all, Some(address)).expect("ok").map(|c| c.label()),
                Some("Shared".into()),
                "{address}"
            );
        }
        assert!(choose(&all, Some("https://elsewhere.example/u/shared/")).is_err());
        assert!(
            choose(&all, Some("/u/")).is_err(),
            "the home is no calendar"
        );
        // An empty home: a name may be made, an address may not.
        assert_eq!(choose(&[], Some("Team")).expect("ok"), None);
        let error = choose(&[], Some("/u/team/")).expect_err("nothing there");
        assert!(error.to_string().ends_with("it has none"), "{error}");
    }
}
