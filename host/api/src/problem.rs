//! The one place where errors become HTTP responses: `application/problem+json` (RFC 9457)
//! with a stable machine-readable `code`. Internal details are logged, never sent.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_application::{AppError, Conflict, FailureKind};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error code the API answers with. Codes are part of the API: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON.
    MalformedJson,
    /// The body or a field has the wrong type, is missing, or is not a valid value.
    ValidationFailed,
    /// A path or query parameter is invalid.
    InvalidParameter,
    /// The body's media type is not the one the endpoint takes (e.g. not `application/json`).
    UnsupportedMediaType,
    /// The body is too large.
    PayloadTooLarge,
    /// No valid bearer token: missing, unknown, expired or revoked.
    Unauthenticated,
    /// Email and password do not match.
    InvalidCredentials,
    /// The account is disabled by an administrator.
    AccountDisabled,
    /// Authenticated, but not allowed (e.g. not an administrator).
    Forbidden,
    /// No such resource (or none the caller may see).
    NotFound,
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// An account with this email exists.
    EmailTaken,
    /// The change breaks a rule in the current state (e.g. an administrator demoting themself).
    OperationNotAllowed,
    /// Sign-up is closed.
    SignupClosed,
    /// Sign-up needs an invitation code.
    InviteRequired,
    /// The invitation code is unknown, used, expired or for another address.
    InviteInvalid,
    /// Something in the way of the change that none of the codes below names (a file where a
    /// folder is needed, a restore into a folder that is in the trash).
    Conflict,
    /// The name is taken (a file or folder at the path, a plugin's name): `autorename` or
    /// another name works.
    NameTaken,
    /// `update` with a `rev` that is no longer the file's current revision: fetch it again.
    RevisionMismatch,
    /// The account is a member of the shared folder already.
    AlreadyMember,
    /// The folder is shared already.
    AlreadyShared,
    /// Something the change depends on changed while it ran: try again.
    ConcurrentChange,
    /// The change would exceed the owner's storage quota; nothing was stored.
    QuotaExceeded,
    /// The uploaded bytes do not have the announced content hash; nothing was stored.
    ContentHashMismatch,
    /// The upload body ended early or failed; nothing was stored.
    UploadIncomplete,
    /// A resumable upload's append does not start at the upload's offset (`Upload-Offset` in
    /// the answer says where it is).
    UploadOffsetMismatch,
    /// The request body does not match its `Upload-Checksum`; none of it was kept.
    ChecksumMismatch,
    /// `Upload-Checksum` names an algorithm the server does not support (`sha1` and `sha256` are).
    ChecksumAlgorithmUnsupported,
    /// The request does not speak tus 1.0.0 (`Tus-Resumable`).
    TusVersionUnsupported,
    /// A delta upload cannot commit yet: blocks it needs have not arrived.
    BlocksMissing,
    /// The requested range lies outside the file.
    RangeNotSatisfiable,
    /// The request asks for too much at once (e.g. copying a folder with too many entries).
    RequestTooLarge,
    /// The change cursor can no longer be served: list the folder again.
    CursorReset,
    /// The shared link was revoked or has expired.
    LinkGone,
    /// The shared link needs a password (`X-Link-Password`).
    LinkPasswordRequired,
    /// The shared link's password is wrong.
    InvalidLinkPassword,
    /// The shared link does not allow downloads.
    DownloadNotAllowed,
    /// A plugin refused the request (a scanner found something, a policy denied it); `plugin`
    /// names it and `detail` gives its reason.
    RefusedByPlugin,
    /// A plugin guarding this request failed, and refuses while it does; try again later.
    PluginFailed,
    /// Too many attempts; see `Retry-After`.
    TooManyRequests,
    /// A request authenticated by the browser's session cookie that changes something lacks
    /// the session's CSRF token (`X-CSRF-Token`), or carries another session's.
    CsrfFailed,
    /// The server failed; the request id identifies it in the logs.
    InternalError,
    /// A dependency (the database, the block store) is unreachable or did not answer in time;
    /// see `Retry-After`.
    ServiceUnavailable,
    /// The server's storage is full; nothing was stored. Reads still work.
    StorageFull,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 44] = [
        Self::MalformedJson,
        Self::ValidationFailed,
        Self::InvalidParameter,
        Self::UnsupportedMediaType,
        Self::PayloadTooLarge,
        Self::Unauthenticated,
        Self::InvalidCredentials,
        Self::AccountDisabled,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::EmailTaken,
        Self::OperationNotAllowed,
        Self::SignupClosed,
        Self::InviteRequired,
        Self::InviteInvalid,
        Self::Conflict,
        Self::NameTaken,
        Self::RevisionMismatch,
        Self::AlreadyMember,
        Self::AlreadyShared,
        Self::ConcurrentChange,
        Self::QuotaExceeded,
        Self::ContentHashMismatch,
        Self::UploadIncomplete,
        Self::UploadOffsetMismatch,
        Self::ChecksumMismatch,
        Self::ChecksumAlgorithmUnsupported,
        Self::TusVersionUnsupported,
        Self::BlocksMissing,
        Self::RangeNotSatisfiable,
        Self::RequestTooLarge,
        Self::CursorReset,
        Self::LinkGone,
        Self::LinkPasswordRequired,
        Self::InvalidLinkPassword,
        Self::DownloadNotAllowed,
        Self::RefusedByPlugin,
        Self::PluginFailed,
        Self::TooManyRequests,
        Self::CsrfFailed,
        Self::InternalError,
        Self::ServiceUnavailable,
        Self::StorageFull,
    ];

    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidParameter => "invalid_parameter",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::AccountDisabled => "account_disabled",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::EmailTaken => "email_taken",
            Self::OperationNotAllowed => "operation_not_allowed",
            Self::SignupClosed => "signup_closed",
            Self::InviteRequired => "invite_required",
            Self::InviteInvalid => "invite_invalid",
            Self::Conflict => "conflict",
            Self::NameTaken => "name_taken",
            Self::RevisionMismatch => "revision_mismatch",
            Self::AlreadyMember => "already_member",
            Self::AlreadyShared => "already_shared",
            Self::ConcurrentChange => "concurrent_change",
            Self::QuotaExceeded => "quota_exceeded",
            Self::ContentHashMismatch => "content_hash_mismatch",
            Self::UploadIncomplete => "upload_incomplete",
            Self::UploadOffsetMismatch => "upload_offset_mismatch",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::ChecksumAlgorithmUnsupported => "checksum_algorithm_unsupported",
            Self::TusVersionUnsupported => "tus_version_unsupported",
            Self::BlocksMissing => "blocks_missing",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::RequestTooLarge => "request_too_large",
            Self::CursorReset => "cursor_reset",
            Self::LinkGone => "link_gone",
            Self::LinkPasswordRequired => "link_password_required",
            Self::InvalidLinkPassword => "invalid_link_password",
            Self::DownloadNotAllowed => "download_not_allowed",
            Self::RefusedByPlugin => "refused_by_plugin",
            Self::PluginFailed => "plugin_failed",
            Self::TooManyRequests => "too_many_requests",
            Self::CsrfFailed => "csrf_failed",
            Self::InternalError => "internal_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::StorageFull => "storage_full",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MalformedJson | Self::InvalidParameter => StatusCode::BAD_REQUEST,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::AccountDisabled
            | Self::Forbidden
            | Self::SignupClosed
            | Self::InviteRequired
            | Self::InviteInvalid => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken
            | Self::OperationNotAllowed
            | Self::Conflict
            | Self::NameTaken
            | Self::RevisionMismatch
            | Self::AlreadyMember
            | Self::AlreadyShared
            | Self::ConcurrentChange => StatusCode::CONFLICT,
            Self::QuotaExceeded => StatusCode::INSUFFICIENT_STORAGE,
            Self::ContentHashMismatch | Self::UploadIncomplete => StatusCode::BAD_REQUEST,
            Self::UploadOffsetMismatch | Self::BlocksMissing => StatusCode::CONFLICT,
            // tus: "460 Checksum Mismatch".
            Self::ChecksumMismatch => StatusCode::from_u16(460).expect("valid status"),
            Self::ChecksumAlgorithmUnsupported => StatusCode::BAD_REQUEST,
            Self::TusVersionUnsupported => StatusCode::PRECONDITION_FAILED,
            Self::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::CursorReset => StatusCode::CONFLICT,
            Self::LinkGone => StatusCode::GONE,
            Self::LinkPasswordRequired | Self::InvalidLinkPassword => StatusCode::UNAUTHORIZED,
            Self::DownloadNotAllowed | Self::RefusedByPlugin => StatusCode::FORBIDDEN,
            Self::PluginFailed => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        }
    }

    /// A short human summary (the problem's `title`), the same for every occurrence.
    pub fn title(self) -> &'static str {
        match self {
            Self::MalformedJson => "Malformed JSON",
            Self::ValidationFailed => "Validation failed",
            Self::InvalidParameter => "Invalid parameter",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Payload too large",
            Self::Unauthenticated => "Authentication required",
            Self::InvalidCredentials => "Invalid credentials",
            Self::AccountDisabled => "Account disabled",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::EmailTaken => "Email already registered",
            Self::OperationNotAllowed => "Operation not allowed",
            Self::SignupClosed => "Sign-up closed",
            Self::InviteRequired => "Invitation required",
            Self::InviteInvalid => "Invalid invitation",
            Self::Conflict => "Conflict",
            Self::NameTaken => "Name taken",
            Self::RevisionMismatch => "Revision mismatch",
            Self::AlreadyMember => "Already a member",
            Self::AlreadyShared => "Already shared",
            Self::ConcurrentChange => "Concurrent change",
            Self::QuotaExceeded => "Storage quota exceeded",
            Self::ContentHashMismatch => "Content hash mismatch",
            Self::UploadIncomplete => "Upload incomplete",
            Self::UploadOffsetMismatch => "Upload offset mismatch",
            Self::ChecksumMismatch => "Checksum mismatch",
            Self::ChecksumAlgorithmUnsupported => "Checksum algorithm unsupported",
            Self::TusVersionUnsupported => "tus version unsupported",
            Self::BlocksMissing => "Blocks missing",
            Self::RangeNotSatisfiable => "Range not satisfiable",
            Self::RequestTooLarge => "Request too large",
            Self::CursorReset => "Cursor reset",
            Self::LinkGone => "Link no longer available",
            Self::LinkPasswordRequired => "Link password required",
            Self::InvalidLinkPassword => "Wrong link password",
            Self::DownloadNotAllowed => "Download not allowed",
            Self::RefusedByPlugin => "Refused by a plugin",
            Self::PluginFailed => "Plugin failed",
            Self::TooManyRequests => "Too many requests",
            Self::CsrfFailed => "CSRF check failed",
            Self::InternalError => "Internal server error",
            Self::ServiceUnavailable => "Service unavailable",
            Self::StorageFull => "Storage full",
        }
    }
}

/// An RFC 9457 problem document, as sent with `Content-Type: application/problem+json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:coffer:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, for people.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// The offending input field, where one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `range_not_satisfiable`: the file's size (also sent as `Content-Range: bytes */size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// For `refused_by_plugin` and `plugin_failed`: the plugin's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// For `upload_offset_mismatch`: where the upload is (also sent as `Upload-Offset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// For `blocks_missing`: how many distinct blocks must still be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<u64>,
    /// Seconds to wait before retrying (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For `service_unavailable` from `/readyz`: the check that failed (`database`,
    /// `block_store`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

/// Seconds a client is asked to wait (`Retry-After`) when a dependency is unavailable.
pub const RETRY_UNAVAILABLE_AFTER: u64 = 5;

/// An error on its way to becoming a problem response (boxed: errors travel in `Result`s).
#[derive(Debug)]
pub struct ApiError(Box<Problem>);

impl ApiError {
    /// A problem with the code's status and title.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self(Box::new(Problem {
            problem_type: format!("urn:coffer:problem:{}", code.as_str()),
            title: code.title(),
            status: code.status().as_u16(),
            detail: detail.into(),
            code,
            field: None,
            size: None,
            plugin: None,
            offset: None,
            missing: None,
            retry_after: None,
            check: None,
        }))
    }

    /// A cursor or page token the server did not issue (or that was altered).
    pub fn invalid_cursor() -> Self {
        ApiError::new(
            ErrorCode::InvalidParameter,
            "cursor is not one this server issued",
        )
    }

    /// The problem's code.
    pub(crate) fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// A dependency is unreachable or did not answer in time: try again in
    /// [`RETRY_UNAVAILABLE_AFTER`] seconds.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut err = ApiError::new(ErrorCode::ServiceUnavailable, detail);
        err.0.retry_after = Some(RETRY_UNAVAILABLE_AFTER);
        err
    }

    /// Names the readiness check that failed.
    pub(crate) fn with_check(mut self, check: impl Into<String>) -> Self {
        self.0.check = Some(check.into());
        self
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    /// The problem document.
    #[cfg(test)]
    pub fn problem(&self) -> &Problem {
        &self.0
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        use ErrorCode as C;
        match err {
            AppError::Invalid { field, reason } => {
                ApiError::new(C::ValidationFailed, format!("{field} {reason}")).with_field(field)
            }
            AppError::NotAllowed(why) => ApiError::new(C::OperationNotAllowed, why),
            AppError::Unauthenticated => ApiError::new(
                C::Unauthenticated,
                "a valid bearer token is required (Authorization: Bearer <token>)",
            ),
            AppError::InvalidCredentials => {
                ApiError::new(C::InvalidCredentials, "invalid email or password")
            }
            AppError::AccountDisabled => {
                ApiError::new(C::AccountDisabled, "this account is disabled")
            }
            AppError::Forbidden => ApiError::new(C::Forbidden, "you are not allowed to do this"),
            AppError::NotFound(what) => ApiError::new(C::NotFound, format!("{what} not found")),
            AppError::EmailTaken => {
                ApiError::new(C::EmailTaken, "an account with this email already exists")
                    .with_field("email")
            }
            AppError::SignupClosed => {
                ApiError::new(C::SignupClosed, "sign-up is closed on this server")
            }
            AppError::InviteRequired => ApiError::new(
                C::InviteRequired,
                "sign-up on this server needs an invitation code",
            )
            .with_field("invite_code"),
            AppError::InviteInvalid(why) => {
                ApiError::new(C::InviteInvalid, why).with_field("invite_code")
            }
            AppError::Conflict(kind, why) => {
                let code = match kind {
                    Conflict::NameTaken => C::NameTaken,
                    Conflict::RevisionMismatch => C::RevisionMismatch,
                    Conflict::AlreadyMember => C::AlreadyMember,
                    Conflict::AlreadyShared => C::AlreadyShared,
                    Conflict::ConcurrentChange => C::ConcurrentChange,
                    Conflict::Other => C::Conflict,
                };
                ApiError::new(code, why)
            }
            AppError::QuotaExceeded {
                used,
                quota,
                needed,
            } => ApiError::new(
                C::QuotaExceeded,
                format!(
                    "this needs {needed} more bytes, but {used} of the quota of {quota} bytes \
                     are in use; nothing was stored"
                ),
            ),
            AppError::OwnerQuotaExceeded => ApiError::new(
                C::QuotaExceeded,
                "the shared folder's owner has no room for this; nothing was stored",
            ),
            AppError::ContentHashMismatch { expected, actual } => ApiError::new(
                C::ContentHashMismatch,
                format!(
                    "expected content_hash {expected}, the upload has {actual}; nothing was stored"
                ),
            )
            .with_field("content_hash"),
            AppError::UploadInterrupted(why) => {
                ApiError::new(C::UploadIncomplete, format!("{why}; nothing was stored"))
            }
            AppError::UploadOffsetMismatch { offset } => {
                let mut err = ApiError::new(
                    C::UploadOffsetMismatch,
                    format!("the upload is at offset {offset}: continue from there"),
                );
                err.0.offset = Some(offset);
                err
            }
            AppError::ChecksumMismatch => ApiError::new(
                C::ChecksumMismatch,
                "the body does not match Upload-Checksum; none of it was kept",
            ),
            AppError::BlocksMissing { missing } => {
                let mut err = ApiError::new(
                    C::BlocksMissing,
                    format!("{missing} blocks are still needed: send them, then commit"),
                );
                err.0.missing = Some(missing);
                err
            }
            AppError::RangeNotSatisfiable { size } => {
                let mut err = ApiError::new(
                    C::RangeNotSatisfiable,
                    format!("the range lies outside the file's {size} bytes"),
                );
                err.0.size = Some(size);
                err
            }
            AppError::TooLarge(why) => ApiError::new(C::RequestTooLarge, why),
            AppError::CursorReset(why) => ApiError::new(
                C::CursorReset,
                format!("{why}: list the folder again and continue from the new cursor"),
            ),
            AppError::LinkGone(why) => ApiError::new(
                C::LinkGone,
                format!("this link is no longer available: it {why}"),
            ),
            AppError::LinkPasswordRequired => ApiError::new(
                C::LinkPasswordRequired,
                "this link needs a password: send it as X-Link-Password",
            ),
            AppError::InvalidLinkPassword => {
                ApiError::new(C::InvalidLinkPassword, "wrong password for this link")
            }
            AppError::DownloadNotAllowed => {
                ApiError::new(C::DownloadNotAllowed, "this link does not allow downloads")
            }
            AppError::RefusedByPlugin { plugin, reason } => {
                let mut err = ApiError::new(C::RefusedByPlugin, reason);
                err.0.plugin = Some(plugin);
                err
            }
            AppError::PluginFailed { plugin } => {
                let mut err = ApiError::new(
                    C::PluginFailed,
                    format!(
                        "the plugin {plugin} that checks this request failed; nothing was \
                         changed, try again later"
                    ),
                );
                err.0.plugin = Some(plugin);
                err
            }
            AppError::Throttled { retry_after } => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let mut err = ApiError::new(
                    C::TooManyRequests,
                    format!("too many failed attempts; try again in {seconds} s"),
                );
                err.0.retry_after = Some(seconds.max(1));
                err
            }
            // The cause goes to the log with the request's span (and so its request id).
            AppError::Infrastructure(inner) => match inner.kind() {
                FailureKind::Unavailable => {
                    tracing::warn!(error = %inner, "a dependency is unavailable");
                    ApiError::unavailable(
                        "a service this server depends on is unavailable or too slow; nothing \
                         was changed by the failed step, try again later",
                    )
                }
                FailureKind::StorageFull => {
                    tracing::error!(error = %inner, "storage is full");
                    ApiError::new(
                        C::StorageFull,
                        "the server's storage is full; nothing was stored. Reading still works; \
                         an administrator must free or add space",
                    )
                }
                FailureKind::Other => {
                    tracing::error!(error = %inner, "request failed");
                    ApiError::new(
                        C::InternalError,
                        "the server failed to handle this request; the request id identifies it",
                    )
                }
            },
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => ErrorCode::ValidationFailed,
            JsonRejection::JsonSyntaxError(_) => ErrorCode::MalformedJson,
            JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            _ => ErrorCode::MalformedJson,
        };
        ApiError::new(code, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(ErrorCode::InvalidParameter, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(ErrorCode::InvalidParameter, rejection.body_text())
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(rejection: MultipartRejection) -> Self {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "the body must be multipart/form-data with a boundary: {}",
                rejection.body_text()
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.code.status();
        let retry_after = self.0.retry_after;
        let size = self.0.size;
        let offset = self.0.offset;
        let code = self.0.code;
        let mut response = (status, Json(*self.0)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(offset) = offset {
            headers.insert("upload-offset", HeaderValue::from(offset));
        }
        if let (ErrorCode::RangeNotSatisfiable, Some(size)) = (code, size) {
            let value = HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii");
            headers.insert(header::CONTENT_RANGE, value);
        }
        if code == ErrorCode::Unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Fallback for paths that match no route.
pub async fn route_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

/// Fallback for a known path with an unsupported method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not support the method",
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use coffer_application::InfrastructureError;

    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_serialise_as_named() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::json!(code.as_str())
            );
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let err: ApiError = AppError::Infrastructure(InfrastructureError::msg(
            "relation \"users\" does not exist at /var/lib/coffer/db",
        ))
        .into();
        let body = serde_json::to_string(err.problem()).unwrap();
        assert!(
            !body.contains("users") && !body.contains("/var/lib"),
            "{body}"
        );
        assert_eq!(err.problem().status, 500);
    }

    #[test]
    fn unavailable_dependencies_answer_503_with_retry_after() {
        let err: ApiError = AppError::Infrastructure(InfrastructureError::unavailable(
            "S3 GetObject blocks/ab/… failed: dispatch failure: connection refused",
        ))
        .into();
        assert_eq!(err.problem().code, ErrorCode::ServiceUnavailable);
        assert!(!err.problem().detail.contains("S3"), "{:?}", err.problem());
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::RETRY_AFTER],
            RETRY_UNAVAILABLE_AFTER.to_string().as_str()
        );
    }

    #[test]
    fn full_storage_answers_507_storage_full() {
        let err: ApiError = AppError::Infrastructure(InfrastructureError::storage_full(
            "could not write /var/lib/coffer/blocks/ab/cd/.tmp-…: No space left on device",
        ))
        .into();
        assert_eq!(err.problem().code, ErrorCode::StorageFull);
        assert_ne!(err.problem().code, ErrorCode::QuotaExceeded);
        assert!(!err.problem().detail.contains("/var/lib"));
        assert_eq!(
            err.into_response().status(),
            StatusCode::INSUFFICIENT_STORAGE
        );
    }

    #[test]
    fn throttling_rounds_retry_after_up() {
        let err: ApiError = AppError::Throttled {
            retry_after: Duration::from_millis(1500),
        }
        .into();
        assert_eq!(err.problem().retry_after, Some(2));
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }

    #[test]
    fn a_shared_folders_full_quota_tells_no_figures() {
        let err: ApiError = AppError::OwnerQuotaExceeded.into();
        assert_eq!(err.problem().code, ErrorCode::QuotaExceeded);
        assert_eq!(err.problem().status, 507);
        assert!(
            !err.problem().detail.chars().any(|c| c.is_ascii_digit()),
            "{}",
            err.problem().detail
        );
    }

    #[test]
    fn validation_names_the_field() {
        let err: ApiError = AppError::Invalid {
            field: "email",
            reason: "must contain '@'".into(),
        }
        .into();
        assert_eq!(err.problem().code, ErrorCode::ValidationFailed);
        assert_eq!(err.problem().field.as_deref(), Some("email"));
        assert_eq!(err.problem().status, 422);
    }
}
