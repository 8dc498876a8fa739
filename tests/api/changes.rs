//! The change feed over HTTP, on both stacks: a client that lists once and then follows
//! `continue` ends up with exactly the server's tree.

use std::collections::BTreeMap;

use coffer_tests::{Backend, TestApp, assert_problem, encode, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    continue_replays_changes_so_a_mirror_converges,
    cursors_are_tamper_proof_and_reset_when_their_folder_goes,
);

type Mirror = BTreeMap<String, String>;

async fn listing(app: &TestApp, token: &str) -> Mirror {
    let page = app
        .get_json(token, "/api/v1/files/list?path=/&recursive=true&limit=2000")
        .await;
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let path = e["path"].as_str().unwrap().to_owned();
            (
                path.to_lowercase(),
                format!("{}:{}", e["kind"].as_str().unwrap(), path),
            )
        })
        .collect()
}

fn apply(mirror: &mut Mirror, entries: &[Value]) {
    for entry in entries {
        let path = entry["path"].as_str().unwrap();
        let key = path.to_lowercase();
        match entry["kind"].as_str().unwrap() {
            "deleted" => mirror.retain(|k, _| k != &key && !k.starts_with(&format!("{key}/"))),
            kind => {
                mirror.insert(key, format!("{kind}:{path}"));
            }
        }
    }
}

async fn continue_replays_changes_so_a_mirror_converges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let (_, other) = app.user("b@example.org").await;
    app.upload(&token, "/Docs/a.txt", b"a").await;
    app.upload(&token, "/Docs/Sub/b.txt", b"b").await;
    // A sync client lists once (the first page brings a change cursor), then follows.
    let first = app
        .get_json(
            &token,
            "/api/v1/files/list?path=/&recursive=true&limit=2000",
        )
        .await;
    let mut cursor = first["change_cursor"].as_str().unwrap().to_owned();
    let mut mirror = listing(&app, &token).await;
    let next_page = app
        .get_json(&token, "/api/v1/files/list?path=/&recursive=true&limit=1")
        .await;
    let next_page = app
        .get_json(
            &token,
            &format!(
                "/api/v1/files/list?cursor={}",
                encode(next_page["cursor"].as_str().unwrap())
            ),
        )
        .await;
    assert!(
        next_page.get("change_cursor").is_none(),
        "only the first page brings one"
    );

    let post =
        |path: &'static str, body: Value| app.call(Method::POST, path, Some(&token), Some(body));
    app.upload(&token, "/Docs/new.txt", b"n").await;
    app.put(&token, "path=/Docs/a.txt&mode=overwrite", b"a2".to_vec())
        .await;
    post(
        "/api/v1/files/move",
        json!({"from": "/Docs/Sub", "to": "/Elsewhere/Sub"}),
    )
    .await;
    post(
        "/api/v1/files/copy",
        json!({"from": "/Elsewhere", "to": "/Docs/Copy"}),
    )
    .await;
    post("/api/v1/files/delete", json!({"path": "/Docs/new.txt"})).await;
    app.upload(&other, "/not-mine.txt", b"x").await;

    loop {
        let page = app
            .get_json(
                &token,
                &format!(
                    "/api/v1/files/list/continue?limit=2&cursor={}",
                    encode(&cursor)
                ),
            )
            .await;
        apply(&mut mirror, page["entries"].as_array().unwrap());
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(mirror, listing(&app, &token).await);
    assert!(
        !mirror.keys().any(|k| k.contains("not-mine")),
        "only the caller's own changes"
    );
    let idle = app
        .get_json(
            &token,
            &format!("/api/v1/files/list/continue?cursor={}", encode(&cursor)),
        )
        .await;
    assert!(idle["entries"].as_array().unwrap().is_empty());
}

async fn cursors_are_tamper_proof_and_reset_when_their_folder_goes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let (_, other) = app.user("b@example.org").await;
    app.upload(&token, "/Watched/x.txt", b"x").await;
    let cursor = app
        .get_json(&token, "/api/v1/files/list/latest-cursor?path=/Watched")
        .await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let (payload, tag) = cursor.split_once('.').unwrap();
    let mut forged_tag = tag.to_owned();
    forged_tag.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
    for forged in [
        format!("{payload}.{forged_tag}"),
        format!("{payload}x.{tag}"),
        "nonsense".into(),
    ] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/v1/files/list/continue?cursor={}", encode(&forged)),
                Some(&token),
                None,
            )
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    }
    let someone_elses = app
        .call(
            Method::GET,
            &format!("/api/v1/files/list/continue?cursor={}", encode(&cursor)),
            Some(&other),
            None,
        )
        .await;
    assert_problem(
        someone_elses,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    app.call(
        Method::POST,
        "/api/v1/files/delete",
        Some(&token),
        Some(json!({"path": "/Watched"})),
    )
    .await;
    let reset = app
        .call(
            Method::GET,
            &format!("/api/v1/files/list/continue?cursor={}", encode(&cursor)),
            Some(&token),
            None,
        )
        .await;
    assert_problem(reset, StatusCode::CONFLICT, "cursor_reset").await;
}
