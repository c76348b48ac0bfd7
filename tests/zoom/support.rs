//! The adapter under test, aimed at a local Zoom server, on a SQLite store.

use super::server::ZoomServer;
use calsync::clock::{Clock, ManualClock, SystemClock};
use calsync::model::{AccountId, EventDetails, EventId};
use calsync::providers::zoom::{ZoomProvider, ZoomSettings};
use calsync::providers::{AccountProvider, Credentials, Session, WriteContext};
use calsync::store::{SqliteStore, Store};
use calsync::vault::Vault;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;

/// The vault every "process" of a deployment shares.
pub fn vault() -> Vault {
    Vault::new(&[7; 32])
}

/// The store file in `dir`, opened anew (as each process opens it).
pub async fn store(dir: &std::path::Path) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(dir.join("calsync.db"), "CalendarSync.")
            .await
            .expect("store"),
    )
}

/// An adapter with `settings` on the store in `dir`, on `clock`.
pub async fn adapter_on(
    settings: &ZoomSettings,
    dir: &std::path::Path,
    clock: Arc<dyn Clock>,
) -> ZoomProvider {
    ZoomProvider::with_client(
        settings,
        store(dir).await,
        vault(),
        clock,
        calsync::oauth::build_client().expect("client"),
    )
    .expect("the adapter builds")
}

/// A user-level app's adapter on the system clock.
pub async fn user_adapter(server: &ZoomServer, dir: &std::path::Path) -> ZoomProvider {
    adapter_on(&server.user_app(), dir, Arc::new(SystemClock)).await
}

/// 2030-03-04 at `hour`:00 UTC.
pub fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 4, hour, 0, 0)
        .single()
        .expect("valid instant")
}

/// A clock standing at 2030-03-04 15:30 UTC.
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2030, 3, 4, 15, 30, 0)
            .single()
            .expect("instant"),
    ))
}

/// A one-hour event in Berlin from `hour`:00 UTC.
pub fn event(title: &str, hour: u32) -> EventDetails {
    let mut event = EventDetails::timed(title, at(hour), at(hour + 1));
    event.time_zone = Some("Europe/Berlin".into());
    event.virtual_meeting = true;
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

/// Credentials holding only a refresh token of a new grant of `user`.
pub fn refresh_only(refresh_token: String) -> Credentials {
    let mut credentials = Credentials::default();
    credentials.set_str("refresh_token", refresh_token);
    credentials
}

/// Connects `credentials`; answers a session.
pub async fn session(adapter: &ZoomProvider, credentials: &Credentials) -> Session {
    let connection = adapter.connect(credentials).await.expect("connect");
    Session {
        account: AccountId::from("account-1"),
        credentials: connection.credentials,
        calendar_id: connection.calendar_id,
    }
}
