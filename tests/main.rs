//! calsync's integration tests, one binary. Modules:
//! - `concept`: the CalendarSync actions on the embedded store and the
//!   sandbox providers: the operational principle, then each action's
//!   requires and effects, recovery after a crash, and credentials at rest.
//! - `http`: the HTTP service over a real socket (feature `server`).
//! - `store`: the store conformance suite on every backend.

mod concept;
#[cfg(feature = "server")]
mod http;
mod store;
