//! Where the adapter reaches Zoom, the deployment's OAuth app, and the
//! scopes that app needs.

use crate::oauth::{ClientAuth, ClientSettings, Endpoints};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use std::time::Duration;

/// Zoom's REST API (version 2).
pub const API_URL: &str = "https://api.zoom.us/v2";
/// The host of Zoom's `/oauth/authorize`, `/oauth/token` and `/oauth/revoke`.
pub const OAUTH_URL: &str = "https://zoom.us";

/// The granular scopes a user-level OAuth app needs: make, move, delete and
/// list meetings, and read the user (connect checks who it is). A
/// Server-to-Server app needs the same scopes with `:admin` (it acts for
/// the account's users).
pub const USER_SCOPES: [&str; 5] = [
    "meeting:write:meeting",
    "meeting:update:meeting",
    "meeting:delete:meeting",
    "meeting:read:list_meetings",
    "user:read:user",
];

/// Zoom's cap on meeting creates and updates per user per UTC day.
pub const DAILY_MEETING_WRITES: u32 = 100;

/// How long a process may hold the claim to fetch the deployment's
/// Server-to-Server token before another one may take it over.
pub const TOKEN_LEASE: Duration = Duration::from_secs(30);

/// Where the adapter reaches Zoom, and the deployment's OAuth app.
///
/// `Debug` never shows the client secret.
#[derive(Clone, Debug)]
pub struct ZoomSettings {
    /// The OAuth app (client id and secret); it authenticates with HTTP
    /// Basic, the only way Zoom's token endpoint accepts.
    pub client: ClientSettings,
    /// The Zoom account id of a Server-to-Server OAuth app; accounts are
    /// then connected by user (`{"user": ...}`) with the deployment's token.
    pub account_id: Option<String>,
    /// The API's base URL (`.../v2`).
    pub api_url: String,
    /// The host of the OAuth endpoints.
    pub oauth_url: String,
    /// Meeting creates and updates calsync makes per Zoom user per UTC day
    /// before it holds the rest until midnight UTC.
    pub daily_meeting_writes: u32,
    /// How long a process waits for another one fetching the deployment's
    /// token before it gives up for now (the work is retried).
    pub token_wait: Duration,
}

impl ZoomSettings {
    /// Zoom's own endpoints, for the user-level OAuth app `client`.
    pub fn new(client: ClientSettings) -> Self {
        ZoomSettings {
            client: client.with_auth(ClientAuth::Basic),
            account_id: None,
            api_url: API_URL.to_owned(),
            oauth_url: OAUTH_URL.to_owned(),
            daily_meeting_writes: DAILY_MEETING_WRITES,
            token_wait: TOKEN_LEASE + Duration::from_secs(5),
        }
    }

    /// The same settings for a Server-to-Server OAuth app of `account_id`.
    pub fn server_to_server(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// The same settings with every endpoint under `base` (a test server or
    /// a proxy that serves them all): the API at `{base}/v2`, OAuth at `{base}/oauth/...`.
    pub fn all_at(mut self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        self.api_url = format!("{base}/v2");
        self.oauth_url = base.to_owned();
        self
    }

    /// The OAuth endpoints under [`ZoomSettings::oauth_url`].
    ///
    /// # Errors
    /// `Misconfigured` when the OAuth URL is not an http(s) URL.
    pub fn endpoints(&self) -> ProviderResult<Endpoints> {
        let host = self.oauth_url.trim().trim_end_matches('/');
        if host.is_empty() {
            return Err(ProviderError::new(
                ProviderErrorKind::Misconfigured,
                "the Zoom OAuth URL is empty",
            ));
        }
        Endpoints::parse(
            &format!("{host}/oauth/authorize"),
            &format!("{host}/oauth/token"),
            Some(&format!("{host}/oauth/revoke")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oauth_endpoints_live_under_one_host_and_the_client_uses_basic_auth() {
        let settings = ZoomSettings::new(ClientSettings::new("id", Some("secret")))
            .all_at("http://127.0.0.1:9/");
        assert_eq!(settings.api_url, "http://127.0.0.1:9/v2");
        let endpoints = settings.endpoints().expect("endpoints");
        assert_eq!(endpoints.token.as_str(), "http://127.0.0.1:9/oauth/token");
        assert_eq!(
            endpoints.authorize.as_str(),
            "http://127.0.0.1:9/oauth/authorize"
        );
        assert_eq!(settings.client.auth, ClientAuth::Basic);
        let mut bad = settings.clone();
        bad.oauth_url = "zoom.us".into();
        assert_eq!(
            bad.endpoints().unwrap_err().kind,
            ProviderErrorKind::Misconfigured
        );
    }
}
