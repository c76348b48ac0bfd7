//! The Outlook settings of `calsync serve` (flags and environment).

use crate::setup::OutlookConfig;
use clap::Args;

/// How the service reaches Microsoft Graph; used with `--providers live`.
/// Outlook is configured when the client id is set.
#[derive(Clone, Debug, Default, Args)]
pub struct OutlookArgs {
    /// The Microsoft Entra app's "Application (client) ID".
    #[arg(long, env = "CALSYNC_MICROSOFT_CLIENT_ID")]
    pub microsoft_client_id: Option<String>,
    /// Its client secret (the secret's value); never printed or logged.
    #[arg(long, env = "CALSYNC_MICROSOFT_CLIENT_SECRET", hide_env_values = true)]
    pub microsoft_client_secret: Option<String>,
    /// Who may connect: common, organizations, consumers or a tenant id (default: common).
    #[arg(long, env = "CALSYNC_MICROSOFT_TENANT")]
    pub microsoft_tenant: Option<String>,
    /// Microsoft Graph's base URL, ending in /v1.0 (default: Microsoft's).
    #[arg(long, env = "CALSYNC_MICROSOFT_GRAPH_URL")]
    pub microsoft_graph_url: Option<String>,
    /// The identity platform's host (default: Microsoft's, `https://login.microsoftonline.com`).
    #[arg(long, env = "CALSYNC_MICROSOFT_AUTHORITY_URL")]
    pub microsoft_authority_url: Option<String>,
}

impl OutlookArgs {
    /// The deployment's Outlook settings.
    pub fn config(&self) -> OutlookConfig {
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        OutlookConfig {
            client_id: given(&self.microsoft_client_id),
            client_secret: given(&self.microsoft_client_secret),
            tenant: given(&self.microsoft_tenant),
            graph_url: given(&self.microsoft_graph_url),
            authority_url: given(&self.microsoft_authority_url),
        }
    }
}
