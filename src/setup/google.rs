//! The Google settings of a deployment: the OAuth client and every endpoint.
//!
//! Plain values, present in every build, so that a setting given to a build
//! without the `google` feature is refused by name rather than ignored.

use std::fmt;

/// The variables the settings are read from.
pub const CLIENT_ID_VAR: &str = "CALSYNC_GOOGLE_CLIENT_ID";
/// The OAuth client secret.
pub const CLIENT_SECRET_VAR: &str = "CALSYNC_GOOGLE_CLIENT_SECRET";
/// The Calendar API's base URL.
pub const API_URL_VAR: &str = "CALSYNC_GOOGLE_API_URL";
/// The consent page.
pub const AUTH_URL_VAR: &str = "CALSYNC_GOOGLE_AUTH_URL";
/// The token endpoint.
pub const TOKEN_URL_VAR: &str = "CALSYNC_GOOGLE_TOKEN_URL";
/// The revocation endpoint.
pub const REVOKE_URL_VAR: &str = "CALSYNC_GOOGLE_REVOKE_URL";

/// How a deployment reaches Google. Google is configured when the client id
/// is set; each endpoint left unset is Google's own.
///
/// `Debug` never shows the client secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GoogleConfig {
    /// The OAuth client id (`CALSYNC_GOOGLE_CLIENT_ID`).
    pub client_id: Option<String>,
    /// The OAuth client secret (`CALSYNC_GOOGLE_CLIENT_SECRET`).
    pub client_secret: Option<String>,
    /// The Calendar API's base URL (`CALSYNC_GOOGLE_API_URL`).
    pub api_url: Option<String>,
    /// The consent page (`CALSYNC_GOOGLE_AUTH_URL`).
    pub auth_url: Option<String>,
    /// The token endpoint (`CALSYNC_GOOGLE_TOKEN_URL`).
    pub token_url: Option<String>,
    /// The revocation endpoint (`CALSYNC_GOOGLE_REVOKE_URL`).
    pub revoke_url: Option<String>,
}

impl fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("api_url", &self.api_url)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .finish()
    }
}

impl GoogleConfig {
    /// The settings from the environment (unset or empty variables are unset).
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        GoogleConfig {
            client_id: var(CLIENT_ID_VAR),
            client_secret: var(CLIENT_SECRET_VAR),
            api_url: var(API_URL_VAR),
            auth_url: var(AUTH_URL_VAR),
            token_url: var(TOKEN_URL_VAR),
            revoke_url: var(REVOKE_URL_VAR),
        }
    }

    /// Whether any Google setting is given.
    pub fn is_empty(&self) -> bool {
        *self == GoogleConfig::default()
    }

    /// Why Google is not configured, naming the missing setting; `None` when it is.
    pub fn missing(&self) -> Option<String> {
        if self.client_id.is_none() {
            return Some(format!(
                "google is not configured: set {CLIENT_ID_VAR} (and {CLIENT_SECRET_VAR})"
            ));
        }
        None
    }

    /// The adapter's settings, with Google's own endpoint for each one unset.
    #[cfg(feature = "google")]
    pub fn settings(&self) -> Option<crate::providers::google::GoogleSettings> {
        use crate::providers::google::GoogleSettings;
        let client = crate::oauth::ClientSettings::new(
            self.client_id.clone()?,
            self.client_secret.as_deref(),
        );
        let mut settings = GoogleSettings::new(client);
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut settings.api_url, &self.api_url);
        set(&mut settings.auth_url, &self.auth_url);
        set(&mut settings.token_url, &self.token_url);
        set(&mut settings.revoke_url, &self.revoke_url);
        Some(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_shown_and_a_missing_client_is_named() {
        let config = GoogleConfig {
            client_id: Some("id".into()),
            client_secret: Some("hunter2".into()),
            ..GoogleConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.missing(), None);
        let missing = GoogleConfig::default().missing().expect("missing");
        assert!(missing.contains(CLIENT_ID_VAR), "{missing}");
    }
}
