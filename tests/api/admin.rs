//! Administration of users and invitations.

use coffer_tests::{Backend, PASSWORD, TestApp, assert_problem, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    only_administrators_administer,
    users_page_by_email_with_opaque_cursors,
    disabling_a_user_stops_their_tokens_at_once,
    administration_can_be_granted_but_not_self_revoked,
    quotas_are_set_and_reset,
    administrators_create_accounts_whatever_the_sign_up_policy,
);

async fn only_administrators_administer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (root, _) = app.user("root@example.org").await;
    let (_, member) = app.user("bob@example.org").await;
    let root_path = format!("/api/v1/admin/users/{}", root["id"].as_str().unwrap());
    let patch = json!({ "is_admin": false });
    let invite = json!({});
    let new_user = json!({ "email": "carol@example.org", "password": PASSWORD });
    let attempts: [(Method, &str, Option<&Value>); 5] = [
        (Method::GET, "/api/v1/admin/users", None),
        (Method::POST, "/api/v1/admin/users", Some(&new_user)),
        (Method::GET, &root_path, None),
        (Method::PATCH, &root_path, Some(&patch)),
        (Method::POST, "/api/v1/admin/invites", Some(&invite)),
    ];
    for (method, path, body) in attempts {
        let as_member = app
            .call(method.clone(), path, Some(&member), body.cloned())
            .await;
        assert_problem(as_member, StatusCode::FORBIDDEN, "forbidden").await;
        let anonymous = app.call(method, path, None, body.cloned()).await;
        assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let root_token = app.log_in("root@example.org").await;
    let still_admin: Value = app
        .call(Method::GET, &root_path, Some(&root_token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still_admin["is_admin"], true);
}

async fn users_page_by_email_with_opaque_cursors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, root) = app.user("root@example.org").await;
    for name in ["erin", "carol", "alice", "dave", "bob"] {
        app.sign_up(&format!("{name}@example.org")).await;
    }
    let mut emails = Vec::new();
    let mut path = "/api/v1/admin/users?limit=2".to_owned();
    loop {
        let page: Value = app
            .call(Method::GET, &path, Some(&root), None)
            .await
            .json()
            .await
            .unwrap();
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 2);
        emails.extend(
            users
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/admin/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = ["alice", "bob", "carol", "dave", "erin", "root"]
        .iter()
        .map(|n| format!("{n}@example.org"))
        .collect();
    assert_eq!(emails, expected);

    let bad_cursor = app
        .call(
            Method::GET,
            "/api/v1/admin/users?cursor=%%%",
            Some(&root),
            None,
        )
        .await;
    assert_problem(bad_cursor, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let bad_limit = app
        .call(
            Method::GET,
            "/api/v1/admin/users?limit=-1",
            Some(&root),
            None,
        )
        .await;
    assert_problem(bad_limit, StatusCode::BAD_REQUEST, "invalid_parameter").await;
}

async fn disabling_a_user_stops_their_tokens_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, root) = app.user("root@example.org").await;
    let (bob, bob_token) = app.user("bob@example.org").await;
    let bob_path = format!("/api/v1/admin/users/{}", bob["id"].as_str().unwrap());

    let disabled = app
        .call(
            Method::PATCH,
            &bob_path,
            Some(&root),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(disabled.json::<Value>().await.unwrap()["disabled"], true);

    let with_old_token = app
        .call(Method::GET, "/api/v1/account", Some(&bob_token), None)
        .await;
    assert_problem(with_old_token, StatusCode::FORBIDDEN, "account_disabled").await;
    let login = app.try_log_in("bob@example.org", PASSWORD).await;
    assert_problem(login, StatusCode::FORBIDDEN, "account_disabled").await;

    let enabled = app
        .call(
            Method::PATCH,
            &bob_path,
            Some(&root),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    let back = app
        .call(Method::GET, "/api/v1/account", Some(&bob_token), None)
        .await;
    assert_eq!(back.status(), StatusCode::OK);
}

async fn administration_can_be_granted_but_not_self_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (root, root_token) = app.user("root@example.org").await;
    let (bob, bob_token) = app.user("bob@example.org").await;
    let bob_path = format!("/api/v1/admin/users/{}", bob["id"].as_str().unwrap());
    let root_path = format!("/api/v1/admin/users/{}", root["id"].as_str().unwrap());

    let granted = app
        .call(
            Method::PATCH,
            &bob_path,
            Some(&root_token),
            Some(json!({ "is_admin": true })),
        )
        .await;
    assert_eq!(granted.status(), StatusCode::OK);
    let listed = app
        .call(Method::GET, "/api/v1/admin/users", Some(&bob_token), None)
        .await;
    assert_eq!(
        listed.status(),
        StatusCode::OK,
        "the new administrator's token has the rights at once"
    );

    for change in [json!({ "is_admin": false }), json!({ "disabled": true })] {
        let response = app
            .call(Method::PATCH, &root_path, Some(&root_token), Some(change))
            .await;
        assert_problem(response, StatusCode::CONFLICT, "operation_not_allowed").await;
    }
    let demoted = app
        .call(
            Method::PATCH,
            &root_path,
            Some(&bob_token),
            Some(json!({ "is_admin": false })),
        )
        .await;
    assert_eq!(
        demoted.status(),
        StatusCode::OK,
        "another administrator may"
    );
}

async fn quotas_are_set_and_reset(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.accounts.default_quota_bytes = 5000).await;
    let (_, root) = app.user("root@example.org").await;
    let (bob, bob_token) = app.user("bob@example.org").await;
    let bob_path = format!("/api/v1/admin/users/{}", bob["id"].as_str().unwrap());
    assert_eq!(quota(&app, &bob_token).await, 5000);

    let set = app
        .call(
            Method::PATCH,
            &bob_path,
            Some(&root),
            Some(json!({ "quota_bytes": 123456789 })),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(quota(&app, &bob_token).await, 123456789);

    let untouched = app
        .call(
            Method::PATCH,
            &bob_path,
            Some(&root),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(
        untouched.json::<Value>().await.unwrap()["quota_bytes"],
        123456789,
        "absent field keeps the quota"
    );

    let reset = app
        .call(
            Method::PATCH,
            &bob_path,
            Some(&root),
            Some(json!({ "quota_bytes": null })),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert_eq!(quota(&app, &bob_token).await, 5000);

    for bad in [
        json!({ "quota_bytes": -1 }),
        json!({ "quota_bytes": "lots" }),
        json!({ "quota_bytes": 18446744073709551615u64 }),
    ] {
        let response = app
            .call(Method::PATCH, &bob_path, Some(&root), Some(bad.clone()))
            .await;
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("quota_bytes"),
            "{bad}: {body}"
        );
    }
    let nobody = app
        .call(
            Method::PATCH,
            "/api/v1/admin/users/00000000-0000-0000-0000-000000000000",
            Some(&root),
            Some(json!({ "quota_bytes": 1 })),
        )
        .await;
    assert_problem(nobody, StatusCode::NOT_FOUND, "not_found").await;
}

async fn quota(app: &TestApp, token: &str) -> u64 {
    let account: Value = app
        .call(Method::GET, "/api/v1/account", Some(token), None)
        .await
        .json()
        .await
        .unwrap();
    account["quota_bytes"].as_u64().unwrap()
}

/// `POST /admin/users` makes an account an administrator hands out, even with sign-up closed;
/// the person logs in with the password they are told.
async fn administrators_create_accounts_whatever_the_sign_up_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, root) = app.user("root@example.org").await;
    let app = app
        .spawn_sibling_with(|settings| {
            settings.accounts.signup = coffer_server::settings::SignupMode::Closed;
        })
        .await;
    let create =
        |body: Value| app.call(Method::POST, "/api/v1/admin/users", Some(&root), Some(body));
    let made = create(json!({ "email": "New@Example.org", "password": PASSWORD })).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    assert_eq!(made["email"], "new@example.org");
    assert_eq!(made["is_admin"], false);
    let token = app.log_in("new@example.org").await;
    assert!(!token.is_empty());

    let again = create(json!({ "email": "new@example.org", "password": PASSWORD })).await;
    assert_problem(again, StatusCode::CONFLICT, "email_taken").await;
    let short = create(json!({ "email": "other@example.org", "password": "short" })).await;
    assert_problem(short, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let admin =
        create(json!({ "email": "second@example.org", "password": PASSWORD, "is_admin": true }))
            .await;
    assert_eq!(admin.json::<Value>().await.unwrap()["is_admin"], true);
}
