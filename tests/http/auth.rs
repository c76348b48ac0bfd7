//! API keys: required on every route but the health checks; rate limits per key.

use super::support::*;
use calsync::http::RateLimit;
use serde_json::json;
use std::num::NonZeroU32;

#[tokio::test]
async fn actions_need_a_configured_key() {
    let server = Server::start().await;
    let url = format!("{}/api/CalendarSync/getAccountStatus", server.base);
    let body = json!({"user": "ada"});
    let none = server
        .client
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(
        none.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let (status, answer_body) = answer(none).await;
    assert_error(status, &answer_body, 401, "unauthorized");
    let wrong = server
        .client
        .post(&url)
        .bearer_auth("not-the-key")
        .json(&body)
        .send()
        .await
        .expect("request");
    let (status, answer_body) = answer(wrong).await;
    assert_error(status, &answer_body, 401, "unauthorized");
    let basic = server
        .client
        .post(&url)
        .basic_auth("u", Some(KEY))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(basic.status().as_u16(), 401);
    let right = server
        .client
        .post(&url)
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(right.status().as_u16(), 200);
    for path in ["/metrics", "/openapi.json"] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn health_checks_need_no_key() {
    let server = Server::start().await;
    for (path, text) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.text().await.expect("body"), text);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_key_over_its_rate_is_429_with_retry_after() {
    let server = Server::start_with(|state| {
        // One an hour: none of the five requests waits long enough for a new one.
        state.rate_limit =
            RateLimit::one_every(crate::patience::NEVER, NonZeroU32::new(3).expect("3"));
    })
    .await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..5 {
        let response = server
            .client
            .post(format!("{}/api/CalendarSync/getAccountStatus", server.base))
            .bearer_auth(KEY)
            .json(&json!({"user": "ada"}))
            .send()
            .await
            .expect("request");
        let retry_after = response.headers().get("retry-after").cloned();
        let (status, body) = answer(response).await;
        if status == 429 {
            limited = Some((body, retry_after));
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let (body, retry_after) = limited.expect("limited");
    assert_error(429, &body, 429, "rate_limited");
    assert!(retry_after.is_some(), "Retry-After is sent");
    server.stop().await;
}
