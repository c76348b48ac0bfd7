//! The scheduling engine: busy time, conflicts and ranked reschedules.
//!
//! Pure: no I/O and no wall clock ("now" is an argument). The concept reads
//! events from providers, hands them here as [`ProviderEvent`]s, and turns the
//! answers into the spec's conflicts and suggestions.
//!
//! | file | what it does |
//! |---|---|
//! | `recurrence` | RRULE/EXRULE/RDATE/EXDATE (read by [`crate::model::recurrence`]), expanded in the event's zone |
//! | `simple_rule` | plain daily and weekly rules, expanded directly |
//! | `index` | [`BusyIndex`]: busy occurrences with an interval query |
//! | `conflicts` | [`find_conflicts`]: overlap, double booking, buffers |
//! | `constraints` | [`SuggestConstraints`] and its checks |
//! | `suggest` | [`suggest`]: ranked, distinct alternatives |
//! | `busy_runs` | which candidate slots busy spans block, in one pass |
//! | `ics` | [`ics::events_from_ics`]: iCalendar text to [`ProviderEvent`]s |
//! | `work` | [`Work`]: the units of work one request may spend, and its stop switch |

mod busy_runs;
mod conflicts;
mod constraints;
pub mod ics;
mod index;
pub mod recurrence;
mod simple_rule;
mod suggest;
pub mod work;

pub use crate::model::zones::resolve_zone;
pub use conflicts::find_conflicts;
pub use constraints::{
    AttendeeAvailability, BusySpan, DayHours, MAX_AVAILABILITY_ATTENDEES, MAX_BUSY_SPANS,
    SuggestConstraints, WorkingHours,
};
pub use index::{BusyIndex, BusyOccurrence, IndexOutOfWork};
pub use recurrence::{RecurrenceError, validate_recurrence_line};
pub use suggest::{SuggestError, suggest, suggestion_window};
pub use work::{OutOfWork, StopSwitch, Work};

use crate::model::{
    AccountId, BufferKind, ConflictReason, DraftEvent, EventId, EventTime, ExistingEvent,
    Transparency,
};
use chrono::{DateTime, Duration, Utc};
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

/// A provider event: the copy of an event on one provider's calendar, as
/// read from it (or from an .ics export); what busy time is computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderEvent {
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
    /// For an override: whether it moves this instance and every later one
    /// (`RECURRENCE-ID;RANGE=THISANDFUTURE`, RFC 5545 §3.8.4.4), each by the
    /// same shift and to the same length.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub this_and_future: bool,
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
    pub events: Vec<ProviderEvent>,
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

/// The zone a draft's all-day days and working hours are read in: the
/// draft's zone (IANA or Windows name), else UTC.
pub fn draft_zone(draft: &DraftEvent) -> Tz {
    draft
        .event
        .time_zone
        .as_deref()
        .and_then(resolve_zone)
        .unwrap_or(Tz::UTC)
}

/// The draft's span in UTC; an all-day draft covers its days in `zone`.
pub(crate) fn draft_span(draft: &DraftEvent, zone: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let span = match (draft.event.start, draft.event.end) {
        (EventTime::Instant(start), EventTime::Instant(end)) => (start, end),
        (EventTime::Date(start), EventTime::Date(end)) => {
            let (start, end) = index::day_span(start, end, zone)?;
            (
                DateTime::from_timestamp(start, 0)?,
                DateTime::from_timestamp(end, 0)?,
            )
        }
        _ => return None,
    };
    (span.1 >= span.0).then_some(span)
}

/// The window of events detection needs to read for `draft`: its span widened
/// by its buffers and travel time, and a day each side so all-day events in
/// any zone are seen.
pub fn detection_window(draft: &DraftEvent) -> (DateTime<Utc>, DateTime<Utc>) {
    let (start, end) = draft_span(draft, draft_zone(draft)).unwrap_or_default();
    let (before, after) = conflicts::rooms(draft);
    (
        start - before - Duration::days(1),
        end + after + Duration::days(1),
    )
}
