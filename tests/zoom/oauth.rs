//! The user-level OAuth app: consent, connecting with a refresh token,
//! rotation on every refresh, and revocation on disconnect.

use super::server::{EMAIL, USER_ID, ZoomServer};
use super::support::{refresh_only, user_adapter, vault};
use calsync::model::{SyncStatus, UserId};
use calsync::providers::{AccountProvider, Credentials, ProviderErrorKind};
use std::sync::Arc;

#[tokio::test]
async fn connecting_with_a_refresh_token_keeps_the_one_zoom_rotated_in() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = user_adapter(&server, dir.path()).await;
    let given = server.grant(USER_ID);
    let connection = adapter
        .connect(&refresh_only(given.clone()))
        .await
        .expect("connect");
    assert_eq!(connection.label.as_deref(), Some(EMAIL));
    assert_eq!(connection.credentials.get_str("user_id"), Some(USER_ID));
    let kept = connection
        .credentials
        .get_str("refresh_token")
        .expect("a refresh token")
        .to_owned();
    assert_ne!(kept, given);
    assert!(
        !server.refresh_token_alive(&given),
        "Zoom killed the given one"
    );
    assert!(server.refresh_token_alive(&kept));
    assert_eq!(server.token_grants(), vec!["refresh_token"]);
    assert_eq!(server.count("GET", "/v2/users/me"), 1);

    // Every refresh answers the new refresh token; the old one dies.
    let refreshed = adapter
        .refresh(&connection.credentials)
        .await
        .expect("refresh");
    let rotated = refreshed.get_str("refresh_token").expect("refresh token");
    assert_ne!(rotated, kept);
    assert!(!server.refresh_token_alive(&kept));
    assert!(server.refresh_token_alive(rotated));
    assert_ne!(
        refreshed.get_str("access_token"),
        connection.credentials.get_str("access_token")
    );
    // The dead one is refused for good.
    let dead = adapter
        .refresh(&connection.credentials)
        .await
        .expect_err("a used refresh token");
    assert_eq!(dead.kind, ProviderErrorKind::InvalidGrant);
    let refused = adapter
        .connect(&refresh_only(kept))
        .await
        .expect_err("a dead refresh token");
    assert_eq!(refused.kind, ProviderErrorKind::InvalidCredentials);
}

#[tokio::test]
async fn the_consent_flow_ends_in_credentials_that_connect_without_another_refresh() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = user_adapter(&server, dir.path()).await;
    let redirect = "http://127.0.0.1:8080/oauth/zoom/callback";
    let start = adapter
        .start_consent(redirect)
        .expect("start")
        .expect("a consent flow");
    assert!(
        start
            .url
            .starts_with(&format!("{}/oauth/authorize?", server.url)),
        "{}",
        start.url
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = http.get(&start.url).send().await.expect("consent page");
    assert_eq!(answer.status(), 302);
    let back = url::Url::parse(
        answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a redirect"),
    )
    .expect("url");
    let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(query.get("state"), Some(&start.state));
    let credentials = adapter
        .finish_consent(&query["code"], &start.verifier, redirect)
        .await
        .expect("finish");
    assert!(credentials.get_str("refresh_token").is_some());

    server.clear_log();
    let connection = adapter.connect(&credentials).await.expect("connect");
    assert_eq!(connection.label.as_deref(), Some(EMAIL));
    assert!(server.token_grants().is_empty(), "no refresh needed");
    // A code is used once.
    let again = adapter
        .finish_consent(&query["code"], &start.verifier, redirect)
        .await
        .expect_err("a used code");
    assert_eq!(again.kind, ProviderErrorKind::InvalidGrant);
}

#[tokio::test]
async fn disconnecting_revokes_the_grant_and_refreshes_are_stored_rotated() {
    let server = ZoomServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let adapter = Arc::new(user_adapter(&server, dir.path()).await);
    let sync = calsync::CalendarSync::builder(super::support::store(dir.path()).await)
        .providers(calsync::providers::Providers::new().with_meetings(adapter.clone()))
        .vault(vault())
        .config(crate::patience::patient())
        .build();
    let ada = UserId::from("ada");
    let mut credentials = Credentials::default();
    credentials.set_str("refresh_token", server.grant(USER_ID));
    let account = sync
        .connect_account(&ada, "zoom", &credentials)
        .await
        .expect("connect zoom");
    assert_eq!(account.sync_status, SyncStatus::Connected);

    // The access token expires: the engine refreshes once, stores the
    // rotated refresh token, and the next refresh uses that one.
    server.expire_access_tokens();
    sync.refresh_sync(&ada, &account.id)
        .await
        .expect("refresh sync");
    server.expire_access_tokens();
    let again = sync
        .refresh_sync(&ada, &account.id)
        .await
        .expect("refresh sync again");
    assert_eq!(again.sync_status, SyncStatus::Connected, "{again:?}");
    assert_eq!(
        server.token_grants(),
        vec!["refresh_token", "refresh_token", "refresh_token"]
    );

    let disconnected = sync
        .disconnect_account(&ada, &account.id)
        .await
        .expect("disconnect");
    assert_eq!(
        disconnected.revocation,
        Some(calsync::concept::RevocationStatus::Revoked)
    );
    assert!(server.grants_revoked(USER_ID));
}
