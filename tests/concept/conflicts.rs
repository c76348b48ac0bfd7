//! detectConflicts and suggestReschedules at the concept level: every
//! connected account is read, unknown accounts are said, and suggestions need
//! a detection first.

use super::support::*;
use calsync::model::{ConflictReason, Provider};
use calsync::providers::sandbox::FaultKind;
use serde_json::json;

on_every_store!(
    detect_reads_every_connected_account_and_records_the_conflicts,
    committed_events_are_seen_by_later_detection_and_never_conflict_with_themselves,
    an_unreadable_account_is_unknown_not_free,
    detect_skips_disconnected_accounts_and_other_users,
    detect_requires_a_valid_draft,
    suggest_requires_detected_conflicts_for_the_same_draft_and_time,
);

async fn detect_reads_every_connected_account_and_records_the_conflicts(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.seed_sandbox(
        &ada,
        &google.id,
        vec![existing(
            "g1",
            "Standup",
            tuesday(14) + chrono::Duration::minutes(30),
            30,
        )],
    )
    .await
    .expect("seed");
    h.seed_sandbox(
        &ada,
        &outlook.id,
        vec![existing("o1", "Lunch", tuesday(13), 45)],
    )
    .await
    .expect("seed");
    let mut draft = draft("d1", tuesday(14), 60);
    draft.constraints.buffer_before = 30;
    let report = h.sync.detect_conflicts(&ada, &draft).await.expect("detect");
    let mut reasons: Vec<_> = report
        .conflicts
        .iter()
        .map(|c| {
            (
                c.reason,
                c.existing_events[0].event_id.to_string(),
                c.existing_events[0].account.clone(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            (
                ConflictReason::TimeOverlap,
                "g1".to_owned(),
                google.id.clone()
            ),
            (
                ConflictReason::BufferViolation,
                "o1".to_owned(),
                outlook.id.clone()
            ),
        ]
    );
    let recorded = h
        .store
        .conflicts_of_draft(&ada, &draft.id)
        .await
        .expect("conflicts");
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded
            .iter()
            .all(|c| c.user == ada && c.draft == draft.id)
    );
    // Checking again replaces, not adds.
    h.sync.detect_conflicts(&ada, &draft).await.expect("detect");
    assert_eq!(
        h.store
            .conflicts_of_draft(&ada, &draft.id)
            .await
            .expect("conflicts")
            .len(),
        2
    );
}

async fn committed_events_are_seen_by_later_detection_and_never_conflict_with_themselves(
    h: Harness,
) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Booked", tuesday(10), 60),
            &[google.id.clone()],
        )
        .await
        .expect("commit");
    let report = h
        .sync
        .detect_conflicts(&ada, &draft("d2", tuesday(10), 60))
        .await
        .expect("detect");
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].reason, ConflictReason::DoubleBooking);
    let mut moving = draft("d3", tuesday(10) + chrono::Duration::minutes(30), 60);
    moving.event_id = Some(committed.synced_event.internal_id.clone());
    let report = h
        .sync
        .detect_conflicts(&ada, &moving)
        .await
        .expect("detect");
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
}

async fn an_unreadable_account_is_unknown_not_free(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let apple = h.connect(&ada, Provider::Apple).await;
    h.provider(Provider::Apple)
        .fail_next(1, FaultKind::ServerError);
    let report = h
        .sync
        .detect_conflicts(&ada, &draft("d", tuesday(10), 30))
        .await
        .expect("detect");
    assert_eq!(report.unknown_accounts.len(), 1);
    assert_eq!(report.unknown_accounts[0].account, apple.id);
    assert!(report.unknown_accounts[0].reason.contains("503"));
    let _ = google;
}

async fn detect_skips_disconnected_accounts_and_other_users(h: Harness) {
    let (ada, bob) = (user("ada"), user("bob"));
    let google = h.connect(&ada, Provider::Google).await;
    let bobs = h.connect(&bob, Provider::Google).await;
    h.seed_sandbox(&ada, &google.id, vec![existing("g", "x", tuesday(10), 30)])
        .await
        .expect("seed");
    h.seed_sandbox(&bob, &bobs.id, vec![existing("b", "x", tuesday(10), 30)])
        .await
        .expect("seed");
    h.sync
        .disconnect_account(&ada, &google.id)
        .await
        .expect("disconnect");
    let report = h
        .sync
        .detect_conflicts(&ada, &draft("d", tuesday(10), 30))
        .await
        .expect("detect");
    assert!(report.conflicts.is_empty());
    assert!(report.unknown_accounts.is_empty());
}

async fn detect_requires_a_valid_draft(h: Harness) {
    let ada = user("ada");
    h.connect(&ada, Provider::Google).await;
    let mut bad = draft("d", tuesday(10), 30);
    bad.event.end = bad.event.start;
    let error = h
        .sync
        .detect_conflicts(&ada, &bad)
        .await
        .expect_err("invalid");
    assert!(error.to_string().contains("draft.end"), "{error}");
    assert!(
        h.store
            .conflicts_of_draft(&ada, &bad.id)
            .await
            .expect("conflicts")
            .is_empty()
    );
    assert_eq!(h.provider(Provider::Google).counts().lists, 0);
}

async fn suggest_requires_detected_conflicts_for_the_same_draft_and_time(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    h.seed_sandbox(&ada, &google.id, vec![existing("g", "x", tuesday(14), 60)])
        .await
        .expect("seed");
    let draft = draft("d", tuesday(14), 60);
    let error = h
        .sync
        .suggest_reschedules(&ada, &draft, &json!({}))
        .await
        .expect_err("not detected");
    assert_eq!(error.kind(), "conflicts_not_detected");
    h.sync.detect_conflicts(&ada, &draft).await.expect("detect");
    let mut moved = draft.clone();
    moved.event.start = tuesday(16).into();
    moved.event.end = tuesday(17).into();
    let error = h
        .sync
        .suggest_reschedules(&ada, &moved, &json!({}))
        .await
        .expect_err("other time");
    assert_eq!(error.kind(), "conflicts_not_detected");
    let error = h
        .sync
        .suggest_reschedules(&user("bob"), &draft, &json!({}))
        .await
        .expect_err("another user's draft");
    assert_eq!(error.kind(), "conflicts_not_detected");
    let error = h
        .sync
        .suggest_reschedules(&ada, &draft, &json!({"bogus": 1}))
        .await
        .expect_err("unknown constraint");
    assert!(error.to_string().contains("bogus"), "{error}");
    let found = h
        .sync
        .suggest_reschedules(&ada, &draft, &json!({}))
        .await
        .expect("suggest");
    assert!(!found.suggestions.is_empty());
    for suggestion in &found.suggestions {
        assert!(
            suggestion.end <= tuesday(14) || suggestion.start >= tuesday(15),
            "{suggestion:?}"
        );
    }
}
