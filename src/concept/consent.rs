//! startConnect and finishConnect: calsync runs a provider's consent flow
//! (OAuth authorization code with PKCE S256) and connects the account it
//! ends with.
//!
//! A flow is bound to its user, its provider and an expiry by a single-use
//! `state`; it lives in this instance's memory (a flow is minutes long; a
//! restart asks the person to start again). The redirect URI is built from
//! the deployment's public URL, never from a request; the page the person
//! returns to must be on the deployment's allow-list, so that no one can
//! use calsync as an open redirect.

use super::CalendarSync;
use crate::engine::ProviderCall;
use crate::error::{Error, Result};
use crate::model::{Account, Provider, UserId, ValidationError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a started flow may take.
pub const CONSENT_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// Where consent flows send people back, and which app pages may receive them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentSettings {
    /// The service's public base URL (`CALSYNC_PUBLIC_URL`); the redirect URI
    /// registered with each provider is `{public_url}/oauth/{provider}/callback`.
    pub public_url: Option<String>,
    /// The app pages a flow may return to (`CALSYNC_RETURN_URLS`): a return
    /// URL must equal one of them, or start with one that ends with `/`.
    pub return_urls: Vec<String>,
}

impl ConsentSettings {
    /// The redirect URI for `provider`, when a public URL is set.
    pub fn redirect_uri(&self, provider: Provider) -> Option<String> {
        let base = self.public_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}/oauth/{provider}/callback"))
    }

    /// Whether the person may be sent back to `url`.
    pub fn allows_return_to(&self, url: &str) -> bool {
        self.return_urls
            .iter()
            .any(|allowed| url == allowed || (allowed.ends_with('/') && url.starts_with(allowed)))
    }
}

/// A started flow, until its callback.
#[derive(Clone)]
struct Pending {
    user: UserId,
    provider: Provider,
    verifier: String,
    redirect_uri: String,
    return_url: String,
    expires_at: DateTime<Utc>,
}

/// The flows started here, by `state`.
#[derive(Default)]
pub(crate) struct ConsentFlows {
    pub(crate) settings: ConsentSettings,
    pending: Mutex<HashMap<String, Pending>>,
}

impl ConsentFlows {
    pub(crate) fn new(settings: ConsentSettings) -> Self {
        ConsentFlows {
            settings,
            pending: Mutex::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The answer of startConnect: where to send the person.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectStart {
    /// The provider's consent page.
    pub url: String,
    /// When the flow stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// How a consent flow ended: the page to send the person back to, and the
/// account connected or why not.
#[derive(Debug)]
pub struct ConnectFinish {
    /// The app's return URL the flow was started with.
    pub return_url: String,
    /// The account, or why it was not connected.
    pub outcome: Result<Account>,
}

impl ConnectFinish {
    /// The return URL with the outcome: `account={id}`, or `error={kind}`
    /// and `message={text}`.
    pub fn redirect_url(&self) -> String {
        let parameters = match &self.outcome {
            Ok(account) => format!("account={}", encode(account.id.as_str())),
            Err(error) => format!(
                "error={}&message={}",
                encode(error.kind()),
                encode(&error.to_string())
            ),
        };
        let separator = if self.return_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{separator}{parameters}", self.return_url)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn stale_state() -> Error {
    Error::Invalid(ValidationError::new(
        "state",
        "is not a consent flow this service started, was already used, or expired; start again",
    ))
}

impl CalendarSync {
    /// Starts connecting an account by the provider's consent page.
    ///
    /// # Requires
    /// - `provider` is configured here and has a consent flow;
    /// - the deployment has a public URL;
    /// - `return_url` is on the deployment's allow-list.
    ///
    /// # Effects
    /// Records a flow bound to `user`, the provider and an expiry
    /// ([`CONSENT_LIFETIME`]) under a fresh single-use `state`, and answers
    /// the provider's consent URL (narrow scopes, PKCE S256) to send the
    /// person to.
    ///
    /// # Errors
    /// - [`Error::Invalid`]: `user` is empty, or `returnUrl` is not allowed;
    /// - [`Error::UnsupportedProvider`]: the provider is not configured, has
    ///   no consent flow, or the deployment has no public URL.
    pub fn start_connect(
        &self,
        user: &UserId,
        provider: &str,
        return_url: &str,
    ) -> Result<ConnectStart> {
        user.check()?;
        let provider: Provider = provider.parse().map_err(|_| Error::UnsupportedProvider {
            provider: provider.to_owned(),
            supported: "google, outlook, apple, zoom".to_owned(),
        })?;
        let adapter = self.engine.account_adapter(provider)?;
        let unsupported = |why: &str| Error::UnsupportedProvider {
            provider: provider.as_str().to_owned(),
            supported: why.to_owned(),
        };
        let flows = &self.consent;
        let Some(redirect_uri) = flows.settings.redirect_uri(provider) else {
            return Err(unsupported(
                "none by consent flow here (set CALSYNC_PUBLIC_URL to run one)",
            ));
        };
        if !flows.settings.allows_return_to(return_url) {
            return Err(Error::invalid(
                "returnUrl",
                "must be one of the deployment's return URLs (CALSYNC_RETURN_URLS)",
            ));
        }
        let Some(start) = adapter
            .start_consent(&redirect_uri)
            .map_err(|error| unsupported(&error.message))?
        else {
            return Err(unsupported(&format!(
                "{provider} connects with credentials, not by a consent flow"
            )));
        };
        let now = self.engine.now();
        let expires_at = now + CONSENT_LIFETIME;
        let mut pending = flows.pending();
        pending.retain(|_, flow| flow.expires_at > now);
        pending.insert(
            start.state,
            Pending {
                user: user.clone(),
                provider,
                verifier: start.verifier,
                redirect_uri,
                return_url: return_url.to_owned(),
                expires_at,
            },
        );
        Ok(ConnectStart {
            url: start.url,
            expires_at,
        })
    }

    /// Ends a consent flow: the provider sent the person back with `state`
    /// and a `code` (or an `error`, when they did not consent).
    ///
    /// # Requires
    /// - `state` names a flow started here for `provider`, not used, not expired.
    ///
    /// # Effects
    /// Uses the flow up; exchanges the code (with the flow's PKCE verifier)
    /// and connects the account as connectAccount does. Answers the app's
    /// return URL and the account, or why it was not connected.
    ///
    /// # Errors
    /// - [`Error::Invalid`]: the `state` is unknown, foreign, used or expired
    ///   (nothing changes).
    pub async fn finish_connect(
        &self,
        provider: &str,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
    ) -> Result<ConnectFinish> {
        let now = self.engine.now();
        let flow = {
            let mut pending = self.consent.pending();
            match pending.get(state) {
                Some(flow) if flow.provider.as_str() == provider && flow.expires_at > now => {
                    pending.remove(state)
                }
                _ => None,
            }
        };
        let Some(flow) = flow else {
            return Err(stale_state());
        };
        let outcome = match (code, error) {
            (Some(code), None) if !code.is_empty() => self.exchange_and_connect(&flow, code).await,
            (_, error) => Err(Error::InvalidCredentials {
                provider: flow.provider.as_str().to_owned(),
                reason: format!(
                    "the person did not consent ({})",
                    error.unwrap_or("no code came back")
                ),
            }),
        };
        Ok(ConnectFinish {
            return_url: flow.return_url,
            outcome,
        })
    }

    async fn exchange_and_connect(&self, flow: &Pending, code: &str) -> Result<Account> {
        let adapter = self.engine.account_adapter(flow.provider)?;
        let credentials = self
            .engine
            .call_provider(
                flow.provider,
                ProviderCall::Connect,
                adapter.finish_consent(code, &flow.verifier, &flow.redirect_uri),
            )
            .await
            .map_err(|error| super::connect::connect_error(flow.provider, error))?;
        self.connect_account(&flow.user, flow.provider.as_str(), &credentials)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_return_urls_are_allowed() {
        let settings = ConsentSettings {
            public_url: Some("https://calsync.example/".into()),
            return_urls: vec![
                "https://app.example/connected".into(),
                "https://app.example/settings/".into(),
            ],
        };
        assert!(settings.allows_return_to("https://app.example/connected"));
        assert!(settings.allows_return_to("https://app.example/settings/google"));
        assert!(!settings.allows_return_to("https://app.example/connected.evil"));
        assert!(!settings.allows_return_to("https://evil.example/"));
        assert_eq!(
            settings.redirect_uri(Provider::Google).as_deref(),
            Some("https://calsync.example/oauth/google/callback")
        );
    }

    #[test]
    fn outcomes_ride_on_the_return_url_encoded() {
        let finish = ConnectFinish {
            return_url: "https://app.example/done?x=1".into(),
            outcome: Err(Error::invalid("state", "a b&c")),
        };
        let url = finish.redirect_url();
        assert!(
            url.starts_with("https://app.example/done?x=1&error=invalid"),
            "{url}"
        );
        assert!(!url.contains(' ') && !url.contains("b&c"), "{url}");
    }
}
