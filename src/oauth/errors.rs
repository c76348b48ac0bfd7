//! Token-endpoint failures as calsync's provider error kinds (the table in
//! the module docs of [`crate::oauth`]).

use super::http::{Seen, TransportError};
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use oauth2::RequestTokenError;
use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType};
use std::time::Duration;

/// The error for a failed token request (`what`: "refresh the access token").
pub(crate) fn token_error(
    what: &str,
    error: &RequestTokenError<TransportError, BasicErrorResponse>,
    seen: Seen,
) -> ProviderError {
    let failed = match error {
        RequestTokenError::Request(transport) => {
            let kind = if transport.timeout {
                ProviderErrorKind::Timeout
            } else {
                ProviderErrorKind::Unavailable
            };
            return ProviderError::new(kind, format!("cannot {what}: {transport}"));
        }
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref();
            let description = response
                .error_description()
                .map(|text| format!(" ({text})"))
                .unwrap_or_default();
            let kind = match (response.error(), seen.status) {
                (_, Some(429)) => ProviderErrorKind::RateLimited,
                (_, Some(500..=599)) => ProviderErrorKind::Unavailable,
                (BasicErrorResponseType::InvalidGrant, _) => ProviderErrorKind::InvalidGrant,
                // The grant needs the person again (Microsoft: MFA or a
                // Conditional Access policy; OpenID Connect's codes).
                (BasicErrorResponseType::Extension(code), _)
                    if matches!(
                        code.as_str(),
                        "interaction_required" | "consent_required" | "login_required"
                    ) =>
                {
                    ProviderErrorKind::InvalidGrant
                }
                (
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient,
                    _,
                ) => ProviderErrorKind::Misconfigured,
                (BasicErrorResponseType::Extension(code), _)
                    if code == "temporarily_unavailable" =>
                {
                    ProviderErrorKind::Unavailable
                }
                _ => ProviderErrorKind::Rejected,
            };
            let advice = match kind {
                ProviderErrorKind::Misconfigured => {
                    ": the deployment's OAuth client id or secret was refused; \
                     fix the client settings (the users' accounts are not at fault)"
                }
                _ => "",
            };
            ProviderError::new(
                kind,
                format!("cannot {what}: the token endpoint answered {code}{description}{advice}"),
            )
        }
        RequestTokenError::Parse(_, body) => by_status(what, seen, &String::from_utf8_lossy(body)),
        RequestTokenError::Other(text) => by_status(what, seen, text),
    };
    match seen.retry_after {
        Some(wait) if failed.kind.is_transient() => failed.with_retry_after(wait),
        _ => failed,
    }
}

/// An answer `oauth2` could not read: its status decides.
fn by_status(what: &str, seen: Seen, text: &str) -> ProviderError {
    let kind = match seen.status {
        Some(429) => ProviderErrorKind::RateLimited,
        Some(500..=599) | None => ProviderErrorKind::Unavailable,
        Some(401) => ProviderErrorKind::Misconfigured,
        Some(_) => ProviderErrorKind::Rejected,
    };
    let status = seen
        .status
        .map(|status| format!(" {status}"))
        .unwrap_or_default();
    ProviderError::new(
        kind,
        format!(
            "cannot {what}: the token endpoint answered{status}: {}",
            short(text)
        ),
    )
}

/// The outcome of a revocation request that answered `status` and `body`.
pub(crate) fn revocation_error(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
) -> ProviderResult<()> {
    let code = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            value
                .get("error")
                .and_then(|code| code.as_str())
                .map(str::to_owned)
        });
    let kind = match (status, code.as_deref()) {
        (200..=299, _) => return Ok(()),
        // RFC 7009 §2.2: an invalid token is not an error; Google answers
        // 400 invalid_token for a token already revoked or expired.
        (_, Some("invalid_token")) => return Ok(()),
        (_, Some("invalid_client" | "unauthorized_client")) | (401, _) => {
            ProviderErrorKind::Misconfigured
        }
        (429, _) => ProviderErrorKind::RateLimited,
        (500..=599, _) => ProviderErrorKind::Unavailable,
        _ => ProviderErrorKind::Rejected,
    };
    let mut error = ProviderError::new(
        kind,
        format!(
            "cannot revoke the token: the revocation endpoint answered {status}: {}",
            short(body)
        ),
    );
    if let Some(wait) = retry_after.filter(|_| kind.is_transient()) {
        error = error.with_retry_after(wait);
    }
    Err(error)
}

fn short(text: &str) -> String {
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "(no body)".to_owned()
    } else {
        text.chars().take(300).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_already_revoked_counts_as_revoked() {
        assert_eq!(revocation_error(200, "", None), Ok(()));
        assert_eq!(
            revocation_error(400, r#"{"error":"invalid_token"}"#, None),
            Ok(())
        );
        let kind = |status, body| revocation_error(status, body, None).unwrap_err().kind;
        assert_eq!(
            kind(401, r#"{"error":"invalid_client"}"#),
            ProviderErrorKind::Misconfigured
        );
        assert_eq!(
            kind(503, "<html>down</html>"),
            ProviderErrorKind::Unavailable
        );
        assert_eq!(kind(429, ""), ProviderErrorKind::RateLimited);
        assert_eq!(
            kind(400, r#"{"error":"invalid_request"}"#),
            ProviderErrorKind::Rejected
        );
    }

    #[test]
    fn unreadable_answers_are_judged_by_their_status() {
        let seen = |status| Seen {
            status: Some(status),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            by_status("refresh", seen(503), "<html>").kind,
            ProviderErrorKind::Unavailable
        );
        assert_eq!(
            by_status("refresh", seen(429), "").kind,
            ProviderErrorKind::RateLimited
        );
        assert_eq!(
            by_status("refresh", seen(400), "bad").kind,
            ProviderErrorKind::Rejected
        );
        assert_eq!(
            by_status("refresh", Seen::default(), "").kind,
            ProviderErrorKind::Unavailable
        );
    }
}
