//! Requests to Zoom's API with a bearer token, and Zoom's failures as
//! provider error kinds (PROVIDERS.md §4.3).
//!
//! | Zoom answers | kind |
//! |---|---|
//! | 401 (code 124, "Invalid access token.") | `Unauthorized` |
//! | 429 with `X-RateLimit-Type: QPS`, or a per-second message | `RateLimited`, `Retry-After` when given |
//! | 429 with `X-RateLimit-Type: Daily-limit`, or a daily message (the per-user cap of 100 meeting writes among them) | `LimitReached` until the `Retry-After` instant, else 00:00 UTC |
//! | 400 (code 300 with `errors[{field, message}]`), 403, 409 | `Rejected`, the fields named |
//! | 404 (code 3001) | `NotFound` |
//! | 408, no answer in time | `Timeout` |
//! | 5xx, no answer | `Unavailable` |

use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use url::Url;

/// How long to wait after a per-second 429 that names no `Retry-After`.
const QPS_PAUSE: Duration = Duration::from_secs(1);

/// Zoom's API at one base URL.
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
    /// `X-RateLimit-Type` (`QPS`, `Daily-limit`), when sent.
    pub rate_limit_type: Option<String>,
    /// `Retry-After` as sent: seconds, or (for daily limits) an instant.
    pub retry_after: Option<String>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// The body as `T`.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> ProviderResult<T> {
        serde_json::from_str(&self.body).map_err(|error| {
            ProviderError::new(
                ProviderErrorKind::Unavailable,
                format!("Zoom's answer to {what} is not what the API documents: {error}"),
            )
        })
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// Zoom's error `code` (124, 300, 3001, ...), when the body has one.
    pub fn code(&self) -> Option<i64> {
        serde_json::from_str::<Value>(&self.body)
            .ok()?
            .get("code")?
            .as_i64()
    }
}

impl Api {
    /// The URL of `segments` under the base, each segment percent-encoded
    /// (a user may be named by an email address).
    pub fn url(&self, segments: &[&str]) -> ProviderResult<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ProviderError::new(
                    ProviderErrorKind::Misconfigured,
                    format!("the Zoom API URL {} cannot have a path", self.base),
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
        body: Option<&Value>,
    ) -> ProviderResult<Answer> {
        let mut request = self.http.request(method, url.clone()).bearer_auth(token);
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
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let rate_limit_type = header("x-ratelimit-type");
        let retry_after = header("retry-after");
        let body = response
            .text()
            .await
            .map_err(|error| transport(&url, &error))?;
        Ok(Answer {
            status,
            rate_limit_type,
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
            format!("Zoom did not answer in time ({url})"),
        )
    } else {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("request to {url} failed: {cause}"),
        )
    }
}

/// Zoom's message and the fields a 400 names (`errors[{field, message}]`).
fn message_of(body: &str) -> Option<String> {
    let value = serde_json::from_str::<Value>(body).ok()?;
    let mut message = value.get("message")?.as_str()?.to_owned();
    let fields: Vec<String> = value
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|error| {
            let field = error.get("field").and_then(Value::as_str)?;
            let text = error.get("message").and_then(Value::as_str).unwrap_or("");
            Some(format!("{field}: {text}"))
        })
        .collect();
    if !fields.is_empty() {
        message = format!("{message} ({})", fields.join("; "));
    }
    Some(message)
}

/// The next 00:00 UTC after `now`: when Zoom's daily allowances start again.
pub fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    tomorrow.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// How long from `now` until `at` (nothing when it is past).
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// The instant a daily limit ends: `Retry-After` as Zoom sends it for daily
/// limits (an instant, RFC 3339 or an HTTP date), or seconds; else the next
/// 00:00 UTC.
fn daily_reset(retry_after: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
    let Some(text) = retry_after else {
        return next_midnight(now);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return at.with_timezone(&Utc);
    }
    if let Ok(at) = DateTime::parse_from_rfc2822(text) {
        return at.with_timezone(&Utc);
    }
    if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return naive.and_utc();
    }
    match text.parse::<u64>() {
        Ok(seconds) => now + chrono::Duration::seconds(seconds.min(2 * 86_400) as i64),
        Err(_) => next_midnight(now),
    }
}

/// Whether a 429 is a daily limit: the header says so, or (headers are not
/// always sent) the message speaks of a day.
fn is_daily(answer: &Answer, message: &str) -> bool {
    if let Some(kind) = &answer.rate_limit_type {
        return kind.eq_ignore_ascii_case("daily-limit");
    }
    let message = message.to_ascii_lowercase();
    ["daily", "per day", "tomorrow"]
        .iter()
        .any(|word| message.contains(word))
}

/// The error for a failed answer to `what` (e.g. "create the meeting"),
/// judged at `now` (the end of a daily limit is an instant).
pub fn failure(what: &str, answer: &Answer, now: DateTime<Utc>) -> ProviderError {
    let status = answer.status.as_u16();
    let message = message_of(&answer.body).unwrap_or_default();
    let detail = match (answer.code(), message.is_empty()) {
        (Some(code), false) => format!(" (code {code}): {message}"),
        (Some(code), true) => format!(" (code {code})"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    };
    let text = format!("Zoom refused to {what}: {status}{detail}");
    match status {
        401 => ProviderError::new(ProviderErrorKind::Unauthorized, text),
        429 if is_daily(answer, &message) => {
            let reset = daily_reset(answer.retry_after.as_deref(), now);
            ProviderError::new(
                ProviderErrorKind::LimitReached,
                format!(
                    "{text}; Zoom's daily limit is spent until {}",
                    reset.to_rfc3339()
                ),
            )
            .with_retry_after(until(now, reset))
        }
        429 => {
            let wait = answer
                .retry_after
                .as_deref()
                .and_then(|text| text.parse::<f64>().ok())
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .map(|seconds| Duration::from_secs_f64(seconds.min(3600.0)))
                .unwrap_or(QPS_PAUSE);
            ProviderError::new(ProviderErrorKind::RateLimited, text).with_retry_after(wait)
        }
        404 => ProviderError::new(ProviderErrorKind::NotFound, text),
        408 => ProviderError::new(ProviderErrorKind::Timeout, text),
        400..=499 => ProviderError::new(ProviderErrorKind::Rejected, text),
        _ => ProviderError::new(ProviderErrorKind::Unavailable, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn answer(status: u16, body: Value, rate: Option<&str>, retry: Option<&str>) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("status"),
            rate_limit_type: rate.map(str::to_owned),
            retry_after: retry.map(str::to_owned),
            body: body.to_string(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, 15, 30, 0)
            .single()
            .expect("instant")
    }

    #[test]
    fn zooms_statuses_and_codes_decide_the_kind() {
        let body = |code: i64, message: &str| serde_json::json!({"code": code, "message": message});
        for (status, code, kind) in [
            (401, 124, ProviderErrorKind::Unauthorized),
            (400, 300, ProviderErrorKind::Rejected),
            (403, 200, ProviderErrorKind::Rejected),
            (404, 3001, ProviderErrorKind::NotFound),
            (409, 3000, ProviderErrorKind::Rejected),
            (500, 0, ProviderErrorKind::Unavailable),
            (503, 0, ProviderErrorKind::Unavailable),
        ] {
            let error = failure(
                "create the meeting",
                &answer(status, body(code, "words"), None, None),
                now(),
            );
            assert_eq!(error.kind, kind, "{status} {code}");
            assert!(
                error.message.contains(&code.to_string()),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn a_validation_failure_names_its_fields() {
        let body = serde_json::json!({"code": 300, "message": "Validation Failed.",
            "errors": [{"field": "start_time", "message": "Invalid field."}]});
        let error = failure("create the meeting", &answer(400, body, None, None), now());
        assert!(
            error.message.contains("start_time: Invalid field."),
            "{}",
            error.message
        );
    }

    #[test]
    fn per_second_limits_back_off_and_daily_ones_wait_for_the_reset() {
        let body = serde_json::json!({"code": 429, "message": "You have reached the maximum per-second rate limit for this API. Try again later."});
        let qps = failure(
            "create the meeting",
            &answer(429, body.clone(), Some("QPS"), Some("2")),
            now(),
        );
        assert_eq!(qps.kind, ProviderErrorKind::RateLimited);
        assert_eq!(qps.retry_after, Some(Duration::from_secs(2)));
        let bare = failure("create the meeting", &answer(429, body, None, None), now());
        assert_eq!(bare.kind, ProviderErrorKind::RateLimited);
        assert_eq!(bare.retry_after, Some(QPS_PAUSE));

        let daily = serde_json::json!({"code": 429, "message": "You have exceeded the daily rate limit of (2000) for Create meeting API requests."});
        let held = failure(
            "create the meeting",
            &answer(
                429,
                daily.clone(),
                Some("Daily-limit"),
                Some("2030-03-04T18:00:00Z"),
            ),
            now(),
        );
        assert_eq!(held.kind, ProviderErrorKind::LimitReached);
        assert_eq!(held.retry_after, Some(Duration::from_secs(150 * 60)));
        // No headers: the message says daily, the reset is 00:00 UTC.
        let held = failure("create the meeting", &answer(429, daily, None, None), now());
        assert_eq!(held.kind, ProviderErrorKind::LimitReached);
        assert_eq!(
            held.retry_after,
            Some(Duration::from_secs(8 * 3600 + 30 * 60))
        );
    }

    #[test]
    fn the_next_midnight_is_the_start_of_the_next_utc_day() {
        let midnight = Utc
            .with_ymd_and_hms(2030, 3, 5, 0, 0, 0)
            .single()
            .expect("instant");
        assert_eq!(next_midnight(now()), midnight);
        assert_eq!(
            next_midnight(midnight - chrono::Duration::seconds(1)),
            midnight
        );
        assert_eq!(
            next_midnight(midnight),
            midnight + chrono::Duration::days(1)
        );
    }
}
