//! The Google settings of `calsync serve` (flags and environment).

use crate::setup::GoogleConfig;
use clap::Args;

/// How the service reaches Google; used with `--providers live`. Google is
/// configured when the client id is set.
#[derive(Clone, Debug, Default, Args)]
pub struct GoogleArgs {
    /// Google's OAuth client id (from Google Cloud console, "OAuth client ID").
    #[arg(long, env = "CALSYNC_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    /// Its client secret; never printed or logged.
    #[arg(long, env = "CALSYNC_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<String>,
    /// The Calendar API's base URL (default: Google's).
    #[arg(long, env = "CALSYNC_GOOGLE_API_URL")]
    pub google_api_url: Option<String>,
    /// The OAuth consent page (default: Google's).
    #[arg(long, env = "CALSYNC_GOOGLE_AUTH_URL")]
    pub google_auth_url: Option<String>,
    /// The OAuth token endpoint (default: Google's).
    #[arg(long, env = "CALSYNC_GOOGLE_TOKEN_URL")]
    pub google_token_url: Option<String>,
    /// The OAuth revocation endpoint (default: Google's).
    #[arg(long, env = "CALSYNC_GOOGLE_REVOKE_URL")]
    pub google_revoke_url: Option<String>,
}

impl GoogleArgs {
    /// The deployment's Google settings.
    pub fn config(&self) -> GoogleConfig {
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        GoogleConfig {
            client_id: given(&self.google_client_id),
            client_secret: given(&self.google_client_secret),
            api_url: given(&self.google_api_url),
            auth_url: given(&self.google_auth_url),
            token_url: given(&self.google_token_url),
            revoke_url: given(&self.google_revoke_url),
        }
    }
}
