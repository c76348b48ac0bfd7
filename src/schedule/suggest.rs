//! Ranked reschedules: candidate slots on a grid inside the allowed days and
//! hours, kept when free on every account (buffers and travel time included),
//! scored, and picked best-first so that no two suggestions overlap.

use super::busy_runs::{Blocked, Starts};
use super::conflicts::rooms;
use super::constraints::{AttendeeAvailability, Resolved, SuggestConstraints};
use super::index::BusyIndex;
use super::recurrence::local_to_utc;
use super::work::{OutOfWork, Work};
use super::{draft_span, draft_zone};
use crate::model::{DraftEvent, ScoreParts, Suggestion, ValidationError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

/// Weights of the score's parts; they sum to 1.
const WEIGHT_PROXIMITY: f64 = 0.5;
const WEIGHT_TIME_OF_DAY: f64 = 0.1;
const WEIGHT_ATTENDEES: f64 = 0.25;
const WEIGHT_PREFERENCES: f64 = 0.15;
/// An earlier slot counts this many times as far as a later one: moving a
/// meeting earlier takes away notice people already had, a later one only waits.
const EARLIER_COST: f64 = 3.0;

/// For each candidate start, the weight of the attendees free for the whole
/// slot, and the weight of all attendees. Required attendees weigh twice as
/// much as optional ones.
fn attendees_free(
    attendees: &[AttendeeAvailability],
    starts: &Starts,
    length: i64,
    work: &mut Work,
) -> Result<(Vec<f64>, f64), OutOfWork> {
    let mut free = vec![0.0; starts.len()];
    let mut total = 0.0;
    for attendee in attendees {
        work.spend(u64::try_from(starts.len() + attendee.busy.len()).unwrap_or(u64::MAX))?;
        let weight = if attendee.optional { 1.0 } else { 2.0 };
        total += weight;
        let mut blocked = Blocked::new(starts, (0, length));
        for span in &attendee.busy {
            blocked.add((span.start.timestamp(), span.end.timestamp()));
        }
        for (free, busy) in free.iter_mut().zip(blocked.flags()) {
            if !busy {
                *free += weight;
            }
        }
    }
    Ok((free, total))
}

/// Why no suggestions were made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SuggestError {
    /// A constraint out of range, naming it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The work budget ran out weighing attendees' availability
    /// (`constraints.attendees`), or the work was stopped.
    #[error(transparent)]
    Work(#[from] OutOfWork),
}

/// The draft as the ranking sees it.
struct Original {
    start: DateTime<Utc>,
    length: Duration,
    local: NaiveDateTime,
    zone: Tz,
}

/// The window of events suggestion needs to read for `draft`: from the start
/// of the draft's day to the end of the last day that may be proposed, widened
/// by the draft's buffers.
pub fn suggestion_window(
    draft: &DraftEvent,
    constraints: &SuggestConstraints,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let zone = constraints
        .resolve()
        .ok()
        .and_then(|resolved| resolved.zone)
        .unwrap_or_else(|| draft_zone(draft));
    let days = constraints
        .resolve()
        .map_or(7, |resolved| resolved.max_days);
    let Some((start, end)) = draft_span(draft, zone) else {
        return Default::default();
    };
    let (before, after) = rooms(draft);
    let first = start.with_timezone(&zone).date_naive();
    let midnight = |date: NaiveDate| local_to_utc(date.and_time(NaiveTime::MIN), zone);
    let from = midnight(first).unwrap_or(start).min(start);
    let until = midnight(first + Duration::days(i64::from(days) + 2))
        .unwrap_or(end)
        .max(end);
    (
        from - before - Duration::days(1),
        until + after + Duration::days(1),
    )
}

/// Ranked alternatives for `draft` that avoid every busy occurrence (with the
/// draft's buffers and travel time), within the constraints, none starting
/// before `now`; best first, no two overlapping. Each candidate slot, and
/// each slot and busy span weighed for an attendee, costs a unit of `work`.
///
/// # Errors
/// A constraint out of range, naming it (`constraints.granularity`, ...);
/// the work budget spent, or the work stopped.
pub fn suggest(
    index: &BusyIndex,
    draft: &DraftEvent,
    constraints: &SuggestConstraints,
    now: DateTime<Utc>,
    work: &mut Work,
) -> Result<Vec<Suggestion>, SuggestError> {
    let resolved = constraints.resolve()?;
    let zone = resolved.zone.unwrap_or_else(|| draft_zone(draft));
    let Some((start, end)) = draft_span(draft, zone) else {
        return Ok(Vec::new());
    };
    let original = Original {
        start,
        length: end - start,
        local: start.with_timezone(&zone).naive_local(),
        zone,
    };
    let mut slots = Vec::new();
    for day in 0..=i64::from(resolved.max_days) {
        work.spend(1440 / u64::try_from(resolved.granularity).unwrap_or(1).max(1))?;
        let date = original.local.date() + Duration::days(day);
        slots.extend(
            day_slots(&resolved, &original, date)
                .into_iter()
                .filter(|&slot| {
                    slot != original.start
                        && slot >= now
                        && offset_allowed(&resolved, slot - original.start)
                })
                .map(|slot| (slot, day)),
        );
    }
    // A slot in a spring-forward gap can repeat an earlier instant.
    slots.sort_by_key(|&(slot, _)| slot);
    slots.dedup_by_key(|&mut (slot, _)| slot);
    let starts = Starts::new(
        slots.iter().map(|(slot, _)| slot.timestamp()).collect(),
        resolved.granularity * 60,
    );
    let (before, after) = rooms(draft);
    let length = original.length.num_seconds();
    let (before, after) = (before.num_seconds(), length + after.num_seconds());
    let mut busy = Blocked::new(&starts, (before, after));
    if let Some((first, last)) = starts.range() {
        // Everything around the slots, once, in start order.
        index.visit_overlaps(first - before, last + after, &mut |position| {
            if !index.is_excluded(position, draft.event_id.as_ref()) {
                busy.add(index.span(position));
            }
            true
        });
    }
    let (free, total) = attendees_free(&constraints.attendees, &starts, length, work)?;
    let mut candidates: Vec<Suggestion> = slots
        .iter()
        .zip(busy.flags())
        .zip(&free)
        .filter(|((_, busy), _)| !busy)
        .map(|(((slot, day), _), free)| {
            let attendees = if total > 0.0 { free / total } else { 1.0 };
            score(&resolved, &original, attendees, *slot, *day)
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| distance(a, &original).cmp(&distance(b, &original)))
            .then_with(|| b.start.cmp(&a.start))
    });
    let mut chosen: Vec<Suggestion> = Vec::new();
    for candidate in candidates {
        if chosen.len() == resolved.limit {
            break;
        }
        if chosen
            .iter()
            .all(|c| candidate.end <= c.start || candidate.start >= c.end)
        {
            chosen.push(candidate);
        }
    }
    Ok(chosen)
}

fn distance(suggestion: &Suggestion, original: &Original) -> Duration {
    (suggestion.start - original.start).abs()
}

fn offset_allowed(resolved: &Resolved, offset: Duration) -> bool {
    let minutes = offset.num_minutes().abs();
    minutes >= resolved.min_offset && resolved.max_offset.is_none_or(|max| minutes <= max)
}

/// Candidate starts on `date`: a grid from local midnight, inside the day's
/// working hours (or the whole day when times outside them are allowed), the
/// slot ending by the window's end.
fn day_slots(resolved: &Resolved, original: &Original, date: NaiveDate) -> Vec<DateTime<Utc>> {
    let weekday = date.weekday();
    let weekend = weekday.num_days_from_monday() >= 5;
    if weekend && !resolved.weekends {
        return Vec::new();
    }
    let midnight = date.and_time(NaiveTime::MIN);
    let hours = resolved.hours[weekday.num_days_from_monday() as usize];
    let (open, close) = match (hours, resolved.outside_hours) {
        (_, true) => (midnight, midnight + Duration::days(1)),
        (None, false) => return Vec::new(),
        (Some(h), false) => (
            date.and_time(h.start),
            h.end
                .map_or(midnight + Duration::days(1), |end| date.and_time(end)),
        ),
    };
    let step = Duration::minutes(resolved.granularity);
    let mut slots = Vec::new();
    let mut local = midnight;
    while local < close {
        if local >= open
            && let Some(slot) = local_to_utc(local, original.zone)
        {
            let slot_end = (slot + original.length)
                .with_timezone(&original.zone)
                .naive_local();
            // A slot inside a DST gap maps to the same instant as its neighbour.
            if slot_end <= close && slots.last() != Some(&slot) {
                slots.push(slot);
            }
        }
        local += step;
    }
    slots
}

/// A candidate's score; `attendees_part` is the weighted share of attendees free.
fn score(
    resolved: &Resolved,
    original: &Original,
    attendees_part: f64,
    slot: DateTime<Utc>,
    day: i64,
) -> Suggestion {
    let end = slot + original.length;
    let proximity = if day == 0 {
        let hours = (slot - original.start).num_minutes() as f64 / 60.0;
        let cost = if hours >= 0.0 {
            hours
        } else {
            -hours * EARLIER_COST
        };
        0.6 + 0.4 / (1.0 + cost / 2.0)
    } else if day < 7 {
        0.55 - 0.05 * (day - 1) as f64
    } else {
        0.25 * 0.9_f64.powi((day - 7) as i32)
    };
    let local = slot.with_timezone(&original.zone).naive_local();
    let clock = |t: NaiveDateTime| f64::from(t.num_seconds_from_midnight()) / 3600.0;
    let clock_gap = (clock(local) - clock(original.local)).abs();
    let time_of_day = 1.0 - clock_gap.min(24.0 - clock_gap).min(12.0) / 12.0;
    let preferences = preference(resolved, original, local, end);
    Suggestion {
        start: slot,
        end,
        score: WEIGHT_PROXIMITY * proximity
            + WEIGHT_TIME_OF_DAY * time_of_day
            + WEIGHT_ATTENDEES * attendees_part
            + WEIGHT_PREFERENCES * preferences,
        score_parts: ScoreParts {
            proximity,
            time_of_day,
            attendees: attendees_part,
            preferences,
        },
    }
}

fn preference(
    resolved: &Resolved,
    original: &Original,
    local: NaiveDateTime,
    end: DateTime<Utc>,
) -> f64 {
    let local_end = end.with_timezone(&original.zone).naive_local();
    let date = local.date();
    let mut value: f64 = 1.0;
    let index = date.weekday().num_days_from_monday() as usize;
    let inside = resolved.hours[index].is_some_and(|h| {
        let close = h
            .end
            .map_or(date.and_time(NaiveTime::MIN) + Duration::days(1), |e| {
                date.and_time(e)
            });
        local >= date.and_time(h.start) && local_end <= close
    });
    if !inside {
        value -= 0.4;
    }
    if index >= 5 {
        value -= 0.2;
    }
    let eight = NaiveTime::from_hms_opt(8, 0, 0).expect("08:00 is a valid time");
    let twenty = NaiveTime::from_hms_opt(20, 0, 0).expect("20:00 is a valid time");
    if resolved.avoid_early && local.time() < eight {
        value -= 0.3;
    }
    if resolved.avoid_late && local_end > date.and_time(twenty) {
        value -= 0.3;
    }
    value.max(0.0)
}
