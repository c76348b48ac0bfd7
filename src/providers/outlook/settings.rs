//! Where the adapter reaches Microsoft Graph and the identity platform, the
//! deployment's OAuth client, and the scopes calsync asks for and checks.

use super::pace;
use crate::oauth::ClientSettings;

/// Microsoft Graph v1.0.
pub const GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// The Microsoft identity platform's host (the global cloud).
pub const AUTHORITY_URL: &str = "https://login.microsoftonline.com";
/// The default tenant: work or school accounts and personal Microsoft
/// accounts alike.
pub const TENANT: &str = "common";

/// The scope to read and write the person's calendars.
pub const CALENDARS_SCOPE: &str = "https://graph.microsoft.com/Calendars.ReadWrite";
/// The scope that makes the identity platform issue a refresh token.
pub const OFFLINE_SCOPE: &str = "offline_access";
/// The scopes calsync asks for: the calendars, and a refresh token. No
/// `User.Read`: the account's address comes from its default calendar's
/// owner, which `Calendars.ReadWrite` reads.
pub const REQUIRED_SCOPES: [&str; 2] = [OFFLINE_SCOPE, CALENDARS_SCOPE];

/// Whether `granted` (space-separated, as the token endpoint answers it)
/// holds the calendar scope; Microsoft writes it with or without the Graph
/// prefix.
pub fn grants_calendars(granted: &str) -> bool {
    granted.split_whitespace().any(|scope| {
        scope.eq_ignore_ascii_case(CALENDARS_SCOPE)
            || scope.eq_ignore_ascii_case("Calendars.ReadWrite")
    })
}

/// Where the adapter reaches Microsoft, and the deployment's OAuth client.
///
/// `Debug` never shows the client secret.
#[derive(Clone, Debug)]
pub struct OutlookSettings {
    /// The OAuth client registered in Microsoft Entra (client id and secret).
    pub client: ClientSettings,
    /// Graph's base URL, ending in `/v1.0`.
    pub graph_url: String,
    /// The identity platform's host; the endpoints are
    /// `{authority}/{tenant}/oauth2/v2.0/authorize` and `.../token`.
    pub authority_url: String,
    /// `common`, `organizations`, `consumers`, or a tenant id or domain.
    pub tenant: String,
    /// Requests at once to one mailbox (Graph allows 4).
    pub concurrent_requests: usize,
    /// Requests a second to one mailbox (a token bucket per account, below
    /// Graph's 10,000 per 10 minutes); 0 turns the bucket off.
    pub requests_per_second: f64,
    /// How many requests to one mailbox may go before the bucket paces them.
    pub burst: u32,
}

impl OutlookSettings {
    /// Microsoft's own endpoints and the `common` tenant, for `client`.
    pub fn new(client: ClientSettings) -> Self {
        OutlookSettings {
            client,
            graph_url: GRAPH_URL.to_owned(),
            authority_url: AUTHORITY_URL.to_owned(),
            tenant: TENANT.to_owned(),
            concurrent_requests: pace::DEFAULT_CONCURRENCY,
            requests_per_second: pace::DEFAULT_RATE,
            burst: pace::DEFAULT_BURST,
        }
    }

    /// The same settings with every endpoint under `base` (a test server or
    /// a proxy that serves them all): Graph at `{base}/v1.0`, the identity
    /// platform at `{base}`.
    pub fn all_at(mut self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        self.graph_url = format!("{base}/v1.0");
        self.authority_url = base.to_owned();
        self
    }

    /// The consent page: `{authority}/{tenant}/oauth2/v2.0/authorize`.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/v2.0/authorize", self.tenant_base())
    }

    /// The token endpoint: `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.tenant_base())
    }

    fn tenant_base(&self) -> String {
        format!(
            "{}/{}",
            self.authority_url.trim_end_matches('/'),
            self.tenant.trim().trim_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoints_follow_the_authority_and_the_tenant() {
        let mut settings = OutlookSettings::new(ClientSettings::new("id", None));
        assert_eq!(
            settings.token_url(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        settings.tenant = "organizations".into();
        settings.authority_url = "https://login.microsoftonline.us/".into();
        assert_eq!(
            settings.authorize_url(),
            "https://login.microsoftonline.us/organizations/oauth2/v2.0/authorize"
        );
    }

    #[test]
    fn the_calendar_scope_counts_with_or_without_its_prefix() {
        assert!(grants_calendars("openid Calendars.ReadWrite"));
        assert!(grants_calendars(CALENDARS_SCOPE));
        assert!(!grants_calendars("Calendars.Read User.Read"));
    }
}
