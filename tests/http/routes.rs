//! Every action of the library is routed, and every route is in the OpenAPI document.

use super::support::*;
use calsync::http::routes::ACTIONS;
use serde_json::json;

/// The spec's ten actions.
const SPEC_ACTIONS: [&str; 10] = [
    "connectAccount",
    "commit",
    "detectConflicts",
    "suggestReschedules",
    "update",
    "cancel",
    "disconnectAccount",
    "refreshSync",
    "getAccountStatus",
    "getSyncedEvent",
];

#[tokio::test]
async fn every_action_is_routed_and_reads_its_arguments() {
    let server = Server::start().await;
    assert_eq!(ACTIONS, SPEC_ACTIONS);
    for action in SPEC_ACTIONS {
        // An empty object reaches the action's own argument reader, which
        // names the first argument it misses: proof the route is the action's.
        let (status, body) = server.call(action, json!({})).await;
        assert_error(status, &body, 400, "invalid_input");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("user: is required"),
            "{action}: {body}"
        );
    }
    let (status, body) = server.call("bookMeeting", json!({})).await;
    assert_error(status, &body, 404, "unknown_action");
    server.stop().await;
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document() {
    let server = Server::start().await;
    let response = server
        .client
        .get(format!("{}/openapi.json", server.base))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let (status, document) = answer(response).await;
    assert_eq!(status, 200);
    let paths = document["paths"].as_object().expect("paths");
    let mut routed: Vec<String> = SPEC_ACTIONS
        .iter()
        .map(|action| format!("/api/CalendarSync/{action}"))
        .collect();
    routed.extend(
        [
            "/api/CalendarSync/startConnect",
            "/api/CalendarSync/listCalendars",
            "/api/sandbox/seed",
            "/api/sandbox/failures",
            "/api/sandbox/latency",
            "/api/CalendarSync/deleteUser",
        ]
        .map(String::from),
    );
    for path in &routed {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        assert!(item["post"]["requestBody"].is_object(), "{path}");
        assert!(item["post"]["responses"]["200"].is_object(), "{path}");
        // The route answers what the document promises: it exists (a bad body is a 400, not a 404).
        let (status, _) = server.post(path, json!({})).await;
        assert_eq!(status, 400, "{path}");
    }
    assert_eq!(
        paths.len(),
        routed.len(),
        "no undocumented extras: {:?}",
        paths.keys()
    );
    server.stop().await;
}
