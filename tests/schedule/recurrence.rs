//! RRULE parts, RDATE, EXDATE, moved and cancelled instances, Windows zones.

use super::*;
use calsync::model::EventTime;
use calsync::schedule::recurrence::RecurrenceError;
use calsync::schedule::validate_recurrence_line;

fn expand(
    zone: Tz,
    start: DateTime<Utc>,
    lines: &[&str],
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Vec<String> {
    let mut event = timed("s", start, start + minutes(60), zone);
    event.recurrence = lines.iter().map(|l| l.to_string()).collect();
    let (index, problems) = BusyIndex::build(
        &[calendar("g", vec![event])],
        window.0,
        window.1,
        zone,
        &mut Work::default(),
    )
    .expect("within the work budget");
    assert!(problems.is_empty(), "{problems:?}");
    local_starts(&index, zone)
}

fn year_2025() -> (DateTime<Utc>, DateTime<Utc>) {
    (at(Tz::UTC, 2025, 1, 1, 0, 0), at(Tz::UTC, 2026, 1, 1, 0, 0))
}

#[test]
fn byday_ordinals_pick_the_second_tuesday() {
    let utc = Tz::UTC;
    let starts = expand(
        utc,
        at(utc, 2025, 1, 14, 10, 0),
        &["RRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=4"],
        year_2025(),
    );
    assert_eq!(
        starts,
        vec![
            "2025-01-14 10:00",
            "2025-02-11 10:00",
            "2025-03-11 10:00",
            "2025-04-08 10:00"
        ]
    );
}

#[test]
fn bysetpos_picks_the_last_weekday_of_the_month() {
    let utc = Tz::UTC;
    let rule = "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3";
    let starts = expand(utc, at(utc, 2025, 1, 31, 16, 0), &[rule], year_2025());
    assert_eq!(
        starts,
        vec!["2025-01-31 16:00", "2025-02-28 16:00", "2025-03-31 16:00"]
    );
}

#[test]
fn bymonth_and_bymonthday_pick_the_days() {
    let utc = Tz::UTC;
    let rule = "RRULE:FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=15,-1";
    let starts = expand(utc, at(utc, 2025, 1, 15, 8, 0), &[rule], year_2025());
    assert_eq!(
        starts,
        vec![
            "2025-01-15 08:00",
            "2025-01-31 08:00",
            "2025-07-15 08:00",
            "2025-07-31 08:00"
        ]
    );
}

#[test]
fn interval_and_wkst_choose_the_weeks() {
    // RFC 5545's example: with WKST=SU the biweekly TU,SU series lands on different days than with MO.
    let utc = Tz::UTC;
    let window = (at(utc, 1997, 1, 1, 0, 0), at(utc, 1998, 1, 1, 0, 0));
    let monday = expand(
        utc,
        at(utc, 1997, 8, 5, 9, 0),
        &["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO"],
        window,
    );
    assert_eq!(
        monday,
        vec![
            "1997-08-05 09:00",
            "1997-08-10 09:00",
            "1997-08-19 09:00",
            "1997-08-24 09:00"
        ]
    );
    let sunday = expand(
        utc,
        at(utc, 1997, 8, 5, 9, 0),
        &["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU"],
        window,
    );
    assert_eq!(
        sunday,
        vec![
            "1997-08-05 09:00",
            "1997-08-17 09:00",
            "1997-08-19 09:00",
            "1997-08-31 09:00"
        ]
    );
}

#[test]
fn until_with_a_date_ends_the_series_on_that_day_in_the_events_zone() {
    let la = Tz::America__Los_Angeles;
    let starts = expand(
        la,
        at(la, 2025, 6, 2, 20, 0),
        &["RRULE:FREQ=DAILY;UNTIL=20250604"],
        year_2025(),
    );
    assert_eq!(
        starts,
        vec!["2025-06-02 20:00", "2025-06-03 20:00", "2025-06-04 20:00"]
    );
}

#[test]
fn exdate_and_rdate_remove_and_add_occurrences() {
    let ny = Tz::America__New_York;
    let lines = [
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        "EXDATE;TZID=America/New_York:20250113T100000",
        "RDATE;TZID=America/New_York:20250116T150000",
        "EXDATE;VALUE=DATE:20250127",
    ];
    let starts = expand(ny, at(ny, 2025, 1, 6, 10, 0), &lines, year_2025());
    assert_eq!(
        starts,
        vec!["2025-01-06 10:00", "2025-01-16 15:00", "2025-01-20 10:00"]
    );
}

#[test]
fn moved_and_cancelled_instances_replace_their_occurrences() {
    let ny = Tz::America__New_York;
    let mut master = timed(
        "m",
        at(ny, 2025, 1, 6, 10, 0),
        at(ny, 2025, 1, 6, 11, 0),
        ny,
    );
    master.recurrence = vec!["RRULE:FREQ=WEEKLY;COUNT=4".into()];
    let mut moved = timed(
        "m-moved",
        at(ny, 2025, 1, 14, 16, 0),
        at(ny, 2025, 1, 14, 17, 0),
        ny,
    );
    moved.uid = master.uid.clone();
    moved.recurrence_id = Some(EventTime::Instant(at(ny, 2025, 1, 13, 10, 0)));
    let mut cancelled = timed(
        "m-cancelled",
        at(ny, 2025, 1, 20, 10, 0),
        at(ny, 2025, 1, 20, 11, 0),
        ny,
    );
    cancelled.uid = master.uid.clone();
    cancelled.recurrence_id = Some(EventTime::Instant(at(ny, 2025, 1, 20, 10, 0)));
    cancelled.status = EventStatus::Cancelled;
    let index = index(&[calendar("g", vec![master, moved, cancelled])], ny);
    assert_eq!(
        local_starts(&index, ny),
        vec!["2025-01-06 10:00", "2025-01-14 16:00", "2025-01-27 10:00"]
    );
    let ids: Vec<String> = index
        .occurrences()
        .map(|o| o.existing.event_id.to_string())
        .collect();
    assert_eq!(ids, vec!["m", "m-moved", "m"]);
}

#[test]
fn windows_zone_names_expand_in_their_iana_zone() {
    let berlin = Tz::Europe__Berlin;
    let mut event = timed(
        "w",
        at(berlin, 2025, 3, 24, 9, 0),
        at(berlin, 2025, 3, 24, 10, 0),
        berlin,
    );
    event.time_zone = Some("W. Europe Standard Time".into());
    event.recurrence = vec!["RRULE:FREQ=WEEKLY;COUNT=2".into()];
    let index = index(&[calendar("outlook", vec![event])], berlin);
    assert_eq!(
        local_starts(&index, berlin),
        vec!["2025-03-24 09:00", "2025-03-31 09:00"]
    );
}

#[test]
fn a_bad_rule_is_reported_and_the_first_occurrence_still_counts() {
    let utc = Tz::UTC;
    let mut event = timed(
        "bad",
        at(utc, 2025, 1, 6, 10, 0),
        at(utc, 2025, 1, 6, 11, 0),
        utc,
    );
    event.recurrence = vec!["RRULE:FREQ=SOMETIMES".into()];
    let (index, problems) = BusyIndex::build(
        &[calendar("g", vec![event])],
        year_2025().0,
        year_2025().1,
        utc,
        &mut Work::default(),
    )
    .expect("within the work budget");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].event_id, "bad");
    assert!(
        problems[0].message.contains("SOMETIMES"),
        "{}",
        problems[0].message
    );
    assert_eq!(index.len(), 1);
}

#[test]
fn recurrence_lines_are_really_parsed() {
    assert_eq!(
        validate_recurrence_line("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20250101T000000Z"),
        Ok(())
    );
    assert_eq!(
        validate_recurrence_line("EXDATE;TZID=Europe/Berlin:20250106T090000,20250113T090000"),
        Ok(())
    );
    assert_eq!(
        validate_recurrence_line("RDATE;VALUE=DATE:20250106"),
        Ok(())
    );
    assert_eq!(
        validate_recurrence_line("EXRULE:FREQ=MONTHLY;BYMONTHDAY=1"),
        Ok(())
    );
    for (line, words) in [
        ("RRULE:FREQ=FORTNIGHTLY", "FORTNIGHTLY"),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=40", "40"),
        ("RRULE:FREQ=WEEKLY;BYDAY=XX", "XX"),
        ("EXDATE:2025-01-06", "2025-01-06"),
        (
            "EXDATE;TZID=Nowhere/Special:20250106T090000",
            "Nowhere/Special",
        ),
        ("DTSTART:20250106T090000Z", "not a recurrence line"),
        ("RRULE FREQ=DAILY", "':'"),
    ] {
        let error = validate_recurrence_line(line).expect_err(line);
        assert!(error.to_string().contains(words), "{line}: {error}");
    }
}

#[test]
fn each_failure_of_a_line_is_named() {
    let named = |line: &str| validate_recurrence_line(line).expect_err(line);
    assert_eq!(
        named("RRULE FREQ=DAILY"),
        RecurrenceError::NoValue("RRULE FREQ=DAILY".into())
    );
    assert_eq!(
        named("EXDATE;VALUE:20250106"),
        RecurrenceError::ParameterWithoutValue("VALUE".into())
    );
    assert_eq!(
        named("DTSTART:20250106T090000Z"),
        RecurrenceError::NotARecurrenceLine("DTSTART:20250106T090000Z".into())
    );
    assert_eq!(named("RDATE:"), RecurrenceError::NoDates("RDATE".into()));
    assert_eq!(
        named("EXDATE;TZID=Nowhere/Special:20250106T090000"),
        RecurrenceError::UnknownZone {
            property: "EXDATE".into(),
            zone: "Nowhere/Special".into(),
        }
    );
    let bad_date = named("EXDATE:2025-01-06");
    assert_eq!(
        bad_date,
        RecurrenceError::In {
            part: "EXDATE".into(),
            problem: Box::new(RecurrenceError::NotATime("2025-01-06".into())),
        }
    );
    assert_eq!(
        bad_date.to_string(),
        "EXDATE: \"2025-01-06\" is not an iCalendar date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS[Z])"
    );
    assert!(matches!(
        named("RRULE:FREQ=FORTNIGHTLY"),
        RecurrenceError::In { part, problem } if part == "RRULE"
            && matches!(*problem, RecurrenceError::Rule(_))
    ));
    assert!(matches!(
        named("RRULE:FREQ=DAILY;UNTIL=soon"),
        RecurrenceError::In { part, .. } if part == "UNTIL"
    ));
}

/// RFC 5545 §3.8.5: DTSTART is always the first instance of the recurrence
/// set: with RDATE or EXDATE alone (no rule), and with a rule that would not
/// produce it (off its BYDAY), where it counts as the first of the rule's
/// COUNT (§3.3.10); an instance produced twice is one; an EXDATE of DTSTART
/// itself removes it.
#[test]
fn dtstart_is_always_the_first_instance() {
    let utc = Tz::UTC;
    let monday = at(utc, 2025, 1, 6, 10, 0);
    let only_rdate = expand(utc, monday, &["RDATE:20250108T100000Z"], year_2025());
    assert_eq!(only_rdate, vec!["2025-01-06 10:00", "2025-01-08 10:00"]);
    let only_exdate = expand(utc, monday, &["EXDATE:20250108T100000Z"], year_2025());
    assert_eq!(
        only_exdate,
        vec!["2025-01-06 10:00"],
        "an unrelated EXDATE leaves DTSTART"
    );
    let off_rule = expand(
        utc,
        monday,
        &["RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=2"],
        year_2025(),
    );
    assert_eq!(off_rule, vec!["2025-01-06 10:00", "2025-01-08 10:00"]);
    let one = expand(
        utc,
        monday,
        &["RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=1"],
        year_2025(),
    );
    assert_eq!(one, vec!["2025-01-06 10:00"]);
    let twice = expand(
        utc,
        monday,
        &["RRULE:FREQ=DAILY;COUNT=2", "RDATE:20250107T100000Z"],
        year_2025(),
    );
    assert_eq!(twice, vec!["2025-01-06 10:00", "2025-01-07 10:00"]);
    let excluded = expand(
        utc,
        monday,
        &["RRULE:FREQ=DAILY;COUNT=2", "EXDATE:20250106T100000Z"],
        year_2025(),
    );
    assert_eq!(excluded, vec!["2025-01-07 10:00"]);
}

/// RFC 5545 §3.8.4.4: an override with `RANGE=THISANDFUTURE` moves its
/// instance and every later one by the same shift, to the same length; the
/// earlier instances stay, and a later plain override still wins for its own
/// instance.
#[test]
fn a_thisandfuture_override_moves_the_later_instances() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
        BEGIN:VEVENT\r\nUID:weekly@x\r\nDTSTART:20250106T100000Z\r\nDTEND:20250106T110000Z\r\n\
        RRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:weekly@x\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20250120T100000Z\r\n\
        DTSTART:20250120T140000Z\r\nDTEND:20250120T160000Z\r\nSUMMARY:Weekly, later\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:weekly@x\r\nRECURRENCE-ID:20250203T100000Z\r\n\
        DTSTART:20250204T090000Z\r\nDTEND:20250204T093000Z\r\nSUMMARY:Moved once\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let (events, problems) = calsync::schedule::ics::events_from_ics(text);
    assert!(problems.is_empty(), "{problems:?}");
    let index = index(&[calendar("g", events)], Tz::UTC);
    let spans: Vec<String> = index
        .occurrences()
        .map(|o| {
            format!(
                "{} {}",
                o.start.format("%m-%d %H:%M"),
                o.end.format("%H:%M")
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            "01-06 10:00 11:00",
            "01-13 10:00 11:00",
            "01-20 14:00 16:00",
            "01-27 14:00 16:00",
            "02-04 09:00 09:30",
            "02-10 14:00 16:00",
        ]
    );
}
