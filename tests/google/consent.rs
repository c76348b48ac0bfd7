//! The consent flow calsync runs (startConnect, then the provider's
//! callback into finishConnect), against the local Google server and on the
//! sandbox.

use super::server::{GoogleServer, PRIMARY, SCOPES};
use super::support::{provider, server};
use calsync::clock::ManualClock;
use calsync::concept::ConsentSettings;
use calsync::model::{SyncStatus, UserId};
use calsync::providers::Providers;
use calsync::providers::sandbox::Sandbox;
use calsync::{CalendarSync, Error};
use std::collections::HashMap;
use std::sync::Arc;

const RETURN: &str = "https://app.example/connected";

fn settings() -> ConsentSettings {
    ConsentSettings {
        public_url: Some("https://calsync.example".into()),
        return_urls: vec![RETURN.into()],
    }
}

async fn sync_on(
    dir: &tempfile::TempDir,
    providers: Providers,
    clock: Arc<ManualClock>,
) -> CalendarSync {
    let store = calsync::store::SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    CalendarSync::builder(Arc::new(store))
        .providers(providers)
        .clock(clock)
        .config(crate::patience::patient())
        .consent(settings())
        .build()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(chrono::Utc::now()))
}

fn google(server: &GoogleServer) -> Providers {
    Providers::new().with(Arc::new(provider(server)))
}

/// Plays the person at the consent page: answers the callback's query.
async fn consent(url: &str) -> HashMap<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answer = http.get(url).send().await.expect("consent page");
    let location = answer.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with("https://calsync.example/oauth/google/callback?"),
        "{location}"
    );
    callback_query(&location)
}

fn callback_query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn a_consent_flow_connects_the_account_and_returns_to_the_app() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = sync_on(&dir, google(&server), clock()).await;
    let ada = UserId::from("ada");
    let started = sync.start_connect(&ada, "google", RETURN).expect("start");
    let asked = callback_query(&started.url);
    assert_eq!(asked["scope"], SCOPES, "the narrow scopes");
    assert_eq!(asked["access_type"], "offline");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(
        asked["redirect_uri"],
        "https://calsync.example/oauth/google/callback"
    );
    let back = consent(&started.url).await;
    let finished = sync
        .finish_connect("google", &back["state"], Some(&back["code"]), None)
        .await
        .expect("finish");
    let account = finished.outcome.as_ref().expect("connected").clone();
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert_eq!(account.calendar_id.as_deref(), Some(PRIMARY));
    assert_eq!(
        finished.redirect_url(),
        format!("{RETURN}?account={}", account.id)
    );

    // The state is single-use: a replay is refused and connects nothing more.
    let replayed = sync
        .finish_connect("google", &back["state"], Some(&back["code"]), None)
        .await;
    assert!(matches!(replayed, Err(Error::Invalid(_))), "{replayed:?}");
    assert_eq!(
        sync.get_account_status(&ada).await.expect("status").len(),
        1
    );
    sync.shutdown();
}

#[tokio::test]
async fn an_expired_foreign_or_refused_flow_connects_nothing() {
    let server = server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = clock();
    let sync = sync_on(&dir, google(&server), clock.clone()).await;
    let ada = UserId::from("ada");

    let refused = sync.start_connect(&ada, "google", "https://evil.example/");
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");

    // A state presented for another provider is refused and stays usable.
    let started = sync.start_connect(&ada, "google", RETURN).expect("start");
    let back = consent(&started.url).await;
    let foreign = sync
        .finish_connect("outlook", &back["state"], Some(&back["code"]), None)
        .await;
    assert!(matches!(foreign, Err(Error::Invalid(_))), "{foreign:?}");
    let unknown = sync
        .finish_connect("google", "made-up", Some(&back["code"]), None)
        .await;
    assert!(matches!(unknown, Err(Error::Invalid(_))), "{unknown:?}");

    // The person said no at Google: back to the app with the reason.
    let denied = sync
        .finish_connect("google", &back["state"], None, Some("access_denied"))
        .await
        .expect("finish");
    assert!(denied.outcome.is_err());
    assert!(
        denied
            .redirect_url()
            .starts_with(&format!("{RETURN}?error=invalid_credentials")),
        "{}",
        denied.redirect_url()
    );

    // A flow past its expiry is refused.
    let late = sync.start_connect(&ada, "google", RETURN).expect("start");
    let back = consent(&late.url).await;
    clock.advance(calsync::concept::CONSENT_LIFETIME + chrono::Duration::seconds(1));
    let expired = sync
        .finish_connect("google", &back["state"], Some(&back["code"]), None)
        .await;
    assert!(matches!(expired, Err(Error::Invalid(_))), "{expired:?}");
    assert!(
        sync.get_account_status(&ada)
            .await
            .expect("status")
            .is_empty()
    );
    sync.shutdown();
}

#[tokio::test]
async fn the_sandbox_approves_a_consent_flow_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = sync_on(&dir, Sandbox::new().providers(), clock()).await;
    let ada = UserId::from("ada");
    let started = sync.start_connect(&ada, "google", RETURN).expect("start");
    let back = callback_query(&started.url);
    let finished = sync
        .finish_connect("google", &back["state"], Some(&back["code"]), None)
        .await
        .expect("finish");
    let account = finished.outcome.expect("connected");
    assert_eq!(account.sync_status, SyncStatus::Connected);
    let refused = sync.start_connect(&ada, "apple", RETURN);
    assert!(
        matches!(refused, Err(Error::UnsupportedProvider { .. })),
        "{refused:?}"
    );
    sync.shutdown();
}
