//! Conflict classification: double booking, overlap, which buffer, and what
//! never conflicts.

use super::*;
use calsync::model::{BufferKind, ConflictReason, EventId};
use calsync::schedule::find_conflicts;

fn one_event(event: ProviderEvent) -> BusyIndex {
    index(&[calendar("google", vec![event])], Tz::UTC)
}

fn reasons(index: &BusyIndex, draft: &DraftEvent) -> Vec<(ConflictReason, Option<BufferKind>)> {
    find_conflicts(index, draft)
        .iter()
        .map(|c| (c.reason, c.buffer))
        .collect()
}

#[test]
fn same_start_and_end_is_a_double_booking_and_overlap_otherwise() {
    let utc = Tz::UTC;
    let index = one_event(timed(
        "a",
        at(utc, 2025, 3, 3, 10, 0),
        at(utc, 2025, 3, 3, 11, 0),
        utc,
    ));
    let same = draft(
        at(utc, 2025, 3, 3, 10, 0),
        at(utc, 2025, 3, 3, 11, 0),
        utc,
        (0, 0, 0),
    );
    assert_eq!(
        reasons(&index, &same),
        vec![(ConflictReason::DoubleBooking, None)]
    );
    let shifted = draft(
        at(utc, 2025, 3, 3, 10, 30),
        at(utc, 2025, 3, 3, 11, 30),
        utc,
        (0, 0, 0),
    );
    assert_eq!(
        reasons(&index, &shifted),
        vec![(ConflictReason::TimeOverlap, None)]
    );
    let touching = draft(
        at(utc, 2025, 3, 3, 11, 0),
        at(utc, 2025, 3, 3, 12, 0),
        utc,
        (0, 0, 0),
    );
    assert!(
        reasons(&index, &touching).is_empty(),
        "back-to-back is no conflict without buffers"
    );
}

#[test]
fn buffer_violations_say_which_buffer() {
    let utc = Tz::UTC;
    let index = one_event(timed(
        "a",
        at(utc, 2025, 3, 3, 10, 0),
        at(utc, 2025, 3, 3, 11, 0),
        utc,
    ));
    // Draft starts 10 minutes after the event ends.
    let after_event = |rooms| {
        draft(
            at(utc, 2025, 3, 3, 11, 10),
            at(utc, 2025, 3, 3, 12, 0),
            utc,
            rooms,
        )
    };
    assert_eq!(
        reasons(&index, &after_event((15, 0, 0))),
        vec![(ConflictReason::BufferViolation, Some(BufferKind::Before))]
    );
    assert_eq!(
        reasons(&index, &after_event((5, 0, 30))),
        vec![(
            ConflictReason::BufferViolation,
            Some(BufferKind::TravelTime)
        )]
    );
    assert!(
        reasons(&index, &after_event((10, 0, 10))).is_empty(),
        "a gap equal to the buffer is enough"
    );
    // Draft ends 5 minutes before the event starts.
    let before_event = |rooms| {
        draft(
            at(utc, 2025, 3, 3, 9, 0),
            at(utc, 2025, 3, 3, 9, 55),
            utc,
            rooms,
        )
    };
    assert_eq!(
        reasons(&index, &before_event((0, 10, 0))),
        vec![(ConflictReason::BufferViolation, Some(BufferKind::After))]
    );
    assert_eq!(
        reasons(&index, &before_event((0, 0, 20))),
        vec![(
            ConflictReason::BufferViolation,
            Some(BufferKind::TravelTime)
        )]
    );
    assert!(
        reasons(&index, &before_event((30, 0, 0))).is_empty(),
        "the buffer before does not look after"
    );
}

#[test]
fn free_cancelled_and_declined_events_never_conflict() {
    let utc = Tz::UTC;
    let (start, end) = (at(utc, 2025, 3, 3, 10, 0), at(utc, 2025, 3, 3, 11, 0));
    let mut free = timed("free", start, end, utc);
    free.transparency = Transparency::Free;
    let mut cancelled = timed("cancelled", start, end, utc);
    cancelled.status = EventStatus::Cancelled;
    let mut declined = timed("declined", start, end, utc);
    declined.declined = true;
    let mut tentative = timed("tentative", start, end, utc);
    tentative.status = EventStatus::Tentative;
    let index = index(
        &[calendar(
            "google",
            vec![free, cancelled, declined, tentative],
        )],
        utc,
    );
    let conflicts = find_conflicts(&index, &draft(start, end, utc, (0, 0, 0)));
    let ids: Vec<&str> = conflicts.iter().map(|c| &*c.existing[0].event_id).collect();
    assert_eq!(ids, vec!["tentative"]);
}

#[test]
fn the_rescheduled_event_never_conflicts_with_itself() {
    let utc = Tz::UTC;
    let (start, end) = (at(utc, 2025, 3, 3, 10, 0), at(utc, 2025, 3, 3, 11, 0));
    let mut own = timed("own", start, end, utc);
    own.synced_id = Some(EventId::from("evt-1"));
    let other = timed("other", start, end, utc);
    let index = index(
        &[
            calendar("google", vec![own.clone()]),
            calendar("outlook", vec![own, other]),
        ],
        utc,
    );
    let mut moving = draft(start, end, utc, (0, 0, 0));
    moving.event_id = Some(EventId::from("evt-1"));
    let conflicts = find_conflicts(&index, &moving);
    assert_eq!(conflicts.len(), 1);
    assert_eq!(&*conflicts[0].existing[0].event_id, "other");
    assert_eq!(conflicts[0].existing[0].account.as_str(), "outlook");
}

#[test]
fn a_conflict_names_the_occurrence_with_its_own_times() {
    let berlin = Tz::Europe__Berlin;
    let mut weekly = timed(
        "weekly",
        at(berlin, 2025, 1, 6, 9, 0),
        at(berlin, 2025, 1, 6, 10, 0),
        berlin,
    );
    weekly.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=MO".into()];
    let index = index(&[calendar("apple", vec![weekly])], berlin);
    let probe = draft(
        at(berlin, 2025, 6, 16, 9, 30),
        at(berlin, 2025, 6, 16, 10, 30),
        berlin,
        (0, 0, 0),
    );
    let conflicts = find_conflicts(&index, &probe);
    assert_eq!(conflicts.len(), 1);
    let existing = &conflicts[0].existing[0];
    assert_eq!(existing.uid.as_deref(), Some("weekly@test"));
    assert_eq!(existing.account.as_str(), "apple");
    assert_eq!(
        existing.start,
        EventTime::Instant(at(berlin, 2025, 6, 16, 9, 0))
    );
    assert_eq!(
        existing.end,
        EventTime::Instant(at(berlin, 2025, 6, 16, 10, 0))
    );
}

/// A zero-length event (a reminder, a deadline) at the draft's very start is
/// inside the draft: an overlap, not a buffer violation nor nothing; one at
/// the draft's end is not.
#[test]
fn a_zero_length_event_at_the_drafts_start_overlaps() {
    let utc = Tz::UTC;
    let ten = at(utc, 2025, 3, 3, 10, 0);
    let eleven = at(utc, 2025, 3, 3, 11, 0);
    let at_start = one_event(timed("a", ten, ten, utc));
    let plain = draft(ten, eleven, utc, (0, 0, 0));
    assert_eq!(
        reasons(&at_start, &plain),
        vec![(ConflictReason::TimeOverlap, None)]
    );
    let buffered = draft(ten, eleven, utc, (15, 15, 0));
    assert_eq!(
        reasons(&at_start, &buffered),
        vec![(ConflictReason::TimeOverlap, None)]
    );
    let at_end = one_event(timed("b", eleven, eleven, utc));
    assert_eq!(reasons(&at_end, &plain), vec![]);
}

/// A zero-length event exactly where a buffer ends keeps the buffer.
#[test]
fn a_zero_length_event_at_a_buffers_edge_does_not_conflict() {
    let utc = Tz::UTC;
    let ten = at(utc, 2025, 3, 3, 10, 0);
    let eleven = at(utc, 2025, 3, 3, 11, 0);
    let edge = at(utc, 2025, 3, 3, 9, 45);
    let index = one_event(timed("a", edge, edge, utc));
    assert_eq!(
        reasons(&index, &draft(ten, eleven, utc, (15, 0, 0))),
        vec![]
    );
    let inside = at(utc, 2025, 3, 3, 9, 50);
    let index = one_event(timed("b", inside, inside, utc));
    assert_eq!(
        reasons(&index, &draft(ten, eleven, utc, (15, 0, 0))),
        vec![(ConflictReason::BufferViolation, Some(BufferKind::Before))]
    );
}
