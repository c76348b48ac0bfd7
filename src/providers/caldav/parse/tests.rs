//! Tolerant reading of what servers and other clients write.

use super::*;

fn utc(text: &str) -> EventTime {
    EventTime::parse(text).expect("valid time")
}

const FOREIGN: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Other//Client//EN\r
X-WR-CALNAME:Somebody's\r
BEGIN:VTIMEZONE\r
TZID:/custom/Westeuropa\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:series-1\r
DTSTAMP:20250101T000000Z\r
DTSTART;TZID=Europe/Berlin:20250106T090000\r
DURATION:PT1H30M\r
SUMMARY:A long title that goes on and on and on and will be folded by the\r
  other client\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
EXDATE;TZID=Europe/Berlin:20250113T090000\r
ATTENDEE;PARTSTAT=DECLINED:mailto:me@example.com\r
X-UNKNOWN;FOO=bar:whatever\r
X-CALSYNC-ID:ev-9\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:series-1\r
DTSTAMP:20250101T000000Z\r
RECURRENCE-ID;TZID=Europe/Berlin:20250120T090000\r
DTSTART;TZID=/custom/Westeuropa:20250120T100000\r
DTEND;TZID=/custom/Westeuropa:20250120T110000\r
STATUS:CANCELLED\r
TRANSP:TRANSPARENT\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:broken\r
SUMMARY:no start\r
END:VEVENT\r
BEGIN:VTODO\r
UID:todo\r
END:VTODO\r
END:VCALENDAR\r
";

#[test]
fn reads_masters_overrides_zones_and_problems() {
    let (events, problems) = events("/cal/a.ics", FOREIGN, Some("ME@example.com"));
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("without DTSTART"), "{problems:?}");

    let master = &events[0];
    assert_eq!(master.event_id, "/cal/a.ics");
    assert_eq!(master.uid.as_deref(), Some("series-1"));
    assert!(
        master.title.ends_with("folded by the other client"),
        "{}",
        master.title
    );
    assert_eq!(master.start, utc("2025-01-06T08:00:00Z"));
    assert_eq!(master.end, utc("2025-01-06T09:30:00Z"));
    assert_eq!(master.time_zone.as_deref(), Some("Europe/Berlin"));
    assert!(master.declined);
    assert_eq!(master.synced_id, Some(EventId::from("ev-9")));
    assert_eq!(
        master.recurrence,
        vec![
            "RRULE:FREQ=WEEKLY;BYDAY=MO".to_owned(),
            "EXDATE;TZID=Europe/Berlin:20250113T090000".to_owned()
        ]
    );

    let instance = &events[1];
    assert_eq!(instance.recurrence_id, Some(utc("2025-01-20T08:00:00Z")));
    assert_eq!(
        instance.start,
        utc("2025-01-20T09:00:00Z"),
        "zone from the VTIMEZONE"
    );
    assert_eq!(instance.status, EventStatus::Cancelled);
    assert_eq!(instance.transparency, Transparency::Free);
    assert!(!instance.declined);
}

#[test]
fn all_day_and_utc_and_missing_end() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\n\
                DTSTART;VALUE=DATE:20250301\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\n\
                DTSTART:20250301T100000Z\r\nDTEND:20250301T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (events, problems) = events("/x.ics", text, None);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(events[0].start, utc("2025-03-01"));
    assert_eq!(events[0].end, utc("2025-03-02"));
    assert_eq!(events[1].end, utc("2025-03-01T11:00:00Z"));
    assert_eq!(uid_of(text).as_deref(), Some("a"));
}

#[test]
fn unknown_zones_and_garbage_are_problems_not_failures() {
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n\
                DTSTART;TZID=Mars/Olympus:20250301T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (events, problems) = events("/x.ics", text, None);
    assert!(events.is_empty());
    assert!(problems[0].contains("Mars/Olympus"), "{problems:?}");
    let (events, problems) = super::events("/y.ics", "not a calendar at all", None);
    assert!(events.is_empty());
    assert_eq!(problems.len(), 1);
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("PT1H30M"), Ok(Duration::minutes(90)));
    assert_eq!(parse_duration("P1W"), Ok(Duration::weeks(1)));
    assert_eq!(parse_duration("-PT5M"), Ok(Duration::minutes(-5)));
    assert!(parse_duration("1H").is_err());
    assert!(parse_duration("PT5").is_err());
}
