//! `calsync import` of 200 and 2,000 events into an empty calendar on each
//! CalDAV test server, against the floor: a plain keep-alive loop of
//! `PUT If-None-Match: *` on the same server. Run by hand:
//!
//! ```text
//! scripts/bench-caldav-import.sh
//! ```
//!
//! which starts the servers when they are not up, gives them a core of their
//! own (as a real server has a machine of its own) and runs
//! `cargo bench --features caldav --bench caldav_import` on the other cores.
//!
//! `CALSYNC_BENCH_SIZES=200,2000` picks the sizes, `CALSYNC_BENCH_JOBS=1,8`
//! the import's concurrency, `CALSYNC_BENCH_ROUNDS=5` how many paired rounds
//! (both servers vary by several percent from one calendar to the next, so
//! one run says little; the median of the rounds' ratios is reported). When
//! the servers were started by `scripts/caldav-servers.sh` on this machine,
//! each run also shows the CPU time the server spent on it, which tells the
//! server's own work from time it sat waiting for the client.

use calsync::cli::import::{ImportArgs, import};
use calsync::model::UserId;
use calsync::providers::Credentials;
use calsync::setup::Setup;
use std::time::{Duration, Instant};

struct Server {
    name: &'static str,
    url: String,
    user: String,
    password: String,
    /// The server's process, when `scripts/caldav-servers.sh` started it on
    /// this machine: its CPU time tells the server's work from idle time.
    pid: Option<u32>,
}

/// CPU seconds (user + system, all threads) the process `pid` has used.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Wall time of `run`, and the server CPU time it cost when known.
async fn measured<F: std::future::Future<Output = Duration>>(
    server: &Server,
    run: F,
) -> (f64, Option<f64>) {
    let before = server.pid.and_then(cpu_seconds);
    let wall = run.await.as_secs_f64();
    let after = server.pid.and_then(cpu_seconds);
    (wall, before.zip(after).map(|(b, a)| a - b))
}

fn servers() -> Vec<Server> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(user), Some(password)) = (
        var("CALSYNC_TEST_CALDAV_USER"),
        var("CALSYNC_TEST_CALDAV_PASSWORD"),
    ) else {
        eprintln!("no servers: eval \"$(scripts/caldav-servers.sh start)\" first");
        return Vec::new();
    };
    let state = var("CALSYNC_CALDAV_STATE").unwrap_or_else(|| "/tmp/calsync-caldav".into());
    [
        ("radicale", "CALSYNC_TEST_RADICALE_URL"),
        ("xandikos", "CALSYNC_TEST_XANDIKOS_URL"),
    ]
    .into_iter()
    .filter_map(|(name, variable)| {
        var(variable).map(|url| Server {
            name,
            url,
            user: user.clone(),
            password: password.clone(),
            pid: std::fs::read_to_string(format!("{state}/{name}.pid"))
                .ok()
                .and_then(|pid| pid.trim().parse().ok()),
        })
    })
    .collect()
}

/// One VEVENT per hour from 2031-01-01, as an export holds them.
fn vevent(tag: &str, index: usize) -> String {
    let (day, hour) = (index / 24, index % 24);
    let date = chrono::NaiveDate::from_ymd_opt(2031, 1, 1).expect("a date")
        + chrono::Duration::days(day as i64);
    let stamp = |h: usize| format!("{}T{h:02}0000Z", date.format("%Y%m%d"));
    format!(
        "BEGIN:VEVENT\r\nUID:{tag}-{index}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:{}\r\n\
         DTEND:{}\r\nSUMMARY:Event {index}\r\nLOCATION:Room {hour}\r\nEND:VEVENT\r\n",
        stamp(hour),
        stamp(hour).replace(&format!("T{hour:02}0000Z"), &format!("T{hour:02}3000Z"))
    )
}

fn wrap(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{body}END:VCALENDAR\r\n")
}

/// A new calendar in the user's home; answers its URL.
async fn new_calendar(client: &reqwest::Client, server: &Server, home: &str) -> String {
    let name = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let url = format!("{home}{name}/");
    let body = format!(
        "<?xml version=\"1.0\"?><C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
         <D:set><D:prop><D:displayname>{name}</D:displayname></D:prop></D:set></C:mkcalendar>"
    );
    let response = client
        .request(
            reqwest::Method::from_bytes(b"MKCALENDAR").expect("method"),
            &url,
        )
        .basic_auth(&server.user, Some(&server.password))
        .body(body)
        .send()
        .await
        .expect("MKCALENDAR");
    assert!(response.status().is_success(), "{}", response.status());
    name
}

async fn floor(
    client: &reqwest::Client,
    server: &Server,
    calendar: &str,
    n: usize,
) -> (f64, Option<f64>) {
    measured(server, floor_loop(client, server, calendar, n)).await
}

async fn floor_loop(
    client: &reqwest::Client,
    server: &Server,
    calendar: &str,
    n: usize,
) -> Duration {
    let started = Instant::now();
    for index in 0..n {
        let response = client
            .put(format!("{calendar}floor-{index}.ics"))
            .basic_auth(&server.user, Some(&server.password))
            .header("If-None-Match", "*")
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(wrap(&vevent("floor", index)))
            .send()
            .await
            .expect("PUT");
        assert!(response.status().is_success(), "{}", response.status());
    }
    started.elapsed()
}

async fn run_import(
    server: &Server,
    home: &str,
    name: &str,
    n: usize,
    concurrency: u16,
) -> (f64, Option<f64>) {
    let data = tempfile::tempdir().expect("temp dir");
    let file = data.path().join("export.ics");
    let body: String = (0..n).map(|i| vevent(&format!("imp-{name}"), i)).collect();
    std::fs::write(&file, wrap(&body)).expect("write");
    let sync = Setup::in_data_dir(data.path())
        .open()
        .await
        .expect("state")
        .sync;
    let mut credentials = Credentials::default();
    credentials.set_str("username", server.user.as_str());
    credentials.set_str("password", server.password.as_str());
    credentials.set_str("url", server.url.as_str());
    credentials.set_str("calendar", name);
    let user = UserId::from("bench");
    let account = sync
        .connect_account(&user, "apple", &credentials)
        .await
        .expect("connect");
    assert!(
        account
            .calendar_id
            .as_deref()
            .is_some_and(|c| c.starts_with(home))
    );
    let args = ImportArgs {
        user: "bench".into(),
        accounts: vec![account.id.to_string()],
        path: file,
        data_dir: None,
        concurrency,
    };
    let own = std::process::id();
    let (took, report) = {
        let before = server.pid.and_then(cpu_seconds);
        let own_before = cpu_seconds(own);
        let started = Instant::now();
        let report = import(&sync, &args).await.expect("import");
        let wall = started.elapsed().as_secs_f64();
        let after = server.pid.and_then(cpu_seconds);
        if let (Some(b), Some(a)) = (own_before, cpu_seconds(own)) {
            eprintln!(
                "  import -j{concurrency}: calsync used {:.2} ms of CPU per event",
                (a - b) * 1e3 / n as f64
            );
        }
        ((wall, before.zip(after).map(|(b, a)| a - b)), report)
    };
    assert_eq!((report.created, report.failures.len()), (n, 0), "{report}");
    took
}

/// The median of `values` (which must not be empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

fn list<T: std::str::FromStr>(variable: &str, default: &str) -> Vec<T> {
    std::env::var(variable)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|item| item.trim().parse().ok())
        .collect()
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = list("CALSYNC_BENCH_SIZES", "200,2000");
    let jobs: Vec<u16> = list("CALSYNC_BENCH_JOBS", "1,8");
    let rounds: usize = list("CALSYNC_BENCH_ROUNDS", "5")
        .first()
        .copied()
        .unwrap_or(5)
        .max(1);
    let client = reqwest::Client::new();
    for server in servers() {
        // Both servers keep the home at a fixed place for the test user.
        let home = match server.name {
            "radicale" => format!("{}/{}/", server.url, server.user),
            _ => format!("{}/{}/calendars/", server.url, server.user),
        };
        for &n in &sizes {
            // Rounds alternate which runs first, each into a new empty
            // calendar; an import is compared with the floor of its round.
            let mut floors = Vec::new();
            let mut ratios = vec![Vec::new(); jobs.len()];
            let mut cpu_ratios = vec![Vec::new(); jobs.len()];
            for round in 0..rounds {
                let mut order: Vec<Option<usize>> = std::iter::once(None)
                    .chain((0..jobs.len()).map(Some))
                    .collect();
                let turn = round % order.len();
                order.rotate_left(turn);
                let mut took = vec![(0.0, None); jobs.len()];
                let mut floor_took = (0.0, None);
                for run in order {
                    let calendar = new_calendar(&client, &server, &home).await;
                    match run {
                        None => {
                            let url = format!("{home}{calendar}/");
                            floor_took = floor(&client, &server, &url, n).await;
                        }
                        Some(index) => {
                            took[index] =
                                run_import(&server, &home, &calendar, n, jobs[index]).await;
                        }
                    }
                }
                let cpu = |cpu: Option<f64>| {
                    cpu.map(|seconds| format!(" (server CPU {seconds:.2}s)"))
                        .unwrap_or_default()
                };
                let mut line = format!(
                    "{:<9} {n:>5} events  round {}  floor {:.2}s{}",
                    server.name,
                    round + 1,
                    floor_took.0,
                    cpu(floor_took.1)
                );
                for (index, &jobs) in jobs.iter().enumerate() {
                    let ratio = took[index].0 / floor_took.0;
                    ratios[index].push(ratio);
                    line.push_str(&format!(
                        "  -j{jobs} {:.2}s{} ({:+.1}%)",
                        took[index].0,
                        cpu(took[index].1),
                        (ratio - 1.0) * 100.0
                    ));
                    if let (Some(import), Some(floor)) = (took[index].1, floor_took.1) {
                        cpu_ratios[index].push(import / floor);
                    }
                }
                eprintln!("{line}");
                floors.push(floor_took.0);
            }
            let mut line = format!(
                "{:<9} {n:>5} events  floor (keep-alive PUT loop) median {:.2}s",
                server.name,
                median(&mut floors)
            );
            for (index, &jobs) in jobs.iter().enumerate() {
                line.push_str(&format!(
                    "  import -j{jobs} median {:+.1}% (of {rounds} paired rounds)",
                    (median(&mut ratios[index]) - 1.0) * 100.0
                ));
                if cpu_ratios[index].len() == rounds {
                    line.push_str(&format!(
                        " [server CPU {:+.1}%]",
                        (median(&mut cpu_ratios[index]) - 1.0) * 100.0
                    ));
                }
            }
            println!("{line}");
        }
    }
}
