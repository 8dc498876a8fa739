//! Liveness and readiness probes (outside `/api/v1`, not in the OpenAPI document).

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use coffer_application::AppError;
use serde_json::{Value, json};

use crate::problem::ApiError;
use crate::state::ApiState;

/// How long each readiness check may take. The checks run at once, so `/readyz` answers within
/// this (plus scheduling), whatever its dependencies do.
pub const READINESS_CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
}

/// The process is up.
async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers and the block store is usable (on a local disk:
/// not full). A check that fails or does not answer in time makes it 503 `service_unavailable`,
/// with `check` naming it.
async fn ready(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let readiness = &state.readiness;
    let (database, block_store) = tokio::join!(
        bounded("database", readiness.database()),
        bounded("block_store", readiness.block_store()),
    );
    database.and(block_store)?;
    Ok(Json(json!({ "status": "ready" })))
}

/// Runs one readiness check under [`READINESS_CHECK_TIMEOUT`].
async fn bounded(
    check: &'static str,
    probe: impl Future<Output = Result<(), AppError>>,
) -> Result<(), ApiError> {
    let why = match tokio::time::timeout(READINESS_CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(err)) => {
            tracing::warn!(check, error = %err, "not ready");
            match err {
                AppError::Infrastructure(inner)
                    if inner.kind() == coffer_application::FailureKind::StorageFull =>
                {
                    "is full"
                }
                _ => "is not usable",
            }
        }
        Err(_) => {
            tracing::warn!(check, timeout = ?READINESS_CHECK_TIMEOUT, "not ready: no answer");
            "did not answer in time"
        }
    };
    let what = match check {
        "database" => "the database",
        _ => "the block store",
    };
    Err(ApiError::unavailable(format!("{what} {why}")).with_check(check))
}
