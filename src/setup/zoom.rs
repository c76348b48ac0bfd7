//! The Zoom settings of a deployment: the OAuth app (user-level, or
//! Server-to-Server with the account id) and every endpoint.
//!
//! Plain values, present in every build, so that a setting given to a build
//! without the `zoom` feature is refused by name rather than ignored.

use std::fmt;

/// The OAuth app's client id.
pub const CLIENT_ID_VAR: &str = "CALSYNC_ZOOM_CLIENT_ID";
/// The OAuth app's client secret.
pub const CLIENT_SECRET_VAR: &str = "CALSYNC_ZOOM_CLIENT_SECRET";
/// The Zoom account id of a Server-to-Server OAuth app.
pub const ACCOUNT_ID_VAR: &str = "CALSYNC_ZOOM_ACCOUNT_ID";
/// The API's base URL (`.../v2`).
pub const API_URL_VAR: &str = "CALSYNC_ZOOM_API_URL";
/// The host of the OAuth endpoints.
pub const OAUTH_URL_VAR: &str = "CALSYNC_ZOOM_OAUTH_URL";

/// How a deployment reaches Zoom. Zoom is configured when the client id is
/// set; with the account id too, the app is a Server-to-Server one. Each
/// endpoint left unset is Zoom's own.
///
/// `Debug` never shows the client secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ZoomConfig {
    /// The OAuth client id (`CALSYNC_ZOOM_CLIENT_ID`).
    pub client_id: Option<String>,
    /// The OAuth client secret (`CALSYNC_ZOOM_CLIENT_SECRET`).
    pub client_secret: Option<String>,
    /// The account id of a Server-to-Server app (`CALSYNC_ZOOM_ACCOUNT_ID`).
    pub account_id: Option<String>,
    /// The API's base URL (`CALSYNC_ZOOM_API_URL`).
    pub api_url: Option<String>,
    /// The host of `/oauth/authorize`, `/oauth/token`, `/oauth/revoke`
    /// (`CALSYNC_ZOOM_OAUTH_URL`).
    pub oauth_url: Option<String>,
}

impl fmt::Debug for ZoomConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZoomConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("account_id", &self.account_id)
            .field("api_url", &self.api_url)
            .field("oauth_url", &self.oauth_url)
            .finish()
    }
}

impl ZoomConfig {
    /// The settings from the environment (unset or empty variables are unset).
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        ZoomConfig {
            client_id: var(CLIENT_ID_VAR),
            client_secret: var(CLIENT_SECRET_VAR),
            account_id: var(ACCOUNT_ID_VAR),
            api_url: var(API_URL_VAR),
            oauth_url: var(OAUTH_URL_VAR),
        }
    }

    /// Whether any Zoom setting is given.
    pub fn is_empty(&self) -> bool {
        *self == ZoomConfig::default()
    }

    /// Why Zoom is not configured, naming the missing setting; `None` when it is.
    pub fn missing(&self) -> Option<String> {
        if self.client_id.is_none() {
            return Some(format!(
                "zoom is not configured: set {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR} \
                 (and {ACCOUNT_ID_VAR} for a Server-to-Server app)"
            ));
        }
        None
    }

    /// The adapter's settings, with Zoom's own endpoint for each one unset.
    #[cfg(feature = "zoom")]
    pub fn settings(&self) -> Option<crate::providers::zoom::ZoomSettings> {
        use crate::providers::zoom::ZoomSettings;
        let client = crate::oauth::ClientSettings::new(
            self.client_id.clone()?,
            self.client_secret.as_deref(),
        );
        let mut settings = ZoomSettings::new(client);
        settings.account_id.clone_from(&self.account_id);
        if let Some(url) = &self.api_url {
            settings.api_url.clone_from(url);
        }
        if let Some(url) = &self.oauth_url {
            settings.oauth_url.clone_from(url);
        }
        Some(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_shown_and_a_missing_client_is_named() {
        let config = ZoomConfig {
            client_id: Some("id".into()),
            client_secret: Some("hunter2".into()),
            ..ZoomConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.missing(), None);
        let missing = ZoomConfig::default().missing().expect("missing");
        assert!(missing.contains(CLIENT_ID_VAR), "{missing}");
    }
}
