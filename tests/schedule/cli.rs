//! `calsync conflicts` and `calsync suggest` run as a user would: the real
//! binary on .ics files, answers read from its JSON (or text) output.

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike};
use chrono_tz::America::New_York;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn calsync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(args)
        .output()
        .expect("calsync runs")
}

/// Runs a command expected to succeed and reads its JSON answer.
fn json(args: &[&str]) -> (Value, String) {
    let output = calsync(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "calsync {args:?} failed: {stderr}");
    let answer = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    (answer, stderr)
}

/// A calendar file with the given VEVENT bodies (lines without BEGIN/END).
fn write_ics(dir: &Path, name: &str, events: &[&str]) -> PathBuf {
    let mut text =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync tests//EN\r\n");
    for body in events {
        text.push_str("BEGIN:VEVENT\r\nDTSTAMP:20250101T000000Z\r\n");
        for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("END:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write .ics");
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

/// A weekly 14:00-14:30 New York stand-up from Monday 3 March 2025 (before
/// the 9 March DST change), and a free event that must never conflict.
fn work_calendar(dir: &Path) -> PathBuf {
    write_ics(
        dir,
        "work.ics",
        &[
            "UID:standup@example.com
             SUMMARY:Stand-up
             DTSTART;TZID=America/New_York:20250303T140000
             DTEND;TZID=America/New_York:20250303T143000
             RRULE:FREQ=WEEKLY",
            "UID:focus@example.com
             SUMMARY:Focus (free)
             TRANSP:TRANSPARENT
             DTSTART;TZID=America/New_York:20250317T140000
             DTEND;TZID=America/New_York:20250317T160000",
        ],
    )
}

/// On Monday 17 March 2025 in New York: a review at exactly the draft's time
/// and a dentist appointment five minutes after it.
fn home_calendar(dir: &Path) -> PathBuf {
    write_ics(
        dir,
        "home.ics",
        &[
            "UID:review@example.com
             SUMMARY:Review
             DTSTART;TZID=America/New_York:20250317T141500
             DTEND;TZID=America/New_York:20250317T150000",
            "UID:dentist@example.com
             SUMMARY:Dentist
             DTSTART;TZID=America/New_York:20250317T150500
             DTEND;TZID=America/New_York:20250317T153000",
        ],
    )
}

/// The draft all conflict tests check: 14:15-15:00 New York on 17 March 2025.
const DRAFT: [&str; 6] = [
    "--start",
    "2025-03-17T14:15",
    "--end",
    "2025-03-17T15:00",
    "--zone",
    "America/New_York",
];

/// Each conflict as (uid, reason, buffer, account, start, end).
fn conflict_rows(answer: &Value) -> Vec<Row> {
    let mut rows: Vec<_> = answer["conflicts"]
        .as_array()
        .expect("conflicts array")
        .iter()
        .map(|c| {
            (
                text(&c["uid"]).to_owned(),
                text(&c["reason"]).to_owned(),
                c["buffer"].as_str().unwrap_or("-").to_owned(),
                text(&c["account"]).to_owned(),
                text(&c["start"]).to_owned(),
                text(&c["end"]).to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

type Row = (String, String, String, String, String, String);

fn row(uid: &str, reason: &str, buffer: &str, account: &str, start: &str, end: &str) -> Row {
    let s = |v: &str| v.to_owned();
    (s(uid), s(reason), s(buffer), s(account), s(start), s(end))
}

#[test]
fn conflicts_json_names_each_occurrence_by_uid_with_its_own_utc_span() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, home) = (work_calendar(dir.path()), home_calendar(dir.path()));
    let mut args = vec!["conflicts", path_str(&work), path_str(&home), "--json"];
    args.extend(DRAFT);
    args.extend(["--buffer-after", "10"]);
    let (answer, _) = json(&args);
    // The stand-up's 17 March occurrence, after the DST change: still 14:00
    // local, so 18:00 UTC (the series started at 19:00 UTC in EST).
    assert_eq!(
        conflict_rows(&answer),
        vec![
            row(
                "dentist@example.com",
                "buffer_violation",
                "after",
                "home",
                "2025-03-17T19:05:00Z",
                "2025-03-17T19:30:00Z"
            ),
            row(
                "review@example.com",
                "double_booking",
                "-",
                "home",
                "2025-03-17T18:15:00Z",
                "2025-03-17T19:00:00Z"
            ),
            row(
                "standup@example.com",
                "time_overlap",
                "-",
                "work",
                "2025-03-17T18:00:00Z",
                "2025-03-17T18:30:00Z"
            ),
        ]
    );
    assert_eq!(answer["problems"], Value::Array(Vec::new()));
    assert_eq!(answer["unknownAccounts"], Value::Array(Vec::new()));
}

#[test]
fn conflicts_without_buffers_leave_the_neighbour_alone_and_print_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (work, home) = (work_calendar(dir.path()), home_calendar(dir.path()));
    let mut args = vec!["conflicts", path_str(&work), path_str(&home)];
    args.extend(DRAFT);
    let output = calsync(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        stdout.contains("double_booking: review@example.com 2025-03-17T18:15:00Z"),
        "{stdout}"
    );
    assert!(
        stdout.contains("time_overlap: standup@example.com 2025-03-17T18:00:00Z"),
        "{stdout}"
    );
    assert!(!stdout.contains("dentist"), "no buffer asked for: {stdout}");
}

/// Suggestions as (local start, local end, attendees part) in New York.
fn suggestions(answer: &Value) -> Vec<(chrono::NaiveDateTime, chrono::NaiveDateTime, f64)> {
    let local = |v: &Value| {
        DateTime::parse_from_rfc3339(text(v))
            .expect("rfc3339")
            .with_timezone(&New_York)
            .naive_local()
    };
    answer["suggestions"]
        .as_array()
        .expect("suggestions array")
        .iter()
        .map(|s| {
            let part = s["scoreParts"]["attendees"]
                .as_f64()
                .expect("attendees part");
            (local(&s["start"]), local(&s["end"]), part)
        })
        .collect()
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

#[test]
fn suggest_honours_working_hours_granularity_and_the_attendees_busy_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = write_ics(
        dir.path(),
        "work.ics",
        &["UID:blocker@example.com
           DTSTART;TZID=America/New_York:20250318T150000
           DTEND;TZID=America/New_York:20250318T160000"],
    );
    let attendee = write_ics(
        dir.path(),
        "ana.ics",
        &["UID:ana-lunch@example.com
           DTSTART;TZID=America/New_York:20250318T113000
           DTEND;TZID=America/New_York:20250318T130000"],
    );
    let day = NaiveDate::from_ymd_opt(2025, 3, 18).expect("valid date");
    for granularity in [30u32, 45] {
        let granularity_text = granularity.to_string();
        let (answer, _) = json(&[
            "suggest",
            path_str(&work),
            "--attendee",
            path_str(&attendee),
            "--start",
            "2025-03-18T14:00",
            "--end",
            "2025-03-18T15:00",
            "--zone",
            "America/New_York",
            "--working-hours",
            "10:00-17:00",
            "--same-day-only",
            "--granularity",
            &granularity_text,
            "--limit",
            "50",
            "--now",
            "2025-03-01T00:00:00Z",
            "--json",
        ]);
        let found = suggestions(&answer);
        assert!(found.len() >= 3, "a free morning and afternoon: {found:?}");
        let blocker = (day.and_time(hm(15, 0)), day.and_time(hm(16, 0)));
        let lunch = (day.and_time(hm(11, 30)), day.and_time(hm(13, 0)));
        for (i, &(start, end, attendees)) in found.iter().enumerate() {
            assert_eq!(start.date(), day, "same day only: {start}");
            assert!(
                start.time() >= hm(10, 0) && end.time() <= hm(17, 0),
                "inside 10-17: {start}"
            );
            let minute_of_day = start.time().num_seconds_from_midnight() / 60;
            assert_eq!(
                minute_of_day % granularity,
                0,
                "on the {granularity}-minute grid: {start}"
            );
            assert_eq!(end - start, chrono::Duration::hours(1));
            assert!(
                end <= blocker.0 || start >= blocker.1,
                "overlaps the busy 15:00: {start}"
            );
            assert_ne!(
                start.time(),
                hm(14, 0),
                "the draft's own time is not an alternative"
            );
            let clashes = start < lunch.1 && end > lunch.0;
            assert_eq!(
                attendees,
                if clashes { 0.0 } else { 1.0 },
                "attendee part at {start}"
            );
            for &(other_start, other_end, _) in &found[..i] {
                assert!(
                    end <= other_start || start >= other_end,
                    "{start} overlaps another suggestion"
                );
            }
        }
        assert!(
            found.iter().any(|s| s.2 == 0.0),
            "some slot clashes with the attendee: {found:?}"
        );
    }
}

#[test]
fn suggest_looks_no_further_than_the_horizon() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Tuesday 18 March is taken all day; Wednesday and Thursday are free.
    let work = write_ics(
        dir.path(),
        "work.ics",
        &["UID:offsite@example.com
           DTSTART;VALUE=DATE:20250318
           DTEND;VALUE=DATE:20250319"],
    );
    let dates = |days: &str| {
        let (answer, _) = json(&[
            "suggest",
            path_str(&work),
            "--start",
            "2025-03-18T14:00",
            "--end",
            "2025-03-18T15:00",
            "--zone",
            "America/New_York",
            "--days",
            days,
            "--granularity",
            "60",
            "--limit",
            "50",
            "--now",
            "2025-03-01T00:00:00Z",
            "--json",
        ]);
        let mut dates: Vec<NaiveDate> = suggestions(&answer).iter().map(|s| s.0.date()).collect();
        dates.sort();
        dates.dedup();
        dates
    };
    let date = |d: u32| NaiveDate::from_ymd_opt(2025, 3, d).expect("valid date");
    assert_eq!(dates("1"), vec![date(19)]);
    assert_eq!(dates("2"), vec![date(19), date(20)]);
}

#[test]
fn malformed_ics_is_reported_with_file_and_line_and_the_rest_is_used() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ics/malformed.ics");
    let (answer, stderr) = json(&[
        "conflicts",
        path_str(&file),
        "--start",
        "2025-05-06T09:30:00Z",
        "--end",
        "2025-05-06T10:30:00Z",
        "--json",
    ]);
    let rows = conflict_rows(&answer);
    assert_eq!(
        rows,
        vec![row(
            "later@example.com",
            "time_overlap",
            "-",
            "malformed",
            "2025-05-06T09:00:00Z",
            "2025-05-06T10:00:00Z"
        )],
        "the event after the broken ones is still read"
    );
    let problems = answer["problems"].as_array().expect("problems");
    let lines: Vec<u64> = problems
        .iter()
        .filter(|p| {
            p["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("malformed.ics"))
        })
        .map(|p| p["line"].as_u64().expect("line number"))
        .collect();
    for line in [8, 11] {
        assert!(lines.contains(&line), "line {line} reported: {problems:?}");
        let said = format!("malformed.ics:{line}: ");
        assert!(stderr.contains(&said), "stderr names {said}: {stderr}");
    }
}

#[test]
fn an_unreadable_calendar_is_unknown_not_free() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = work_calendar(dir.path());
    let missing = dir.path().join("missing.ics");
    let folder = dir.path().join("shared.ics");
    std::fs::create_dir(&folder).expect("mkdir");
    let mut args = vec![
        "conflicts",
        path_str(&work),
        path_str(&missing),
        path_str(&folder),
        "--json",
    ];
    args.extend(DRAFT);
    let (answer, stderr) = json(&args);
    let unknown: Vec<&str> = answer["unknownAccounts"]
        .as_array()
        .expect("unknown accounts")
        .iter()
        .map(|u| {
            assert!(!text(&u["reason"]).is_empty(), "a reason is given: {u}");
            text(&u["account"])
        })
        .collect();
    assert_eq!(unknown, ["missing", "shared"]);
    assert!(
        stderr.contains("missing.ics") && stderr.contains("unknown"),
        "{stderr}"
    );
    assert_eq!(
        conflict_rows(&answer).len(),
        1,
        "the readable calendar is still checked"
    );

    // A quiet time: no conflicts on what could be read, but not "free".
    let quiet = [
        "--start",
        "2025-03-17T20:00",
        "--end",
        "2025-03-17T21:00",
        "--zone",
        "America/New_York",
    ];
    let mut args = vec!["conflicts", path_str(&work), path_str(&missing)];
    args.extend(quiet);
    let output = calsync(&args);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("unknown: account missing"), "{stdout}");
    assert!(
        !stdout.lines().any(|l| l == "no conflicts"),
        "must not claim plain freedom: {stdout}"
    );

    let mut args = vec![
        "suggest",
        path_str(&work),
        path_str(&missing),
        "--now",
        "2025-03-01T00:00:00Z",
        "--json",
    ];
    args.extend(quiet);
    let (answer, _) = json(&args);
    assert_eq!(answer["unknownAccounts"][0]["account"], "missing");
}

/// Runs a command that must fail and returns its stderr.
fn refused(args: &[&str]) -> String {
    let output = calsync(args);
    assert!(!output.status.success(), "calsync {args:?} should fail");
    assert!(output.stdout.is_empty(), "no answer printed for bad input");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_option_value_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = work_calendar(dir.path());
    let work = path_str(&work);
    let cases: [(&[&str], &str); 7] = [
        (
            &[
                "conflicts",
                work,
                "--start",
                "2025-03-17T14:00",
                "--end",
                "2025-03-17T15:00",
                "--zone",
                "Mars/Olympus",
            ],
            "--zone",
        ),
        (
            &[
                "conflicts",
                work,
                "--start",
                "tomorrow",
                "--end",
                "2025-03-17T15:00",
            ],
            "--start",
        ),
        (
            &[
                "conflicts",
                work,
                "--start",
                "2025-03-17T14:00",
                "--end",
                "2025-03-17T15:00",
                "--buffer-before",
                "ten",
            ],
            "--buffer-before",
        ),
        (
            &[
                "suggest",
                work,
                "--start",
                "2025-03-17T14:00",
                "--end",
                "2025-03-17T15:00",
                "--working-hours",
                "nine-to-five",
            ],
            "--working-hours",
        ),
        (
            &[
                "suggest",
                work,
                "--start",
                "2025-03-17T14:00",
                "--end",
                "2025-03-17T15:00",
                "--working-hours",
                "17:00-09:00",
            ],
            "--working-hours",
        ),
        (
            &[
                "suggest",
                work,
                "--start",
                "2025-03-17T14:00",
                "--end",
                "2025-03-17T15:00",
                "--granularity",
                "0",
            ],
            "--granularity",
        ),
        (
            &[
                "suggest",
                work,
                "--start",
                "2025-03-17T14:00",
                "--end",
                "2025-03-17T15:00",
                "--now",
                "soon",
            ],
            "--now",
        ),
    ];
    for (args, flag) in cases {
        let stderr = refused(args);
        assert!(
            stderr.contains(flag),
            "calsync {args:?}: error names {flag}: {stderr}"
        );
    }
}
