//! Shared folders over HTTP, on both stacks: two accounts work in one folder, and every endpoint
//! answers a stranger, a viewer, an editor and the owner as it must.

use std::time::{Duration, Instant};

use coffer_tests::{Backend, TestApp, assert_problem, encode, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    two_members_see_each_others_changes_through_continue_and_longpoll,
    the_access_matrix_holds_for_every_endpoint,
    content_counts_against_the_owner_and_search_spans_shared_folders,
);

/// Shares `/Team` of `owner_token` and returns its id.
async fn share(app: &TestApp, owner_token: &str, path: &str) -> String {
    let response = app
        .call(
            Method::POST,
            "/api/v1/sharing/folders",
            Some(owner_token),
            Some(json!({ "path": path })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let folder: Value = response.json().await.unwrap();
    assert_eq!(folder["role"], "owner");
    assert_eq!(folder["path"], path);
    folder["id"].as_str().unwrap().to_owned()
}

async fn add_member(app: &TestApp, owner_token: &str, folder: &str, email: &str, role: &str) {
    let response = app
        .call(
            Method::POST,
            &format!("/api/v1/sharing/folders/{folder}/members"),
            Some(owner_token),
            Some(json!({ "email": email, "role": role })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "adding {email}");
}

async fn latest_cursor(app: &TestApp, token: &str) -> String {
    app.get_json(token, "/api/v1/files/list/latest-cursor")
        .await["cursor"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every entry of the pages from `cursor` on, as `+path` or `-path`, and the last cursor.
async fn follow(app: &TestApp, token: &str, mut cursor: String) -> (Vec<String>, String) {
    let mut seen = Vec::new();
    loop {
        let page = app
            .get_json(
                token,
                &format!(
                    "/api/v1/files/list/continue?limit=2&cursor={}",
                    encode(&cursor)
                ),
            )
            .await;
        for entry in page["entries"].as_array().unwrap() {
            let sign = if entry["kind"] == "deleted" { "-" } else { "+" };
            seen.push(format!("{sign}{}", entry["path"].as_str().unwrap()));
        }
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            return (seen, cursor);
        }
    }
}

async fn two_members_see_each_others_changes_through_continue_and_longpoll(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = app.user("alice@example.org").await;
    let (_, bob) = app.user("bob@example.org").await;
    app.upload(&alice, "/Projects/Team/plan.txt", b"plan").await;
    let alice_cursor = latest_cursor(&app, &alice).await;
    let bob_cursor = latest_cursor(&app, &bob).await;

    let folder = share(&app, &alice, "/Projects/Team").await;
    add_member(&app, &alice, &folder, "bob@example.org", "editor").await;
    let (seen, bob_cursor) = follow(&app, &bob, bob_cursor).await;
    assert_eq!(seen, ["+/Team", "+/Team/plan.txt"], "bob gets the folder");
    let listing = app.get_json(&bob, "/api/v1/files/list?path=/").await;
    assert_eq!(listing["entries"][0]["shared_folder_id"], folder.as_str());

    // Bob's upload reaches Alice's feed, under her path; her longpoll wakes at once.
    let (_, alice_cursor) = follow(&app, &alice, alice_cursor).await;
    let started = Instant::now();
    let poll = app.call(
        Method::POST,
        "/api/v1/files/list/longpoll",
        None,
        Some(json!({"cursor": alice_cursor, "timeout": 30})),
    );
    let change = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.upload(&bob, "/Team/from bob.txt", b"bob").await;
    };
    let (answer, ()) = tokio::join!(poll, change);
    assert_eq!(answer.json::<Value>().await.unwrap()["changes"], true);
    assert!(started.elapsed() < Duration::from_secs(10));
    let (seen, _) = follow(&app, &alice, alice_cursor).await;
    assert_eq!(seen, ["+/Projects/Team/from bob.txt"]);
    assert_eq!(
        app.download(&alice, "/Projects/Team/from bob.txt").await,
        b"bob"
    );

    // Alice's changes reach Bob; Bob renaming his mount point changes nothing for Alice.
    app.upload(&alice, "/Projects/Team/from alice.txt", b"alice")
        .await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/files/move",
            Some(&bob),
            Some(json!({"from": "/Team", "to": "/Work/Alice's team"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (seen, bob_cursor) = follow(&app, &bob, bob_cursor).await;
    // Entries describe the present: Alice's file shows where Bob sees it now.
    assert!(seen.contains(&"-/Team".to_owned()), "{seen:?}");
    assert!(
        seen.contains(&"+/Work/Alice's team/from alice.txt".to_owned()),
        "{seen:?}"
    );
    assert_eq!(
        app.download(&alice, "/Projects/Team/from alice.txt").await,
        b"alice"
    );

    // Bob leaves: his feed says so, and the folder is gone for him.
    let response = app
        .call(
            Method::POST,
            &format!("/api/v1/sharing/folders/{folder}/leave"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (seen, _) = follow(&app, &bob, bob_cursor).await;
    assert_eq!(seen, ["-/Work/Alice's team"]);
    let gone = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=/Work/Alice's%20team/plan.txt",
            Some(&bob),
            None,
        )
        .await;
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
}

/// One request of the matrix, made as one of the four.
struct Case {
    name: &'static str,
    /// Expected status for stranger, viewer, editor, owner.
    expected: [u16; 4],
}

async fn the_access_matrix_holds_for_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let people = ["stranger", "viewer", "editor", "owner"];
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for who in people {
        let (account, token) = app.user(&format!("{who}@example.org")).await;
        ids.push(account["id"].as_str().unwrap().to_owned());
        tokens.push(token);
    }
    let owner = tokens[3].clone();
    let plan = app.upload(&owner, "/Team/plan.txt", b"v1").await;
    let old_rev = plan["rev"].as_str().unwrap().to_owned();
    app.put(&owner, "path=/Team/plan.txt&mode=overwrite", b"v2".to_vec())
        .await;
    let plan_id = format!("id:{}", plan["id"].as_str().unwrap());
    // Per-person items, so each person's change acts on something of its own.
    let mut own = std::collections::HashMap::new();
    for who in people {
        for kind in ["move", "delete", "restore", "purge"] {
            let entry = app
                .upload(&owner, &format!("/Team/Sub/{kind}-{who}.txt"), b"x")
                .await;
            own.insert((kind, who), format!("id:{}", entry["id"].as_str().unwrap()));
        }
    }
    let sub = app
        .get_json(&owner, "/api/v1/files/metadata?path=/Team/Sub")
        .await["id"]
        .as_str()
        .map(|id| format!("id:{id}"))
        .unwrap();
    // Trashed items to restore and purge.
    for who in people {
        for kind in ["restore", "purge"] {
            let response = app
                .call(
                    Method::POST,
                    "/api/v1/files/delete",
                    Some(&owner),
                    Some(json!({"path": own[&(kind, who)]})),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let folder = share(&app, &owner, "/Team").await;
    add_member(&app, &owner, &folder, "viewer@example.org", "viewer").await;
    add_member(&app, &owner, &folder, "editor@example.org", "editor").await;
    let mut extra_ids = Vec::new();
    for who in people {
        let extra = app.sign_up(&format!("extra-{who}@example.org")).await;
        extra_ids.push(extra["id"].as_str().unwrap().to_owned());
    }

    let cases = [
        Case {
            name: "metadata",
            expected: [404, 200, 200, 200],
        },
        Case {
            name: "download",
            expected: [404, 200, 200, 200],
        },
        Case {
            name: "list",
            expected: [404, 200, 200, 200],
        },
        Case {
            name: "revisions",
            expected: [404, 200, 200, 200],
        },
        Case {
            name: "search",
            expected: [200, 200, 200, 200],
        },
        Case {
            name: "latest-cursor",
            expected: [404, 200, 200, 200],
        },
        Case {
            name: "upload",
            expected: [404, 403, 201, 201],
        },
        Case {
            name: "create folder",
            expected: [404, 403, 201, 201],
        },
        Case {
            name: "move",
            expected: [404, 403, 200, 200],
        },
        Case {
            name: "copy",
            expected: [404, 403, 201, 201],
        },
        Case {
            name: "delete",
            expected: [404, 403, 200, 200],
        },
        Case {
            name: "restore revision",
            expected: [404, 403, 200, 200],
        },
        Case {
            name: "create link",
            expected: [404, 403, 201, 201],
        },
        Case {
            name: "restore from trash",
            expected: [404, 403, 200, 200],
        },
        Case {
            name: "delete from trash",
            expected: [404, 403, 204, 204],
        },
        Case {
            name: "shared folder",
            expected: [404, 200, 200, 200],
        },
        Case {
            name: "members",
            expected: [404, 200, 200, 200],
        },
        Case {
            name: "add member",
            expected: [404, 403, 403, 201],
        },
        Case {
            name: "change role",
            expected: [404, 403, 403, 204],
        },
        Case {
            name: "remove member",
            expected: [404, 403, 403, 204],
        },
        Case {
            name: "unshare",
            expected: [404, 403, 403, 204],
        },
    ];
    // Folders are addressed by id: a stranger has nothing at `/Team` of their own, so only an
    // id names the owner's folder for them. Uploads go through the mount point's path.
    for case in &cases {
        for (i, who) in people.iter().enumerate() {
            let token = tokens[i].as_str();
            let target = |kind| own[&(kind, *who)].clone();
            let folder_path = format!("/api/v1/sharing/folders/{folder}");
            let members_path = format!("{folder_path}/members");
            let (method, path, body) = match case.name {
                "metadata" => (
                    Method::GET,
                    format!("/api/v1/files/metadata?path={plan_id}"),
                    None,
                ),
                "download" => (
                    Method::GET,
                    format!("/api/v1/files/content?path={plan_id}"),
                    None,
                ),
                "list" => (Method::GET, format!("/api/v1/files/list?path={sub}"), None),
                "revisions" => (
                    Method::GET,
                    format!("/api/v1/files/revisions?path={plan_id}"),
                    None,
                ),
                "search" => {
                    let found = app
                        .get_json(token, "/api/v1/files/search?query=plan.txt")
                        .await;
                    let hits = found["entries"].as_array().unwrap().len();
                    assert_eq!(hits, usize::from(*who != "stranger"), "search: {who}");
                    continue;
                }
                "latest-cursor" => (
                    Method::GET,
                    format!("/api/v1/files/list/latest-cursor?path={sub}"),
                    None,
                ),
                "upload" if *who == "stranger" => {
                    // Nothing of the owner's has a path in a stranger's tree.
                    let response = app
                        .call(
                            Method::GET,
                            "/api/v1/files/metadata?path=/Team",
                            Some(token),
                            None,
                        )
                        .await;
                    assert_eq!(
                        response.status().as_u16(),
                        case.expected[i],
                        "{}: {who}",
                        case.name
                    );
                    continue;
                }
                "upload" => {
                    let response = app
                        .put(token, &format!("path=/Team/by-{who}.txt"), b"new".to_vec())
                        .await;
                    assert_eq!(
                        response.status().as_u16(),
                        case.expected[i],
                        "{}: {who}",
                        case.name
                    );
                    continue;
                }
                "create folder" if *who == "stranger" => {
                    let response = app
                        .call(
                            Method::GET,
                            &format!("/api/v1/files/list?path={sub}"),
                            Some(token),
                            None,
                        )
                        .await;
                    assert_eq!(
                        response.status().as_u16(),
                        case.expected[i],
                        "{}: {who}",
                        case.name
                    );
                    continue;
                }
                "create folder" => (
                    Method::POST,
                    "/api/v1/files/folders".into(),
                    Some(json!({"path": format!("/Team/Folder of {who}")})),
                ),
                "move" => (
                    Method::POST,
                    "/api/v1/files/move".into(),
                    Some(json!({"from": target("move"), "to": format!("/Team/moved-{who}.txt")})),
                ),
                "copy" => (
                    Method::POST,
                    "/api/v1/files/copy".into(),
                    Some(json!({"from": plan_id, "to": format!("/Team/copy-{who}.txt")})),
                ),
                "delete" => (
                    Method::POST,
                    "/api/v1/files/delete".into(),
                    Some(json!({"path": target("delete")})),
                ),
                "restore revision" => (
                    Method::POST,
                    "/api/v1/files/restore-revision".into(),
                    Some(json!({"path": plan_id, "rev": old_rev})),
                ),
                "create link" => (
                    Method::POST,
                    "/api/v1/links".into(),
                    Some(json!({"path": plan_id})),
                ),
                "restore from trash" => (
                    Method::POST,
                    format!("/api/v1/trash/{}/restore", &target("restore")[3..]),
                    Some(json!({})),
                ),
                "delete from trash" => (
                    Method::DELETE,
                    format!("/api/v1/trash/{}", &target("purge")[3..]),
                    None,
                ),
                "shared folder" => (Method::GET, folder_path, None),
                "members" => (Method::GET, members_path, None),
                "add member" => (
                    Method::POST,
                    members_path,
                    Some(json!({"email": format!("extra-{who}@example.org"), "role": "viewer"})),
                ),
                "change role" => (
                    Method::PATCH,
                    format!("{members_path}/{}", ids[1]),
                    Some(json!({"role": "viewer"})),
                ),
                // The member the owner added above (removing oneself is leaving).
                "remove member" => (
                    Method::DELETE,
                    format!("{members_path}/{}", extra_ids[3]),
                    None,
                ),
                "unshare" => (Method::DELETE, folder_path, None),
                other => unreachable!("no request for {other}"),
            };
            let response = app.call(method, &path, Some(token), body).await;
            let status = response.status().as_u16();
            assert_eq!(status, case.expected[i], "{}: {who}", case.name);
            match status {
                404 => {
                    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
                }
                403 => {
                    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
                }
                _ => {}
            }
        }
    }
    // After unsharing, the owner has everything back; the others have nothing.
    let listing = app
        .get_json(
            &owner,
            "/api/v1/files/list?path=/Team&recursive=true&limit=2000",
        )
        .await;
    let paths: Vec<&str> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for expected in [
        "/Team/plan.txt",
        "/Team/by-editor.txt",
        "/Team/Folder of owner",
        "/Team/moved-editor.txt",
        "/Team/Sub/restore-editor.txt",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    for token in &tokens[..3] {
        let mine = app.get_json(token, "/api/v1/files/list?path=/").await;
        assert_eq!(mine["entries"].as_array().unwrap().len(), 0, "{mine}");
    }
}

async fn content_counts_against_the_owner_and_search_spans_shared_folders(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, owner) = app.user("owner@example.org").await;
    let (_, editor) = app.user("editor@example.org").await;
    app.upload(&owner, "/Shared/report-2026.txt", b"12345")
        .await;
    let folder = share(&app, &owner, "/Shared").await;
    add_member(&app, &owner, &folder, "editor@example.org", "editor").await;
    app.upload(&editor, "/Shared/report-editor.txt", &[1; 100])
        .await;
    app.upload(&editor, "/report-private.txt", &[2; 10]).await;

    let usage = |token: &str| {
        let token = token.to_owned();
        let app = &app;
        async move { app.get_json(&token, "/api/v1/account").await["used_bytes"].clone() }
    };
    assert_eq!(usage(&owner).await, 105);
    assert_eq!(usage(&editor).await, 10);

    let found = app
        .get_json(&editor, "/api/v1/files/search?query=REPORT")
        .await;
    let paths: Vec<&str> = found["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/Shared/report-2026.txt",
            "/Shared/report-editor.txt",
            "/report-private.txt"
        ]
    );
    let owners = app
        .get_json(&owner, "/api/v1/files/search?query=report&path=/Shared")
        .await;
    assert_eq!(owners["entries"].as_array().unwrap().len(), 2);

    // A viewer's upload is refused before its body is stored; nobody's usage moves.
    let (_, viewer) = app.user("viewer@example.org").await;
    add_member(&app, &owner, &folder, "viewer@example.org", "viewer").await;
    let refused = app
        .put(&viewer, "path=/Shared/nope.bin", vec![3; 1000])
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(usage(&owner).await, 105);
}
