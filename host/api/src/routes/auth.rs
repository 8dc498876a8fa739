//! Sign-up, login and logout; browser sessions (a cookie, see [`crate::sessions`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use coffer_application::AppError;
use coffer_application::accounts::{LogIn, SignUp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::account::AccountResponse;
use crate::extract::{ApiJson, Caller, ClientAddress};
use crate::problem::{ApiError, Problem};
use crate::sessions;
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(log_out))
        .routes(routes!(start_session, current_session, end_session))
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

/// A browser session: who is signed in, and the CSRF token every change must carry.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    /// Send as `X-CSRF-Token` with every request that changes something.
    csrf_token: String,
    /// The session's token id (listed among the account's tokens; revoking it ends the
    /// session).
    token_id: Uuid,
    /// The signed-in account.
    account: AccountResponse,
}

/// Start a browser session: log in and receive the session as an `HttpOnly`,
/// `SameSite=Strict` cookie (`coffer_session`), which script cannot read. Requests the cookie
/// authenticates that change something must carry the answer's `csrf_token` in
/// `X-CSRF-Token`. Throttled as `/auth/login` is.
#[utoipa::path(
    post, path = "/auth/session", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Signed in; the cookie is set", body = SessionResponse,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn start_session(
    State(state): State<ApiState>,
    ClientAddress(client_address): ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, HeaderValue); 1],
        Json<SessionResponse>,
    ),
    ApiError,
> {
    let issued = state
        .accounts
        .log_in(LogIn {
            email: body.email,
            password: body.password,
            token_name: Some(body.token_name.unwrap_or_else(|| "web browser".to_owned())),
            client_address,
        })
        .await?;
    let principal = state.accounts.authenticate(&issued.secret).await?;
    let account = state.accounts.account(&principal).await?;
    let max_age = (issued.token.expires_at - Utc::now()).num_seconds();
    let cookie = state.sessions.set_cookie(&issued.secret, max_age, &headers);
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(SessionResponse {
            csrf_token: state.sessions.csrf_token(&issued.secret),
            token_id: issued.token.id.as_uuid(),
            account: account.into(),
        }),
    ))
}

/// The browser session of the `coffer_session` cookie: the account and the CSRF token (a
/// page that was reloaded gets it here).
#[utoipa::path(
    get, path = "/auth/session", tag = "auth",
    security(("session" = [])),
    responses(
        (status = 200, description = "The session", body = SessionResponse),
        (status = 401, description = "No session cookie, or it ended", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn current_session(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<SessionResponse>, ApiError> {
    let secret = sessions::cookie_secret(&headers).ok_or(AppError::Unauthenticated)?;
    let principal = state.accounts.authenticate(secret).await?;
    let account = state.accounts.account(&principal).await?;
    Ok(Json(SessionResponse {
        csrf_token: state.sessions.csrf_token(secret),
        token_id: principal.token_id.as_uuid(),
        account: account.into(),
    }))
}

/// End the browser session: its token is revoked and the cookie removed.
#[utoipa::path(
    delete, path = "/auth/session", tag = "auth",
    security(("session" = [])),
    responses(
        (status = 204, description = "Signed out; the cookie is removed",
            headers(("set-cookie" = String, description = "The removed session cookie"))),
        (status = 401, description = "No session cookie, or it ended", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn end_session(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<(StatusCode, [(header::HeaderName, HeaderValue); 1]), ApiError> {
    // The cookie's session, whatever else the request carries.
    let secret = sessions::cookie_secret(&headers).ok_or(AppError::Unauthenticated)?;
    let caller = state.accounts.authenticate(secret).await?;
    state.sessions.require_csrf(secret, &headers)?;
    state.accounts.log_out(&caller).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, state.sessions.clear_cookie(&headers))],
    ))
}
