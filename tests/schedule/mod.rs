//! The scheduling engine against the spec: busy time from real
//! events, conflict classification, ranked suggestions, iCalendar input.

mod all_day;
#[cfg(feature = "cli")]
mod cli;
mod conflicts;
mod dst;
mod fuzz;
mod golden;
mod ics;
mod ics_limits;
mod ics_zones;
mod principle;
mod property;
mod recurrence;
mod suggest;

use calsync::model::{
    AccountId, DraftConstraints, DraftEvent, DraftId, EventDetails, EventTime, Transparency,
};
use calsync::schedule::{AccountCalendar, BusyIndex, EventStatus, ProviderEvent, Work};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant of a wall-clock time in `zone` (the earlier one in a fold).
pub fn at(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .expect("test times exist")
        .with_timezone(&Utc)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("test dates exist")
}

/// A busy timed event in `zone`.
pub fn timed(id: &str, start: DateTime<Utc>, end: DateTime<Utc>, zone: Tz) -> ProviderEvent {
    ProviderEvent {
        event_id: id.to_owned(),
        uid: Some(format!("{id}@test")),
        title: id.to_owned(),
        start: EventTime::Instant(start),
        end: EventTime::Instant(end),
        time_zone: Some(zone.name().to_owned()),
        transparency: Transparency::Busy,
        status: EventStatus::Confirmed,
        declined: false,
        recurrence: Vec::new(),
        recurrence_id: None,
        this_and_future: false,
        synced_id: None,
    }
}

/// A busy all-day event from `first` to `end` (exclusive).
pub fn all_day(id: &str, first: NaiveDate, end: NaiveDate) -> ProviderEvent {
    ProviderEvent {
        start: EventTime::Date(first),
        end: EventTime::Date(end),
        time_zone: None,
        ..timed(id, DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH, Tz::UTC)
    }
}

pub fn calendar(account: &str, events: Vec<ProviderEvent>) -> AccountCalendar {
    AccountCalendar {
        account: AccountId::from(account),
        events,
    }
}

/// A draft in `zone` with the given buffers (before, after, travel).
pub fn draft(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    zone: Tz,
    rooms: (u32, u32, u32),
) -> DraftEvent {
    let mut event = EventDetails::timed("draft", start, end);
    event.time_zone = Some(zone.name().to_owned());
    DraftEvent {
        id: DraftId::from("draft-1"),
        event_id: None,
        event,
        constraints: DraftConstraints {
            buffer_before: rooms.0,
            buffer_after: rooms.1,
            travel_time: rooms.2,
        },
    }
}

/// An index over a wide window around 2025.
pub fn index(calendars: &[AccountCalendar], zone: Tz) -> BusyIndex {
    let (index, problems) = BusyIndex::build(
        calendars,
        at(Tz::UTC, 2024, 1, 1, 0, 0),
        at(Tz::UTC, 2027, 1, 1, 0, 0),
        zone,
        &mut Work::default(),
    )
    .expect("within the work budget");
    assert!(problems.is_empty(), "unexpected problems: {problems:?}");
    index
}

/// The starts of an index's occurrences as wall-clock text in `zone`.
pub fn local_starts(index: &BusyIndex, zone: Tz) -> Vec<String> {
    index
        .occurrences()
        .map(|o| {
            o.start
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .collect()
}

pub fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}
