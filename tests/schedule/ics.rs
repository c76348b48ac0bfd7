//! Reading iCalendar text: folding, zones, dates, statuses, and bad lines
//! reported with their numbers while the rest is used.

use super::*;
use calsync::schedule::ics::{IcsOptions, events_from_ics, events_from_ics_with};

#[test]
fn reads_timed_all_day_and_recurring_events() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:one\r\nSUMMARY:Planning\\, with a\r\n  folded title\r\nDTSTART;TZID=\"America/New_York\":20250107T140000\r\nDTEND;TZID=America/New_York:20250107T150000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEXDATE;TZID=America/New_York:20250114T140000\r\nX-CALSYNC-ID:evt-42\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:two\r\nDTSTART;VALUE=DATE:20250110\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:three\r\nDTSTART:20250108T090000Z\r\nDURATION:PT45M\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (events, problems) = events_from_ics(text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(events.len(), 3);
    let ny = Tz::America__New_York;
    assert_eq!(events[0].title, "Planning, with a folded title");
    assert_eq!(
        events[0].start,
        EventTime::Instant(at(ny, 2025, 1, 7, 14, 0))
    );
    assert_eq!(events[0].end, EventTime::Instant(at(ny, 2025, 1, 7, 15, 0)));
    assert_eq!(events[0].time_zone.as_deref(), Some("America/New_York"));
    assert_eq!(events[0].recurrence.len(), 2);
    assert_eq!(
        events[0].synced_id.as_ref().map(|id| id.as_str()),
        Some("evt-42")
    );
    assert_eq!(events[1].start, EventTime::Date(date(2025, 1, 10)));
    assert_eq!(events[1].end, EventTime::Date(date(2025, 1, 11)));
    assert_eq!(events[1].transparency, Transparency::Free);
    assert_eq!(
        events[2].end,
        EventTime::Instant(at(Tz::UTC, 2025, 1, 8, 9, 45))
    );
    assert_eq!(events[2].status, EventStatus::Cancelled);
}

#[test]
fn windows_and_prefixed_tzids_resolve() {
    let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:w\nDTSTART;TZID=Pacific Standard Time:20250301T100000\nDTEND;TZID=/mozilla.org/20050126_1/America/Los_Angeles:20250301T110000\nEND:VEVENT\nEND:VCALENDAR\n";
    let (events, problems) = events_from_ics(text);
    assert!(problems.is_empty(), "{problems:?}");
    let la = Tz::America__Los_Angeles;
    assert_eq!(
        events[0].start,
        EventTime::Instant(at(la, 2025, 3, 1, 10, 0))
    );
    assert_eq!(events[0].end, EventTime::Instant(at(la, 2025, 3, 1, 11, 0)));
    assert_eq!(events[0].time_zone.as_deref(), Some("America/Los_Angeles"));
}

#[test]
fn bad_lines_are_reported_with_their_numbers_and_the_rest_is_used() {
    let text = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:good
DTSTART:20250107T140000Z
DTEND:20250107T150000Z
RRULE:FREQ=NEVERLY
END:VEVENT
BEGIN:VEVENT
UID:no-start
DTSTART:2025-01-07
END:VEVENT
this line is not a content line
BEGIN:VEVENT
UID:moved
RECURRENCE-ID:20250107T140000Z
DTSTART:20250107T170000Z
DTEND:20250107T180000Z
END:VEVENT
BEGIN:VEVENT
UID:unclosed
DTSTART:20250109T140000Z
END:VCALENDAR
";
    let (events, problems) = events_from_ics(text);
    let uids: Vec<&str> = events.iter().filter_map(|e| e.uid.as_deref()).collect();
    assert_eq!(uids, vec!["good", "moved"]);
    assert!(events[0].recurrence.is_empty(), "the bad rule is dropped");
    assert_eq!(
        events[1].recurrence_id,
        Some(EventTime::Instant(at(Tz::UTC, 2025, 1, 7, 14, 0)))
    );
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert!(lines.contains(&6), "bad RRULE at line 6: {problems:?}");
    assert!(lines.contains(&10), "bad DTSTART at line 10: {problems:?}");
    assert!(lines.contains(&12), "stray line 12: {problems:?}");
    assert!(
        lines.contains(&19),
        "unclosed VEVENT begun at line 19: {problems:?}"
    );
}

/// A resource as another CalDAV client writes it: a zone of its own making,
/// a folded title, an override, a decline, unknown properties, a broken event.
const FOREIGN: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Other//Client//EN\r
BEGIN:VEVENT\r
UID:series-1\r
DTSTAMP:20250101T000000Z\r
DTSTART;TZID=Europe/Berlin:20250106T090000\r
DURATION:PT1H30M\r
SUMMARY:A long title that goes on and on and on and will be folded by the\r
  other client\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
ATTENDEE;CN=Me;PARTSTAT=DECLINED:mailto:me@example.com\r
ATTENDEE;PARTSTAT=ACCEPTED:mailto:you@example.com\r
X-UNKNOWN;FOO=bar:whatever\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:series-1\r
RECURRENCE-ID;TZID=Europe/Berlin:20250120T090000\r
DTSTART;TZID=Westeuropa:20250120T100000\r
DTEND;TZID=Westeuropa:20250120T110000\r
STATUS:CANCELLED\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:named\r
DTSTART;TZID=Pacific:20250301T100000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:broken\r
SUMMARY:no start\r
END:VEVENT\r
BEGIN:VTIMEZONE\r
TZID:Westeuropa\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VTIMEZONE\r
TZID:Pacific\r
X-LIC-LOCATION:America/Los_Angeles\r
END:VTIMEZONE\r
END:VCALENDAR\r
";

#[test]
fn zones_defined_by_the_file_are_used_wherever_they_stand() {
    let (events, problems) = events_from_ics(FOREIGN);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, 27, "{problems:?}");
    assert!(problems[0].message.contains("DTSTART"), "{problems:?}");

    let master = &events[0];
    assert!(master.title.ends_with("folded by the other client"));
    assert_eq!(
        master.end,
        EventTime::Instant(at(Tz::Europe__Berlin, 2025, 1, 6, 10, 30))
    );
    // A custom zone without a location: its standard offset (+01:00).
    let instance = &events[1];
    assert_eq!(
        instance.start,
        EventTime::Instant(at(Tz::UTC, 2025, 1, 20, 9, 0))
    );
    assert_eq!(
        instance.recurrence_id,
        Some(EventTime::Instant(at(Tz::UTC, 2025, 1, 20, 8, 0)))
    );
    assert_eq!(instance.status, EventStatus::Cancelled);
    // A custom zone with X-LIC-LOCATION: that IANA zone, daylight saving included.
    assert_eq!(
        events[2].start,
        EventTime::Instant(at(Tz::America__Los_Angeles, 2025, 3, 1, 10, 0))
    );
    assert_eq!(events[2].time_zone.as_deref(), Some("America/Los_Angeles"));
}

#[test]
fn declines_count_only_for_the_given_attendee() {
    let (plain, _) = events_from_ics(FOREIGN);
    assert!(plain.iter().all(|event| !event.declined));
    for (address, declined) in [
        ("ME@example.com", true),
        ("you@example.com", false),
        ("nobody@example.com", false),
    ] {
        let options = IcsOptions {
            attendee: Some(address),
        };
        let (events, _) = events_from_ics_with(FOREIGN, &options);
        assert_eq!(events[0].declined, declined, "{address}");
        assert!(!events[1].declined, "the override lists no attendees");
    }
}

/// RFC 5545 §3.8.2.2 and §3.8.2.5: a DURATION beyond any date is a reported
/// problem on its line (it panicked), and the rest of the file is read; an
/// all-day event whose DTEND equals its DTSTART is that one day.
#[test]
fn a_huge_duration_is_a_problem_and_an_empty_all_day_event_is_one_day() {
    let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:huge\nDTSTART:20250107T140000Z\nDURATION:P100000000D\nEND:VEVENT\nBEGIN:VEVENT\nUID:overflow\nDTSTART:20250107T140000Z\nDURATION:P99999999999999999W\nEND:VEVENT\nBEGIN:VEVENT\nUID:day\nDTSTART;VALUE=DATE:20250110\nDTEND;VALUE=DATE:20250110\nEND:VEVENT\nEND:VCALENDAR\n";
    let (events, problems) = events_from_ics(text);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|problem| problem.message.contains("DURATION")),
        "{problems:?}"
    );
    assert_eq!(problems[0].line, 5);
    let day = events
        .iter()
        .find(|event| event.event_id.ends_with("day"))
        .expect("the all-day event");
    assert_eq!(
        (day.start, day.end),
        (
            EventTime::Date(date(2025, 1, 10)),
            EventTime::Date(date(2025, 1, 11))
        )
    );
}

/// An unknown TZID is read in the file's default zone with a warning naming
/// the line, instead of dropping the event and its busy time.
#[test]
fn an_unknown_zone_is_read_in_the_default_zone_with_a_warning() {
    let text = "BEGIN:VCALENDAR\nX-WR-TIMEZONE:Europe/Berlin\nBEGIN:VEVENT\nUID:odd\nDTSTART;TZID=Mars/Olympus_Mons:20250107T140000\nDTEND;TZID=Mars/Olympus_Mons:20250107T150000\nEND:VEVENT\nEND:VCALENDAR\n";
    let (events, problems) = events_from_ics(text);
    assert_eq!(events.len(), 1, "the busy time is kept");
    let berlin = Tz::Europe__Berlin;
    assert_eq!(
        events[0].start,
        EventTime::Instant(at(berlin, 2025, 1, 7, 14, 0))
    );
    assert_eq!(
        events[0].end,
        EventTime::Instant(at(berlin, 2025, 1, 7, 15, 0))
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].line, 5);
    assert!(
        problems[0].message.contains("Mars/Olympus_Mons"),
        "{problems:?}"
    );
}

/// Several VEVENTs with one UID and no RECURRENCE-ID are versions of one
/// event: the highest SEQUENCE is kept, then the last (not their union).
#[test]
fn versions_of_one_event_keep_the_highest_sequence_then_the_last() {
    let text = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:meeting
SEQUENCE:2
DTSTART:20250107T140000Z
DTEND:20250107T150000Z
END:VEVENT
BEGIN:VEVENT
UID:meeting
SEQUENCE:1
DTSTART:20250107T090000Z
DTEND:20250107T100000Z
END:VEVENT
BEGIN:VEVENT
UID:other
DTSTART:20250108T090000Z
DTEND:20250108T100000Z
END:VEVENT
BEGIN:VEVENT
UID:other
DTSTART:20250108T110000Z
DTEND:20250108T120000Z
END:VEVENT
END:VCALENDAR
";
    let (events, problems) = events_from_ics(text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(events.len(), 2, "{events:?}");
    let utc = Tz::UTC;
    assert_eq!(
        events[0].start,
        EventTime::Instant(at(utc, 2025, 1, 7, 14, 0)),
        "SEQUENCE 2 wins"
    );
    assert_eq!(
        events[1].start,
        EventTime::Instant(at(utc, 2025, 1, 8, 11, 0)),
        "the last wins"
    );
}

/// One bad event never spoils the others: a start that is no date-time, a
/// rule, duration or value RFC 5545 does not allow, an end of the wrong kind
/// or before the start, a VEVENT begun inside another, a rule repeating more
/// often than calsync accepts. Each is a problem on its line; every other
/// event is read.
#[test]
fn broken_events_are_problems_of_their_own_and_the_rest_is_read() {
    let text = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:good-1
DTSTART:20250107T090000Z
DTEND:20250107T100000Z
END:VEVENT
BEGIN:VEVENT
UID:bad-start
DTSTART:2025-01-07T09:00
END:VEVENT
BEGIN:VEVENT
UID:bad-rule
DTSTART:20250108T090000Z
DTEND:20250108T100000Z
RRULE:FREQ=WEEKLY;BYDAY=XX
END:VEVENT
BEGIN:VEVENT
UID:bad-duration
DTSTART:20250109T090000Z
DURATION:PT1X
END:VEVENT
BEGIN:VEVENT
UID:odd-values
DTSTART:20250110T090000Z
DTEND:20250110T100000Z
STATUS:MAYBE
TRANSP:SOMETIMES
SEQUENCE:first
END:VEVENT
BEGIN:VEVENT
UID:mixed-kinds
DTSTART;VALUE=DATE:20250111
DTEND:20250111T100000Z
END:VEVENT
BEGIN:VEVENT
UID:backwards
DTSTART:20250112T100000Z
DTEND:20250112T090000Z
END:VEVENT
BEGIN:VEVENT
UID:outer
DTSTART:20250113T090000Z
BEGIN:VEVENT
UID:nested
DTSTART:20250114T090000Z
DTEND:20250114T100000Z
END:VEVENT
DTEND:20250113T100000Z
END:VEVENT
BEGIN:VEVENT
UID:good-2
DTSTART;TZID=Europe/Berlin:20250115T090000
DTEND;TZID=Europe/Berlin:20250115T100000
END:VEVENT
BEGIN:VEVENT
UID:too-often
DTSTART:20250116T090000Z
RRULE:FREQ=MINUTELY
END:VEVENT
END:VCALENDAR
";
    let (events, problems) = events_from_ics(text);
    let uids: Vec<&str> = events.iter().filter_map(|e| e.uid.as_deref()).collect();
    assert_eq!(
        uids,
        vec![
            "good-1",
            "bad-rule",
            "bad-duration",
            "odd-values",
            "mixed-kinds",
            "backwards",
            "nested",
            "good-2",
            "too-often"
        ]
    );
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    for (line, what) in [
        (9, "the start that is no date-time"),
        (15, "the rule"),
        (20, "the duration"),
        (26, "STATUS:MAYBE"),
        (27, "TRANSP:SOMETIMES"),
        (28, "SEQUENCE:first"),
        (33, "a date-time end of an all-day event"),
        (38, "an end before the start"),
        (40, "the VEVENT a VEVENT begins in"),
        (49, "the END that closes nothing"),
    ] {
        assert!(lines.contains(&line), "{what} at line {line}: {problems:?}");
    }
    let utc = Tz::UTC;
    let by_uid = |uid: &str| {
        events
            .iter()
            .find(|e| e.uid.as_deref() == Some(uid))
            .expect("read")
    };
    assert_eq!(
        by_uid("good-1").end,
        EventTime::Instant(at(utc, 2025, 1, 7, 10, 0))
    );
    assert!(by_uid("bad-rule").recurrence.is_empty());
    // A rule repeating every minute is a calendar's busy time like any
    // other: it is read, and its expansion is bounded by the work budget.
    assert_eq!(by_uid("too-often").recurrence, ["RRULE:FREQ=MINUTELY"]);
    assert!(!lines.contains(&58), "{problems:?}");
    assert_eq!(
        by_uid("bad-duration").end,
        EventTime::Instant(at(utc, 2025, 1, 9, 9, 0))
    );
    let odd = by_uid("odd-values");
    assert_eq!(odd.status, EventStatus::Confirmed);
    assert_eq!(odd.transparency, Transparency::Busy);
    assert_eq!(
        by_uid("mixed-kinds").end,
        EventTime::Date(date(2025, 1, 12))
    );
    assert_eq!(
        by_uid("backwards").end,
        EventTime::Instant(at(utc, 2025, 1, 12, 10, 0))
    );
    assert_eq!(
        by_uid("nested").start,
        EventTime::Instant(at(utc, 2025, 1, 14, 9, 0))
    );
    assert_eq!(
        by_uid("good-2").start,
        EventTime::Instant(at(Tz::Europe__Berlin, 2025, 1, 15, 9, 0))
    );
}
