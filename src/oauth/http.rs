//! The `oauth2` crate's requests sent on calsync's own reqwest client.
//!
//! `oauth2` 5 ships an integration for reqwest 0.12 only; calsync is on
//! 0.13, so it implements the crate's [`AsyncHttpClient`] here rather than
//! compile a second reqwest and hyper stack. Each request gets its own
//! [`Transport`], which keeps the status and `Retry-After` of the answer:
//! `oauth2` reports a non-JSON error body (a 503 page, an empty 429) without
//! its status, and calsync must still tell "try later" from "refused".

use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Builds the HTTP client OAuth requests use: timeouts, and no redirects
/// (the `oauth2` crate's advice: a token endpoint that redirects could send
/// the client secret elsewhere).
///
/// # Errors
/// `Unavailable` when the TLS backend cannot be set up.
pub fn build_client() -> ProviderResult<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("calsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| {
            ProviderError::new(
                ProviderErrorKind::Unavailable,
                format!("cannot build the HTTP client: {error}"),
            )
        })
}

/// What the server answered, kept for the error mapping.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seen {
    /// The status of the answer, if one came.
    pub status: Option<u16>,
    /// Its `Retry-After`, if any.
    pub retry_after: Option<Duration>,
}

/// One OAuth request's way to the server.
pub(crate) struct Transport {
    client: reqwest::Client,
    seen: Arc<Mutex<Seen>>,
}

/// A request that got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct TransportError {
    /// Whether it ran out of time.
    pub timeout: bool,
    /// What happened.
    pub message: String,
}

impl Transport {
    pub(crate) fn new(client: &reqwest::Client) -> Self {
        Transport {
            client: client.clone(),
            seen: Arc::default(),
        }
    }

    /// What the server answered (nothing when no answer came).
    pub(crate) fn seen(&self) -> Seen {
        *self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<'c> AsyncHttpClient<'c> for Transport {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(|error| TransportError {
                timeout: false,
                message: format!("cannot build the request: {error}"),
            })?;
            let url = request.url().clone();
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|error| transport_error(&url, &error))?;
            let status = response.status();
            let retry_after = super::retry_after(response.headers().get("retry-after"));
            *self
                .seen
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Seen {
                status: Some(status.as_u16()),
                retry_after,
            };
            let mut builder = oauth2::http::Response::builder().status(status);
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response
                .bytes()
                .await
                .map_err(|error| transport_error(&url, &error))?;
            builder.body(body.to_vec()).map_err(|error| TransportError {
                timeout: false,
                message: format!("unreadable answer from {url}: {error}"),
            })
        })
    }
}

fn transport_error(url: &reqwest::Url, error: &reqwest::Error) -> TransportError {
    let host = url.host_str().unwrap_or("the server");
    let mut cause: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    TransportError {
        timeout: error.is_timeout(),
        message: if error.is_timeout() {
            format!("{host} did not answer in time ({url})")
        } else {
            format!("request to {url} failed: {cause}")
        },
    }
}
