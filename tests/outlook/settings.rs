//! `--providers live`: Outlook is configured from its settings (endpoints,
//! tenant, client), and says what is missing otherwise.

use super::server::{CLIENT_ID, CLIENT_SECRET, DEFAULT_CALENDAR};
use super::support::{refresh_only, server};
use calsync::Error;
use calsync::model::{SyncStatus, UserId};
use calsync::setup::{OutlookConfig, ProviderSet, Setup, StoreLocation};

fn live(dir: &std::path::Path, outlook: OutlookConfig) -> Setup {
    Setup {
        store: StoreLocation::Sqlite(dir.join("calsync.db")),
        data_dir: Some(dir.to_owned()),
        providers: ProviderSet::Live,
        outlook,
        config: crate::patience::patient(),
        ..Setup::default()
    }
}

#[tokio::test]
async fn live_providers_reach_graph_at_the_configured_endpoints_and_tenant() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let outlook = OutlookConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        tenant: Some("consumers".into()),
        graph_url: Some(format!("{}/v1.0", server.url)),
        authority_url: Some(server.url.clone()),
    };
    let opened = live(dir.path(), outlook).open().await.expect("open");
    assert!(opened.sandbox.is_none(), "no sandbox behind live providers");
    let account = opened
        .sync
        .connect_account(&UserId::from("ada"), "outlook", &refresh_only(&server))
        .await
        .expect("connect");
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert_eq!(account.calendar_id.as_deref(), Some(DEFAULT_CALENDAR));
    assert_eq!(server.tenants(), ["consumers"]);
    opened.sync.shutdown();
}

#[tokio::test]
async fn without_a_client_id_outlook_is_not_configured_and_says_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let opened = live(dir.path(), OutlookConfig::default())
        .open()
        .await
        .expect("open");
    let mut credentials = calsync::providers::Credentials::default();
    credentials.set_str("refresh_token", "0.AXoA-anything");
    let refused = opened
        .sync
        .connect_account(&UserId::from("ada"), "outlook", &credentials)
        .await;
    match refused {
        Err(error @ Error::UnsupportedProvider { .. }) => {
            assert!(
                error.to_string().contains("CALSYNC_MICROSOFT_CLIENT_ID"),
                "{error}"
            );
        }
        other => panic!("expected unsupported_provider: {other:?}"),
    }
    opened.sync.shutdown();
}

#[tokio::test]
async fn a_tenant_that_is_no_path_segment_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outlook = OutlookConfig {
        client_id: Some(CLIENT_ID.into()),
        tenant: Some("common/../evil".into()),
        ..OutlookConfig::default()
    };
    let refused = live(dir.path(), outlook).open().await.expect_err("refused");
    assert!(refused.to_string().contains("tenant"), "{refused}");
}
