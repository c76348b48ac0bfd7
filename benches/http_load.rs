//! Load on the HTTP service, run by hand (not in CI):
//!
//! ```text
//! cargo bench --bench http_load
//! CONCURRENCY=64 SECONDS=10 STORE_DIR=/dev/shm cargo bench --bench http_load
//! ```
//!
//! Starts the service on a loopback port over a fresh SQLite file and the
//! sandbox providers (zero latency), then drives it with `CONCURRENCY`
//! keep-alive connections for `SECONDS` per action, and prints requests per
//! second with p50/p99/max latency for getSyncedEvent and for commit (to two
//! accounts). `STORE_DIR` chooses where the store file lives (default: the
//! system's temporary directory).

use calsync::http::{AppState, Auth};
use calsync::providers::sandbox::Sandbox;
use calsync::store::SqliteStore;
use calsync::{CalendarSync, Config};
use chrono::{Duration as Span, Utc};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let concurrency = setting("CONCURRENCY", 32) as usize;
    let seconds = setting("SECONDS", 10);
    let dir = match std::env::var("STORE_DIR") {
        Ok(dir) => tempfile::tempdir_in(dir),
        Err(_) => tempfile::tempdir(),
    }
    .expect("temp dir");
    let store = SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    let sandbox = Sandbox::new();
    let sync = CalendarSync::builder(Arc::new(store))
        .providers(sandbox.providers())
        .config(Config::default())
        .build();
    let state = AppState::new(sync, Some(sandbox), Auth::keys([KEY]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(calsync::http::serve(
        listener,
        calsync::http::app(state),
        calsync::http::Connections::default(),
        std::future::pending(),
    ));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let call = move |action: &'static str, body: Value| {
        let client = client.clone();
        let url = format!("{base}/api/CalendarSync/{action}");
        async move {
            let response = client
                .post(url)
                .bearer_auth(KEY)
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = response.status();
            let answer: Value = response.json().await.expect("json");
            assert!(status.is_success(), "{action}: {answer}");
            answer
        }
    };
    let mut accounts = Vec::new();
    for provider in ["google", "outlook"] {
        let answer = call(
            "connectAccount",
            json!({"user": "bench", "provider": provider, "credentials": {"access_token": format!("bench-{provider}")}}),
        )
        .await;
        accounts.push(answer["account"]["id"].clone());
    }
    let start = Utc::now() + Span::days(7);
    let event = move |n: u64| {
        json!({
            "title": format!("Load {n}"),
            "start": (start + Span::minutes(n as i64)).to_rfc3339(),
            "end": (start + Span::minutes(n as i64 + 30)).to_rfc3339(),
        })
    };
    let first = call(
        "commit",
        json!({"user": "bench", "event": event(0), "accounts": accounts}),
    )
    .await;
    let id = first["syncedEvent"]["internalId"].clone();

    println!(
        "calsync http load: {concurrency} connections, {seconds}s per action, store in {}",
        dir.path().display()
    );
    let lookup = json!({"user": "bench", "eventId": id});
    let fetch = call.clone();
    drive("getSyncedEvent", concurrency, seconds, move |_| {
        let call = fetch.clone();
        call("getSyncedEvent", lookup.clone())
    })
    .await;
    let accounts = Value::Array(accounts);
    drive("commit", concurrency, seconds, move |n| {
        call(
            "commit",
            json!({"user": "bench", "event": event(n + 1), "accounts": accounts}),
        )
    })
    .await;
}

/// Runs `request` from `concurrency` tasks for `seconds`; prints the rate and latencies.
async fn drive<F, Fut>(name: &str, concurrency: usize, seconds: u64, request: F)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Value> + Send,
{
    let until = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let request = request.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new(3).expect("histogram");
                while Instant::now() < until {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    request(n).await;
                    histogram
                        .record(sent.elapsed().as_micros() as u64)
                        .expect("in range");
                }
                histogram
            })
        })
        .collect();
    let mut total = Histogram::<u64>::new(3).expect("histogram");
    for task in tasks {
        total.add(task.await.expect("task")).expect("same bounds");
    }
    let elapsed = began.elapsed().as_secs_f64();
    println!(
        "{name:>15}: {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  ({} requests)",
        total.len() as f64 / elapsed,
        total.value_at_quantile(0.50) as f64 / 1000.0,
        total.value_at_quantile(0.99) as f64 / 1000.0,
        total.max() as f64 / 1000.0,
        total.len(),
    );
}
