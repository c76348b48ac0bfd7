//! Conflict classification: which busy occurrences a draft overlaps,
//! double-books, or crowds within its buffers and travel time.

use super::index::BusyIndex;
use super::{FoundConflict, draft_span};
use crate::model::{BufferKind, ConflictReason, DraftEvent};
use chrono::Duration;

/// The room a draft wants before and after itself: the larger of its buffer
/// and its travel time on each side.
pub(crate) fn rooms(draft: &DraftEvent) -> (Duration, Duration) {
    let c = draft.constraints;
    let minutes = |m: u32| Duration::minutes(i64::from(m));
    (
        minutes(c.buffer_before.max(c.travel_time)),
        minutes(c.buffer_after.max(c.travel_time)),
    )
}

/// Classifies every existing occurrence that conflicts with `draft`:
/// `double_booking` (same start and end), `time_overlap`, or
/// `buffer_violation` inside the buffer before or after the draft or its
/// travel time (the buffer is named when it is the one broken, travel time
/// otherwise). The event the draft reschedules (`draft.event_id`, matched by
/// synced id) never conflicts with itself. Results are in start order.
pub fn find_conflicts(index: &BusyIndex, draft: &DraftEvent) -> Vec<FoundConflict> {
    let Some((start, end)) = draft_span(draft, index.user_zone()) else {
        return Vec::new();
    };
    let (before, after) = rooms(draft);
    let c = draft.constraints;
    let (start, end) = (start.timestamp(), end.timestamp());
    let mut found = Vec::new();
    index.visit_overlaps(
        start - before.num_seconds(),
        end + after.num_seconds(),
        &mut |position| {
            if index.is_excluded(position, draft.event_id.as_ref()) {
                return true;
            }
            let (busy_start, busy_end) = index.span(position);
            let (reason, buffer) = if busy_start == start && busy_end == end {
                (ConflictReason::DoubleBooking, None)
            } else if busy_start < end && (busy_end > start || busy_start == start) {
                (ConflictReason::TimeOverlap, None)
            } else if busy_end <= start - before.num_seconds()
                || busy_start >= end + after.num_seconds()
            {
                // Just outside the buffers: a zero-length occurrence at
                // their very edge.
                return true;
            } else if busy_end <= start {
                let kind = if start - busy_end < i64::from(c.buffer_before) * 60 {
                    BufferKind::Before
                } else {
                    BufferKind::TravelTime
                };
                (ConflictReason::BufferViolation, Some(kind))
            } else {
                let kind = if busy_start - end < i64::from(c.buffer_after) * 60 {
                    BufferKind::After
                } else {
                    BufferKind::TravelTime
                };
                (ConflictReason::BufferViolation, Some(kind))
            };
            found.push(FoundConflict {
                reason,
                buffer,
                existing: vec![index.existing(position).2],
            });
            true
        },
    );
    found
}
