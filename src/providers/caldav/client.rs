//! The HTTP side of CalDAV: authenticated WebDAV requests that follow
//! redirects by hand (keeping method, body and credentials, which automatic
//! redirects drop), and the mapping of HTTP failures to provider error kinds.

use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use std::time::Duration;
use url::Url;

/// How many redirects one request follows.
const MAX_REDIRECTS: usize = 5;

/// Who speaks to the server, and how to reach it.
#[derive(Clone)]
pub struct Auth {
    /// The user name.
    pub username: String,
    /// The (app-specific) password.
    pub password: String,
}

/// One WebDAV request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method (`PROPFIND`, `REPORT`, `PUT`, ...).
    pub method: Method,
    /// The absolute URL.
    pub url: Url,
    /// Extra headers (Depth, If-Match, Content-Type, ...).
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

impl Request {
    /// A request without headers or body.
    pub fn new(method: Method, url: Url) -> Self {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// The same request with a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The same request with an XML body.
    pub fn xml(self, body: String) -> Self {
        let mut request = self.header("Content-Type", "application/xml; charset=utf-8");
        request.body = Some(body);
        request
    }
}

/// A server's answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The URL that answered (after redirects).
    pub url: Url,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    /// The `ETag` header, when the server sent one.
    pub fn etag(&self) -> Option<String> {
        self.headers
            .get(reqwest::header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    }
}

/// Builds the HTTP client: timeouts, keep-alive, no automatic redirects.
pub fn build_client() -> ProviderResult<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(60))
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

/// Sends `request`, following redirects; answers whatever status the server
/// gave (only transport failures are errors here).
pub async fn send(
    client: &reqwest::Client,
    auth: &Auth,
    mut request: Request,
) -> ProviderResult<Answer> {
    for _ in 0..=MAX_REDIRECTS {
        let mut builder = client
            .request(request.method.clone(), request.url.clone())
            .basic_auth(&auth.username, Some(&auth.password));
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|error| transport_error(&request.url, &error))?;
        let status = response.status();
        if status.is_redirection()
            && let Some(next) = redirect_target(&request.url, response.headers())
        {
            request.url = next;
            continue;
        }
        let headers = response.headers().clone();
        let url = response.url().clone();
        let body = response
            .text()
            .await
            .map_err(|error| transport_error(&request.url, &error))?;
        return Ok(Answer {
            status,
            url,
            headers,
            body,
        });
    }
    Err(ProviderError::new(
        ProviderErrorKind::Unavailable,
        format!("{}: more than {MAX_REDIRECTS} redirects", request.url),
    ))
}

fn redirect_target(from: &Url, headers: &HeaderMap) -> Option<Url> {
    let location = headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
    let next = from.join(location).ok()?;
    // Credentials travel on to another origin only over TLS.
    let same_origin = next.origin() == from.origin();
    (same_origin || next.scheme() == "https").then_some(next)
}

/// A transport failure: timeouts are `Timeout`, everything else `Unavailable`.
pub fn transport_error(url: &Url, error: &reqwest::Error) -> ProviderError {
    let host = url.host_str().unwrap_or("the server");
    if error.is_timeout() {
        ProviderError::new(
            ProviderErrorKind::Timeout,
            format!("{host} did not answer in time ({url})"),
        )
    } else if error.is_connect() {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("cannot connect to {host} ({url}): {}", root_cause(error)),
        )
    } else {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("request to {url} failed: {}", root_cause(error)),
        )
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Whether a status says "too busy now, try again": 429, 503, and 423
/// Locked, which Xandikos answers while another write to the same calendar
/// holds its repository lock.
pub fn is_busy(status: StatusCode) -> bool {
    matches!(status.as_u16(), 423 | 429 | 503)
}

/// The error for a non-success `answer` to `what`.
pub fn status_error(what: &str, answer: &Answer) -> ProviderError {
    let status = answer.status;
    let kind = match status.as_u16() {
        401 => ProviderErrorKind::Unauthorized,
        423 => ProviderErrorKind::Unavailable,
        404 | 410 => ProviderErrorKind::NotFound,
        412 => ProviderErrorKind::PreconditionFailed,
        429 => ProviderErrorKind::RateLimited,
        408 => ProviderErrorKind::Timeout,
        400..=499 => ProviderErrorKind::Rejected,
        507 => ProviderErrorKind::Rejected,
        _ => ProviderErrorKind::Unavailable,
    };
    let detail = summarise_body(&answer.body);
    let mut error = ProviderError::new(
        kind,
        format!("{what} at {} answered {status}{detail}", answer.url),
    );
    if let Some(wait) = retry_after(answer.headers.get(reqwest::header::RETRY_AFTER)) {
        error = error.with_retry_after(wait);
    }
    error
}

fn summarise_body(body: &str) -> String {
    let text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        String::new()
    } else {
        let short: String = text.chars().take(300).collect();
        format!(": {short}")
    }
}

/// Parses `Retry-After`: delay seconds or an HTTP date.
pub fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry: Option<&str>) -> Answer {
        let mut headers = HeaderMap::new();
        if let Some(retry) = retry {
            headers.insert(
                reqwest::header::RETRY_AFTER,
                HeaderValue::from_str(retry).expect("ascii header"),
            );
        }
        Answer {
            status: StatusCode::from_u16(status).expect("valid status"),
            url: Url::parse("https://dav.example/cal/").expect("valid url"),
            headers,
            body: String::new(),
        }
    }

    #[test]
    fn statuses_map_to_kinds() {
        for (status, kind) in [
            (400, ProviderErrorKind::Rejected),
            (401, ProviderErrorKind::Unauthorized),
            (403, ProviderErrorKind::Rejected),
            (404, ProviderErrorKind::NotFound),
            (412, ProviderErrorKind::PreconditionFailed),
            (423, ProviderErrorKind::Unavailable),
            (429, ProviderErrorKind::RateLimited),
            (500, ProviderErrorKind::Unavailable),
            (503, ProviderErrorKind::Unavailable),
        ] {
            assert_eq!(
                status_error("PUT", &answer(status, None)).kind,
                kind,
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let error = status_error("PUT", &answer(503, Some("7")));
        assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
        let past = status_error("PUT", &answer(429, Some("Tue, 01 Jan 2019 00:00:00 GMT")));
        assert_eq!(past.retry_after, Some(Duration::ZERO));
        assert_eq!(
            status_error("PUT", &answer(503, Some("soon"))).retry_after,
            None
        );
    }

    #[test]
    fn redirects_keep_credentials_only_on_the_same_origin_or_tls() {
        let from = Url::parse("http://127.0.0.1:5232/.well-known/caldav").expect("url");
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::LOCATION,
            HeaderValue::from_static("/user/"),
        );
        assert_eq!(
            redirect_target(&from, &headers).map(|url| url.to_string()),
            Some("http://127.0.0.1:5232/user/".into())
        );
        headers.insert(
            reqwest::header::LOCATION,
            HeaderValue::from_static("http://elsewhere.example/user/"),
        );
        assert_eq!(redirect_target(&from, &headers), None);
    }
}
