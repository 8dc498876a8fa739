//! Sign-up, login, tokens, logout.

use coffer_tests::{Backend, PASSWORD, SignupMode, TestApp, assert_problem, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    first_account_administers_and_a_session_runs_from_login_to_logout,
    sign_up_rejects_bad_input_and_taken_emails,
    invite_only_sign_up_needs_a_valid_invitation,
    closed_sign_up_admits_nobody,
    failed_logins_answer_alike_and_are_throttled,
    tokens_are_listed_and_revoked,
    requests_without_a_valid_bearer_token_are_unauthenticated,
);

async fn first_account_administers_and_a_session_runs_from_login_to_logout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.sign_up("Root@Example.org").await;
    assert_eq!(first["email"], "root@example.org");
    assert_eq!(first["is_admin"], true);
    assert_eq!(first["disabled"], false);
    let second = app.sign_up("bob@example.org").await;
    assert_eq!(second["is_admin"], false);

    let login: Value = app
        .try_log_in("ROOT@example.org", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["token_type"], "Bearer");
    let token = login["access_token"].as_str().unwrap();
    assert!(token.starts_with("cft_"));

    let account = app
        .call(Method::GET, "/api/v1/account", Some(token), None)
        .await;
    assert_eq!(account.status(), StatusCode::OK);
    let account: Value = account.json().await.unwrap();
    assert_eq!(account["id"], first["id"]);
    assert_eq!(account["quota_bytes"], 10u64 << 30);

    let logout = app
        .call(Method::POST, "/api/v1/auth/logout", Some(token), None)
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = app
        .call(Method::GET, "/api/v1/account", Some(token), None)
        .await;
    assert_problem(after, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn sign_up_rejects_bad_input_and_taken_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signup = |body: Value| app.call(Method::POST, "/api/v1/auth/signup", None, Some(body));

    let bad_email = signup(json!({ "email": "not-an-email", "password": PASSWORD })).await;
    let body = assert_problem(
        bad_email,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["field"], "email");

    let short = signup(json!({ "email": "a@example.org", "password": "short" })).await;
    let body = assert_problem(short, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["field"], "password");

    let unknown_field =
        signup(json!({ "email": "a@example.org", "password": PASSWORD, "admin": true })).await;
    assert_problem(
        unknown_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    app.sign_up("a@example.org").await;
    let again = signup(json!({ "email": "A@EXAMPLE.ORG", "password": PASSWORD })).await;
    assert_problem(again, StatusCode::CONFLICT, "email_taken").await;
}

async fn invite_only_sign_up_needs_a_valid_invitation(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.accounts.signup = SignupMode::InviteOnly).await;
    let (root, root_token) = app.user("root@example.org").await;
    assert_eq!(
        root["is_admin"], true,
        "the first account needs no invitation"
    );

    let signup = |body: Value| app.call(Method::POST, "/api/v1/auth/signup", None, Some(body));
    let uninvited = signup(json!({ "email": "bob@example.org", "password": PASSWORD })).await;
    assert_problem(uninvited, StatusCode::FORBIDDEN, "invite_required").await;
    let made_up = signup(
        json!({ "email": "bob@example.org", "password": PASSWORD, "invite_code": "cfi_nope" }),
    )
    .await;
    assert_problem(made_up, StatusCode::FORBIDDEN, "invite_invalid").await;

    let invite = app
        .call(
            Method::POST,
            "/api/v1/admin/invites",
            Some(&root_token),
            Some(json!({ "email": "bob@example.org" })),
        )
        .await;
    assert_eq!(invite.status(), StatusCode::CREATED);
    let invite: Value = invite.json().await.unwrap();
    let code = invite["code"].as_str().unwrap();
    assert_eq!(invite["email"], "bob@example.org");

    let wrong_person =
        signup(json!({ "email": "eve@example.org", "password": PASSWORD, "invite_code": code }))
            .await;
    assert_problem(wrong_person, StatusCode::FORBIDDEN, "invite_invalid").await;
    let bob =
        signup(json!({ "email": "bob@example.org", "password": PASSWORD, "invite_code": code }))
            .await;
    assert_eq!(bob.status(), StatusCode::CREATED);
    let reused =
        signup(json!({ "email": "bob2@example.org", "password": PASSWORD, "invite_code": code }))
            .await;
    assert_problem(reused, StatusCode::FORBIDDEN, "invite_invalid").await;
}

async fn closed_sign_up_admits_nobody(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.accounts.signup = SignupMode::Closed).await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({ "email": "a@example.org", "password": PASSWORD })),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "signup_closed").await;
}

async fn failed_logins_answer_alike_and_are_throttled(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, |s| s.accounts.login_throttle.account_failures = 3).await;
    app.sign_up("a@example.org").await;

    let unknown = app.try_log_in("nobody@example.org", PASSWORD).await;
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let mut wrong = Value::Null;
    for _ in 0..3 {
        let response = app.try_log_in("a@example.org", "wrong password").await;
        wrong = assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    assert_eq!(
        unknown["detail"], wrong["detail"],
        "no hint whether the account exists"
    );

    let locked = app.try_log_in("a@example.org", PASSWORD).await;
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_problem(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;

    // Another account from the same address is not locked by a's failures.
    app.sign_up("b@example.org").await;
    assert_eq!(
        app.try_log_in("b@example.org", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn tokens_are_listed_and_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.sign_up("a@example.org").await;
    let laptop = app.log_in("a@example.org").await;
    let phone = app.log_in("a@example.org").await;

    let listed: Value = app
        .call(Method::GET, "/api/v1/account/tokens", Some(&phone), None)
        .await
        .json()
        .await
        .unwrap();
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens.iter().filter(|t| t["current"] == true).count(), 1);
    assert!(
        tokens
            .iter()
            .all(|t| t.get("access_token").is_none() && t["name"] == "login")
    );
    let laptop_id = tokens.iter().find(|t| t["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoke = app
        .call(
            Method::DELETE,
            &format!("/api/v1/account/tokens/{laptop_id}"),
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let revoked = app
        .call(Method::GET, "/api/v1/account", Some(&laptop), None)
        .await;
    assert_problem(revoked, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(
        app.call(Method::GET, "/api/v1/account", Some(&phone), None)
            .await
            .status(),
        StatusCode::OK
    );

    let again = app
        .call(
            Method::DELETE,
            &format!("/api/v1/account/tokens/{laptop_id}"),
            Some(&phone),
            None,
        )
        .await;
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
    let not_a_uuid = app
        .call(
            Method::DELETE,
            "/api/v1/account/tokens/42",
            Some(&phone),
            None,
        )
        .await;
    assert_problem(not_a_uuid, StatusCode::BAD_REQUEST, "invalid_parameter").await;
}

async fn requests_without_a_valid_bearer_token_are_unauthenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.sign_up("a@example.org").await;
    let token = app.log_in("a@example.org").await;
    for authorization in [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer cft_made_up".to_owned()),
        Some(format!("Basic {token}")),
    ] {
        let mut request = app.request(Method::GET, "/api/v1/account");
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer",
            "{authorization:?}"
        );
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let lower_case_scheme = app
        .request(Method::GET, "/api/v1/account")
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower_case_scheme.status(), StatusCode::OK);
}
