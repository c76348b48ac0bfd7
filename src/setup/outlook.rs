//! The Outlook settings of a deployment: the OAuth client registered in
//! Microsoft Entra, the tenant, and every endpoint.
//!
//! Plain values, present in every build, so that a setting given to a build
//! without the `outlook` feature is refused by name rather than ignored.

use std::fmt;

/// The OAuth client id (the Entra app's "Application (client) ID").
pub const CLIENT_ID_VAR: &str = "CALSYNC_MICROSOFT_CLIENT_ID";
/// The OAuth client secret (the secret's value, not its id).
pub const CLIENT_SECRET_VAR: &str = "CALSYNC_MICROSOFT_CLIENT_SECRET";
/// `common`, `organizations`, `consumers` or a tenant id.
pub const TENANT_VAR: &str = "CALSYNC_MICROSOFT_TENANT";
/// Graph's base URL (`.../v1.0`).
pub const GRAPH_URL_VAR: &str = "CALSYNC_MICROSOFT_GRAPH_URL";
/// The identity platform's host.
pub const AUTHORITY_URL_VAR: &str = "CALSYNC_MICROSOFT_AUTHORITY_URL";

/// How a deployment reaches Microsoft. Outlook is configured when the
/// client id is set; each endpoint left unset is Microsoft's own, and the
/// tenant is `common`.
///
/// `Debug` never shows the client secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OutlookConfig {
    /// The OAuth client id (`CALSYNC_MICROSOFT_CLIENT_ID`).
    pub client_id: Option<String>,
    /// The OAuth client secret (`CALSYNC_MICROSOFT_CLIENT_SECRET`).
    pub client_secret: Option<String>,
    /// The tenant (`CALSYNC_MICROSOFT_TENANT`).
    pub tenant: Option<String>,
    /// Graph's base URL (`CALSYNC_MICROSOFT_GRAPH_URL`).
    pub graph_url: Option<String>,
    /// The identity platform's host (`CALSYNC_MICROSOFT_AUTHORITY_URL`).
    pub authority_url: Option<String>,
}

impl fmt::Debug for OutlookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlookConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("tenant", &self.tenant)
            .field("graph_url", &self.graph_url)
            .field("authority_url", &self.authority_url)
            .finish()
    }
}

impl OutlookConfig {
    /// The settings from the environment (unset or empty variables are unset).
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        OutlookConfig {
            client_id: var(CLIENT_ID_VAR),
            client_secret: var(CLIENT_SECRET_VAR),
            tenant: var(TENANT_VAR),
            graph_url: var(GRAPH_URL_VAR),
            authority_url: var(AUTHORITY_URL_VAR),
        }
    }

    /// Whether any Outlook setting is given.
    pub fn is_empty(&self) -> bool {
        *self == OutlookConfig::default()
    }

    /// Why Outlook is not configured, naming the missing setting; `None` when it is.
    pub fn missing(&self) -> Option<String> {
        if self.client_id.is_none() {
            return Some(format!(
                "outlook is not configured: set {CLIENT_ID_VAR} (and {CLIENT_SECRET_VAR})"
            ));
        }
        None
    }

    /// The adapter's settings, with Microsoft's own value for each one unset.
    #[cfg(feature = "outlook")]
    pub fn settings(&self) -> Option<crate::providers::outlook::OutlookSettings> {
        use crate::providers::outlook::OutlookSettings;
        let client = crate::oauth::ClientSettings::new(
            self.client_id.clone()?,
            self.client_secret.as_deref(),
        );
        let mut settings = OutlookSettings::new(client);
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut settings.tenant, &self.tenant);
        set(&mut settings.graph_url, &self.graph_url);
        set(&mut settings.authority_url, &self.authority_url);
        Some(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_shown_and_a_missing_client_is_named() {
        let config = OutlookConfig {
            client_id: Some("id".into()),
            client_secret: Some("hunter2".into()),
            ..OutlookConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.missing(), None);
        let missing = OutlookConfig::default().missing().expect("missing");
        assert!(missing.contains(CLIENT_ID_VAR), "{missing}");
    }
}
