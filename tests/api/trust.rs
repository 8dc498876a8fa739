//! Attacks on sharing, links, throttles, longpolls and tus, from outside, on both stacks
//! (issue 12): each test failed before its fix.

use coffer_tests::{Backend, TestApp, assert_problem, encode, on_both_backends};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_viewer_cannot_publish_a_shared_folder_and_its_owner_sees_every_link_into_it,
    a_link_above_a_mount_point_does_not_reach_into_a_folder_its_maker_cannot_publish,
    an_editor_over_the_owners_quota_learns_no_figures,
    disabling_an_account_revokes_its_links_for_good,
    parallel_wrong_passwords_cannot_outrun_the_throttles,
    a_right_link_password_earns_a_pass_and_conditions_hold_for_links,
    a_longpoll_on_a_cursor_into_a_lost_shared_folder_answers_reset,
    tus_commits_empty_files_refuses_bad_creations_and_tunnels_methods,
    adding_a_member_tells_nobody_which_emails_have_accounts,
    parallel_member_additions_cannot_outrun_their_throttle,
    a_nul_in_a_query_is_refused_and_never_reaches_the_database,
);

async fn share(app: &TestApp, owner: &str, path: &str, members: &[(&str, &str)]) -> String {
    let response = app
        .call(
            Method::POST,
            "/api/v1/sharing/folders",
            Some(owner),
            Some(json!({ "path": path })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (email, role) in members {
        let response = app
            .call(
                Method::POST,
                &format!("/api/v1/sharing/folders/{id}/members"),
                Some(owner),
                Some(json!({ "email": email, "role": role })),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "adding {email}");
    }
    id
}

async fn link(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(Method::POST, "/api/v1/links", Some(token), Some(body))
        .await
}

/// Makes a link (asserting 201) and returns its public URL.
async fn link_url(app: &TestApp, token: &str, body: Value) -> String {
    let response = link(app, token, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn public(app: &TestApp, url: &str) -> reqwest::Response {
    app.request(Method::GET, url).send().await.unwrap()
}

async fn a_viewer_cannot_publish_a_shared_folder_and_its_owner_sees_every_link_into_it(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = app.user("alice@example.org").await;
    let (_, bob) = app.user("bob@example.org").await;
    let (_, carol) = app.user("carol@example.org").await;
    app.upload(&alice, "/Team/plan.txt", b"the plan").await;
    share(
        &app,
        &alice,
        "/Team",
        &[
            ("bob@example.org", "viewer"),
            ("carol@example.org", "editor"),
        ],
    )
    .await;

    // The viewer's mount point, by path or by id: refused like a file inside.
    assert_problem(
        link(&app, &bob, json!({"path": "/Team"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mount = app
        .get_json(&bob, "/api/v1/files/metadata?path=/Team")
        .await;
    let by_id = format!("id:{}", mount["id"].as_str().unwrap());
    assert_problem(
        link(&app, &bob, json!({ "path": by_id })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // The editor's link: the owner lists it (with its maker) and revokes it.
    let response = link(&app, &carol, json!({"path": "/Team"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let url = created["url"].as_str().unwrap().to_owned();
    assert_eq!(
        public(&app, &format!("{url}/content?path=/plan.txt"))
            .await
            .status(),
        StatusCode::OK
    );
    let listed = app.get_json(&alice, "/api/v1/links").await;
    let links = listed["links"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["created_by"], "carol@example.org");
    assert_eq!(links[0]["target"]["path"], "/Team");
    let id = links[0]["id"].as_str().unwrap();
    assert!(
        app.get_json(&bob, "/api/v1/links").await["links"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let stranger_revokes = app
        .call(
            Method::DELETE,
            &format!("/api/v1/links/{id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_problem(stranger_revokes, StatusCode::NOT_FOUND, "not_found").await;
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/api/v1/links/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_problem(
        public(&app, &format!("{url}/content?path=/plan.txt")).await,
        StatusCode::GONE,
        "link_gone",
    )
    .await;
}

async fn a_link_above_a_mount_point_does_not_reach_into_a_folder_its_maker_cannot_publish(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = app.user("alice@example.org").await;
    let (_, bob) = app.user("bob@example.org").await;
    app.upload(&alice, "/Team/plan.txt", b"the plan").await;
    share(&app, &alice, "/Team", &[("bob@example.org", "viewer")]).await;
    let moved = app
        .call(
            Method::POST,
            "/api/v1/files/move",
            Some(&bob),
            Some(json!({"from": "/Team", "to": "/Mine/Team"})),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK, "{:?}", moved.text().await);
    app.upload(&bob, "/Mine/own.txt", b"mine").await;
    let url = link_url(&app, &bob, json!({"path": "/Mine"})).await;
    let listing: Value = public(&app, &format!("{url}/list"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["own.txt"],
        "no entry of the shared folder: {listing}"
    );
    for path in ["/Team", "/Team/plan.txt"] {
        let response = public(&app, &format!("{url}?path={}", encode(path))).await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = public(&app, &format!("{url}/content?path={}", encode(path))).await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let listing = public(&app, &format!("{url}/list?path=/Team")).await;
    assert_problem(listing, StatusCode::NOT_FOUND, "not_found").await;
}

async fn an_editor_over_the_owners_quota_learns_no_figures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user("admin@example.org").await;
    let (owner, owner_token) = app.user("owner@example.org").await;
    let (_, editor) = app.user("editor@example.org").await;
    let quota = app
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", owner["id"].as_str().unwrap()),
            Some(&admin),
            Some(json!({"quota_bytes": 1000})),
        )
        .await;
    assert_eq!(quota.status(), StatusCode::OK);
    app.upload(&owner_token, "/private-diary.txt", &[7; 700])
        .await;
    app.upload(&owner_token, "/Team/plan.txt", b"plan").await;
    share(
        &app,
        &owner_token,
        "/Team",
        &[("editor@example.org", "editor")],
    )
    .await;
    let over = app
        .put(
            &editor,
            &format!("path={}", encode("/Team/big.bin")),
            vec![1; 400],
        )
        .await;
    let body = assert_problem(over, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        !detail.chars().any(|c| c.is_ascii_digit()),
        "no quota, usage or size of the owner's: {detail}"
    );
    let own = app
        .put(
            &owner_token,
            &format!("path={}", encode("/Team/big.bin")),
            vec![1; 400],
        )
        .await;
    let body = assert_problem(own, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded").await;
    assert!(body["detail"].as_str().unwrap().contains("1000"), "{body}");
}

async fn disabling_an_account_revokes_its_links_for_good(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user("admin@example.org").await;
    let (user, token) = app.user("user@example.org").await;
    app.upload(&token, "/doc.txt", b"doc").await;
    let url = link_url(&app, &token, json!({"path": "/doc.txt"})).await;
    assert_eq!(public(&app, &url).await.status(), StatusCode::OK);
    let user_url = format!("/api/v1/admin/users/{}", user["id"].as_str().unwrap());
    for disabled in [true, false] {
        let changed = app
            .call(
                Method::PATCH,
                &user_url,
                Some(&admin),
                Some(json!({ "disabled": disabled })),
            )
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert_problem(public(&app, &url).await, StatusCode::GONE, "link_gone").await;
    }
    let token = app.log_in("user@example.org").await;
    let links = app.get_json(&token, "/api/v1/links").await;
    assert!(links["links"][0]["revoked_at"].is_string(), "{links}");
}

async fn parallel_wrong_passwords_cannot_outrun_the_throttles(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, |s| s.accounts.login_throttle.account_failures = 5).await;
    let (_, token) = app.user("owner@example.org").await;
    app.upload(&token, "/doc.txt", b"doc").await;
    let statuses = |responses: Vec<reqwest::Response>| {
        let mut checked = 0;
        for response in responses {
            match response.status() {
                StatusCode::UNAUTHORIZED => checked += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("unexpected {other}"),
            }
        }
        checked
    };
    let logins =
        join_all((0..20).map(|_| app.try_log_in("owner@example.org", "wrong guess"))).await;
    assert_eq!(
        statuses(logins),
        5,
        "only the limit's worth of guesses is checked"
    );

    let url = link_url(
        &app,
        &token,
        json!({"path": "/doc.txt", "password": "right password"}),
    )
    .await;
    let guesses = join_all((0..20).map(|_| {
        app.request(Method::GET, &url)
            .header("x-link-password", "wrong guess")
            .send()
    }))
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert_eq!(statuses(guesses), 5);
}

async fn a_right_link_password_earns_a_pass_and_conditions_hold_for_links(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("owner@example.org").await;
    let stored = app.upload(&token, "/doc.txt", b"0123456789").await;
    let url = link_url(
        &app,
        &token,
        json!({"path": "/doc.txt", "password": "right password"}),
    )
    .await;
    let other_url = link_url(
        &app,
        &token,
        json!({"path": "/doc.txt", "password": "right password"}),
    )
    .await;
    let first = app
        .request(Method::GET, &format!("{url}/content"))
        .header("x-link-password", "right password")
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::PARTIAL_CONTENT);
    let pass = first.headers()["x-link-pass"].to_str().unwrap().to_owned();
    assert_eq!(first.bytes().await.unwrap(), "0123");
    // The pass stands in for the password, for this link only.
    let next = app
        .request(Method::GET, &format!("{url}/content"))
        .header("x-link-pass", &pass)
        .header("range", "bytes=4-")
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(next.bytes().await.unwrap(), "456789");
    let elsewhere = app
        .request(Method::GET, &other_url)
        .header("x-link-pass", &pass)
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
        .request(Method::GET, &url)
        .header("x-link-pass", format!("{}0", pass))
        .send()
        .await
        .unwrap();
    assert_problem(forged, StatusCode::UNAUTHORIZED, "link_password_required").await;

    // Conditions are answered from the content served.
    let etag = format!("\"{}\"", stored["content_hash"].as_str().unwrap());
    let unchanged = app
        .request(Method::GET, &format!("{url}/content"))
        .header("x-link-pass", &pass)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    let stale_range = app
        .request(Method::GET, &format!("{url}/content"))
        .header("x-link-pass", &pass)
        .header("range", "bytes=0-3")
        .header("if-range", "\"0000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale_range.status(),
        StatusCode::OK,
        "a stale If-Range: whole file"
    );
    assert_eq!(stale_range.bytes().await.unwrap(), "0123456789");
}

async fn a_longpoll_on_a_cursor_into_a_lost_shared_folder_answers_reset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = app.user("alice@example.org").await;
    let (_, bob) = app.user("bob@example.org").await;
    let (_, carol) = app.user("carol@example.org").await;
    app.upload(&alice, "/Team/plan.txt", b"plan").await;
    let id = share(
        &app,
        &alice,
        "/Team",
        &[
            ("bob@example.org", "editor"),
            ("carol@example.org", "viewer"),
        ],
    )
    .await;
    let cursor = |token: String| {
        let app = &app;
        async move {
            app.get_json(
                &token,
                "/api/v1/files/list/latest-cursor?path=/Team&recursive=true",
            )
            .await["cursor"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let bobs = cursor(bob.clone()).await;
    let carols = cursor(carol.clone()).await;
    let longpoll = |cursor: String| {
        app.request(Method::POST, "/api/v1/files/list/longpoll")
            .json(&json!({"cursor": cursor, "timeout": 30}))
            .send()
    };
    let left = app
        .call(
            Method::POST,
            &format!("/api/v1/sharing/folders/{id}/leave"),
            Some(&carol),
            None,
        )
        .await;
    assert!(left.status().is_success());
    let response = longpoll(carols).await.unwrap();
    assert_problem(response, StatusCode::CONFLICT, "cursor_reset").await;
    let unshared = app
        .call(
            Method::DELETE,
            &format!("/api/v1/sharing/folders/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert!(unshared.status().is_success());
    let response = longpoll(bobs).await.unwrap();
    assert_problem(response, StatusCode::CONFLICT, "cursor_reset").await;
}

async fn tus_commits_empty_files_refuses_bad_creations_and_tunnels_methods(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("owner@example.org").await;
    let meta = |path: &str| {
        use base64::Engine;
        format!(
            "path {}",
            base64::engine::general_purpose::STANDARD.encode(path)
        )
    };
    let create = |length: u64, metadata: String| {
        app.request(Method::POST, "/api/v1/uploads")
            .bearer_auth(&token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length)
            .header("upload-metadata", metadata)
    };
    let options = app
        .request(Method::OPTIONS, "/api/v1/uploads")
        .send()
        .await
        .unwrap();
    let max: u64 = options.headers()["tus-max-size"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(max > 1 << 40);

    // An empty file exists as soon as it is created.
    let empty = create(0, meta("/empty.txt")).send().await.unwrap();
    assert_eq!(empty.status(), StatusCode::CREATED);
    assert!(empty.headers().contains_key("coffer-file-id"));
    assert_eq!(app.download(&token, "/empty.txt").await, b"");

    // A creation body past Upload-Length refuses the creation; nothing is left.
    let past = create(3, meta("/past.txt"))
        .header("content-type", "application/offset+octet-stream")
        .body("too long")
        .send()
        .await
        .unwrap();
    assert_problem(past, StatusCode::PAYLOAD_TOO_LARGE, "request_too_large").await;
    let over = create(max + 1, meta("/huge.bin")).send().await.unwrap();
    assert_problem(over, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // filename is a name at the root, never a path.
    use base64::Engine;
    let sneaky = create(
        1,
        format!(
            "filename {}",
            base64::engine::general_purpose::STANDARD.encode("../Docs/x.txt")
        ),
    )
    .send()
    .await
    .unwrap();
    assert_problem(sneaky, StatusCode::BAD_REQUEST, "invalid_parameter").await;

    // X-HTTP-Method-Override: PATCH through POST, then HEAD, then DELETE.
    let created = create(5, meta("/tunnelled.txt")).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let tunnel = |method: &str| {
        app.request(Method::POST, &location)
            .bearer_auth(&token)
            .header("tus-resumable", "1.0.0")
            .header("x-http-method-override", method)
    };
    let patched = tunnel("PATCH")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body("hel")
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::NO_CONTENT);
    assert_eq!(patched.headers()["upload-offset"], "3");
    let head = tunnel("HEAD").send().await.unwrap();
    assert_eq!(head.headers()["upload-offset"], "3");
    // The tunnel is the same door: anonymous callers and strangers do not get in.
    let anonymous = app
        .request(Method::POST, &location)
        .header("tus-resumable", "1.0.0")
        .header("x-http-method-override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let (_, stranger) = app.user("stranger@example.org").await;
    let strangers = app
        .request(Method::POST, &location)
        .bearer_auth(&stranger)
        .header("tus-resumable", "1.0.0")
        .header("x-http-method-override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_problem(strangers, StatusCode::NOT_FOUND, "not_found").await;
    let deleted = tunnel("DELETE").send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = tunnel("HEAD").send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let bare = app
        .request(Method::POST, &location)
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_problem(bare, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

async fn adding_a_member_tells_nobody_which_emails_have_accounts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, owner) = app.user("owner@example.org").await;
    app.user("exists@example.org").await;
    app.upload(&owner, "/Team/plan.txt", b"plan").await;
    let id = share(&app, &owner, "/Team", &[]).await;
    let members_url = format!("/api/v1/sharing/folders/{id}/members");
    let add = |email: &str| {
        app.call(
            Method::POST,
            &members_url,
            Some(&owner),
            Some(json!({ "email": email, "role": "viewer" })),
        )
    };
    let known = add("exists@example.org").await;
    let unknown = add("nobody-yet@example.org").await;
    assert_eq!(known.status(), unknown.status());
    let keys = |body: &Value| {
        let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let (known, unknown): (Value, Value) =
        (known.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(keys(&known), keys(&unknown), "{known} {unknown}");
    let again = add("nobody-yet@example.org").await;
    assert_problem(again, StatusCode::CONFLICT, "already_member").await;

    // The invited email's new account finds the folder at its root.
    let (_, newcomer) = app.user("nobody-yet@example.org").await;
    assert_eq!(app.download(&newcomer, "/Team/plan.txt").await, b"plan");
    let members = app
        .get_json(&owner, &format!("/api/v1/sharing/folders/{id}/members"))
        .await;
    assert_eq!(members["members"].as_array().unwrap().len(), 3, "{members}");
}

/// Adding members is throttled per account (`accounts.login_throttle.member_additions`), counted
/// before anything is looked up: twenty parallel additions against a limit of five add five.
async fn parallel_member_additions_cannot_outrun_their_throttle(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.accounts.login_throttle.member_additions = 5;
    })
    .await;
    let (_, owner) = app.user("owner@example.org").await;
    app.upload(&owner, "/Team/plan.txt", b"plan").await;
    let id = share(&app, &owner, "/Team", &[]).await;
    let members_url = format!("/api/v1/sharing/folders/{id}/members");
    let answers = join_all((0..20).map(|n| {
        app.call(
            Method::POST,
            &members_url,
            Some(&owner),
            Some(json!({ "email": format!("guest{n}@example.org"), "role": "viewer" })),
        )
    }))
    .await;
    let mut added = 0;
    for answer in answers {
        match answer.status() {
            StatusCode::CREATED => added += 1,
            _ => {
                let retry_after = answer.headers().get("retry-after").cloned();
                assert_problem(answer, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
                assert!(retry_after.is_some(), "429 without Retry-After");
            }
        }
    }
    assert_eq!(added, 5);
    let members = app.get_json(&owner, &members_url).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 6, "{members}");
}

/// Found by the contract test: PostgreSQL refuses text holding NUL, so a free-text filter with one
/// answered 500 there.
async fn a_nul_in_a_query_is_refused_and_never_reaches_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = app.user("admin@example.org").await;
    for (path, field) in [
        ("/api/v1/admin/plugins/audit?plugin=%00x", "plugin"),
        ("/api/v1/files/search?query=a%00b", "query"),
        ("/api/v1/admin/users?cursor=%00", "cursor"),
    ] {
        let response = app.call(Method::GET, path, Some(&admin), None).await;
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["field"], field, "{body}");
    }
}
