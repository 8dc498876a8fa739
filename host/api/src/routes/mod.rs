//! Route handlers, grouped by resource, and the OpenAPI document's frame.

pub mod account;
pub mod admin;
pub mod auth;
pub mod delta;
pub mod docs;
pub mod files;
pub mod health;
pub mod links;
pub mod plugins;
pub mod sharing;
pub mod trash;
pub mod uploads;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{ErrorCode, Problem};

/// The frame of the OpenAPI document; paths are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Coffer API",
        description = "Self-hosted file storage. Every error is an RFC 9457 problem \
                       (`application/problem+json`) with a stable `code`.",
    ),
    servers((url = "/api/v1")),
    components(schemas(Problem, ErrorCode)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-up, login and logout"),
        (name = "account", description = "The caller's own account and tokens"),
        (name = "files", description = "Files and folders: upload, download, list, organise, revisions"),
        (name = "uploads", description = "Resumable uploads (tus 1.0.0) and delta uploads (send only the blocks the server needs)"),
        (name = "trash", description = "Deleted items: list, restore, delete for good"),
        (name = "sharing", description = "Shared folders: share, members and roles, leave, unshare"),
        (name = "links", description = "Shared links: create, list, revoke; public access without an account"),
        (name = "plugins", description = "Plugin administration (administrators only): install, configure, enable, order, limits, dry runs, audit"),
        (name = "admin", description = "Administration (administrators only)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // utoipa copies the crate's (absent) license; say nothing rather than an empty name.
        openapi.info.license = None;
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::sessions::COOKIE_NAME,
                "The browser session cookie (`POST /auth/session`); requests it authenticates \
                 that change something must carry the session's CSRF token in `X-CSRF-Token`.",
            ))),
        );
    }
}
