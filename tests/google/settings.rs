//! `--providers live`: Google is configured from its settings, and only
//! live adapters are (no sandbox behind a provider that is not configured).

use super::server::{CLIENT_ID, CLIENT_SECRET, PRIMARY};
use super::support::{refresh_only, server};
use calsync::Error;
use calsync::model::{SyncStatus, UserId};
use calsync::setup::{GoogleConfig, ProviderSet, Setup, StoreLocation};

fn live(dir: &std::path::Path, google: GoogleConfig) -> Setup {
    Setup {
        store: StoreLocation::Sqlite(dir.join("calsync.db")),
        data_dir: Some(dir.to_owned()),
        providers: ProviderSet::Live,
        google,
        config: crate::patience::patient(),
        ..Setup::default()
    }
}

#[tokio::test]
async fn live_providers_reach_google_at_the_configured_endpoints() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let google = GoogleConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        api_url: Some(format!("{}/calendar/v3", server.url)),
        auth_url: Some(format!("{}/o/oauth2/auth", server.url)),
        token_url: Some(format!("{}/token", server.url)),
        revoke_url: Some(format!("{}/revoke", server.url)),
    };
    let opened = live(dir.path(), google).open().await.expect("open");
    assert!(opened.sandbox.is_none(), "no sandbox behind live providers");
    let ada = UserId::from("ada");
    let account = opened
        .sync
        .connect_account(&ada, "google", &refresh_only(&server))
        .await
        .expect("connect");
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert_eq!(account.calendar_id.as_deref(), Some(PRIMARY));
    opened.sync.shutdown();
}

#[tokio::test]
async fn without_a_client_id_google_is_not_configured_and_says_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let opened = live(dir.path(), GoogleConfig::default())
        .open()
        .await
        .expect("open");
    let mut credentials = calsync::providers::Credentials::default();
    credentials.set_str("refresh_token", "1//anything");
    let refused = opened
        .sync
        .connect_account(&UserId::from("ada"), "google", &credentials)
        .await;
    match refused {
        Err(error @ Error::UnsupportedProvider { .. }) => {
            assert!(
                error.to_string().contains("CALSYNC_GOOGLE_CLIENT_ID"),
                "{error}"
            );
        }
        other => panic!("expected unsupported_provider: {other:?}"),
    }
    let refused = opened
        .sync
        .connect_account(&UserId::from("ada"), "outlook", &credentials)
        .await;
    assert!(
        matches!(refused, Err(Error::UnsupportedProvider { .. })),
        "{refused:?}"
    );
    opened.sync.shutdown();
}
