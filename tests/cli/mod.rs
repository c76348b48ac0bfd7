//! The `calsync` command line, run as a user would.

use serde_json::Value;
use std::process::Command;

fn calsync(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(args)
        .env_remove("CALSYNC_MASTER_KEY")
        .output()
        .expect("calsync runs")
}

#[test]
fn demo_json_plays_the_principle_in_order() {
    let output = calsync(&["demo", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let object = answer.as_object().expect("object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "connectAccount",
            "detectConflicts",
            "suggestReschedules",
            "commit",
            "update"
        ]
    );

    let accounts = answer["connectAccount"].as_array().expect("two accounts");
    let providers: Vec<&str> = accounts
        .iter()
        .filter_map(|a| a["provider"].as_str())
        .collect();
    assert_eq!(providers, ["google", "outlook"]);
    assert_eq!(
        answer["detectConflicts"]["conflicts"][0]["existingEvents"][0]["account"],
        accounts[0]["id"]
    );

    let hours: Vec<String> = answer["suggestReschedules"]["suggestions"]
        .as_array()
        .expect("suggestions")
        .iter()
        .take(3)
        .map(|s| {
            let start = s["start"].as_str().expect("start");
            let instant = chrono::DateTime::parse_from_rfc3339(start).expect("rfc3339");
            let local = instant.with_timezone(&chrono_tz::America::New_York);
            local.format("%H:%M").to_string()
        })
        .collect();
    assert_eq!(hours, ["15:00", "16:00", "13:00"]);

    let ids = answer["commit"]["providerIds"]
        .as_object()
        .expect("provider ids");
    assert_eq!(ids.len(), 2);
    for account in accounts {
        let id = account["id"].as_str().expect("id");
        assert!(ids[id]["eventId"].as_str().is_some_and(|e| !e.is_empty()));
        assert_eq!(answer["update"]["results"][id]["status"], "succeeded");
    }
    assert_eq!(answer["update"]["event"]["location"], "Room 4");
}

#[test]
fn demo_refuses_a_bad_zone_naming_the_option() {
    let output = calsync(&["demo", "--zone", "Mars/Olympus"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--zone"), "{stderr}");
}

#[test]
fn demo_seeds_a_calendar_export_and_suggests_around_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("export.ics");
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:daily-3pm@example.com\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=America/New_York:20260105T150000\r\nDTEND;TZID=America/New_York:20260105T160000\r\n\
RRULE:FREQ=DAILY\r\nSUMMARY:Daily focus\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:broken@example.com\r\nDTSTART:not-a-date\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    std::fs::write(&path, ics).expect("write");
    let output = calsync(&[
        "demo",
        "--json",
        "--seed",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("export.ics:"),
        "the bad event is reported with its line: {stderr}"
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let first = answer["suggestReschedules"]["suggestions"][0]["start"]
        .as_str()
        .expect("start");
    let local = chrono::DateTime::parse_from_rfc3339(first)
        .expect("rfc3339")
        .with_timezone(&chrono_tz::America::New_York);
    assert_eq!(
        local.format("%H:%M").to_string(),
        "16:00",
        "3pm is taken every day by the export"
    );
}

#[cfg(feature = "mongodb")]
#[tokio::test]
async fn demo_plays_the_principle_on_mongodb() {
    use mongodb::bson::doc;
    let Some(uri) = crate::store::mongodb::test_uri() else {
        return;
    };
    let database = crate::store::mongodb::unique_database();
    let output = calsync(&[
        "demo",
        "--json",
        "--store",
        &uri,
        "--database",
        &database,
        "--prefix",
        "Demo.",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let event_id = answer["commit"]["internalId"]
        .as_str()
        .expect("synced event id");

    let client = mongodb::Client::with_uri_str(&uri).await.expect("client");
    let db = client.database(&database);
    let collection = |name: &str| db.collection::<mongodb::bson::Document>(name);
    let accounts = collection("Demo.accounts")
        .count_documents(doc! {})
        .await
        .expect("count");
    assert_eq!(
        accounts, 2,
        "the demo's accounts are in the MongoDB database"
    );
    let event = collection("Demo.syncedEvents")
        .find_one(doc! { "_id": event_id })
        .await
        .expect("find")
        .expect("the committed event is in the MongoDB database");
    assert_eq!(
        event.get_array("accounts").map(Vec::len),
        Ok(2),
        "{event:?}"
    );
}

#[test]
fn demo_never_prints_the_password_of_a_store_uri() {
    for uri in [
        "mongodb://calsync:hunter2@127.0.0.1:9/?serverSelectionTimeoutMS=200",
        "mongo://calsync:hunter2@127.0.0.1:9/",
    ] {
        let output = calsync(&["demo", "--store", uri]);
        assert!(!output.status.success(), "{uri}: nothing listens there");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stderr.contains("store"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(!stdout.contains("hunter2"), "{stdout}");
    }
}
