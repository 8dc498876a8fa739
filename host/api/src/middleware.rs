//! The layers around every request: request id, tracing span, panic safety.

use std::any::Any;

use axum::Router;
use axum::http::{HeaderName, Request, Response};
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::problem::{ApiError, ErrorCode};

/// The request id header, set on every request that lacks one and echoed on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` in the layers, outermost first: request id, tracing span, request id echo,
/// panic-to-problem.
pub fn wrap(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(CatchPanicLayer::custom(panic_response)),
    )
}

fn request_span(request: &Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %loggable_path(request.uri().path()),
        request_id,
        user = tracing::field::Empty,
    )
}

/// The path without secrets: a shared link's token grants access, so it never reaches logs.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const LINKS: &str = "/api/v1/public/links/";
    match path.strip_prefix(LINKS) {
        Some(rest) => {
            let after_token = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{LINKS}<token>{after_token}").into()
        }
        None => path.into(),
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<axum::body::Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "handler panicked");
    ApiError::new(
        ErrorCode::InternalError,
        "the server failed to handle this request; the request id identifies it",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn link_tokens_never_reach_the_logs() {
        assert_eq!(
            loggable_path("/api/v1/public/links/cfl_secret/content"),
            "/api/v1/public/links/<token>/content"
        );
        assert_eq!(
            loggable_path("/api/v1/public/links/cfl_secret"),
            "/api/v1/public/links/<token>"
        );
        assert_eq!(loggable_path("/api/v1/account"), "/api/v1/account");
    }
}
