//! Requests to the Calendar API with a bearer token, and Google's failures
//! as provider error kinds (PROVIDERS.md §1.6).

use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// How long an account's writes pause after `quotaExceeded` (Google's
/// "Calendar usage limits exceeded": back off for minutes).
const QUOTA_PAUSE: Duration = Duration::from_secs(15 * 60);
/// How long after a daily limit.
const DAILY_PAUSE: Duration = Duration::from_secs(60 * 60);

/// The Calendar API at one base URL.
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
    /// The `Retry-After` header.
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
                format!("Google's answer to {what} is not what the API documents: {error}"),
            )
        })
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }
}

impl Api {
    /// The URL of `segments` under the base, each segment percent-encoded
    /// (calendar ids are email addresses).
    pub fn url(&self, segments: &[&str]) -> ProviderResult<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    format!("the Google API URL {} cannot have a path", self.base),
                )
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends one request; answers whatever status came (only transport
    /// failures are errors here).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> ProviderResult<Answer> {
        let mut request = self.http.request(method, url.clone()).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
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
            format!("Google did not answer in time ({url})"),
        )
    } else {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("request to {url} failed: {cause}"),
        )
    }
}

/// Google's reason for a failure (`error.errors[0].reason`) and its message.
pub fn reason_of(body: &str) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return (None, None);
    };
    let error = &value["error"];
    let reason = error["errors"][0]["reason"]
        .as_str()
        .or_else(|| error["status"].as_str())
        .map(str::to_owned);
    let message = error["message"].as_str().map(str::to_owned);
    (reason, message)
}

/// The error for a failed answer to `what` (e.g. "insert the event").
pub fn failure(what: &str, answer: &Answer) -> ProviderError {
    let (reason, message) = reason_of(&answer.body);
    let status = answer.status.as_u16();
    let (kind, pause) = match (status, reason.as_deref()) {
        (401, _) => (ProviderErrorKind::Unauthorized, None),
        (403, Some("rateLimitExceeded" | "userRateLimitExceeded")) | (429, _) => {
            (ProviderErrorKind::RateLimited, None)
        }
        (403, Some("quotaExceeded")) => (ProviderErrorKind::RateLimited, Some(QUOTA_PAUSE)),
        (403, Some("dailyLimitExceeded")) => (ProviderErrorKind::RateLimited, Some(DAILY_PAUSE)),
        (404 | 410, _) => (ProviderErrorKind::NotFound, None),
        (409, _) => (ProviderErrorKind::AlreadyExists, None),
        (412, _) => (ProviderErrorKind::PreconditionFailed, None),
        (408, _) => (ProviderErrorKind::Timeout, None),
        (400..=499, _) => (ProviderErrorKind::Rejected, None),
        _ => (ProviderErrorKind::Unavailable, None),
    };
    let detail = match (&reason, &message) {
        (Some(reason), Some(message)) => format!(" {reason}: {message}"),
        (Some(reason), None) => format!(" {reason}"),
        (None, Some(message)) => format!(": {message}"),
        (None, None) => String::new(),
    };
    let mut error = ProviderError::new(kind, format!("Google refused to {what}: {status}{detail}"));
    if let Some(wait) = answer.retry_after.or(pause) {
        error = error.with_retry_after(wait);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, reason: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("status"),
            retry_after: None,
            body: serde_json::json!({"error": {"code": status, "message": "words",
                "errors": [{"domain": "usageLimits", "reason": reason, "message": "words"}]}})
            .to_string(),
        }
    }

    #[test]
    fn googles_reasons_decide_the_kind_and_stay_in_the_message() {
        for (status, reason, kind) in [
            (403, "rateLimitExceeded", ProviderErrorKind::RateLimited),
            (403, "userRateLimitExceeded", ProviderErrorKind::RateLimited),
            (429, "rateLimitExceeded", ProviderErrorKind::RateLimited),
            (403, "quotaExceeded", ProviderErrorKind::RateLimited),
            (403, "forbiddenForNonOrganizer", ProviderErrorKind::Rejected),
            (400, "invalid", ProviderErrorKind::Rejected),
            (401, "authError", ProviderErrorKind::Unauthorized),
            (404, "notFound", ProviderErrorKind::NotFound),
            (410, "deleted", ProviderErrorKind::NotFound),
            (409, "duplicate", ProviderErrorKind::AlreadyExists),
            (
                412,
                "conditionNotMet",
                ProviderErrorKind::PreconditionFailed,
            ),
            (503, "backendError", ProviderErrorKind::Unavailable),
        ] {
            let error = failure("insert the event", &answer(status, reason));
            assert_eq!(error.kind, kind, "{status} {reason}");
            assert!(error.message.contains(reason), "{}", error.message);
        }
        let quota = failure("insert the event", &answer(403, "quotaExceeded"));
        assert_eq!(quota.retry_after, Some(QUOTA_PAUSE));
    }
}
