//! Durable intent: a crash mid-commit loses nothing and duplicates nothing.

use super::support::*;
use calsync::model::Provider;
use calsync::operations::OperationStatus;
use calsync::providers::sandbox::FaultKind;

on_every_store!(a_commit_cut_off_by_a_hanging_provider_resumes_exactly_once_after_reopening,);

async fn a_commit_cut_off_by_a_hanging_provider_resumes_exactly_once_after_reopening(
    mut h: Harness,
) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    // Outlook takes the create and never answers; then the process dies.
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::HangAfterApply);
    let crash = event("Crash", tuesday(10), 30);
    let both = [google.id.clone(), outlook.id.clone()];
    tokio::select! {
        answer = h.sync.commit(&ada, &crash, &both) => {
            panic!("the commit answered while Outlook hangs: {answer:?}")
        }
        () = h.provider(Provider::Outlook).until_waiting(1) => {}
    }
    assert_eq!(h.events_on(&outlook).len(), 1, "the create reached Outlook");

    h.reopen().await;
    // Nothing resumes while the dead instance's lease holds.
    assert!(h.sync.resume_operations().await.expect("resume").is_empty());
    h.clock.advance(chrono::Duration::minutes(5));
    let resumed = h.sync.resume_operations().await.expect("resume");
    assert!(!resumed.is_empty());
    assert!(
        resumed
            .iter()
            .all(|op| op.status == OperationStatus::Succeeded),
        "{resumed:#?}"
    );

    let events = h.store.synced_events_of_user(&ada).await.expect("events");
    assert_eq!(events.len(), 1, "one synced event");
    let synced = &events[0];
    assert_eq!(synced.accounts.len(), 2);
    assert_eq!(h.events_on(&google).len(), 1, "exactly once on Google");
    assert_eq!(h.events_on(&outlook).len(), 1, "exactly once on Outlook");
    assert_eq!(
        h.events_on(&outlook)[0].event.event_id,
        synced.provider_ids[&outlook.id].event_id
    );
    assert_eq!(h.provider(Provider::Outlook).counts().creates, 1);
    h.assert_invariants(&[&ada]).await;
    // And nothing is left to do.
    h.clock.advance(chrono::Duration::minutes(5));
    assert!(h.sync.resume_operations().await.expect("resume").is_empty());
}
