//! Conventions every endpoint follows: problem responses, request ids, health probes, OpenAPI.

use coffer_tests::{Backend, PASSWORD, TestApp, assert_problem, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_both_backends!(
    health_and_readiness_probes_answer,
    unknown_routes_and_methods_are_problems,
    malformed_bodies_get_the_same_problem_shape,
    every_response_carries_a_request_id,
    the_openapi_document_describes_every_route,
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
