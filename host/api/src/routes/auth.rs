//! Sign-up, login and logout.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use coffer_application::accounts::{LogIn, SignUp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::account::AccountResponse;
use crate::extract::{ApiJson, Caller, ClientAddress};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(log_out))
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Email address; also the login name.
    #[schema(example = "alice@example.org")]
    email: String,
    /// At least 8 characters.
    #[schema(example = "correct horse battery staple")]
    password: String,
    /// Required when sign-up is invite-only (except for the very first account).
    invite_code: Option<String>,
}

/// Create an account.
///
/// The first account of an installation becomes its administrator. Whether others may sign up
/// is the server's sign-up policy: open, invite-only or closed.
#[utoipa::path(
    post, path = "/auth/signup", tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = AccountResponse),
        (status = 403, description = "Sign-up closed, or the invitation is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email or password", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn sign_up(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<AccountResponse>), ApiError> {
    let account = state
        .accounts
        .sign_up(SignUp {
            email: body.email,
            password: body.password,
            invite_code: body.invite_code,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Credentials for a new token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    #[schema(example = "alice@example.org")]
    email: String,
    /// Password.
    #[schema(example = "correct horse battery staple")]
    password: String,
    /// A label for the token, e.g. the device (default "login").
    #[schema(example = "laptop")]
    token_name: Option<String>,
}

/// A new bearer token. The token is shown only here: store it.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// The token's id, to list or revoke it.
    token_id: Uuid,
    /// When the token stops working.
    expires_at: DateTime<Utc>,
}

/// Log in.
///
/// Failed attempts are throttled per account and per client address: past the limit the
/// answer is 429 with `Retry-After`, even for the right password.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn log_in(
    State(state): State<ApiState>,
    ClientAddress(client_address): ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let issued = state
        .accounts
        .log_in(LogIn {
            email: body.email,
            password: body.password,
            token_name: body.token_name,
            client_address,
        })
        .await?;
    Ok(Json(LoginResponse {
        access_token: issued.secret,
        token_type: "Bearer",
        token_id: issued.token.id.as_uuid(),
        expires_at: issued.token.expires_at,
    }))
}

/// Log out: revoke the token used for this request.
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Token revoked"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn log_out(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<StatusCode, ApiError> {
    state.accounts.log_out(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
