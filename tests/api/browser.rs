//! What the browser gets: the web app's pages and assets (embedded, same origin only, strict
//! Content-Security-Policy), and cookie sessions whose changes need the CSRF token.

use coffer_tests::{Backend, PASSWORD, TestApp, assert_problem, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_cookie_session_works_like_a_token_but_changes_need_its_csrf_token,
    the_app_and_the_api_reference_come_from_this_origin_only,
    a_right_link_password_sets_a_pass_cookie_for_that_link_only,
    only_content_that_runs_nothing_is_shown_inline,
);

/// Starts a browser session for `email`; returns (cookie header value, CSRF token).
async fn session(app: &TestApp, email: &str) -> (String, String) {
    let response = app
        .call(
            Method::POST,
            "/api/v1/auth/session",
            None,
            Some(json!({ "email": email, "password": PASSWORD })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["account"]["email"], email);
    (cookie, body["csrf_token"].as_str().unwrap().to_owned())
}

fn with_cookie(app: &TestApp, method: Method, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    app.request(method, path).header("cookie", cookie)
}

async fn a_cookie_session_works_like_a_token_but_changes_need_its_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("a@example.org").await;
    app.user("b@example.org").await;
    let (cookie, csrf) = session(&app, "a@example.org").await;
    let (_, other_csrf) = session(&app, "b@example.org").await;

    // Reading needs only the cookie; the session tells a reloaded page its CSRF token.
    let current = with_cookie(&app, Method::GET, "/api/v1/auth/session", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), StatusCode::OK);
    assert_eq!(current.json::<Value>().await.unwrap()["csrf_token"], csrf);
    let listing = with_cookie(&app, Method::GET, "/api/v1/files/list?path=/", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::OK);

    // A change without the token, with another session's token, or with garbage: refused.
    let folder = json!({ "path": "/Made" });
    for token in [None, Some(other_csrf.as_str()), Some("x"), Some("")] {
        let mut request =
            with_cookie(&app, Method::POST, "/api/v1/files/folders", &cookie).json(&folder);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        let refused = request.send().await.unwrap();
        assert_problem(refused, StatusCode::FORBIDDEN, "csrf_failed").await;
    }
    let upload = with_cookie(
        &app,
        Method::PUT,
        "/api/v1/files/content?path=/x.txt",
        &cookie,
    )
    .body("x")
    .send()
    .await
    .unwrap();
    assert_problem(upload, StatusCode::FORBIDDEN, "csrf_failed").await;
    let tus = with_cookie(&app, Method::POST, "/api/v1/uploads", &cookie)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "1")
        .send()
        .await
        .unwrap();
    assert_problem(tus, StatusCode::FORBIDDEN, "csrf_failed").await;
    let listed = with_cookie(&app, Method::GET, "/api/v1/files/list?path=/", &cookie)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["entries"], json!([]), "nothing was made");

    // With its own token, the change is made.
    let made = with_cookie(&app, Method::POST, "/api/v1/files/folders", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&folder)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);

    // A bearer token needs no CSRF token (no browser sends it by itself).
    let (_, bearer) = app.user("c@example.org").await;
    let by_token = app
        .call(
            Method::POST,
            "/api/v1/files/folders",
            Some(&bearer),
            Some(json!({ "path": "/Mine" })),
        )
        .await;
    assert_eq!(by_token.status(), StatusCode::CREATED);

    // Ending the session revokes it and removes the cookie.
    let ended = with_cookie(&app, Method::DELETE, "/api/v1/auth/session", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert!(
        ended.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    for path in ["/api/v1/auth/session", "/api/v1/account"] {
        let gone = with_cookie(&app, Method::GET, path, &cookie)
            .send()
            .await
            .unwrap();
        assert_problem(gone, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let none = app
        .request(Method::GET, "/api/v1/auth/session")
        .send()
        .await
        .unwrap();
    assert_problem(none, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let wrong = app
        .call(
            Method::POST,
            "/api/v1/auth/session",
            None,
            Some(json!({ "email": "a@example.org", "password": "wrong password" })),
        )
        .await;
    assert!(wrong.headers().get("set-cookie").is_none());
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

async fn the_app_and_the_api_reference_come_from_this_origin_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in [
        "/",
        "/files",
        "/files/Some%20Folder/deeper",
        "/trash",
        "/login",
    ] {
        let page = app.request(Method::GET, path).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let headers = page.headers().clone();
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && !policy.contains("unsafe"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-cache");
        let html = page.text().await.unwrap();
        assert!(html.contains("<div id=\"app\">"), "{html}");
        assert!(!html.contains("<script>"), "no inline script");
        for script in html.split("src=\"").skip(1) {
            let source = script.split('"').next().unwrap();
            assert!(source.starts_with("/assets/"), "{source}");
            let asset = app
                .request(Method::GET, source)
                .header("accept-encoding", "gzip, br")
                .send()
                .await
                .unwrap();
            assert_eq!(asset.status(), StatusCode::OK);
            assert_eq!(asset.headers()["content-encoding"], "gzip", "{source}");
            assert!(
                asset.headers()["cache-control"]
                    .to_str()
                    .unwrap()
                    .contains("immutable")
            );
            let etag = asset.headers()["etag"].clone();
            let again = app
                .request(Method::GET, source)
                .header("if-none-match", etag)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        }
    }
    // Unknown pages are not the app; unknown assets are 404.
    let missing = app
        .request(Method::GET, "/no-such-page")
        .send()
        .await
        .unwrap();
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    let asset = app
        .request(Method::GET, "/assets/nope.js")
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), StatusCode::NOT_FOUND);

    // The API reference loads its script from this server, not from a CDN.
    let docs = app.request(Method::GET, "/api/docs").send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = docs.text().await.unwrap();
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "{html}"
    );
    let script = app
        .request(Method::GET, "/api/docs/scalar.js")
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.bytes().await.unwrap().len() > 100_000);
}

/// After a right link password, the answer sets a pass cookie scoped to that link's public
/// URLs, so the browser's plain links and images work without the password; the cookie admits
/// to that link only.
async fn a_right_link_password_sets_a_pass_cookie_for_that_link_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    app.upload(&token, "/secret.txt", b"secret").await;
    app.upload(&token, "/other.txt", b"other").await;
    let make = |path: &str| {
        app.call(
            Method::POST,
            "/api/v1/links",
            Some(&token),
            Some(json!({ "path": path, "password": "link secret" })),
        )
    };
    let link: Value = make("/secret.txt").await.json().await.unwrap();
    let other: Value = make("/other.txt").await.json().await.unwrap();
    let url = link["url"].as_str().unwrap().to_owned();
    let other_url = other["url"].as_str().unwrap().to_owned();

    let opened = app
        .request(Method::GET, &url)
        .header("x-link-password", "link secret")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let set_cookie = opened.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("coffer_link_pass="), "{set_cookie}");
    assert!(set_cookie.contains(&format!("Path={url};")), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let download = app
        .request(Method::GET, &format!("{url}/content"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"secret");
    // The pass is bound to its link, and a forged one is no pass.
    let elsewhere = app
        .request(Method::GET, &format!("{other_url}/content"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(
        elsewhere,
        StatusCode::UNAUTHORIZED,
        "link_password_required",
    )
    .await;
    let forged = app
        .request(Method::GET, &format!("{url}/content"))
        .header(
            "cookie",
            "coffer_link_pass=99999999999.AAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_problem(forged, StatusCode::UNAUTHORIZED, "link_password_required").await;
}

/// `disposition=inline` shows a PDF (or a raster image, or plain text) in the browser, for
/// previews; HTML, SVG and anything else stays an attachment, so stored content never runs as
/// a page of this origin.
async fn only_content_that_runs_nothing_is_shown_inline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    app.upload(&token, "/paper.pdf", b"%PDF-1.4 minimal").await;
    app.upload(&token, "/page.html", b"<script>alert(1)</script>")
        .await;
    app.upload(
        &token,
        "/drawing.svg",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    .await;
    let disposition = |path: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            let response = app
                .call(
                    Method::GET,
                    &format!("/api/v1/files/content?path={path}&disposition=inline"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
            response.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert!(disposition("/paper.pdf").await.starts_with("inline; "));
    assert!(disposition("/page.html").await.starts_with("attachment; "));
    assert!(
        disposition("/drawing.svg")
            .await
            .starts_with("attachment; ")
    );
    let plain = app
        .call(
            Method::GET,
            "/api/v1/files/content?path=/paper.pdf",
            Some(&token),
            None,
        )
        .await;
    assert!(
        plain.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; ")
    );
    let bad = app
        .call(
            Method::GET,
            "/api/v1/files/content?path=/paper.pdf&disposition=render",
            Some(&token),
            None,
        )
        .await;
    assert_problem(bad, StatusCode::BAD_REQUEST, "invalid_parameter").await;
}
