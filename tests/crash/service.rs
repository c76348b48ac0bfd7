//! `calsync serve` as a child process: started on one port and one data
//! directory, killed with SIGKILL, started again on both.

use crate::patience::GIVE_UP;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The API key the service is started with.
pub const KEY: &str = "crash-test-key-0123456789";

/// The engine's waits, short enough for a test. None decides an outcome:
/// a call cut off by the timeout is a transient failure, retried; every wait
/// the checks make is bounded by [`GIVE_UP`] and ends on what it waits for.
pub struct Waits {
    /// `--call-timeout`.
    pub call_timeout: Duration,
    /// `--lease`: longer than a call and its session refresh.
    pub lease: Duration,
}

impl Waits {
    /// The waits the crash test runs with.
    pub fn short() -> Waits {
        let call_timeout = Duration::from_secs(2);
        Waits {
            call_timeout,
            lease: call_timeout * 3,
        }
    }

    /// How long the proxy holds a slow answer or a late delivery: past the
    /// call timeout, and less than the late-delivery wait (twice the call
    /// timeout), the longest calsync expects a network to hold a request.
    pub fn held(&self) -> Duration {
        self.call_timeout + self.call_timeout / 2
    }

    fn args(&self) -> Vec<String> {
        let millis = |duration: Duration| format!("{}ms", duration.as_millis());
        [
            ("--call-timeout", millis(self.call_timeout)),
            ("--answer-within", "1s".to_owned()),
            ("--retry-attempts", "4".to_owned()),
            ("--retry-base", "20ms".to_owned()),
            ("--retry-cap", "200ms".to_owned()),
            ("--park", "300ms".to_owned()),
            ("--park-cap", "1s".to_owned()),
            ("--lease", millis(self.lease)),
            ("--resume-every", "200ms".to_owned()),
            ("--late-delivery", millis(self.call_timeout * 2)),
            // A live call records its answer within milliseconds of its
            // deadline: a killed one's retries take it over soon after.
            ("--idempotency-grace", "2s".to_owned()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
    }
}

/// The service under test.
pub struct Service {
    dir: PathBuf,
    port: u16,
    waits: Waits,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
    client: reqwest::Client,
}

impl Service {
    /// A service keeping its store and key in `dir`, on a free port; not started.
    pub fn new(dir: &Path, waits: Waits) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Service {
            dir: dir.to_owned(),
            port,
            waits,
            child: None,
            starts: 0,
            client: reqwest::Client::new(),
        }
    }

    /// Its base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The store file.
    pub fn store(&self) -> PathBuf {
        self.dir.join("calsync.db")
    }

    /// The log of every start, appended.
    pub fn log(&self) -> PathBuf {
        self.dir.join("calsync.log")
    }

    /// Starts it and waits until it answers `/healthz`, however long a loaded
    /// machine takes (at most [`GIVE_UP`]); fails when it exits instead.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_calsync"));
        // Only this test's settings: none inherited from the environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CALSYNC_") {
                command.env_remove(name);
            }
        }
        command
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--store")
            .arg(self.store())
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["--providers", "live", "--log-format", "json"])
            .args(self.waits.args())
            .env("CALSYNC_API_KEYS", KEY)
            .env(
                "RUST_LOG",
                std::env::var("CALSYNC_CRASH_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = command.spawn().expect("start calsync serve");
        let child = self.child.insert(child);
        self.starts += 1;
        let health = format!("http://127.0.0.1:{}/healthz", self.port);
        let log = self.dir.join("calsync.log");
        let deadline = tokio::time::Instant::now() + GIVE_UP;
        loop {
            let answer = self.client.get(&health).send().await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return;
            }
            if let Some(status) = child.try_wait().expect("the child's status") {
                panic!(
                    "calsync serve exited at start ({status}); its log: {}",
                    log.display()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "calsync serve did not answer within {GIVE_UP:?}; its log: {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it with SIGKILL (a crash) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An already exited child is reaped all the same.
            let _ = child.kill();
            let status = child.wait().expect("reap calsync serve");
            if status.code().is_some() {
                panic!(
                    "calsync serve had exited by itself ({status}) before it was killed; its log: {}",
                    self.log().display()
                );
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
