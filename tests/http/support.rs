//! A service on a loopback port with a fresh store file and sandbox providers.
//! Answers wait for every provider and requests are never cut off by the
//! service's timeout, unless a test says otherwise: no outcome depends on how
//! fast the machine is.

use crate::patience::{NEVER, patient};
use calsync::CalendarSync;
use calsync::http::{AppState, Auth, Connections};
use calsync::model::Provider;
use calsync::providers::sandbox::{Sandbox, SandboxProvider, StoredEvent};
use calsync::store::SqliteStore;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::oneshot;

pub const KEY: &str = "test-key-0123456789";

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub sandbox: Sandbox,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    /// A server whose state `adjust` changes before it starts.
    pub async fn start_with(adjust: impl FnOnce(&mut AppState)) -> Server {
        Server::start_serving(patient(), patient_connections(), adjust).await
    }

    /// A server whose concept runs with `config`, and whose state `adjust`
    /// changes before it starts.
    pub async fn start_configured(
        config: calsync::concept::Config,
        adjust: impl FnOnce(&mut AppState),
    ) -> Server {
        Server::start_serving(config, patient_connections(), adjust).await
    }

    /// A server with these connection settings.
    pub async fn start_connections(connections: Connections) -> Server {
        Server::start_serving(patient(), connections, |_| {}).await
    }

    async fn start_serving(
        config: calsync::concept::Config,
        connections: Connections,
        adjust: impl FnOnce(&mut AppState),
    ) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
            .await
            .expect("store");
        let sandbox = Sandbox::new();
        let sync = CalendarSync::builder(Arc::new(store))
            .providers(sandbox.providers())
            .config(config)
            .build();
        let mut state = AppState::new(sync, Some(sandbox.clone()), Auth::keys([KEY]));
        state.request_timeout = NEVER;
        adjust(&mut state);
        Server::serving_with(state, connections, sandbox, Some(dir)).await
    }

    /// A server of a concept built elsewhere (`dir`, if any, is kept until
    /// the server is dropped).
    pub async fn serving(
        state: AppState,
        sandbox: Sandbox,
        dir: Option<tempfile::TempDir>,
    ) -> Server {
        Server::serving_with(state, patient_connections(), sandbox, dir).await
    }

    /// A server with these connection settings.
    pub async fn serving_with(
        state: AppState,
        connections: Connections,
        sandbox: Sandbox,
        dir: Option<tempfile::TempDir>,
    ) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(calsync::http::serve(
            listener,
            calsync::http::app(state),
            connections,
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            base,
            client: reqwest::Client::new(),
            sandbox,
            stop: Some(stop),
            served: Some(served),
            _dir: dir,
        }
    }

    /// The embedded store's file, for a server started here.
    pub fn store_file(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|dir| dir.path().join("calsync.db"))
    }

    /// Calls an action with the test key; answers the status and the JSON body.
    pub async fn call(&self, action: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/api/CalendarSync/{action}"), body)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("request");
        answer(response).await
    }

    /// Calls an action and expects 200.
    pub async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, answer) = self.call(action, body).await;
        assert_eq!(status, 200, "{action}: {answer}");
        answer
    }

    pub async fn connect(&self, user: &str, provider: Provider) -> Value {
        let answer = self
            .ok(
                "connectAccount",
                json!({
                    "user": user,
                    "provider": provider.as_str(),
                    "credentials": {"access_token": format!("{user}-{provider}-token")}
                }),
            )
            .await;
        answer["account"].clone()
    }

    pub fn provider(&self, provider: Provider) -> &Arc<SandboxProvider> {
        self.sandbox.get(provider)
    }

    /// The events a sandbox calendar holds for an account (as answered by connectAccount).
    pub fn events_on(&self, account: &Value) -> Vec<StoredEvent> {
        let provider: Provider = account["provider"]
            .as_str()
            .expect("provider")
            .parse()
            .expect("known");
        self.provider(provider)
            .events(account["calendarId"].as_str().expect("calendar id"))
    }

    /// The address it listens on (`127.0.0.1:port`).
    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Tells the server to stop taking requests, without waiting.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether the server still serves (it has not stopped, or it still
    /// waits for requests in flight).
    pub fn is_serving(&self) -> bool {
        self.served
            .as_ref()
            .is_some_and(|served| !served.is_finished())
    }

    /// Stops taking requests and waits for requests in flight.
    pub async fn stop(mut self) {
        self.begin_stop();
        if let Some(served) = self.served.take() {
            served.await.expect("server task");
        }
    }
}

/// The default connection settings, with head and idle timeouts that no
/// test reaches unless it sets them.
pub fn patient_connections() -> Connections {
    Connections {
        header_read_timeout: NEVER,
        idle_timeout: NEVER,
        ..Connections::default()
    }
}

pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Asserts the one error shape: exactly `error` (non-empty) and `kind`.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_kind: &str) {
    assert_eq!(status, want_status, "{body}");
    let object = body.as_object().expect("an object");
    assert_eq!(object.len(), 2, "only error and kind: {body}");
    assert_eq!(body["kind"], want_kind, "{body}");
    assert!(!body["error"].as_str().expect("error text").is_empty());
}

/// `hour`:00 New York time on the Tuesday at least a week from now.
pub fn next_tuesday(hour: u32) -> DateTime<Utc> {
    let zone = chrono_tz::America::New_York;
    let mut day = Utc::now().with_timezone(&zone).date_naive() + Duration::days(7);
    while day.weekday() != Weekday::Tue {
        day += Duration::days(1);
    }
    zone.from_local_datetime(&day.and_hms_opt(hour, 0, 0).expect("valid time"))
        .single()
        .expect("one instant")
        .with_timezone(&Utc)
}

pub fn event_json(title: &str, start: DateTime<Utc>, minutes: i64) -> Value {
    json!({
        "title": title,
        "start": start.to_rfc3339(),
        "end": (start + Duration::minutes(minutes)).to_rfc3339(),
        "timeZone": "America/New_York",
    })
}
