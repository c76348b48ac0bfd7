//! Credentials are sealed at rest and never shown.

use super::support::*;
use calsync::model::Provider;
use serde_json::json;

#[tokio::test]
async fn a_known_token_never_reaches_the_database_file() {
    let h = Harness::new().await;
    let ada = user("ada");
    let token = "tok-SENTINEL-7f3a9c1e-do-not-store";
    let refresh = "ref-SENTINEL-2b8d4f60-do-not-store";
    let credentials =
        serde_json::from_value(json!({"access_token": token, "refresh_token": refresh}))
            .expect("creds");
    let account = h
        .sync
        .connect_account(&ada, "google", &credentials)
        .await
        .expect("connect");
    h.sync
        .commit(&ada, &event("x", tuesday(10), 30), &[account.id.clone()])
        .await
        .expect("commit");
    h.sync
        .refresh_sync(&ada, &account.id)
        .await
        .expect("refresh");
    drop(h.sync.clone());
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = format!("{}{suffix}", h.path().display());
        if let Ok(content) = std::fs::read(&path) {
            bytes.extend(content);
        }
    }
    assert!(!bytes.is_empty());
    for secret in [token, refresh] {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{secret} is in the database file");
    }
    let record = h
        .store
        .get_account(&account.id)
        .await
        .expect("get")
        .expect("record");
    let shown = format!("{record:?} {credentials:?} {:?}", h.sync);
    assert!(
        !shown.contains(token) && !shown.contains(refresh),
        "{shown}"
    );
    let _ = Provider::Google;
}
