//! Prometheus metrics: requests by action and status, request latency, and
//! the provider counters the concept records (calls, retries, failures by
//! provider), rendered at `/metrics`.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// Requests served, by `action` (the route) and `status`.
pub const REQUESTS: &str = "calsync_http_requests_total";
/// Request latency in seconds, by `action`.
pub const LATENCY: &str = "calsync_http_request_duration_seconds";

/// Latency buckets from 0.5 ms to 30 s.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use. `None` when
/// another recorder was installed first (then `/metrics` says so).
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), &BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// Records each request's action, status and latency.
pub async fn track(request: Request, next: Next) -> Response {
    let action = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| action_label(path.as_str()))
        .unwrap_or("unmatched");
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "action" => action, "status" => status).increment(1);
    metrics::histogram!(LATENCY, "action" => action).record(started.elapsed().as_secs_f64());
    response
}

/// The label for a route: the action's name for action routes, else the path.
fn action_label(path: &str) -> &'static str {
    let name = path.strip_prefix("/api/CalendarSync/").unwrap_or(path);
    super::routes::ACTIONS
        .iter()
        .chain(super::OTHER_ROUTES.iter())
        .find(|known| **known == name)
        .copied()
        .unwrap_or("other")
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render() -> Response {
    use axum::response::IntoResponse;
    match handle() {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            handle.render(),
        )
            .into_response(),
        None => super::error::ApiError::Internal(
            "another metrics recorder is installed in this process".to_owned(),
        )
        .into_response(),
    }
}
