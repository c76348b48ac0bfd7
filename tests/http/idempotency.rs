//! `Idempotency-Key` on commit, update and cancel: a retry answers the first
//! call (also after a restart, and from another process on the same store),
//! waits for a first call still running, is refused with another body, and
//! is scoped per API key and user; keys expire.
//!
//! Each service here runs on a manual clock shared by every process of the
//! test, so that answer deadlines and expiry come when the test moves it.

use super::support::*;
use crate::patience::{NEVER, patient};
use calsync::clock::{Clock, ManualClock};
use calsync::http::{AppState, Auth, Idempotency};
use calsync::model::{EventId, Provider, UserId};
use calsync::operations::{OperationKind, OperationStatus};
use calsync::providers::sandbox::Sandbox;
use calsync::store::{SqliteStore, Store};
use calsync::vault::Vault;
use calsync::{CalendarSync, Config};
use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// A second configured API key.
const OTHER_KEY: &str = "other-key-9876543210";

/// How long, on the manual clock, an answer waits when a test needs it to
/// come before every provider answered.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// One store file, one set of sandbox providers, one vault and one clock,
/// shared by every service a test starts on them (a restart, a second
/// process).
struct Deployment {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    clock: Arc<ManualClock>,
    vault: Vault,
}

/// A service of a [`Deployment`], with its store and its keys' waiting room.
struct Service {
    server: Server,
    store: Arc<dyn Store>,
    idempotency: Idempotency,
}

impl Deployment {
    fn new() -> Self {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .expect("instant");
        let clock = Arc::new(ManualClock::new(start));
        Deployment {
            dir: tempfile::tempdir().expect("temp dir"),
            sandbox: Sandbox::with_clock(clock.clone()),
            clock,
            vault: Vault::random(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("calsync.db")
    }

    /// A service on the deployment whose answers wait `answer_within` on the
    /// manual clock.
    async fn service(&self, answer_within: std::time::Duration) -> Service {
        self.service_on(answer_within, self.clock.clone()).await
    }

    /// As [`Deployment::service`], reading time from `clock`.
    async fn service_on(
        &self,
        answer_within: std::time::Duration,
        clock: Arc<ManualClock>,
    ) -> Service {
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(self.path(), "CalendarSync.")
                .await
                .expect("store"),
        );
        let sync = CalendarSync::builder(store.clone())
            .providers(self.sandbox.providers())
            .vault(self.vault.clone())
            .clock(clock)
            .config(Config {
                answer_within,
                ..patient()
            })
            .build();
        let mut state = AppState::new(
            sync,
            Some(self.sandbox.clone()),
            Auth::keys([KEY, OTHER_KEY]),
        );
        state.request_timeout = NEVER;
        let idempotency = state.idempotency.clone();
        let server = Server::serving(state, self.sandbox.clone(), None).await;
        Service {
            server,
            store,
            idempotency,
        }
    }

    fn advance(&self, by: std::time::Duration) {
        self.clock.advance(Duration::from_std(by).expect("a span"));
    }
}

/// An answer: status, body, and whether it was replayed for a key seen before.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    replayed: bool,
}

impl Reply {
    fn synced(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body["syncedEvent"]
    }

    fn id(&self) -> String {
        self.synced()["internalId"]
            .as_str()
            .expect("internal id")
            .to_owned()
    }

    fn result(&self, account: &Value) -> &Value {
        let key = account["id"].as_str().expect("account id");
        &self.synced()["results"][key]["status"]
    }
}

/// Calls `action` with `api_key`, and `key` as the Idempotency-Key when given.
async fn send(
    server: &Server,
    api_key: &str,
    action: &str,
    key: Option<&str>,
    body: &Value,
) -> Reply {
    let mut request = server
        .client
        .post(format!("{}/api/CalendarSync/{action}", server.base))
        .bearer_auth(api_key)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("request");
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|value| value == "true");
    let (status, body) = answer(response).await;
    Reply {
        status,
        body,
        replayed,
    }
}

/// Connects an account whose token the sandbox refreshes, so that a test
/// may move the clock by a day.
async fn connect(server: &Server, user: &str, provider: Provider) -> Value {
    let answer = server
        .ok(
            "connectAccount",
            json!({
                "user": user,
                "provider": provider.as_str(),
                "credentials": {
                    "access_token": format!("{user}-{provider}-token"),
                    "refresh_token": format!("{user}-{provider}-refresh"),
                    "expires_in": 3600,
                }
            }),
        )
        .await;
    answer["account"].clone()
}

fn commit_body(user: &str, title: &str, accounts: &[&Value]) -> Value {
    let ids: Vec<&Value> = accounts.iter().map(|account| &account["id"]).collect();
    json!({
        "user": user,
        "event": event_json(title, next_tuesday(15), 60),
        "accounts": ids,
    })
}

/// Waits until the user has a synced event on `account` in the store.
async fn until_attached(store: &Arc<dyn Store>, user: &str, account: &Value) {
    let account = account["id"].as_str().expect("account id");
    loop {
        let events = store
            .synced_events_of_user(&UserId::from(user))
            .await
            .expect("events");
        if events
            .iter()
            .any(|event| event.accounts.iter().any(|a| a.as_str() == account))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Waits until no operation of `event` is pending.
async fn until_settled(store: &Arc<dyn Store>, event: &str) {
    loop {
        let operations = store
            .operations_of_event(&EventId::from(event))
            .await
            .expect("operations");
        if operations
            .iter()
            .all(|op| op.status != OperationStatus::Pending)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

async fn operations_of(store: &Arc<dyn Store>, event: &str, kind: OperationKind) -> usize {
    let operations = store
        .operations_of_event(&EventId::from(event))
        .await
        .expect("operations");
    operations.iter().filter(|op| op.kind == kind).count()
}

async fn synced_events_of(store: &Arc<dyn Store>, user: &str) -> usize {
    let events = store
        .synced_events_of_user(&UserId::from(user))
        .await
        .expect("events");
    events.len()
}

#[tokio::test]
async fn a_retry_answers_the_same_synced_event_with_its_current_results() {
    let deployment = Deployment::new();
    let service = deployment.service(ANSWER_WITHIN).await;
    let server = &service.server;
    let google = connect(server, "ada", Provider::Google).await;
    let outlook = connect(server, "ada", Provider::Outlook).await;
    let body = commit_body("ada", "Project sync", &[&google, &outlook]);

    // Outlook has not answered when the first call answers.
    server.provider(Provider::Outlook).hold();
    let (first, ()) = tokio::join!(send(server, KEY, "commit", Some("key-1"), &body), async {
        server.provider(Provider::Outlook).until_waiting(1).await;
        until_attached(&service.store, "ada", &google).await;
        deployment.advance(ANSWER_WITHIN);
    });
    assert!(!first.replayed);
    assert_eq!(first.result(&google), "succeeded");
    assert_eq!(first.result(&outlook), "pending");

    server.provider(Provider::Outlook).release();
    until_settled(&service.store, &first.id()).await;
    let retry = send(server, KEY, "commit", Some("key-1"), &body).await;
    assert!(retry.replayed, "{retry:?}");
    assert_eq!(retry.id(), first.id(), "the same synced event");
    assert_eq!(retry.result(&google), "succeeded");
    assert_eq!(retry.result(&outlook), "succeeded", "as it stands now");
    let outlook_id = outlook["id"].as_str().expect("id");
    assert!(retry.synced()["providerIds"][outlook_id]["eventId"].is_string());
    assert_eq!(retry.synced()["stored"], true);

    for provider in [Provider::Google, Provider::Outlook] {
        let counts = server.provider(provider).counts();
        assert_eq!(
            (counts.creates, counts.repeated_creates),
            (1, 0),
            "{provider}"
        );
    }
    assert_eq!(synced_events_of(&service.store, "ada").await, 1);
}

#[tokio::test]
async fn a_restarted_service_answers_a_retry_from_the_store() {
    let deployment = Deployment::new();
    let before = deployment.service(NEVER).await;
    let google = connect(&before.server, "ada", Provider::Google).await;
    let body = commit_body("ada", "Project sync", &[&google]);
    let first = send(&before.server, KEY, "commit", Some("key-1"), &body).await;
    assert_eq!(first.result(&google), "succeeded");
    before.server.stop().await;
    drop(before.store);

    let after = deployment.service(NEVER).await;
    let retry = send(&after.server, KEY, "commit", Some("key-1"), &body).await;
    assert!(retry.replayed, "{retry:?}");
    assert_eq!(retry.id(), first.id());
    assert_eq!(retry.result(&google), "succeeded");
    let counts = after.server.provider(Provider::Google).counts();
    assert_eq!((counts.creates, counts.repeated_creates), (1, 0));
    assert_eq!(synced_events_of(&after.store, "ada").await, 1);
}

#[tokio::test]
async fn another_request_under_a_key_is_refused_and_changes_nothing() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let server = &service.server;
    let google = connect(server, "ada", Provider::Google).await;
    let body = commit_body("ada", "Project sync", &[&google]);
    let first = send(server, KEY, "commit", Some("key-1"), &body).await;
    let id = first.id();

    let other_body = commit_body("ada", "Another meeting", &[&google]);
    let update = json!({"user": "ada", "eventId": id, "changes": {"location": "Room 4"}});
    let cancel = json!({"user": "ada", "eventId": id});
    for (action, body) in [
        ("commit", &other_body),
        ("update", &update),
        ("cancel", &cancel),
    ] {
        let refused = send(server, KEY, action, Some("key-1"), body).await;
        assert_error(refused.status, &refused.body, 422, "idempotency_key_reused");
        let message = refused.body["error"].as_str().expect("message");
        assert!(message.contains("Idempotency-Key"), "{message}");
    }

    let counts = server.provider(Provider::Google).counts();
    assert_eq!((counts.creates, counts.updates, counts.deletes), (1, 0, 0));
    assert_eq!(synced_events_of(&service.store, "ada").await, 1);
    assert_eq!(
        operations_of(&service.store, &id, OperationKind::Update).await,
        0
    );
    let event = server
        .ok("getSyncedEvent", json!({"user": "ada", "eventId": id}))
        .await;
    assert_eq!(event["syncedEvent"]["event"]["title"], "Project sync");
    assert!(event["syncedEvent"]["event"].get("location").is_none());
}

#[tokio::test]
async fn a_malformed_key_is_refused_naming_the_header() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let server = &service.server;
    let google = connect(server, "ada", Provider::Google).await;
    let body = commit_body("ada", "Project sync", &[&google]);
    let too_long = "k".repeat(256);
    for key in ["", "has space", "tab\there", too_long.as_str()] {
        let refused = send(server, KEY, "commit", Some(key), &body).await;
        assert_error(
            refused.status,
            &refused.body,
            400,
            "invalid_idempotency_key",
        );
        let message = refused.body["error"].as_str().expect("message");
        assert!(message.contains("Idempotency-Key"), "{message}");
    }
    assert_eq!(server.provider(Provider::Google).counts().creates, 0);
    let longest = "k".repeat(255);
    let accepted = send(server, KEY, "commit", Some(&longest), &body).await;
    assert_eq!(accepted.result(&google), "succeeded");
}

#[tokio::test]
async fn keys_are_scoped_per_api_key_and_user() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let server = &service.server;
    let ada_google = connect(server, "ada", Provider::Google).await;
    let bob_google = connect(server, "bob", Provider::Google).await;
    let ada_body = commit_body("ada", "Project sync", &[&ada_google]);
    let bob_body = commit_body("bob", "Project sync", &[&bob_google]);

    let first = send(server, KEY, "commit", Some("shared-key"), &ada_body).await;
    let other_api_key = send(server, OTHER_KEY, "commit", Some("shared-key"), &ada_body).await;
    let other_user = send(server, KEY, "commit", Some("shared-key"), &bob_body).await;
    for reply in [&first, &other_api_key, &other_user] {
        assert!(!reply.replayed, "{reply:?}");
    }
    assert_eq!(other_api_key.result(&ada_google), "succeeded");
    assert_eq!(other_user.result(&bob_google), "succeeded");
    assert_ne!(first.id(), other_api_key.id(), "its own event");
    assert_ne!(first.id(), other_user.id(), "its own event");
    assert_eq!(server.events_on(&ada_google).len(), 2);
    assert_eq!(server.events_on(&bob_google).len(), 1);

    // Each scope answers its own retries.
    let retry = send(server, OTHER_KEY, "commit", Some("shared-key"), &ada_body).await;
    assert!(retry.replayed);
    assert_eq!(retry.id(), other_api_key.id());
    let retry = send(server, KEY, "commit", Some("shared-key"), &bob_body).await;
    assert!(retry.replayed);
    assert_eq!(retry.id(), other_user.id());
    assert_eq!(server.provider(Provider::Google).counts().creates, 3);
}

#[tokio::test]
async fn a_retry_while_the_first_call_runs_waits_for_its_answer() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let server = &service.server;
    let google = connect(server, "ada", Provider::Google).await;
    let body = commit_body("ada", "Project sync", &[&google]);
    let provider = server.provider(Provider::Google);

    provider.hold();
    let first = send(server, KEY, "commit", Some("key-1"), &body);
    let retry = async {
        provider.until_waiting(1).await;
        send(server, KEY, "commit", Some("key-1"), &body).await
    };
    let release = async {
        service.idempotency.until_waiting(1).await;
        provider.release();
    };
    let (first, retry, ()) = tokio::join!(first, retry, release);
    assert!(!first.replayed);
    assert!(retry.replayed, "{retry:?}");
    assert_eq!(retry.id(), first.id());
    assert_eq!(first.result(&google), "succeeded");
    assert_eq!(retry.result(&google), "succeeded");
    let counts = provider.counts();
    assert_eq!((counts.creates, counts.repeated_creates), (1, 0));
    assert_eq!(service.idempotency.waiting(), 0);
}

#[tokio::test]
async fn a_retry_in_another_process_waits_until_its_deadline_then_answers_409() {
    let deployment = Deployment::new();
    // The first call runs in a process whose answers wait for every
    // provider; the retry reaches another, whose answers wait a minute.
    let first_process = deployment.service(NEVER).await;
    let other_process = deployment.service(ANSWER_WITHIN).await;
    let google = connect(&first_process.server, "ada", Provider::Google).await;
    let body = commit_body("ada", "Project sync", &[&google]);
    let provider = first_process.server.provider(Provider::Google);

    provider.hold();
    let first = send(&first_process.server, KEY, "commit", Some("key-1"), &body);
    let retry_and_release = async {
        provider.until_waiting(1).await;
        let retry = send(&other_process.server, KEY, "commit", Some("key-1"), &body);
        let deadline = async {
            other_process.idempotency.until_waiting(1).await;
            deployment.advance(ANSWER_WITHIN);
        };
        let (retry, ()) = tokio::join!(retry, deadline);
        provider.release();
        retry
    };
    let (first, retry) = tokio::join!(first, retry_and_release);
    assert_error(retry.status, &retry.body, 409, "idempotency_key_in_use");
    assert_eq!(first.result(&google), "succeeded");

    let later = send(&other_process.server, KEY, "commit", Some("key-1"), &body).await;
    assert!(later.replayed, "{later:?}");
    assert_eq!(later.id(), first.id());
    assert_eq!(later.result(&google), "succeeded");
    assert_eq!(provider.counts().creates, 1);
}

#[tokio::test]
async fn a_call_that_stopped_without_finishing_is_taken_over_and_makes_no_second_event() {
    let deployment = Deployment::new();
    // The first process's clock is two hours behind the second's: to the
    // second, the first call is long past its answer deadline, as a call
    // whose process stopped would be.
    let first_process = deployment.service(ANSWER_WITHIN).await;
    let later_clock = Arc::new(ManualClock::new(
        deployment.clock.now() + Duration::hours(2),
    ));
    let second_process = deployment.service_on(NEVER, later_clock).await;
    let google = connect(&first_process.server, "ada", Provider::Google).await;
    let body = commit_body("ada", "Project sync", &[&google]);
    let provider = first_process.server.provider(Provider::Google);

    provider.hold();
    let first = send(&first_process.server, KEY, "commit", Some("key-1"), &body);
    let retry = async {
        provider.until_waiting(1).await;
        send(&second_process.server, KEY, "commit", Some("key-1"), &body).await
    };
    let release = async {
        // The retry has taken the key over and reached the provider itself.
        provider.until_waiting(2).await;
        provider.release();
    };
    let (first, retry, ()) = tokio::join!(first, retry, release);
    assert!(!retry.replayed, "the retry ran the call: {retry:?}");
    assert_eq!(retry.id(), first.id(), "the same synced event");
    assert_eq!(first.result(&google), "succeeded");
    assert_eq!(retry.result(&google), "succeeded");
    let counts = provider.counts();
    assert_eq!(
        (counts.creates, counts.repeated_creates),
        (1, 1),
        "the retry's create found the first one's event"
    );
    assert_eq!(synced_events_of(&first_process.store, "ada").await, 1);
}

#[tokio::test]
async fn update_and_cancel_retries_record_no_second_set_of_operations() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let server = &service.server;
    let google = connect(server, "ada", Provider::Google).await;
    let outlook = connect(server, "ada", Provider::Outlook).await;
    let committed = send(
        server,
        KEY,
        "commit",
        None,
        &commit_body("ada", "Project sync", &[&google, &outlook]),
    )
    .await;
    let id = committed.id();

    let update = json!({"user": "ada", "eventId": id, "changes": {"location": "Room 4"}});
    let first = send(server, KEY, "update", Some("update-1"), &update).await;
    let retry = send(server, KEY, "update", Some("update-1"), &update).await;
    assert!(!first.replayed && retry.replayed);
    for reply in [&first, &retry] {
        assert_eq!(reply.id(), id);
        assert_eq!(reply.result(&google), "succeeded");
        assert_eq!(reply.result(&outlook), "succeeded");
        assert_eq!(reply.synced()["event"]["location"], "Room 4");
    }
    assert_eq!(
        operations_of(&service.store, &id, OperationKind::Update).await,
        2
    );

    let cancel = json!({"user": "ada", "eventId": id});
    let first = send(server, KEY, "cancel", Some("cancel-1"), &cancel).await;
    let retry = send(server, KEY, "cancel", Some("cancel-1"), &cancel).await;
    assert!(!first.replayed && retry.replayed);
    for reply in [&first, &retry] {
        assert_eq!(reply.id(), id);
        assert_eq!(reply.synced()["stored"], false);
        assert_eq!(reply.result(&google), "succeeded");
        assert_eq!(reply.result(&outlook), "succeeded");
    }
    assert_eq!(
        operations_of(&service.store, &id, OperationKind::Delete).await,
        2
    );
    for provider in [Provider::Google, Provider::Outlook] {
        let counts = server.provider(provider).counts();
        assert_eq!((counts.updates, counts.deletes), (1, 1), "{provider}");
    }
    // Without the key, cancelling again finds nothing.
    let again = send(server, KEY, "cancel", None, &cancel).await;
    assert_error(again.status, &again.body, 404, "event_not_found");
}

#[tokio::test]
async fn a_call_that_fails_frees_its_key() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let server = &service.server;
    let google = connect(server, "ada", Provider::Google).await;
    let invalid = json!({
        "user": "ada",
        "event": event_json("Project sync", next_tuesday(15), 60),
        "accounts": [],
    });
    let refused = send(server, KEY, "commit", Some("key-1"), &invalid).await;
    assert_error(refused.status, &refused.body, 400, "invalid_input");

    let body = commit_body("ada", "Project sync", &[&google]);
    let committed = send(server, KEY, "commit", Some("key-1"), &body).await;
    assert!(!committed.replayed);
    assert_eq!(committed.result(&google), "succeeded");
}

#[tokio::test]
async fn keys_expire_after_a_day_and_then_act_as_new() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let server = &service.server;
    let google = connect(server, "ada", Provider::Google).await;
    let body = commit_body("ada", "Project sync", &[&google]);
    let committed = send(server, KEY, "commit", Some("commit-1"), &body).await;
    let id = committed.id();
    let first = json!({"user": "ada", "eventId": id, "changes": {"location": "Room 4"}});
    let second = json!({"user": "ada", "eventId": id, "changes": {"location": "Room 5"}});
    let updated = send(server, KEY, "update", Some("update-1"), &first).await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let refused = send(server, KEY, "update", Some("update-1"), &second).await;
    assert_error(refused.status, &refused.body, 422, "idempotency_key_reused");

    let day = service.idempotency.expire_after();
    assert_eq!(day, std::time::Duration::from_secs(24 * 3600));
    deployment.advance(day - std::time::Duration::from_secs(1));
    let retry = send(server, KEY, "update", Some("update-1"), &first).await;
    assert!(retry.replayed, "kept until the day is over");

    deployment.advance(std::time::Duration::from_secs(1));
    let anew = send(server, KEY, "update", Some("update-1"), &second).await;
    assert!(!anew.replayed, "an expired key acts as new");
    assert_eq!(anew.synced()["event"]["location"], "Room 5");
    assert_eq!(
        operations_of(&service.store, &id, OperationKind::Update).await,
        2
    );

    // A commit run again under its expired key still makes no second event:
    // its synced event and provider keys are derived from the key.
    let again = send(server, KEY, "commit", Some("commit-1"), &body).await;
    assert!(!again.replayed);
    assert_eq!(again.id(), id);
    assert_eq!(server.provider(Provider::Google).counts().creates, 1);
    assert_eq!(synced_events_of(&service.store, "ada").await, 1);
}

#[tokio::test]
async fn the_openapi_document_lists_the_header_on_commit_update_and_cancel() {
    let deployment = Deployment::new();
    let service = deployment.service(NEVER).await;
    let response = service
        .server
        .client
        .get(format!("{}/openapi.json", service.server.base))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let (status, document) = answer(response).await;
    assert_eq!(status, 200);
    for action in ["commit", "update", "cancel"] {
        let path = format!("/api/CalendarSync/{action}");
        let parameters = &document["paths"][&path]["post"]["parameters"];
        let listed = parameters.as_array().is_some_and(|parameters| {
            parameters
                .iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
        });
        assert!(listed, "{path}: {parameters}");
    }
}
