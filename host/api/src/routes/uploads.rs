//! Resumable uploads: the tus protocol 1.0.0 (core, creation, creation-with-upload,
//! termination, checksum, expiration) under `/uploads`.
//!
//! The target travels in `Upload-Metadata`: `path` (or `filename`, stored in the root),
//! `mode` (`add`, `overwrite`, `update` with `rev`), `autorename`, `client_modified` (RFC 3339)
//! and `filetype` (the media type). Every answer carries `Tus-Resumable: 1.0.0`; once the last
//! byte has arrived and the file is committed, answers also carry `Coffer-File-Id` and
//! `Coffer-Rev`. A `POST` with `X-HTTP-Method-Override: PATCH` (or `DELETE`, `HEAD`) on an
//! upload's URL stands for that method, for clients that cannot send it.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use coffer_application::files::{Appended, NewSession, UploadMode};
use coffer_application::ports::ContentError;
use coffer_domain::files::{ChecksumAlgorithm, ExpectedChecksum, UploadId, UploadSession};
use futures_util::TryStreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::files::http_date;
use crate::extract::{ApiPath, Caller};
use crate::problem::{ApiError, ErrorCode, Problem};
use crate::state::ApiState;

/// The tus version spoken.
const TUS_VERSION: &str = "1.0.0";
/// The tus extensions implemented.
const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
/// The media type of an append's body.
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// The checksum algorithms accepted in `Upload-Checksum`.
const CHECKSUM_ALGORITHMS: &str = "sha1,sha256";
/// The largest upload (`Tus-Max-Size`).
const MAX_SIZE: u64 = coffer_domain::account::ByteCount::MAX.get();

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(capabilities, create_upload))
        .routes(routes!(
            upload_offset,
            append,
            terminate,
            resource_capabilities,
            overridden
        ))
        // Appends are streamed, whatever their size.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(speak_tus))
}

/// Checks `Tus-Resumable` on every request but `OPTIONS`, and sets it on every answer.
async fn speak_tus(request: Request, next: Next) -> Response {
    let speaks = request.method() == http::Method::OPTIONS
        || request
            .headers()
            .get("tus-resumable")
            .is_some_and(|v| v.as_bytes() == TUS_VERSION.as_bytes());
    let mut response = if speaks {
        next.run(request).await
    } else {
        let mut refused = ApiError::new(
            ErrorCode::TusVersionUnsupported,
            "this endpoint speaks tus 1.0.0: send Tus-Resumable: 1.0.0",
        )
        .into_response();
        refused
            .headers_mut()
            .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
        refused
    };
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn capabilities_response() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    headers.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static(CHECKSUM_ALGORITHMS),
    );
    headers.insert("tus-max-size", HeaderValue::from(MAX_SIZE));
    response
}

/// What the server supports (tus discovery).
///
/// Answers `Tus-Version`, `Tus-Extension`, `Tus-Checksum-Algorithm` and `Tus-Max-Size`; needs
/// no token.
#[utoipa::path(
    options, path = "/uploads", tag = "uploads",
    responses((status = 204, description = "Capabilities in the headers"))
)]
async fn capabilities() -> Response {
    capabilities_response()
}

/// What the server supports (tus discovery, on an upload's URL).
#[utoipa::path(
    options, path = "/uploads/{id}", tag = "uploads",
    params(("id" = Uuid, Path, description = "The upload")),
    responses((status = 204, description = "Capabilities in the headers"))
)]
async fn resource_capabilities() -> Response {
    capabilities_response()
}

/// Start a resumable upload (tus creation, and creation-with-upload when a body is sent).
///
/// Needs `Upload-Length` (deferred lengths are not supported) and `Upload-Metadata` naming the
/// target. The quota must hold the file on top of the caller's other open uploads. With a body
/// (`Content-Type: application/offset+octet-stream`), its bytes are the first append: a body
/// past `Upload-Length`, or one that fails its `Upload-Checksum`, refuses the whole creation; a
/// body that breaks off leaves the upload where the bytes stopped. An empty file
/// (`Upload-Length: 0`) is committed at once.
#[utoipa::path(
    post, path = "/uploads", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Length" = u64, Header, description = "The file's length in bytes"),
        ("Upload-Metadata" = String, Header, description = "`key base64(value)` pairs, comma separated: `path` (or `filename`), `mode`, `rev`, `autorename`, `client_modified`, `filetype`"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "Optional: the first bytes"),
    responses(
        (status = 201, description = "Upload created; `Location` is its URL, `Upload-Offset` how much of the body was kept, `Upload-Expires` when it is abandoned"),
        (status = 400, description = "Missing or bad `Upload-Length` or metadata", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An empty file conflicts with the file at the path", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Not tus 1.0.0", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`Upload-Length` is over `Tus-Max-Size`, or the body goes past it", body = Problem, content_type = "application/problem+json"),
        (status = 460, description = "The body does not match `Upload-Checksum`", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The quota cannot hold the file", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_upload(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            "deferred lengths are not supported: send Upload-Length",
        ));
    }
    let length = number_header(&headers, "upload-length")?;
    if length > MAX_SIZE {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("Upload-Length is over Tus-Max-Size ({MAX_SIZE} bytes)"),
        ));
    }
    let metadata = parse_metadata(text_header(&headers, "upload-metadata").unwrap_or(""))?;
    let input = session_input(&metadata, length)?;
    let session = state.files.start_resumable(&caller, input).await?;
    let location = format!("/api/v1/uploads/{}", session.id.as_uuid().simple());

    let with_body = text_header(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|t| t.eq_ignore_ascii_case(OFFSET_OCTET_STREAM));
    let session = if with_body {
        match run_append(&state, &caller, session.id, 0, &headers, body).await {
            Ok(appended) => appended.session,
            // A body that broke off leaves the upload where the bytes stopped: the answer says
            // where, and the client resumes.
            Err(err) if err.code() == ErrorCode::UploadIncomplete => {
                tracing::info!(error = ?err, "the first bytes of a new upload broke off");
                state.files.upload_session(&caller, session.id).await?
            }
            // Anything else (a body past the length, a wrong checksum, a refused commit)
            // refuses the creation: nothing is left behind.
            Err(err) => {
                if let Err(cancel) = state.files.cancel_upload(&caller, session.id).await {
                    tracing::debug!(error = ?cancel, "a refused creation left no upload");
                }
                return Err(err);
            }
        }
    } else {
        session
    };
    let mut response = StatusCode::CREATED.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, header_value(&location));
    describe(headers, &session);
    Ok(response)
}

/// How far an upload has arrived (tus `HEAD`).
#[utoipa::path(
    head, path = "/uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The upload"), ("Tus-Resumable" = String, Header, description = "`1.0.0`")),
    responses(
        (status = 200, description = "`Upload-Offset`, `Upload-Length`, `Upload-Expires`; once committed, `Coffer-File-Id` and `Coffer-Rev`"),
        (status = 404, description = "No such upload (or expired, or another user's)"),
    )
)]
async fn upload_offset(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let session = state
        .files
        .upload_session(&caller, UploadId::from_uuid(id))
        .await?;
    let mut response = StatusCode::OK.into_response();
    describe(response.headers_mut(), &session);
    Ok(response)
}

/// Append bytes at `Upload-Offset` (tus `PATCH`).
///
/// The offset must be where the upload is (409 with the right `Upload-Offset` otherwise). Each
/// 4 MiB block is recorded as soon as it is stored, and if the connection breaks, the bytes
/// received so far are kept: `HEAD` says where to resume. With `Upload-Checksum: sha256 <base64>`
/// (or `sha1`) the append is kept only whole and matching (460 otherwise). The append that brings
/// the last byte commits the file as a plain upload would (write mode, quota, plugins); if the
/// commit is refused the upload ends and the error says why.
#[utoipa::path(
    patch, path = "/uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The upload"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes start"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256` or `sha1`, a space, and the base64 digest of this body"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "The next bytes"),
    responses(
        (status = 204, description = "Kept; `Upload-Offset` is the new offset (with `Coffer-File-Id` and `Coffer-Rev` once committed)"),
        (status = 400, description = "Missing offset, unsupported checksum algorithm, or the body broke off (the bytes that arrived were kept)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such upload", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Wrong offset (`Upload-Offset` says where the upload is), or the commit conflicts with the file at the path", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body goes past `Upload-Length`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/offset+octet-stream`", body = Problem, content_type = "application/problem+json"),
        (status = 460, description = "The body does not match `Upload-Checksum`; nothing kept", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn append(
    State(state): State<ApiState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let is_offset_stream = text_header(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|t| t.eq_ignore_ascii_case(OFFSET_OCTET_STREAM));
    if !is_offset_stream {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "an append's body must be application/offset+octet-stream",
        ));
    }
    let offset = number_header(&headers, "upload-offset")?;
    let appended = run_append(
        &state,
        &caller,
        UploadId::from_uuid(id),
        offset,
        &headers,
        body,
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    describe(response.headers_mut(), &appended.session);
    Ok(response)
}

/// End an upload and discard what arrived (tus termination).
#[utoipa::path(
    delete, path = "/uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The upload"), ("Tus-Resumable" = String, Header, description = "`1.0.0`")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such upload", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn terminate(
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

/// A method tunnelled through `POST` (tus `X-HTTP-Method-Override`): `PATCH`, `DELETE` or
/// `HEAD` on the upload, answered as that method would be.
#[utoipa::path(
    post, path = "/uploads/{id}", tag = "uploads",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The upload"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("X-HTTP-Method-Override" = String, Header, description = "`PATCH`, `DELETE` or `HEAD`"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "For `PATCH`: the next bytes"),
    responses(
        (status = 200, description = "As `HEAD`"),
        (status = 204, description = "As `PATCH` or `DELETE`"),
        (status = 400, description = "As `PATCH`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such upload", body = Problem, content_type = "application/problem+json"),
        (status = 405, description = "No (or another) method override", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "As `PATCH`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Not tus 1.0.0", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "As `PATCH`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "As `PATCH`", body = Problem, content_type = "application/problem+json"),
        (status = 460, description = "As `PATCH`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn overridden(
    state: State<ApiState>,
    caller: Caller,
    id: ApiPath<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let method = text_header(&headers, "x-http-method-override")
        .map(|m| m.trim().to_ascii_uppercase())
        .unwrap_or_default();
    match method.as_str() {
        "PATCH" => append(state, caller, id, headers, body).await,
        "DELETE" => Ok(terminate(state, caller, id).await?.into_response()),
        "HEAD" => upload_offset(state, caller, id).await,
        _ => Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "POST on an upload stands for another method: send X-HTTP-Method-Override: PATCH, \
             DELETE or HEAD",
        )),
    }
}

/// Runs an append in its own task: when the client disconnects mid-body, the request's future
/// is dropped, but the append still records the bytes that arrived.
async fn run_append(
    state: &ApiState,
    caller: &coffer_application::Principal,
    id: UploadId,
    offset: u64,
    headers: &HeaderMap,
    body: Body,
) -> Result<Appended, ApiError> {
    let checksum = text_header(headers, "upload-checksum")
        .map(parse_checksum)
        .transpose()?;
    let body_length =
        text_header(headers, header::CONTENT_LENGTH.as_str()).and_then(|l| l.parse::<u64>().ok());
    let content = body
        .into_data_stream()
        .map_err(|err| ContentError::Source(format!("the append's body broke off: {err}")));
    let (files, caller) = (state.files.clone(), *caller);
    let task = tokio::spawn(async move {
        files
            .append(
                &caller,
                id,
                offset,
                body_length,
                Box::pin(content),
                checksum,
            )
            .await
    });
    match task.await {
        Ok(result) => Ok(result?),
        Err(panicked) => {
            tracing::error!(error = %panicked, "an append task failed");
            Err(ApiError::new(
                ErrorCode::InternalError,
                "the server failed to handle this request; the request id identifies it",
            ))
        }
    }
}

/// `Upload-Offset`, `Upload-Length`, `Upload-Expires`, and what the upload became.
fn describe(headers: &mut HeaderMap, session: &UploadSession) {
    headers.insert("upload-offset", HeaderValue::from(session.received));
    headers.insert("upload-length", HeaderValue::from(session.length));
    headers.insert(
        "upload-expires",
        header_value(&http_date(session.expires_at)),
    );
    if let Some((node, revision)) = session.committed {
        headers.insert(
            HeaderName::from_static("coffer-file-id"),
            header_value(&node.as_uuid().to_string()),
        );
        headers.insert(
            HeaderName::from_static("coffer-rev"),
            header_value(&revision.rev()),
        );
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("header text is visible ASCII")
}

fn text_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn number_header(headers: &HeaderMap, name: &'static str) -> Result<u64, ApiError> {
    text_header(headers, name)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                format!("{name} must be a non-negative whole number of bytes"),
            )
            .with_field(name)
        })
}

/// `Upload-Checksum: <algorithm> <base64 digest>` as the checksum it announces.
fn parse_checksum(raw: &str) -> Result<ExpectedChecksum, ApiError> {
    let (name, digest) = raw.trim().split_once(' ').unwrap_or((raw.trim(), ""));
    let algorithm = ChecksumAlgorithm::parse(name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ChecksumAlgorithmUnsupported,
            format!("checksum algorithm {name:?} is not supported; use {CHECKSUM_ALGORITHMS}"),
        )
    })?;
    BASE64
        .decode(digest.trim())
        .ok()
        .and_then(|bytes| ExpectedChecksum::new(algorithm, bytes).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                "Upload-Checksum must be `<algorithm> <base64 of the digest>`",
            )
            .with_field("upload-checksum")
        })
}

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs (a value may be absent).
fn parse_metadata(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let bad = |why: &str| {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("Upload-Metadata {why}"),
        )
        .with_field("upload-metadata")
    };
    let mut pairs = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = item.split_once(' ').unwrap_or((item, ""));
        let value = BASE64
            .decode(value.trim())
            .map_err(|_| bad(&format!("value of {key:?} is not base64")))?;
        let value =
            String::from_utf8(value).map_err(|_| bad(&format!("value of {key:?} is not UTF-8")))?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

/// The session input from the metadata pairs.
fn session_input(metadata: &[(String, String)], length: u64) -> Result<NewSession, ApiError> {
    let get = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let bad = |field: &'static str, why: &str| {
        ApiError::new(ErrorCode::InvalidParameter, format!("{field} {why}")).with_field(field)
    };
    let path = match (get("path"), get("filename")) {
        (Some(path), _) => path.to_owned(),
        (None, Some(name)) if name.contains(['/', '\\']) => {
            return Err(bad(
                "filename",
                "must be a file name (it is stored at the root); send a path for folders",
            ));
        }
        (None, Some(name)) => format!("/{name}"),
        (None, None) => {
            return Err(bad(
                "path",
                "is missing: send it (or filename) in Upload-Metadata",
            ));
        }
    };
    let mode = match (get("mode").unwrap_or("add"), get("rev")) {
        ("add", _) => UploadMode::Add,
        ("overwrite", _) => UploadMode::Overwrite,
        ("update", Some(rev)) => UploadMode::Update(rev.to_owned()),
        ("update", None) => return Err(bad("rev", "is needed with mode update")),
        _ => return Err(bad("mode", "must be add, overwrite or update")),
    };
    let autorename = match get("autorename") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(bad("autorename", "must be true or false")),
    };
    let client_modified = get("client_modified")
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| bad("client_modified", "must be an RFC 3339 time"))
        })
        .transpose()?;
    let media_type = get("filetype")
        .filter(|t| t.contains('/') && !t.is_empty())
        .map(str::to_owned);
    Ok(NewSession {
        path,
        mode,
        autorename,
        client_modified,
        media_type,
        length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_decode_and_name_the_target() {
        let raw = format!(
            "path {},mode {},rev {}, autorename {},client_modified {},filetype {},empty",
            BASE64.encode("/Docs/ä b.txt"),
            BASE64.encode("update"),
            BASE64.encode("0123456789abcdef0123456789abcdef"),
            BASE64.encode("true"),
            BASE64.encode("2026-01-02T03:04:05Z"),
            BASE64.encode("text/plain"),
        );
        let pairs = parse_metadata(&raw).unwrap();
        assert_eq!(pairs.last().unwrap(), &("empty".to_owned(), String::new()));
        let input = session_input(&pairs, 9).unwrap();
        assert_eq!(input.path, "/Docs/ä b.txt");
        assert_eq!(
            input.mode,
            UploadMode::Update("0123456789abcdef0123456789abcdef".into())
        );
        assert!(input.autorename);
        assert_eq!(
            input.client_modified.unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
        assert_eq!(input.media_type.as_deref(), Some("text/plain"));
        assert_eq!(input.length, 9);
    }

    #[test]
    fn a_filename_alone_goes_to_the_root_and_bad_metadata_is_refused() {
        let pairs = parse_metadata(&format!("filename {}", BASE64.encode("a.bin"))).unwrap();
        assert_eq!(session_input(&pairs, 1).unwrap().path, "/a.bin");
        assert!(session_input(&[], 1).is_err());
        assert!(parse_metadata("path not-base64!").is_err());
        let mode = [
            ("path".into(), "/a".into()),
            ("mode".into(), "replace".into()),
        ];
        assert!(session_input(&mode, 1).is_err());
        let update = [
            ("path".into(), "/a".into()),
            ("mode".into(), "update".into()),
        ];
        assert!(session_input(&update, 1).is_err());
    }

    #[test]
    fn checksums_are_sha1_or_sha256_in_base64() {
        let digest = vec![7u8; 32];
        let header = format!("sha256 {}", BASE64.encode(&digest));
        assert_eq!(
            parse_checksum(&header).unwrap(),
            ExpectedChecksum::new(ChecksumAlgorithm::Sha256, digest).unwrap()
        );
        let sha1 = format!("sha1 {}", BASE64.encode([1u8; 20]));
        assert!(parse_checksum(&sha1).is_ok());
        let md5 = parse_checksum("md5 AAAA").unwrap_err();
        assert_eq!(
            md5.problem().code.as_str(),
            "checksum_algorithm_unsupported"
        );
        assert!(parse_checksum("sha256 AAAA").is_err());
    }

    #[test]
    fn expiry_is_an_http_date() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T08:49:37Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(http_date(at), "Sat, 21 Nov 2026 08:49:37 GMT");
    }
}
