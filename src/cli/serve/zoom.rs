//! The Zoom settings of `calsync serve` (flags and environment).

use crate::setup::ZoomConfig;
use clap::Args;

/// How the service reaches Zoom; used with `--providers live`. Zoom is
/// configured when the client id is set; with the account id too, the app
/// is a Server-to-Server one.
#[derive(Clone, Debug, Default, Args)]
pub struct ZoomArgs {
    /// The Zoom app's client id (Zoom App Marketplace, "App Credentials").
    #[arg(long, env = "CALSYNC_ZOOM_CLIENT_ID")]
    pub zoom_client_id: Option<String>,
    /// Its client secret; never printed or logged.
    #[arg(long, env = "CALSYNC_ZOOM_CLIENT_SECRET", hide_env_values = true)]
    pub zoom_client_secret: Option<String>,
    /// The Zoom account id of a Server-to-Server OAuth app (unset: a
    /// user-level OAuth app).
    #[arg(long, env = "CALSYNC_ZOOM_ACCOUNT_ID")]
    pub zoom_account_id: Option<String>,
    /// The API's base URL, ending in /v2 (default: Zoom's).
    #[arg(long, env = "CALSYNC_ZOOM_API_URL")]
    pub zoom_api_url: Option<String>,
    /// The host of /oauth/authorize, /oauth/token and /oauth/revoke (default: Zoom's).
    #[arg(long, env = "CALSYNC_ZOOM_OAUTH_URL")]
    pub zoom_oauth_url: Option<String>,
}

impl ZoomArgs {
    /// The deployment's Zoom settings.
    pub fn config(&self) -> ZoomConfig {
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        ZoomConfig {
            client_id: given(&self.zoom_client_id),
            client_secret: given(&self.zoom_client_secret),
            account_id: given(&self.zoom_account_id),
            api_url: given(&self.zoom_api_url),
            oauth_url: given(&self.zoom_oauth_url),
        }
    }
}
