//! A MongoDB that goes down and comes back: actions answer 503
//! `store_unavailable` in bounded time while it is down, and the service
//! works again by itself once it returns, without a restart.
//!
//! The test runs a private SecantusDB on a port of its own (from the virtual
//! environment `scripts/mongo-server.sh` installs), so that stopping it
//! disturbs no other test. It runs when `CALSYNC_TEST_MONGODB_URI` is set,
//! as the other MongoDB tests do.

use super::support::*;
use crate::patience::{GIVE_UP, patient};
use calsync::http::{AppState, Auth};
use calsync::model::{Provider, UserId};
use calsync::providers::Credentials;
use calsync::setup::{Setup, StoreLocation};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

/// A SecantusDB process on `port`, keeping its data in memory.
struct PrivateServer {
    child: Option<Child>,
}

fn secantusd() -> PathBuf {
    let venvs = std::env::var_os("CALSYNC_VENV_DIR").map_or_else(
        || {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".cache/calsync-venvs")
        },
        PathBuf::from,
    );
    venvs.join("secantus/bin/secantusd-py")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

impl PrivateServer {
    async fn start(port: u16) -> PrivateServer {
        let program = secantusd();
        let mut child = Command::new(&program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--storage-path", ":memory:"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run scripts/mongo-server.sh start)",
                    program.display()
                )
            });
        let deadline = Instant::now() + GIVE_UP;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(status) = child.try_wait().expect("server status") {
                panic!("SecantusDB on port {port} exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "SecantusDB did not listen on {port} within {GIVE_UP:?}"
            );
            sleep(Duration::from_millis(100)).await;
        }
        PrivateServer { child: Some(child) }
    }

    fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("stop the server");
            child.wait().expect("reap the server");
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn connect_body(provider: Provider) -> serde_json::Value {
    json!({
        "user": "ada",
        "provider": provider.as_str(),
        "credentials": {"access_token": format!("ada-{provider}-token")}
    })
}

#[tokio::test]
async fn a_mongodb_that_goes_down_answers_503_and_calsync_recovers_when_it_returns() {
    if crate::store::mongodb::test_uri().is_none() {
        return;
    }
    let port = free_port();
    let mongo = PrivateServer::start(port).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = Setup {
        // Selection gives up after 1 s, so a request fails well within its timeout.
        store: StoreLocation::MongoDb(format!(
            "mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=1000"
        )),
        database: Some("storedown".to_owned()),
        data_dir: Some(dir.path().to_owned()),
        config: patient(),
        ..Setup::default()
    };
    let opened = setup
        .open()
        .await
        .expect("the service opens its MongoDB store");
    let sandbox = opened.sandbox.clone().expect("sandbox providers");
    let state = AppState::new(
        opened.sync.clone(),
        Some(sandbox.clone()),
        Auth::keys([KEY]),
    );
    let service = Server::serving(state, sandbox, Some(dir)).await;
    service.connect("ada", Provider::Google).await;

    mongo.stop();
    let mut credentials = Credentials::default();
    credentials.set_str("access_token", "ada-outlook-token");
    let down = timeout(
        Duration::from_secs(20),
        opened
            .sync
            .connect_account(&UserId::from("ada"), "outlook", &credentials),
    )
    .await
    .expect("the action answers in bounded time while the store is down");
    let error = down.expect_err("no store, no account");
    assert_eq!(error.kind(), "store_unavailable", "{error}");
    let (status, body) = timeout(
        Duration::from_secs(20),
        service.call("connectAccount", connect_body(Provider::Outlook)),
    )
    .await
    .expect("the service answers in bounded time while the store is down");
    assert_error(status, &body, 503, "store_unavailable");

    // The server returns on the same port (empty: it kept its data in memory).
    let mongo = PrivateServer::start(port).await;
    let deadline = Instant::now() + GIVE_UP;
    loop {
        let (status, body) = service
            .call("connectAccount", connect_body(Provider::Outlook))
            .await;
        if status == 200 {
            assert_eq!(body["account"]["provider"], "outlook", "{body}");
            break;
        }
        assert_error(status, &body, 503, "store_unavailable");
        assert!(
            Instant::now() < deadline,
            "calsync did not recover within {GIVE_UP:?}"
        );
        sleep(Duration::from_millis(200)).await;
    }
    let status = service.ok("getAccountStatus", json!({"user": "ada"})).await;
    let providers: Vec<&str> = status["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter_map(|a| a["provider"].as_str())
        .collect();
    assert_eq!(providers, ["outlook"], "the returned server starts empty");
    service.stop().await;
    mongo.stop();
}
