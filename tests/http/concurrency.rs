//! Many commits at once for one user: all succeed, none is duplicated.

use super::support::*;
use calsync::model::Provider;
use chrono::Duration;
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_commits_all_succeed_once() {
    let server = Server::start().await;
    let google = server.connect("ada", Provider::Google).await;
    let outlook = server.connect("ada", Provider::Outlook).await;
    let accounts = json!([google["id"], outlook["id"]]);
    let base = next_tuesday(8);
    let calls = (0..100).map(|n| {
        let event = event_json(
            &format!("Meeting {n}"),
            base + Duration::minutes(30 * n),
            30,
        );
        server.call(
            "commit",
            json!({"user": "ada", "event": event, "accounts": accounts}),
        )
    });
    let answers = futures::future::join_all(calls).await;
    let mut ids = BTreeSet::new();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let synced = &body["syncedEvent"];
        for account in [&google, &outlook] {
            let key = account["id"].as_str().expect("id");
            assert_eq!(synced["results"][key]["status"], "succeeded", "{synced}");
        }
        ids.insert(synced["internalId"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 100, "one synced event per commit");
    for account in [&google, &outlook] {
        let events = server.events_on(account);
        assert_eq!(events.len(), 100, "no duplicate and none missing");
        let titles: BTreeSet<_> = events.iter().map(|e| e.event.title.clone()).collect();
        assert_eq!(titles.len(), 100);
        let provider: Provider = account["provider"]
            .as_str()
            .expect("p")
            .parse()
            .expect("known");
        let counts = server.provider(provider).counts();
        assert_eq!(counts.creates, 100);
        assert_eq!(counts.repeated_creates, 0);
    }
    server.stop().await;
}
