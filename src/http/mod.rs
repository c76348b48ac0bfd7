//! The HTTP service: the concept's actions at `POST /api/CalendarSync/{action}`
//! in the concept-server convention, with API keys, rate limits, request ids,
//! Prometheus metrics and an OpenAPI document.
//!
//! | route | what | key |
//! |---|---|---|
//! | `POST /api/CalendarSync/{action}` | the ten actions ([`routes`]); commit, update and cancel take an `Idempotency-Key` ([`idempotency`]) | yes |
//! | `POST /api/CalendarSync/listCalendars` | an account's calendars ([`routes`]) | yes |
//! | `POST /api/CalendarSync/startConnect` | start a consent flow ([`consent`]) | yes |
//! | `GET /oauth/{provider}/callback` | the provider's redirect back: connect, then send the browser to the app ([`consent`]) | no (the single-use state binds it) |
//! | `POST /api/sandbox/{seed,failures,latency}` | sandbox controls ([`sandbox`]), only on the sandbox | yes |
//! | `GET /metrics` | Prometheus metrics ([`metrics`]) | yes |
//! | `GET /openapi.json` | the OpenAPI document ([`openapi`]) | yes |
//! | `GET /healthz`, `GET /readyz` | alive; store reachable | no |
//!
//! This module is the service alone: [`app`] builds its router and [`serve`]
//! runs it on a listener, with the header-read and idle timeouts, connection
//! cap and header limit of [`connections`]. The flags, logging and start-up
//! of `calsync serve` belong to the command line (`calsync::cli::serve`,
//! feature `cli`).

pub mod auth;
pub mod connections;
pub mod consent;
pub mod error;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod sandbox;

pub use auth::{Auth, RateLimit};
pub use connections::{Connections, serve};
pub use error::{ApiError, ErrorBody};
pub use idempotency::Idempotency;

use crate::concept::CalendarSync;
use crate::providers::sandbox::Sandbox;
use axum::Router;
use axum::body::HttpBody;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Route names besides the actions, used as metric labels.
pub(crate) const OTHER_ROUTES: [&str; 10] = [
    "startConnect",
    "listCalendars",
    "/oauth/{provider}/callback",
    "/api/sandbox/seed",
    "/api/sandbox/failures",
    "/api/sandbox/latency",
    "/metrics",
    "/openapi.json",
    "/healthz",
    "/readyz",
];

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The concept.
    pub sync: CalendarSync,
    /// The simulated providers, when the providers are the sandbox (this
    /// enables the sandbox routes).
    pub sandbox: Option<Sandbox>,
    /// Who may call.
    pub auth: Auth,
    /// The per-key rate limit, when one is set.
    pub rate_limit: Option<RateLimit>,
    /// The largest body accepted, in bytes.
    pub body_limit: usize,
    /// How long a request may take.
    pub request_timeout: Duration,
    /// How `Idempotency-Key`s on commit, update and cancel are kept.
    pub idempotency: Idempotency,
}

impl AppState {
    /// A state over `sync`, requiring `auth`, with default limits and no rate limit.
    pub fn new(sync: CalendarSync, sandbox: Option<Sandbox>, auth: Auth) -> Self {
        AppState {
            sync,
            sandbox,
            auth,
            rate_limit: None,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idempotency: Idempotency::default(),
        }
    }
}

/// The service's router. Installs the process's metrics recorder on first use.
pub fn app(state: AppState) -> Router {
    // Installed before any request so that the first requests are counted too.
    let _ = metrics::handle();
    let mut keyed = Router::new();
    keyed = keyed
        .route(
            "/api/CalendarSync/connectAccount",
            post(routes::connect_account),
        )
        .route("/api/CalendarSync/commit", post(routes::commit))
        .route(
            "/api/CalendarSync/detectConflicts",
            post(routes::detect_conflicts),
        )
        .route(
            "/api/CalendarSync/suggestReschedules",
            post(routes::suggest_reschedules),
        )
        .route("/api/CalendarSync/update", post(routes::update))
        .route("/api/CalendarSync/cancel", post(routes::cancel))
        .route(
            "/api/CalendarSync/disconnectAccount",
            post(routes::disconnect_account),
        )
        .route("/api/CalendarSync/refreshSync", post(routes::refresh_sync))
        .route(
            "/api/CalendarSync/getAccountStatus",
            post(routes::get_account_status),
        )
        .route(
            "/api/CalendarSync/getSyncedEvent",
            post(routes::get_synced_event),
        )
        .route(
            "/api/CalendarSync/startConnect",
            post(consent::start_connect),
        )
        .route("/api/CalendarSync/deleteUser", post(routes::delete_user))
        .route(
            "/api/CalendarSync/listCalendars",
            post(routes::list_calendars),
        )
        .route("/api/CalendarSync/{action}", post(unknown_action));
    if state.sandbox.is_some() {
        keyed = keyed
            .route("/api/sandbox/seed", post(sandbox::seed))
            .route("/api/sandbox/failures", post(sandbox::failures))
            .route("/api/sandbox/latency", post(sandbox::latency));
    }
    let keyed = keyed
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::document))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/oauth/{provider}/callback", get(consent::callback));
    let request_id = HeaderName::from_static("x-request-id");
    keyed
        .merge(open)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_declared_overflow,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Each request's log span: method, path and request id (never headers, so
/// never an API key).
fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id
    )
}

/// Answers 413 at once to a request whose declared body length
/// (`Content-Length`) is over the body limit, before any of the body is read
/// and before the key is checked: such a body is refused whoever sends it.
async fn refuse_declared_overflow(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limit = u64::try_from(state.body_limit).unwrap_or(u64::MAX);
    if request.body().size_hint().lower() > limit {
        return Err(ApiError::TooLarge);
    }
    Ok(next.run(request).await)
}

async fn time_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    tokio::time::timeout(state.request_timeout, next.run(request))
        .await
        .map_err(|_| ApiError::Timeout)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state
        .sync
        .store()
        .ping()
        .await
        .map_err(|error| ApiError::Unavailable(error.to_string()))?;
    // A refused OAuth client is the deployment's to fix: not ready, naming
    // the settings.
    if let Some((provider, why)) = state.sync.refused_settings().into_iter().next() {
        let name = provider.as_str().to_uppercase();
        return Err(ApiError::Misconfigured(format!(
            "{provider} refuses this deployment's OAuth client: check CALSYNC_{name}_CLIENT_ID \
             and CALSYNC_{name}_CLIENT_SECRET ({why})"
        )));
    }
    Ok("ready")
}

async fn unknown_action(
    action: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiError {
    let axum::extract::Path(action) = match action {
        Ok(action) => action,
        Err(rejection) => return rejection.into(),
    };
    ApiError::NotFound {
        kind: "unknown_action",
        message: format!(
            "CalendarSync has no action {action:?}; the actions are: {}, deleteUser, listCalendars and startConnect",
            routes::ACTIONS.join(", ")
        ),
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound {
        kind: "no_such_route",
        message: format!("no route {} {}", request.method(), request.uri().path()),
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
