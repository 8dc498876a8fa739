//! The trash: list, restore, delete for good.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use coffer_application::files::TrashedEntry;
use coffer_domain::Timestamp;
use coffer_domain::files::NodeId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::files::EntryResponse;
use crate::cursors::{decode_page_token, encode_page_token};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller, PageLimit};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_trash, empty_trash))
        .routes(routes!(delete_permanently))
        .routes(routes!(restore))
}

/// Trash paging.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrashQuery {
    /// Page size, 1 to 2000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2000)]
    limit: Option<PageLimit<2000>>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// An item in the trash.
#[derive(Serialize, ToSchema)]
pub struct TrashItem {
    /// Its id: restore or delete it with this.
    id: Uuid,
    /// `file` or `folder`.
    kind: super::files::EntryKind,
    /// Where it was.
    original_path: String,
    /// Files: size in bytes (folders: what they held is restored with them).
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// When it was trashed.
    trashed_at: DateTime<Utc>,
}

/// One page of the trash, most recently trashed first.
#[derive(Serialize, ToSchema)]
pub struct TrashList {
    /// The items.
    items: Vec<TrashItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

impl From<TrashedEntry> for TrashItem {
    fn from(item: TrashedEntry) -> Self {
        let node = item.node;
        Self {
            id: node.id.as_uuid(),
            kind: if node.is_folder() {
                super::files::EntryKind::Folder
            } else {
                super::files::EntryKind::File
            },
            original_path: item.original_path.to_string(),
            size: node.file.as_ref().map(|f| f.size.get()),
            trashed_at: node.trashed_at.unwrap_or(node.modified_at),
        }
    }
}

fn decode(raw: &str) -> Result<(Timestamp, NodeId), ApiError> {
    let (micros, id): (i64, Uuid) = decode_page_token(raw)?;
    let at = Timestamp::from_timestamp_micros(micros).ok_or_else(ApiError::invalid_cursor)?;
    Ok((at, NodeId::from_uuid(id)))
}

fn encode((at, id): (Timestamp, NodeId)) -> String {
    encode_page_token(&(at.timestamp_micros(), id.as_uuid()))
}

/// List the trash.
#[utoipa::path(
    get, path = "/trash", tag = "trash",
    security(("bearer" = [])),
    params(TrashQuery),
    responses(
        (status = 200, description = "A page of trashed items", body = TrashList),
        (status = 400, description = "Bad cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_trash(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<TrashQuery>,
) -> Result<Json<TrashList>, ApiError> {
    let after = query.cursor.as_deref().map(decode).transpose()?;
    let page = state
        .files
        .list_trash(&caller, after, PageLimit::or(query.limit, 100))
        .await?;
    Ok(Json(TrashList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_after.map(encode),
    }))
}

/// Restore options.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// If the original name is taken now, use `name (1)` (default true); false makes that a
    /// conflict.
    #[serde(default = "yes")]
    autorename: bool,
}

fn yes() -> bool {
    true
}

/// Put a trashed item back where it was.
#[utoipa::path(
    post, path = "/trash/{id}/restore", tag = "trash",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The trashed item's id")),
    request_body = RestoreRequest,
    responses(
        (status = 200, description = "Restored", body = EntryResponse),
        (status = 404, description = "Not in the trash", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Its folder is in the trash too, or the name is taken and autorename is off", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn restore(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RestoreRequest>,
) -> Result<Json<EntryResponse>, ApiError> {
    let entry = state
        .files
        .restore(&caller, NodeId::from_uuid(id), body.autorename)
        .await?;
    Ok(Json(entry.into()))
}

/// Delete a trashed item for good.
#[utoipa::path(
    delete, path = "/trash/{id}", tag = "trash",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The trashed item's id")),
    responses(
        (status = 204, description = "Deleted for good"),
        (status = 404, description = "Not in the trash", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_permanently(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .files
        .delete_permanently(&caller, NodeId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many items emptying the trash deleted.
#[derive(Serialize, ToSchema)]
pub struct EmptiedTrash {
    /// Items deleted for good.
    deleted: u64,
}

/// Empty the trash.
#[utoipa::path(
    delete, path = "/trash", tag = "trash",
    security(("bearer" = [])),
    responses((status = 200, description = "Emptied", body = EmptiedTrash))
)]
async fn empty_trash(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<EmptiedTrash>, ApiError> {
    let deleted = state.files.empty_trash(&caller).await?;
    Ok(Json(EmptiedTrash { deleted }))
}
