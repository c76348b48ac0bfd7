//! The OpenAPI document, generated from the request and answer types the
//! handlers use, served at `/openapi.json`.

use super::{consent, error, routes, sandbox};
use axum::Json;
use utoipa::OpenApi;

/// The service's OpenAPI description.
#[derive(OpenApi)]
#[openapi(
    info(title = "calsync", description = "The CalendarSync concept over HTTP: one POST per action, a JSON object of the action's named arguments in, a JSON object out; errors answer {\"error\", \"kind\"}."),
    paths(
        routes::connect_account,
        routes::commit,
        routes::detect_conflicts,
        routes::suggest_reschedules,
        routes::update,
        routes::cancel,
        routes::disconnect_account,
        routes::refresh_sync,
        routes::get_account_status,
        routes::get_synced_event,
        consent::start_connect,
        routes::list_calendars,
        routes::delete_user,
        sandbox::seed,
        sandbox::failures,
        sandbox::latency,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "apiKey",
            Vec::<String>::new(),
        )]);
    }
}

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_documented() {
        let document = ApiDoc::openapi();
        for action in routes::ACTIONS {
            let path = format!("/api/CalendarSync/{action}");
            let item = document.paths.paths.get(&path);
            assert!(
                item.is_some_and(|item| item.post.is_some()),
                "{path} is not in the document"
            );
        }
    }
}
