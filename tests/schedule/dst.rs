//! Daylight-saving changes: series keep their wall-clock time, and events
//! across the spring-forward and fall-back nights have their real length.

use super::*;
use calsync::schedule::find_conflicts;

fn series(id: &str, zone: Tz, start: DateTime<Utc>, length: i64, rule: &str) -> ProviderEvent {
    let mut event = timed(id, start, start + minutes(length), zone);
    event.recurrence = vec![rule.to_owned()];
    event
}

#[test]
fn a_weekly_series_keeps_its_wall_clock_across_spring_forward_in_new_york() {
    let ny = Tz::America__New_York;
    // Clocks go forward on Sunday 2025-03-09.
    let weekly = series(
        "w",
        ny,
        at(ny, 2025, 2, 25, 9, 0),
        60,
        "RRULE:FREQ=WEEKLY;COUNT=4",
    );
    let index = index(&[calendar("g", vec![weekly])], ny);
    assert_eq!(
        local_starts(&index, ny),
        vec![
            "2025-02-25 09:00",
            "2025-03-04 09:00",
            "2025-03-11 09:00",
            "2025-03-18 09:00"
        ]
    );
    let utc_hours: Vec<u32> = index
        .occurrences()
        .map(|o| chrono::Timelike::hour(&o.start))
        .collect();
    assert_eq!(
        utc_hours,
        vec![14, 14, 13, 13],
        "the UTC time moves, the local time does not"
    );
}

#[test]
fn a_weekly_series_keeps_its_wall_clock_across_fall_back_in_berlin() {
    let berlin = Tz::Europe__Berlin;
    // Clocks go back on Sunday 2025-10-26.
    let weekly = series(
        "w",
        berlin,
        at(berlin, 2025, 10, 15, 18, 30),
        30,
        "RRULE:FREQ=WEEKLY;UNTIL=20251106T000000Z",
    );
    let index = index(&[calendar("g", vec![weekly])], berlin);
    assert_eq!(
        local_starts(&index, berlin),
        vec![
            "2025-10-15 18:30",
            "2025-10-22 18:30",
            "2025-10-29 18:30",
            "2025-11-05 18:30"
        ]
    );
    let probe = draft(
        at(berlin, 2025, 10, 29, 18, 45),
        at(berlin, 2025, 10, 29, 19, 15),
        berlin,
        (0, 0, 0),
    );
    assert_eq!(
        find_conflicts(&index, &probe).len(),
        1,
        "the first occurrence after the change is at 18:30 local"
    );
}

#[test]
fn an_event_across_the_spring_forward_night_is_two_hours_long() {
    let ny = Tz::America__New_York;
    // 01:00 to 04:00 local on 2025-03-09 is only two real hours (02:00-03:00 does not exist).
    let night = timed(
        "night",
        at(ny, 2025, 3, 9, 1, 0),
        at(ny, 2025, 3, 9, 4, 0),
        ny,
    );
    assert_eq!(
        night
            .end
            .instant()
            .zip(night.start.instant())
            .map(|(e, s)| e - s),
        Some(Duration::hours(2))
    );
    let index = index(&[calendar("g", vec![night])], ny);
    let probe = draft(
        at(ny, 2025, 3, 9, 3, 30),
        at(ny, 2025, 3, 9, 4, 30),
        ny,
        (0, 0, 0),
    );
    assert_eq!(find_conflicts(&index, &probe).len(), 1);
    let after = draft(
        at(ny, 2025, 3, 9, 4, 0),
        at(ny, 2025, 3, 9, 5, 0),
        ny,
        (0, 0, 0),
    );
    assert!(find_conflicts(&index, &after).is_empty());
}

#[test]
fn a_daily_series_at_a_time_the_spring_gap_skips_is_not_lost_in_berlin() {
    let berlin = Tz::Europe__Berlin;
    // 02:30 does not exist on 2025-03-30 in Berlin.
    let daily = series(
        "d",
        berlin,
        at(berlin, 2025, 3, 28, 2, 30),
        30,
        "RRULE:FREQ=DAILY;COUNT=4",
    );
    let index = index(&[calendar("g", vec![daily])], berlin);
    let starts = local_starts(&index, berlin);
    assert_eq!(starts[..2], ["2025-03-28 02:30", "2025-03-29 02:30"]);
    assert_eq!(starts.last().map(String::as_str), Some("2025-03-31 02:30"));
}

#[test]
fn a_daily_series_through_the_fall_back_night_in_sydney_and_new_york() {
    // Sydney goes back on 2025-04-06 (03:00 -> 02:00), New York on 2025-11-02 (02:00 -> 01:00).
    for (zone, first) in [
        (Tz::Australia__Sydney, (2025, 4, 5)),
        (Tz::America__New_York, (2025, 11, 1)),
    ] {
        let start = at(zone, first.0, first.1, first.2, 9, 0);
        let daily = series("d", zone, start, 60, "RRULE:FREQ=DAILY;COUNT=3");
        let index = index(&[calendar("g", vec![daily])], zone);
        let starts = local_starts(&index, zone);
        assert!(
            starts.iter().all(|s| s.ends_with("09:00")),
            "{zone}: {starts:?}"
        );
        let lengths: Vec<Duration> = index.occurrences().map(|o| o.end - o.start).collect();
        assert!(
            lengths.iter().all(|l| *l == Duration::hours(1)),
            "{zone}: exact length kept"
        );
        let gaps: Vec<i64> = index
            .occurrences()
            .map(|o| o.start.timestamp())
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| (w[1] - w[0]) / 3600)
            .collect();
        assert_eq!(
            gaps,
            vec![25, 24],
            "{zone}: the night of the change has 25 hours"
        );
    }
}

#[test]
fn an_event_in_the_repeated_fall_back_hour_keeps_its_instant() {
    let ny = Tz::America__New_York;
    // 01:30 happens twice on 2025-11-02; the second one is 06:30 UTC.
    let second = at(Tz::UTC, 2025, 11, 2, 6, 30);
    let index = index(
        &[calendar(
            "g",
            vec![timed("late", second, second + minutes(30), ny)],
        )],
        ny,
    );
    let first_half_hour = draft(
        at(Tz::UTC, 2025, 11, 2, 5, 30),
        at(Tz::UTC, 2025, 11, 2, 6, 0),
        ny,
        (0, 0, 0),
    );
    assert!(find_conflicts(&index, &first_half_hour).is_empty());
    let same = draft(second, second + minutes(30), ny, (0, 0, 0));
    assert_eq!(find_conflicts(&index, &same).len(), 1);
}
