//! `/readyz` names the settings when Google refuses the deployment's OAuth
//! client, and is ready again once a refresh succeeds.

use super::support::{meeting, provider, refresh_only, server};
use crate::http::support::{KEY, Server};
use crate::patience::{NEVER, patient};
use calsync::CalendarSync;
use calsync::http::{AppState, Auth};
use calsync::model::{SyncResultStatus, SyncStatus, UserId};
use calsync::providers::Providers;
use calsync::providers::sandbox::Sandbox;
use std::sync::Arc;

#[tokio::test]
async fn readyz_fails_naming_the_client_settings_while_google_refuses_them() {
    let google = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = calsync::store::SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    let sync = CalendarSync::builder(Arc::new(store))
        .providers(Providers::new().with(Arc::new(provider(&google))))
        .config(patient())
        .build();
    let mut state = AppState::new(sync.clone(), None, Auth::keys([KEY]));
    state.request_timeout = NEVER;
    let service = Server::serving(state, Sandbox::new(), Some(dir)).await;
    let ready = || async {
        let response = service
            .client
            .get(format!("{}/readyz", service.base))
            .send()
            .await
            .expect("readyz");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    };
    assert_eq!(ready().await.0, 200);

    let ada = UserId::from("ada");
    let account = sync
        .connect_account(&ada, "google", &refresh_only(&google))
        .await
        .expect("connect");
    google.expire_access_tokens();
    google.refuse_client(true);
    let committed = sync
        .commit(&ada, &meeting("Waits"), &[account.id.clone()])
        .await
        .expect("commit");
    assert_eq!(
        committed.results[&account.id].status,
        SyncResultStatus::Pending
    );
    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("CALSYNC_GOOGLE_CLIENT_SECRET"), "{body}");
    assert_eq!(
        sync.get_account(&ada, &account.id)
            .await
            .expect("account")
            .sync_status,
        SyncStatus::Connected
    );

    // The operator fixes the client: the next refresh succeeds, ready again.
    google.refuse_client(false);
    sync.refresh_sync(&ada, &account.id)
        .await
        .expect("refreshSync");
    let (status, body) = ready().await;
    assert_eq!(status, 200, "{body}");
    service.stop().await;
    sync.shutdown();
}
