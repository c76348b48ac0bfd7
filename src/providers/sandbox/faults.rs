//! Failures and delays a sandbox provider can be told to produce.

use crate::providers::{ProviderError, ProviderErrorKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A kind of failure to inject, as the real provider would answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// No answer in time; the call did not reach the provider.
    Timeout,
    /// No answer in time, but the call did reach the provider and took effect
    /// (a create whose answer was lost).
    TimeoutAfterApply,
    /// 429 Too Many Requests with a Retry-After.
    RateLimited,
    /// 503 Service Unavailable.
    ServerError,
    /// 401: the access token is refused.
    Unauthorized,
    /// 400 invalid_grant: the refresh token is refused (applies to refreshes).
    InvalidGrant,
    /// The call takes effect and then never answers (a provider that hangs).
    HangAfterApply,
    /// 403 Forbidden: the provider refuses the request for good (a calendar
    /// the account may not write, say); a person must act.
    Refused,
}

impl FaultKind {
    /// The provider error this fault answers with, if it answers at all.
    pub(super) fn error(self, retry_after: Duration) -> ProviderError {
        match self {
            FaultKind::Timeout | FaultKind::TimeoutAfterApply | FaultKind::HangAfterApply => {
                ProviderError::new(
                    ProviderErrorKind::Timeout,
                    "the provider did not answer in time",
                )
            }
            FaultKind::RateLimited => ProviderError::new(
                ProviderErrorKind::RateLimited,
                "429 Too Many Requests: rate limit exceeded",
            )
            .with_retry_after(retry_after),
            FaultKind::ServerError => ProviderError::new(
                ProviderErrorKind::Unavailable,
                "503 Service Unavailable: backend error",
            ),
            FaultKind::Unauthorized => ProviderError::new(
                ProviderErrorKind::Unauthorized,
                "401 Unauthorized: invalid access token",
            ),
            FaultKind::InvalidGrant => ProviderError::new(
                ProviderErrorKind::InvalidGrant,
                "invalid_grant: Token has been expired or revoked.",
            ),
            FaultKind::Refused => ProviderError::new(
                ProviderErrorKind::Rejected,
                "403 Forbidden: the calendar does not allow this request",
            ),
        }
    }

    /// Whether the call takes effect before the fault shows.
    pub(super) fn applies_first(self) -> bool {
        matches!(
            self,
            FaultKind::TimeoutAfterApply | FaultKind::HangAfterApply
        )
    }
}

/// A plan: fail the next `remaining` calls (of any kind, or only refreshes for
/// `InvalidGrant`) with `kind`, optionally only for one calendar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultPlan {
    /// What to fail with.
    pub kind: FaultKind,
    /// How many calls to fail.
    pub remaining: u32,
    /// Only calls for this calendar (all calendars when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// For `rate_limited`: the Retry-After to send, in milliseconds (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}
