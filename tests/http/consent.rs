//! The consent flow over HTTP on the sandbox: startConnect, then the
//! provider's redirect to the callback route, which connects the account and
//! sends the browser back to the app.

use super::support::{KEY, Server, answer};
use crate::patience::{NEVER, patient};
use calsync::CalendarSync;
use calsync::concept::ConsentSettings;
use calsync::http::{AppState, Auth};
use calsync::providers::sandbox::Sandbox;
use calsync::store::SqliteStore;
use serde_json::json;
use std::sync::Arc;

const RETURN: &str = "https://app.example/connected";

async fn server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    let sandbox = Sandbox::new();
    let sync = CalendarSync::builder(Arc::new(store))
        .providers(sandbox.providers())
        .config(patient())
        .consent(ConsentSettings {
            public_url: Some("https://calsync.example".into()),
            return_urls: vec![RETURN.into()],
        })
        .build();
    let mut state = AppState::new(sync, Some(sandbox.clone()), Auth::keys([KEY]));
    state.request_timeout = NEVER;
    Server::serving(state, sandbox, Some(dir)).await
}

#[tokio::test]
async fn a_consent_flow_over_http_connects_and_returns_to_the_app() {
    let server = server().await;
    let started = server
        .ok(
            "startConnect",
            json!({"user": "ada", "provider": "google", "returnUrl": RETURN}),
        )
        .await;
    let url = started["url"].as_str().expect("a consent URL");
    assert!(started["expiresAt"].is_string(), "{started}");
    // The sandbox approves at once: its consent URL is the callback itself.
    let callback = url
        .strip_prefix("https://calsync.example")
        .expect("the redirect URI is built from the public URL");
    assert!(
        callback.starts_with("/oauth/google/callback?"),
        "{callback}"
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let back = browser
        .get(format!("{}{callback}", server.base))
        .send()
        .await
        .expect("callback");
    assert_eq!(back.status().as_u16(), 303);
    let location = back.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let account = location
        .strip_prefix(&format!("{RETURN}?account="))
        .unwrap_or_else(|| panic!("back to the app with the account: {location}"));
    let status = server.ok("getAccountStatus", json!({"user": "ada"})).await;
    assert_eq!(status["accounts"][0]["id"], account, "{status}");

    // A replayed callback is refused and connects nothing more.
    let replay = browser
        .get(format!("{}{callback}", server.base))
        .send()
        .await
        .expect("callback");
    let (code, body) = answer(replay).await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["kind"], "invalid_input", "{body}");
    let status = server.ok("getAccountStatus", json!({"user": "ada"})).await;
    assert_eq!(status["accounts"].as_array().map(Vec::len), Some(1));
    server.stop().await;
}

#[tokio::test]
async fn start_connect_refuses_a_return_url_off_the_allow_list() {
    let server = server().await;
    let (status, body) = server
        .call(
            "startConnect",
            json!({"user": "ada", "provider": "google", "returnUrl": "https://evil.example/"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("returnUrl"),
        "{body}"
    );
    server.stop().await;
}
