//! Calendar object resources: conditional PUT and DELETE (RFC 4791 §5.3.2,
//! RFC 7232), reading them back, and the `calendar-query` REPORT.

use super::client::{Answer, Auth, Request, send, status_error};
use super::discovery::{join, multistatus, propfind};
use super::xml::{self, CALDAV, DAV};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use reqwest::Method;
use sha2::{Digest, Sha256};
use url::Url;

/// The content type of calendar objects.
const TEXT_CALENDAR: &str = "text/calendar; charset=utf-8";

/// A resource's body and version tag.
#[derive(Clone, Debug)]
pub struct Object {
    /// The iCalendar text.
    pub body: String,
    /// The ETag, when the server sent one.
    pub etag: Option<String>,
}

/// How a PUT went.
pub enum PutOutcome {
    /// Stored; the new ETag when the server sent one.
    Stored(Option<String>),
    /// The precondition failed (the name exists, or the ETag is stale).
    PreconditionFailed,
}

/// The resource name for an idempotency key: the key itself when it is a
/// short, safe path segment; otherwise a cleaned prefix plus a hash of the
/// whole key (so different keys never share a name).
pub fn resource_name(key: &str) -> String {
    let clean: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean == key && !key.is_empty() && key.len() <= 64 {
        return clean;
    }
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let prefix: String = clean.chars().take(40).collect();
    format!("{}-{hash}", prefix.trim_matches('-'))
        .trim_start_matches('-')
        .to_owned()
}

/// PUTs `body` at `href` under a precondition header (`If-None-Match: *` or `If-Match`).
pub async fn put(
    client: &reqwest::Client,
    auth: &Auth,
    href: &Url,
    body: String,
    precondition: (&'static str, String),
) -> ProviderResult<PutOutcome> {
    let mut request = Request::new(Method::PUT, href.clone())
        .header("Content-Type", TEXT_CALENDAR)
        .header(precondition.0, precondition.1);
    request.body = Some(body);
    let answer = send(client, auth, request).await?;
    match answer.status.as_u16() {
        200..=299 => Ok(PutOutcome::Stored(answer.etag())),
        412 => Ok(PutOutcome::PreconditionFailed),
        _ => Err(status_error("PUT", &answer)),
    }
}

/// GETs the resource at `href`.
pub async fn get(client: &reqwest::Client, auth: &Auth, href: &Url) -> ProviderResult<Object> {
    let answer = send(client, auth, Request::new(Method::GET, href.clone())).await?;
    if !answer.status.is_success() {
        return Err(status_error("GET", &answer));
    }
    Ok(Object {
        etag: answer.etag(),
        body: answer.body,
    })
}

/// The current ETag of `href` (PROPFIND `getetag`, else a GET).
pub async fn etag(client: &reqwest::Client, auth: &Auth, href: &Url) -> ProviderResult<String> {
    let (_, responses) = propfind(client, auth, href.clone(), "0", &["D:getetag"]).await?;
    if let Some(tag) = responses
        .iter()
        .find_map(|response| response.prop_text(DAV, "getetag"))
    {
        return Ok(tag);
    }
    get(client, auth, href).await?.etag.ok_or_else(|| {
        ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!("{href} tells no ETag, so it cannot be changed safely"),
        )
    })
}

/// DELETEs `href` (with `If-Match` when `etag` is known); answers the raw answer.
pub async fn delete(
    client: &reqwest::Client,
    auth: &Auth,
    href: &Url,
    etag: Option<&str>,
) -> ProviderResult<Answer> {
    let mut request = Request::new(Method::DELETE, href.clone());
    if let Some(etag) = etag {
        request = request.header("If-Match", etag);
    }
    send(client, auth, request).await
}

/// The hrefs and bodies of the events in `calendar` overlapping `start..end`
/// (`YYYYMMDDTHHMMSSZ`).
pub async fn query(
    client: &reqwest::Client,
    auth: &Auth,
    calendar: &Url,
    start: &str,
    end: &str,
) -> ProviderResult<Vec<(Url, String)>> {
    let method = Method::from_bytes(b"REPORT").expect("REPORT is a valid method token");
    let request = Request::new(method, calendar.clone())
        .header("Depth", "1")
        .xml(xml::calendar_query(start, end));
    let answer = send(client, auth, request).await?;
    if answer.status.as_u16() != 207 {
        return Err(status_error("REPORT calendar-query", &answer));
    }
    let mut found = Vec::new();
    for response in multistatus(&answer)? {
        if response.status.is_some_and(|status| status >= 300) {
            continue;
        }
        if let Some(data) = response.prop(CALDAV, "calendar-data") {
            found.push((join(&answer.url, &response.href)?, data.text.clone()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_are_safe_and_distinct() {
        assert_eq!(resource_name("op-123_a"), "op-123_a");
        let slash = resource_name("op/123");
        let dash = resource_name("op-123");
        assert_ne!(slash, dash);
        assert!(slash.starts_with("op-123-"), "{slash}");
        let long = resource_name(&"x".repeat(300));
        assert!(long.len() < 64, "{long}");
        assert_eq!(resource_name("a b"), resource_name("a b"), "stable");
        assert!(
            resource_name("../..")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
        assert!(!resource_name("").is_empty());
    }
}
