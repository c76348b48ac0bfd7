//! calsync's integration tests, one binary. Modules:
//! - `caldav`: the CalDAV adapter against real Radicale and Xandikos servers
//!   (feature `caldav`; start them with `scripts/caldav-servers.sh start`).

#[cfg(feature = "caldav")]
mod caldav;
