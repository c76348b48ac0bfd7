//! The consent flow over HTTP: `POST /api/CalendarSync/startConnect` (with an
//! API key) answers the provider's consent URL; the provider sends the
//! person's browser back to `GET /oauth/{provider}/callback` (no key: the
//! single-use `state` is what binds it), which connects the account and
//! redirects to the app's return URL with `account={id}` or `error={kind}`.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::json::Body;
use crate::concept::ConnectStart;
use crate::model::UserId;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// The arguments of startConnect.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartConnectRequest {
    /// The app's user.
    #[schema(value_type = String)]
    pub user: UserId,
    /// `google` (or another OAuth provider this deployment has).
    pub provider: String,
    /// The app's page to send the person back to; must be on the
    /// deployment's allow-list (`CALSYNC_RETURN_URLS`).
    pub return_url: String,
}

/// The answer of startConnect.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartConnectAnswer {
    /// The provider's consent page: send the person's browser there.
    pub url: String,
    /// When the flow stops being accepted (RFC 3339).
    #[schema(value_type = String)]
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// startConnect: starts connecting an account by the provider's consent page.
#[utoipa::path(post, path = "/api/CalendarSync/startConnect", request_body = StartConnectRequest,
    responses((status = 200, body = StartConnectAnswer), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub async fn start_connect(
    State(state): State<AppState>,
    Body(request): Body<StartConnectRequest>,
) -> Result<Json<StartConnectAnswer>, ApiError> {
    let ConnectStart { url, expires_at } =
        state
            .sync
            .start_connect(&request.user, &request.provider, &request.return_url)?;
    Ok(Json(StartConnectAnswer { url, expires_at }))
}

/// `GET /oauth/{provider}/callback?state&code[&error]`: ends the flow and
/// sends the browser back to the app (303); a state that is unknown, used
/// or expired is answered 400 and changes nothing.
pub async fn callback(
    State(state): State<AppState>,
    provider: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Path(provider), Query(query)) = (provider?, query?);
    let flow_state = query.get("state").map(String::as_str).unwrap_or_default();
    let finished = state
        .sync
        .finish_connect(
            &provider,
            flow_state,
            query.get("code").map(String::as_str),
            query.get("error").map(String::as_str),
        )
        .await?;
    if let Err(error) = &finished.outcome {
        tracing::info!(%provider, %error, "consent flow ended without an account");
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, finished.redirect_url()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}
