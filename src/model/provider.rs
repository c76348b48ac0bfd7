//! The spec's `Provider` and `SyncStatus` enumerations.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A calendar provider calsync can write to: `"google" | "outlook" | "apple" | "zoom"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Google Calendar API v3.
    Google,
    /// Microsoft Graph (Outlook, Microsoft 365).
    Outlook,
    /// Apple iCloud, or any CalDAV server.
    Apple,
    /// Zoom meetings.
    Zoom,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 4] = [
        Provider::Google,
        Provider::Outlook,
        Provider::Apple,
        Provider::Zoom,
    ];

    /// The provider's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Outlook => "outlook",
            Provider::Apple => "apple",
            Provider::Zoom => "zoom",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unsupported provider {s:?}: expected one of google, outlook, apple, zoom")
            })
    }
}

/// The state of an account's connection: `"connected" | "disconnected" | "error"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    /// Credentials work; the account takes part in sync.
    Connected,
    /// The user disconnected it; credentials are revoked and wiped.
    Disconnected,
    /// The provider refused the credentials or kept failing; see the account's `error`.
    Error,
}

impl SyncStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Connected => "connected",
            SyncStatus::Disconnected => "disconnected",
            SyncStatus::Error => "error",
        }
    }
}
