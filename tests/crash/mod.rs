//! The crash test: `calsync serve` as a child process on live CalDAV
//! accounts (one on Radicale, one on Xandikos), each behind a proxy that
//! injects faults; several clients commit, update and cancel concurrently
//! with `Idempotency-Key` retries; at kill points (counts of proxied
//! requests drawn from a printed seed) calsync is killed with SIGKILL and
//! started again on the same store. After the last kill the faults stop,
//! calsync starts again and settles, and the checks run:
//!
//! - every event calsync holds is on each server exactly once, at the href
//!   calsync recorded, with calsync's latest version, which is no older than
//!   the last acknowledged update and no newer than the last one sent;
//! - nothing is on a server that calsync does not hold there;
//! - nothing whose cancel was acknowledged is on a server or in calsync;
//! - nothing stays pending, and nothing failed for good (every fault is transient);
//! - every acknowledged commit not cancelled is held.
//!
//! A failing seed replays (the same faults and kills at the same request
//! counts): `CALSYNC_CRASH_SEED=<seed>` with the `CALSYNC_CRASH_KILLS` and
//! `CALSYNC_CRASH_FAULTS` it printed. The long run (by hand, see the README)
//! is [`crash_long_run`].

mod check;
mod client;
mod proxy;
mod service;
mod workload;

use crate::caldav::support::{Server, provider, servers};
use crate::patience::GIVE_UP;
use calsync::providers::AccountProvider;
use check::Calendar;
use client::Client;
use proxy::{Plan, Proxy};
use serde_json::{Value, json};
use service::{KEY, Service, Waits};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use workload::{Counts, Target, Tracked};

/// The seeds every test run plays.
const SEEDS: [u64; 3] = [11, 23, 37];
/// Kill points per seed in every test run.
const KILLS: usize = 12;
/// The share of proxied requests that meet a fault.
const FAULTS: f64 = 0.2;
/// Concurrent clients.
const CLIENTS: usize = 4;
/// Proxied requests between two kill points.
const GAPS: std::ops::RangeInclusive<u64> = 4..=40;

/// One run's settings.
#[derive(Clone, Copy, Debug)]
struct Settings {
    seed: u64,
    kills: usize,
    faults: f64,
    clients: usize,
}

impl Settings {
    fn replay(&self) -> String {
        format!(
            "CALSYNC_CRASH_SEED={} CALSYNC_CRASH_KILLS={} CALSYNC_CRASH_FAULTS={} \
             CALSYNC_CRASH_CLIENTS={} scripts/test --test main crash::crash_ -- --nocapture",
            self.seed, self.kills, self.faults, self.clients
        )
    }
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} cannot be read")),
    )
}

/// The fixed seeds, side by side (each run has its own calsync, proxies,
/// calendars and user; a run spends most of its time waiting, for leases to
/// end and for calls of killed instances to be taken over), or the one
/// `CALSYNC_CRASH_SEED` names, to replay it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_kills_and_faults_converge() {
    let test = "crash_kills_and_faults_converge";
    let seeds = match env::<u64>("CALSYNC_CRASH_SEED") {
        Some(seed) => vec![seed],
        None => SEEDS.to_vec(),
    };
    let runs = seeds.into_iter().map(|seed| {
        run(
            test,
            Settings {
                seed,
                kills: env("CALSYNC_CRASH_KILLS").unwrap_or(KILLS),
                faults: env("CALSYNC_CRASH_FAULTS").unwrap_or(FAULTS),
                clients: env("CALSYNC_CRASH_CLIENTS").unwrap_or(CLIENTS),
            },
        )
    });
    let failed: Vec<String> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .filter_map(Result::err)
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// The long run, by hand: `CALSYNC_CRASH_KILLS` kill points (default
/// 1,000) at `CALSYNC_CRASH_FAULTS` (default 0.2), in rounds of
/// `CALSYNC_CRASH_ROUND` kills (default 50), each on fresh calendars with
/// its own seed (printed), settled and checked before the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by hand (see the README)"]
async fn crash_long_run() {
    let test = "crash_long_run";
    let kills: usize = env("CALSYNC_CRASH_KILLS").unwrap_or(1000);
    let round: usize = env("CALSYNC_CRASH_ROUND").unwrap_or(50).max(1);
    let seed = env("CALSYNC_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.as_nanos() as u64)
            .unwrap_or(1)
    });
    println!("crash long run: seed {seed}, {kills} kill points in rounds of {round}");
    let began = std::time::Instant::now();
    let mut done = 0;
    let mut number = 0;
    let mut failed = Vec::new();
    while done < kills {
        let settings = Settings {
            seed: proxy::mix(seed.wrapping_add(number)),
            kills: round.min(kills - done),
            faults: env("CALSYNC_CRASH_FAULTS").unwrap_or(FAULTS),
            clients: env("CALSYNC_CRASH_CLIENTS").unwrap_or(CLIENTS),
        };
        println!(
            "round {number}: {done} kill points so far, {:?}",
            began.elapsed()
        );
        match run(test, settings).await {
            None => return,
            Some(Ok(())) => {}
            Some(Err(failure)) => {
                println!("{failure}");
                failed.push(settings.seed);
            }
        }
        done += settings.kills;
        number += 1;
    }
    println!(
        "crash long run: {done} kill points in {number} rounds, {:?}; rounds failed: {}",
        began.elapsed(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "the rounds of seeds {failed:?} failed (their failures are printed above)"
    );
}

/// Plays one seed; answers every check that failed, or nothing when the
/// servers are missing (the test is skipped).
async fn run(test: &str, settings: Settings) -> Option<Result<(), String>> {
    let found = servers(test);
    if found.is_empty() {
        return None;
    }
    println!("crash run: seed {} ({settings:?})", settings.seed);
    let began = std::time::Instant::now();
    let waits = Waits::short();
    let slow = waits.held();
    let (plan, points, kill_requests) =
        Plan::new(settings.seed, settings.faults, slow, settings.kills, GAPS);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut service = Service::new(dir.path(), waits);
    service.start().await;
    let user = format!("crash-{}-{}", settings.seed, uuid::Uuid::new_v4().simple());
    let mut calendars = Vec::new();
    let mut proxies = Vec::new();
    for server in &found {
        let (calendar, proxy) = account(&service, &user, server, plan.clone()).await;
        calendars.push(calendar);
        proxies.push(proxy);
    }
    let target = Target {
        base: service.base(),
        user: user.clone(),
        accounts: calendars.iter().map(|c| c.account.clone()).collect(),
        seed: settings.seed,
    };
    let (tracked, counts, kills_done) = play(
        &settings,
        &plan,
        &points,
        kill_requests,
        &mut service,
        target,
    )
    .await;
    let (kills_done, clients_done) = (kills_done - began, began.elapsed());
    let (failures, summary) =
        settle_and_check(&mut service, &user, &calendars, &tracked, &counts).await;
    drop(proxies);
    println!(
        "crash run: seed {}: {} kills (the last at {kills_done:?}), {} starts, {}; \
         clients done at {clients_done:?}; {summary}; {:?} in all",
        settings.seed,
        points.len(),
        service.starts,
        tally_line(&plan.tally(), &counts),
        began.elapsed(),
    );
    if std::env::var_os("CALSYNC_CRASH_VERBOSE").is_some() {
        for lost in &counts.lost {
            println!("lost answer: {lost}");
        }
    }
    if failures.is_empty() {
        return Some(Ok(()));
    }
    let kept = dir.keep();
    Some(Err(format!(
        "seed {}: {} checks failed (calsync's store and log kept in {}):\n- {}\nreplay: {}",
        settings.seed,
        failures.len(),
        kept.display(),
        failures.join("\n- "),
        settings.replay()
    )))
}

/// Runs the clients, kills calsync at each kill point and starts it again;
/// after the last kill, with the faults off, lets the clients finish what
/// they sent. Answers what the clients know, and when the last kill was.
async fn play(
    settings: &Settings,
    plan: &Plan,
    points: &[u64],
    mut kill_requests: tokio::sync::mpsc::UnboundedReceiver<proxy::KillRequest>,
    service: &mut Service,
    target: Target,
) -> (Vec<Tracked>, Counts, std::time::Instant) {
    plan.arm();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..settings.clients)
        .map(|number| tokio::spawn(Client::new(number, target.clone()).run(stop.clone())))
        .collect();
    // Two kill points close together may be reached out of order (one held
    // request is sent on to the server first, the other not): each kills
    // whichever instance runs then.
    for done in 1..=points.len() {
        let request = tokio::time::timeout(GIVE_UP, kill_requests.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "seed {}: kill point {done} of {points:?} not reached within {GIVE_UP:?}: {:?}",
                    settings.seed,
                    plan.tally()
                )
            });
        service.kill();
        let _ = request.killed.send(());
        if done == points.len() {
            plan.faults_off();
        }
        service.start().await;
    }
    let kills_done = std::time::Instant::now();
    stop.store(true, Ordering::SeqCst);
    let mut tracked = Vec::new();
    let mut counts = Counts::default();
    for client in clients {
        let (events, client_counts) = tokio::time::timeout(GIVE_UP, client)
            .await
            .expect("the clients finish once the faults stop")
            .expect("a client panicked");
        tracked.extend(events);
        counts.add(client_counts);
    }
    (tracked, counts, kills_done)
}

/// Waits until nothing is pending, kills calsync (the store must be right
/// after a crash too), and runs the checks. Answers the failures and a
/// summary of what was held.
async fn settle_and_check(
    service: &mut Service,
    user: &str,
    calendars: &[Calendar],
    tracked: &[Tracked],
    counts: &Counts,
) -> (Vec<String>, String) {
    let known: Vec<String> = tracked.iter().map(|t| t.id.clone()).collect();
    let settled = check::settle(&service.store(), user, &known).await;
    service.kill();
    let store = calsync::store::SqliteStore::open(service.store(), "CalendarSync.")
        .await
        .expect("open calsync's store");
    let held = check::read(&store, user, &known).await;
    let mut listed = Vec::new();
    for calendar in calendars {
        listed.push((calendar, calendar.objects().await));
    }
    let mut failures = Vec::new();
    if let Err(pending) = &settled {
        failures.push(pending.clone());
    }
    failures.extend(check::verify(&held, &listed, tracked));
    for pending in check::all_pending(&store).await {
        failures.push(format!("pending in the store after settling: {pending}"));
    }
    failures.extend(
        counts
            .unexpected
            .iter()
            .map(|u| format!("unexpected answer: {u}")),
    );
    failures.extend(
        counts
            .failed_results
            .iter()
            .map(|f| format!("answered failed: {f}")),
    );
    let summary = format!(
        "{} events held, {} server objects; settled in {settled:?}",
        held.events.len(),
        listed
            .iter()
            .map(|(_, objects)| objects.len())
            .sum::<usize>(),
    );
    (failures, summary)
}

/// The counts of the proxies and the clients, on one line.
fn tally_line(tally: &proxy::Tally, counts: &Counts) -> String {
    let faults: Vec<String> = tally
        .faults
        .iter()
        .map(|(fault, count)| format!("{} {count}", fault.name()))
        .collect();
    format!(
        "{} proxied requests, faults [{}], {} kills after the request reached the server, \
         server answers {:?}; commits {:?}, updates {:?}, cancels {:?}",
        tally.requests,
        faults.join(", "),
        tally.kills_after_forward,
        tally.server_statuses,
        counts.commits,
        counts.updates,
        counts.cancels,
    )
}

/// A fresh calendar on `server`, a proxy in front of the server, and an
/// account of `user` connected to the calendar through the proxy (before
/// the faults are armed).
async fn account(
    service: &Service,
    user: &str,
    server: &Server,
    plan: Arc<Plan>,
) -> (Calendar, Proxy) {
    let name = server.new_calendar().await;
    let url = provider()
        .connect(&server.credentials(Some(&name)))
        .await
        .expect("find the new calendar")
        .calendar_id
        .expect("a calendar URL");
    let proxy = Proxy::start(&server.url, plan).await;
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/api/CalendarSync/connectAccount",
            service.base()
        ))
        .bearer_auth(KEY)
        .json(&json!({
            "user": user,
            "provider": "apple",
            "credentials": {
                "username": server.user,
                "password": server.password,
                "url": proxy.url,
                "calendar": name,
            },
        }))
        .send()
        .await
        .expect("connectAccount answers")
        .json()
        .await
        .expect("a JSON answer");
    let account = answer["account"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("connectAccount on {}: {answer}", server.name))
        .to_owned();
    (
        Calendar {
            account,
            server: server.clone(),
            url,
        },
        proxy,
    )
}
