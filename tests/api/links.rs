//! Shared links over HTTP, on both stacks: owners manage them, anyone with the URL reads.

use coffer_tests::{Backend, TestApp, assert_problem, content, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_password_protected_folder_link_serves_its_folder_and_nothing_else,
    expired_and_revoked_links_answer_gone,
    a_link_without_downloads_still_lists,
    only_owners_manage_their_links,
);

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app
        .call(Method::POST, "/api/v1/links", Some(token), Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// A request to a link's public URL, without any account.
fn public(app: &TestApp, url: &str, password: Option<&str>) -> reqwest::RequestBuilder {
    let request = app.request(Method::GET, url);
    match password {
        Some(password) => request.header("x-link-password", password),
        None => request,
    }
}

async fn a_password_protected_folder_link_serves_its_folder_and_nothing_else(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, |s| s.accounts.login_throttle.account_failures = 3).await;
    let (_, token) = app.user("owner@example.org").await;
    let data = content(5000, 3);
    app.upload(&token, "/Holiday/photos/beach.jpg", &data).await;
    app.upload(&token, "/Private/diary.txt", b"secret").await;
    let link = create(
        &app,
        &token,
        json!({"path": "/Holiday", "password": "sunny days"}),
    )
    .await;
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(
        link["token"].as_str().unwrap().len() >= 40,
        "at least 128 random bits"
    );
    assert_eq!(link["has_password"], true);

    let no_password = public(&app, &url, None).send().await.unwrap();
    assert_problem(
        no_password,
        StatusCode::UNAUTHORIZED,
        "link_password_required",
    )
    .await;
    let root = public(&app, &url, Some("sunny days")).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::OK);
    let root: Value = root.json().await.unwrap();
    assert_eq!(
        (root["path"].as_str(), root["name"].as_str()),
        (Some("/"), Some("Holiday"))
    );

    let listing: Value = public(
        &app,
        &format!("{url}/list?path=/photos"),
        Some("sunny days"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        listing["entries"][0]["path"], "/photos/beach.jpg",
        "paths are relative to the link"
    );

    let ranged = public(
        &app,
        &format!("{url}/content?path=/photos/beach.jpg"),
        Some("sunny days"),
    )
    .header("range", "bytes=100-199")
    .send()
    .await
    .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap(), &data[100..200]);

    for escape in [
        "/../Private/diary.txt",
        "/photos/../../Private/diary.txt",
        "/Private/diary.txt",
    ] {
        let response = public(
            &app,
            &format!("{url}/content?path={escape}"),
            Some("sunny days"),
        )
        .send()
        .await
        .unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{escape}: {status}"
        );
    }
    let by_id = public(
        &app,
        &format!("{url}?path=id:{}", link["target"]["id"].as_str().unwrap()),
        Some("sunny days"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        by_id.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "ids are not paths within a link"
    );

    for _ in 0..3 {
        let wrong = public(&app, &url, Some("guess")).send().await.unwrap();
        assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_link_password").await;
    }
    let throttled = public(&app, &url, Some("sunny days")).send().await.unwrap();
    assert!(throttled.headers().contains_key("retry-after"));
    assert_problem(
        throttled,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;
}

async fn expired_and_revoked_links_answer_gone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("owner@example.org").await;
    app.upload(&token, "/doc.txt", b"document").await;
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let expiring = create(
        &app,
        &token,
        json!({"path": "/doc.txt", "expires_at": soon}),
    )
    .await;
    let revoked = create(&app, &token, json!({"path": "/doc.txt"})).await;
    let expiring_url = format!("{}/content", expiring["url"].as_str().unwrap());
    let ok = public(&app, &expiring_url, None).send().await.unwrap();
    assert_eq!(ok.bytes().await.unwrap(), &b"document"[..]);

    let path = format!("/api/v1/links/{}", revoked["id"].as_str().unwrap());
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&token), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let gone = public(&app, revoked["url"].as_str().unwrap(), None)
        .send()
        .await
        .unwrap();
    assert_problem(gone, StatusCode::GONE, "link_gone").await;

    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let expired = public(&app, &expiring_url, None).send().await.unwrap();
    assert_problem(expired, StatusCode::GONE, "link_gone").await;

    let past = app
        .call(
            Method::POST,
            "/api/v1/links",
            Some(&token),
            Some(json!({"path": "/doc.txt", "expires_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    let body = assert_problem(past, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["field"], "expires_at");
    let unknown = public(&app, "/api/v1/public/links/cfl_not_a_real_token", None)
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

async fn a_link_without_downloads_still_lists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("owner@example.org").await;
    app.upload(&token, "/Folder/a.txt", b"a").await;
    let link = create(
        &app,
        &token,
        json!({"path": "/Folder", "allow_download": false}),
    )
    .await;
    let url = link["url"].as_str().unwrap();
    let listing = public(&app, &format!("{url}/list"), None)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::OK);
    let denied = public(&app, &format!("{url}/content?path=/a.txt"), None)
        .send()
        .await
        .unwrap();
    assert_problem(denied, StatusCode::FORBIDDEN, "download_not_allowed").await;

    // Trashing the folder takes the link's content away.
    app.call(
        Method::POST,
        "/api/v1/files/delete",
        Some(&token),
        Some(json!({"path": "/Folder"})),
    )
    .await;
    let gone = public(&app, url, None).send().await.unwrap();
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
}

async fn only_owners_manage_their_links(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = app.user("alice@example.org").await;
    let (_, bob) = app.user("bob@example.org").await;
    app.upload(&alice, "/a.txt", b"a").await;
    let link = create(&app, &alice, json!({"path": "/a.txt"})).await;

    let bobs = app
        .call(Method::GET, "/api/v1/links", Some(&bob), None)
        .await;
    assert!(
        bobs.json::<Value>().await.unwrap()["links"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let path = format!("/api/v1/links/{}", link["id"].as_str().unwrap());
    let by_bob = app.call(Method::DELETE, &path, Some(&bob), None).await;
    assert_problem(by_bob, StatusCode::NOT_FOUND, "not_found").await;
    let bob_links_alices_file = app
        .call(
            Method::POST,
            "/api/v1/links",
            Some(&bob),
            Some(json!({"path": "/a.txt"})),
        )
        .await;
    assert_problem(bob_links_alices_file, StatusCode::NOT_FOUND, "not_found").await;
    let anonymous = app
        .call(
            Method::POST,
            "/api/v1/links",
            None,
            Some(json!({"path": "/a.txt"})),
        )
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let listed = app
        .call(Method::GET, "/api/v1/links", Some(&alice), None)
        .await;
    let listed: Value = listed.json().await.unwrap();
    let mine = &listed["links"][0];
    assert_eq!(mine["target"]["path"], "/a.txt");
    assert!(
        mine.get("token").is_none(),
        "the token is shown only at creation"
    );
}
