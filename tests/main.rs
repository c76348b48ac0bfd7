//! calsync's integration tests, one binary. Modules:
//! - `caldav`: the CalDAV adapter against real Radicale and Xandikos servers
//!   (feature `caldav`; start them with `scripts/caldav-servers.sh start`).
//! - `concept`: the CalendarSync actions on the embedded store and the
//!   sandbox providers: the operational principle, then each action's
//!   requires and effects, recovery after a crash, and credentials at rest.
//! - `store`: the store conformance suite on every backend.

#[cfg(feature = "caldav")]
mod caldav;
mod concept;
mod store;
