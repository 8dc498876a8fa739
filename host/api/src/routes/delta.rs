//! Delta uploads: declare a file's 4 MiB block hashes, send only the blocks the server asks
//! for, commit the file from the list.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use coffer_application::files::NewSession;
use coffer_application::ports::ContentError;
use coffer_domain::files::UploadId;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath, Caller};
use crate::problem::{ApiError, Problem};
use crate::routes::files::{EntryResponse, Mode, stored_response};
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(start_delta))
        .routes(routes!(put_block))
        .routes(routes!(commit_delta))
        .routes(routes!(cancel_delta))
}

/// A new delta upload.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeltaRequest {
    /// Where to store the file; missing parent folders are created.
    #[schema(pattern = "^/")]
    path: String,
    /// `add` (default), `overwrite` or `update`.
    #[serde(default)]
    mode: Mode,
    /// With `mode=update`: the revision the client last saw.
    rev: Option<String>,
    /// On conflict, store as `name (1).ext` instead of failing.
    #[serde(default)]
    autorename: bool,
    /// The file's modification time on the client.
    client_modified: Option<DateTime<Utc>>,
    /// The file's media type.
    media_type: Option<String>,
    /// The file's size in bytes.
    size: u64,
    /// SHA-256 (hex) of each 4 MiB block of the file, in order (the last block may be shorter;
    /// an empty file has none).
    blocks: Vec<String>,
}

/// A delta upload, started.
#[derive(Serialize, ToSchema)]
pub struct DeltaResponse {
    /// The upload, for the calls that follow.
    id: Uuid,
    /// The blocks to send (each once), in file order. A block counts as known only if it is in
    /// a file the caller can read; every other one is asked for, even if the server has it.
    needed: Vec<String>,
    /// When the upload is abandoned unless a block arrives (each block pushes this back).
    expires_at: DateTime<Utc>,
}

/// Start a delta upload: say which blocks the file is made of, learn which to send.
#[utoipa::path(
    post, path = "/delta-uploads", tag = "uploads",
    security(("bearer" = [])),
    request_body = DeltaRequest,
    responses(
        (status = 201, description = "Started; send the `needed` blocks, then commit", body = DeltaResponse),
        (status = 404, description = "The target folder is not one the caller reaches", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The block list cannot be a file of this size", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The quota cannot hold the file", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn start_delta(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<DeltaRequest>,
) -> Result<Response, ApiError> {
    let input = NewSession {
        path: request.path,
        mode: request.mode.with_rev(request.rev)?,
        autorename: request.autorename,
        client_modified: request.client_modified,
        media_type: request.media_type,
        length: request.size,
    };
    let started = state
        .files
        .start_delta(&caller, input, &request.blocks)
        .await?;
    let body = DeltaResponse {
        id: started.session.id.as_uuid(),
        needed: started.needed.iter().map(|h| h.to_hex()).collect(),
        expires_at: started.session.expires_at,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Send one block of a delta upload (its bytes; they must hash to `hash`).
#[utoipa::path(
    put, path = "/delta-uploads/{id}/blocks/{hash}", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The delta upload"),
        ("hash" = String, Path, description = "The block's SHA-256 (hex), as declared"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The block's bytes (at most 4 MiB)"),
    responses(
        (status = 204, description = "Stored"),
        (status = 400, description = "The bytes do not hash to `hash`; nothing kept", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such upload", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a block of this upload, or the wrong length", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn put_block(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath((id, hash)): ApiPath<(Uuid, String)>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let content = body
        .into_data_stream()
        .map_err(|err| ContentError::Source(format!("the block's body broke off: {err}")));
    state
        .files
        .put_block(&caller, UploadId::from_uuid(id), &hash, Box::pin(content))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Commit a delta upload once every needed block has arrived.
///
/// The write mode, quota and plugins apply as for a plain upload. Committing again after a
/// success answers the same file.
#[utoipa::path(
    post, path = "/delta-uploads/{id}/commit", tag = "uploads",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The delta upload")),
    responses(
        (status = 201, description = "File created", body = EntryResponse),
        (status = 200, description = "New revision stored, or the content was already there", body = EntryResponse),
        (status = 404, description = "No such upload", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Blocks still missing (`missing` counts them), or a conflict at the path", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Quota exceeded; nothing stored", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn commit_delta(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let outcome = state
        .files
        .commit_delta(&caller, UploadId::from_uuid(id))
        .await?;
    Ok(stored_response(outcome))
}

/// Abandon a delta upload.
#[utoipa::path(
    delete, path = "/delta-uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The delta upload")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such upload", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn cancel_delta(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .files
        .cancel_upload(&caller, UploadId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
