//! Conventions every endpoint follows: problem responses, request ids, health probes, OpenAPI.

use coffer_tests::{Backend, PASSWORD, TestApp, assert_problem, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    health_and_readiness_probes_answer,
    unknown_routes_and_methods_are_problems,
    malformed_bodies_get_the_same_problem_shape,
    every_response_carries_a_request_id,
    the_openapi_document_describes_every_route,
    parameters_that_are_not_utf8_are_refused,
    every_client_error_on_every_route_is_a_problem,
    page_sizes_outside_their_documented_bounds_are_refused,
);

async fn health_and_readiness_probes_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = app.request(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], status);
    }
}

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = app
        .request(Method::GET, "/api/v1/no-such-thing")
        .send()
        .await
        .unwrap();
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    let wrong_method = app
        .request(Method::PUT, "/api/v1/auth/login")
        .send()
        .await
        .unwrap();
    assert_problem(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

async fn malformed_bodies_get_the_same_problem_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let post = |content_type: &'static str, body: &'static str| {
        app.request(Method::POST, "/api/v1/auth/login")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let truncated = post("application/json", r#"{"email": "a@example.org", "pass"#)
        .await
        .unwrap();
    assert_problem(truncated, StatusCode::BAD_REQUEST, "malformed_json").await;
    let wrong_type = post("application/json", r#"{"email": 42, "password": "x"}"#)
        .await
        .unwrap();
    let body = assert_problem(
        wrong_type,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("email"), "{body}");
    let missing_field = post("application/json", r#"{"email": "a@example.org"}"#)
        .await
        .unwrap();
    assert_problem(
        missing_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let not_json = post("text/plain", "email=a@example.org").await.unwrap();
    assert_problem(
        not_json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = "x".repeat(3 << 20);
    let too_large = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"email": "a@example.org", "password": "{huge}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_problem(
        too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // After all that, the server still serves.
    app.sign_up("a@example.org").await;
    assert_eq!(
        app.try_log_in("a@example.org", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ok = app.request(Method::GET, "/healthz").send().await.unwrap();
    let failed = app
        .request(Method::GET, "/api/v1/account")
        .send()
        .await
        .unwrap();
    let ok_id = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    let failed_id = failed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(ok_id, failed_id);
    assert_eq!(ok_id.len(), 36, "a UUID");
    let echoed = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-chosen-id");
}

async fn the_openapi_document_describes_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .request(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], "/api/v1");
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/auth/signup", "post"),
        ("/auth/login", "post"),
        ("/auth/logout", "post"),
        ("/account", "get"),
        ("/account/tokens", "get"),
        ("/account/tokens/{token_id}", "delete"),
        ("/admin/users", "get"),
        ("/admin/users/{user_id}", "get"),
        ("/admin/users/{user_id}", "patch"),
        ("/admin/invites", "post"),
    ] {
        assert!(
            paths[path].get(method).is_some(),
            "{method} {path} is documented"
        );
    }
    let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
    assert!(
        codes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "invalid_credentials")
    );
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());

    let page = app.request(Method::GET, "/api/docs").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("/api/v1/openapi.json"));
}

/// Query strings and path parameters must be UTF-8 once percent-decoded: they are refused, not
/// read with replacement characters (a file named `bad-\u{FFFD}.txt` is never stored).
async fn parameters_that_are_not_utf8_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let put = app.put(&token, "path=/bad-%FF.txt", b"x".to_vec()).await;
    let body = assert_problem(put, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    assert!(body["detail"].as_str().unwrap().contains("UTF-8"), "{body}");
    for path in [
        "/api/v1/files/metadata?path=/caf%C3",
        "/api/v1/files/list?path=/%C3%28",
        "/api/v1/files/search?query=%E2%82",
        "/api/v1/files/search?query=a&path=/%FF",
        "/api/v1/admin/users?cursor=%FF",
        "/api/v1/public/links/cfl_%FF",
        "/api/v1/public/links/cfl_x/list?path=/%FF",
        "/api/v1/admin/users/%FF",
        "/api/v1/trash/%C3%28/restore",
    ] {
        let method = if path.ends_with("/restore") {
            Method::POST
        } else {
            Method::GET
        };
        let response = app.call(method, path, Some(&token), None).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    }
    let listing = app.get_json(&token, "/api/v1/files/list?path=/").await;
    assert_eq!(listing["entries"], json!([]), "{listing}");
}

/// Walks every route of the OpenAPI document with malformed path parameters (not an id, not
/// UTF-8) and malformed bodies (broken JSON, multipart without a boundary, stray bytes), with
/// and without a token: every 4xx answer is a problem document, and none is a server error.
async fn every_client_error_on_every_route_is_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user("admin@example.org").await;
    let document: Value = app
        .request(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: [(&str, &[u8]); 4] = [
        ("", b""),
        ("application/json", b"{\"path\": "),
        ("multipart/form-data", b"--x\r\n"),
        ("application/offset+octet-stream", b"\xff\xfe"),
    ];
    let mut offenders = Vec::new();
    let mut checked = 0;
    for (template, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            // Logging out would end the walk's own session.
            if template == "/auth/logout" {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let has_body = [Method::POST, Method::PUT, Method::PATCH].contains(&method);
            let parameters: &[&str] = if template.contains('{') {
                &[
                    "not-an-id",
                    "%FF%FE",
                    "0190a8e2-7b1c-7000-8000-000000000000",
                ]
            } else {
                &[""]
            };
            for parameter in parameters {
                let path = fill_parameters(template, parameter);
                for (content_type, body) in if has_body { &bodies[..] } else { &bodies[..1] } {
                    for token in [Some(admin.as_str()), None] {
                        let mut request = app
                            .request(method.clone(), &format!("/api/v1{path}"))
                            .header("tus-resumable", "1.0.0")
                            .header("upload-length", "5")
                            .header("upload-offset", "0");
                        if let Some(token) = token {
                            request = request.bearer_auth(token);
                        }
                        if !content_type.is_empty() {
                            request = request
                                .header("content-type", *content_type)
                                .body(body.to_vec());
                        }
                        let response = request.send().await.unwrap();
                        checked += 1;
                        let status = response.status();
                        let media_type = response
                            .headers()
                            .get("content-type")
                            .map(|v| v.to_str().unwrap().to_owned());
                        let is_problem = media_type.as_deref() == Some("application/problem+json");
                        if status.is_server_error() || (status.is_client_error() && !is_problem) {
                            offenders.push(format!(
                                "{method} {path} ({content_type:?}, token: {}): {status} {media_type:?}",
                                token.is_some()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 300, "the walk covered only {checked} requests");
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

/// Every `limit` parameter documents its bounds (1 to a maximum), and a page size outside them
/// is refused with 400 `invalid_parameter` naming `limit`, not silently clamped; the maximum
/// itself is served.
async fn page_sizes_outside_their_documented_bounds_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user("admin@example.org").await;
    app.upload(&admin, "/Shared/a.txt", b"a").await;
    let cursor = app
        .get_json(&admin, "/api/v1/files/list/latest-cursor?path=/")
        .await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = app
        .call(
            Method::POST,
            "/api/v1/links",
            Some(&admin),
            Some(json!({ "path": "/Shared" })),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let link_token = link["token"].as_str().unwrap();
    let document: Value = app
        .request(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = Vec::new();
    for (template, operations) in document["paths"].as_object().unwrap() {
        let Some(parameters) = operations["get"]["parameters"].as_array() else {
            continue;
        };
        let Some(limit) = parameters.iter().find(|p| p["name"] == "limit") else {
            continue;
        };
        assert_eq!(limit["schema"]["minimum"], 1, "{template}: {limit}");
        let maximum = limit["schema"]["maximum"]
            .as_u64()
            .unwrap_or_else(|| panic!("{template}: limit has no maximum: {limit}"));
        let path = template.replace("{token}", link_token);
        let other = match template.as_str() {
            "/files/list" => "path=/&".to_owned(),
            "/files/list/continue" => format!("cursor={}&", coffer_tests::encode(&cursor)),
            "/files/revisions" => "path=/Shared/a.txt&".to_owned(),
            "/files/search" => "query=a&".to_owned(),
            _ => String::new(),
        };
        let url = |size: &str| format!("/api/v1{path}?{other}limit={size}");
        for size in [
            "0".to_owned(),
            "-1".to_owned(),
            (maximum + 1).to_string(),
            "2147483648".to_owned(),
            "4294967296".to_owned(),
        ] {
            let response = app.call(Method::GET, &url(&size), Some(&admin), None).await;
            let body = assert_problem(response, StatusCode::BAD_REQUEST, "invalid_parameter").await;
            let detail = body["detail"].as_str().unwrap();
            assert!(
                detail.contains("limit"),
                "{template} limit={size}: {detail}"
            );
            assert!(
                detail.contains(&maximum.to_string()),
                "{template}: {detail}"
            );
        }
        let largest = app
            .call(Method::GET, &url(&maximum.to_string()), Some(&admin), None)
            .await;
        assert_eq!(
            largest.status(),
            StatusCode::OK,
            "{template} at its maximum"
        );
        checked.push(template.clone());
    }
    assert!(checked.len() >= 8, "only {checked:?} take a limit");
}

/// `template` with every `{name}` replaced by `value`.
fn fill_parameters(template: &str, value: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        path.push_str(&rest[..open]);
        path.push_str(value);
        rest = &rest[close..];
    }
    path + rest
}

/// The embedded stack keeps blocks in a directory: if it becomes unusable, the server says it
/// is not ready (and says so again once it is back).
#[tokio::test]
async fn readiness_fails_while_the_block_store_is_unusable() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let blocks = app.blocks_dir.clone();
    std::fs::rename(&blocks, blocks.with_extension("moved")).unwrap();
    let response = app.request(Method::GET, "/readyz").send().await.unwrap();
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    std::fs::rename(blocks.with_extension("moved"), &blocks).unwrap();
    let response = app.request(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
