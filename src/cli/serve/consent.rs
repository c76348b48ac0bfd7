//! The consent-flow settings of `calsync serve` (flags and environment).

use crate::concept::ConsentSettings;
use clap::Args;

/// Where consent flows send people back.
#[derive(Clone, Debug, Default, Args)]
pub struct ConsentArgs {
    /// The service's public base URL, e.g. `https://calsync.example.com`;
    /// each provider's redirect URI is `{public}/oauth/{provider}/callback`.
    /// Without it, calsync runs no consent flow.
    #[arg(long, env = "CALSYNC_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The app pages a consent flow may return to, comma-separated; one
    /// ending with `/` allows every page under it.
    #[arg(long, env = "CALSYNC_RETURN_URLS", value_delimiter = ',')]
    pub return_urls: Vec<String>,
}

impl ConsentArgs {
    /// The deployment's consent settings.
    pub fn settings(&self) -> ConsentSettings {
        ConsentSettings {
            public_url: self
                .public_url
                .as_deref()
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(str::to_owned),
            return_urls: self
                .return_urls
                .iter()
                .map(|url| url.trim().to_owned())
                .filter(|url| !url.is_empty())
                .collect(),
        }
    }
}
