//! The consent flow calsync runs for Outlook (startConnect, then the
//! identity platform's callback into finishConnect), against the local
//! server, with a configured tenant.

use super::server::{DEFAULT_CALENDAR, GraphServer, MAILBOX};
use calsync::clock::ManualClock;
use calsync::concept::ConsentSettings;
use calsync::model::{SyncStatus, UserId};
use calsync::providers::Providers;
use calsync::providers::outlook::OutlookProvider;
use calsync::{CalendarSync, Error};
use std::collections::HashMap;
use std::sync::Arc;

const RETURN: &str = "https://app.example/connected";

async fn sync_on(dir: &tempfile::TempDir, server: &GraphServer, tenant: &str) -> CalendarSync {
    let store = calsync::store::SqliteStore::open(dir.path().join("calsync.db"), "CalendarSync.")
        .await
        .expect("store");
    let mut settings = server.settings();
    settings.tenant = tenant.to_owned();
    let adapter = OutlookProvider::new(&settings).expect("adapter");
    CalendarSync::builder(Arc::new(store))
        .providers(Providers::new().with(Arc::new(adapter)))
        .clock(Arc::new(ManualClock::new(chrono::Utc::now())))
        .config(crate::patience::patient())
        .consent(ConsentSettings {
            public_url: Some("https://calsync.example".into()),
            return_urls: vec![RETURN.into()],
        })
        .build()
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
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
        location.starts_with("https://calsync.example/oauth/outlook/callback?"),
        "{location}"
    );
    query(&location)
}

#[tokio::test]
async fn a_consent_flow_in_a_tenant_connects_the_account_and_returns_to_the_app() {
    let server = GraphServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = sync_on(&dir, &server, "organizations").await;
    let ada = UserId::from("ada");
    let started = sync.start_connect(&ada, "outlook", RETURN).expect("start");
    assert!(
        started.url.starts_with(&format!(
            "{}/organizations/oauth2/v2.0/authorize?",
            server.url
        )),
        "{}",
        started.url
    );
    let asked = query(&started.url);
    assert_eq!(
        asked["scope"],
        "offline_access https://graph.microsoft.com/Calendars.ReadWrite"
    );
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["response_type"], "code");
    assert_eq!(
        asked["redirect_uri"],
        "https://calsync.example/oauth/outlook/callback"
    );
    let back = consent(&started.url).await;
    let finished = sync
        .finish_connect("outlook", &back["state"], Some(&back["code"]), None)
        .await
        .expect("finish");
    let account = finished.outcome.as_ref().expect("connected").clone();
    assert_eq!(account.sync_status, SyncStatus::Connected);
    assert_eq!(account.calendar_id.as_deref(), Some(DEFAULT_CALENDAR));
    assert_eq!(account.label.as_deref(), Some(MAILBOX));
    assert_eq!(
        finished.redirect_url(),
        format!("{RETURN}?account={}", account.id)
    );
    assert!(
        server
            .tenants()
            .iter()
            .all(|tenant| tenant == "organizations"),
        "{:?}",
        server.tenants()
    );

    // The state is single-use.
    let replayed = sync
        .finish_connect("outlook", &back["state"], Some(&back["code"]), None)
        .await;
    assert!(matches!(replayed, Err(Error::Invalid(_))), "{replayed:?}");
    assert_eq!(
        sync.get_account_status(&ada).await.expect("status").len(),
        1
    );
    sync.shutdown();
}

#[tokio::test]
async fn a_refused_return_url_or_a_denied_consent_connects_nothing() {
    let server = GraphServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sync = sync_on(&dir, &server, "common").await;
    let ada = UserId::from("ada");
    let refused = sync.start_connect(&ada, "outlook", "https://evil.example/");
    assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    let started = sync.start_connect(&ada, "outlook", RETURN).expect("start");
    let back = consent(&started.url).await;
    let denied = sync
        .finish_connect("outlook", &back["state"], None, Some("access_denied"))
        .await
        .expect("finish");
    assert!(denied.outcome.is_err());
    assert!(
        denied
            .redirect_url()
            .starts_with(&format!("{RETURN}?error=")),
        "{}",
        denied.redirect_url()
    );
    assert!(
        sync.get_account_status(&ada)
            .await
            .expect("status")
            .is_empty()
    );
    sync.shutdown();
}
