//! Body limit, request timeout, request ids and metrics.

use super::support::*;
use calsync::model::Provider;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let server = Server::start_with(|state| state.body_limit = 4096).await;
    let (status, body) = server
        .call("getAccountStatus", json!({"user": "x".repeat(5000)}))
        .await;
    assert_error(status, &body, 413, "body_too_large");
    let (status, _) = server
        .call("getAccountStatus", json!({"user": "ada"}))
        .await;
    assert_eq!(status, 200, "a body under the limit is served");
    server.stop().await;
}

#[tokio::test]
async fn a_request_over_the_timeout_is_504() {
    let server =
        Server::start_with(|state| state.request_timeout = Duration::from_millis(200)).await;
    // Google answers after a minute (the most the route allows), three
    // hundred times the request timeout: only the timeout can end the call.
    let (status, _) = server
        .post(
            "/api/sandbox/latency",
            json!({"provider": "google", "ms": 60_000}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .call(
            "connectAccount",
            json!({"user": "ada", "provider": "google", "credentials": {"access_token": "t"}}),
        )
        .await;
    assert_error(status, &body, 504, "timeout");
    server.stop().await;
}

#[tokio::test]
async fn each_response_carries_a_request_id() {
    let server = Server::start().await;
    let sent = server
        .client
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "req-42")
        .send()
        .await
        .expect("request");
    assert_eq!(sent.headers()["x-request-id"], "req-42");
    let made = server
        .client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("request");
    let id = made.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_and_provider_calls() {
    let server = Server::start().await;
    let google = server.connect("mia", Provider::Google).await;
    server
        .ok(
            "commit",
            json!({"user": "mia", "event": event_json("Sync", next_tuesday(9), 30), "accounts": [google["id"]]}),
        )
        .await;
    let text = server
        .client
        .get(format!("{}/metrics", server.base))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    for wanted in [
        r#"calsync_http_requests_total{action="commit",status="200"}"#,
        r#"calsync_http_request_duration_seconds_bucket{action="commit""#,
        r#"calsync_provider_calls_total{provider="google",outcome="ok"}"#,
    ] {
        assert!(text.contains(wanted), "{wanted} missing from:\n{text}");
    }
    server.stop().await;
}
