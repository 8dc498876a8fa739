//! Liveness and readiness probes (outside `/api/v1`, not in the OpenAPI document).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::problem::{ApiError, ErrorCode};
use crate::state::ApiState;

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
}

/// The process is up.
async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers and the block store is usable.
async fn ready(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    match state.readiness.check().await {
        Ok(()) => Ok(Json(json!({ "status": "ready" }))),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            Err(ApiError::new(
                ErrorCode::ServiceUnavailable,
                "the database or the block store is not usable",
            ))
        }
    }
}
