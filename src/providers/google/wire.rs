//! Google Calendar's JSON (the `Event` resource and its `EventDateTime`),
//! and the translation between it and calsync's events.
//!
//! Google answers times in the calendar's zone unless asked otherwise, so an
//! answer's `dateTime` is read with whatever offset it carries, never
//! assumed to be UTC.

use crate::model::{EventDetails, EventId, EventTime, Transparency};
use crate::schedule::{EventStatus, ProviderEvent};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The private extended property that holds calsync's id of the event.
pub const SYNCED_ID_PROPERTY: &str = "calsyncId";
/// The private extended property that holds the create's idempotency key.
pub const KEY_PROPERTY: &str = "calsyncKey";

/// `EventDateTime`: a date (all-day) or a date-time with its zone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleTime {
    /// `yyyy-mm-dd`, for all-day events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// RFC 3339, with an offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    /// The IANA zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl GoogleTime {
    /// The time as calsync holds it.
    pub fn event_time(&self) -> Option<EventTime> {
        if let Some(date) = &self.date {
            return NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()
                .map(EventTime::Date);
        }
        let text = self.date_time.as_deref()?;
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|instant| EventTime::Instant(instant.with_timezone(&Utc)))
    }
}

/// An attendee as Google lists it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleAttendee {
    /// Whether this attendee is the calendar's owner.
    #[serde(default, rename = "self")]
    pub is_self: bool,
    /// `needsAction`, `declined`, `tentative`, `accepted`.
    #[serde(default)]
    pub response_status: Option<String>,
}

/// The parts of Google's `Event` resource calsync reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleEvent {
    /// The event's id.
    pub id: String,
    /// Its ETag.
    #[serde(default)]
    pub etag: Option<String>,
    /// `confirmed`, `tentative` or `cancelled`.
    #[serde(default)]
    pub status: Option<String>,
    /// Shared by a series and its instances.
    #[serde(default, rename = "iCalUID")]
    pub ical_uid: Option<String>,
    /// The title.
    #[serde(default)]
    pub summary: Option<String>,
    /// Start (absent on cancelled stubs).
    #[serde(default)]
    pub start: Option<GoogleTime>,
    /// End (exclusive).
    #[serde(default)]
    pub end: Option<GoogleTime>,
    /// `opaque` (default) or `transparent`.
    #[serde(default)]
    pub transparency: Option<String>,
    /// RFC 5545 lines.
    #[serde(default)]
    pub recurrence: Vec<String>,
    /// For an instance of a series: the series' id.
    #[serde(default)]
    pub recurring_event_id: Option<String>,
    /// For an instance: when it would have started.
    #[serde(default)]
    pub original_start_time: Option<GoogleTime>,
    /// Who is invited.
    #[serde(default)]
    pub attendees: Vec<GoogleAttendee>,
    /// `{"private": {...}, "shared": {...}}`.
    #[serde(default)]
    pub extended_properties: Option<ExtendedProperties>,
}

/// `extendedProperties`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ExtendedProperties {
    /// Visible only to this app.
    #[serde(default)]
    pub private: Map<String, Value>,
}

impl GoogleEvent {
    /// A private extended property, when set.
    pub fn private_property(&self, name: &str) -> Option<&str> {
        self.extended_properties
            .as_ref()
            .and_then(|properties| properties.private.get(name))
            .and_then(Value::as_str)
    }

    /// Whether the event was deleted (or the instance cancelled).
    pub fn is_cancelled(&self) -> bool {
        self.status.as_deref() == Some("cancelled")
    }

    /// The event for the scheduling engine; `None` for a deleted single
    /// event (a stub with no time that names no instance).
    pub fn provider_event(&self, calendar_zone: Option<&str>) -> Option<ProviderEvent> {
        let recurrence_id = self
            .original_start_time
            .as_ref()
            .and_then(GoogleTime::event_time);
        let (start, end) = match (
            self.start.as_ref().and_then(GoogleTime::event_time),
            self.end.as_ref().and_then(GoogleTime::event_time),
        ) {
            (Some(start), Some(end)) => (start, end),
            // Cancelled instances come as sparse stubs: only the instance
            // they cancel is known.
            _ => (recurrence_id?, recurrence_id?),
        };
        let zone = self
            .start
            .as_ref()
            .and_then(|time| time.time_zone.clone())
            .or_else(|| calendar_zone.map(str::to_owned));
        let status = match self.status.as_deref() {
            Some("cancelled") => EventStatus::Cancelled,
            Some("tentative") => EventStatus::Tentative,
            _ => EventStatus::Confirmed,
        };
        Some(ProviderEvent {
            event_id: self.id.clone(),
            uid: self.ical_uid.clone().or_else(|| {
                // Instances of one series share their master's iCalUID; an
                // answer without one still ties them by the series id.
                Some(
                    self.recurring_event_id
                        .clone()
                        .unwrap_or_else(|| self.id.clone()),
                )
            }),
            title: self.summary.clone().unwrap_or_default(),
            start,
            end,
            time_zone: zone,
            transparency: if self.transparency.as_deref() == Some("transparent") {
                Transparency::Free
            } else {
                Transparency::Busy
            },
            status,
            declined: self.attendees.iter().any(|attendee| {
                attendee.is_self && attendee.response_status.as_deref() == Some("declined")
            }),
            recurrence: self.recurrence.clone(),
            recurrence_id,
            // Google splits a series instead of moving its later instances.
            this_and_future: false,
            synced_id: self.private_property(SYNCED_ID_PROPERTY).map(EventId::from),
        })
    }
}

/// One page of `events.list` or `calendarList.list`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The page's items.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    /// Present while more pages follow (an empty page may still have one).
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// The calendar's zone (events.list).
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// An entry of the user's calendar list.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEntry {
    /// The calendar's id.
    pub id: String,
    /// Whether the user shows it (absent means no).
    #[serde(default)]
    pub selected: bool,
    /// Whether the user hid it from the list.
    #[serde(default)]
    pub hidden: bool,
    /// Whether it is the user's main calendar.
    #[serde(default)]
    pub primary: bool,
    /// Its name.
    #[serde(default)]
    pub summary: Option<String>,
}

/// A time as Google takes it: dates for all-day events; otherwise the
/// instant in the event's zone with its offset, and the zone's name.
fn google_time(time: &EventTime, zone: &str) -> Value {
    match time {
        EventTime::Date(date) => json!({ "date": date.format("%Y-%m-%d").to_string() }),
        EventTime::Instant(instant) => {
            let local = match zone.parse::<chrono_tz::Tz>() {
                Ok(tz) => instant
                    .with_timezone(&tz)
                    .to_rfc3339_opts(SecondsFormat::Secs, false),
                Err(_) => instant.to_rfc3339_opts(SecondsFormat::Secs, true),
            };
            json!({ "dateTime": local, "timeZone": zone })
        }
    }
}

/// The JSON of calsync's `fields` of `event` (Google's names), for an
/// insert (every field) or a PATCH (the changed ones; `null` clears).
pub fn event_fields(event: &EventDetails, fields: &[&str]) -> Map<String, Value> {
    let zone = event.time_zone.as_deref().unwrap_or("UTC");
    let mut body = Map::new();
    let has = |name: &str| fields.contains(&name);
    if has("title") {
        body.insert("summary".into(), Value::String(event.title.clone()));
    }
    // Google checks start against end, and a zone change moves both.
    if ["start", "end", "timeZone", "allDay"]
        .iter()
        .any(|name| has(name))
    {
        body.insert("start".into(), google_time(&event.start, zone));
        body.insert("end".into(), google_time(&event.end, zone));
    }
    if has("location") {
        body.insert("location".into(), json!(event.location));
    }
    if has("description") {
        body.insert("description".into(), json!(event.description));
    }
    if has("attendees") {
        let attendees: Vec<Value> = event
            .attendees
            .iter()
            .map(|attendee| json!({ "email": attendee.email, "optional": attendee.optional }))
            .collect();
        body.insert("attendees".into(), Value::Array(attendees));
    }
    if has("recurrence") {
        body.insert("recurrence".into(), json!(event.recurrence));
    }
    if has("transparency") {
        let value = match event.transparency {
            Transparency::Busy => "opaque",
            Transparency::Free => "transparent",
        };
        body.insert("transparency".into(), Value::String(value.into()));
    }
    body
}

/// The body of an insert: every field, the client-chosen id, and calsync's
/// own keys in private extended properties.
pub fn insert_body(event: &EventDetails, id: &str, synced_id: &EventId, key: &str) -> Value {
    let mut body = event_fields(event, &crate::model::EVENT_FIELDS);
    body.insert("id".into(), Value::String(id.to_owned()));
    body.insert(
        "extendedProperties".into(),
        json!({ "private": { SYNCED_ID_PROPERTY: synced_id.as_str(), KEY_PROPERTY: key } }),
    );
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timed_events_carry_their_zone_and_local_offset() {
        let start = Utc.with_ymd_and_hms(2030, 3, 4, 9, 0, 0).unwrap();
        let mut event = EventDetails::timed("Plan", start, start + chrono::Duration::hours(1));
        event.time_zone = Some("Europe/Berlin".into());
        let body = event_fields(&event, &["start"]);
        assert_eq!(
            body["start"],
            json!({"dateTime": "2030-03-04T10:00:00+01:00", "timeZone": "Europe/Berlin"})
        );
        assert!(body.contains_key("end"));
        assert!(!body.contains_key("summary"));
    }

    #[test]
    fn answers_are_read_in_whatever_zone_they_come() {
        let time = GoogleTime {
            date_time: Some("2030-03-04T04:00:00-05:00".into()),
            time_zone: Some("America/New_York".into()),
            date: None,
        };
        assert_eq!(
            time.event_time(),
            Some(EventTime::Instant(
                Utc.with_ymd_and_hms(2030, 3, 4, 9, 0, 0).unwrap()
            ))
        );
    }

    #[test]
    fn cancelled_stubs_name_the_instance_they_cancel() {
        let stub: GoogleEvent = serde_json::from_value(json!({
            "id": "abc_20300304T090000Z", "status": "cancelled",
            "recurringEventId": "abc",
            "originalStartTime": {"dateTime": "2030-03-04T10:00:00+01:00"}
        }))
        .unwrap();
        let event = stub.provider_event(Some("Europe/Berlin")).expect("kept");
        assert_eq!(event.status, EventStatus::Cancelled);
        assert_eq!(event.uid.as_deref(), Some("abc"));
        assert!(event.recurrence_id.is_some());
        let deleted: GoogleEvent =
            serde_json::from_value(json!({"id": "x", "status": "cancelled"})).unwrap();
        assert!(deleted.provider_event(None).is_none());
    }
}
