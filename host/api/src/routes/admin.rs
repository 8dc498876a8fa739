//! Administration: users and invitations. Administrators only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use coffer_application::admin::{Actor, UserChanges};
use coffer_domain::account::UserId;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::account::AccountResponse;
use crate::cursors::{decode_page_token, encode_page_token};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller, PageLimit};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(create_invite))
}

/// Paging through users.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page size, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<PageLimit<1000>>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of users, ordered by email.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    /// The users.
    users: Vec<AccountResponse>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// List users.
#[utoipa::path(
    get, path = "/admin/users", tag = "admin",
    security(("bearer" = [])),
    params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_users(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<UserList>, ApiError> {
    let after: Option<String> = query.cursor.as_deref().map(decode_page_token).transpose()?;
    let page = state
        .admin
        .list_users(
            Actor::User(&caller),
            after.as_deref(),
            PageLimit::or(query.limit, 100),
        )
        .await
        .map_err(|err| match err {
            coffer_application::AppError::Invalid { .. } => ApiError::invalid_cursor(),
            other => other.into(),
        })?;
    Ok(Json(UserList {
        users: page.users.into_iter().map(Into::into).collect(),
        next_cursor: page
            .next_after
            .map(|email| encode_page_token(&email.as_str())),
    }))
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Email address.
    #[schema(example = "bob@example.org")]
    email: String,
    /// Its first password (at least 8 characters); tell it to the person.
    password: String,
    /// Whether it administers the server (default false).
    #[serde(default)]
    is_admin: bool,
}

/// Create an account, whatever the sign-up policy (administrators only).
#[utoipa::path(
    post, path = "/admin/users", tag = "admin",
    security(("bearer" = [])),
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Created", body = AccountResponse),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account has this email (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email or password", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_user(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<AccountResponse>), ApiError> {
    let account = state
        .admin
        .create_user(
            Actor::User(&caller),
            &body.email,
            &body.password,
            body.is_admin,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Get a user.
#[utoipa::path(
    get, path = "/admin/users/{user_id}", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = AccountResponse),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_user(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(user_id): ApiPath<Uuid>,
) -> Result<Json<AccountResponse>, ApiError> {
    let user = state
        .admin
        .get_user(&caller, UserId::from_uuid(user_id))
        .await?;
    Ok(Json(user.into()))
}

/// Changes to a user; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Disable (`true`) or enable (`false`) the account. A disabled account's tokens stop
    /// working at once.
    disabled: Option<bool>,
    /// Grant or revoke administration.
    is_admin: Option<bool>,
    /// The user's own quota in bytes, or `null` to use the server default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>, nullable)]
    quota_bytes: Option<Option<u64>>,
}

/// Tells a field that is `null` (`Some(None)`) from one that is absent (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Change a user: enable or disable, grant or revoke administration, set the quota.
///
/// All changes apply together or not at all. Administrators cannot disable or demote themselves.
#[utoipa::path(
    patch, path = "/admin/users/{user_id}", tag = "admin",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "The user's id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user", body = AccountResponse),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed (e.g. disabling yourself)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn update_user(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(user_id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<AccountResponse>, ApiError> {
    let changes = UserChanges {
        disabled: patch.disabled,
        is_admin: patch.is_admin,
        quota_bytes: patch.quota_bytes,
    };
    let user = state
        .admin
        .update_user(&caller, UserId::from_uuid(user_id), changes)
        .await?;
    Ok(Json(user.into()))
}

/// A new invitation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// If set, only this address can use the invitation.
    email: Option<String>,
}

/// An issued invitation. The code is shown only here.
#[derive(Serialize, ToSchema)]
pub struct InviteResponse {
    /// The invitation's id.
    id: Uuid,
    /// Give this to the invitee; they pass it as `invite_code` at sign-up.
    code: String,
    /// The only address that may use it, if restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// When it stops working.
    expires_at: DateTime<Utc>,
}

/// Create a single-use sign-up invitation.
#[utoipa::path(
    post, path = "/admin/invites", tag = "admin",
    security(("bearer" = [])),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "Invitation created", body = InviteResponse),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_invite(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InviteResponse>), ApiError> {
    let issued = state.admin.create_invite(&caller, body.email).await?;
    Ok((
        StatusCode::CREATED,
        Json(InviteResponse {
            id: issued.invite.id.as_uuid(),
            code: issued.code,
            email: issued.invite.email.map(|e| e.to_string()),
            expires_at: issued.invite.expires_at,
        }),
    ))
}
