//! The caller's own account and tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use coffer_application::accounts::{AccountView, TokenListing};
use coffer_domain::account::TokenId;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiPath, Caller};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(get_account))
        .routes(routes!(list_tokens))
        .routes(routes!(revoke_token))
}

/// An account.
#[derive(Serialize, ToSchema)]
pub struct AccountResponse {
    /// The account's id.
    id: Uuid,
    /// Email address (normalised to lower case).
    email: String,
    /// Whether the account administers the server.
    is_admin: bool,
    /// Whether an administrator disabled the account.
    disabled: bool,
    /// Storage quota in bytes: the account's own or the server default, unless a quota plugin
    /// sets another.
    quota_bytes: u64,
    /// Bytes used by the account's live files (not the trash, not old revisions).
    used_bytes: u64,
    /// When the account was created.
    created_at: DateTime<Utc>,
}

impl From<AccountView> for AccountResponse {
    fn from(view: AccountView) -> Self {
        Self {
            id: view.user.id().as_uuid(),
            email: view.user.email().to_string(),
            is_admin: view.user.is_admin(),
            disabled: !view.user.is_active(),
            quota_bytes: view.quota.get(),
            used_bytes: view.used,
            created_at: view.user.created_at(),
        }
    }
}

/// Get the caller's account.
#[utoipa::path(
    get, path = "/account", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = AccountResponse),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_account(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<AccountResponse>, ApiError> {
    Ok(Json(state.accounts.account(&caller).await?.into()))
}

/// A live token (the secret itself is never shown again).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The token's id.
    id: Uuid,
    /// Its label.
    name: String,
    /// When it was issued.
    created_at: DateTime<Utc>,
    /// When it stops working.
    expires_at: DateTime<Utc>,
    /// Whether this request was made with it.
    current: bool,
}

/// The caller's live tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    /// Newest first.
    tokens: Vec<TokenResponse>,
}

impl From<TokenListing> for TokenResponse {
    fn from(listing: TokenListing) -> Self {
        Self {
            id: listing.token.id.as_uuid(),
            name: listing.token.name.as_str().to_owned(),
            created_at: listing.token.created_at,
            expires_at: listing.token.expires_at,
            current: listing.is_current,
        }
    }
}

/// List the caller's live tokens.
#[utoipa::path(
    get, path = "/account/tokens", tag = "account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Live tokens, newest first", body = TokenList),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_tokens(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = state.accounts.list_tokens(&caller).await?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(Into::into).collect(),
    }))
}

/// Revoke one of the caller's tokens.
#[utoipa::path(
    delete, path = "/account/tokens/{token_id}", tag = "account",
    security(("bearer" = [])),
    params(("token_id" = Uuid, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no such token", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn revoke_token(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(token_id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .accounts
        .revoke_token(&caller, TokenId::from_uuid(token_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
