//! The connection settings of `calsync serve` (flags and environment): how
//! long a client may take to send a request head, how long an idle
//! connection stays open, how many connections are served at once, and how
//! large a request head may be ([`crate::http::connections`]).

use super::{parse_duration, parse_size};
use crate::http::Connections;
use clap::Args;
use std::num::NonZeroU32;
use std::time::Duration;

/// The smallest header limit accepted: a request line, `Host`,
/// `Authorization`, `Content-Type` and an `Idempotency-Key` fit in it.
const SMALLEST_HEADER_LIMIT: usize = 1024;

/// How connections are served.
#[derive(Clone, Debug, Args)]
pub struct ConnectionArgs {
    /// How long a client may take to send a request head whole (from the
    /// connection's opening, or from the first byte of a later request);
    /// the connection is closed after it.
    #[arg(long, env = "CALSYNC_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// How long a connection with no request in flight stays open.
    #[arg(long, env = "CALSYNC_IDLE_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// The most connections served at once; more wait in the listener's
    /// queue until a served one ends.
    #[arg(long, env = "CALSYNC_MAX_CONNECTIONS", default_value = "512", value_parser = parse_count)]
    pub max_connections: NonZeroU32,
    /// The largest request head (request line and header fields), in bytes
    /// (suffixes: KiB, MiB); a larger one is answered 431.
    #[arg(long, env = "CALSYNC_HEADER_LIMIT", default_value = "16KiB", value_parser = parse_size)]
    pub header_limit: usize,
}

impl ConnectionArgs {
    /// The connection settings these flags describe.
    ///
    /// # Errors
    /// A header limit too small for an ordinary request's head, named.
    pub fn connections(&self) -> Result<Connections, String> {
        if self.header_limit < SMALLEST_HEADER_LIMIT {
            return Err(format!(
                "--header-limit: {} bytes is too small for a request's head; use at least 1KiB",
                self.header_limit
            ));
        }
        Ok(Connections {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            header_limit: self.header_limit,
        })
    }
}

/// Parses a count of at least 1.
fn parse_count(text: &str) -> Result<NonZeroU32, String> {
    let count: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a count (like 512)"))?;
    NonZeroU32::new(count).ok_or_else(|| "must be at least 1".to_owned())
}
