//! iCalendar out: the object calsync PUTs for an event, and the merge of
//! calsync's changed fields onto a server's copy (which keeps every property
//! and component calsync does not own). Text is written by
//! [`serialize`](super::serialize), so that no component gains a `UID` or
//! `DTSTAMP` it does not have.

use super::{serialize, timezone};
use crate::model::{EventDetails, EventId, EventTime, Transparency};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, CalendarComponent, Component, Event, EventLike, Property};

/// Why calsync cannot write an event as iCalendar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IcalError {
    /// The server's copy of the event cannot be read.
    #[error("the server's copy is not iCalendar: {0}")]
    NotICalendar(String),
    /// The server's copy holds no series master (a `VEVENT` without `RECURRENCE-ID`).
    #[error("the server's copy has no VEVENT")]
    NoEvent,
    /// The event's zone is not an IANA name.
    #[error("timeZone: {0:?} is not an IANA time zone name")]
    UnknownZone(String),
    /// A recurrence line that is not an iCalendar content line.
    #[error("recurrence: {line:?} is not an iCalendar line: {reason}")]
    BadRecurrenceLine {
        /// The line.
        line: String,
        /// What the parser found wrong.
        reason: String,
    },
    /// The calendar cannot be written as text.
    #[error(transparent)]
    Write(#[from] serialize::WriteError),
}

/// The property that carries calsync's id for the event.
pub const SYNCED_ID: &str = "X-CALSYNC-ID";
const PRODID: &str = "-//calsync//calsync//EN";

/// The event's fields and the iCalendar properties each one owns.
const TIME_FIELDS: [&str; 4] = ["start", "end", "timeZone", "allDay"];

/// The iCalendar object for a new event. Properties whose value would be
/// RFC 5545's default are left out (`SEQUENCE:0`, `TRANSP:OPAQUE`): servers
/// parse every line of every write, and the first update writes
/// `SEQUENCE:1`.
pub fn render(
    event: &EventDetails,
    uid: &str,
    synced_id: &EventId,
    now: DateTime<Utc>,
) -> Result<String, IcalError> {
    let mut vevent = Event::new();
    vevent.uid(uid);
    apply(&mut vevent, event, &all_fields())?;
    stamp(&mut vevent, synced_id, now);
    let mut calendar = Calendar::empty();
    calendar.append_property(Property::new("VERSION", "2.0"));
    calendar.append_property(Property::new("PRODID", PRODID));
    if let Some(zone) = zone_of(event)? {
        calendar.push(timezone::vtimezone(zone, year_of(event)));
    }
    calendar.push(vevent);
    Ok(serialize::calendar_text(&calendar)?)
}

/// The server's copy `server` with calsync's `changed` fields of `event`
/// written onto its series master; SEQUENCE goes up by one.
pub fn merge(
    server: &str,
    event: &EventDetails,
    changed: &[String],
    synced_id: &EventId,
    now: DateTime<Utc>,
) -> Result<String, IcalError> {
    let mut calendar = server
        .parse::<Calendar>()
        .map_err(|error| IcalError::NotICalendar(error.to_string()))?;
    let fields: Vec<&str> = changed.iter().map(String::as_str).collect();
    let master = calendar
        .components
        .iter_mut()
        .find_map(|component| match component {
            CalendarComponent::Event(vevent) if vevent.get_recurrence_id().is_none() => {
                Some(vevent)
            }
            _ => None,
        })
        .ok_or(IcalError::NoEvent)?;
    apply(master, event, &fields)?;
    let sequence = master.get_sequence().unwrap_or(0);
    master.sequence(sequence.saturating_add(1));
    master.last_modified(now);
    stamp(master, synced_id, now);
    let needs_zone = fields.iter().any(|field| TIME_FIELDS.contains(field));
    if let (true, Some(zone)) = (needs_zone, zone_of(event)?) {
        let present = calendar.components.iter().any(|component| {
            matches!(component, CalendarComponent::Other(other)
                if other.component_kind() == "VTIMEZONE"
                    && other.property_value("TZID") == Some(zone.name()))
        });
        if !present {
            calendar
                .components
                .insert(0, timezone::vtimezone(zone, year_of(event)));
        }
    }
    if calendar.property_value("PRODID").is_none() {
        calendar.append_property(Property::new("PRODID", PRODID));
    }
    Ok(serialize::calendar_text(&calendar)?)
}

fn all_fields() -> Vec<&'static str> {
    crate::model::EVENT_FIELDS.to_vec()
}

fn stamp(vevent: &mut Event, synced_id: &EventId, now: DateTime<Utc>) {
    vevent.timestamp(now);
    vevent.add_property(SYNCED_ID, synced_id.as_str());
}

fn zone_of(event: &EventDetails) -> Result<Option<Tz>, IcalError> {
    match (&event.time_zone, event.all_day) {
        (Some(name), false) => name
            .parse::<Tz>()
            .map(Some)
            .map_err(|_| IcalError::UnknownZone(name.clone())),
        _ => Ok(None),
    }
}

fn year_of(event: &EventDetails) -> i32 {
    match event.start {
        EventTime::Instant(instant) => instant.year(),
        EventTime::Date(date) => date.year(),
    }
}

/// Writes the properties owned by `fields` from `event` onto `vevent`.
fn apply(vevent: &mut Event, event: &EventDetails, fields: &[&str]) -> Result<(), IcalError> {
    let has = |name: &str| fields.contains(&name);
    if has("title") {
        vevent.summary(&event.title);
    }
    if TIME_FIELDS.iter().any(|field| has(field)) {
        let zone = zone_of(event)?;
        vevent.remove_property("DURATION");
        vevent.append_property(time_property("DTSTART", event.start, zone));
        vevent.append_property(time_property("DTEND", event.end, zone));
    }
    if has("location") {
        match &event.location {
            Some(location) => vevent.location(location),
            None => vevent.remove_property("LOCATION"),
        };
    }
    if has("description") {
        match &event.description {
            Some(description) => vevent.description(description),
            None => vevent.remove_description(),
        };
    }
    if has("transparency") {
        match event.transparency {
            Transparency::Free => {
                vevent.add_property("TRANSP", "TRANSPARENT");
            }
            // OPAQUE is the default: written only over a value already there.
            Transparency::Busy if vevent.property_value("TRANSP").is_some() => {
                vevent.add_property("TRANSP", "OPAQUE");
            }
            Transparency::Busy => {}
        }
    }
    if has("attendees") {
        write_attendees(vevent, event);
    }
    if has("recurrence") {
        for name in ["RRULE", "RDATE", "EXDATE", "EXRULE"] {
            vevent.remove_property(name);
            vevent.remove_multi_property(name);
        }
        for line in &event.recurrence {
            let property =
                line.parse::<Property>()
                    .map_err(|error| IcalError::BadRecurrenceLine {
                        line: line.clone(),
                        reason: error.to_string(),
                    })?;
            if property.key() == "RRULE" {
                vevent.append_property(property);
            } else {
                vevent.append_multi_property(property);
            }
        }
    }
    Ok(())
}

/// Replaces the attendees, keeping what the server knew of those that stay
/// (their reply, their name).
fn write_attendees(vevent: &mut Event, event: &EventDetails) {
    let existing: Vec<Property> = vevent
        .multi_properties()
        .get("ATTENDEE")
        .cloned()
        .unwrap_or_default();
    vevent.remove_multi_property("ATTENDEE");
    for attendee in &event.attendees {
        let address = format!("mailto:{}", attendee.email);
        let mut property = existing
            .iter()
            .find(|old| old.value().eq_ignore_ascii_case(&address))
            .cloned()
            .unwrap_or_else(|| {
                let mut fresh = Property::new("ATTENDEE", address.as_str());
                fresh.add_parameter("PARTSTAT", "NEEDS-ACTION");
                fresh
            });
        let role = if attendee.optional {
            "OPT-PARTICIPANT"
        } else {
            "REQ-PARTICIPANT"
        };
        property.add_parameter("ROLE", role);
        vevent.append_multi_property(property);
    }
}

/// `DTSTART`/`DTEND`: a DATE, a local time with TZID, or UTC.
fn time_property(name: &str, time: EventTime, zone: Option<Tz>) -> Property {
    match (time, zone) {
        (EventTime::Date(date), _) => {
            let mut property = Property::new(name, date.format("%Y%m%d").to_string());
            property.add_parameter("VALUE", "DATE");
            property
        }
        (EventTime::Instant(instant), Some(zone)) => {
            let local = instant.with_timezone(&zone).naive_local();
            let mut property = Property::new(name, local.format("%Y%m%dT%H%M%S").to_string());
            property.add_parameter("TZID", zone.name());
            property
        }
        (EventTime::Instant(instant), None) => {
            Property::new(name, instant.format("%Y%m%dT%H%M%SZ").to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attendee;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 4, hour, 0, 0)
            .single()
            .expect("valid instant")
    }

    fn weekly_in_berlin() -> EventDetails {
        let mut event = EventDetails::timed("Team sync, weekly; all hands", at(9), at(10));
        event.time_zone = Some("Europe/Berlin".into());
        event.location = Some("Room 1".into());
        event.attendees = vec![
            Attendee {
                email: "ann@example.com".into(),
                optional: false,
            },
            Attendee {
                email: "bob@example.com".into(),
                optional: true,
            },
        ];
        event.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=TU".into()];
        event
    }

    #[test]
    fn render_writes_every_field_with_its_zone() {
        let text =
            render(&weekly_in_berlin(), "uid-1", &EventId::from("ev-1"), at(8)).expect("renders");
        assert!(text.contains("\r\n"), "CRLF line ends");
        assert!(text.contains("BEGIN:VTIMEZONE\r\n"), "{text}");
        assert!(text.contains("\r\nTZID:Europe/Berlin\r\n"), "{text}");
        assert!(
            text.contains("DTSTART;TZID=Europe/Berlin:20250304T100000"),
            "{text}"
        );
        assert!(
            text.contains("DTEND;TZID=Europe/Berlin:20250304T110000"),
            "{text}"
        );
        assert!(
            text.contains("SUMMARY:Team sync\\, weekly\\; all hands"),
            "{text}"
        );
        assert!(text.contains("RRULE:FREQ=WEEKLY;BYDAY=TU"), "{text}");
        assert!(text.contains("X-CALSYNC-ID:ev-1"), "{text}");
        // Both at RFC 5545's default, so left out.
        assert!(!text.contains("SEQUENCE"), "{text}");
        assert!(!text.contains("TRANSP"), "{text}");
        assert!(text.contains("ROLE=OPT-PARTICIPANT"), "{text}");
        assert!(text.contains(":mailto:bob@example.com"), "{text}");
        assert!(
            text.contains("UID:uid-1") && text.contains("DTSTAMP:"),
            "{text}"
        );
        assert!(
            text.contains("VERSION:2.0") && text.contains("PRODID:"),
            "{text}"
        );
        assert!(!text.contains("CREATED"), "servers stamp their own: {text}");
    }

    /// The lines of each `BEGIN:{kind}` ... `END:{kind}` block, nested ones included.
    fn blocks<'a>(text: &'a str, kind: &str) -> Vec<Vec<&'a str>> {
        let (begin, end) = (format!("BEGIN:{kind}"), format!("END:{kind}"));
        let mut found = Vec::new();
        let mut open: Option<Vec<&str>> = None;
        for line in text.lines() {
            if line == begin {
                open = Some(Vec::new());
            }
            if let Some(block) = open.as_mut() {
                block.push(line);
            }
            if line == end {
                found.extend(open.take());
            }
        }
        found
    }

    /// How many lines of `lines` hold the property `name`.
    fn count(lines: &[&str], name: &str) -> usize {
        lines
            .iter()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([':', ';']))
            })
            .count()
    }

    #[test]
    fn only_the_event_gets_a_uid_and_dtstamp() {
        let mut event = EventDetails::timed("Standup", at(9), at(10));
        event.time_zone = Some("Europe/Berlin".into());
        let text = render(&event, "uid-1", &EventId::from("ev-1"), at(8)).expect("renders");
        let all: Vec<&str> = text.lines().collect();
        assert_eq!(count(&all, "UID"), 1, "{text}");
        assert_eq!(count(&all, "DTSTAMP"), 1, "{text}");
        let zones = blocks(&text, "VTIMEZONE");
        assert_eq!(zones.len(), 1, "{text}");
        assert_eq!(blocks(&text, "STANDARD").len(), 1, "{text}");
        assert_eq!(blocks(&text, "DAYLIGHT").len(), 1, "{text}");
        assert_eq!(count(&zones[0], "UID") + count(&zones[0], "DTSTAMP"), 0);
        let events = blocks(&text, "VEVENT");
        assert_eq!(count(&events[0], "UID"), 1, "{text}");
        assert_eq!(count(&events[0], "DTSTAMP"), 1, "{text}");

        let (read, problems) = crate::schedule::ics::events_from_ics(&text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(read.len(), 1, "{read:?}");
        assert_eq!(read[0].uid.as_deref(), Some("uid-1"));
        assert_eq!(read[0].start, EventTime::Instant(at(9)));
        assert_eq!(read[0].end, EventTime::Instant(at(10)));
        assert_eq!(read[0].time_zone.as_deref(), Some("Europe/Berlin"));
    }

    /// A server's copy holding a VTIMEZONE and a VALARM, neither with a UID or DTSTAMP.
    const SERVER_COPY: &str = "BEGIN:VCALENDAR\r\n\
        VERSION:2.0\r\n\
        PRODID:-//Other//Client//EN\r\n\
        BEGIN:VTIMEZONE\r\n\
        TZID:Europe/Berlin\r\n\
        BEGIN:STANDARD\r\n\
        DTSTART:19701025T030000\r\n\
        TZOFFSETFROM:+0200\r\n\
        TZOFFSETTO:+0100\r\n\
        TZNAME:CET\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
        END:STANDARD\r\n\
        BEGIN:DAYLIGHT\r\n\
        DTSTART:19700329T020000\r\n\
        TZOFFSETFROM:+0100\r\n\
        TZOFFSETTO:+0200\r\n\
        TZNAME:CEST\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
        END:DAYLIGHT\r\n\
        END:VTIMEZONE\r\n\
        BEGIN:VEVENT\r\n\
        UID:uid-9\r\n\
        DTSTAMP:20250301T080000Z\r\n\
        CREATED:20250301T080000Z\r\n\
        DTSTART;TZID=Europe/Berlin:20250304T100000\r\n\
        DTEND;TZID=Europe/Berlin:20250304T110000\r\n\
        SUMMARY:Standup\r\n\
        SEQUENCE:3\r\n\
        X-CALSYNC-ID:ev-9\r\n\
        BEGIN:VALARM\r\n\
        ACTION:DISPLAY\r\n\
        DESCRIPTION:Soon\\, really\r\n\
        TRIGGER:-PT5M\r\n\
        END:VALARM\r\n\
        END:VEVENT\r\n\
        END:VCALENDAR\r\n";

    fn sorted(mut lines: Vec<&str>) -> Vec<&str> {
        lines.sort_unstable();
        lines
    }

    #[test]
    fn merge_keeps_foreign_components_as_they_were() {
        let mut ours = EventDetails::timed("Standup, moved", at(10), at(11));
        ours.time_zone = Some("Europe/Berlin".into());
        let changed = ["title", "start", "end", "timeZone"].map(String::from);
        let merged =
            merge(SERVER_COPY, &ours, &changed, &EventId::from("ev-9"), at(9)).expect("merges");
        for kind in ["VTIMEZONE", "VALARM"] {
            let (before, after) = (blocks(SERVER_COPY, kind), blocks(&merged, kind));
            assert_eq!(after.len(), 1, "one {kind}: {merged}");
            // The crate keeps properties by name, not in their order.
            assert_eq!(
                sorted(after[0].clone()),
                sorted(before[0].clone()),
                "{kind}"
            );
        }
        let all: Vec<&str> = merged.lines().collect();
        assert_eq!(count(&all, "UID"), 1, "{merged}");
        assert_eq!(count(&all, "DTSTAMP"), 1, "{merged}");
        assert!(merged.contains("CREATED:20250301T080000Z"), "{merged}");

        let (read, problems) = crate::schedule::ics::events_from_ics(&merged);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(read[0].title, "Standup, moved");
        assert_eq!(read[0].start, EventTime::Instant(at(10)));
        assert_eq!(read[0].end, EventTime::Instant(at(11)));
    }

    #[test]
    fn merge_of_every_field_writes_each_property_once() {
        let original =
            render(&weekly_in_berlin(), "uid-1", &EventId::from("ev-1"), at(8)).expect("renders");
        let mut ours = weekly_in_berlin();
        ours.description = Some("Agenda".into());
        ours.transparency = Transparency::Free;
        let changed: Vec<String> = all_fields().into_iter().map(String::from).collect();
        let merged =
            merge(&original, &ours, &changed, &EventId::from("ev-1"), at(9)).expect("merges");
        let events = blocks(&merged, "VEVENT");
        assert_eq!(events.len(), 1, "{merged}");
        let single = [
            "UID",
            "DTSTAMP",
            "SEQUENCE",
            "LAST-MODIFIED",
            "SUMMARY",
            "DTSTART",
            "DTEND",
            "LOCATION",
            "DESCRIPTION",
            "TRANSP",
            "RRULE",
            SYNCED_ID,
        ];
        for name in single {
            assert_eq!(count(&events[0], name), 1, "{name}: {merged}");
        }
        assert_eq!(count(&events[0], "ATTENDEE"), 2, "{merged}");
        assert!(merged.contains("TRANSP:TRANSPARENT"), "{merged}");
        assert!(merged.contains("SEQUENCE:1"), "{merged}");
        assert_eq!(blocks(&merged, "VTIMEZONE").len(), 1, "{merged}");
    }

    #[test]
    fn transparency_survives_both_ways_with_the_default_left_out() {
        let busy = weekly_in_berlin();
        let mut free = weekly_in_berlin();
        free.transparency = Transparency::Free;
        let id = EventId::from("ev-1");
        let free_text = render(&free, "uid-1", &id, at(8)).expect("renders");
        assert!(free_text.contains("TRANSP:TRANSPARENT"), "{free_text}");
        let read = |text: &str| crate::schedule::ics::events_from_ics(text).0[0].transparency;
        assert_eq!(read(&free_text), Transparency::Free);
        let busy_text = render(&busy, "uid-1", &id, at(8)).expect("renders");
        assert_eq!(read(&busy_text), Transparency::Busy);
        // Back to busy over a server copy that says TRANSPARENT.
        let changed = ["transparency".to_owned()];
        let merged = merge(&free_text, &busy, &changed, &id, at(9)).expect("merges");
        assert!(merged.contains("TRANSP:OPAQUE"), "{merged}");
        assert_eq!(read(&merged), Transparency::Busy);
        assert!(merged.contains("SEQUENCE:1"), "{merged}");
    }

    #[test]
    fn all_day_events_are_dates() {
        let mut event = EventDetails::timed("Holiday", at(0), at(1));
        event.all_day = true;
        event.start = EventTime::Date(at(0).date_naive());
        event.end = EventTime::Date(at(0).date_naive().succ_opt().expect("next day"));
        let text = render(&event, "u", &EventId::from("e"), at(8)).expect("renders");
        assert!(text.contains("DTSTART;VALUE=DATE:20250304"), "{text}");
        assert!(text.contains("DTEND;VALUE=DATE:20250305"), "{text}");
        assert!(!text.contains("VTIMEZONE"), "{text}");
    }

    #[test]
    fn merge_changes_only_the_changed_fields_and_keeps_the_rest() {
        let original =
            render(&weekly_in_berlin(), "uid-1", &EventId::from("ev-1"), at(8)).expect("renders");
        let edited_elsewhere = original
            .replace("LOCATION:Room 1", "LOCATION:Room 7")
            .replace("END:VEVENT", "X-OTHER-CLIENT:kept\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\nEND:VEVENT");
        let mut ours = weekly_in_berlin();
        ours.title = "Renamed".into();
        let merged = merge(
            &edited_elsewhere,
            &ours,
            &["title".into()],
            &EventId::from("ev-1"),
            at(9),
        )
        .expect("merges");
        assert!(merged.contains("SUMMARY:Renamed"), "{merged}");
        assert!(merged.contains("LOCATION:Room 7"), "{merged}");
        assert!(merged.contains("X-OTHER-CLIENT:kept"), "{merged}");
        assert!(merged.contains("BEGIN:VALARM"), "{merged}");
        assert!(merged.contains("SEQUENCE:1"), "{merged}");
        assert_eq!(merged.matches("BEGIN:VTIMEZONE").count(), 1, "{merged}");
    }

    #[test]
    fn merge_of_a_copy_without_an_event_is_an_error() {
        let error = merge(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
            &weekly_in_berlin(),
            &["title".into()],
            &EventId::from("e"),
            at(9),
        )
        .expect_err("no VEVENT");
        assert_eq!(error, IcalError::NoEvent);
        assert!(error.to_string().contains("no VEVENT"), "{error}");
    }
}
