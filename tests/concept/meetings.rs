//! A video meeting attached to a synced event: made on the meeting service
//! before the calendar copies, its link written into each copy (at once,
//! or by itself when the meeting is made later), moved with its event,
//! deleted with it, and never read as busy time.

use super::support::*;
use calsync::model::{Account, Provider, SyncResultStatus, SyncedEvent, UserId};
use serde_json::json;

on_every_store!(
    a_meeting_made_in_time_puts_its_link_into_each_calendar_copy_written_once,
    a_meeting_made_late_brings_its_link_into_every_copy_by_itself,
    moving_the_event_moves_the_meeting_and_every_copy_keeps_the_link,
    a_cancel_deletes_the_meeting,
    conflicts_never_read_the_meeting_service,
);

async fn three_accounts(h: &Harness, ada: &UserId) -> (Account, Account, Account) {
    (
        h.connect(ada, Provider::Google).await,
        h.connect(ada, Provider::Outlook).await,
        h.connect(ada, Provider::Zoom).await,
    )
}

/// The meeting's link as the synced event holds it.
fn link_of(synced: &SyncedEvent, zoom: &Account) -> String {
    synced.provider_ids[&zoom.id]
        .join_url
        .clone()
        .expect("the meeting's join link")
}

/// Every copy holds the synced event's latest version.
fn assert_converged(synced: &SyncedEvent) {
    for (account, reference) in &synced.provider_ids {
        assert_eq!(
            reference.version, synced.version,
            "{account} holds version {} of {}",
            reference.version, synced.version
        );
    }
}

async fn a_meeting_made_in_time_puts_its_link_into_each_calendar_copy_written_once(h: Harness) {
    let ada = user("ada");
    let (google, outlook, zoom) = three_accounts(&h, &ada).await;
    let mut details = event("Call", tuesday(10), 30);
    details.virtual_meeting = true;
    let outcome = h
        .sync
        .commit(
            &ada,
            &details,
            &[google.id.clone(), outlook.id.clone(), zoom.id.clone()],
        )
        .await
        .expect("commit");
    h.sync.settle().await;
    assert!(
        outcome
            .results
            .values()
            .all(|result| result.status == SyncResultStatus::Succeeded)
    );
    let link = link_of(&outcome.synced_event, &zoom);
    for calendar in [&google, &outlook] {
        let copy = h.events_on(calendar)[0].details.clone().expect("details");
        assert_eq!(copy.location.as_deref(), Some(link.as_str()));
        assert!(copy.description.unwrap_or_default().contains(&link));
        let counts = h.provider(calendar.provider).counts();
        assert_eq!(
            (counts.creates, counts.updates),
            (1, 0),
            "{}: one create with the link, no update",
            calendar.provider
        );
    }
    assert_eq!(h.provider(Provider::Zoom).counts().creates, 1);
    let synced = h
        .sync
        .get_synced_event(&ada, &outcome.synced_event.internal_id)
        .await
        .expect("get")
        .expect("synced");
    assert_converged(&synced);
    h.assert_invariants(&[&ada]).await;
}

async fn a_meeting_made_late_brings_its_link_into_every_copy_by_itself(h: Harness) {
    let h = h.configured(answering_beside_held());
    let ada = user("ada");
    let (google, outlook, zoom) = three_accounts(&h, &ada).await;
    let mut details = event("Call", tuesday(10), 30);
    details.virtual_meeting = true;
    h.provider(Provider::Zoom).hold();
    // The meeting's create is held; past half the answer time the calendar
    // copies go on without it.
    let accounts = [google.id.clone(), outlook.id.clone(), zoom.id.clone()];
    let (outcome, ()) = tokio::join!(h.sync.commit(&ada, &details, &accounts), async {
        h.provider(Provider::Zoom).until_waiting(1).await;
        h.clock
            .advance(chrono::Duration::from_std(ANSWER_BESIDE_HELD / 2).expect("span"));
        h.until_recorded_on(&ada, &outlook.id).await;
        h.until_recorded_on(&ada, &google.id).await;
        h.clock
            .advance(chrono::Duration::from_std(ANSWER_BESIDE_HELD / 2).expect("span"));
    });
    let outcome = outcome.expect("commit");
    assert_eq!(outcome.results[&zoom.id].status, SyncResultStatus::Pending);
    for calendar in [&google, &outlook] {
        assert_eq!(
            outcome.results[&calendar.id].status,
            SyncResultStatus::Succeeded,
            "the calendar copies do not wait for the meeting"
        );
        let copy = h.events_on(calendar)[0].details.clone().expect("details");
        assert_eq!(copy.location, None, "no link yet");
    }
    // The meeting is made later: no client call follows.
    h.provider(Provider::Zoom).release();
    h.sync.settle().await;
    let synced = h
        .sync
        .get_synced_event(&ada, &outcome.synced_event.internal_id)
        .await
        .expect("get")
        .expect("synced");
    let link = link_of(&synced, &zoom);
    assert!(
        synced.version > outcome.synced_event.version,
        "a new version"
    );
    assert_eq!(synced.event.location.as_deref(), Some(link.as_str()));
    for calendar in [&google, &outlook] {
        let copy = h.events_on(calendar)[0].details.clone().expect("details");
        assert_eq!(copy.location.as_deref(), Some(link.as_str()));
        assert!(copy.description.unwrap_or_default().contains(&link));
        assert_eq!(h.provider(calendar.provider).counts().updates, 1);
    }
    assert_eq!(h.provider(Provider::Zoom).counts().creates, 1);
    assert_converged(&synced);
    h.assert_invariants(&[&ada]).await;
}

async fn moving_the_event_moves_the_meeting_and_every_copy_keeps_the_link(h: Harness) {
    let ada = user("ada");
    let (google, outlook, zoom) = three_accounts(&h, &ada).await;
    let mut details = event("Call", tuesday(10), 30);
    details.virtual_meeting = true;
    let committed = h
        .sync
        .commit(
            &ada,
            &details,
            &[google.id.clone(), outlook.id.clone(), zoom.id.clone()],
        )
        .await
        .expect("commit");
    let id = committed.synced_event.internal_id.clone();
    let link = link_of(&committed.synced_event, &zoom);
    let moved = tuesday(14);
    let updated = h
        .sync
        .update(
            &ada,
            &id,
            json!({
                "title": "Call (moved)",
                "start": moved.to_rfc3339(),
                "end": (moved + chrono::Duration::minutes(30)).to_rfc3339(),
            })
            .as_object()
            .expect("object"),
        )
        .await
        .expect("update");
    assert!(
        updated
            .results
            .values()
            .all(|result| result.status == SyncResultStatus::Succeeded)
    );
    assert_eq!(h.provider(Provider::Zoom).counts().updates, 1);
    let meeting = h.events_on(&zoom)[0].details.clone().expect("details");
    assert_eq!(meeting.title, "Call (moved)");
    assert_eq!(meeting.start.instant(), Some(moved));
    assert_eq!(link_of(&updated.synced_event, &zoom), link, "the same link");
    // The app writes its own description: the link stays, the meeting is
    // not touched (nothing of it changed).
    let described = h
        .sync
        .update(
            &ada,
            &id,
            json!({"description": "Agenda: numbers"})
                .as_object()
                .expect("object"),
        )
        .await
        .expect("update");
    h.sync.settle().await;
    assert_eq!(h.provider(Provider::Zoom).counts().updates, 1);
    for calendar in [&google, &outlook] {
        let copy = h.events_on(calendar)[0].details.clone().expect("details");
        assert_eq!(copy.start.instant(), Some(moved));
        let text = copy.description.unwrap_or_default();
        assert!(text.starts_with("Agenda: numbers"), "{text}");
        assert!(text.contains(&link), "{text}");
    }
    assert_converged(&described.synced_event);
    h.assert_invariants(&[&ada]).await;
}

async fn a_cancel_deletes_the_meeting(h: Harness) {
    let ada = user("ada");
    let (google, outlook, zoom) = three_accounts(&h, &ada).await;
    let mut details = event("Call", tuesday(10), 30);
    details.virtual_meeting = true;
    let committed = h
        .sync
        .commit(
            &ada,
            &details,
            &[google.id.clone(), outlook.id.clone(), zoom.id.clone()],
        )
        .await
        .expect("commit");
    let cancelled = h
        .sync
        .cancel(&ada, &committed.synced_event.internal_id)
        .await
        .expect("cancel");
    assert!(
        cancelled
            .results
            .values()
            .all(|result| result.status == SyncResultStatus::Succeeded)
    );
    assert_eq!(h.provider(Provider::Zoom).counts().deletes, 1);
    for account in [&google, &outlook, &zoom] {
        assert!(h.events_on(account).is_empty(), "{}", account.provider);
    }
    h.assert_invariants(&[&ada]).await;
}

async fn conflicts_never_read_the_meeting_service(h: Harness) {
    let ada = user("ada");
    let (google, _outlook, zoom) = three_accounts(&h, &ada).await;
    let mut details = event("Call", tuesday(10), 30);
    details.virtual_meeting = true;
    h.sync
        .commit(&ada, &details, &[google.id.clone(), zoom.id.clone()])
        .await
        .expect("commit");
    let report = h
        .sync
        .detect_conflicts(&ada, &draft("d1", tuesday(10), 30))
        .await
        .expect("detect");
    assert_eq!(h.provider(Provider::Zoom).counts().lists, 0);
    assert!(report.unknown_accounts.is_empty());
    assert_eq!(
        report.conflicts.len(),
        1,
        "the Google copy conflicts; the meeting is no busy time: {:?}",
        report.conflicts
    );
}
