//! The adapter under test, aimed at a local Graph server.

use super::server::GraphServer;
use calsync::model::{AccountId, EventDetails, EventId};
use calsync::providers::outlook::OutlookProvider;
use calsync::providers::{AccountProvider, Credentials, Session, WriteContext};
use chrono::{DateTime, TimeZone, Utc};

/// A server with one default calendar.
pub async fn server() -> GraphServer {
    GraphServer::start().await
}

/// The adapter aimed at `server`.
pub fn provider(server: &GraphServer) -> OutlookProvider {
    OutlookProvider::new(&server.settings()).expect("the adapter builds")
}

/// Credentials holding only the refresh token of a new grant.
pub fn refresh_only(server: &GraphServer) -> Credentials {
    let mut credentials = Credentials::default();
    credentials.set_str("refresh_token", server.grant());
    credentials
}

/// Connects a new grant; answers the adapter and a session.
pub async fn connected(server: &GraphServer) -> (OutlookProvider, Session) {
    let adapter = provider(server);
    let connection = adapter
        .connect(&refresh_only(server))
        .await
        .expect("connect");
    let session = Session {
        account: AccountId::from("account-1"),
        credentials: connection.credentials,
        calendar_id: connection.calendar_id,
    };
    (adapter, session)
}

/// 2030-03-04 at `hour`:00 UTC.
pub fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 4, hour, 0, 0)
        .single()
        .expect("valid instant")
}

/// A timed event in Berlin with a location.
pub fn meeting(title: &str) -> EventDetails {
    let mut event = EventDetails::timed(title, at(9), at(10));
    event.time_zone = Some("Europe/Berlin".into());
    event.location = Some("Room 1".into());
    event
}

/// A write context with a fresh key.
pub fn context() -> WriteContext {
    WriteContext {
        idempotency_key: format!("op-{}", uuid::Uuid::new_v4()),
        synced_id: EventId::fresh(),
        invite_attendees: false,
        retry: false,
    }
}

/// A concept over an embedded store in `dir` with the Outlook adapter aimed
/// at `server`; a fixed vault key, so that a second instance over the same
/// store can read the credentials (a restart).
pub async fn calendar_sync(
    dir: &std::path::Path,
    server: &GraphServer,
    config: calsync::Config,
) -> calsync::CalendarSync {
    use calsync::store::{SqliteStore, Store};
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(
        SqliteStore::open(dir.join("calsync.db"), "CalendarSync.")
            .await
            .expect("store"),
    );
    calsync::CalendarSync::builder(store)
        .providers(calsync::providers::Providers::new().with(std::sync::Arc::new(provider(server))))
        .vault(calsync::vault::Vault::new(&[7; 32]))
        .config(config)
        .build()
}
