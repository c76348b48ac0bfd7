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
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let object = answer.as_object().expect("object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, ["connectAccount", "detectConflicts", "suggestReschedules", "commit", "update"]);

    let accounts = answer["connectAccount"].as_array().expect("two accounts");
    let providers: Vec<&str> = accounts.iter().filter_map(|a| a["provider"].as_str()).collect();
    assert_eq!(providers, ["google", "outlook"]);
    assert_eq!(answer["detectConflicts"]["conflicts"][0]["existingEvents"][0]["account"], accounts[0]["id"]);

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

    let ids = answer["commit"]["providerIds"].as_object().expect("provider ids");
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
