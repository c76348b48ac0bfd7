//! The operational principle, step by step.

use super::support::*;
use calsync::model::{ConflictReason, Provider, SyncResultStatus};
use serde_json::json;

on_every_store!(the_operational_principle_holds,);

async fn the_operational_principle_holds(h: Harness) {
    let ada = user("ada");

    // The user connects Google Calendar and Outlook accounts.
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    h.assert_invariants(&[&ada]).await;

    // Google already has an event at 2pm Tuesday.
    h.seed_sandbox(
        &ada,
        &google.id,
        vec![existing("busy1", "Design review", tuesday(14), 60)],
    )
    .await
    .expect("seed");

    // A validated draft for 2pm Tuesday: detectConflicts queries both accounts
    // and finds the existing event at 2pm in Google Calendar.
    let draft = draft("draft-1", tuesday(14), 60);
    let report = h.sync.detect_conflicts(&ada, &draft).await.expect("detect");
    assert!(report.unknown_accounts.is_empty());
    assert_eq!(report.conflicts.len(), 1);
    let conflict = &report.conflicts[0];
    assert_eq!(conflict.reason, ConflictReason::DoubleBooking);
    assert_eq!(conflict.existing_events[0].account, google.id);
    assert_eq!(&*conflict.existing_events[0].event_id, "busy1");
    assert_eq!(h.provider(Provider::Google).counts().lists, 1);
    assert_eq!(h.provider(Provider::Outlook).counts().lists, 1);

    // suggestReschedules proposes 3pm, 4pm, 1pm, in that order.
    let suggestions = h
        .sync
        .suggest_reschedules(&ada, &draft, &json!({}))
        .await
        .expect("suggest");
    let starts: Vec<_> = suggestions
        .suggestions
        .iter()
        .take(3)
        .map(|s| s.start)
        .collect();
    assert_eq!(starts, vec![tuesday(15), tuesday(16), tuesday(13)]);

    // The user selects 3pm; commit creates the event in both calendars.
    let chosen = &suggestions.suggestions[0];
    let event = event("Project sync", chosen.start, 60);
    let committed = h
        .sync
        .commit(&ada, &event, &[google.id.clone(), outlook.id.clone()])
        .await
        .expect("commit");
    assert!(committed.stored);
    assert!(
        committed
            .results
            .values()
            .all(|r| r.status == SyncResultStatus::Succeeded)
    );
    let synced = committed.synced_event;
    assert_eq!(synced.accounts.len(), 2);
    let google_id = &synced.provider_ids[&google.id];
    let outlook_id = &synced.provider_ids[&outlook.id];
    assert_eq!(google_id.provider, Provider::Google);
    assert_eq!(outlook_id.provider, Provider::Outlook);
    assert_ne!(
        google_id.event_id, outlook_id.event_id,
        "each provider has its own id"
    );
    assert_eq!(
        h.events_on(&google).len(),
        2,
        "the busy event and the new one"
    );
    assert_eq!(h.events_on(&outlook).len(), 1);
    h.assert_invariants(&[&ada]).await;

    // Later the user updates the location; the change reaches both providers
    // through the stored ids.
    let changes = json!({"location": "Room 4"});
    let updated = h
        .sync
        .update(
            &ada,
            &synced.internal_id,
            changes.as_object().expect("object"),
        )
        .await
        .expect("update");
    assert!(
        updated
            .results
            .values()
            .all(|r| r.status == SyncResultStatus::Succeeded)
    );
    for account in [&google, &outlook] {
        let copy = h
            .events_on(account)
            .into_iter()
            .find(|e| e.event.synced_id.as_ref() == Some(&synced.internal_id))
            .expect("the provider has the event");
        let details = copy.details.expect("written by calsync");
        assert_eq!(details.location.as_deref(), Some("Room 4"));
        assert_eq!(copy.event.start, event.start);
    }
    let stored = h
        .sync
        .get_synced_event(&ada, &synced.internal_id)
        .await
        .expect("get")
        .expect("synced");
    assert_eq!(stored.event.location.as_deref(), Some("Room 4"));
    assert!(stored.synced_at >= synced.synced_at);
    h.assert_invariants(&[&ada]).await;
}
