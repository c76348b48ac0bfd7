//! Where the adapter reaches Google, the deployment's OAuth client, and the
//! scopes calsync asks for and checks.

use super::pace;
use crate::oauth::ClientSettings;

/// Google's Calendar API v3.
pub const API_URL: &str = "https://www.googleapis.com/calendar/v3";
/// Google's consent page.
pub const AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint (RFC 7009).
pub const REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";

/// The scope to write events.
pub const EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
/// The scope to read the calendar list (for conflicts across calendars).
pub const CALENDAR_LIST_SCOPE: &str =
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly";
/// The scopes calsync asks for and checks at connect: the narrow ones, not
/// the whole account.
pub const REQUIRED_SCOPES: [&str; 2] = [EVENTS_SCOPE, CALENDAR_LIST_SCOPE];

/// The broader scopes that also grant each required one.
fn granted_by(required: &str) -> &'static [&'static str] {
    match required {
        EVENTS_SCOPE => &["https://www.googleapis.com/auth/calendar"],
        CALENDAR_LIST_SCOPE => &[
            "https://www.googleapis.com/auth/calendar.calendarlist",
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/calendar",
        ],
        _ => &[],
    }
}

/// The scopes of `required` that `granted` (space-separated) lacks.
pub fn missing_scopes(granted: &str) -> Vec<&'static str> {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    REQUIRED_SCOPES
        .into_iter()
        .filter(|required| {
            !granted.contains(required)
                && !granted_by(required)
                    .iter()
                    .any(|broader| granted.contains(broader))
        })
        .collect()
}

/// Where the adapter reaches Google, and the deployment's OAuth client.
///
/// `Debug` never shows the client secret.
#[derive(Clone, Debug)]
pub struct GoogleSettings {
    /// The OAuth client (client id and secret).
    pub client: ClientSettings,
    /// The Calendar API's base URL.
    pub api_url: String,
    /// The consent page.
    pub auth_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The revocation endpoint.
    pub revoke_url: String,
    /// Requests a second to one Google user (a token bucket per account);
    /// 0 turns pacing off.
    pub requests_per_second: f64,
    /// How many requests to one user may go at once before pacing starts.
    pub burst: u32,
}

impl GoogleSettings {
    /// Google's own endpoints, for `client`.
    pub fn new(client: ClientSettings) -> Self {
        GoogleSettings {
            client,
            api_url: API_URL.to_owned(),
            auth_url: AUTH_URL.to_owned(),
            token_url: TOKEN_URL.to_owned(),
            revoke_url: REVOKE_URL.to_owned(),
            requests_per_second: pace::DEFAULT_RATE,
            burst: pace::DEFAULT_BURST,
        }
    }

    /// The same settings with every endpoint under `base` (a test server or
    /// a proxy that serves them all): `{base}/calendar/v3`, `{base}/o/oauth2/auth`,
    /// `{base}/token`, `{base}/revoke`.
    pub fn all_at(mut self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        self.api_url = format!("{base}/calendar/v3");
        self.auth_url = format!("{base}/o/oauth2/auth");
        self.token_url = format!("{base}/token");
        self.revoke_url = format!("{base}/revoke");
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_narrow_scopes_or_broader_ones_are_enough() {
        assert!(missing_scopes(&REQUIRED_SCOPES.join(" ")).is_empty());
        assert!(missing_scopes("https://www.googleapis.com/auth/calendar").is_empty());
        assert_eq!(missing_scopes(EVENTS_SCOPE), vec![CALENDAR_LIST_SCOPE]);
        assert_eq!(missing_scopes("openid email").len(), 2);
    }
}
