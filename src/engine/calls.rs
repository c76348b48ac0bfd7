//! The one door into a provider: every call calsync makes to an adapter goes
//! through [`Engine::call_provider`], which cuts it off at the call timeout,
//! counts it in the metrics, and maps a timeout to a provider failure of
//! kind `timeout`, so that no call escapes the policy.

use super::Engine;
use crate::model::Provider;
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use std::future::Future;

/// Provider calls, by `provider` and `outcome` (`ok` or `error`).
pub const PROVIDER_CALLS: &str = "calsync_provider_calls_total";
/// Failed provider calls, by `provider` and `kind`.
pub const PROVIDER_FAILURES: &str = "calsync_provider_failures_total";
/// Operation attempts that will be retried, by `provider`.
pub const PROVIDER_RETRIES: &str = "calsync_provider_retries_total";

/// The calls the engine makes to a provider (the methods of
/// [`crate::providers::CalendarProvider`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderCall {
    /// Validate credentials and connect an account.
    Connect,
    /// Exchange a refresh token for a new access token.
    Refresh,
    /// Revoke credentials.
    Revoke,
    /// Prove that a connection works.
    Validate,
    /// Create an event.
    Create,
    /// Write an event over the provider's copy.
    Update,
    /// Delete an event.
    Delete,
    /// List the events of a time range.
    List,
    /// Find the event a create with a given idempotency key made.
    Find,
}

impl ProviderCall {
    /// Every call, in the order of the provider trait.
    pub const ALL: [ProviderCall; 9] = [
        ProviderCall::Connect,
        ProviderCall::Refresh,
        ProviderCall::Revoke,
        ProviderCall::Validate,
        ProviderCall::Create,
        ProviderCall::Update,
        ProviderCall::Delete,
        ProviderCall::List,
        ProviderCall::Find,
    ];

    /// The call's name, as logs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderCall::Connect => "connect",
            ProviderCall::Refresh => "refresh",
            ProviderCall::Revoke => "revoke",
            ProviderCall::Validate => "validate",
            ProviderCall::Create => "create",
            ProviderCall::Update => "update",
            ProviderCall::Delete => "delete",
            ProviderCall::List => "list",
            ProviderCall::Find => "find",
        }
    }
}

impl Engine {
    /// Makes one call to `provider`: within the call timeout (a call that
    /// takes longer is dropped and answered as a `timeout` failure), counted
    /// in [`PROVIDER_CALLS`] and, when it fails, [`PROVIDER_FAILURES`].
    pub(crate) async fn call_provider<T>(
        &self,
        provider: Provider,
        call: ProviderCall,
        answer: impl Future<Output = ProviderResult<T>>,
    ) -> ProviderResult<T> {
        let answer = match tokio::time::timeout(self.config.call_timeout, answer).await {
            Ok(answer) => answer,
            Err(_) => Err(ProviderError::new(
                ProviderErrorKind::Timeout,
                format!(
                    "the provider did not answer the {} call in time",
                    call.as_str()
                ),
            )),
        };
        count_call(provider, &answer);
        self.note_settings(provider, call, &answer);
        if let Err(error) = &answer {
            tracing::debug!(provider = provider.as_str(), call = call.as_str(), kind = error.kind.as_str(), %error, "provider call failed");
        }
        answer
    }
}

impl Engine {
    /// Keeps track of whether `provider` refuses the deployment's own
    /// settings: a `misconfigured` answer is kept (and logged once) until a
    /// connect or refresh with the provider succeeds again.
    fn note_settings<T>(&self, provider: Provider, call: ProviderCall, answer: &ProviderResult<T>) {
        let mut refused = super::lock(&self.refused_settings);
        match answer {
            Err(error) if error.kind == ProviderErrorKind::Misconfigured => {
                let first = refused.insert(provider, error.message.clone()).is_none();
                first.then(|| tracing::error!(provider = provider.as_str(), %error, "the provider refuses the deployment's settings"));
            }
            Ok(_) if matches!(call, ProviderCall::Connect | ProviderCall::Refresh) => {
                refused.remove(&provider);
            }
            _ => {}
        }
    }

    /// The providers that refuse the deployment's own settings, and why.
    pub(crate) fn refused_settings(&self) -> Vec<(Provider, String)> {
        let mut refused: Vec<_> = super::lock(&self.refused_settings)
            .iter()
            .map(|(provider, why)| (*provider, why.clone()))
            .collect();
        refused.sort();
        refused
    }
}

/// Counts one provider call and its outcome. The counters go to whatever
/// `metrics` recorder the process installed (none: they cost nothing).
fn count_call<T>(provider: Provider, answer: &ProviderResult<T>) {
    let provider = provider.as_str();
    match answer {
        Ok(_) => metrics::counter!(PROVIDER_CALLS, "provider" => provider, "outcome" => "ok")
            .increment(1),
        Err(error) => {
            metrics::counter!(PROVIDER_CALLS, "provider" => provider, "outcome" => "error")
                .increment(1);
            metrics::counter!(PROVIDER_FAILURES, "provider" => provider, "kind" => error.kind.as_str())
                .increment(1);
        }
    }
}
