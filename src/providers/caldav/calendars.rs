//! Which of an account's calendars calsync writes to and which it reads for
//! conflicts: the app's choice in `conflict_calendars`, checked at connect
//! against the calendar home, else every event calendar of the home (a
//! person's busy time lives in all their calendars, not only the one calsync
//! writes to).

use super::discovery::CalendarCollection;
use crate::providers::{CalendarInfo, Credentials, ProviderError, ProviderErrorKind};
use serde_json::Value;
use url::Url;

/// The credentials field naming the calendars read for conflicts besides
/// the target: an array of calendar URLs (as listCalendars answers them) or
/// paths on the server.
pub const CONFLICT_CALENDARS: &str = "conflict_calendars";

/// Why the calendars chosen for conflicts cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// The field is not an array of strings.
    #[error("conflict_calendars: must be an array of calendar URLs or paths")]
    NotAnArray,
    /// An entry names no event calendar of the account's calendar home.
    #[error("conflict_calendars: the account has no event calendar at {wanted:?}; it has {}", listed(.available))]
    NoCalendarAt {
        /// The entry as the app gave it.
        wanted: String,
        /// The URLs of the event calendars the home holds.
        available: Vec<String>,
    },
    /// A kept entry is not a URL (the credentials were changed by hand).
    #[error("conflict_calendars: {0:?} is not a calendar URL")]
    NotAUrl(String),
}

impl From<ChoiceError> for ProviderError {
    fn from(error: ChoiceError) -> Self {
        ProviderError::new(ProviderErrorKind::InvalidCredentials, error.to_string())
    }
}

fn listed(urls: &[String]) -> String {
    if urls.is_empty() {
        return "none".to_owned();
    }
    urls.iter()
        .map(|url| format!("{url:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The calendars the app chose to read for conflicts, as written in the
/// credentials, if it chose.
///
/// # Errors
/// [`ChoiceError::NotAnArray`]: the field is there but is not an array of
/// strings.
pub fn chosen(credentials: &Credentials) -> Result<Option<Vec<String>>, ChoiceError> {
    let Some(value) = credentials.0.get(CONFLICT_CALENDARS) else {
        return Ok(None);
    };
    value
        .as_array()
        .ok_or(ChoiceError::NotAnArray)?
        .iter()
        .map(|entry| {
            entry
                .as_str()
                .map(str::to_owned)
                .ok_or(ChoiceError::NotAnArray)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The event calendars of the home that `wanted` names, each by its URL, in
/// the order given and without repeats.
///
/// # Errors
/// [`ChoiceError::NoCalendarAt`] naming the first entry that is neither the
/// URL nor the path of an event calendar in `collections`.
pub fn resolve(
    wanted: &[String],
    collections: &[CalendarCollection],
) -> Result<Vec<Url>, ChoiceError> {
    let events: Vec<&CalendarCollection> = collections
        .iter()
        .filter(|collection| collection.supports_events)
        .collect();
    let mut found: Vec<Url> = Vec::new();
    for entry in wanted {
        let collection = events
            .iter()
            .find(|collection| collection.is_at(entry))
            .ok_or_else(|| ChoiceError::NoCalendarAt {
                wanted: entry.clone(),
                available: events.iter().map(|c| c.url.to_string()).collect(),
            })?;
        if !found.iter().any(|url| same(url, &collection.url)) {
            found.push(collection.url.clone());
        }
    }
    Ok(found)
}

/// The kept choice as the credentials store it.
pub fn to_value(urls: &[Url]) -> Value {
    Value::from(
        urls.iter()
            .map(|url| Value::from(url.as_str()))
            .collect::<Vec<_>>(),
    )
}

/// The kept choice read back: the URLs connect stored (a path, should one
/// be there, taken on `base`'s server).
///
/// # Errors
/// [`ChoiceError::NotAUrl`]: an entry is no http(s) URL.
pub fn kept_urls(wanted: &[String], base: &Url) -> Result<Vec<Url>, ChoiceError> {
    wanted
        .iter()
        .map(|entry| {
            base.join(entry)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .ok_or_else(|| ChoiceError::NotAUrl(entry.clone()))
        })
        .collect()
}

/// Whether two URLs name the same collection (the slash that ends a
/// collection's path may be left out).
pub fn same(one: &Url, other: &Url) -> bool {
    one.as_str().trim_end_matches('/') == other.as_str().trim_end_matches('/')
}

/// The account's calendars as listCalendars answers them: every event
/// calendar of the home, the `target` marked, each checked for conflicts
/// when it is the target or the app `chosen` it (every one when the app did
/// not choose). A target or a chosen calendar the home does not hold is
/// listed too, as detectConflicts reads it.
pub fn listing(
    collections: &[CalendarCollection],
    target: &Url,
    chosen: Option<&[Url]>,
) -> Vec<CalendarInfo> {
    let is_chosen = |url: &Url| chosen.is_none_or(|chosen| chosen.iter().any(|c| same(c, url)));
    let mut calendars: Vec<CalendarInfo> = collections
        .iter()
        .filter(|collection| collection.supports_events)
        .map(|collection| {
            let is_target = same(&collection.url, target);
            CalendarInfo {
                id: collection.url.to_string(),
                name: collection.display_name.clone(),
                target: is_target,
                checked_for_conflicts: is_target || is_chosen(&collection.url),
            }
        })
        .collect();
    let present = |calendars: &[CalendarInfo], url: &Url| {
        calendars
            .iter()
            .any(|calendar| calendar.id.trim_end_matches('/') == url.as_str().trim_end_matches('/'))
    };
    if !present(&calendars, target) {
        let name = collections
            .iter()
            .find(|collection| same(&collection.url, target))
            .and_then(|collection| collection.display_name.clone());
        calendars.insert(
            0,
            CalendarInfo {
                id: target.to_string(),
                name,
                target: true,
                checked_for_conflicts: true,
            },
        );
    }
    for url in chosen.unwrap_or_default() {
        if !present(&calendars, url) {
            calendars.push(CalendarInfo {
                id: url.to_string(),
                name: None,
                target: false,
                checked_for_conflicts: true,
            });
        }
    }
    calendars
}

/// One calendar detectConflicts reads, and whether it may be skipped when
/// it refuses a calendar-query or is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadCalendar {
    /// The collection's URL.
    pub url: Url,
    /// True only for a calendar read because the app chose none: the target
    /// and the calendars the app named must answer, or the account's busy
    /// time is unknown.
    pub may_skip: bool,
}

/// The calendars detectConflicts reads: the target first, then the chosen
/// calendars, or (when the app chose none) every other event calendar of the
/// home; each once.
pub fn to_read(
    target: &Url,
    chosen: Option<&[Url]>,
    collections: &[CalendarCollection],
) -> Vec<ReadCalendar> {
    let mut read = vec![ReadCalendar {
        url: target.clone(),
        may_skip: false,
    }];
    let others: Vec<(&Url, bool)> = match chosen {
        Some(chosen) => chosen.iter().map(|url| (url, false)).collect(),
        None => collections
            .iter()
            .filter(|collection| collection.supports_events)
            .map(|collection| (&collection.url, true))
            .collect(),
    };
    for (url, may_skip) in others {
        if !read.iter().any(|calendar| same(&calendar.url, url)) {
            read.push(ReadCalendar {
                url: url.clone(),
                may_skip,
            });
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> Url {
        Url::parse("https://dav.example")
            .and_then(|base| base.join(path))
            .expect("valid url")
    }

    fn collection(path: &str, name: &str, events: bool) -> CalendarCollection {
        CalendarCollection {
            url: url(path),
            display_name: Some(name.to_owned()),
            supports_events: events,
            writable: true,
        }
    }

    fn home() -> Vec<CalendarCollection> {
        vec![
            collection("/u/work/", "Work", true),
            collection("/u/tasks/", "Tasks", false),
            collection("/u/family/", "Family", true),
        ]
    }

    fn shown(calendars: &[CalendarInfo]) -> Vec<(String, bool, bool)> {
        calendars
            .iter()
            .map(|c| {
                (
                    url(&c.id).path().to_owned(),
                    c.target,
                    c.checked_for_conflicts,
                )
            })
            .collect()
    }

    #[test]
    fn the_choice_is_an_array_of_strings() {
        let mut credentials = Credentials::default();
        assert_eq!(chosen(&credentials), Ok(None));
        credentials
            .0
            .insert(CONFLICT_CALENDARS.into(), serde_json::json!(["/u/work/"]));
        assert_eq!(chosen(&credentials), Ok(Some(vec!["/u/work/".to_owned()])));
        for wrong in [serde_json::json!("/u/work/"), serde_json::json!([1])] {
            credentials.0.insert(CONFLICT_CALENDARS.into(), wrong);
            let error = ProviderError::from(chosen(&credentials).expect_err("refused"));
            assert_eq!(error.kind, ProviderErrorKind::InvalidCredentials);
            assert!(error.message.starts_with("conflict_calendars:"), "{error}");
        }
    }

    #[test]
    fn entries_resolve_by_url_or_path_to_event_calendars_only() {
        let wanted = [
            "https://dav.example/u/family/".to_owned(),
            "/u/work".to_owned(),
            "/u/family/".to_owned(),
        ];
        assert_eq!(
            resolve(&wanted, &home()),
            Ok(vec![url("/u/family/"), url("/u/work/")])
        );
        let error = resolve(&["/u/tasks/".to_owned()], &home()).expect_err("not events");
        assert_eq!(
            error,
            ChoiceError::NoCalendarAt {
                wanted: "/u/tasks/".into(),
                available: vec![url("/u/work/").into(), url("/u/family/").into()],
            }
        );
        assert!(error.to_string().contains("\"/u/tasks/\""), "{error}");
        assert_eq!(resolve(&[], &home()), Ok(vec![]));
    }

    #[test]
    fn every_event_calendar_is_checked_unless_the_app_chose() {
        let target = url("/u/work/");
        assert_eq!(
            shown(&listing(&home(), &target, None)),
            [
                ("/u/work/".into(), true, true),
                ("/u/family/".into(), false, true)
            ]
        );
        assert_eq!(
            shown(&listing(&home(), &target, Some(&[]))),
            [
                ("/u/work/".into(), true, true),
                ("/u/family/".into(), false, false)
            ]
        );
        let names: Vec<_> = listing(&home(), &target, None)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, [Some("Work".into()), Some("Family".into())]);
    }

    #[test]
    fn a_target_or_choice_outside_the_home_is_listed_as_read() {
        let target = url("/shared/board/");
        let gone = url("/u/old/");
        assert_eq!(
            shown(&listing(&home(), &target, Some(&[gone]))),
            [
                ("/shared/board/".into(), true, true),
                ("/u/work/".into(), false, false),
                ("/u/family/".into(), false, false),
                ("/u/old/".into(), false, true),
            ]
        );
    }

    #[test]
    fn the_target_is_read_first_and_each_calendar_once() {
        let target = url("/u/family");
        let read = to_read(&target, None, &home());
        let paths: Vec<_> = read
            .iter()
            .map(|c| (c.url.path().to_owned(), c.may_skip))
            .collect();
        assert_eq!(
            paths,
            [("/u/family".into(), false), ("/u/work/".into(), true)]
        );
        let chosen = [url("/u/work/"), url("/u/family/")];
        let read = to_read(&target, Some(&chosen), &[]);
        let paths: Vec<_> = read
            .iter()
            .map(|c| (c.url.path().to_owned(), c.may_skip))
            .collect();
        assert_eq!(
            paths,
            [("/u/family".into(), false), ("/u/work/".into(), false)]
        );
    }
}
