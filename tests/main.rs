//! calsync's integration tests, one binary. Modules:
//! - `caldav`: the CalDAV adapter against real Radicale and Xandikos servers
//!   (feature `caldav`; start them with `scripts/caldav-servers.sh start`).
//! - `cli`: the `calsync` command line, run as a user would (feature `cli`).
//! - `crash`: `calsync serve` killed and restarted at points of a concurrent
//!   workload on Radicale and Xandikos behind fault-injecting proxies, then
//!   checked for convergence (features `caldav`, `cli`, `server`).
//! - `concept`: the CalendarSync actions on the embedded store and the
//!   sandbox providers: the operational principle, then each action's
//!   requires and effects, recovery after a crash, and credentials at rest.
//! - `google`: the Google adapter and the actions on a `google` account
//!   against a local, wire-faithful Google server (features `google`, `server`).
//! - `outlook`: the Outlook adapter and the actions on an `outlook` account
//!   against a local, wire-faithful Microsoft Graph server (features
//!   `outlook`, `server`).
//! - `http`: the HTTP service over a real socket (feature `server`).
//! - `patience`: settings under which no outcome depends on the machine's speed.
//! - `schedule`: the scheduling engine (recurrence, zones, index, conflicts,
//!   suggestions, iCalendar reading, the command line).
//! - `store`: the store conformance suite on every backend.
//! - `zoom`: the Zoom meeting adapter and a commit with a meeting through
//!   `CalendarSync` against a local, wire-faithful Zoom server (features
//!   `zoom`, `server`).

// Tests build one-account lists inline; `&[id.clone()]` reads better there than `from_ref`.
#![allow(clippy::cloned_ref_to_slice_refs)]

#[cfg(feature = "caldav")]
mod caldav;
#[cfg(feature = "cli")]
mod cli;
mod concept;
#[cfg(all(feature = "caldav", feature = "cli", feature = "server"))]
mod crash;
#[cfg(all(feature = "google", feature = "server"))]
mod google;
#[cfg(feature = "server")]
mod http;
#[cfg(all(feature = "outlook", feature = "server"))]
mod outlook;
mod patience;
mod schedule;
mod store;
#[cfg(all(feature = "zoom", feature = "server"))]
mod zoom;
