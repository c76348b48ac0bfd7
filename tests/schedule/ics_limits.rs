//! The work one iCalendar file causes is bounded: each limit of
//! `calsync::schedule::ics` is counted as the file is read, and a file that
//! exceeds one is read up to it with a problem naming it.

use calsync::schedule::ics::{
    IcsOptions, IcsRead, MAX_COMPONENTS, MAX_DEPTH, MAX_LINES, MAX_PROBLEMS, MAX_PROPERTIES,
    MAX_ZONES, read_ics_counted,
};

fn read(text: &str) -> IcsRead {
    read_ics_counted(text, &IcsOptions::default())
}

fn names(read: &IcsRead, limit: &str) -> usize {
    read.problems
        .iter()
        .filter(|problem| problem.message.contains(limit))
        .count()
}

const EVENT: &str =
    "BEGIN:VEVENT\nUID:kept\nDTSTART:20250107T090000Z\nDTEND:20250107T100000Z\nEND:VEVENT\n";

/// 3 MB of `BEGIN:X` lines: only [`MAX_DEPTH`] components are ever held.
#[test]
fn three_megabytes_of_unclosed_begins_hold_no_more_than_the_depth_limit() {
    let lines = 3 * 1024 * 1024 / "BEGIN:X\n".len();
    let read = read(&"BEGIN:X\n".repeat(lines));
    assert_eq!(read.work.lines, lines);
    assert_eq!(read.work.deepest, MAX_DEPTH);
    assert_eq!(read.work.components, MAX_DEPTH);
    assert_eq!(names(&read, "MAX_DEPTH"), 1, "{:?}", read.problems);
    assert_eq!(read.problems[0].line, MAX_DEPTH + 1);
    assert_eq!(
        read.problems.len(),
        1 + MAX_DEPTH,
        "and each component held is never closed"
    );
}

#[test]
fn components_beyond_the_limit_are_left_out() {
    let text = format!(
        "BEGIN:VCALENDAR\n{EVENT}{}{}END:VCALENDAR\n",
        "BEGIN:X\nEND:X\n".repeat(MAX_COMPONENTS),
        EVENT.replace("kept", "late")
    );
    let read = read(&text);
    assert_eq!(read.work.components, MAX_COMPONENTS);
    assert_eq!(names(&read, "MAX_COMPONENTS"), 1, "{:?}", read.problems);
    let uids: Vec<_> = read
        .events
        .iter()
        .filter_map(|event| event.event.uid.as_deref())
        .collect();
    assert_eq!(uids, vec!["kept"], "the event after the limit is left out");
}

#[test]
fn lines_beyond_the_limit_are_not_read() {
    // Inside a component left out, lines cost no property parsing.
    let text = format!(
        "BEGIN:VCALENDAR\n{EVENT}{}{}",
        "BEGIN:X\n".repeat(MAX_DEPTH),
        "X-FILL:1\n".repeat(MAX_LINES)
    );
    let read = read(&text);
    assert_eq!(read.work.lines, MAX_LINES);
    assert_eq!(names(&read, "MAX_LINES"), 1, "{:?}", read.problems);
    let cut = read
        .problems
        .iter()
        .find(|problem| problem.message.contains("MAX_LINES"))
        .map(|problem| problem.line);
    assert_eq!(cut, Some(MAX_LINES + 1));
    assert_eq!(read.events.len(), 1);
}

#[test]
fn properties_beyond_the_limit_are_left_out_of_their_event() {
    let attendees = "ATTENDEE:mailto:someone@example.com\n".repeat(MAX_PROPERTIES);
    let text = format!(
        "BEGIN:VCALENDAR\n{}",
        EVENT.replace("END:VEVENT\n", &attendees)
    ) + "END:VEVENT\nEND:VCALENDAR\n";
    let read = read(&text);
    assert_eq!(read.events.len(), 1);
    assert_eq!(read.events[0].attendees.len(), MAX_PROPERTIES - 3);
    assert_eq!(names(&read, "MAX_PROPERTIES"), 1, "{:?}", read.problems);
}

#[test]
fn problems_beyond_the_limit_are_counted_in_one_last_problem() {
    let extra = 250;
    let text = format!(
        "BEGIN:VCALENDAR\n{}{EVENT}END:VCALENDAR\n",
        "not a content line\n".repeat(MAX_PROBLEMS + extra)
    );
    let read = read(&text);
    assert_eq!(read.problems.len(), MAX_PROBLEMS + 1);
    let last = read.problems.last().expect("a last problem");
    assert!(last.message.contains(&format!("{extra} more")), "{last:?}");
    assert!(last.message.contains("MAX_PROBLEMS"), "{last:?}");
    assert_eq!(last.line, MAX_PROBLEMS + 2);
    assert_eq!(read.events.len(), 1, "the event is still read");
}

#[test]
fn zones_beyond_the_limit_are_left_out() {
    let zone = "BEGIN:VTIMEZONE\nTZID:Z\nBEGIN:STANDARD\nDTSTART:20000101T000000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n";
    let text = format!(
        "BEGIN:VCALENDAR\n{}{EVENT}END:VCALENDAR\n",
        zone.repeat(MAX_ZONES + 1)
    );
    let read = read(&text);
    assert_eq!(names(&read, "MAX_ZONES"), 1, "{:?}", read.problems);
    assert_eq!(read.events.len(), 1);
}
