//! The service's one error type: every failure answers
//! `{"error": "<what a person can act on>", "kind": "<stable kind>"}` with a
//! status that fits, and internal details go to the log only.

use crate::error::Error;
use crate::store::StoreError;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// The most header fields a request may have (hyper's own limit, which
/// calsync keeps); more are answered 431.
pub const MAX_HEADER_FIELDS: usize = 100;

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in words a person can act on.
    pub error: String,
    /// A stable machine-readable kind (e.g. `invalid_input`, `account_not_found`).
    pub kind: String,
}

/// Why a request was not served.
#[derive(Debug)]
pub enum ApiError {
    /// 400 Bad Request: malformed JSON, a wrong type, an unknown or missing
    /// field, or a value breaking a rule (the message names the field).
    BadRequest {
        /// The stable kind.
        kind: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 401 Unauthorized: no API key, or one that is not configured.
    Unauthorized(&'static str),
    /// 404 Not Found: no such account, synced event, action or route (another
    /// user's account or event is answered the same).
    NotFound {
        /// The stable kind.
        kind: &'static str,
        /// What was not found.
        message: String,
    },
    /// 405 Method Not Allowed: the route does not answer this method (actions
    /// are called with POST; the `Allow` header lists the route's methods).
    MethodNotAllowed,
    /// 409 Conflict: a requires clause about state is not met (an account is
    /// not connected; conflicts were not detected first), or the first call
    /// with the same `Idempotency-Key` is still running.
    Conflict {
        /// The stable kind.
        kind: &'static str,
        /// Which clause, and how to meet it.
        message: String,
    },
    /// 413 Payload Too Large: the body, or the length it declares, is over
    /// the configured limit.
    TooLarge,
    /// 414 URI Too Long: the request target is longer than the HTTP layer
    /// reads (64 KiB); reached only with a header limit above that.
    UriTooLong,
    /// 422 Unprocessable Entity: the provider refused the credentials, or an
    /// `Idempotency-Key` was first used with another call.
    Unprocessable {
        /// The stable kind.
        kind: &'static str,
        /// The provider's reason.
        message: String,
    },
    /// 431 Request Header Fields Too Large: the request head (request line
    /// and header fields) is over the configured limit, in bytes, or has more
    /// than [`MAX_HEADER_FIELDS`] fields.
    HeadersTooLarge(usize),
    /// 429 Too Many Requests: this API key is over its rate; retry after the
    /// given wait (sent as `Retry-After`).
    RateLimited(Duration),
    /// 502 Bad Gateway: providers could not be reached or refused the change.
    BadGateway {
        /// The stable kind.
        kind: &'static str,
        /// The providers' reasons.
        message: String,
    },
    /// 503 Service Unavailable: the store cannot be reached; retrying later may work.
    Unavailable(String),
    /// 503 Service Unavailable: a provider refuses the deployment's own
    /// settings (its OAuth client); an operator must fix them.
    Misconfigured(String),
    /// 504 Gateway Timeout: the request took longer than the configured
    /// timeout (durable provider work goes on in the background).
    Timeout,
    /// 500 Internal Server Error: a generic message is sent; the detail is logged.
    Internal(String),
}

impl ApiError {
    /// A 400 for input breaking a rule.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            kind: "invalid_input",
            message: message.into(),
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) | ApiError::Misconfigured(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body this error answers with.
    pub fn body(&self) -> ErrorBody {
        let (kind, error): (&str, String) = match self {
            ApiError::BadRequest { kind, message }
            | ApiError::NotFound { kind, message }
            | ApiError::Conflict { kind, message }
            | ApiError::Unprocessable { kind, message }
            | ApiError::BadGateway { kind, message } => (kind, message.clone()),
            ApiError::Unauthorized(why) => ("unauthorized", (*why).to_owned()),
            ApiError::MethodNotAllowed => (
                "method_not_allowed",
                "this route does not answer this method; the Allow header lists those it answers"
                    .to_owned(),
            ),
            ApiError::TooLarge => (
                "body_too_large",
                "the request body is larger than the configured limit".to_owned(),
            ),
            ApiError::UriTooLong => (
                "uri_too_long",
                "the request target is longer than 65534 bytes".to_owned(),
            ),
            ApiError::HeadersTooLarge(limit) => (
                "headers_too_large",
                format!(
                    "the request head (request line and header fields) is larger than \
                     {limit} bytes, or has more than {MAX_HEADER_FIELDS} header fields"
                ),
            ),
            ApiError::RateLimited(wait) => (
                "rate_limited",
                format!(
                    "too many requests for this API key; retry in {} ms",
                    wait.as_millis().max(1)
                ),
            ),
            ApiError::Unavailable(message) => ("store_unavailable", message.clone()),
            ApiError::Misconfigured(message) => ("misconfigured", message.clone()),
            ApiError::Timeout => (
                "timeout",
                "the request took longer than the configured timeout; \
                 provider work already recorded goes on in the background"
                    .to_owned(),
            ),
            ApiError::Internal(_) => (
                "internal",
                "internal error; the server log has the details".to_owned(),
            ),
        };
        ErrorBody {
            error,
            kind: kind.to_owned(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let kind = error.kind();
        let message = error.to_string();
        match error {
            Error::Invalid(_) | Error::UnsupportedProvider { .. } => {
                ApiError::BadRequest { kind, message }
            }
            Error::InvalidCredentials { .. } | Error::TooMuchWork { .. } => {
                ApiError::Unprocessable { kind, message }
            }
            Error::AccountNotFound(_) | Error::EventNotFound(_) => {
                ApiError::NotFound { kind, message }
            }
            Error::AccountNotConnected { .. } | Error::ConflictsNotDetected(_) => {
                ApiError::Conflict { kind, message }
            }
            Error::ProviderUnreachable { .. }
            | Error::AllProvidersFailed(_)
            | Error::Provider(_) => ApiError::BadGateway { kind, message },
            Error::Store(StoreError::Unavailable(_)) => ApiError::Unavailable(message),
            Error::Store(_) | Error::Vault(_) => ApiError::Internal(message),
            // Work stops when its request timed out: that is the answer.
            Error::Stopped => ApiError::Timeout,
        }
    }
}

/// A path segment that cannot be read (not UTF-8 once percent-decoded).
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest {
            kind: "malformed_request",
            message: rejection.body_text(),
        }
    }
}

/// A query string that cannot be read.
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest {
            kind: "malformed_request",
            message: rejection.body_text(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "store unavailable"),
            _ => tracing::debug!(status = status.as_u16(), error = ?self, "request refused"),
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if let ApiError::RateLimited(wait) = &self {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if let ApiError::Unauthorized(_) = &self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountId, DraftId, EventId};

    #[test]
    fn every_error_kind_has_a_fitting_status() {
        let cases = [
            (Error::invalid("event.title", "must not be empty"), 400),
            (
                Error::UnsupportedProvider {
                    provider: "x".into(),
                    supported: "google".into(),
                },
                400,
            ),
            (
                Error::InvalidCredentials {
                    provider: "google".into(),
                    reason: "no".into(),
                },
                422,
            ),
            (
                Error::ProviderUnreachable {
                    provider: "google".into(),
                    reason: "down".into(),
                },
                502,
            ),
            (Error::AccountNotFound(AccountId::from("a")), 404),
            (Error::EventNotFound(EventId::from("e")), 404),
            (
                Error::AccountNotConnected {
                    account: AccountId::from("a"),
                    status: crate::model::SyncStatus::Disconnected,
                    reason: None,
                },
                409,
            ),
            (Error::ConflictsNotDetected(DraftId::from("d")), 409),
            (Error::AllProvidersFailed(Default::default()), 502),
            (Error::Store(StoreError::Unavailable("down".into())), 503),
            (Error::Store(StoreError::Corrupt("bad row".into())), 500),
            (Error::Vault(crate::vault::VaultError::Damaged), 500),
            (
                Error::TooMuchWork {
                    field: "draft".into(),
                    message: "too dense".into(),
                },
                422,
            ),
            (Error::Stopped, 504),
        ];
        for (error, status) in cases {
            let kind = error.kind();
            let api = ApiError::from(error);
            assert_eq!(api.status().as_u16(), status, "{kind}");
            if status != 500 {
                assert_eq!(api.body().kind, kind);
            }
        }
    }

    #[test]
    fn the_http_layer_errors_have_their_status_and_kind() {
        for (api, status, kind) in [
            (ApiError::TooLarge, 413, "body_too_large"),
            (ApiError::UriTooLong, 414, "uri_too_long"),
            (ApiError::HeadersTooLarge(16384), 431, "headers_too_large"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (ApiError::Timeout, 504, "timeout"),
        ] {
            assert_eq!(api.status().as_u16(), status, "{kind}");
            assert_eq!(api.body().kind, kind);
        }
        let body = ApiError::HeadersTooLarge(16384).body();
        assert!(body.error.contains("16384 bytes"), "{}", body.error);
    }

    #[test]
    fn internal_details_are_not_sent() {
        let api = ApiError::from(Error::Store(StoreError::Corrupt("row 7 of secrets".into())));
        let body = api.body();
        assert!(!body.error.contains("row 7"), "{}", body.error);
        assert_eq!(body.kind, "internal");
    }
}
