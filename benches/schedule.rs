//! The scheduling engine at a busy deployment's size: 4 accounts x 10,000
//! events over a year (5% weekly series, some with exceptions and moved
//! instances). Measures building the busy index, one conflict check, and one
//! suggestion run over two weeks at 15-minute granularity with 10 attendees x
//! 2,000 busy intervals; prints the index's heap size per 10,000 events.

use calsync::model::{
    AccountId, DraftConstraints, DraftEvent, DraftId, EventDetails, EventTime, Transparency,
};
use calsync::schedule::{
    AccountCalendar, AttendeeAvailability, BusyIndex, BusySpan, EventStatus, ProviderEvent,
    SuggestConstraints, Work, find_conflicts, suggest,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;

const ACCOUNTS: usize = 4;
const EVENTS_PER_ACCOUNT: usize = 10_000;
const ZONE: Tz = Tz::America__New_York;

fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn event(id: String, start: DateTime<Utc>, minutes: i64) -> ProviderEvent {
    ProviderEvent {
        uid: Some(format!("{id}@bench")),
        title: format!("Event {id}"),
        event_id: id,
        start: EventTime::Instant(start),
        end: EventTime::Instant(start + Duration::minutes(minutes)),
        time_zone: Some(ZONE.name().to_owned()),
        transparency: Transparency::Busy,
        status: EventStatus::Confirmed,
        declined: false,
        recurrence: Vec::new(),
        recurrence_id: None,
        this_and_future: false,
        synced_id: None,
    }
}

/// A random working-hours start somewhere in 2025, on a 15-minute grid.
fn random_start(rng: &mut StdRng, days: i64) -> DateTime<Utc> {
    let day = rng.random_range(0..days);
    let quarter = rng.random_range(8 * 4..18 * 4);
    let local = year_start().with_timezone(&ZONE).date_naive() + Duration::days(day);
    let local = local.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(15 * quarter);
    ZONE.from_local_datetime(&local)
        .earliest()
        .expect("working hours exist")
        .with_timezone(&Utc)
}

fn account(rng: &mut StdRng, n: usize) -> AccountCalendar {
    let mut events = Vec::with_capacity(EVENTS_PER_ACCOUNT + 100);
    for i in 0..EVENTS_PER_ACCOUNT {
        let id = format!("a{n}-e{i}");
        let minutes = [30, 45, 60, 90][rng.random_range(0..4)];
        if i % 20 == 0 {
            // 5% weekly series starting in the first weeks, a tenth of them with exceptions.
            let start = random_start(rng, 28);
            let mut series = event(id.clone(), start, minutes);
            series.recurrence = vec!["RRULE:FREQ=WEEKLY".into()];
            if i % 200 == 0 {
                let skipped = (start + Duration::weeks(5)).with_timezone(&ZONE);
                series.recurrence.push(format!(
                    "EXDATE;TZID={}:{}",
                    ZONE.name(),
                    skipped.format("%Y%m%dT%H%M%S")
                ));
                let moved_from = start + Duration::weeks(9);
                let mut moved = event(
                    format!("{id}-moved"),
                    moved_from + Duration::hours(2),
                    minutes,
                );
                moved.uid = series.uid.clone();
                moved.recurrence_id = Some(EventTime::Instant(moved_from));
                events.push(moved);
            }
            events.push(series);
        } else {
            let mut single = event(id, random_start(rng, 365), minutes);
            if i % 50 == 1 {
                single.transparency = Transparency::Free;
            }
            events.push(single);
        }
    }
    AccountCalendar {
        account: AccountId(format!("account-{n}")),
        events,
    }
}

fn calendars() -> Vec<AccountCalendar> {
    let mut rng = StdRng::seed_from_u64(4);
    (0..ACCOUNTS).map(|n| account(&mut rng, n)).collect()
}

fn draft() -> DraftEvent {
    let start = ZONE
        .with_ymd_and_hms(2025, 6, 10, 14, 0, 0)
        .single()
        .expect("exists")
        .with_timezone(&Utc);
    let mut event = EventDetails::timed("draft", start, start + Duration::hours(1));
    event.time_zone = Some(ZONE.name().to_owned());
    DraftEvent {
        id: DraftId::from("bench"),
        event_id: None,
        event,
        constraints: DraftConstraints {
            buffer_before: 10,
            buffer_after: 10,
            travel_time: 15,
        },
    }
}

fn attendees(rng: &mut StdRng, from: DateTime<Utc>) -> Vec<AttendeeAvailability> {
    (0..10)
        .map(|a| AttendeeAvailability {
            email: format!("person{a}@example.com"),
            optional: a % 3 == 0,
            busy: (0..2_000)
                .map(|_| {
                    let start = from + Duration::minutes(15 * rng.random_range(0..14 * 96));
                    BusySpan {
                        start,
                        end: start + Duration::minutes(15 * rng.random_range(1..5)),
                    }
                })
                .collect(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let calendars = calendars();
    let window = (year_start(), year_start() + Duration::days(365));
    let (index, problems) =
        BusyIndex::build(&calendars, window.0, window.1, ZONE, &mut Work::default())
            .expect("within the work budget");
    assert!(problems.is_empty(), "bench input is clean: {problems:?}");
    let events = ACCOUNTS * EVENTS_PER_ACCOUNT;
    println!(
        "index: {} occurrences from {events} events; heap {} bytes = {:.1} KiB per 10,000 events",
        index.len(),
        index.heap_bytes(),
        index.heap_bytes() as f64 * 10_000.0 / events as f64 / 1024.0
    );
    c.bench_function("build_index_4x10000_events_year", |b| {
        b.iter(|| {
            BusyIndex::build(
                black_box(&calendars),
                window.0,
                window.1,
                ZONE,
                &mut Work::default(),
            )
            .expect("within the work budget")
        })
    });
    let draft = draft();
    println!(
        "conflicts for the bench draft: {}",
        find_conflicts(&index, &draft).len()
    );
    c.bench_function("find_conflicts_one_draft", |b| {
        b.iter(|| find_conflicts(black_box(&index), black_box(&draft)))
    });
    // The same check where the calendars are quiet (before 8:00): the lookup alone.
    let mut quiet = draft.clone();
    let early = ZONE
        .with_ymd_and_hms(2025, 6, 10, 6, 0, 0)
        .single()
        .expect("exists")
        .with_timezone(&Utc);
    quiet.event.start = EventTime::Instant(early);
    quiet.event.end = EventTime::Instant(early + Duration::hours(1));
    quiet.constraints = DraftConstraints::default();
    println!(
        "conflicts for the quiet draft: {}",
        find_conflicts(&index, &quiet).len()
    );
    c.bench_function("find_conflicts_quiet_slot", |b| {
        b.iter(|| find_conflicts(black_box(&index), black_box(&quiet)))
    });
    let now = year_start();
    let day_start = ZONE
        .with_ymd_and_hms(2025, 6, 10, 0, 0, 0)
        .single()
        .expect("exists")
        .with_timezone(&Utc);
    let constraints = SuggestConstraints {
        max_days: Some(13),
        granularity: Some(15),
        allow_weekends: Some(true),
        allow_outside_working_hours: Some(true),
        attendees: attendees(&mut StdRng::seed_from_u64(10), day_start),
        ..SuggestConstraints::default()
    };
    let found = suggest(&index, &draft, &constraints, now, &mut Work::default())
        .expect("valid constraints");
    println!("suggestions: {}", found.len());
    c.bench_function("suggest_two_weeks_15min_10_attendees_x_2000", |b| {
        b.iter(|| {
            suggest(
                black_box(&index),
                black_box(&draft),
                black_box(&constraints),
                now,
                &mut Work::default(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
