//! The spec's operational principle, as far as the engine plays it: a draft
//! at 2pm Tuesday, an existing event at 2pm on another account; the engine
//! finds the conflict and proposes 3pm, 4pm, 1pm, in that order.

use super::*;
use calsync::model::ConflictReason;
use calsync::schedule::{SuggestConstraints, find_conflicts, suggest};

#[test]
fn a_2pm_tuesday_draft_against_a_2pm_event_gets_3pm_4pm_1pm() {
    let ny = Tz::America__New_York;
    // 2025-01-07 is a Tuesday.
    let google = calendar(
        "google",
        vec![timed(
            "standup",
            at(ny, 2025, 1, 7, 14, 0),
            at(ny, 2025, 1, 7, 15, 0),
            ny,
        )],
    );
    let outlook = calendar(
        "outlook",
        vec![timed(
            "lunch",
            at(ny, 2025, 1, 7, 12, 0),
            at(ny, 2025, 1, 7, 12, 30),
            ny,
        )],
    );
    let index = index(&[google, outlook], ny);
    let draft = draft(
        at(ny, 2025, 1, 7, 14, 0),
        at(ny, 2025, 1, 7, 15, 0),
        ny,
        (0, 0, 0),
    );

    let conflicts = find_conflicts(&index, &draft);
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].reason, ConflictReason::DoubleBooking);
    assert_eq!(conflicts[0].existing[0].account.as_str(), "google");

    let now = at(ny, 2025, 1, 6, 9, 0);
    let suggestions = suggest(
        &index,
        &draft,
        &SuggestConstraints::default(),
        now,
        &mut Work::default(),
    )
    .expect("defaults are valid");
    let starts: Vec<DateTime<Utc>> = suggestions.iter().take(3).map(|s| s.start).collect();
    assert_eq!(
        starts,
        vec![
            at(ny, 2025, 1, 7, 15, 0),
            at(ny, 2025, 1, 7, 16, 0),
            at(ny, 2025, 1, 7, 13, 0)
        ]
    );
    for pair in suggestions.windows(2) {
        assert!(pair[0].score >= pair[1].score, "ranked best first");
    }
    for s in &suggestions {
        assert_eq!(
            s.end - s.start,
            Duration::hours(1),
            "keeps the draft's length"
        );
    }
}
