//! A provider's credentials: an object of the provider's own fields, never shown.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A provider's credentials (OAuth: `access_token`, `refresh_token`,
/// `expires_in` or `expires_at`; CalDAV: `username`, `password`, `url`).
///
/// `Debug` shows field names only, never values.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Credentials(pub Map<String, Value>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for key in self.0.keys() {
            map.entry(key, &"<redacted>");
        }
        map.finish()
    }
}

impl Credentials {
    /// A string field.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// Sets a string field.
    pub fn set_str(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_owned(), Value::String(value.into()));
    }

    /// When the access token expires, if known (`expires_at`, RFC 3339).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.get_str("expires_at")
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|instant| instant.with_timezone(&Utc))
    }

    /// Replaces a relative `expires_in` (seconds) by an absolute `expires_at`.
    pub fn normalise_expiry(&mut self, now: DateTime<Utc>) {
        if let Some(seconds) = self.0.get("expires_in").and_then(Value::as_i64) {
            self.0.remove("expires_in");
            let at = now + Duration::seconds(seconds.clamp(0, 10 * 365 * 24 * 3600));
            self.set_str("expires_at", at.to_rfc3339());
        }
    }

    /// Whether the access token expires before `now + within`.
    pub fn expires_within(&self, now: DateTime<Utc>, within: Duration) -> bool {
        self.expires_at().is_some_and(|at| at <= now + within)
    }
}
