//! The indexed engine against a brute-force scan of the input events on
//! random calendars: same conflicts, same reasons, same occurrences.

use super::*;
use calsync::model::{BufferKind, ConflictReason};
use calsync::schedule::find_conflicts;
use proptest::prelude::*;

const ZONES: [Tz; 4] = [
    Tz::UTC,
    Tz::America__New_York,
    Tz::Europe__Berlin,
    Tz::Asia__Tokyo,
];

/// A random event: (zone, day offset, hour, minute, length in minutes,
/// all-day, status kind, daily repeat count).
type Shape = (usize, i64, u32, u32, i64, bool, u8, u32);

fn shape() -> impl Strategy<Value = Shape> {
    (
        0..4usize,
        0..20i64,
        6..22u32,
        prop::sample::select(vec![0u32, 15, 30, 45]),
        0..240i64,
        prop::bool::weighted(0.1),
        0..8u8,
        prop::sample::select(vec![1u32, 1, 1, 3, 5]),
    )
}

fn make_event(n: usize, s: &Shape) -> ProviderEvent {
    let (zone, day, hour, minute, length, all_day_event, kind, repeat) = *s;
    let zone = ZONES[zone];
    let first = date(2025, 3, 1) + Duration::days(day);
    let mut event = if all_day_event {
        all_day(
            &format!("e{n}"),
            first,
            first + Duration::days(1 + length / 120),
        )
    } else {
        let start = at(zone, 2025, 3, 1, hour, minute) + Duration::days(day);
        timed(&format!("e{n}"), start, start + minutes(length), zone)
    };
    match kind {
        0 => event.transparency = Transparency::Free,
        1 => event.status = EventStatus::Cancelled,
        2 => event.declined = true,
        3 => event.status = EventStatus::Tentative,
        _ => {}
    }
    if repeat > 1 {
        event.recurrence = vec![format!("RRULE:FREQ=DAILY;COUNT={repeat}")];
    }
    event
}

/// Every busy occurrence of `event` by plain iteration: daily repeats add a
/// day to the local wall-clock start (the hours used never fall in a DST gap).
fn brute_occurrences(event: &ProviderEvent, user: Tz) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    if event.transparency == Transparency::Free
        || event.status == EventStatus::Cancelled
        || event.declined
    {
        return Vec::new();
    }
    let repeat = event
        .recurrence
        .first()
        .and_then(|l| l.rsplit('=').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1i64);
    (0..repeat)
        .map(|k| match (event.start, event.end) {
            (EventTime::Instant(s), EventTime::Instant(e)) => {
                let zone: Tz = event
                    .time_zone
                    .as_deref()
                    .and_then(|z| z.parse().ok())
                    .unwrap_or(Tz::UTC);
                let local = s.with_timezone(&zone).naive_local() + Duration::days(k);
                let start = zone
                    .from_local_datetime(&local)
                    .earliest()
                    .expect("no gaps at these hours")
                    .with_timezone(&Utc);
                (start, start + (e - s))
            }
            (EventTime::Date(s), EventTime::Date(e)) => {
                let midnight = |d: NaiveDate| {
                    user.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                        .earliest()
                        .expect("midnight exists")
                        .with_timezone(&Utc)
                };
                (
                    midnight(s + Duration::days(k)),
                    midnight(e + Duration::days(k)),
                )
            }
            _ => unreachable!("the generator makes matching kinds"),
        })
        .collect()
}

fn brute_conflicts(
    events: &[ProviderEvent],
    draft: &DraftEvent,
    user: Tz,
) -> Vec<(String, i64, ConflictReason, Option<BufferKind>)> {
    let (start, end) = (
        draft.event.start.instant().expect("timed"),
        draft.event.end.instant().expect("timed"),
    );
    let c = draft.constraints;
    let before = minutes(i64::from(c.buffer_before.max(c.travel_time)));
    let after = minutes(i64::from(c.buffer_after.max(c.travel_time)));
    let mut found = Vec::new();
    for event in events {
        for (s, e) in brute_occurrences(event, user) {
            let reason = if s == start && e == end {
                (ConflictReason::DoubleBooking, None)
            } else if s < end && e > start {
                (ConflictReason::TimeOverlap, None)
            } else if e <= start && e > start - before {
                let kind = if start - e < minutes(i64::from(c.buffer_before)) {
                    BufferKind::Before
                } else {
                    BufferKind::TravelTime
                };
                (ConflictReason::BufferViolation, Some(kind))
            } else if s >= end && s < end + after {
                let kind = if s - end < minutes(i64::from(c.buffer_after)) {
                    BufferKind::After
                } else {
                    BufferKind::TravelTime
                };
                (ConflictReason::BufferViolation, Some(kind))
            } else {
                continue;
            };
            found.push((event.event_id.clone(), s.timestamp(), reason.0, reason.1));
        }
    }
    found.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    found
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_index_finds_exactly_what_a_scan_finds(
        shapes in prop::collection::vec(shape(), 0..60),
        user in 0..4usize,
        probe in (0..20i64, 0..24u32, prop::sample::select(vec![0u32, 15, 30, 45]), 15..300i64),
        rooms in (prop::sample::select(vec![0u32, 10, 30]), prop::sample::select(vec![0u32, 15, 60]), prop::sample::select(vec![0u32, 20, 45])),
    ) {
        let user = ZONES[user];
        let events: Vec<ProviderEvent> = shapes.iter().enumerate().map(|(n, s)| make_event(n, s)).collect();
        let index = index(&[calendar("acct", events.clone())], user);
        let start = at(Tz::UTC, 2025, 3, 1, probe.1, probe.2) + Duration::days(probe.0);
        let draft = draft(start, start + minutes(probe.3), user, rooms);
        let mut engine: Vec<_> = find_conflicts(&index, &draft)
            .into_iter()
            .map(|c| {
                let existing = &c.existing[0];
                let at = match existing.start {
                    EventTime::Instant(at) => at.timestamp(),
                    EventTime::Date(_) => index.overlapping(start - Duration::days(3), start + Duration::days(3)).into_iter().find(|o| o.existing == *existing).map(|o| o.start.timestamp()).unwrap_or_default(),
                };
                (existing.event_id.to_string(), at, c.reason, c.buffer)
            })
            .collect();
        engine.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        prop_assert_eq!(engine, brute_conflicts(&events, &draft, user));
        let total: usize = events.iter().map(|e| brute_occurrences(e, user).len()).sum();
        prop_assert_eq!(index.len(), total);
    }
}
