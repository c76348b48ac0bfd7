//! Zoom's meeting resource and the translation from calsync's events.
//!
//! A meeting holds the event's title (`topic`), its start as local time in
//! the event's zone (`start_time` without `Z`, plus `timezone`) and its
//! length in minutes (`duration`; an all-day event lasts 1,440 minutes a day
//! from local midnight). An event with a recurrence becomes a recurring
//! meeting with no fixed time (type 3), so one join link serves every
//! occurrence. The host's `start_url` is a credential: it is never read
//! from an answer, so it can never reach a calendar.

use crate::model::{EventDetails, EventTime};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A scheduled meeting.
pub const SCHEDULED: u8 = 2;
/// A recurring meeting with no fixed time.
pub const RECURRING_NO_FIXED_TIME: u8 = 3;
/// The longest agenda Zoom takes.
pub const AGENDA_LIMIT: usize = 2000;
/// The longest topic Zoom takes.
pub const TOPIC_LIMIT: usize = 200;
/// What starts the line that carries the operation's idempotency key.
pub const MARKER_PREFIX: &str = "calsync:";

/// The marker line for an idempotency key.
///
/// It is the agenda's first line: a listing of a user's meetings cuts each
/// agenda short (to 250 characters, as observed), and the marker must survive that.
pub fn marker(key: &str) -> String {
    format!("{MARKER_PREFIX}{key}")
}

/// Whether `agenda` carries the marker of `key`.
pub fn has_marker(agenda: Option<&str>, key: &str) -> bool {
    let wanted = marker(key);
    agenda.is_some_and(|agenda| agenda.lines().any(|line| line.trim() == wanted))
}

/// The agenda of a new meeting: the marker, then as much of the event's
/// description as fits in Zoom's limit.
pub fn agenda(event: &EventDetails, key: &str) -> String {
    let mut agenda = marker(key);
    if let Some(description) = event
        .description
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
    {
        let room = AGENDA_LIMIT.saturating_sub(agenda.chars().count() + 1);
        if room > 0 {
            agenda.push('\n');
            agenda.extend(description.chars().take(room));
        }
    }
    agenda.chars().take(AGENDA_LIMIT).collect()
}

/// The event's zone: its IANA zone when Zoom can be told it, else UTC.
fn zone_of(event: &EventDetails) -> Tz {
    event
        .time_zone
        .as_deref()
        .and_then(|zone| zone.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}

/// The fields that place the meeting in time: `start_time`, `timezone`,
/// `duration` and `type`.
pub fn time_fields(event: &EventDetails) -> Map<String, Value> {
    let zone = zone_of(event);
    let (start, minutes) = match (&event.start, &event.end) {
        (EventTime::Instant(start), EventTime::Instant(end)) => {
            (local(*start, zone), minutes_between(*start, *end))
        }
        (EventTime::Date(start), EventTime::Date(end)) => {
            (midnight(*start), all_day_minutes(*start, *end))
        }
        // A mixed pair is refused before it reaches a provider; hold it to
        // a day from the start's local midnight rather than guess.
        (EventTime::Date(start), EventTime::Instant(_)) => (midnight(*start), 1440),
        (EventTime::Instant(start), EventTime::Date(_)) => (local(*start, zone), 1440),
    };
    let kind = if event.recurrence.is_empty() {
        SCHEDULED
    } else {
        RECURRING_NO_FIXED_TIME
    };
    let mut fields = Map::new();
    fields.insert("type".into(), json!(kind));
    fields.insert("start_time".into(), json!(start));
    fields.insert("timezone".into(), json!(zone.name()));
    fields.insert("duration".into(), json!(minutes));
    fields
}

/// The topic: the title, cut to Zoom's limit.
pub fn topic(event: &EventDetails) -> String {
    let title = event.title.trim();
    let title = if title.is_empty() { "Meeting" } else { title };
    title.chars().take(TOPIC_LIMIT).collect()
}

/// The body of `POST /users/{user}/meetings`.
pub fn create_body(event: &EventDetails, key: &str) -> Value {
    let mut body = time_fields(event);
    body.insert("topic".into(), json!(topic(event)));
    body.insert("agenda".into(), json!(agenda(event, key)));
    Value::Object(body)
}

/// The body of `PATCH /meetings/{id}`: the topic and the time (the agenda,
/// with its marker, stays as the create wrote it).
pub fn update_body(event: &EventDetails) -> Value {
    let mut body = time_fields(event);
    body.insert("topic".into(), json!(topic(event)));
    Value::Object(body)
}

fn local(instant: DateTime<Utc>, zone: Tz) -> String {
    instant
        .with_timezone(&zone)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn midnight(date: NaiveDate) -> String {
    format!("{}T00:00:00", date.format("%Y-%m-%d"))
}

/// Whole minutes from `start` to `end`, rounded up, at least one.
fn minutes_between(start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    let seconds = (end - start).num_seconds().max(60);
    (seconds + 59) / 60
}

/// 1,440 minutes for each day from `start` to `end` (exclusive), at least one day.
fn all_day_minutes(start: NaiveDate, end: NaiveDate) -> i64 {
    (end - start).num_days().max(1).saturating_mul(1440)
}

/// A meeting as Zoom answers it (create, get, list). `start_url` is left out on purpose.
#[derive(Debug, Deserialize)]
pub struct Meeting {
    /// Zoom's id: an int64 (some answers send it as a string).
    pub id: MeetingId,
    /// The link attendees join with.
    #[serde(default)]
    pub join_url: Option<String>,
    /// The agenda (cut short in listings).
    #[serde(default)]
    pub agenda: Option<String>,
}

/// A meeting id as a number or a string; kept as its decimal text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MeetingId {
    /// An int64.
    Number(i64),
    /// Text.
    Text(String),
}

impl MeetingId {
    /// The decimal text calsync keeps.
    pub fn text(&self) -> String {
        match self {
            MeetingId::Number(id) => id.to_string(),
            MeetingId::Text(id) => id.clone(),
        }
    }
}

/// One page of `GET /users/{user}/meetings`.
#[derive(Debug, Deserialize)]
pub struct MeetingPage {
    /// The page's meetings.
    #[serde(default)]
    pub meetings: Vec<Meeting>,
    /// The next page's token; empty or absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// A Zoom user as `GET /users/{user}` answers it.
#[derive(Debug, Deserialize)]
pub struct User {
    /// Zoom's user id.
    pub id: String,
    /// The user's address.
    #[serde(default)]
    pub email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, hour, minute, 0)
            .single()
            .expect("instant")
    }

    #[test]
    fn a_timed_event_is_local_time_in_its_zone_with_minutes() {
        let mut event = EventDetails::timed("Planning", at(9, 0), at(10, 30));
        event.time_zone = Some("Europe/Berlin".into());
        let body = create_body(&event, "op-1");
        assert_eq!(body["start_time"], "2030-03-04T10:00:00");
        assert_eq!(body["timezone"], "Europe/Berlin");
        assert_eq!(body["duration"], 90);
        assert_eq!(body["type"], 2);
        assert_eq!(body["topic"], "Planning");
        assert!(has_marker(body["agenda"].as_str(), "op-1"));
        assert!(!has_marker(body["agenda"].as_str(), "op-2"));
        assert!(body.get("start_url").is_none());
    }

    #[test]
    fn without_a_zone_the_meeting_is_in_utc_and_a_series_has_no_fixed_time() {
        let mut event = EventDetails::timed("Weekly", at(9, 0), at(9, 20));
        event.recurrence = vec!["RRULE:FREQ=WEEKLY".into()];
        let body = update_body(&event);
        assert_eq!(body["start_time"], "2030-03-04T09:00:00");
        assert_eq!(body["timezone"], "UTC");
        assert_eq!(body["duration"], 20);
        assert_eq!(body["type"], 3);
        assert!(body.get("agenda").is_none());
    }

    #[test]
    fn an_all_day_event_lasts_its_days_from_local_midnight() {
        let mut event = EventDetails::timed("Offsite", at(0, 0), at(0, 0));
        event.all_day = true;
        event.start = EventTime::Date(NaiveDate::from_ymd_opt(2030, 3, 4).expect("date"));
        event.end = EventTime::Date(NaiveDate::from_ymd_opt(2030, 3, 6).expect("date"));
        event.time_zone = Some("America/New_York".into());
        let body = update_body(&event);
        assert_eq!(body["start_time"], "2030-03-04T00:00:00");
        assert_eq!(body["timezone"], "America/New_York");
        assert_eq!(body["duration"], 2880);
    }

    #[test]
    fn the_agenda_keeps_the_marker_first_and_within_zooms_limit() {
        let mut event = EventDetails::timed("Planning", at(9, 0), at(10, 0));
        event.description = Some("x".repeat(5000));
        let text = agenda(&event, "op-1");
        assert_eq!(text.chars().count(), AGENDA_LIMIT);
        assert!(text.starts_with("calsync:op-1\n"));
        let short: String = text.chars().take(250).collect();
        assert!(has_marker(Some(&short), "op-1"));
    }

    #[test]
    fn meeting_ids_are_kept_as_decimal_text_and_start_urls_are_not_read() {
        let meeting: Meeting = serde_json::from_value(serde_json::json!({
            "id": 85746065432_i64, "join_url": "https://zoom.us/j/85746065432",
            "start_url": "https://zoom.us/s/85746065432?zak=secret"}))
        .expect("meeting");
        assert_eq!(meeting.id.text(), "85746065432");
        let text = format!("{meeting:?}");
        assert!(!text.contains("zak"), "{text}");
    }
}
