//! `calsync account connect` and `calsync import` as a user runs them, on
//! each real server: a file and a folder, each imported twice, creating
//! nothing twice, including after the record of a create was lost.

use super::support::{Server, servers};
use calsync::CalendarSync;
use calsync::model::{AccountId, UserId};
use calsync::store::{SqliteStore, Store};
use std::path::Path;
use std::process::{Command, Output};

fn calsync(args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_calsync"));
    command.args(args).env_remove("CALSYNC_MASTER_KEY");
    if let Some(password) = password {
        command.env("CALSYNC_TEST_IMPORT_PASSWORD", password);
    }
    command.output().expect("calsync runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Connects an apple account on a new calendar; answers its id and calendar URL.
async fn connect(server: &Server, data: &Path) -> (String, String) {
    let calendar = server.new_calendar().await;
    let data = data.to_str().expect("UTF-8 path");
    let out = calsync(
        &[
            "account",
            "connect",
            "--user",
            "ada",
            "--provider",
            "apple",
            "--username",
            &server.user,
            "--password-env",
            "CALSYNC_TEST_IMPORT_PASSWORD",
            "--url",
            &server.url,
            "--calendar",
            &calendar,
            "--data-dir",
            data,
        ],
        Some(&server.password),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout} {stderr}");
    assert!(!stdout.contains(&server.password) && !stderr.contains(&server.password));
    let id = stdout.trim().to_owned();
    let list = calsync(
        &["account", "list", "--user", "ada", "--data-dir", data],
        None,
    );
    let listed = text(&list.stdout);
    let line = listed
        .lines()
        .find(|line| line.starts_with(&id))
        .expect("listed");
    assert!(line.contains("\tapple\tconnected\t"), "{line}");
    let home = format!("{}/", server.url.trim_end_matches('/'));
    let members_at = server.raw("PROPFIND", &home, &[("Depth", "0")], None).await;
    assert!(members_at.0 < 500, "the server answers");
    let store = SqliteStore::open(Path::new(data).join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    let record = store
        .get_account(&AccountId::from(id.as_str()))
        .await
        .expect("read");
    let url = record
        .and_then(|r| r.account.calendar_id)
        .expect("calendar URL");
    assert!(url.ends_with(&format!("/{calendar}/")), "{url}");
    (id, url)
}

fn import(path: &Path, account: &str, data: &Path) -> (bool, String) {
    let out = calsync(
        &[
            "import",
            "--user",
            "ada",
            "--account",
            account,
            path.to_str().expect("UTF-8 path"),
            "--data-dir",
            data.to_str().expect("UTF-8 path"),
        ],
        None,
    );
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

/// An export: a plain event, an all-day one, a weekly series with one
/// instance moved, a cancelled event, and a line that cannot be read.
fn export(tag: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Export//EN\r\nX-WR-TIMEZONE:Europe/Berlin\r\n\
         BEGIN:VEVENT\r\nUID:{tag}-plain\r\nDTSTART:20300301T100000\r\nDTEND:20300301T110000\r\n\
         SUMMARY:Dentist\r\nLOCATION:Main St\\, 5\r\nDESCRIPTION:Bring the card\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:{tag}-day\r\nDTSTART;VALUE=DATE:20300305\r\nSUMMARY:Holiday\r\n\
         TRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:{tag}-series\r\nDTSTART;TZID=Europe/Berlin:20300304T090000\r\n\
         DTEND;TZID=Europe/Berlin:20300304T093000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n\
         SUMMARY:Stand-up\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bo@example.com\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:{tag}-series\r\nRECURRENCE-ID;TZID=Europe/Berlin:20300311T090000\r\n\
         DTSTART;TZID=Europe/Berlin:20300311T150000\r\nDTEND;TZID=Europe/Berlin:20300311T153000\r\n\
         SUMMARY:Stand-up (late)\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:{tag}-gone\r\nDTSTART:20300302T100000Z\r\nDTEND:20300302T110000Z\r\n\
         STATUS:CANCELLED\r\nSUMMARY:Called off\r\nEND:VEVENT\r\n\
         this line is not iCalendar\r\nEND:VCALENDAR\r\n"
    )
}

#[tokio::test]
async fn import_of_a_file_and_a_folder_twice_creates_nothing_twice() {
    for server in servers("import_of_a_file_and_a_folder_twice_creates_nothing_twice") {
        let data = tempfile::tempdir().expect("temp dir");
        let (account, calendar) = connect(&server, data.path()).await;
        let file = data.path().join("export.ics");
        std::fs::write(&file, export("file")).expect("write");

        let (ok, said) = import(&file, &account, data.path());
        assert!(ok, "{said}");
        assert!(
            said.contains("4 events: 4 created, 0 already imported, 0 failed"),
            "{said}"
        );
        assert!(said.contains("1 cancelled events left out"), "{said}");
        assert!(
            said.contains("export.ics:41: "),
            "the bad line is named: {said}"
        );
        let members = server.members(&calendar).await;
        assert_eq!(members.len(), 4, "{}: {members:?}", server.name);

        let (ok, said) = import(&file, &account, data.path());
        assert!(ok, "{said}");
        assert!(
            said.contains("4 events: 0 created, 4 already imported, 0 failed"),
            "{said}"
        );
        assert_eq!(server.members(&calendar).await.len(), 4);

        // The series excludes its moved instance, which stands on its own.
        let sync_store = SqliteStore::open(data.path().join("calsync.db"), "CalendarSync.")
            .await
            .expect("store");
        let user = UserId::from("ada");
        let series_id = CalendarSync::keyed_event_id(&user, "import:file-series");
        let series = sync_store
            .get_synced_event(&series_id)
            .await
            .expect("read")
            .expect("there");
        let account_id = AccountId::from(account.as_str());
        let href = series.provider_ids[&account_id].event_id.clone();
        let (_, _, body) = server.raw("GET", &href, &[], None).await;
        assert!(body.contains("EXDATE:20300311T080000Z"), "{body}");
        assert!(body.contains("RRULE:FREQ=WEEKLY;COUNT=4"), "{body}");

        // A crash between the server's create and the store's record: the
        // record is gone, the event is not. Importing again finds it.
        sync_store
            .detach_provider_event(&series_id, &account_id, chrono::Utc::now())
            .await
            .expect("forget");
        drop(sync_store);
        let (ok, said) = import(&file, &account, data.path());
        assert!(ok, "{said}");
        assert!(
            said.contains("4 events: 1 created, 3 already imported"),
            "{said}"
        );
        assert_eq!(server.members(&calendar).await.len(), 4, "nothing twice");

        // A folder of two files, twice.
        let folder = data.path().join("exports");
        std::fs::create_dir(&folder).expect("mkdir");
        std::fs::write(folder.join("a.ics"), export("a")).expect("write");
        std::fs::write(folder.join("b.ICS"), export("b")).expect("write");
        std::fs::write(folder.join("notes.txt"), "not a calendar").expect("write");
        let (ok, said) = import(&folder, &account, data.path());
        assert!(ok, "{said}");
        assert!(
            said.contains("8 events: 8 created, 0 already imported, 0 failed"),
            "{said}"
        );
        let (ok, said) = import(&folder, &account, data.path());
        assert!(ok, "{said}");
        assert!(
            said.contains("8 events: 0 created, 8 already imported, 0 failed"),
            "{said}"
        );
        assert_eq!(server.members(&calendar).await.len(), 12, "{}", server.name);
    }
}

#[tokio::test]
async fn import_reports_what_failed_and_why() {
    for server in servers("import_reports_what_failed_and_why") {
        let data = tempfile::tempdir().expect("temp dir");
        let (account, calendar) = connect(&server, data.path()).await;
        let file = data.path().join("odd.ics");
        // A timed event without an end (zero length) is not a valid event.
        std::fs::write(
            &file,
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:instant\r\nDTSTART:20300301T100000Z\r\n\
             SUMMARY:Reminder\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:fine\r\n\
             DTSTART:20300301T120000Z\r\nDTEND:20300301T130000Z\r\nSUMMARY:Lunch\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n",
        )
        .expect("write");
        let (ok, said) = import(&file, &account, data.path());
        assert!(!ok, "a failure makes the exit code fail: {said}");
        assert!(
            said.contains("2 events: 1 created, 0 already imported, 1 failed"),
            "{said}"
        );
        let failed = said
            .lines()
            .find(|line| line.starts_with("failed "))
            .expect("named");
        assert!(
            failed.contains("instant") && failed.contains("end"),
            "{failed}"
        );
        assert_eq!(server.members(&calendar).await.len(), 1);

        let (ok, said) = import(&file, &AccountId::fresh().to_string(), data.path());
        assert!(!ok);
        assert!(said.contains("--account"), "{said}");
    }
}
