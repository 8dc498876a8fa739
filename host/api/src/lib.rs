//! Coffer's HTTP API: routes under `/api/v1`, problem responses (RFC 9457) with stable codes, and
//! the OpenAPI 3.1 document generated from the handlers.
//!
//! The API maps requests to use cases and use-case results to responses; it holds no business
//! rules. Request and response bodies are this crate's own types, mapped explicitly.

mod cursors;
mod extract;
mod link_passes;
mod middleware;
mod openapi_errors;
mod problem;
mod routes;
mod sessions;
mod state;

pub use cursors::CursorCodec;
pub use link_passes::LinkPasses;
pub use problem::{ErrorCode, Problem};
pub use routes::plugins::parse_manifest;
pub use sessions::SessionCookies;
pub use state::{ApiState, ClientAddressSource};

use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

/// The whole HTTP application: API, OpenAPI document and health probes, with `pages` (the web
/// app's routes, which hold no state) beside them.
pub fn app(state: ApiState, pages: Router) -> Router {
    let (api, mut openapi) = api_router().split_for_parts();
    openapi_errors::document_errors(&mut openapi);
    let openapi_json = serde_json::to_string(&openapi).expect("OpenAPI document serialises");
    let routes = Router::new()
        .nest("/api/v1", api)
        .merge(routes::docs::router(openapi_json))
        .merge(routes::health::router())
        .merge(pages.with_state(()))
        .fallback(problem::route_not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .with_state(state);
    middleware::wrap(routes)
}

/// The OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut openapi = api_router().split_for_parts().1;
    openapi_errors::document_errors(&mut openapi);
    openapi
}

fn api_router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(routes::ApiDoc::openapi())
        .merge(routes::auth::router())
        .merge(routes::account::router())
        .merge(routes::admin::router())
        .merge(routes::files::router())
        .merge(routes::uploads::router())
        .merge(routes::delta::router())
        .merge(routes::trash::router())
        .merge(routes::links::router())
        .merge(routes::sharing::router())
        .merge(routes::plugins::router())
}
