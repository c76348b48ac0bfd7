//! Suggestions: constraints honoured, distinct options, explained scores,
//! bad constraints named.

use super::*;
use calsync::schedule::{
    AttendeeAvailability, BusySpan, DayHours, SuggestConstraints, WorkingHours, suggest,
};

fn ny() -> Tz {
    Tz::America__New_York
}

/// A Tuesday 2pm one-hour draft, a busy 2-3pm, and `now` the day before.
fn setup() -> (BusyIndex, DraftEvent, DateTime<Utc>) {
    let ny = ny();
    let busy = timed(
        "busy",
        at(ny, 2025, 1, 7, 14, 0),
        at(ny, 2025, 1, 7, 15, 0),
        ny,
    );
    let index = index(&[calendar("google", vec![busy])], ny);
    let draft = draft(
        at(ny, 2025, 1, 7, 14, 0),
        at(ny, 2025, 1, 7, 15, 0),
        ny,
        (0, 0, 0),
    );
    (index, draft, at(ny, 2025, 1, 6, 9, 0))
}

fn constraints(json: serde_json::Value) -> SuggestConstraints {
    serde_json::from_value(json).expect("valid constraints")
}

#[test]
fn suggestions_are_distinct_free_and_explained() {
    let (index, draft, now) = setup();
    let found = suggest(
        &index,
        &draft,
        &constraints(serde_json::json!({"limit": 10})),
        now,
        &mut Work::default(),
    )
    .expect("valid");
    assert_eq!(found.len(), 10);
    for (i, a) in found.iter().enumerate() {
        for b in &found[i + 1..] {
            assert!(a.end <= b.start || b.end <= a.start, "{a:?} overlaps {b:?}");
        }
        let parts = a.score_parts;
        for part in [
            parts.proximity,
            parts.time_of_day,
            parts.attendees,
            parts.preferences,
        ] {
            assert!((0.0..=1.0).contains(&part));
        }
        assert!(a.start >= now);
        let busy = (at(ny(), 2025, 1, 7, 14, 0), at(ny(), 2025, 1, 7, 15, 0));
        assert!(a.end <= busy.0 || a.start >= busy.1, "avoids the busy hour");
    }
}

#[test]
fn same_day_is_ranked_before_the_next_day_and_working_hours_hold() {
    let (index, draft, now) = setup();
    let found = suggest(
        &index,
        &draft,
        &constraints(serde_json::json!({"limit": 12})),
        now,
        &mut Work::default(),
    )
    .expect("valid");
    let days: Vec<u32> = found
        .iter()
        .map(|s| chrono::Datelike::day(&s.start.with_timezone(&ny())))
        .collect();
    let first_other_day = days
        .iter()
        .position(|d| *d != 7)
        .expect("some next-day options");
    assert!(days[..first_other_day].iter().all(|d| *d == 7));
    for s in &found {
        let local = s.start.with_timezone(&ny());
        let end = s.end.with_timezone(&ny());
        assert!(
            chrono::Timelike::hour(&local) >= 9
                && (chrono::Timelike::hour(&end) < 17
                    || end.format("%H:%M").to_string() == "17:00")
        );
    }
}

#[test]
fn same_day_only_weekends_and_offsets_are_honoured() {
    let (index, draft, now) = setup();
    let same_day = suggest(
        &index,
        &draft,
        &constraints(serde_json::json!({"sameDayOnly": true, "limit": 50})),
        now,
        &mut Work::default(),
    )
    .expect("valid");
    assert!(
        same_day
            .iter()
            .all(|s| s.start.with_timezone(&ny()).date_naive() == date(2025, 1, 7))
    );
    assert_eq!(same_day.len(), 7, "9-10 ... 16-17 without 14-15");

    let offsets = suggest(
        &index,
        &draft,
        &constraints(serde_json::json!({"minOffset": 120, "maxOffset": 180, "sameDayOnly": true})),
        now,
        &mut Work::default(),
    )
    .expect("valid");
    let starts: Vec<String> = offsets
        .iter()
        .map(|s| s.start.with_timezone(&ny()).format("%H:%M").to_string())
        .collect();
    assert_eq!(starts, vec!["16:00", "12:00", "11:00"]);

    let saturday_draft = {
        let mut d = draft.clone();
        d.event.start = EventTime::Instant(at(ny(), 2025, 1, 10, 14, 0));
        d.event.end = EventTime::Instant(at(ny(), 2025, 1, 10, 15, 0));
        d
    };
    let no_weekend = suggest(
        &index,
        &saturday_draft,
        &constraints(serde_json::json!({"limit": 50, "maxDays": 2})),
        now,
        &mut Work::default(),
    )
    .expect("valid");
    assert!(
        no_weekend
            .iter()
            .all(|s| s.start.with_timezone(&ny()).date_naive() == date(2025, 1, 10)),
        "Friday only"
    );
    let weekend = suggest(
        &index,
        &saturday_draft,
        &constraints(serde_json::json!({"limit": 50, "maxDays": 2, "allowWeekends": true})),
        now,
        &mut Work::default(),
    )
    .expect("valid");
    assert!(
        weekend
            .iter()
            .any(|s| s.start.with_timezone(&ny()).date_naive() == date(2025, 1, 11))
    );
}

#[test]
fn working_hours_per_weekday_and_granularity_shape_the_grid() {
    let (index, draft, now) = setup();
    let hours = WorkingHours {
        tue: Some(DayHours {
            start: "12:30".into(),
            end: "18:00".into(),
        }),
        ..WorkingHours::default()
    };
    let c = SuggestConstraints {
        working_hours: Some(hours),
        granularity: Some(90),
        same_day_only: Some(true),
        limit: Some(50),
        ..Default::default()
    };
    let found = suggest(&index, &draft, &c, now, &mut Work::default()).expect("valid");
    let mut starts: Vec<String> = found
        .iter()
        .map(|s| s.start.with_timezone(&ny()).format("%H:%M").to_string())
        .collect();
    starts.sort();
    // The 90-minute grid from midnight: 12:00 is before work, 13:30 meets the busy hour.
    assert_eq!(starts, vec!["15:00", "16:30"]);
}

#[test]
fn attendee_availability_ranks_required_above_optional() {
    let (index, draft, now) = setup();
    let span = |h: u32| BusySpan {
        start: at(ny(), 2025, 1, 7, h, 0),
        end: at(ny(), 2025, 1, 7, h + 1, 0),
    };
    let c = SuggestConstraints {
        same_day_only: Some(true),
        limit: Some(50),
        attendees: vec![
            AttendeeAvailability {
                email: "boss@example.com".into(),
                optional: false,
                busy: vec![span(15)],
            },
            AttendeeAvailability {
                email: "fan@example.com".into(),
                optional: true,
                busy: vec![span(16)],
            },
        ],
        ..Default::default()
    };
    let found = suggest(&index, &draft, &c, now, &mut Work::default()).expect("valid");
    let starts: Vec<String> = found
        .iter()
        .map(|s| s.start.with_timezone(&ny()).format("%H:%M").to_string())
        .collect();
    let place = |hhmm: &str| starts.iter().position(|s| s == hhmm).expect("offered");
    assert_eq!(starts[0], "13:00", "everyone free, close by: {starts:?}");
    assert!(
        place("16:00") < place("15:00"),
        "an optional attendee busy costs less than a required one: {starts:?}"
    );
    assert!((found[place("16:00")].score_parts.attendees - 2.0 / 3.0).abs() < 1e-9);
    assert!((found[place("15:00")].score_parts.attendees - 1.0 / 3.0).abs() < 1e-9);
    assert!((found[0].score_parts.attendees - 1.0).abs() < 1e-9);
}

#[test]
fn the_past_is_never_suggested_and_buffers_are_kept() {
    let (index, mut draft, _) = setup();
    let now = at(ny(), 2025, 1, 7, 15, 30);
    draft.constraints.buffer_before = 30;
    let found = suggest(
        &index,
        &draft,
        &SuggestConstraints::default(),
        now,
        &mut Work::default(),
    )
    .expect("valid");
    assert!(found.iter().all(|s| s.start >= now));
    let busy_end = at(ny(), 2025, 1, 7, 15, 0);
    assert!(
        found
            .iter()
            .all(|s| s.start >= busy_end + minutes(30) || s.end <= at(ny(), 2025, 1, 7, 14, 0))
    );
}

#[test]
fn bad_constraints_are_named() {
    let (index, draft, now) = setup();
    for (json, field) in [
        (
            serde_json::json!({"granularity": 0}),
            "constraints.granularity",
        ),
        (serde_json::json!({"limit": 500}), "constraints.limit"),
        (serde_json::json!({"maxDays": 61}), "constraints.maxDays"),
        (
            serde_json::json!({"minOffset": 120, "maxOffset": 60}),
            "constraints.maxOffset",
        ),
        (
            serde_json::json!({"timeZone": "Moon/Base"}),
            "constraints.timeZone",
        ),
        (
            serde_json::json!({"workingHours": {"mon": {"start": "9am", "end": "17:00"}}}),
            "constraints.workingHours.mon.start",
        ),
        (
            serde_json::json!({"workingHours": {"fri": {"start": "17:00", "end": "09:00"}}}),
            "constraints.workingHours.fri.end",
        ),
        (
            serde_json::json!({"attendees": [{"email": "a@b.co", "busy": [{"start": "2025-01-07T10:00:00Z", "end": "2025-01-07T09:00:00Z"}]}]}),
            "constraints.attendees[0].busy[0].end",
        ),
    ] {
        let error = suggest(
            &index,
            &draft,
            &constraints(json.clone()),
            now,
            &mut Work::default(),
        )
        .expect_err(&json.to_string());
        let calsync::schedule::SuggestError::Invalid(error) = error else {
            panic!("{json}: {error:?} is not a constraint's error");
        };
        assert_eq!(error.field, field, "{json}");
    }
    let unknown =
        serde_json::from_value::<SuggestConstraints>(serde_json::json!({"granulrity": 15}));
    assert!(unknown.is_err(), "unknown fields are refused");
}
