//! Shared links: owners create, list and revoke them; anyone with the URL (and the password, if
//! set) can read what a link reaches, without an account.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use coffer_application::files::{IssuedLink, LinkListing, LinkVisit, NewLink};
use coffer_domain::sharing::{LinkId, SharedLink};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::files::{
    Disposition, EntryResponse, decode_cursor, encode_cursor, read_request, served_response,
};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller, ClientAddress, PageLimit};
use crate::problem::{ApiError, Problem};
use crate::sessions;
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create_link, list_links))
        .routes(routes!(revoke_link))
        .routes(routes!(public_metadata))
        .routes(routes!(public_list))
        .routes(routes!(public_content))
}

/// A new shared link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    /// The file or folder (`/path` or `id:<uuid>`).
    #[schema(pattern = "^(/|id:)")]
    path: String,
    /// When the link stops working (RFC 3339, in the future); never if absent.
    expires_at: Option<DateTime<Utc>>,
    /// A password visitors must send as `X-Link-Password` (at least 8 characters).
    password: Option<String>,
    /// Whether visitors may download content (default true).
    #[serde(default = "yes")]
    allow_download: bool,
}

fn yes() -> bool {
    true
}

/// A shared link.
#[derive(Serialize, ToSchema)]
pub struct LinkResponse {
    /// The link's id (to revoke it).
    id: Uuid,
    /// The secret in the link's URL; only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// The public API path of the link; only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// What it links to, as the caller sees it; absent if that is in the trash, or outside
    /// the caller's tree (a member's folder that holds the caller's shared folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<EntryResponse>,
    /// The email of whoever made it (the owner of a shared folder also sees its members'
    /// links into it).
    created_by: String,
    /// When it stops working, if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    /// Whether visitors need a password.
    has_password: bool,
    /// Whether visitors may download content.
    allow_download: bool,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<DateTime<Utc>>,
}

fn link_response(
    link: SharedLink,
    token: Option<String>,
    target: Option<EntryResponse>,
    created_by: String,
) -> LinkResponse {
    LinkResponse {
        id: link.id.as_uuid(),
        url: token.as_ref().map(|t| format!("/api/v1/public/links/{t}")),
        token,
        target,
        created_by,
        expires_at: link.expires_at,
        has_password: link.password.is_some(),
        allow_download: link.allow_download,
        created_at: link.created_at,
        revoked_at: link.revoked_at,
    }
}

/// Create a shared link to a file or folder.
#[utoipa::path(
    post, path = "/links", tag = "links",
    security(("bearer" = [])),
    request_body = CreateLinkRequest,
    responses(
        (status = 201, description = "Created; `token` and `url` are shown only now", body = LinkResponse),
        (status = 403, description = "The caller may not publish this: a viewer's file, folder or mount point of a shared folder", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Nothing at `path`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Expiry not in the future, or password too short", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_link(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateLinkRequest>,
) -> Result<(StatusCode, Json<LinkResponse>), ApiError> {
    let IssuedLink {
        link,
        token,
        target,
        created_by,
    } = state
        .files
        .create_link(
            &caller,
            NewLink {
                path: body.path,
                expires_at: body.expires_at,
                password: body.password,
                allow_download: body.allow_download,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(link_response(
            link,
            Some(token),
            Some(target.into()),
            created_by,
        )),
    ))
}

/// The links the caller may see and revoke.
#[derive(Serialize, ToSchema)]
pub struct LinkList {
    /// Newest first (revoked ones included, marked).
    links: Vec<LinkResponse>,
}

/// List the caller's shared links, and every link into a shared folder the caller owns
/// (whoever made it).
#[utoipa::path(
    get, path = "/links", tag = "links",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's links and the links into their shared folders", body = LinkList))
)]
async fn list_links(
    State(state): State<ApiState>,
    Caller(caller): Caller,
) -> Result<Json<LinkList>, ApiError> {
    let links = state.files.list_links(&caller).await?;
    Ok(Json(LinkList {
        links: links
            .into_iter()
            .map(
                |LinkListing {
                     link,
                     created_by,
                     target,
                 }| link_response(link, None, target.map(Into::into), created_by),
            )
            .collect(),
    }))
}

/// Revoke a shared link the caller made, or one into a shared folder the caller owns: visitors
/// get 410 from now on.
#[utoipa::path(
    delete, path = "/links/{id}", tag = "links",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The link's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such link among those the caller may revoke", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn revoke_link(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .files
        .revoke_link(&caller, LinkId::from_uuid(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where within a link.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkPathQuery {
    /// Path relative to the link (default `/`, the linked item itself).
    #[param(pattern = "^/")]
    path: Option<String>,
}

/// A download within a link.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkContentQuery {
    /// Path relative to the link (default `/`, the linked item itself).
    #[param(pattern = "^/")]
    path: Option<String>,
    /// `inline` asks the browser to show a PDF, a raster image or plain text instead of saving
    /// it; anything else is always an attachment.
    #[param(inline)]
    disposition: Option<Disposition>,
}

/// Listing within a link.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkListQuery {
    /// Folder relative to the link (default `/`). Ignored when `cursor` is given.
    #[param(pattern = "^/")]
    path: Option<String>,
    /// Page size, 1 to 2000 (default 500).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2000)]
    limit: Option<PageLimit<2000>>,
    /// `cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of a folder reached through a link.
#[derive(Serialize, ToSchema)]
pub struct LinkFolderListing {
    /// Entries in name order; paths are relative to the link.
    entries: Vec<EntryResponse>,
    /// Whether another page may follow.
    has_more: bool,
    /// Pass as `cursor` to get the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// The request header that carries a link's password.
const PASSWORD_HEADER: &str = "x-link-password";
/// The header that carries a link pass: in answers after a right password, and in requests
/// instead of the password.
const PASS_HEADER: &str = "x-link-pass";

fn visit(
    state: &ApiState,
    token: String,
    headers: &HeaderMap,
    client_address: Option<std::net::IpAddr>,
) -> LinkVisit {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let pass = text(PASS_HEADER).or_else(|| sessions::cookie(headers, sessions::LINK_PASS_COOKIE));
    LinkVisit {
        pass: pass.is_some_and(|raw| state.link_passes.check(raw, &token, Utc::now())),
        password: text(PASSWORD_HEADER).map(str::to_owned),
        token,
        client_address,
    }
}

/// A visit's successful answer; after a right password (the visit got in with one, not with a
/// pass) it carries a pass for the next requests: in `X-Link-Pass`, and in a cookie scoped to
/// the link's public URLs (for a browser's plain links and images).
fn answer(
    state: &ApiState,
    visit: &LinkVisit,
    headers: &HeaderMap,
    mut response: Response,
) -> Response {
    if visit.password.is_some() && !visit.pass {
        let pass = state.link_passes.issue(&visit.token, Utc::now());
        if let Ok(value) = HeaderValue::from_str(&pass) {
            response.headers_mut().insert(PASS_HEADER, value);
        }
        if let Some(cookie) = state
            .sessions
            .link_pass_cookie(&visit.token, &pass, headers)
        {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// Metadata of a linked item, or of a path below a linked folder (no account needed).
#[utoipa::path(
    get, path = "/public/links/{token}", tag = "links",
    params(("token" = String, Path, description = "The link's token"), LinkPathQuery,
           ("X-Link-Password" = Option<String>, Header, description = "The link's password, if it has one")),
    responses(
        (status = 200, description = "Metadata; paths are relative to the link", body = EntryResponse,
         headers(("X-Link-Pass" = String, description = "After a right password: a pass to send instead of the password for 15 minutes"))),
        (status = 401, description = "Password missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such link, or nothing at that path", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Revoked or expired", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn public_metadata(
    State(state): State<ApiState>,
    ApiPath(token): ApiPath<String>,
    ApiQuery(query): ApiQuery<LinkPathQuery>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let visit = visit(&state, token, &headers, address);
    let path = query.path.as_deref().unwrap_or("/");
    let entry: EntryResponse = state.files.link_metadata(&visit, path).await?.into();
    Ok(answer(
        &state,
        &visit,
        &headers,
        Json(entry).into_response(),
    ))
}

/// List a linked folder, or a folder below it (no account needed).
#[utoipa::path(
    get, path = "/public/links/{token}/list", tag = "links",
    params(("token" = String, Path, description = "The link's token"), LinkListQuery,
           ("X-Link-Password" = Option<String>, Header, description = "The link's password, if it has one")),
    responses(
        (status = 200, description = "A page of entries", body = LinkFolderListing,
         headers(("X-Link-Pass" = String, description = "After a right password: a pass to send instead of the password for 15 minutes"))),
        (status = 401, description = "Password missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Revoked or expired", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn public_list(
    State(state): State<ApiState>,
    ApiPath(token): ApiPath<String>,
    ApiQuery(query): ApiQuery<LinkListQuery>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let visit = visit(&state, token, &headers, address);
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let path = query.path.as_deref().unwrap_or("/");
    let page = state
        .files
        .link_list(&visit, path, PageLimit::or(query.limit, 500), cursor)
        .await?;
    let listing = LinkFolderListing {
        entries: page.entries.into_iter().map(Into::into).collect(),
        has_more: page.cursor.is_some(),
        cursor: page.cursor.as_ref().map(encode_cursor),
    };
    Ok(answer(
        &state,
        &visit,
        &headers,
        Json(listing).into_response(),
    ))
}

/// Download a linked file, or a file below a linked folder (no account needed); supports
/// `Range`, `ETag` and `If-None-Match` like `/files/content`.
#[utoipa::path(
    get, path = "/public/links/{token}/content", tag = "links",
    params(("token" = String, Path, description = "The link's token"), LinkContentQuery,
           ("X-Link-Password" = Option<String>, Header, description = "The link's password, if it has one")),
    responses(
        (status = 200, description = "The file's bytes, as the media type it was stored with (or guessed from its name)", content_type = "*/*",
         headers(("X-Link-Pass" = String, description = "After a right password: a pass to send instead of the password for 15 minutes"))),
        (status = 206, description = "The requested range", content_type = "*/*"),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 401, description = "Password missing or wrong", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The link does not allow downloads", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Revoked or expired", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range outside the file", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn public_content(
    State(state): State<ApiState>,
    ApiPath(token): ApiPath<String>,
    ApiQuery(query): ApiQuery<LinkContentQuery>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let visit = visit(&state, token, &headers, address);
    let path = query.path.as_deref().unwrap_or("/");
    // One visit: the password is checked once, and the conditions against the bytes served.
    let served = state
        .files
        .link_download(&visit, path, read_request(&headers))
        .await?;
    Ok(answer(
        &state,
        &visit,
        &headers,
        served_response(served, query.disposition.unwrap_or_default()),
    ))
}
