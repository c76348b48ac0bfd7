//! The sandbox keeps users apart even when they connect with the same
//! example token: a sandbox calendar belongs to the pair (calsync user,
//! token); the same user reconnecting finds it again.

use super::support::*;
use calsync::model::Provider;
use serde_json::{Value, json};

async fn connect_with(server: &Server, user: &str, provider: Provider, token: &str) -> Value {
    server
        .ok(
            "connectAccount",
            json!({"user": user, "provider": provider.as_str(), "credentials": {"access_token": token}}),
        )
        .await["account"]
        .clone()
}

#[tokio::test]
async fn two_users_with_the_same_example_token_get_calendars_of_their_own() {
    let server = Server::start().await;
    for provider in Provider::ALL {
        let ada = connect_with(&server, "ada", provider, "example-token").await;
        let bob = connect_with(&server, "bob", provider, "example-token").await;
        assert_ne!(ada["calendarId"], bob["calendarId"], "{provider}");
        let committed = server
            .ok(
                "commit",
                json!({"user": "ada", "event": event_json("Ada's", next_tuesday(9), 30), "accounts": [ada["id"]]}),
            )
            .await;
        assert_eq!(server.events_on(&ada).len(), 1, "{provider}");
        assert!(
            server.events_on(&bob).is_empty(),
            "{provider}: bob sees ada's event"
        );
        // Bob's busy time does not hold Ada's event.
        let mut draft = event_json("Bob's", next_tuesday(9), 30);
        draft["id"] = json!(format!("draft-{provider}"));
        let report = server
            .ok("detectConflicts", json!({"user": "bob", "draft": draft}))
            .await;
        assert_eq!(report["conflicts"], json!([]), "{provider}: {report}");
        // Bob letting go of his connection leaves Ada's working.
        server
            .ok(
                "disconnectAccount",
                json!({"user": "bob", "account": bob["id"]}),
            )
            .await;
        let event_id = &committed["syncedEvent"]["internalId"];
        server
            .ok(
                "update",
                json!({"user": "ada", "eventId": event_id, "changes": {"title": "Ada's, renamed"}}),
            )
            .await;
        assert_eq!(server.events_on(&ada)[0].event.title, "Ada's, renamed");
        // Ada reconnecting with the same token finds her calendar again.
        let again = connect_with(&server, "ada", provider, "example-token").await;
        assert_eq!(again["calendarId"], ada["calendarId"], "{provider}");
        assert_eq!(server.events_on(&again).len(), 1, "{provider}");
        server
            .ok("cancel", json!({"user": "ada", "eventId": event_id}))
            .await;
    }
    server.stop().await;
}
