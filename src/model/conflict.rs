//! The spec's `Conflict`, and the answers of detectConflicts and suggestReschedules.

use crate::model::{AccountId, ConflictId, DraftId, EventTime, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Why a draft conflicts: `time_overlap`, `buffer_violation` or `double_booking`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictReason {
    /// The times intersect.
    TimeOverlap,
    /// The other event falls within the draft's buffer or travel time.
    BufferViolation,
    /// Same start and same end.
    DoubleBooking,
}

/// Which room around the draft a buffer violation falls into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BufferKind {
    /// The buffer before the draft.
    Before,
    /// The buffer after the draft.
    After,
    /// Travel time (before or after the draft).
    TravelTime,
}

/// An existing occurrence a draft conflicts with. Its texts are shared with
/// the busy index that found it (serialized as plain strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingEvent {
    /// The account it was read from.
    pub account: AccountId,
    /// The provider's id for the event.
    pub event_id: Arc<str>,
    /// The iCalendar UID of its series, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<Arc<str>>,
    /// Its title.
    pub title: Arc<str>,
    /// The occurrence's own start.
    pub start: EventTime,
    /// The occurrence's own end.
    pub end: EventTime,
    /// Whether it is an all-day event.
    pub all_day: bool,
}

/// A conflict between a draft and existing events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The conflict's id.
    pub id: ConflictId,
    /// The user whose draft it is.
    pub user: UserId,
    /// The draft's id.
    pub draft: DraftId,
    /// The draft's start as it was checked. Only the draft's times are kept
    /// with each conflict (never its description, attendees and the like),
    /// so that a report's size depends on the conflicts, not on the draft.
    pub draft_start: EventTime,
    /// The draft's end as it was checked.
    pub draft_end: EventTime,
    /// Why it conflicts.
    pub reason: ConflictReason,
    /// For a buffer violation, which buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<BufferKind>,
    /// The conflicting occurrences.
    pub existing_events: Vec<ExistingEvent>,
    /// When it was detected.
    pub detected_at: DateTime<Utc>,
}

/// An account whose events could not be read, so its busy time is unknown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownAccount {
    /// The account.
    pub account: AccountId,
    /// Why it could not be read.
    pub reason: String,
}

/// The answer of detectConflicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConflictReport {
    /// The conflicts found.
    pub conflicts: Vec<Conflict>,
    /// Accounts that could not be read: their busy time is unknown, not free.
    pub unknown_accounts: Vec<UnknownAccount>,
}

/// The parts a suggestion's score is made of, each between 0 and 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreParts {
    /// Closeness to the original time.
    pub proximity: f64,
    /// Similarity of time of day.
    pub time_of_day: f64,
    /// Share of attendees free (required ones weigh more).
    pub attendees: f64,
    /// Fit with the user's preferences (working hours, no early mornings or late nights).
    pub preferences: f64,
}

/// A proposed alternative time for a draft.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// When it would start.
    pub start: DateTime<Utc>,
    /// When it would end.
    pub end: DateTime<Utc>,
    /// The overall score (higher is better).
    pub score: f64,
    /// What the score is made of.
    pub score_parts: ScoreParts,
}
