//! The Server-to-Server app: accounts connect by user, and every process on
//! one store shares the deployment's one token.

use super::server::{EMAIL, OTHER_EMAIL, OTHER_ID, USER_ID, ZoomServer};
use super::support::{adapter_on, context, event, refresh_only, store, vault};
use calsync::clock::SystemClock;
use calsync::model::{AccountId, SyncStatus, UserId};
use calsync::providers::{
    AccountProvider, Credentials, MeetingProvider, ProviderErrorKind, Revocation, Session,
};
use std::sync::Arc;

fn by_user(user: &str) -> Credentials {
    let mut credentials = Credentials::default();
    credentials.set_str("user", user);
    credentials
}

#[tokio::test]
async fn two_processes_share_one_token_fetched_once() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = server.server_app();
    let first = adapter_on(&settings, dir.path(), Arc::new(SystemClock)).await;
    let second = adapter_on(&settings, dir.path(), Arc::new(SystemClock)).await;

    // Slow answers keep both processes in their first call together.
    server.set_latency(std::time::Duration::from_millis(50));
    let (ada, grace) = (by_user(EMAIL), by_user(OTHER_ID));
    let (ada, grace) = tokio::join!(first.connect(&ada), second.connect(&grace));
    let ada = ada.expect("connect ada");
    let grace = grace.expect("connect grace");
    assert_eq!(ada.label.as_deref(), Some(EMAIL));
    assert_eq!(ada.credentials.get_str("user_id"), Some(USER_ID));
    assert_eq!(grace.label.as_deref(), Some(OTHER_EMAIL));
    assert_eq!(server.token_grants(), vec!["account_credentials"]);
    assert!(ada.credentials.get_str("access_token").is_none());
    assert!(ada.credentials.get_str("refresh_token").is_none());

    // The token sits in the store sealed: its text is nowhere in the record.
    let record = store(dir.path())
        .await
        .get_shared(calsync::providers::zoom::TOKEN_RECORD)
        .await
        .expect("store")
        .expect("the token record");
    assert!(
        !record.value.to_string().contains("eyJaccess"),
        "{}",
        record.value
    );

    // A third process started later reads it too.
    let third = adapter_on(&settings, dir.path(), Arc::new(SystemClock)).await;
    let session = Session {
        account: AccountId::from("grace"),
        credentials: grace.credentials,
        calendar_id: None,
    };
    let made = third
        .create_meeting(&session, &event("Planning", 9), &context())
        .await
        .expect("create");
    assert_eq!(
        server.meeting(&made.event_id).expect("made")["host_id"],
        OTHER_ID
    );
    assert_eq!(
        server.count("POST", &format!("/v2/users/{OTHER_ID}/meetings")),
        1
    );
    assert_eq!(server.token_grants().len(), 1);
}

#[tokio::test]
async fn a_token_zoom_invalidated_is_fetched_again_once_and_shared() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = server.server_app();
    let first = adapter_on(&settings, dir.path(), Arc::new(SystemClock)).await;
    let second = adapter_on(&settings, dir.path(), Arc::new(SystemClock)).await;
    let ada = first.connect(&by_user(EMAIL)).await.expect("connect");
    let session = Session {
        account: AccountId::from("ada"),
        credentials: ada.credentials,
        calendar_id: None,
    };
    second.validate(&session).await.expect("validate");
    assert_eq!(server.token_grants().len(), 1);

    // A new token issued elsewhere invalidates the deployment's: 401, code 124.
    server.issue_s2s_token_elsewhere();
    server.clear_log();
    second
        .create_meeting(&session, &event("Planning", 9), &context())
        .await
        .expect("create after a refetch");
    assert_eq!(server.token_grants(), vec!["account_credentials"]);
    assert_eq!(server.count("POST", "/meetings"), 2, "{:?}", server.log());

    // The first process's token is the invalidated one: refused once, it
    // reads the new one from the store instead of fetching another.
    first.validate(&session).await.expect("validate");
    assert_eq!(
        server.token_grants().len(),
        1,
        "{:?}",
        server.token_grants()
    );
}

#[tokio::test]
async fn connecting_by_user_needs_a_known_user_and_disconnecting_revokes_nothing() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter =
        Arc::new(adapter_on(&server.server_app(), dir.path(), Arc::new(SystemClock)).await);
    let unknown = adapter
        .connect(&by_user("nobody@example.com"))
        .await
        .expect_err("no such user");
    assert_eq!(unknown.kind, ProviderErrorKind::InvalidCredentials);
    assert!(unknown.message.contains("user:"), "{}", unknown.message);
    let wrong_kind = adapter
        .connect(&refresh_only(server.grant(USER_ID)))
        .await
        .expect_err("a Server-to-Server app connects by user");
    assert_eq!(wrong_kind.kind, ProviderErrorKind::InvalidCredentials);
    assert!(
        adapter
            .start_consent("http://x/cb")
            .expect("start")
            .is_none()
    );
    assert!(matches!(
        adapter.revoke(&by_user(EMAIL)).await,
        Ok(Revocation::NotSupported(_))
    ));

    let sync = calsync::CalendarSync::builder(store(dir.path()).await)
        .providers(calsync::providers::Providers::new().with_meetings(adapter.clone()))
        .vault(vault())
        .config(crate::patience::patient())
        .build();
    let ada = UserId::from("ada");
    let account = sync
        .connect_account(&ada, "zoom", &by_user(EMAIL))
        .await
        .expect("connect");
    assert_eq!(account.sync_status, SyncStatus::Connected);
    let disconnected = sync
        .disconnect_account(&ada, &account.id)
        .await
        .expect("disconnect");
    assert_eq!(
        disconnected.revocation,
        Some(calsync::concept::RevocationStatus::NotSupported)
    );
}

#[tokio::test]
async fn a_user_level_app_refuses_to_connect_by_user() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = adapter_on(&server.user_app(), dir.path(), Arc::new(SystemClock)).await;
    let refused = adapter
        .connect(&by_user(EMAIL))
        .await
        .expect_err("needs a Server-to-Server app");
    assert_eq!(refused.kind, ProviderErrorKind::InvalidCredentials);
    assert!(
        refused.message.contains("CALSYNC_ZOOM_ACCOUNT_ID"),
        "{}",
        refused.message
    );
}

#[tokio::test]
async fn a_refused_app_is_the_deployments_to_fix() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = adapter_on(&server.server_app(), dir.path(), Arc::new(SystemClock)).await;
    server.fail_token_next(400, "invalid_client", "Invalid client_id or client_secret");
    let refused = adapter
        .connect(&by_user(EMAIL))
        .await
        .expect_err("the app was refused");
    assert_eq!(refused.kind, ProviderErrorKind::Misconfigured);
    // The failed fetch left no lease behind: the next call fetches at once.
    adapter.connect(&by_user(EMAIL)).await.expect("connect");
    assert_eq!(server.token_grants().len(), 2);
}
