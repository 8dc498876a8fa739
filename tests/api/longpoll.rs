//! Longpoll over HTTP, on both stacks; on PostgreSQL also across two server instances.

use std::time::{Duration, Instant};

use coffer_tests::{Backend, TestApp, assert_problem, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_longpoll_wakes_when_something_changes,
    longpoll_checks_its_cursor_and_timeout,
);

async fn latest_cursor(app: &TestApp, token: &str) -> String {
    app.get_json(token, "/api/v1/files/list/latest-cursor")
        .await["cursor"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Longpolls `app` (no account: the cursor is enough) while `change` runs after a moment;
/// returns the answer and how long it took.
async fn longpoll_across(
    app: &TestApp,
    cursor: &str,
    change: impl Future<Output = ()>,
) -> (Value, Duration) {
    let started = Instant::now();
    let poll = app.call(
        Method::POST,
        "/api/v1/files/list/longpoll",
        None,
        Some(json!({"cursor": cursor, "timeout": 30})),
    );
    let later = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        change.await;
    };
    let (response, ()) = tokio::join!(poll, later);
    assert_eq!(response.status(), StatusCode::OK);
    (response.json().await.unwrap(), started.elapsed())
}

async fn a_longpoll_wakes_when_something_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let cursor = latest_cursor(&app, &token).await;
    let (answer, waited) = longpoll_across(&app, &cursor, async {
        app.upload(&token, "/new.txt", b"n").await;
    })
    .await;
    assert_eq!(answer["changes"], true);
    assert!(
        waited < Duration::from_secs(30),
        "woken by the change, not the timeout"
    );

    // A cursor that is already behind answers at once.
    let answer = app
        .call(
            Method::POST,
            "/api/v1/files/list/longpoll",
            None,
            Some(json!({"cursor": cursor, "timeout": 30})),
        )
        .await;
    assert_eq!(answer.json::<Value>().await.unwrap()["changes"], true);
}

async fn longpoll_checks_its_cursor_and_timeout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let cursor = latest_cursor(&app, &token).await;
    for timeout in [29, 481] {
        let response = app
            .call(
                Method::POST,
                "/api/v1/files/list/longpoll",
                None,
                Some(json!({"cursor": cursor, "timeout": timeout})),
            )
            .await;
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["field"], "timeout");
    }
    let forged = app
        .call(
            Method::POST,
            "/api/v1/files/list/longpoll",
            None,
            Some(json!({"cursor": "abc.def"})),
        )
        .await;
    assert_problem(forged, StatusCode::BAD_REQUEST, "invalid_parameter").await;
}

/// Two `coffer` instances on one PostgreSQL and one S3 bucket: a longpoll on the first wakes on
/// a change made through the second (PostgreSQL `LISTEN/NOTIFY`), and the change is readable
/// through the first.
#[tokio::test]
async fn a_longpoll_on_one_instance_wakes_on_a_change_through_another() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.spawn_sibling().await;
    let (_, token) = first.user("a@example.org").await;
    let cursor = latest_cursor(&first, &token).await;
    let (answer, waited) = longpoll_across(&first, &cursor, async {
        second
            .upload(&token, "/through-the-other.txt", b"hello")
            .await;
    })
    .await;
    assert_eq!(answer["changes"], true);
    assert!(
        waited < Duration::from_secs(30),
        "woken across instances, not by the timeout"
    );
    assert_eq!(
        first.download(&token, "/through-the-other.txt").await,
        b"hello"
    );
}

/// A member's longpoll on one instance wakes when the owner changes the shared folder through
/// another instance.
#[tokio::test]
async fn a_members_longpoll_wakes_on_the_owners_change_through_another_instance() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.spawn_sibling().await;
    let (_, owner) = first.user("owner@example.org").await;
    let (_, member) = first.user("member@example.org").await;
    first.upload(&owner, "/Team/plan.txt", b"plan").await;
    let shared: Value = first
        .call(
            Method::POST,
            "/api/v1/sharing/folders",
            Some(&owner),
            Some(json!({"path": "/Team"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let added = first
        .call(
            Method::POST,
            &format!(
                "/api/v1/sharing/folders/{}/members",
                shared["id"].as_str().unwrap()
            ),
            Some(&owner),
            Some(json!({"email": "member@example.org", "role": "viewer"})),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let cursor = latest_cursor(&first, &member).await;
    let (answer, waited) = longpoll_across(&first, &cursor, async {
        second.upload(&owner, "/Team/news.txt", b"news").await;
    })
    .await;
    assert_eq!(answer["changes"], true);
    assert!(waited < Duration::from_secs(30), "woken across instances");
    assert_eq!(first.download(&member, "/Team/news.txt").await, b"news");
}
