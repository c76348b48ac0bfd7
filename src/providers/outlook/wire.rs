//! Graph's JSON (the `event` resource and its `dateTimeTimeZone`), and the
//! translation between it and calsync's events (PROVIDERS.md §2.2, §5).
//!
//! Times are written as Graph wants them: a `dateTime` without an offset,
//! the wall time in the event's zone, and that zone's Windows name (CLDR's
//! table). Answers are read whatever zone they come in: UTC unless asked,
//! or the zone of `Prefer: outlook.timezone`, a Windows or an IANA name.

use super::recurrence::{self, Unexpressible};
use crate::model::zones::resolve_zone;
use crate::model::{EventDetails, EventId, EventTime, Transparency};
use crate::schedule::{EventStatus, ProviderEvent};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use windows_timezones::WindowsTimezone;

/// The property set calsync's single-value extended properties live in.
pub const PROPERTY_SET: &str = "{d5b7a0c2-51f3-4c3e-9a43-63616c73796e}";
/// The single-value extended property that holds calsync's id of the event.
pub const SYNCED_ID_PROPERTY: &str = "String {d5b7a0c2-51f3-4c3e-9a43-63616c73796e} Name calsyncId";
/// The single-value extended property that holds the create's idempotency key.
pub const KEY_PROPERTY: &str = "String {d5b7a0c2-51f3-4c3e-9a43-63616c73796e} Name calsyncKey";

/// The Windows name Graph takes for the IANA zone `zone` (CLDR's table),
/// `None` when the table has none.
pub fn windows_zone(zone: Tz) -> Option<&'static str> {
    if matches!(zone, Tz::UTC | Tz::Etc__UTC | Tz::Etc__GMT | Tz::GMT) {
        return Some("UTC");
    }
    WindowsTimezone::try_from(zone)
        .ok()
        .map(WindowsTimezone::name)
}

/// The zone an event is written in: its own, or UTC.
fn zone_of(event: &EventDetails) -> Tz {
    event
        .time_zone
        .as_deref()
        .and_then(resolve_zone)
        .unwrap_or(Tz::UTC)
}

/// The zone name Graph is sent, and the zone wall times are written in:
/// the event's Windows name, or UTC for a zone CLDR does not map.
fn written_zone(event: &EventDetails) -> (Tz, &'static str) {
    let zone = zone_of(event);
    match windows_zone(zone) {
        Some(name) => (zone, name),
        None => (Tz::UTC, "UTC"),
    }
}

/// A `dateTimeTimeZone`: the wall time in `zone`, no offset, and its name.
fn graph_time(time: &EventTime, zone: Tz, name: &str) -> Value {
    let wall = match time {
        // All-day: midnight to midnight in the event's zone.
        EventTime::Date(date) => date.and_hms_opt(0, 0, 0).unwrap_or_default(),
        EventTime::Instant(instant) => instant.with_timezone(&zone).naive_local(),
    };
    json!({ "dateTime": wall.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": name })
}

/// The first date of the event in its zone (where a series' range starts).
fn start_date(event: &EventDetails, zone: Tz) -> NaiveDate {
    match event.start {
        EventTime::Date(date) => date,
        EventTime::Instant(instant) => instant.with_timezone(&zone).date_naive(),
    }
}

/// Whether a copy writes the attendees: Graph mails every attendee of an
/// event saved in the organizer's calendar, so only the copy that invites
/// carries them.
fn carries_attendees(invite: bool) -> bool {
    invite
}

/// The JSON of calsync's `fields` of `event` (Graph's names), for a create
/// (every field) or a PATCH (the changed ones).
///
/// # Errors
/// A recurrence Graph cannot express.
pub fn event_fields(
    event: &EventDetails,
    fields: &[&str],
    invite: bool,
) -> Result<Map<String, Value>, Unexpressible> {
    let (zone, name) = written_zone(event);
    let mut body = Map::new();
    let has = |field: &str| fields.contains(&field);
    if has("title") {
        body.insert("subject".into(), json!(event.title));
    }
    let times = ["start", "end", "timeZone", "allDay"]
        .iter()
        .any(|field| has(field));
    // Graph checks start against end, and a zone change moves both.
    if times {
        body.insert("start".into(), graph_time(&event.start, zone, name));
        body.insert("end".into(), graph_time(&event.end, zone, name));
        body.insert("isAllDay".into(), json!(event.all_day));
    }
    if has("location") {
        body.insert(
            "location".into(),
            json!({ "displayName": event.location.clone().unwrap_or_default() }),
        );
    }
    if has("description") {
        body.insert(
            "body".into(),
            json!({ "contentType": "text", "content": event.description.clone().unwrap_or_default() }),
        );
    }
    if has("attendees") && carries_attendees(invite) {
        let attendees: Vec<Value> = event
            .attendees
            .iter()
            .map(|attendee| {
                json!({ "emailAddress": { "address": attendee.email },
                    "type": if attendee.optional { "optional" } else { "required" } })
            })
            .collect();
        body.insert("attendees".into(), Value::Array(attendees));
    }
    // A series' range starts on its first date, in its zone.
    if has("recurrence") || (times && !event.recurrence.is_empty()) {
        let pattern = recurrence::to_graph(&event.recurrence, start_date(event, zone), zone, name)?;
        body.insert("recurrence".into(), pattern.unwrap_or(Value::Null));
    }
    if has("transparency") {
        let show_as = match event.transparency {
            Transparency::Busy => "busy",
            Transparency::Free => "free",
        };
        body.insert("showAs".into(), json!(show_as));
    }
    Ok(body)
}

/// The body of a create: every field, the `transactionId` Graph drops a
/// repeated create by, and calsync's id and key as extended properties.
///
/// # Errors
/// As [`event_fields`].
pub fn create_body(
    event: &EventDetails,
    synced_id: &EventId,
    key: &str,
    invite: bool,
) -> Result<Value, Unexpressible> {
    let mut body = event_fields(event, &crate::model::EVENT_FIELDS, invite)?;
    if body.get("recurrence").is_some_and(Value::is_null) {
        body.remove("recurrence");
    }
    body.insert("transactionId".into(), json!(transaction_id(key)));
    body.insert(
        "singleValueExtendedProperties".into(),
        json!([
            { "id": SYNCED_ID_PROPERTY, "value": synced_id.as_str() },
            { "id": KEY_PROPERTY, "value": key },
        ]),
    );
    Ok(Value::Object(body))
}

/// The `transactionId` for an idempotency key: the key's SHA-256 as a
/// UUID-shaped string, so a retried create carries the same one.
pub fn transaction_id(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A `dateTimeTimeZone` as Graph answers it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphTime {
    /// The wall time, no offset (`2030-03-04T09:00:00.0000000`).
    #[serde(default)]
    pub date_time: String,
    /// Its zone: `UTC`, a Windows name or an IANA name.
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl GraphTime {
    fn wall(&self) -> Option<NaiveDateTime> {
        let text = self.date_time.trim();
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
            .ok()
    }

    /// The instant: the wall time read in its zone (an offset, if Graph
    /// ever sends one, wins).
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        if let Ok(instant) = DateTime::parse_from_rfc3339(self.date_time.trim()) {
            return Some(instant.with_timezone(&Utc));
        }
        let wall = self.wall()?;
        let zone = match self.time_zone.as_deref() {
            None | Some("") => Tz::UTC,
            Some(name) => resolve_zone(name)?,
        };
        zone.from_local_datetime(&wall)
            .earliest()
            .map(|local| local.with_timezone(&Utc))
    }

    /// The date of an all-day event's boundary (its wall date: all-day
    /// events float, midnight to midnight in the event's zone).
    pub fn date(&self) -> Option<NaiveDate> {
        self.wall().map(|wall| wall.date())
    }
}

/// An extended property as Graph answers it.
#[derive(Clone, Debug, Deserialize)]
pub struct Property {
    /// Its id (`String {guid} Name name`).
    pub id: String,
    /// Its value.
    #[serde(default)]
    pub value: Option<String>,
}

/// The parts of Graph's `event` resource calsync reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphEvent {
    /// The event's id (opaque, case-sensitive).
    pub id: String,
    /// Its ETag (`W/"..."`).
    #[serde(default, rename = "@odata.etag")]
    pub etag: Option<String>,
    /// The title.
    #[serde(default)]
    pub subject: Option<String>,
    /// Start.
    #[serde(default)]
    pub start: Option<GraphTime>,
    /// End (exclusive).
    #[serde(default)]
    pub end: Option<GraphTime>,
    /// Whether it is all-day.
    #[serde(default)]
    pub is_all_day: bool,
    /// Whether the organizer cancelled it.
    #[serde(default)]
    pub is_cancelled: bool,
    /// `free`, `tentative`, `busy`, `oof`, `workingElsewhere`, `unknown`.
    #[serde(default)]
    pub show_as: Option<String>,
    /// The zone the organizer made it in.
    #[serde(default)]
    pub original_start_time_zone: Option<String>,
    /// The account's answer to the invitation.
    #[serde(default)]
    pub response_status: Option<ResponseStatus>,
    /// calsync's properties, when asked for with `$expand`.
    #[serde(default)]
    pub single_value_extended_properties: Vec<Property>,
}

/// `responseStatus`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ResponseStatus {
    /// `none`, `organizer`, `tentativelyAccepted`, `accepted`, `declined`, `notResponded`.
    #[serde(default)]
    pub response: Option<String>,
}

impl GraphEvent {
    /// One of calsync's extended properties, when set.
    pub fn property(&self, id: &str) -> Option<&str> {
        self.single_value_extended_properties
            .iter()
            .find(|property| property.id.eq_ignore_ascii_case(id))
            .and_then(|property| property.value.as_deref())
    }

    /// The event for the scheduling engine, as `calendarView` lists it (one
    /// item per occurrence, expanded by Graph); `None` for an item without
    /// readable times.
    ///
    /// `showAs` `busy`, `tentative` and `oof` are busy; `free` and
    /// `workingElsewhere` are free.
    pub fn provider_event(&self) -> Option<ProviderEvent> {
        let (start, end) = (self.start.as_ref()?, self.end.as_ref()?);
        let (start, end) = if self.is_all_day {
            (EventTime::Date(start.date()?), EventTime::Date(end.date()?))
        } else {
            (
                EventTime::Instant(start.instant()?),
                EventTime::Instant(end.instant()?),
            )
        };
        let free = matches!(self.show_as.as_deref(), Some("free" | "workingElsewhere"));
        let zone = self
            .original_start_time_zone
            .as_deref()
            .and_then(resolve_zone)
            .map(|zone| zone.name().to_owned());
        Some(ProviderEvent {
            event_id: self.id.clone(),
            // Occurrences each have their own id; none is a series here.
            uid: Some(self.id.clone()),
            title: self.subject.clone().unwrap_or_default(),
            start,
            end,
            time_zone: zone,
            transparency: if free {
                Transparency::Free
            } else {
                Transparency::Busy
            },
            status: if self.is_cancelled {
                EventStatus::Cancelled
            } else {
                EventStatus::Confirmed
            },
            declined: self
                .response_status
                .as_ref()
                .and_then(|status| status.response.as_deref())
                == Some("declined"),
            recurrence: Vec::new(),
            recurrence_id: None,
            this_and_future: false,
            synced_id: self.property(SYNCED_ID_PROPERTY).map(EventId::from),
        })
    }
}

/// One page of a Graph collection.
#[derive(Clone, Debug, Deserialize)]
pub struct Page<T> {
    /// The page's items.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The whole URL of the next page, while more follow.
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

/// A calendar of the mailbox.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphCalendar {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether it is the mailbox's default calendar.
    #[serde(default)]
    pub is_default_calendar: bool,
    /// Who owns it.
    #[serde(default)]
    pub owner: Option<Owner>,
}

/// A calendar's owner.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Owner {
    /// The owner's address.
    #[serde(default)]
    pub address: Option<String>,
}

impl GraphCalendar {
    /// The owner's address.
    pub fn owner_address(&self) -> Option<&str> {
        self.owner
            .as_ref()
            .and_then(|owner| owner.address.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, hour, 0, 0).unwrap()
    }

    #[test]
    fn timed_events_are_wall_times_without_offset_and_a_windows_zone() {
        let mut event = EventDetails::timed("Plan", at(9), at(10));
        event.time_zone = Some("Europe/Berlin".into());
        let body = event_fields(&event, &["start"], false).unwrap();
        assert_eq!(
            body["start"],
            json!({"dateTime": "2030-03-04T10:00:00", "timeZone": "W. Europe Standard Time"})
        );
        assert_eq!(body["isAllDay"], false);
        assert!(!body.contains_key("subject"));
        let plain = EventDetails::timed("Plan", at(9), at(10));
        let body = event_fields(&plain, &["end"], false).unwrap();
        assert_eq!(
            body["end"],
            json!({"dateTime": "2030-03-04T10:00:00", "timeZone": "UTC"})
        );
    }

    #[test]
    fn answers_are_read_in_whatever_zone_they_come() {
        let utc = GraphTime {
            date_time: "2030-03-04T09:00:00.0000000".into(),
            time_zone: Some("UTC".into()),
        };
        let eastern = GraphTime {
            date_time: "2030-03-04T04:00:00.0000000".into(),
            time_zone: Some("Eastern Standard Time".into()),
        };
        let iana = GraphTime {
            date_time: "2030-03-04T18:00:00".into(),
            time_zone: Some("Asia/Tokyo".into()),
        };
        for time in [utc, eastern, iana] {
            assert_eq!(time.instant(), Some(at(9)), "{time:?}");
        }
    }

    #[test]
    fn show_as_decides_busy_and_declined_and_cancelled_are_kept_as_such() {
        let event = |show_as: &str| -> GraphEvent {
            serde_json::from_value(json!({"id": "AAMk=", "subject": "x", "showAs": show_as,
                "start": {"dateTime": "2030-03-04T09:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2030-03-04T10:00:00.0000000", "timeZone": "UTC"}}))
            .unwrap()
        };
        for (show_as, busy) in [
            ("busy", true),
            ("tentative", true),
            ("oof", true),
            ("free", false),
            ("workingElsewhere", false),
        ] {
            let read = event(show_as).provider_event().unwrap();
            assert_eq!(read.transparency == Transparency::Busy, busy, "{show_as}");
        }
    }

    #[test]
    fn zones_map_to_windows_names_through_cldr() {
        assert_eq!(
            windows_zone(Tz::America__New_York),
            Some("Eastern Standard Time")
        );
        assert_eq!(windows_zone(Tz::Asia__Tokyo), Some("Tokyo Standard Time"));
        assert_eq!(windows_zone(Tz::UTC), Some("UTC"));
        assert_eq!(transaction_id("op-1"), transaction_id("op-1"));
        assert_ne!(transaction_id("op-1"), transaction_id("op-2"));
    }
}
