//! Every operation's error answers in the OpenAPI document, derived from one table
//! ([`ErrorCode`]: code, status and title, written once) and from what the operation is: whom it
//! serves (token, administrator, anyone), what it takes (a JSON body, parameters, a resource in
//! its path) and what it does (reads, changes content, takes passwords). Each status an
//! operation can answer is listed with the codes it carries; descriptions written by hand on a
//! route are kept, and the codes are added to them.

use std::collections::BTreeMap;

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::problem::ErrorCode;

/// The content type of every error answer.
const PROBLEM: &str = "application/problem+json";

/// Paths whose operations change or read stored content (files, trash, sharing, links, uploads).
const CONTENT_PATHS: [&str; 6] = [
    "/files",
    "/trash",
    "/sharing",
    "/links",
    "/uploads",
    "/delta-uploads",
];

/// Operations that may store content (and so meet quotas and upload plugins).
const STORING: [(&str, &str); 8] = [
    ("put", "/files/content"),
    ("post", "/files/copy"),
    ("post", "/files/move"),
    ("post", "/files/restore-revision"),
    ("post", "/trash/{id}/restore"),
    ("post", "/uploads"),
    ("patch", "/uploads/{id}"),
    ("post", "/uploads/{id}"),
];

/// The error codes `operation` (`method` on `path`) can answer.
pub(crate) fn codes_of(method: &str, path: &str, operation: &Operation) -> Vec<ErrorCode> {
    use ErrorCode as C;
    let mut codes = vec![C::InternalError, C::ServiceUnavailable];
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if secured {
        codes.extend([C::Unauthenticated, C::AccountDisabled]);
        if !matches!(method, "get" | "head" | "options") {
            codes.push(C::CsrfFailed);
        }
    }
    if path.starts_with("/admin") {
        codes.push(C::Forbidden);
    }
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    if json_body {
        codes.extend([
            C::MalformedJson,
            C::UnsupportedMediaType,
            C::PayloadTooLarge,
            C::ValidationFailed,
        ]);
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    if parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Path))
    {
        codes.extend([C::InvalidParameter, C::ValidationFailed]);
    }
    let names_a_resource = path.contains('{')
        || parameters
            .iter()
            .any(|p| p.name == "path" || p.name == "cursor");
    if names_a_resource {
        codes.push(C::NotFound);
    }
    let content = CONTENT_PATHS.iter().any(|prefix| path.starts_with(prefix));
    if content {
        // Viewers' changes, rules of the tree (the root, a file where a folder is needed),
        // write conflicts.
        codes.extend([C::Forbidden, C::NotFound, C::OperationNotAllowed]);
        if method != "get" {
            codes.extend([
                C::Conflict,
                C::NameTaken,
                C::RevisionMismatch,
                C::ConcurrentChange,
            ]);
        }
        if path.starts_with("/sharing") && method == "post" {
            codes.extend([C::AlreadyMember, C::AlreadyShared]);
        }
    }
    if path.starts_with("/files/list") || path.starts_with("/files/search") {
        codes.push(C::CursorReset);
    }
    if STORING.contains(&(method, path)) || path.starts_with("/delta-uploads") {
        codes.extend([
            C::QuotaExceeded,
            C::RefusedByPlugin,
            C::PluginFailed,
            C::RequestTooLarge,
        ]);
    }
    if (path.starts_with("/sharing/folders/") && path.contains("members")) || path == "/links" {
        codes.extend([C::RefusedByPlugin, C::PluginFailed]);
    }
    if path == "/sharing/folders/{id}/members" && method == "post" {
        codes.push(C::TooManyRequests);
    }
    if path == "/auth/login" || (path == "/auth/session" && method == "post") {
        codes.extend([C::InvalidCredentials, C::TooManyRequests]);
    }
    if path.starts_with("/public/links") {
        codes.extend([
            C::NotFound,
            C::LinkGone,
            C::LinkPasswordRequired,
            C::InvalidLinkPassword,
            C::TooManyRequests,
            C::OperationNotAllowed,
        ]);
        if path.ends_with("/content") {
            codes.extend([C::DownloadNotAllowed, C::RangeNotSatisfiable]);
        }
    }
    if path == "/files/content" && method == "get" {
        codes.push(C::RangeNotSatisfiable);
    }
    if path.starts_with("/uploads") || path.starts_with("/delta-uploads") {
        codes.extend([
            C::UploadIncomplete,
            C::UploadOffsetMismatch,
            C::ChecksumMismatch,
            C::ChecksumAlgorithmUnsupported,
            C::BlocksMissing,
            C::ContentHashMismatch,
            C::UnsupportedMediaType,
        ]);
        if path.starts_with("/uploads") {
            codes.extend([C::TusVersionUnsupported, C::MethodNotAllowed]);
        }
    }
    if path == "/files/content" && method == "put" {
        codes.extend([C::ContentHashMismatch, C::UploadIncomplete]);
    }
    if path.starts_with("/auth/signup") {
        codes.extend([
            C::EmailTaken,
            C::SignupClosed,
            C::InviteRequired,
            C::InviteInvalid,
        ]);
    }
    if path.starts_with("/admin") && method != "get" {
        codes.extend([C::OperationNotAllowed, C::Conflict, C::NameTaken]);
    }
    if path == "/admin/users" && method == "post" {
        codes.push(C::EmailTaken);
    }
    if path.starts_with("/admin/plugins") && method == "post" {
        codes.extend([C::PayloadTooLarge, C::UnsupportedMediaType]);
    }
    codes.sort_by_key(|c| c.as_str());
    codes.dedup();
    codes
}

/// Adds every error answer each operation of `document` can give (see the module's text).
pub(crate) fn document_errors(document: &mut OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("options", &mut item.options),
            ("head", &mut item.head),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            if method == "options" {
                continue;
            }
            let codes = codes_of(method, path, operation);
            add_responses(operation, &codes);
            accept_sessions(operation);
        }
    }
}

/// An operation a bearer token authorises also takes the browser's session cookie.
fn accept_sessions(operation: &mut Operation) {
    let Some(security) = operation.security.as_mut() else {
        return;
    };
    let names = |requirement: &SecurityRequirement| {
        serde_json::to_value(requirement)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
            .unwrap_or_default()
    };
    let bearer = security
        .iter()
        .any(|r| names(r).iter().any(|n| n == "bearer"));
    let session = security
        .iter()
        .any(|r| names(r).iter().any(|n| n == "session"));
    if bearer && !session {
        security.push(SecurityRequirement::new("session", Vec::<String>::new()));
    }
}

/// Lists `codes` under their statuses in `operation`'s responses, keeping what a route's own
/// annotation says of a status.
fn add_responses(operation: &mut Operation, codes: &[ErrorCode]) {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in codes {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(*code);
    }
    for (status, codes) in by_status {
        let listed = codes
            .iter()
            .map(|c| format!("`{}` ({})", c.as_str(), c.title()))
            .collect::<Vec<_>>()
            .join(", ");
        let responses = &mut operation.responses.responses;
        match responses.get_mut(&status.to_string()) {
            Some(RefOr::T(response)) if !response.description.contains(&listed) => {
                response.description = format!("{}. Codes: {listed}", response.description);
                response
                    .content
                    .entry(PROBLEM.to_owned())
                    .or_insert_with(|| {
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build()
                    });
            }
            Some(_) => {}
            None => {
                let response = ResponseBuilder::new()
                    .description(format!("Codes: {listed}"))
                    .content(
                        PROBLEM,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build();
                responses.insert(status.to_string(), RefOr::T(response));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_lists_its_errors_with_their_codes() {
        let document = crate::openapi();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("get", &item.get),
                ("put", &item.put),
                ("post", &item.post),
                ("delete", &item.delete),
                ("patch", &item.patch),
                ("head", &item.head),
            ] {
                let Some(operation) = operation else { continue };
                for code in codes_of(method, path, operation) {
                    let status = code.status().as_u16().to_string();
                    let Some(RefOr::T(response)) = operation.responses.responses.get(&status)
                    else {
                        panic!("{method} {path} does not document {status}");
                    };
                    assert!(
                        response.description.contains(code.as_str()),
                        "{method} {path}: {status} does not name {}",
                        code.as_str()
                    );
                }
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                assert_eq!(
                    operation.responses.responses.contains_key("401"),
                    secured
                        || path.starts_with("/public")
                        || path == "/auth/login"
                        || (path == "/auth/session" && method == "post"),
                    "{method} {path}: 401 exactly where a token or a password is asked"
                );
                assert!(operation.responses.responses.contains_key("500"));
            }
        }
    }
}
