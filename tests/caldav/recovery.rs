//! A CalDAV server that goes away: a commit made while it is down ends up on
//! it exactly once after it comes back, even when the create is repeated
//! after it already happened (a crash between the server's answer and the
//! store's record); detectConflicts calls the account unknown meanwhile.

use super::support::{OwnRadicale, at, calendar_sync_on, meeting};
use crate::patience::patient;
use calsync::clock::ManualClock;
use calsync::model::{DraftEvent, SyncResultStatus, UserId};
use calsync::operations::{OperationKind, OperationStatus, RetryPolicy};
use calsync::{CalendarSync, Config};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Retries that outlast the answer, against a server that is down: the
/// commit answers pending, whatever the machine's speed, since nothing can
/// succeed before the server is back (the answer deadline is on the test's
/// clock).
fn retrying_through_the_outage() -> Config {
    Config {
        retry: RetryPolicy {
            max_attempts: 1000,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(100),
            ..RetryPolicy::quick()
        },
        answer_within: Duration::from_millis(500),
        lease: Duration::from_secs(1),
        ..patient()
    }
}

#[tokio::test]
async fn a_server_stopped_mid_commit_then_restarted_gets_the_event_once() {
    let Some(mut radicale) =
        OwnRadicale::start("a_server_stopped_mid_commit_then_restarted_gets_the_event_once").await
    else {
        return;
    };
    let server = radicale.server();
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let sync = calendar_sync_on(dir.path(), retrying_through_the_outage(), clock.clone()).await;
    let user = UserId::from("ada");
    let account = sync
        .connect_account(&user, "apple", &server.credentials(None))
        .await
        .expect("connect");
    let calendar = account.calendar_id.clone().expect("calendar");

    radicale.kill();
    let draft: DraftEvent = serde_json::from_value(json!({
        "id": "d", "title": "x", "start": at(9).to_rfc3339(), "end": at(10).to_rfc3339(),
    }))
    .expect("draft");
    let report = sync.detect_conflicts(&user, &draft).await.expect("detect");
    assert_eq!(report.unknown_accounts.len(), 1, "{report:?}");
    assert_eq!(report.unknown_accounts[0].account, account.id);

    // The answer comes once the first attempt has failed (the server is
    // down) and the clock has passed the answer deadline.
    let key = "through-the-outage";
    let keyed = CalendarSync::keyed_event_id(&user, key);
    let event = meeting("Through the outage");
    let accounts = [account.id.clone()];
    let (answer, ()) = tokio::join!(sync.commit_with_key(&user, &event, &accounts, key), async {
        loop {
            let operations = sync
                .store()
                .operations_of_event(&keyed)
                .await
                .expect("read");
            if operations.iter().any(|op| op.attempts > 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        clock.advance(chrono::Duration::seconds(1));
    });
    let answer = answer.expect("commit answers");
    assert_eq!(
        answer.results[&account.id].status,
        SyncResultStatus::Pending
    );
    let id = answer.synced_event.internal_id.clone();
    // The instance dies with the operation still pending.
    sync.shutdown();
    drop(sync);

    radicale.resume().await;
    clock.advance(chrono::Duration::minutes(5)); // past the dead instance's lease
    let restarted = calendar_sync_on(dir.path(), patient(), clock.clone()).await;
    let resumed = restarted.resume_operations().await.expect("resume");
    assert!(
        resumed
            .iter()
            .any(|op| op.event == id && op.status == OperationStatus::Succeeded),
        "{resumed:?}"
    );
    let stored = restarted
        .store()
        .get_synced_event(&id)
        .await
        .expect("read")
        .expect("stored");
    let href = stored.provider_ids[&account.id].event_id.clone();
    assert_eq!(server.members(&calendar).await.len(), 1);

    // The create happened, but say the record of it was lost: the same
    // operation runs again and finds its own event instead of making another.
    let mut create = restarted
        .store()
        .operations_of_event(&id)
        .await
        .expect("read")
        .into_iter()
        .find(|op| op.kind == OperationKind::Create)
        .expect("the create operation");
    create.status = OperationStatus::Pending;
    create.result = None;
    create.lease_owner = None;
    create.lease_until = None;
    restarted
        .store()
        .update_operation(&create)
        .await
        .expect("write");
    let again = restarted.resume_operations().await.expect("resume again");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].status, OperationStatus::Succeeded, "{again:?}");
    assert_eq!(
        again[0].result.as_ref().map(|r| r.event_id.as_str()),
        Some(href.as_str())
    );
    let members = server.members(&calendar).await;
    assert_eq!(members.len(), 1, "exactly once: {members:?}");
    let (_, _, body) = server.raw("GET", &href, &[], None).await;
    assert_eq!(body.matches("BEGIN:VEVENT").count(), 1, "{body}");
    assert!(body.contains(&format!("X-CALSYNC-ID:{id}")), "{body}");
    restarted.shutdown();
}
