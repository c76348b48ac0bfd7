//! Requests to Microsoft Graph with a bearer token, and Graph's failures as
//! provider error kinds (PROVIDERS.md §2.5).
//!
//! Every request asks for immutable ids (`Prefer: IdType="ImmutableId"`),
//! so that an event moved between folders keeps the id calsync stored.

use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// The `Prefer` value every request carries.
pub const IMMUTABLE_IDS: &str = "IdType=\"ImmutableId\"";
/// The `Prefer` value of reads: times in UTC.
pub const TIMES_IN_UTC: &str = "outlook.timezone=\"UTC\"";

/// Graph at one base URL.
#[derive(Clone, Debug)]
pub struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
}

/// A whole answer.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The `Retry-After` header (Graph's may be fractional).
    pub retry_after: Option<Duration>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// The body as `T`.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> ProviderResult<T> {
        serde_json::from_str(&self.body).map_err(|error| {
            ProviderError::new(
                ProviderErrorKind::Unavailable,
                format!("Graph's answer to {what} is not what the API documents: {error}"),
            )
        })
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }
}

/// One request: where, how, and with what.
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The whole URL.
    pub url: Url,
    /// The access token.
    pub token: &'a str,
    /// `Prefer` values besides immutable ids.
    pub prefer: &'a [&'a str],
    /// Other headers.
    pub headers: &'a [(&'a str, &'a str)],
    /// A JSON body.
    pub body: Option<&'a Value>,
}

impl Api {
    /// The URL of `segments` under the base, each segment percent-encoded
    /// (Graph's ids hold `/`, `+` and `=`).
    pub fn url(&self, segments: &[&str]) -> ProviderResult<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    format!("the Graph URL {} cannot have a path", self.base),
                )
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends one request; answers whatever status came (only transport
    /// failures are errors here).
    pub async fn send(&self, request: Request<'_>) -> ProviderResult<Answer> {
        let url = request.url;
        let mut prefer = vec![IMMUTABLE_IDS];
        prefer.extend_from_slice(request.prefer);
        let mut builder = self
            .http
            .request(request.method, url.clone())
            .bearer_auth(request.token)
            .header("prefer", prefer.join(", "));
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        if let Some(body) = request.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = builder
            .send()
            .await
            .map_err(|error| transport(&url, &error))?;
        let status = response.status();
        let retry_after =
            crate::oauth::retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
        let body = response
            .text()
            .await
            .map_err(|error| transport(&url, &error))?;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

fn transport(url: &Url, error: &reqwest::Error) -> ProviderError {
    let mut cause: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if error.is_timeout() {
        ProviderError::new(
            ProviderErrorKind::Timeout,
            format!("Graph did not answer in time ({url})"),
        )
    } else {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("request to {url} failed: {cause}"),
        )
    }
}

/// Graph's error code (`error.code`), its message, and the request id to
/// quote to Microsoft (`error.innerError.request-id`).
pub fn code_of(body: &str) -> (Option<String>, Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return (None, None, None);
    };
    let error = &value["error"];
    let text = |value: &Value| value.as_str().map(str::to_owned);
    (
        text(&error["code"]),
        text(&error["message"]),
        text(&error["innerError"]["request-id"]),
    )
}

/// The error for a failed answer to `what` (e.g. "create the event").
pub fn failure(what: &str, answer: &Answer) -> ProviderError {
    let (code, message, request_id) = code_of(&answer.body);
    let status = answer.status.as_u16();
    let kind = match status {
        401 => ProviderErrorKind::Unauthorized,
        429 => ProviderErrorKind::RateLimited,
        404 | 410 => ProviderErrorKind::NotFound,
        409 => ProviderErrorKind::AlreadyExists,
        412 => ProviderErrorKind::PreconditionFailed,
        408 => ProviderErrorKind::Timeout,
        400..=499 => ProviderErrorKind::Rejected,
        _ => ProviderErrorKind::Unavailable,
    };
    let mut detail = match (&code, &message) {
        (Some(code), Some(message)) => format!(" {code}: {message}"),
        (Some(code), None) => format!(" {code}"),
        (None, Some(message)) => format!(": {message}"),
        (None, None) => String::new(),
    };
    if let Some(id) = request_id {
        detail.push_str(&format!(" (request-id {id})"));
    }
    let mut error = ProviderError::new(kind, format!("Graph refused to {what}: {status}{detail}"));
    if let Some(wait) = answer.retry_after {
        error = error.with_retry_after(wait);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: &str, retry_after: Option<Duration>) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("status"),
            retry_after,
            body: serde_json::json!({"error": {"code": code, "message": "words",
                "innerError": {"request-id": "r-1", "date": "2030-03-04T09:00:00"}}})
            .to_string(),
        }
    }

    #[test]
    fn graphs_codes_decide_the_kind_and_stay_in_the_message() {
        for (status, code, kind) in [
            (429, "TooManyRequests", ProviderErrorKind::RateLimited),
            (503, "ServiceNotAvailable", ProviderErrorKind::Unavailable),
            (504, "GatewayTimeout", ProviderErrorKind::Unavailable),
            (
                401,
                "InvalidAuthenticationToken",
                ProviderErrorKind::Unauthorized,
            ),
            (403, "ErrorAccessDenied", ProviderErrorKind::Rejected),
            (400, "RequestBodyRead", ProviderErrorKind::Rejected),
            (404, "ErrorItemNotFound", ProviderErrorKind::NotFound),
            (
                412,
                "ErrorIrresolvableConflict",
                ProviderErrorKind::PreconditionFailed,
            ),
        ] {
            let error = failure("create the event", &answer(status, code, None));
            assert_eq!(error.kind, kind, "{status} {code}");
            assert!(error.message.contains(code), "{}", error.message);
            assert!(error.message.contains("r-1"), "{}", error.message);
        }
        let wait = Duration::from_millis(2128);
        let throttled = failure(
            "create the event",
            &answer(429, "TooManyRequests", Some(wait)),
        );
        assert_eq!(throttled.retry_after, Some(wait));
    }
}
