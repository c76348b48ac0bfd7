//! All-day events are busy for their whole days in the user's zone, east and
//! west of UTC; free all-day events block nothing.

use super::*;
use calsync::model::ConflictReason;
use calsync::schedule::find_conflicts;

fn conflicts_at(index: &BusyIndex, zone: Tz, start: DateTime<Utc>) -> usize {
    find_conflicts(index, &draft(start, start + minutes(30), zone, (0, 0, 0))).len()
}

fn check_zone(zone: Tz) {
    let holiday = all_day("holiday", date(2025, 5, 1), date(2025, 5, 2));
    let index = index(&[calendar("google", vec![holiday])], zone);
    assert_eq!(
        conflicts_at(&index, zone, at(zone, 2025, 4, 30, 23, 30)),
        0,
        "{zone}: the evening before is free"
    );
    assert_eq!(
        conflicts_at(&index, zone, at(zone, 2025, 5, 1, 0, 0)),
        1,
        "{zone}: midnight starts the day"
    );
    assert_eq!(
        conflicts_at(&index, zone, at(zone, 2025, 5, 1, 14, 0)),
        1,
        "{zone}: the afternoon is busy"
    );
    assert_eq!(
        conflicts_at(&index, zone, at(zone, 2025, 5, 1, 23, 30)),
        1,
        "{zone}: the last half hour is busy"
    );
    assert_eq!(
        conflicts_at(&index, zone, at(zone, 2025, 5, 2, 0, 0)),
        0,
        "{zone}: the end date is exclusive"
    );
    let found = find_conflicts(
        &index,
        &draft(
            at(zone, 2025, 5, 1, 9, 0),
            at(zone, 2025, 5, 1, 10, 0),
            zone,
            (0, 0, 0),
        ),
    );
    assert_eq!(found[0].reason, ConflictReason::TimeOverlap);
    assert!(found[0].existing[0].all_day);
    assert_eq!(
        found[0].existing[0].start,
        EventTime::Date(date(2025, 5, 1))
    );
    assert_eq!(found[0].existing[0].end, EventTime::Date(date(2025, 5, 2)));
}

#[test]
fn an_all_day_event_blocks_its_day_in_a_zone_east_of_utc() {
    check_zone(Tz::Asia__Tokyo);
    check_zone(Tz::Australia__Sydney);
}

#[test]
fn an_all_day_event_blocks_its_day_in_a_zone_west_of_utc() {
    check_zone(Tz::America__Los_Angeles);
    check_zone(Tz::Pacific__Honolulu);
}

#[test]
fn a_free_all_day_event_blocks_nothing() {
    let mut reminder = all_day("birthday", date(2025, 5, 1), date(2025, 5, 2));
    reminder.transparency = Transparency::Free;
    let index = index(&[calendar("google", vec![reminder])], Tz::UTC);
    assert_eq!(
        conflicts_at(&index, Tz::UTC, at(Tz::UTC, 2025, 5, 1, 12, 0)),
        0
    );
}

#[test]
fn a_recurring_all_day_event_blocks_each_of_its_days() {
    let mut yearly = all_day("anniversary", date(2020, 3, 14), date(2020, 3, 15));
    yearly.recurrence = vec!["RRULE:FREQ=YEARLY".into()];
    let zone = Tz::Asia__Kolkata;
    let index = index(&[calendar("google", vec![yearly])], zone);
    let days: Vec<String> = index
        .occurrences()
        .map(|o| o.existing.start.to_string())
        .collect();
    assert_eq!(days, vec!["2024-03-14", "2025-03-14", "2026-03-14"]);
    assert_eq!(conflicts_at(&index, zone, at(zone, 2025, 3, 14, 0, 10)), 1);
}

#[test]
fn an_event_time_is_an_instant_with_an_offset_or_a_date_and_nothing_else() {
    assert_eq!(
        EventTime::parse("2025-01-07"),
        Ok(EventTime::Date(date(2025, 1, 7)))
    );
    assert_eq!(
        EventTime::parse("2025-01-07T14:00:00-05:00"),
        Ok(EventTime::Instant(at(Tz::UTC, 2025, 1, 7, 19, 0)))
    );
    let error = EventTime::parse("2025-01-07 14:00").expect_err("no offset");
    assert_eq!(
        error,
        calsync::model::NotAnEventTime("2025-01-07 14:00".into())
    );
    assert!(error.to_string().contains("RFC 3339"), "{error}");
}

/// An override of an all-day series named by a DATE-TIME RECURRENCE-ID (as
/// Exchange writes it: midnight in its own zone) replaces that day's
/// occurrence, as a DATE one does.
#[test]
fn a_date_time_recurrence_id_on_an_all_day_series_matches_by_date() {
    let mut daily = all_day("offsite", date(2025, 3, 10), date(2025, 3, 11));
    daily.uid = Some("offsite@test".into());
    daily.recurrence = vec!["RRULE:FREQ=DAILY;COUNT=3".into()];
    let berlin = Tz::Europe__Berlin;
    let mut moved = all_day("offsite/moved", date(2025, 3, 20), date(2025, 3, 21));
    moved.uid = Some("offsite@test".into());
    moved.recurrence_id = Some(EventTime::Instant(at(berlin, 2025, 3, 11, 0, 0)));
    let index = index(&[calendar("outlook", vec![daily, moved])], Tz::UTC);
    let days: Vec<String> = index
        .occurrences()
        .map(|o| o.existing.start.to_string())
        .collect();
    assert_eq!(days, vec!["2025-03-10", "2025-03-12", "2025-03-20"]);
}
