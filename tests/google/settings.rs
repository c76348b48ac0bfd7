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

#[cfg(feature = "cli")]
#[tokio::test]
async fn the_command_line_connects_a_google_account_from_the_environment() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let refresh = server.grant(super::server::SCOPES);
    let url = server.url.clone();
    let data = dir.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_calsync"))
            .args([
                "account",
                "connect",
                "--user",
                "ada",
                "--provider",
                "google",
            ])
            .args([
                "--refresh-token-env",
                "TEST_GOOGLE_REFRESH_TOKEN",
                "--data-dir",
            ])
            .arg(&data)
            .env("TEST_GOOGLE_REFRESH_TOKEN", refresh)
            .env("CALSYNC_GOOGLE_CLIENT_ID", CLIENT_ID)
            .env("CALSYNC_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
            .env("CALSYNC_GOOGLE_API_URL", format!("{url}/calendar/v3"))
            .env("CALSYNC_GOOGLE_TOKEN_URL", format!("{url}/token"))
            .env("CALSYNC_GOOGLE_REVOKE_URL", format!("{url}/revoke"))
            .env("CALSYNC_GOOGLE_AUTH_URL", format!("{url}/o/oauth2/auth"))
            .env_remove("CALSYNC_MASTER_KEY")
            .output()
            .expect("run calsync")
    })
    .await
    .expect("joined");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!id.is_empty());
    assert_eq!(server.count("POST", "/token"), 1, "{:?}", server.log());
}
