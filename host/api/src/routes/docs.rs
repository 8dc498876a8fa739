//! The OpenAPI document and an interactive reference page.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::state::ApiState;

/// The reference page renders `/api/v1/openapi.json` with Scalar (its script comes from the
/// jsDelivr CDN, so the page needs the browser to reach it; the JSON document itself does not).
const DOCS_PAGE: &str = r#"<!doctype html>
<html>
  <head>
    <title>Coffer API</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <script id="api-reference" data-url="/api/v1/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
  </body>
</html>
"#;

pub fn router(openapi_json: String) -> Router<ApiState> {
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
            }),
        )
        .route("/api/docs", get(|| async { Html(DOCS_PAGE) }))
}
