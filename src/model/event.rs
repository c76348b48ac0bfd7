//! The spec's `CommittableEvent` and `DraftEvent`, in the wire format of the design.

use crate::model::{DraftId, EventId};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// A rule that a piece of input broke: the field (a JSON path such as
/// `event.attendees[1].email`) and the rule, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct ValidationError {
    /// Where the bad value is.
    pub field: String,
    /// What the value must be.
    pub rule: String,
}

impl ValidationError {
    /// A rule broken by `field`.
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// The same error, with its field placed under `prefix` (`event` + `title` = `event.title`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

/// When an event starts or ends: an instant (timed events) or a date (all-day events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventTime {
    /// An instant, kept in UTC; the event's zone is kept beside it.
    Instant(DateTime<Utc>),
    /// A calendar date; for an end, exclusive.
    Date(NaiveDate),
}

/// A text that is neither an instant nor a date as [`EventTime::parse`] reads them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is neither an RFC 3339 date-time with an offset \
     (like 2025-01-07T14:00:00-05:00) nor a date (like 2025-01-07) \
     from {EARLIEST_DATE} to {LATEST_DATE}, in UTC"
)]
pub struct NotAnEventTime(pub String);

/// The most characters an event's `title` may hold.
pub const MAX_TITLE: usize = 1024;
/// The most characters an event's `location` may hold.
pub const MAX_LOCATION: usize = 1024;
/// The most characters an event's `description` may hold (Google Calendar's
/// own limit, the smallest among the providers).
pub const MAX_DESCRIPTION: usize = 8192;
/// The most attendees an event may list.
pub const MAX_ATTENDEES: usize = 300;
/// The most recurrence lines an event may hold.
pub const MAX_RECURRENCE_LINES: usize = 20;
/// The most bytes one recurrence line may hold.
pub const MAX_RECURRENCE_LINE: usize = 1024;
/// The most characters an id the app chooses (a user, a draft) may hold.
pub const MAX_ID: usize = 256;

/// The earliest date an event may start or end on (in UTC, for instants).
pub const EARLIEST_DATE: &str = "1900-01-01";
/// The latest date an event may start or end on (in UTC, for instants; an
/// instant may be midnight at its start, an exclusive end date that day).
pub const LATEST_DATE: &str = "3000-01-01";

/// Whether `date` is within [`EARLIEST_DATE`]..=[`LATEST_DATE`]: every
/// store, provider and format calsync writes to can hold it and give it back.
fn date_in_range(date: NaiveDate) -> bool {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1);
    let latest = NaiveDate::from_ymd_opt(3000, 1, 1);
    earliest.is_some_and(|earliest| date >= earliest) && latest.is_some_and(|latest| date <= latest)
}

impl EventTime {
    /// Parses an RFC 3339 instant with an offset, or a `YYYY-MM-DD` date.
    ///
    /// # Errors
    /// [`NotAnEventTime`]: the text is neither.
    pub fn parse(text: &str) -> Result<Self, NotAnEventTime> {
        let parsed = if text.len() == 10
            && let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        {
            EventTime::Date(date)
        } else {
            DateTime::parse_from_rfc3339(text)
                .map(|instant| EventTime::Instant(instant.with_timezone(&Utc)))
                .map_err(|_| NotAnEventTime(text.to_owned()))?
        };
        if !parsed.in_range() {
            return Err(NotAnEventTime(text.to_owned()));
        }
        Ok(parsed)
    }

    /// Whether it falls within 1900-01-01 to 3000-01-01 (an instant: by its
    /// UTC time, and midnight at most on the last day).
    pub fn in_range(&self) -> bool {
        match self {
            EventTime::Date(date) => date_in_range(*date),
            EventTime::Instant(instant) => {
                let midnight = |year| {
                    NaiveDate::from_ymd_opt(year, 1, 1)
                        .map(|date| date.and_time(chrono::NaiveTime::MIN).and_utc())
                };
                midnight(1900).is_some_and(|earliest| *instant >= earliest)
                    && midnight(3000).is_some_and(|latest| *instant <= latest)
            }
        }
    }

    /// The instant, when this is one.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        match self {
            EventTime::Instant(instant) => Some(*instant),
            EventTime::Date(_) => None,
        }
    }

    /// The date, when this is one.
    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            EventTime::Date(date) => Some(*date),
            EventTime::Instant(_) => None,
        }
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Whole seconds print without a fraction; a fraction is kept,
            // so that every instant read back is the one written.
            EventTime::Instant(instant) => {
                f.write_str(&instant.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            EventTime::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
        }
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EventTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl From<DateTime<Utc>> for EventTime {
    fn from(value: DateTime<Utc>) -> Self {
        EventTime::Instant(value)
    }
}

/// Whether an event makes its time busy (`busy`, the default) or not (`free`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transparency {
    /// The event blocks its time (iCalendar `TRANSP:OPAQUE`).
    #[default]
    Busy,
    /// The event does not block its time (iCalendar `TRANSP:TRANSPARENT`).
    Free,
}

/// A person invited to an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attendee {
    /// The attendee's email address.
    pub email: String,
    /// Whether the attendee is optional (required by default).
    #[serde(default)]
    pub optional: bool,
}

/// An event as the app hands it to calsync (the spec's `CommittableEvent`), and
/// the snapshot a synced event keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventDetails {
    /// The event's title.
    pub title: String,
    /// When it starts: an instant, or a date when `allDay`.
    pub start: EventTime,
    /// When it ends (exclusive): an instant, or a date when `allDay`.
    pub end: EventTime,
    /// The IANA zone the event lives in (required with `recurrence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Whether the event is all-day (then `start`/`end` are dates, end exclusive).
    #[serde(default)]
    pub all_day: bool,
    /// Where it takes place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// A longer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who is invited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    /// RFC 5545 lines (`RRULE:`, `RDATE:`, `EXDATE:`), without `DTSTART`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurrence: Vec<String>,
    /// Whether the event makes its time busy.
    #[serde(default)]
    pub transparency: Transparency,
    /// Ask for a video meeting link (Zoom).
    #[serde(default)]
    pub virtual_meeting: bool,
}

/// The names of the fields an update may change.
pub const EVENT_FIELDS: [&str; 11] = [
    "title",
    "start",
    "end",
    "timeZone",
    "allDay",
    "location",
    "description",
    "attendees",
    "recurrence",
    "transparency",
    "virtualMeeting",
];

impl EventDetails {
    /// A timed, busy event with only a title, a start and an end.
    pub fn timed(title: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        EventDetails {
            title: title.to_owned(),
            start: EventTime::Instant(start),
            end: EventTime::Instant(end),
            time_zone: None,
            all_day: false,
            location: None,
            description: None,
            attendees: Vec::new(),
            recurrence: Vec::new(),
            transparency: Transparency::Busy,
            virtual_meeting: false,
        }
    }

    /// Checks the spec's "event is validated": every field obeys its rule.
    ///
    /// # Errors
    /// The first broken rule, naming its field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.title.trim().is_empty() {
            return Err(ValidationError::new("title", "must not be empty"));
        }
        let texts = [
            ("title", Some(&self.title), MAX_TITLE),
            ("location", self.location.as_ref(), MAX_LOCATION),
            ("description", self.description.as_ref(), MAX_DESCRIPTION),
        ];
        for (field, text, max) in texts {
            if text.is_some_and(|text| text.chars().count() > max) {
                return Err(ValidationError::new(
                    field,
                    format!("must be at most {max} characters"),
                ));
            }
        }
        for (field, count, max) in [
            ("attendees", self.attendees.len(), MAX_ATTENDEES),
            ("recurrence", self.recurrence.len(), MAX_RECURRENCE_LINES),
        ] {
            if count > max {
                return Err(ValidationError::new(
                    field,
                    format!("must hold at most {max} entries, got {count}"),
                ));
            }
        }
        for (field, time) in [("start", &self.start), ("end", &self.end)] {
            if !time.in_range() {
                return Err(ValidationError::new(
                    field,
                    format!("must be from {EARLIEST_DATE} to {LATEST_DATE}, in UTC"),
                ));
            }
        }
        match (self.all_day, self.start, self.end) {
            (true, EventTime::Date(start), EventTime::Date(end)) => {
                if end <= start {
                    return Err(ValidationError::new(
                        "end",
                        "must be after start (the end date is exclusive)",
                    ));
                }
            }
            (true, _, _) => {
                return Err(ValidationError::new(
                    "start",
                    "an allDay event's start and end must be dates (YYYY-MM-DD)",
                ));
            }
            (false, EventTime::Instant(start), EventTime::Instant(end)) => {
                if end <= start {
                    return Err(ValidationError::new("end", "must be after start"));
                }
            }
            (false, _, _) => {
                return Err(ValidationError::new(
                    "start",
                    "a timed event's start and end must be RFC 3339 date-times with an offset; \
                     set allDay for dates",
                ));
            }
        }
        if let Some(zone) = &self.time_zone {
            super::zones::iana_zone("timeZone", zone)?;
        }
        if !self.recurrence.is_empty() && self.time_zone.is_none() && !self.all_day {
            return Err(ValidationError::new(
                "timeZone",
                "is required for a recurring event (the zone its rule expands in)",
            ));
        }
        for (index, line) in self.recurrence.iter().enumerate() {
            if line.len() > MAX_RECURRENCE_LINE {
                return Err(ValidationError::new(
                    format!("recurrence[{index}]"),
                    format!("must be at most {MAX_RECURRENCE_LINE} bytes"),
                ));
            }
            super::recurrence::validate_recurrence_line(line).map_err(|rule| {
                ValidationError::new(format!("recurrence[{index}]"), rule.to_string())
            })?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, attendee) in self.attendees.iter().enumerate() {
            let field = format!("attendees[{index}].email");
            if !is_plausible_email(&attendee.email) {
                return Err(ValidationError::new(
                    field,
                    format!("{:?} is not an email address", attendee.email),
                ));
            }
            if !seen.insert(attendee.email.to_ascii_lowercase()) {
                return Err(ValidationError::new(
                    field,
                    format!("{:?} is listed twice", attendee.email),
                ));
            }
        }
        Ok(())
    }

    /// The event with `changes` applied, and the names of the fields that changed.
    ///
    /// # Errors
    /// An unknown field name, a value of the wrong type, or a result that is not
    /// a valid event; the error names the field.
    pub fn apply_changes(
        &self,
        changes: &Map<String, Value>,
    ) -> Result<(EventDetails, Vec<String>), ValidationError> {
        if changes.is_empty() {
            return Err(ValidationError::new(
                "changes",
                "must change at least one field",
            ));
        }
        for name in changes.keys() {
            if !EVENT_FIELDS.contains(&name.as_str()) {
                return Err(ValidationError::new(
                    format!("changes.{name}"),
                    format!(
                        "is not a field of an event; the fields are {}",
                        EVENT_FIELDS.join(", ")
                    ),
                ));
            }
        }
        let mut object = match serde_json::to_value(self) {
            Ok(Value::Object(object)) => object,
            _ => {
                return Err(ValidationError::new(
                    "changes",
                    "the event could not be read",
                ));
            }
        };
        let mut changed = Vec::new();
        for (name, value) in changes {
            if object.get(name) != Some(value) {
                changed.push(name.clone());
            }
            if value.is_null() {
                object.remove(name);
            } else {
                object.insert(name.clone(), value.clone());
            }
        }
        let updated: EventDetails = from_json_field(Value::Object(object), "changes")?;
        updated.validate().map_err(|error| error.under("changes"))?;
        Ok((updated, changed))
    }
}

/// Deserializes `value`, turning a serde error into a [`ValidationError`] under `field`.
pub fn from_json_field<T: serde::de::DeserializeOwned>(
    value: Value,
    field: &str,
) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let detail = error.into_inner().to_string();
        // The same words for the same rule as in a request body: a missing
        // or unknown field is named in the path.
        let (inner, rule) = match named_field(&detail) {
            Some((named, rule)) if path == "." || path == named => (named, rule),
            Some((named, rule)) if path.ends_with(&format!(".{named}")) => (path, rule),
            Some((named, rule)) => (format!("{path}.{named}"), rule),
            None => (path, detail),
        };
        let at = match inner.as_str() {
            "." | "" => field.to_owned(),
            inner if inner.starts_with('[') => format!("{field}{inner}"),
            inner => format!("{field}.{inner}"),
        };
        ValidationError::new(at, rule)
    })
}

/// The field serde names in a "missing field" or "unknown field" message,
/// and the rule it breaks.
pub(crate) fn named_field(detail: &str) -> Option<(String, String)> {
    // A name that is not a plain identifier is quoted, so that it still
    // reads as one step of the path.
    let step = |field: &str| {
        let plain =
            !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            field.to_owned()
        } else {
            format!("{field:?}")
        }
    };
    if let Some(rest) = detail.strip_prefix("missing field `") {
        let (field, _) = rest.split_once('`')?;
        return Some((step(field), "is required".to_owned()));
    }
    let rest = detail.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let expected = expected.trim_start_matches(", ");
    Some((step(field), format!("is not a field here; {expected}")))
}

/// Characters that change the direction text is shown in, which let a
/// string look like another one.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn is_plausible_email(email: &str) -> bool {
    // RFC 5321's limit on a path; no control or direction-changing characters.
    if email.len() > 254 || email.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return false;
    }
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// Extra room a draft asks for around itself, in minutes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftConstraints {
    /// Free minutes wanted before the draft.
    #[serde(default)]
    pub buffer_before: u32,
    /// Free minutes wanted after the draft.
    #[serde(default)]
    pub buffer_after: u32,
    /// Minutes needed to travel to (before) and from (after) the draft.
    #[serde(default)]
    pub travel_time: u32,
}

/// An event not yet committed (the spec's `DraftEvent`): an event plus the app's
/// draft `id`, its `constraints`, and, when it reschedules a synced event, that
/// event's `eventId` (so the event never conflicts with itself).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftEvent {
    /// The app's id for this draft.
    pub id: DraftId,
    /// The synced event this draft reschedules, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    /// The event itself.
    #[serde(flatten)]
    pub event: EventDetails,
    /// Buffers and travel time.
    #[serde(default)]
    pub constraints: DraftConstraints,
}

impl DraftEvent {
    /// Checks the draft: its id and its event.
    ///
    /// # Errors
    /// The first broken rule, naming its field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        super::ids::check_id("id", self.id.as_str())?;
        const DAY: u32 = 24 * 60;
        for (field, minutes) in [
            ("constraints.bufferBefore", self.constraints.buffer_before),
            ("constraints.bufferAfter", self.constraints.buffer_after),
            ("constraints.travelTime", self.constraints.travel_time),
        ] {
            if minutes > DAY {
                return Err(ValidationError::new(field, "must be at most 1440 minutes"));
            }
        }
        self.event.validate()
    }
}

/// Reads `value` as a `T`; an error starts with the path of the field at
/// fault under `prefix` (`start: ...`, `constraints.bufferBefore: ...`), so
/// that the caller's own path joins it into the full one (`draft.start`).
fn from_value_at<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match path.as_str() {
            "." if prefix.is_empty() => inner.to_string(),
            "." => format!("{}: {inner}", prefix.trim_end_matches('.')),
            path => format!("{prefix}{path}: {inner}"),
        }
    })
}

// A draft is an event's fields plus `id`, `eventId` and `constraints`; serde's
// `flatten` cannot reject unknown fields, so the three are taken out by hand and
// the rest must be exactly an event.
impl<'de> Deserialize<'de> for DraftEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut object = Map::<String, Value>::deserialize(deserializer)?;
        let id = match object.remove("id") {
            Some(Value::String(id)) => DraftId(id),
            Some(_) => return Err(D::Error::custom("id: must be a string")),
            None => return Err(D::Error::missing_field("id")),
        };
        let event_id = match object.remove("eventId") {
            Some(Value::String(id)) => Some(EventId(id)),
            Some(Value::Null) | None => None,
            Some(_) => return Err(D::Error::custom("eventId: must be a string")),
        };
        let constraints = match object.remove("constraints") {
            Some(value) => from_value_at(value, "constraints.").map_err(D::Error::custom)?,
            None => DraftConstraints::default(),
        };
        let event = from_value_at(Value::Object(object), "").map_err(D::Error::custom)?;
        Ok(DraftEvent {
            id,
            event_id,
            event,
            constraints,
        })
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn times_are_read_within_the_documented_range_only() {
        for inside in [
            "1900-01-01",
            "3000-01-01",
            "1900-01-01T00:00:00Z",
            "2999-12-31T23:59:59Z",
            "3000-01-01T00:00:00Z",
            "2999-12-31T10:00:00-13:00",
        ] {
            assert!(EventTime::parse(inside).is_ok(), "{inside}");
        }
        for outside in [
            "1899-12-31",
            "3000-01-02",
            "9999-12-31T23:00:00-14:00",
            "3000-01-01T00:00:01Z",
            "1900-01-01T00:30:00+01:00",
        ] {
            assert!(EventTime::parse(outside).is_err(), "{outside}");
        }
    }

    #[test]
    fn an_event_made_in_code_outside_the_range_is_invalid() {
        let start = DateTime::<Utc>::MAX_UTC - chrono::Duration::hours(2);
        let event = EventDetails::timed("Far", start, start + chrono::Duration::hours(1));
        let error = event.validate().expect_err("out of range");
        assert_eq!(error.field, "start");
        assert!(error.rule.contains("3000-01-01"), "{error:?}");
    }
}
