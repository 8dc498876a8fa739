//! Shared folders: an owner shares one of their folders and manages its members; members see
//! it in their tree, may leave it; the owner may unshare it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use coffer_application::files::{Member, SharedFolder};
use coffer_domain::account::UserId;
use coffer_domain::files::NamespaceId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath, Caller};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(share_folder, list_shared_folders))
        .routes(routes!(get_shared_folder, unshare_folder))
        .routes(routes!(leave_shared_folder))
        .routes(routes!(list_members, add_member))
        .routes(routes!(set_member_role, remove_member))
}

/// A folder to share.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// One of the caller's folders (`/path` or `id:<uuid>`), not inside a shared folder.
    #[schema(pattern = "^(/|id:)")]
    path: String,
}

/// A shared folder as the caller (a member) sees it.
#[derive(Serialize, ToSchema)]
pub struct SharedFolderResponse {
    /// The shared folder's id.
    id: Uuid,
    /// Where the caller sees it; absent if their mount point is in the trash.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// The id of the caller's mount point (the folder entry in their tree).
    mount_id: Uuid,
    /// The caller's role: `owner`, `editor` or `viewer`.
    role: String,
    /// Whether the caller may only read.
    read_only: bool,
    /// The owner's account id.
    owner_id: Uuid,
    /// The owner's email.
    owner_email: String,
}

impl From<SharedFolder> for SharedFolderResponse {
    fn from(folder: SharedFolder) -> Self {
        Self {
            id: folder.id.as_uuid(),
            path: folder.path.map(|p| p.to_string()),
            mount_id: folder.mount.as_uuid(),
            role: folder.role.as_str().into(),
            read_only: !folder.role.allows(coffer_domain::sharing::Need::Write),
            owner_id: folder.owner.as_uuid(),
            owner_email: folder.owner_email.as_str().into(),
        }
    }
}

/// The shared folders the caller is a member of.
#[derive(Serialize, ToSchema)]
pub struct SharedFolderList {
    /// Oldest membership first.
    folders: Vec<SharedFolderResponse>,
}

/// A member of a shared folder.
#[derive(Serialize, ToSchema)]
pub struct MemberResponse {
    /// The account's id.
    user_id: Uuid,
    /// Its email.
    email: String,
    /// `owner`, `editor` or `viewer`.
    role: String,
    /// When it joined.
    joined_at: DateTime<Utc>,
}

impl From<Member> for MemberResponse {
    fn from(member: Member) -> Self {
        Self {
            user_id: member.user.as_uuid(),
            email: member.email.as_str().into(),
            role: member.role.as_str().into(),
            joined_at: member.joined_at,
        }
    }
}

/// The members of a shared folder.
#[derive(Serialize, ToSchema)]
pub struct MemberList {
    /// The owner first, then by joining time.
    members: Vec<MemberResponse>,
}

/// A new member.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// The email of an existing account.
    email: String,
    /// `editor` or `viewer`.
    role: String,
}

/// A member's new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `editor` or `viewer`.
    role: String,
}

/// Share one of the caller's folders. Its content moves into the shared folder; the folder
/// stays where it is, with the same path and id.
#[utoipa::path(
    post, path = "/sharing/folders", tag = "sharing",
    security(("bearer" = [])),
    request_body = ShareRequest,
    responses(
        (status = 201, description = "Shared; the caller is its owner", body = SharedFolderResponse),
        (status = 404, description = "No folder at `path`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already shared", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A file, a folder inside a shared folder, or one holding a shared folder", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn share_folder(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ShareRequest>,
) -> Result<(StatusCode, Json<SharedFolderResponse>), ApiError> {
    let folder = state.files.share_folder(&caller, &body.path).await?;
    Ok((StatusCode::CREATED, Json(folder.into())))
}

/// List the shared folders the caller is a member of (owned ones included).
#[utoipa::path(
    get, path = "/sharing/folders", tag = "sharing",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's shared folders", body = SharedFolderList))
)]
async fn list_shared_folders(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<SharedFolderList>, ApiError> {
    let folders = state.files.shared_folders(&caller).await?;
    Ok(Json(SharedFolderList {
        folders: folders.into_iter().map(Into::into).collect(),
    }))
}

/// One shared folder the caller is a member of.
#[utoipa::path(
    get, path = "/sharing/folders/{id}", tag = "sharing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shared folder's id")),
    responses(
        (status = 200, description = "The shared folder", body = SharedFolderResponse),
        (status = 404, description = "The caller is no member of such a folder", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_shared_folder(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SharedFolderResponse>, ApiError> {
    let folder = state
        .files
        .shared_folder(&caller, NamespaceId::from_uuid(id))
        .await?;
    Ok(Json(folder.into()))
}

/// Unshare (owner only): every other member loses the folder; its content returns to the
/// owner's folder, which becomes a plain folder again.
#[utoipa::path(
    delete, path = "/sharing/folders/{id}", tag = "sharing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shared folder's id")),
    responses(
        (status = 204, description = "Unshared"),
        (status = 403, description = "The caller is a member but not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller is no member of such a folder", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn unshare_folder(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .files
        .unshare_folder(&caller, NamespaceId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave a shared folder (members other than the owner): it disappears from the caller's tree.
#[utoipa::path(
    post, path = "/sharing/folders/{id}/leave", tag = "sharing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shared folder's id")),
    responses(
        (status = 204, description = "Left"),
        (status = 404, description = "The caller is no member of such a folder", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The owner cannot leave (unshare instead)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn leave_shared_folder(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .files
        .leave_shared_folder(&caller, NamespaceId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a shared folder's members (any member may).
#[utoipa::path(
    get, path = "/sharing/folders/{id}/members", tag = "sharing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shared folder's id")),
    responses(
        (status = 200, description = "The members", body = MemberList),
        (status = 404, description = "The caller is no member of such a folder", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_members(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<MemberList>, ApiError> {
    let members = state
        .files
        .members(&caller, NamespaceId::from_uuid(id))
        .await?;
    Ok(Json(MemberList {
        members: members.into_iter().map(Into::into).collect(),
    }))
}

/// Add a member by email (owner only). The folder appears at the root of the member's tree.
///
/// An email without an account is invited, and the answer is the same as for an account: the
/// invitation is listed among the members (under an id of its own, which changes its role or
/// withdraws it) and becomes a membership when an account with that email is created.
#[utoipa::path(
    post, path = "/sharing/folders/{id}/members", tag = "sharing",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The shared folder's id")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "Added (or, for an email without an account, invited)", body = MemberResponse),
        (status = 403, description = "The caller is a member but not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such folder for the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member (or invited)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad email or role", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn add_member(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AddMemberRequest>,
) -> Result<(StatusCode, Json<MemberResponse>), ApiError> {
    let member = state
        .files
        .add_member(&caller, NamespaceId::from_uuid(id), &body.email, &body.role)
        .await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

/// Change a member's role (owner only).
#[utoipa::path(
    patch, path = "/sharing/folders/{id}/members/{user_id}", tag = "sharing",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The shared folder's id"),
        ("user_id" = Uuid, Path, description = "The member's account id"),
    ),
    request_body = RoleRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 403, description = "The caller is a member but not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such folder or member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad role, or the owner's own role", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn set_member_role(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath((id, user)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<RoleRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .files
        .set_member_role(
            &caller,
            NamespaceId::from_uuid(id),
            UserId::from_uuid(user),
            &body.role,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member (the owner removes others; a member may remove themselves).
#[utoipa::path(
    delete, path = "/sharing/folders/{id}/members/{user_id}", tag = "sharing",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The shared folder's id"),
        ("user_id" = Uuid, Path, description = "The member's account id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller may not remove others", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such folder or member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The owner cannot be removed (unshare instead)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn remove_member(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath((id, user)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state
        .files
        .remove_member(&caller, NamespaceId::from_uuid(id), UserId::from_uuid(user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
