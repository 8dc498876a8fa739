//! The OpenAPI document (the web app crate serves the reference page that renders it).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::ApiState;

pub fn router(openapi_json: String) -> Router<ApiState> {
    Router::new().route(
        "/api/v1/openapi.json",
        get(move || {
            let body = openapi_json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    )
}
