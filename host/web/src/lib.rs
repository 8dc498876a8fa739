//! Coffer's web app, embedded in the binary: the assets Vite built from `web/` (hashed names,
//! cached for a year), `index.html` for the app's client-side routes, and the API reference
//! page with its script (nothing is loaded from another origin). Every page is served with a
//! strict Content-Security-Policy.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// One embedded file.
pub(crate) struct Asset {
    /// Its URL path (`/index.html`, `/assets/index-3f2a.js`).
    path: &'static str,
    media_type: &'static str,
    /// A strong entity tag of its bytes.
    etag: &'static str,
    body: &'static [u8],
    /// The same bytes gzipped, when that is smaller.
    gzip: Option<&'static [u8]>,
}

/// The app's own pages: the server answers `index.html` for each, and the app routes.
pub const APP_ROUTES: &[&str] = &[
    "/",
    "/login",
    "/signup",
    "/files",
    "/files/{*path}",
    "/trash",
    "/account",
    "/shared",
    "/admin/users",
    "/admin/plugins",
    "/admin/plugins/audit",
    "/s/{token}",
    "/s/{token}/{*path}",
];

/// The policy of the app's pages: only this origin's scripts, styles, images and connections;
/// no inline script; never framed.
const APP_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'self'; \
     frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The API reference page's policy: its script (from this origin) writes inline styles.
const DOCS_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The reference page: Scalar renders `/api/v1/openapi.json`; its script is embedded, and its
/// features that call Scalar's servers (telemetry, the agent, its fonts) are off.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <title>Coffer API</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <link rel="icon" href="data:," />
  </head>
  <body>
    <script id="api-reference" data-url="/api/v1/openapi.json" data-configuration='{"withDefaultFonts":false,"hideClientButton":true,"telemetry":false,"agent":{"disabled":true},"showDeveloperTools":"never"}'></script>
    <script src="/api/docs/scalar.js"></script>
  </body>
</html>
"#;

/// Routes of the web app, the hashed assets and the API reference page.
pub fn router() -> Router {
    let mut router = Router::new()
        .route("/assets/{*file}", get(asset))
        .route("/api/docs", get(docs_page))
        .route("/api/docs/scalar.js", get(docs_script));
    for route in APP_ROUTES {
        router = router.route(route, get(app_page));
    }
    router
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

async fn asset(request: Request) -> Response {
    match find(request.uri().path()) {
        // Hashed names: the content of a name never changes.
        Some(asset) => serve(
            asset,
            request.headers(),
            "public, max-age=31536000, immutable",
            None,
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn app_page(request: Request) -> Response {
    let index = find("/index.html").expect("the build embeds index.html");
    serve(index, request.headers(), "no-cache", Some(APP_POLICY))
}

async fn docs_script(request: Request) -> Response {
    match find("/docs/scalar.js") {
        Some(script) => serve(script, request.headers(), "no-cache", None),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn docs_page() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DOCS_PAGE,
    )
        .into_response();
    secure(response.headers_mut(), DOCS_POLICY);
    response
}

/// `asset`, gzipped when the client takes it, 304 when the client has it.
fn serve(
    asset: &Asset,
    request: &HeaderMap,
    cache: &'static str,
    policy: Option<&str>,
) -> Response {
    let has_it = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == asset.etag)
        });
    let mut response = if has_it {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let takes_gzip = request
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|coding| {
                let mut parts = coding.split(';');
                parts
                    .next()
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case("gzip"))
                    && !parts.any(|p| p.trim().replace(' ', "") == "q=0")
            });
        match asset.gzip.filter(|_| takes_gzip) {
            Some(gzipped) => (
                [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
                gzipped,
            )
                .into_response(),
            None => asset.body.into_response(),
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(policy) = policy {
        secure(headers, policy);
    }
    response
}

/// The headers every page gets: its policy, no framing, no sniffing, no referrer leaks.
fn secure(headers: &mut HeaderMap, policy: &str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(policy).expect("a policy is a valid header"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_embeds_the_app_with_hashed_assets_and_the_docs_script() {
        let index = find("/index.html").expect("index.html");
        let html = std::str::from_utf8(index.body).unwrap();
        assert!(html.contains("/assets/"), "{html}");
        assert!(!html.contains("<script>"), "no inline script: {html}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing from another origin"
        );
        assert!(
            ASSETS
                .iter()
                .any(|a| a.path.starts_with("/assets/") && a.path.ends_with(".js"))
        );
        assert!(find("/docs/scalar.js").is_some());
        for asset in ASSETS {
            if let Some(gzipped) = asset.gzip {
                assert!(gzipped.len() < asset.body.len(), "{}", asset.path);
            }
        }
    }
}
