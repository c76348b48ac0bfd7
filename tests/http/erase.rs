//! deleteUser erases everything kept for a user, and nothing of anyone else.

use super::support::*;
use calsync::model::Provider;
use serde_json::json;

/// Every text and blob stored in the SQLite file, table by table.
fn everything_stored(path: &std::path::Path) -> Vec<(String, String)> {
    let connection = rusqlite::Connection::open(path).expect("open the store file");
    let mut tables = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .expect("tables");
    let names: Vec<String> = tables
        .query_map([], |row| row.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    let mut found = Vec::new();
    for table in names {
        let mut rows = connection
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .expect("select");
        let columns = rows.column_count();
        let mut cursor = rows.query([]).expect("rows");
        while let Some(row) = cursor.next().expect("row") {
            for column in 0..columns {
                let text = match row.get_ref(column).expect("value") {
                    rusqlite::types::ValueRef::Text(bytes)
                    | rusqlite::types::ValueRef::Blob(bytes) => {
                        String::from_utf8_lossy(bytes).into_owned()
                    }
                    _ => continue,
                };
                found.push((table.clone(), text));
            }
        }
    }
    found
}

#[tokio::test]
async fn delete_user_erases_everything_of_that_user_only() {
    let server = Server::start().await;
    let google = server.connect("erasable-ada", Provider::Google).await;
    let outlook = server.connect("erasable-ada", Provider::Outlook).await;
    let bobs = server.connect("kept-bob", Provider::Google).await;
    let start = next_tuesday(10);
    let committed = server
        .client
        .post(format!("{}/api/CalendarSync/commit", server.base))
        .bearer_auth(KEY)
        .header("Idempotency-Key", "erasable-key")
        .json(
            &json!({"user": "erasable-ada", "event": event_json("Private review", start, 30),
            "accounts": [google["id"], outlook["id"]]}),
        )
        .send()
        .await
        .expect("commit");
    assert_eq!(committed.status(), 200);
    server
        .ok(
            "commit",
            json!({"user": "kept-bob", "event": event_json("Bob's", start, 30), "accounts": [bobs["id"]]}),
        )
        .await;
    let draft = json!({"id": "d1", "title": "Clash", "start": start.to_rfc3339(),
        "end": (start + chrono::Duration::minutes(30)).to_rfc3339()});
    let report = server
        .ok(
            "detectConflicts",
            json!({"user": "erasable-ada", "draft": draft}),
        )
        .await;
    assert!(
        !report["conflicts"]
            .as_array()
            .expect("conflicts")
            .is_empty()
    );

    let erased = server
        .ok("deleteUser", json!({"user": "erasable-ada"}))
        .await;
    let removed = &erased["erased"]["removed"];
    assert_eq!(removed["accounts"], 2, "{erased}");
    assert_eq!(removed["syncedEvents"], 1, "{erased}");
    assert_eq!(removed["idempotencyKeys"], 1, "{erased}");
    assert!(
        removed["operations"].as_u64().unwrap_or_default() >= 2,
        "{erased}"
    );
    assert!(
        removed["conflicts"].as_u64().unwrap_or_default() >= 1,
        "{erased}"
    );
    assert_eq!(erased["erased"]["notRevoked"], json!([]));

    let file = server.store_file().expect("an embedded store");
    let stored = everything_stored(&file);
    let left: Vec<_> = stored
        .iter()
        .filter(|(_, text)| text.contains("erasable-ada") || text.contains("Private review"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        stored.iter().any(|(_, text)| text.contains("kept-bob")),
        "another user's data stays"
    );
    let accounts = server
        .ok("getAccountStatus", json!({"user": "erasable-ada"}))
        .await;
    assert_eq!(accounts["accounts"], json!([]));
    let bob = server
        .ok("getAccountStatus", json!({"user": "kept-bob"}))
        .await;
    assert_eq!(bob["accounts"].as_array().map(Vec::len), Some(1));
    // The credentials were revoked: the old token no longer works.
    assert_eq!(server.provider(Provider::Google).counts().revokes, 1);

    let again = server
        .ok("deleteUser", json!({"user": "erasable-ada"}))
        .await;
    assert_eq!(again["erased"]["removed"]["accounts"], 0);
    let (status, body) = server.call("deleteUser", json!({"user": " "})).await;
    assert_error(status, &body, 400, "invalid_input");
    server.stop().await;
}
