//! The scheduling engine: busy time, conflicts and ranked reschedules.
//!
//! Pure: no I/O and no wall clock ("now" is an argument). The concept reads
//! events from providers, hands them here as [`CalendarEvent`]s, and turns the
//! answers into the spec's conflicts and suggestions.

use crate::model::{
    AccountId, BufferKind, ConflictReason, DraftEvent, EventId, EventTime, ExistingEvent,
    ScoreParts, Suggestion, Transparency, ValidationError,
};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// An event's status on its calendar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// Confirmed (the default).
    #[default]
    Confirmed,
    /// Tentative: still busy.
    Tentative,
    /// Cancelled: never busy.
    Cancelled,
}

/// An event as read from a calendar: what busy time is computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEvent {
    /// The provider's id for the event (for an override: of the override).
    pub event_id: String,
    /// The iCalendar UID; a series and its overrides share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// Start: an instant, or a date for all-day events.
    pub start: EventTime,
    /// End (exclusive): an instant, or a date for all-day events.
    pub end: EventTime,
    /// The zone the event lives in and its recurrence expands in (IANA, or a
    /// Windows name as Outlook sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Busy or free.
    #[serde(default)]
    pub transparency: Transparency,
    /// Confirmed, tentative or cancelled.
    #[serde(default)]
    pub status: EventStatus,
    /// Whether the user declined it.
    #[serde(default)]
    pub declined: bool,
    /// RFC 5545 recurrence lines (`RRULE:`, `RDATE:`, `EXDATE:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurrence: Vec<String>,
    /// For an overridden or cancelled instance: the instance's original start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<EventTime>,
    /// calsync's id, when calsync wrote the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_id: Option<EventId>,
}

/// The events of one account.
#[derive(Clone, Debug)]
pub struct AccountCalendar {
    /// The account they were read from.
    pub account: AccountId,
    /// Its events (series masters unexpanded).
    pub events: Vec<CalendarEvent>,
}

/// Something wrong with one input event; the rest is still used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The account the event came from.
    pub account: AccountId,
    /// The event.
    pub event_id: String,
    /// What is wrong.
    pub message: String,
}

/// One busy occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Busy {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    existing: ExistingEvent,
    synced_id: Option<EventId>,
}

/// Busy time of a user's accounts over a window, ready for queries.
#[derive(Clone, Debug, Default)]
pub struct BusyIndex {
    busy: Vec<Busy>,
}

impl BusyIndex {
    /// Builds the index of busy occurrences between `window_start` and
    /// `window_end`; all-day events become busy days in `user_zone`.
    pub fn build(
        calendars: &[AccountCalendar],
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
        user_zone: Tz,
    ) -> (BusyIndex, Vec<Problem>) {
        let mut busy = Vec::new();
        let problems = Vec::new();
        for calendar in calendars {
            for event in &calendar.events {
                if event.status == EventStatus::Cancelled
                    || event.declined
                    || event.transparency == Transparency::Free
                {
                    continue;
                }
                let Some((start, end)) = span(event.start, event.end, user_zone) else {
                    continue;
                };
                if end <= window_start || start >= window_end {
                    continue;
                }
                busy.push(Busy {
                    start,
                    end,
                    existing: ExistingEvent {
                        account: calendar.account.clone(),
                        event_id: event.event_id.clone(),
                        uid: event.uid.clone(),
                        title: event.title.clone(),
                        start: event.start,
                        end: event.end,
                        all_day: matches!(event.start, EventTime::Date(_)),
                    },
                    synced_id: event.synced_id.clone(),
                });
            }
        }
        busy.sort_by_key(|b| b.start);
        (BusyIndex { busy }, problems)
    }

    fn overlapping(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        exclude: Option<&EventId>,
    ) -> impl Iterator<Item = &Busy> {
        self.busy.iter().filter(move |b| {
            b.start < end && b.end > start && (exclude.is_none() || b.synced_id.as_ref() != exclude)
        })
    }
}

fn span(start: EventTime, end: EventTime, zone: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match (start, end) {
        (EventTime::Instant(s), EventTime::Instant(e)) => Some((s, e)),
        (EventTime::Date(s), EventTime::Date(e)) => {
            let midnight = |date: chrono::NaiveDate| {
                zone.from_local_datetime(&date.and_time(NaiveTime::MIN))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            };
            Some((midnight(s)?, midnight(e)?))
        }
        _ => None,
    }
}

/// A conflict the engine found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundConflict {
    /// Why.
    pub reason: ConflictReason,
    /// For a buffer violation, which buffer.
    pub buffer: Option<BufferKind>,
    /// The occurrences involved.
    pub existing: Vec<ExistingEvent>,
}

/// The zone a draft's all-day events and working hours are read in: the
/// draft's zone, else UTC.
pub fn draft_zone(draft: &DraftEvent) -> Tz {
    draft
        .event
        .time_zone
        .as_deref()
        .and_then(|zone| zone.parse().ok())
        .unwrap_or(Tz::UTC)
}

fn draft_span(draft: &DraftEvent) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    span(draft.event.start, draft.event.end, draft_zone(draft))
}

/// The window of events detection needs to read for `draft` (its span widened
/// by its buffers and a day each side for all-day events).
pub fn detection_window(draft: &DraftEvent) -> (DateTime<Utc>, DateTime<Utc>) {
    let (start, end) = draft_span(draft).unwrap_or_default();
    let room = Duration::minutes(
        i64::from(
            draft
                .constraints
                .buffer_before
                .max(draft.constraints.buffer_after),
        ) + i64::from(draft.constraints.travel_time),
    );
    (
        start - room - Duration::days(1),
        end + room + Duration::days(1),
    )
}

/// Classifies every existing occurrence that conflicts with `draft`.
pub fn find_conflicts(index: &BusyIndex, draft: &DraftEvent) -> Vec<FoundConflict> {
    let Some((start, end)) = draft_span(draft) else {
        return Vec::new();
    };
    let constraints = draft.constraints;
    let before = Duration::minutes(i64::from(
        constraints.buffer_before.max(constraints.travel_time),
    ));
    let after = Duration::minutes(i64::from(
        constraints.buffer_after.max(constraints.travel_time),
    ));
    let mut found = Vec::new();
    for busy in index.overlapping(start - before, end + after, draft.event_id.as_ref()) {
        let (reason, buffer) = if busy.start == start && busy.end == end {
            (ConflictReason::DoubleBooking, None)
        } else if busy.start < end && busy.end > start {
            (ConflictReason::TimeOverlap, None)
        } else if busy.end <= start {
            let kind = if constraints.buffer_before >= constraints.travel_time {
                BufferKind::Before
            } else {
                BufferKind::TravelTime
            };
            (ConflictReason::BufferViolation, Some(kind))
        } else {
            let kind = if constraints.buffer_after >= constraints.travel_time {
                BufferKind::After
            } else {
                BufferKind::TravelTime
            };
            (ConflictReason::BufferViolation, Some(kind))
        };
        found.push(FoundConflict {
            reason,
            buffer,
            existing: vec![busy.existing.clone()],
        });
    }
    found
}

/// What suggestReschedules honours (the action's `constraints` argument).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuggestConstraints {
    /// The user's zone for working hours and days (default: the draft's zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// How many suggestions to return (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Minutes between candidate starts (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<u32>,
}

/// The window of events suggestion needs to read for `draft`.
pub fn suggestion_window(
    draft: &DraftEvent,
    _constraints: &SuggestConstraints,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (start, end) = draft_span(draft).unwrap_or_default();
    (start - Duration::days(8), end + Duration::days(8))
}

/// Ranked alternatives for `draft` that avoid every busy occurrence.
///
/// # Errors
/// A constraint out of range, naming it.
pub fn suggest(
    index: &BusyIndex,
    draft: &DraftEvent,
    constraints: &SuggestConstraints,
    now: DateTime<Utc>,
) -> Result<Vec<Suggestion>, ValidationError> {
    let Some((start, end)) = draft_span(draft) else {
        return Ok(Vec::new());
    };
    let step = Duration::minutes(i64::from(constraints.granularity.unwrap_or(15).max(1)));
    let limit = constraints.limit.unwrap_or(5) as usize;
    let length = end - start;
    let mut candidates = Vec::new();
    let mut offset = -Duration::hours(8);
    while offset <= Duration::hours(8) {
        let s = start + offset;
        let e = s + length;
        if offset != Duration::zero()
            && s >= now
            && index
                .overlapping(s, e, draft.event_id.as_ref())
                .next()
                .is_none()
        {
            let hours = offset.num_minutes() as f64 / 60.0;
            let cost = if hours >= 0.0 {
                hours
            } else {
                -hours * 2.0 + 0.01
            };
            let proximity = 1.0 / (1.0 + cost);
            candidates.push(Suggestion {
                start: s,
                end: e,
                score: proximity,
                score_parts: ScoreParts {
                    proximity,
                    time_of_day: 1.0,
                    attendees: 1.0,
                    preferences: 1.0,
                },
            });
        }
        offset += step;
    }
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut chosen: Vec<Suggestion> = Vec::new();
    for candidate in candidates {
        if chosen
            .iter()
            .all(|c| candidate.end <= c.start || candidate.start >= c.end)
        {
            chosen.push(candidate);
        }
        if chosen.len() == limit {
            break;
        }
    }
    Ok(chosen)
}

/// Checks one recurrence line (`RRULE:`, `EXRULE:`, `RDATE`, `EXDATE`).
///
/// # Errors
/// What is wrong with the line.
pub fn validate_recurrence_line(line: &str) -> Result<(), String> {
    let upper = line.to_ascii_uppercase();
    if ["RRULE:", "EXRULE:", "RDATE", "EXDATE"]
        .iter()
        .any(|prefix| upper.starts_with(prefix))
    {
        Ok(())
    } else {
        Err(format!(
            "{line:?} is not a recurrence line (RRULE:, EXRULE:, RDATE or EXDATE)"
        ))
    }
}
