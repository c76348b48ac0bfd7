//! Sandbox controls, routed only when the providers are the sandbox: seed an
//! account's calendar with existing events (JSON or iCalendar), plan
//! failures, set latency. They
//! let an app team develop and test against calsync without real accounts.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::json::Body;
use crate::model::{AccountId, Provider, UserId};
use crate::providers::sandbox::{FaultKind, FaultPlan, Sandbox, SandboxProvider};
use crate::schedule::ProviderEvent;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// The arguments of `POST /api/sandbox/seed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedRequest {
    /// The account's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// The sandbox account whose calendar gets the events.
    #[schema(value_type = String)]
    pub account: AccountId,
    /// Events as a calendar holds them (`eventId`, `title`, `start`, `end`,
    /// `timeZone`, `transparency`, `status`, `recurrence`, ...).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<ProviderEvent>,
    /// An iCalendar text whose events are added too (lines that cannot be
    /// used are answered in `problems`).
    #[serde(default)]
    pub ics: Option<String>,
}

/// The answer of `POST /api/sandbox/seed`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SeedAnswer {
    /// How many events were added.
    pub added: usize,
    /// The iCalendar lines that could not be used (`line`, `message`).
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<Value>,
}

/// The arguments of `POST /api/sandbox/failures`: fail the next `count` calls
/// to `provider` with `kind`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FailuresRequest {
    /// `google`, `outlook`, `apple` or `zoom`.
    #[schema(value_type = String)]
    pub provider: Provider,
    /// `timeout`, `timeout_after_apply`, `rate_limited`, `server_error`,
    /// `unauthorized`, `invalid_grant`, `hang_after_apply` or `refused`.
    #[schema(value_type = String)]
    pub kind: FaultKind,
    /// How many calls to fail (at least 1).
    pub count: u32,
    /// Only calls for this calendar (all when absent).
    #[serde(default)]
    pub calendar: Option<String>,
    /// For `rate_limited`: the Retry-After to send, in milliseconds.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

/// The arguments of `POST /api/sandbox/latency`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LatencyRequest {
    /// One provider, or all four when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub provider: Option<Provider>,
    /// How long every call takes before it answers, in milliseconds (at most 60000).
    pub ms: u64,
}

/// The answer of the failure and latency controls.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

fn sandbox(state: &AppState) -> Result<&Sandbox, ApiError> {
    state.sandbox.as_ref().ok_or_else(|| ApiError::NotFound {
        kind: "no_sandbox",
        message: "sandbox controls exist only when the providers are the sandbox".to_owned(),
    })
}

/// Seeds a sandbox account's calendar with existing events.
#[utoipa::path(post, path = "/api/sandbox/seed", request_body = SeedRequest,
    responses((status = 200, body = SeedAnswer), (status = "4XX", body = ErrorBody)))]
pub async fn seed(
    State(state): State<AppState>,
    Body(request): Body<SeedRequest>,
) -> Result<Json<SeedAnswer>, ApiError> {
    let sandbox = sandbox(&state)?;
    let mut events = request.events;
    let mut problems = Vec::new();
    match &request.ics {
        Some(text) => {
            let (read, unusable) = crate::schedule::ics::events_from_ics(text);
            events.extend(read);
            for problem in unusable {
                problems.push(serde_json::to_value(problem).map_err(|error| {
                    ApiError::Internal(format!("an iCalendar problem did not serialize: {error}"))
                })?);
            }
        }
        None if events.is_empty() => {
            return Err(ApiError::invalid(
                "events: give at least one event, or an iCalendar text in ics",
            ));
        }
        None => {}
    }
    // Another user's account is answered as missing, as in every action.
    let account = state
        .sync
        .get_account(&request.user, &request.account)
        .await?;
    let added = sandbox.seed(&account, events);
    Ok(Json(SeedAnswer { added, problems }))
}

/// Plans failures for a sandbox provider's next calls.
#[utoipa::path(post, path = "/api/sandbox/failures", request_body = FailuresRequest,
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
pub async fn failures(
    State(state): State<AppState>,
    Body(request): Body<FailuresRequest>,
) -> Result<Json<Done>, ApiError> {
    let sandbox = sandbox(&state)?;
    if request.count == 0 {
        return Err(ApiError::invalid("count: must be at least 1"));
    }
    sandbox.get(request.provider).fail(FaultPlan {
        kind: request.kind,
        remaining: request.count,
        calendar: request.calendar,
        retry_after_ms: request.retry_after_ms,
    });
    Ok(Json(Done { ok: true }))
}

/// Sets how long sandbox provider calls take.
#[utoipa::path(post, path = "/api/sandbox/latency", request_body = LatencyRequest,
    responses((status = 200, body = Done), (status = "4XX", body = ErrorBody)))]
pub async fn latency(
    State(state): State<AppState>,
    Body(request): Body<LatencyRequest>,
) -> Result<Json<Done>, ApiError> {
    let sandbox = sandbox(&state)?;
    if request.ms > 60_000 {
        return Err(ApiError::invalid("ms: must be at most 60000"));
    }
    let targets: Vec<&Arc<SandboxProvider>> = match request.provider {
        Some(provider) => vec![sandbox.get(provider)],
        None => Provider::ALL.iter().map(|p| sandbox.get(*p)).collect(),
    };
    for target in targets {
        target.set_latency(Duration::from_millis(request.ms));
    }
    Ok(Json(Done { ok: true }))
}
