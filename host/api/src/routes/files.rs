//! Files and folders: upload, download, metadata, listing, folders, move, copy, delete,
//! revisions. Every `path` is `/a/b.txt` (case-insensitive, case-preserving) or `id:<uuid>`.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use coffer_application::files::{
    Download, Entry, FeedEntry, ListCursor, ListFrame, RangeRequest, ReadRequest, RevisionTest,
    Served, Upload, UploadMode, UploadOutcome,
};
use coffer_application::ports::ContentError;
use coffer_domain::files::{NodeId, NodeKind, Revision};
use futures_util::TryStreamExt;
use headers::{ETag, HeaderMapExt, IfNoneMatch, IfRange, LastModified};
use http_range_header::{EndPosition, StartPosition};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::cursors::{decode_page_token, encode_page_token};
use crate::extract::{ApiJson, ApiQuery, Caller, PageLimit};
use crate::problem::{ApiError, ErrorCode, Problem};
use crate::state::ApiState;

pub fn router() -> OpenApiRouter<ApiState> {
    // Upload bodies are streamed, whatever their size; every other body keeps the default limit.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(download))
        .routes(routes!(metadata))
        .routes(routes!(list_folder))
        .routes(routes!(search))
        .routes(routes!(latest_cursor))
        .routes(routes!(continue_changes))
        .routes(routes!(longpoll))
        .routes(routes!(create_folder))
        .routes(routes!(move_entry))
        .routes(routes!(copy_entry))
        .routes(routes!(delete_entry))
        .routes(routes!(list_revisions))
        .routes(routes!(restore_revision))
}

/// File or folder.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A file.
    File,
    /// A folder.
    Folder,
}

/// Metadata of a file or folder.
#[derive(Serialize, ToSchema)]
pub struct EntryResponse {
    /// `file` or `folder`.
    kind: EntryKind,
    /// Stable id; use `id:<id>` as a path to address it wherever it moves.
    id: Uuid,
    /// Name, as stored (case preserved).
    name: String,
    /// Display path from the root.
    path: String,
    /// Files: the current revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    rev: Option<String>,
    /// Files: size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// Files: Dropbox-compatible content hash (SHA-256 over the SHA-256 of each 4 MiB block).
    #[serde(skip_serializing_if = "Option::is_none")]
    content_hash: Option<String>,
    /// Files: modification time reported by the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_modified: Option<DateTime<Utc>>,
    /// When the server last changed it.
    server_modified: DateTime<Utc>,
    /// When it was moved to the trash, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    trashed_at: Option<DateTime<Utc>>,
    /// Folders that are a shared folder (the caller's mount point of it): the shared folder's
    /// id, as used under `/sharing/folders`.
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_folder_id: Option<Uuid>,
}

impl From<Entry> for EntryResponse {
    fn from(entry: Entry) -> Self {
        let node = entry.node;
        let file = node.file.as_ref();
        Self {
            kind: match node.kind {
                NodeKind::File => EntryKind::File,
                NodeKind::Folder => EntryKind::Folder,
            },
            id: node.id.as_uuid(),
            name: node.name.to_string(),
            path: entry.path.to_string(),
            rev: file.map(|f| f.revision.rev()),
            size: file.map(|f| f.size.get()),
            content_hash: file.map(|f| f.content_hash.to_hex()),
            client_modified: file.map(|f| f.client_modified),
            server_modified: node.modified_at,
            trashed_at: node.trashed_at,
            shared_folder_id: node.mount.map(|m| m.as_uuid()),
        }
    }
}

/// Names a file or folder.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// `/folder/file.txt` or `id:<uuid>`.
    #[param(pattern = "^(/|id:)")]
    path: String,
}

/// Write mode of an upload.
#[derive(Deserialize, ToSchema, Clone, Copy, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Never replace a file (default).
    #[default]
    Add,
    /// Always replace.
    Overwrite,
    /// Replace only if `rev` is the current revision.
    Update,
}

impl Mode {
    /// The use case's write mode; `update` needs the `rev` the client last saw.
    pub(crate) fn with_rev(self, rev: Option<String>) -> Result<UploadMode, ApiError> {
        match (self, rev) {
            (Mode::Add, _) => Ok(UploadMode::Add),
            (Mode::Overwrite, _) => Ok(UploadMode::Overwrite),
            (Mode::Update, Some(rev)) => Ok(UploadMode::Update(rev)),
            (Mode::Update, None) => Err(ApiError::new(
                ErrorCode::InvalidParameter,
                "mode=update needs the rev the client last saw",
            )
            .with_field("rev")),
        }
    }
}

/// An upload's answer: 201 with the file if it was created, 200 otherwise.
pub(crate) fn stored_response(outcome: UploadOutcome) -> Response {
    let status = match outcome {
        UploadOutcome::Created(_) => StatusCode::CREATED,
        UploadOutcome::Replaced(_) | UploadOutcome::Unchanged(_) => StatusCode::OK,
    };
    let entry = match outcome {
        UploadOutcome::Created(e) | UploadOutcome::Replaced(e) | UploadOutcome::Unchanged(e) => e,
    };
    (status, Json(EntryResponse::from(entry))).into_response()
}

/// Upload parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Where to store the file; missing parent folders are created.
    #[param(pattern = "^/")]
    path: String,
    /// `add` (default), `overwrite` or `update`.
    #[serde(default)]
    mode: Mode,
    /// With `mode=update`: the revision the client last saw.
    rev: Option<String>,
    /// On conflict, store as `name (1).ext` instead of failing.
    #[serde(default)]
    autorename: bool,
    /// The file's modification time on the client (RFC 3339).
    client_modified: Option<DateTime<Utc>>,
    /// Expected content hash; if the upload differs, nothing is stored.
    content_hash: Option<String>,
}

/// Upload a file (the body is the content, streamed).
///
/// Uploading content identical to the current revision changes nothing and is not a conflict.
/// Nothing is stored unless the whole body arrives intact.
#[utoipa::path(
    put, path = "/files/content", tag = "files",
    security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, description = "File created", body = EntryResponse),
        (status = 200, description = "New revision stored, or identical content already there", body = EntryResponse),
        (status = 400, description = "Bad path or parameters, hash mismatch, incomplete body", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflict with what is at the path", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Quota exceeded; nothing stored", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn upload(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mode = query.mode.with_rev(query.rev)?;
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let input = Upload {
        path: query.path,
        mode,
        autorename: query.autorename,
        client_modified: query.client_modified,
        media_type: header_text(header::CONTENT_TYPE)
            .filter(|t| is_file_media_type(t))
            .map(str::to_owned),
        content_hash: query.content_hash,
        length: header_text(header::CONTENT_LENGTH).and_then(|l| l.parse().ok()),
    };
    let content = body
        .into_data_stream()
        .map_err(|err| ContentError::Source(format!("the upload body failed: {err}")));
    let outcome = state
        .files
        .upload(&caller, input, Box::pin(content))
        .await?;
    Ok(stored_response(outcome))
}

/// Download parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `/folder/file.txt` or `id:<uuid>`.
    #[param(pattern = "^(/|id:)")]
    path: String,
    /// A specific revision (default: the current one).
    rev: Option<String>,
    /// `inline` asks the browser to show a PDF, a raster image or plain text instead of saving
    /// it; anything else (HTML, SVG, …) is always an attachment.
    #[param(inline)]
    disposition: Option<Disposition>,
}

/// How a browser should treat a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Save it (the default).
    #[default]
    Attachment,
    /// Show it, for the media types a browser shows without running anything of it.
    Inline,
}

/// Media types shown inline when asked: none of them can run script in this origin.
const SHOWN_INLINE: [&str; 6] = [
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
];

/// Download a file (streamed).
///
/// Supports `Range: bytes=…` (one range; 206, or 416 outside the file), `ETag` (the content
/// hash) with `If-None-Match` (304) and `If-Range`.
#[utoipa::path(
    get, path = "/files/content", tag = "files",
    security(("bearer" = [])),
    params(DownloadQuery),
    responses(
        (status = 200, description = "The file's bytes, as the media type it was stored with (or guessed from its name)", content_type = "*/*"),
        (status = 206, description = "The requested range", content_type = "*/*"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such file or revision", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range outside the file", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn download(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // The conditions are evaluated against the revision served, in the read that picks it.
    let served = state
        .files
        .download(
            &caller,
            &query.path,
            query.rev.as_deref(),
            read_request(&headers),
        )
        .await?;
    Ok(served_response(
        served,
        query.disposition.unwrap_or_default(),
    ))
}

/// What a download request asks for: its range, `If-None-Match` and `If-Range`, read with
/// the `headers` and `http-range-header` parsers. A header that does not parse is ignored, as
/// RFC 9110 allows: the whole content is served.
pub(crate) fn read_request(headers: &HeaderMap) -> ReadRequest {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let if_none_match = headers.typed_get::<IfNoneMatch>();
    let if_range = headers.typed_get::<IfRange>();
    ReadRequest {
        range,
        // `If-None-Match` compares weakly: "not modified" when a listed tag names the content.
        not_modified_if: if_none_match.map(|condition| {
            RevisionTest::new(move |revision| !condition.precondition_passes(&entity_tag(revision)))
        }),
        // `If-Range` compares strongly, or by date against `Last-Modified`.
        range_only_if: if_range.map(|condition| {
            RevisionTest::new(move |revision| {
                !condition.is_modified(Some(&entity_tag(revision)), Some(&last_modified(revision)))
            })
        }),
    }
}

/// A revision's entity tag: its content hash, strong.
fn entity_tag(revision: &Revision) -> ETag {
    format!("\"{}\"", revision.content_hash().to_hex())
        .parse()
        .expect("a hex digest in quotes is an entity tag")
}

/// A revision's `Last-Modified`: when it was made, to the second as HTTP dates are.
fn last_modified(revision: &Revision) -> LastModified {
    let seconds = u64::try_from(revision.created_at().timestamp()).unwrap_or(0);
    LastModified::from(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// The answer to a download: 304 with the tag, or the content.
pub(crate) fn served_response(served: Served, disposition: Disposition) -> Response {
    match served {
        Served::NotModified(_, revision) => {
            let etag = format!("\"{}\"", revision.content_hash().to_hex());
            (
                StatusCode::NOT_MODIFIED,
                [(header::ETAG, header_value(&etag))],
            )
                .into_response()
        }
        Served::Content(download) => download_response(download, disposition),
    }
}

/// Streams a download with its headers: type, length, `ETag`, ranges, and `attachment` (or
/// `inline` for the few types that run nothing) so a browser never renders stored content as a
/// page of this site.
fn download_response(download: Download, disposition: Disposition) -> Response {
    let (start, end) = download.range;
    let size = download.revision.size().get();
    let etag = format!("\"{}\"", download.revision.content_hash().to_hex());
    let node = download.entry.node.id;
    let content = download.content.inspect_err(move |err| {
        // Headers are sent by now: the client sees a cut connection, the log says why.
        tracing::error!(%node, error = %err, "download failed mid-stream");
    });
    let mut response = Response::new(Body::from_stream(content));
    *response.status_mut() = if download.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let headers = response.headers_mut();
    let media_type = media_type(&download.revision, download.entry.node.name.as_str());
    headers.insert(header::CONTENT_TYPE, header_value(&media_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    headers.insert(header::ETAG, header_value(&etag));
    headers.insert(
        header::LAST_MODIFIED,
        header_value(&http_date(download.revision.created_at())),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(
            download.entry.node.name.as_str(),
            disposition == Disposition::Inline && shown_inline(&media_type),
        )),
    );
    if download.partial {
        let range = format!("bytes {start}-{}/{size}", end - 1);
        headers.insert(header::CONTENT_RANGE, header_value(&range));
    }
    response
}

/// Whether a request's `Content-Type` describes the file (rather than being a generic default,
/// such as curl's form encoding for `--data-binary`).
fn is_file_media_type(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    !matches!(
        essence.as_str(),
        "" | "application/octet-stream"
            | "application/x-www-form-urlencoded"
            | "multipart/form-data"
    )
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// The stored media type, else one guessed from the name, else `application/octet-stream`.
fn media_type(revision: &Revision, name: &str) -> String {
    revision
        .media_type()
        .filter(|t| HeaderValue::from_str(t).is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            mime_guess::from_path(name)
                .first_or_octet_stream()
                .to_string()
        })
}

/// Whether `media_type` (parameters aside) may be shown inline.
fn shown_inline(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    SHOWN_INLINE
        .iter()
        .any(|safe| safe.eq_ignore_ascii_case(essence))
}

/// `attachment` (or `inline`) with the name in RFC 5987 form, so any name is safe in the
/// header.
fn content_disposition(name: &str, inline: bool) -> String {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    // An ASCII stand-in first, for clients that do not read `filename*`.
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// A time as an HTTP date (`Last-Modified`).
pub(crate) fn http_date(at: chrono::DateTime<Utc>) -> String {
    httpdate::fmt_http_date(at.into())
}

/// One range of `bytes=…` as `http-range-header` reads it; several ranges or anything
/// malformed is ignored (the whole file is served), as HTTP allows.
fn parse_range(value: &str) -> Option<RangeRequest> {
    let parsed = http_range_header::parse_range_header(value).ok()?;
    let [range] = parsed.ranges.as_slice() else {
        return None;
    };
    match (range.start, range.end) {
        (StartPosition::FromLast(n), _) => Some(RangeRequest::Suffix(n)),
        (StartPosition::Index(start), EndPosition::LastByte) => {
            Some(RangeRequest::From { start, end: None })
        }
        (StartPosition::Index(start), EndPosition::Index(end)) => Some(RangeRequest::From {
            start,
            end: Some(end),
        }),
    }
}

/// Get the metadata of a file or folder.
#[utoipa::path(
    get, path = "/files/metadata", tag = "files",
    security(("bearer" = [])),
    params(PathQuery),
    responses(
        (status = 200, description = "Metadata", body = EntryResponse),
        (status = 404, description = "Nothing there", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn metadata(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PathQuery>,
) -> Result<Json<EntryResponse>, ApiError> {
    Ok(Json(
        state.files.metadata(&caller, &query.path).await?.into(),
    ))
}

/// Listing parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The folder (default `/`). Ignored when `cursor` is given.
    #[param(pattern = "^(/|id:)")]
    path: Option<String>,
    /// Include everything below, depth-first.
    #[serde(default)]
    recursive: bool,
    /// Page size, 1 to 2000 (default 500).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2000)]
    limit: Option<PageLimit<2000>>,
    /// `cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of a folder listing.
#[derive(Serialize, ToSchema)]
pub struct FolderListing {
    /// Entries in name order (depth-first when recursive).
    entries: Vec<EntryResponse>,
    /// Whether another page may follow.
    has_more: bool,
    /// Pass as `cursor` to get the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    /// First page only: a change cursor from the moment the listing began. After the last
    /// page, pass it to `/files/list/continue` (or longpoll with it) to follow what changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    change_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CursorToken {
    r: bool,
    f: Vec<(Uuid, Option<String>)>,
}

pub(crate) fn encode_cursor(cursor: &ListCursor) -> String {
    let token = CursorToken {
        r: cursor.recursive,
        f: cursor
            .frames
            .iter()
            .map(|f| (f.folder.as_uuid(), f.after.clone()))
            .collect(),
    };
    encode_page_token(&token)
}

pub(crate) fn decode_cursor(raw: &str) -> Result<ListCursor, ApiError> {
    let token: CursorToken = decode_page_token(raw)?;
    Ok(ListCursor {
        recursive: token.r,
        frames: token
            .f
            .into_iter()
            .map(|(folder, after)| ListFrame {
                folder: NodeId::from_uuid(folder),
                after,
            })
            .collect(),
    })
}

/// List a folder, a page at a time; the cost of a page does not grow with the folder.
#[utoipa::path(
    get, path = "/files/list", tag = "files",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of entries", body = FolderListing),
        (status = 400, description = "Bad path or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such folder", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_folder(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<FolderListing>, ApiError> {
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let path = query.path.as_deref().unwrap_or("/");
    // Taken before the first page is read, so no change slips between listing and following.
    let change_cursor = match (&cursor, query.recursive) {
        (Some(_), _) => None,
        (None, recursive) => match state.files.latest_cursor(&caller, path, recursive).await {
            Ok(change) => Some(state.cursors.encode(&change)),
            // Listing reports its own errors (a file is listed as "only folders can be listed").
            Err(_) => None,
        },
    };
    let page = state
        .files
        .list_folder(
            &caller,
            path,
            query.recursive,
            PageLimit::or(query.limit, 500),
            cursor,
        )
        .await?;
    Ok(Json(FolderListing {
        entries: page.entries.into_iter().map(Into::into).collect(),
        has_more: page.cursor.is_some(),
        cursor: page.cursor.as_ref().map(encode_cursor),
        change_cursor,
    }))
}

/// A new folder.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolderRequest {
    /// Where.
    #[schema(example = "/Photos/2026")]
    #[schema(pattern = "^/")]
    path: String,
    /// Create missing folders above it too.
    #[serde(default)]
    parents: bool,
    /// If the name is taken, use `name (1)`.
    #[serde(default)]
    autorename: bool,
}

/// Create a folder.
#[utoipa::path(
    post, path = "/files/folders", tag = "files",
    security(("bearer" = [])),
    request_body = CreateFolderRequest,
    responses(
        (status = 201, description = "Created", body = EntryResponse),
        (status = 404, description = "The parent folder does not exist (and parents=false)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Something is there", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_folder(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CreateFolderRequest>,
) -> Result<(StatusCode, Json<EntryResponse>), ApiError> {
    let entry = state
        .files
        .create_folder(&caller, &body.path, body.parents, body.autorename)
        .await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// A move or copy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelocateRequest {
    /// The file or folder (`/path` or `id:<uuid>`).
    #[schema(pattern = "^(/|id:)")]
    from: String,
    /// The new path (missing parent folders are created).
    #[schema(pattern = "^/")]
    to: String,
    /// If `to` is taken, use `name (1)`.
    #[serde(default)]
    autorename: bool,
}

/// Move or rename a file or folder (a folder moves in one step, whatever it holds).
#[utoipa::path(
    post, path = "/files/move", tag = "files",
    security(("bearer" = [])),
    request_body = RelocateRequest,
    responses(
        (status = 200, description = "Moved", body = EntryResponse),
        (status = 404, description = "Nothing at `from`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`to` is taken, or a folder would move into itself", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn move_entry(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<RelocateRequest>,
) -> Result<Json<EntryResponse>, ApiError> {
    let entry = state
        .files
        .move_entry(&caller, &body.from, &body.to, body.autorename)
        .await?;
    Ok(Json(entry.into()))
}

/// Copy a file or folder (content is shared, not duplicated; it counts against the quota).
#[utoipa::path(
    post, path = "/files/copy", tag = "files",
    security(("bearer" = [])),
    request_body = RelocateRequest,
    responses(
        (status = 201, description = "Copied", body = EntryResponse),
        (status = 409, description = "`to` is taken, or a folder would copy into itself", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many entries to copy at once", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn copy_entry(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<RelocateRequest>,
) -> Result<(StatusCode, Json<EntryResponse>), ApiError> {
    let entry = state
        .files
        .copy_entry(&caller, &body.from, &body.to, body.autorename)
        .await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// What to delete.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// `/path` or `id:<uuid>`.
    #[schema(pattern = "^(/|id:)")]
    path: String,
}

/// Move a file or folder to the trash.
#[utoipa::path(
    post, path = "/files/delete", tag = "files",
    security(("bearer" = [])),
    request_body = DeleteRequest,
    responses(
        (status = 200, description = "In the trash", body = EntryResponse),
        (status = 404, description = "Nothing there", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_entry(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<DeleteRequest>,
) -> Result<Json<EntryResponse>, ApiError> {
    Ok(Json(state.files.delete(&caller, &body.path).await?.into()))
}

/// One revision of a file.
#[derive(Serialize, ToSchema)]
pub struct RevisionResponse {
    /// The revision.
    rev: String,
    /// Size in bytes.
    size: u64,
    /// Content hash.
    content_hash: String,
    /// Client modification time.
    client_modified: DateTime<Utc>,
    /// When the server stored it.
    server_modified: DateTime<Utc>,
}

impl From<Revision> for RevisionResponse {
    fn from(revision: Revision) -> Self {
        Self {
            rev: revision.id().rev(),
            size: revision.size().get(),
            content_hash: revision.content_hash().to_hex(),
            client_modified: revision.client_modified(),
            server_modified: revision.created_at(),
        }
    }
}

/// A file's revisions.
#[derive(Serialize, ToSchema)]
pub struct RevisionList {
    /// The file.
    file: EntryResponse,
    /// Newest first.
    revisions: Vec<RevisionResponse>,
}

/// Revision listing parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevisionsQuery {
    /// `/path` or `id:<uuid>`.
    #[param(pattern = "^(/|id:)")]
    path: String,
    /// How many, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<PageLimit<100>>,
}

/// List a file's revisions (replaced revisions are kept for the configured retention).
#[utoipa::path(
    get, path = "/files/revisions", tag = "files",
    security(("bearer" = [])),
    params(RevisionsQuery),
    responses(
        (status = 200, description = "Revisions, newest first", body = RevisionList),
        (status = 404, description = "No such file", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_revisions(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<RevisionsQuery>,
) -> Result<Json<RevisionList>, ApiError> {
    let (entry, revisions) = state
        .files
        .revisions(&caller, &query.path, PageLimit::or(query.limit, 20))
        .await?;
    Ok(Json(RevisionList {
        file: entry.into(),
        revisions: revisions.into_iter().map(Into::into).collect(),
    }))
}

/// Which revision to bring back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRevisionRequest {
    /// The file.
    #[schema(pattern = "^(/|id:)")]
    path: String,
    /// The revision to make current (as a new revision).
    rev: String,
}

/// Restore an old revision of a file.
#[utoipa::path(
    post, path = "/files/restore-revision", tag = "files",
    security(("bearer" = [])),
    request_body = RestoreRevisionRequest,
    responses(
        (status = 200, description = "The file, with the old content current again", body = EntryResponse),
        (status = 404, description = "No such file or revision", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn restore_revision(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<RestoreRevisionRequest>,
) -> Result<Json<EntryResponse>, ApiError> {
    let outcome = state
        .files
        .restore_revision(&caller, &body.path, &body.rev)
        .await?;
    let entry = match outcome {
        UploadOutcome::Created(e) | UploadOutcome::Replaced(e) | UploadOutcome::Unchanged(e) => e,
    };
    Ok(Json(entry.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_like_http_says() {
        assert_eq!(
            parse_range("bytes=0-99"),
            Some(RangeRequest::From {
                start: 0,
                end: Some(99)
            })
        );
        assert_eq!(
            parse_range("bytes=100-"),
            Some(RangeRequest::From {
                start: 100,
                end: None
            })
        );
        assert_eq!(parse_range("bytes=-5"), Some(RangeRequest::Suffix(5)));
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=",
            "bytes=5",
        ] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
    }

    /// A revision of `content` made at 2026-01-02 03:04:05.678 UTC.
    fn revision(content: &[u8]) -> Revision {
        use chrono::TimeZone;
        use coffer_domain::account::ByteCount;
        use coffer_domain::files::{BlockHash, RevisionId};
        let made = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::milliseconds(678);
        Revision::new(
            RevisionId::from_uuid(Uuid::from_u128(1)),
            NodeId::from_uuid(Uuid::from_u128(2)),
            ByteCount::new(content.len() as u64).unwrap(),
            vec![BlockHash::of(content)],
            None,
            made,
            made,
        )
        .unwrap()
    }

    fn request(pairs: &[(header::HeaderName, &str)]) -> ReadRequest {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name, HeaderValue::from_str(value).unwrap());
        }
        read_request(&headers)
    }

    #[test]
    fn if_none_match_compares_tag_lists_weakly() {
        let served = revision(b"served");
        let tag = served.content_hash().to_hex();
        let other = revision(b"other").content_hash().to_hex();
        let holds = |value: &str| {
            request(&[(header::IF_NONE_MATCH, value)])
                .not_modified_if
                .is_some_and(|test| test.holds(&served))
        };
        assert!(holds("*"));
        assert!(holds(&format!("\"{other}\", W/\"{tag}\"")));
        assert!(holds(&format!("\"{tag}\"")));
        assert!(!holds(&format!("\"{other}\"")));
        assert!(!holds(&tag), "an unquoted tag is not a tag");
    }

    #[test]
    fn if_range_needs_the_strong_tag_or_the_exact_date() {
        let served = revision(b"served");
        let tag = served.content_hash().to_hex();
        let keeps_range = |value: &str| {
            request(&[(header::RANGE, "bytes=0-1"), (header::IF_RANGE, value)])
                .range_only_if
                .is_none_or(|test| test.holds(&served))
        };
        assert!(keeps_range(&format!("\"{tag}\"")));
        assert!(
            !keeps_range(&format!("W/\"{tag}\"")),
            "weak tags never match"
        );
        assert!(!keeps_range("\"0000\""));
        // Last-Modified is whole seconds: the date the client was given keeps the range.
        assert!(keeps_range(&http_date(served.created_at())));
        assert!(keeps_range("Fri, 02 Jan 2026 03:04:06 GMT"));
        assert!(!keeps_range("Fri, 02 Jan 2026 03:04:04 GMT"));
    }

    #[test]
    fn only_types_that_run_nothing_are_shown_inline() {
        for shown in [
            "application/pdf",
            "image/png",
            "text/plain; charset=utf-8",
            "IMAGE/JPEG",
        ] {
            assert!(shown_inline(shown), "{shown}");
        }
        for saved in [
            "text/html",
            "image/svg+xml",
            "application/javascript",
            "text/xml",
            "",
        ] {
            assert!(!shown_inline(saved), "{saved}");
        }
        assert!(content_disposition("a.pdf", true).starts_with("inline; "));
    }

    #[test]
    fn any_name_is_safe_in_content_disposition() {
        assert_eq!(
            content_disposition("a b.txt", false),
            "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt"
        );
        let header = content_disposition("r\u{e9}sum\u{e9}\";\r\n.pdf", false);
        assert!(HeaderValue::from_str(&header).is_ok(), "{header}");
        assert_eq!(
            header,
            "attachment; filename=\"r_sum__;__.pdf\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%22%3B%0D%0A.pdf",
            "the ASCII stand-in can neither end the quotes nor the header"
        );
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = ListCursor {
            recursive: true,
            frames: vec![ListFrame {
                folder: NodeId::from_uuid(Uuid::from_u128(5)),
                after: Some("b".into()),
            }],
        };
        assert_eq!(
            decode_cursor(&encode_cursor(&cursor)).unwrap().frames,
            cursor.frames
        );
        assert!(decode_cursor("not-a-cursor").is_err());
    }
}

/// Search parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Text the name must contain (case-insensitive).
    query: String,
    /// Only below this folder (default: everywhere).
    #[param(pattern = "^(/|id:)")]
    path: Option<String>,
    /// Page size, 1 to 2000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2000)]
    limit: Option<PageLimit<2000>>,
    /// `cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of search results.
#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    /// Matches in name order.
    entries: Vec<EntryResponse>,
    /// Whether another page may follow.
    has_more: bool,
    /// Pass as `cursor` to get the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// Search files and folders by name (substring, ignoring case); trashed items are not found.
#[utoipa::path(
    get, path = "/files/search", tag = "files",
    security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of matches", body = SearchResults),
        (status = 400, description = "Bad cursor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or overlong query", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn search(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let after = query
        .cursor
        .as_deref()
        .map(decode_search_cursor)
        .transpose()?;
    let page = state
        .files
        .search(
            &caller,
            &query.query,
            query.path.as_deref(),
            PageLimit::or(query.limit, 100),
            after,
        )
        .await?;
    Ok(Json(SearchResults {
        entries: page.entries.into_iter().map(Into::into).collect(),
        has_more: page.next_after.is_some(),
        cursor: page
            .next_after
            .map(|(key, id)| encode_page_token(&(key, id.as_uuid()))),
    }))
}

fn decode_search_cursor(raw: &str) -> Result<(String, NodeId), ApiError> {
    let (key, id): (String, Uuid) = decode_page_token(raw)?;
    Ok((key, NodeId::from_uuid(id)))
}

/// Which folder's changes to follow.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestCursorQuery {
    /// The folder (default `/`).
    #[param(pattern = "^(/|id:)")]
    path: Option<String>,
    /// Follow changes anywhere below it (default true), or only in it.
    recursive: Option<bool>,
}

/// A change cursor.
#[derive(Serialize, ToSchema)]
pub struct CursorResponse {
    /// Opaque and signed; pass to `/files/list/continue`.
    cursor: String,
}

/// Get a cursor at the present state of a folder: `/files/list/continue` with it returns what
/// changes from now on. (To sync: get the cursor, list the folder, then continue from the
/// cursor; changes made while listing are replayed, and replays converge.)
#[utoipa::path(
    get, path = "/files/list/latest-cursor", tag = "files",
    security(("bearer" = [])),
    params(LatestCursorQuery),
    responses(
        (status = 200, description = "A cursor", body = CursorResponse),
        (status = 404, description = "No such folder", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn latest_cursor(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<LatestCursorQuery>,
) -> Result<Json<CursorResponse>, ApiError> {
    let cursor = state
        .files
        .latest_cursor(
            &caller,
            query.path.as_deref().unwrap_or("/"),
            query.recursive.unwrap_or(true),
        )
        .await?;
    Ok(Json(CursorResponse {
        cursor: state.cursors.encode(&cursor),
    }))
}

/// Continue parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContinueQuery {
    /// A cursor from `latest-cursor` or from the previous `continue`.
    cursor: String,
    /// Most journal entries to replay at once, 1 to 2000 (default 500).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2000)]
    limit: Option<PageLimit<2000>>,
}

/// A change since the cursor: what is at a path now (`kind` `file` or `folder`), or that it is
/// gone (`kind` `deleted`); `kind` tells which.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ChangeItem {
    /// A file or folder as it is now.
    Present(EntryResponse),
    /// Whatever was at `path` (a folder: with its content) is gone.
    Deleted(DeletedEntry),
}

/// Something that is gone.
#[derive(Serialize, ToSchema)]
pub struct DeletedEntry {
    /// Always `deleted` (never a live entry's kind).
    kind: DeletedKind,
    /// Where it was.
    path: String,
}

/// The kind of a gone entry: only `deleted`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeletedKind {
    /// It is gone.
    Deleted,
}

/// One page of changes.
#[derive(Serialize, ToSchema)]
pub struct ChangeList {
    /// Apply in order.
    entries: Vec<ChangeItem>,
    /// Where to continue from.
    cursor: String,
    /// Whether more changes are waiting now.
    has_more: bool,
}

/// What changed below the cursor's folder since the cursor.
#[utoipa::path(
    get, path = "/files/list/continue", tag = "files",
    security(("bearer" = [])),
    params(ContinueQuery),
    responses(
        (status = 200, description = "Changes, to apply in order", body = ChangeList),
        (status = 400, description = "Not a cursor of this server", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cursor can no longer be served (`cursor_reset`): list again", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn continue_changes(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<ContinueQuery>,
) -> Result<Json<ChangeList>, ApiError> {
    let cursor = state.cursors.decode(&query.cursor)?;
    let page = state
        .files
        .changes_since(&caller, cursor, PageLimit::or(query.limit, 500))
        .await?;
    Ok(Json(ChangeList {
        entries: page
            .entries
            .into_iter()
            .map(|entry| match entry {
                FeedEntry::Present(entry) => ChangeItem::Present(entry.into()),
                FeedEntry::Deleted(path) => ChangeItem::Deleted(DeletedEntry {
                    kind: DeletedKind::Deleted,
                    path: path.to_string(),
                }),
            })
            .collect(),
        cursor: state.cursors.encode(&page.cursor),
        has_more: page.has_more,
    }))
}

/// A longpoll.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LongpollRequest {
    /// A change cursor.
    cursor: String,
    /// Seconds to wait at most, 30 to 480 (default 30).
    #[schema(minimum = 30, maximum = 480)]
    timeout: Option<u64>,
}

/// Whether changes are waiting.
#[derive(Serialize, ToSchema)]
pub struct LongpollResponse {
    /// True as soon as there are changes the cursor has not seen (call `continue`); false when
    /// the timeout passed without any.
    changes: bool,
}

/// Wait for changes (no account needed: the cursor is signed). Answers within a second of a
/// change made through any server instance.
#[utoipa::path(
    post, path = "/files/list/longpoll", tag = "files",
    request_body = LongpollRequest,
    responses(
        (status = 200, description = "Changes, or the timeout", body = LongpollResponse),
        (status = 400, description = "Not a cursor of this server", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Timeout out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn longpoll(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<LongpollRequest>,
) -> Result<Json<LongpollResponse>, ApiError> {
    let timeout = body.timeout.unwrap_or(30);
    if !(30..=480).contains(&timeout) {
        return Err(coffer_application::AppError::Invalid {
            field: "timeout",
            reason: "must be 30 to 480 seconds".into(),
        }
        .into());
    }
    let cursor = state.cursors.decode(&body.cursor)?;
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(timeout),
        state.files.wait_for_changes(cursor),
    )
    .await;
    let changes = match waited {
        Ok(result) => {
            result?;
            true
        }
        Err(_elapsed) => false,
    };
    Ok(Json(LongpollResponse { changes }))
}
