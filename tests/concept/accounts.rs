//! connectAccount, disconnectAccount, refreshSync, getAccountStatus.

use super::support::*;
use calsync::Error;
use calsync::model::{Provider, SyncStatus};
use calsync::providers::Credentials;
use calsync::providers::sandbox::FaultKind;
use chrono::Duration;
use serde_json::json;

on_every_store!(
    connect_creates_a_connected_account_without_showing_credentials,
    two_accounts_of_one_provider_are_distinct,
    a_refresh_token_alone_connects_as_with_a_live_provider,
    connect_requires_valid_credentials_and_changes_nothing_otherwise,
    connect_requires_a_supported_provider,
    connect_reports_an_unreachable_provider,
    get_account_status_answers_only_the_users_accounts,
    disconnect_revokes_wipes_and_keeps_committed_events,
    disconnect_requires_the_users_own_existing_account,
    disconnect_says_what_revocation_did_and_wipes_the_credentials_anyway,
    refresh_sync_refreshes_tokens_that_expire_within_five_minutes,
    refresh_sync_marks_a_refused_refresh_token_as_needing_reauthorization,
    refresh_sync_requires_a_connected_account_of_the_user,
    refresh_sync_brings_an_account_in_error_back,
    refresh_sync_on_a_transient_failure_answers_unreachable_and_changes_nothing,
);

fn credentials(value: serde_json::Value) -> Credentials {
    serde_json::from_value(value).expect("credentials")
}

async fn connect_creates_a_connected_account_without_showing_credentials(h: Harness) {
    let ada = user("ada");
    let account = h.connect(&ada, Provider::Google).await;
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert_eq!(account.user, ada);
    assert_eq!(account.last_sync, Some(start_of_test()));
    let listed = h.sync.get_account_status(&ada).await.expect("status");
    assert_eq!(listed, vec![account.clone()]);
    let wire = serde_json::to_string(&listed).expect("json");
    assert!(
        !wire.contains("access"),
        "answers never carry credentials: {wire}"
    );
    h.assert_invariants(&[&ada]).await;
}

async fn two_accounts_of_one_provider_are_distinct(h: Harness) {
    let ada = user("ada");
    let first = h.connect(&ada, Provider::Google).await;
    let second = h.connect(&ada, Provider::Google).await;
    assert_ne!(first.id, second.id);
    assert_ne!(first.calendar_id, second.calendar_id);
    assert_eq!(
        h.sync.get_account_status(&ada).await.expect("status").len(),
        2
    );
}

async fn a_refresh_token_alone_connects_as_with_a_live_provider(h: Harness) {
    let ada = user("ada");
    let account = h
        .sync
        .connect_account(
            &ada,
            "google",
            &credentials(json!({"refresh_token": "1//x"})),
        )
        .await
        .expect("connect with a refresh token");
    assert_eq!(account.sync_status, SyncStatus::Connected);
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Works", tuesday(10), 30),
            &[account.id.clone()],
        )
        .await
        .expect("commit");
    assert!(
        committed
            .synced_event
            .provider_ids
            .contains_key(&account.id)
    );
}

async fn connect_requires_valid_credentials_and_changes_nothing_otherwise(h: Harness) {
    let ada = user("ada");
    let error = h
        .sync
        .connect_account(&ada, "google", &credentials(json!({"password": "x"})))
        .await
        .expect_err("no token");
    assert_eq!(error.kind(), "invalid_credentials");
    assert!(error.to_string().contains("access_token"));
    let error = h
        .sync
        .connect_account(&ada, "google", &credentials(json!({})))
        .await
        .expect_err("empty");
    assert_eq!(error.kind(), "invalid_input");
    assert!(
        h.sync
            .get_account_status(&ada)
            .await
            .expect("status")
            .is_empty()
    );
}

async fn connect_requires_a_supported_provider(h: Harness) {
    let ada = user("ada");
    let error = h
        .sync
        .connect_account(&ada, "myspace", &h.credentials(Provider::Google))
        .await
        .expect_err("unsupported");
    assert!(matches!(error, Error::UnsupportedProvider { .. }));
    assert!(error.to_string().contains("myspace"));
    assert!(
        h.sync
            .get_account_status(&ada)
            .await
            .expect("status")
            .is_empty()
    );
}

async fn connect_reports_an_unreachable_provider(h: Harness) {
    let ada = user("ada");
    h.provider(Provider::Outlook)
        .fail_next(1, FaultKind::ServerError);
    let error = h
        .sync
        .connect_account(&ada, "outlook", &h.credentials(Provider::Outlook))
        .await
        .expect_err("down");
    assert_eq!(error.kind(), "provider_unreachable");
    assert!(
        h.sync
            .get_account_status(&ada)
            .await
            .expect("status")
            .is_empty()
    );
}

async fn get_account_status_answers_only_the_users_accounts(h: Harness) {
    let (ada, bob) = (user("ada"), user("bob"));
    let a = h.connect(&ada, Provider::Google).await;
    let b = h.connect(&bob, Provider::Zoom).await;
    assert_eq!(h.sync.get_account_status(&ada).await.expect("ada"), vec![a]);
    assert_eq!(h.sync.get_account_status(&bob).await.expect("bob"), vec![b]);
    assert!(
        h.sync
            .get_account_status(&user("carol"))
            .await
            .expect("carol")
            .is_empty()
    );
    h.assert_invariants(&[&ada, &bob]).await;
}

async fn disconnect_revokes_wipes_and_keeps_committed_events(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    let outlook = h.connect(&ada, Provider::Outlook).await;
    let committed = h
        .sync
        .commit(
            &ada,
            &event("Sync", tuesday(10), 30),
            &[google.id.clone(), outlook.id.clone()],
        )
        .await
        .expect("commit");
    let account = h
        .sync
        .disconnect_account(&ada, &google.id)
        .await
        .expect("disconnect");
    assert_eq!(account.account.sync_status, SyncStatus::Disconnected);
    assert_eq!(
        account.revocation,
        Some(calsync::concept::RevocationStatus::Revoked)
    );
    let record = h
        .store
        .get_account(&google.id)
        .await
        .expect("get")
        .expect("record");
    assert!(record.sealed_credentials.is_none(), "credentials are wiped");
    assert_eq!(h.events_on(&google).len(), 1, "events stay on the provider");
    // The revoked token no longer works at the provider.
    let again = h
        .sync
        .disconnect_account(&ada, &google.id)
        .await
        .expect("twice is harmless");
    assert_eq!(again.account.sync_status, SyncStatus::Disconnected);
    assert_eq!(again.revocation, None, "nothing was left to revoke");
    // Later operations leave the account out, and say so.
    let changes = json!({"title": "Renamed"});
    let updated = h
        .sync
        .update(
            &ada,
            &committed.synced_event.internal_id,
            changes.as_object().expect("object"),
        )
        .await
        .expect("update");
    let google_result = &updated.results[&google.id];
    assert_eq!(
        google_result.status,
        calsync::model::SyncResultStatus::Skipped
    );
    assert!(
        google_result
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("disconnected")
    );
    assert_eq!(
        updated.results[&outlook.id].status,
        calsync::model::SyncResultStatus::Succeeded
    );
    assert_eq!(h.provider(Provider::Google).counts().updates, 0);
    // A disconnected account cannot be committed to.
    let error = h
        .sync
        .commit(&ada, &event("Next", tuesday(11), 30), &[google.id.clone()])
        .await
        .expect_err("disconnected");
    assert_eq!(error.kind(), "account_not_connected");
    h.assert_invariants(&[&ada]).await;
}

async fn disconnect_says_what_revocation_did_and_wipes_the_credentials_anyway(h: Harness) {
    use calsync::concept::RevocationStatus;
    let ada = user("ada");
    let apple = h.connect(&ada, Provider::Apple).await;
    let google = h.connect(&ada, Provider::Google).await;
    let unsupported = h
        .sync
        .disconnect_account(&ada, &apple.id)
        .await
        .expect("disconnect apple");
    assert_eq!(unsupported.revocation, Some(RevocationStatus::NotSupported));
    let reason = unsupported.revocation_reason.expect("a reason");
    assert!(reason.contains("owner"), "{reason}");
    h.provider(Provider::Google)
        .fail_next(1, FaultKind::ServerError);
    let failed = h
        .sync
        .disconnect_account(&ada, &google.id)
        .await
        .expect("disconnect google");
    assert_eq!(failed.revocation, Some(RevocationStatus::Failed));
    assert!(failed.revocation_reason.is_some());
    assert_eq!(failed.account.sync_status, SyncStatus::Disconnected);
    for account in [&apple, &google] {
        let record = h
            .store
            .get_account(&account.id)
            .await
            .expect("get")
            .expect("record");
        assert!(record.sealed_credentials.is_none(), "wiped in every case");
    }
    let wire = serde_json::to_value(&failed).expect("json");
    assert_eq!(wire["revocation"], "failed");
    assert!(wire["revocationReason"].is_string(), "{wire}");
    assert_eq!(wire["account"]["syncStatus"], "disconnected");
}

async fn disconnect_requires_the_users_own_existing_account(h: Harness) {
    let (ada, bob) = (user("ada"), user("bob"));
    let google = h.connect(&ada, Provider::Google).await;
    let error = h
        .sync
        .disconnect_account(&bob, &google.id)
        .await
        .expect_err("not bob's");
    assert_eq!(error.kind(), "account_not_found");
    let missing = h
        .sync
        .disconnect_account(&ada, &"nope".into())
        .await
        .expect_err("missing");
    assert_eq!(
        missing.to_string(),
        error.to_string().replace(google.id.as_str(), "nope")
    );
    let record = h
        .store
        .get_account(&google.id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(record.account.sync_status, SyncStatus::Connected);
    assert!(record.sealed_credentials.is_some());
}

async fn refresh_sync_refreshes_tokens_that_expire_within_five_minutes(h: Harness) {
    let ada = user("ada");
    let outlook = h.connect(&ada, Provider::Outlook).await;
    // Far from expiry: no refresh, but the connection is validated.
    h.clock.advance(Duration::minutes(10));
    let account = h
        .sync
        .refresh_sync(&ada, &outlook.id)
        .await
        .expect("refresh");
    assert_eq!(h.provider(Provider::Outlook).counts().refreshes, 0);
    assert_eq!(
        account.last_sync,
        Some(start_of_test() + Duration::minutes(10))
    );
    // Four minutes before expiry: refreshed (and Outlook rotates the refresh token).
    h.clock.advance(Duration::minutes(46));
    let account = h
        .sync
        .refresh_sync(&ada, &outlook.id)
        .await
        .expect("refresh");
    assert_eq!(h.provider(Provider::Outlook).counts().refreshes, 1);
    assert_eq!(account.sync_status, SyncStatus::Connected);
    // The rotated token keeps working an hour later.
    h.clock.advance(Duration::minutes(58));
    let account = h
        .sync
        .refresh_sync(&ada, &outlook.id)
        .await
        .expect("refresh");
    assert_eq!(h.provider(Provider::Outlook).counts().refreshes, 2);
    assert_eq!(account.sync_status, SyncStatus::Connected);
}

async fn refresh_sync_marks_a_refused_refresh_token_as_needing_reauthorization(h: Harness) {
    let ada = user("ada");
    let google = h.connect(&ada, Provider::Google).await;
    h.clock.advance(Duration::minutes(58));
    h.provider(Provider::Google)
        .fail_next(1, FaultKind::InvalidGrant);
    let account = h
        .sync
        .refresh_sync(&ada, &google.id)
        .await
        .expect("answers the account");
    assert_eq!(account.sync_status, SyncStatus::Error);
    let reason = account.error.expect("error").reason;
    assert!(reason.contains("needs re-authorization"), "{reason}");
    // An account in error is not committed to.
    let error = h
        .sync
        .commit(&ada, &event("x", tuesday(9), 30), &[google.id.clone()])
        .await
        .expect_err("in error");
    assert_eq!(error.kind(), "account_not_connected");
}

async fn refresh_sync_requires_a_connected_account_of_the_user(h: Harness) {
    let (ada, bob) = (user("ada"), user("bob"));
    let google = h.connect(&ada, Provider::Google).await;
    let error = h
        .sync
        .refresh_sync(&bob, &google.id)
        .await
        .expect_err("not bob's");
    assert_eq!(error.kind(), "account_not_found");
    h.sync
        .disconnect_account(&ada, &google.id)
        .await
        .expect("disconnect");
    let error = h
        .sync
        .refresh_sync(&ada, &google.id)
        .await
        .expect_err("disconnected");
    assert_eq!(error.kind(), "account_not_connected");
    let record = h
        .store
        .get_account(&google.id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(record.account.last_sync, Some(start_of_test()));
}

async fn refresh_sync_brings_an_account_in_error_back(h: Harness) {
    let ada = user("ada");
    let zoom = h.connect(&ada, Provider::Zoom).await;
    h.provider(Provider::Zoom).fail_next(1, FaultKind::Refused);
    let down = h.sync.refresh_sync(&ada, &zoom.id).await.expect("refresh");
    assert_eq!(down.sync_status, SyncStatus::Error);
    let up = h.sync.refresh_sync(&ada, &zoom.id).await.expect("refresh");
    assert_eq!(up.sync_status, SyncStatus::Connected);
    assert!(up.error.is_none());
}

async fn refresh_sync_on_a_transient_failure_answers_unreachable_and_changes_nothing(h: Harness) {
    let ada = user("ada");
    let zoom = h.connect(&ada, Provider::Zoom).await;
    h.provider(Provider::Zoom)
        .fail_next(1, FaultKind::ServerError);
    h.clock.advance(chrono::Duration::minutes(1));
    let error = h
        .sync
        .refresh_sync(&ada, &zoom.id)
        .await
        .expect_err("unreachable");
    assert!(
        matches!(&error, Error::ProviderUnreachable { reason, .. } if reason.contains("503")),
        "{error}"
    );
    let after = h
        .store
        .get_account(&zoom.id)
        .await
        .expect("get")
        .expect("record")
        .account;
    assert_eq!(after, zoom, "syncStatus, error and lastSync as they were");
}
