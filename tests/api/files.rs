//! Files and folders over HTTP, on both stacks (SQLite + local disk, PostgreSQL + S3).

use coffer_domain::files::BlockHash;
use coffer_tests::{
    Backend, TestApp, assert_problem, content, dropbox_content_hash, encode, on_both_backends,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BLOCK: usize = 4 * 1024 * 1024;

on_both_backends!(
    files_round_trip_with_dropbox_content_hashes,
    ranges_and_conditional_downloads,
    write_modes_conflicts_and_autorename,
    a_wrong_content_hash_stores_nothing,
    quota_refusals_leave_nothing_behind,
    identical_content_is_stored_once_and_freed_when_unreferenced,
    malformed_names_and_paths_are_clear_errors,
    folders_move_copy_trash_and_restore,
    revisions_are_listed_downloaded_and_restored,
    folders_list_in_pages,
    concurrent_writers_never_lose_an_acknowledged_write,
    garbage_collection_during_uploads_deletes_nothing_referenced,
    search_finds_names_in_live_folders_page_by_page,
);

async fn files_round_trip_with_dropbox_content_hashes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    for (i, len) in [0, 1, BLOCK, BLOCK + 1, 2 * BLOCK + 3]
        .into_iter()
        .enumerate()
    {
        let data = content(len, i as u64);
        let path = format!("/sizes/{len}.bin");
        let meta = app.upload(&token, &path, &data).await;
        assert_eq!(meta["size"], len as u64);
        assert_eq!(
            meta["content_hash"],
            dropbox_content_hash(&data),
            "{len} bytes"
        );
        assert_eq!(meta["path"], path);
        assert_eq!(app.download(&token, &path).await, data, "{len} bytes back");
    }
    let empty = app
        .get_json(&token, "/api/v1/files/metadata?path=/sizes/0.bin")
        .await;
    assert_eq!(
        empty["content_hash"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let account = app.get_json(&token, "/api/v1/account").await;
    assert_eq!(account["used_bytes"], (4 * BLOCK + 5) as u64);
}

async fn ranges_and_conditional_downloads(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let data = content(BLOCK + 100, 9);
    let meta = app.upload(&token, "/r.bin", &data).await;
    let etag = format!("\"{}\"", meta["content_hash"].as_str().unwrap());
    let get = |headers: Vec<(&'static str, String)>| {
        let mut request = app
            .request(Method::GET, "/api/v1/files/content?path=/r.bin")
            .bearer_auth(&token);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let size = data.len();
    let cases: [(String, std::ops::Range<usize>); 4] = [
        (
            format!("bytes={}-{}", BLOCK - 2, BLOCK + 1),
            BLOCK - 2..BLOCK + 2,
        ),
        ("bytes=-10".into(), size - 10..size),
        (format!("bytes={}-", size - 3), size - 3..size),
        (format!("bytes=0-{}", size + 50), 0..size),
    ];
    for (range, expected) in cases {
        let response = get(vec![("range", range.clone())]).await.unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let content_range = format!("bytes {}-{}/{size}", expected.start, expected.end - 1);
        assert_eq!(response.headers()["content-range"], content_range.as_str());
        assert_eq!(response.bytes().await.unwrap(), &data[expected], "{range}");
    }
    let outside = get(vec![("range", format!("bytes={size}-"))])
        .await
        .unwrap();
    assert_eq!(
        outside.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
    assert_problem(
        outside,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
    )
    .await;
    let several = get(vec![("range", "bytes=0-1,5-6".into())]).await.unwrap();
    assert_eq!(
        several.status(),
        StatusCode::OK,
        "multiple ranges: the whole file"
    );
    assert_eq!(several.bytes().await.unwrap().len(), size);

    let full = get(vec![]).await.unwrap();
    assert_eq!(full.headers()["etag"], etag.as_str());
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.headers()["content-length"], size.to_string().as_str());
    let not_modified = get(vec![("if-none-match", etag.clone())]).await.unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let stale_if_range = get(vec![
        ("range", "bytes=0-0".into()),
        ("if-range", "\"old\"".into()),
    ])
    .await
    .unwrap();
    assert_eq!(
        stale_if_range.status(),
        StatusCode::OK,
        "If-Range mismatch: the whole file"
    );
}

async fn write_modes_conflicts_and_autorename(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let first = app.upload(&token, "/Doc.txt", b"v1").await;
    let rev1 = first["rev"].as_str().unwrap().to_owned();

    let again = app.put(&token, "path=/doc.TXT", b"v2".to_vec()).await;
    assert_problem(again, StatusCode::CONFLICT, "name_taken").await;
    let same = app.put(&token, "path=/doc.txt", b"v1".to_vec()).await;
    assert_eq!(
        same.status(),
        StatusCode::OK,
        "identical content is a no-op"
    );
    assert_eq!(same.json::<Value>().await.unwrap()["rev"], rev1.as_str());

    let updated = app
        .put(
            &token,
            &format!("path=/Doc.txt&mode=update&rev={rev1}"),
            b"v2".to_vec(),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let stale = app
        .put(
            &token,
            &format!("path=/Doc.txt&mode=update&rev={rev1}"),
            b"v3".to_vec(),
        )
        .await;
    assert_problem(stale, StatusCode::CONFLICT, "revision_mismatch").await;
    let no_rev = app
        .put(&token, "path=/Doc.txt&mode=update", b"v3".to_vec())
        .await;
    assert_problem(no_rev, StatusCode::BAD_REQUEST, "invalid_parameter").await;

    let overwritten = app
        .put(&token, "path=/Doc.txt&mode=overwrite", b"v4".to_vec())
        .await;
    assert_eq!(overwritten.status(), StatusCode::OK);
    let renamed = app
        .put(&token, "path=/Doc.txt&autorename=true", b"other".to_vec())
        .await;
    assert_eq!(renamed.status(), StatusCode::CREATED);
    assert_eq!(
        renamed.json::<Value>().await.unwrap()["path"],
        "/Doc (1).txt"
    );
    assert_eq!(app.download(&token, "/doc.txt").await, b"v4");

    let folder = app
        .call(
            Method::POST,
            "/api/v1/files/folders",
            Some(&token),
            Some(json!({"path": "/Dir"})),
        )
        .await;
    assert_eq!(folder.status(), StatusCode::CREATED);
    let onto_folder = app
        .put(&token, "path=/dir&mode=overwrite", b"x".to_vec())
        .await;
    assert_problem(onto_folder, StatusCode::CONFLICT, "name_taken").await;
}

async fn a_wrong_content_hash_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let data = content(1000, 1);
    let wrong = dropbox_content_hash(b"something else");
    let response = app
        .put(
            &token,
            &format!("path=/a.bin&content_hash={wrong}"),
            data.clone(),
        )
        .await;
    let body = assert_problem(response, StatusCode::BAD_REQUEST, "content_hash_mismatch").await;
    assert_eq!(body["field"], "content_hash");
    let missing = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=/a.bin",
            Some(&token),
            None,
        )
        .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    let right = dropbox_content_hash(&data);
    let ok = app
        .put(&token, &format!("path=/a.bin&content_hash={right}"), data)
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
}

async fn quota_refusals_leave_nothing_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, root) = app.user("root@example.org").await;
    let (bob, token) = app.user("bob@example.org").await;
    let patch = json!({ "quota_bytes": 1000 });
    let path = format!("/api/v1/admin/users/{}", bob["id"].as_str().unwrap());
    app.call(Method::PATCH, &path, Some(&root), Some(patch))
        .await;

    app.upload(&token, "/small.bin", &content(600, 1)).await;
    // Announced length over the quota: refused before the body is read.
    let sized = app.put(&token, "path=/big.bin", content(500, 2)).await;
    let body = assert_problem(sized, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded").await;
    assert!(body["detail"].as_str().unwrap().contains("1000"), "{body}");
    // Streamed without a length: refused once the bytes exceed the quota.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(content(300, 3)), Ok(content(300, 4))];
    let streamed = app
        .request(Method::PUT, "/api/v1/files/content?path=/streamed.bin")
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_problem(streamed, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded").await;
    for path in ["/big.bin", "/streamed.bin"] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/v1/files/metadata?path={path}"),
                Some(&token),
                None,
            )
            .await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let account = app.get_json(&token, "/api/v1/account").await;
    assert_eq!(account["used_bytes"], 600);
    assert_eq!(account["quota_bytes"], 1000);
    // Overwriting counts only the growth.
    let grown = app
        .put(&token, "path=/small.bin&mode=overwrite", content(1000, 5))
        .await;
    assert_eq!(grown.status(), StatusCode::OK);
}

async fn identical_content_is_stored_once_and_freed_when_unreferenced(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.storage.block_grace = std::time::Duration::ZERO
    })
    .await;
    let (_, alice) = app.user("alice@example.org").await;
    let (_, bob) = app.user("bob@example.org").await;
    let data = content(BLOCK + 7, 11);
    let block = BlockHash::of(&data[..BLOCK]);
    app.upload(&alice, "/shared.bin", &data).await;
    app.upload(&bob, "/mine.bin", &data).await;
    assert!(app.blobs.contains(&block).await.unwrap());

    for token in [&alice, &bob] {
        let deleted = app
            .call(
                Method::POST,
                "/api/v1/files/delete",
                Some(token),
                Some(json!({"path": "/"})),
            )
            .await;
        assert_eq!(
            deleted.status(),
            StatusCode::CONFLICT,
            "the root cannot be deleted"
        );
    }
    let delete_for_good = |token: String| {
        let app = &app;
        async move {
            app.call(Method::DELETE, "/api/v1/trash", Some(&token), None)
                .await;
        }
    };
    app.call(
        Method::POST,
        "/api/v1/files/delete",
        Some(&alice),
        Some(json!({"path": "/shared.bin"})),
    )
    .await;
    delete_for_good(alice.clone()).await;
    let report = app.collect_garbage().await;
    assert_eq!(
        report.blocks_deleted, 0,
        "bob's file still needs the blocks"
    );
    assert_eq!(app.download(&bob, "/mine.bin").await, data);

    app.call(
        Method::POST,
        "/api/v1/files/delete",
        Some(&bob),
        Some(json!({"path": "/mine.bin"})),
    )
    .await;
    delete_for_good(bob.clone()).await;
    let report = app.collect_garbage().await;
    assert_eq!(report.blocks_deleted, 2);
    assert!(
        !app.blobs.contains(&block).await.unwrap(),
        "freed once nothing references it"
    );
}

async fn malformed_names_and_paths_are_clear_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let long = "n".repeat(256);
    for bad in [
        "relative.txt",
        "/a/../b.txt",
        "/a//b.txt",
        "/./x",
        "/tab\there",
        "/nul\0",
        &format!("/{long}"),
    ] {
        let response = app
            .put(&token, &format!("path={}", encode(bad)), b"x".to_vec())
            .await;
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["field"], "path", "{bad:?}: {body}");
    }
    let root = app.put(&token, "path=/", b"x".to_vec()).await;
    assert_problem(root, StatusCode::CONFLICT, "operation_not_allowed").await;
    let no_path = app.put(&token, "mode=add", b"x".to_vec()).await;
    assert_problem(no_path, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let bad_id = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=id:nope",
            Some(&token),
            None,
        )
        .await;
    assert_problem(
        bad_id,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let ok = app
        .upload(&token, "/Ünïcödé ✓/名前 (draft).txt", b"fine")
        .await;
    assert_eq!(ok["name"], "名前 (draft).txt");
    let same_name_decomposed = app
        .put(
            &token,
            &format!("path={}", encode("/U\u{308}nïcödé ✓/名前 (DRAFT).TXT")),
            b"x".to_vec(),
        )
        .await;
    assert_problem(same_name_decomposed, StatusCode::CONFLICT, "name_taken").await;
    // Nothing above was stored but the one valid file.
    let listing = app
        .get_json(&token, "/api/v1/files/list?path=/&recursive=true")
        .await;
    assert_eq!(listing["entries"].as_array().unwrap().len(), 2);
}

async fn folders_move_copy_trash_and_restore(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let post =
        |path: &'static str, body: Value| app.call(Method::POST, path, Some(&token), Some(body));

    let made = post(
        "/api/v1/files/folders",
        json!({"path": "/A/B/C", "parents": true}),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let without_parents = post("/api/v1/files/folders", json!({"path": "/X/Y"})).await;
    assert_problem(without_parents, StatusCode::NOT_FOUND, "not_found").await;
    let again = post("/api/v1/files/folders", json!({"path": "/a/b/c"})).await;
    assert_problem(again, StatusCode::CONFLICT, "name_taken").await;
    app.upload(&token, "/A/B/C/file.txt", b"payload").await;

    let moved = post(
        "/api/v1/files/move",
        json!({"from": "/A/B", "to": "/Moved/B2"}),
    )
    .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["path"], "/Moved/B2");
    assert_eq!(
        app.download(&token, "/Moved/B2/C/file.txt").await,
        b"payload"
    );
    let into_itself = post(
        "/api/v1/files/move",
        json!({"from": "/Moved", "to": "/Moved/B2/inside"}),
    )
    .await;
    assert_problem(into_itself, StatusCode::CONFLICT, "operation_not_allowed").await;
    let by_id = post(
        "/api/v1/files/move",
        json!({"from": format!("id:{}", moved["id"].as_str().unwrap()), "to": "/B3"}),
    )
    .await;
    assert_eq!(by_id.json::<Value>().await.unwrap()["path"], "/B3");

    let copied = post("/api/v1/files/copy", json!({"from": "/B3", "to": "/Copy"})).await;
    assert_eq!(copied.status(), StatusCode::CREATED);
    assert_eq!(app.download(&token, "/Copy/C/file.txt").await, b"payload");
    assert_eq!(
        app.get_json(&token, "/api/v1/account").await["used_bytes"],
        14
    );

    let trashed = post("/api/v1/files/delete", json!({"path": "/B3"})).await;
    let trashed: Value = trashed.json().await.unwrap();
    assert!(trashed["trashed_at"].is_string());
    let gone = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=/B3/C/file.txt",
            Some(&token),
            None,
        )
        .await;
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        app.get_json(&token, "/api/v1/account").await["used_bytes"],
        7
    );

    let trash = app.get_json(&token, "/api/v1/trash").await;
    let items = trash["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["original_path"], "/B3");
    let id = items[0]["id"].as_str().unwrap().to_owned();
    post("/api/v1/files/folders", json!({"path": "/B3"})).await;
    let restore_path = format!("/api/v1/trash/{id}/restore");
    let strict = app
        .call(
            Method::POST,
            &restore_path,
            Some(&token),
            Some(json!({"autorename": false})),
        )
        .await;
    assert_problem(strict, StatusCode::CONFLICT, "name_taken").await;
    let restored = app
        .call(Method::POST, &restore_path, Some(&token), Some(json!({})))
        .await;
    assert_eq!(restored.status(), StatusCode::OK);
    assert_eq!(restored.json::<Value>().await.unwrap()["path"], "/B3 (1)");
    assert_eq!(app.download(&token, "/B3 (1)/C/file.txt").await, b"payload");

    post("/api/v1/files/delete", json!({"path": "/Copy"})).await;
    let trash = app.get_json(&token, "/api/v1/trash").await;
    let copy_id = trash["items"][0]["id"].as_str().unwrap().to_owned();
    let purge = app
        .call(
            Method::DELETE,
            &format!("/api/v1/trash/{copy_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(purge.status(), StatusCode::NO_CONTENT);
    let purge_again = app
        .call(
            Method::DELETE,
            &format!("/api/v1/trash/{copy_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_problem(purge_again, StatusCode::NOT_FOUND, "not_found").await;
    post("/api/v1/files/delete", json!({"path": "/Moved"})).await;
    let emptied = app
        .call(Method::DELETE, "/api/v1/trash", Some(&token), None)
        .await;
    assert_eq!(emptied.json::<Value>().await.unwrap()["deleted"], 1);
}

async fn revisions_are_listed_downloaded_and_restored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let v1 = app.upload(&token, "/notes.md", b"first draft").await;
    let v2 = app
        .put(&token, "path=/notes.md&mode=overwrite", b"second".to_vec())
        .await;
    assert_eq!(v2.status(), StatusCode::OK);
    let listed = app
        .get_json(&token, "/api/v1/files/revisions?path=/notes.md")
        .await;
    let revisions = listed["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[1]["rev"], v1["rev"]);
    let old = app
        .request(
            Method::GET,
            &format!(
                "/api/v1/files/content?path=/notes.md&rev={}",
                v1["rev"].as_str().unwrap()
            ),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.bytes().await.unwrap(), &b"first draft"[..]);
    let restored = app
        .call(
            Method::POST,
            "/api/v1/files/restore-revision",
            Some(&token),
            Some(json!({"path": "/notes.md", "rev": v1["rev"]})),
        )
        .await;
    assert_eq!(restored.status(), StatusCode::OK);
    let restored: Value = restored.json().await.unwrap();
    assert_ne!(restored["rev"], v1["rev"], "a new revision");
    assert_eq!(restored["content_hash"], v1["content_hash"]);
    assert_eq!(app.download(&token, "/notes.md").await, b"first draft");
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/files/restore-revision",
            Some(&token),
            Some(json!({"path": "/notes.md", "rev": "0".repeat(32)})),
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

async fn folders_list_in_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    for i in 0..25 {
        app.upload(&token, &format!("/Many/file-{i:02}.txt"), b"x")
            .await;
    }
    app.upload(&token, "/Many/Sub/deep.txt", b"y").await;
    let mut names = Vec::new();
    let mut url = "/api/v1/files/list?path=/many&limit=10".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get_json(&token, &url).await;
        pages += 1;
        names.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_owned()),
        );
        if page["has_more"] == false {
            break;
        }
        url = format!(
            "/api/v1/files/list?cursor={}&limit=10",
            page["cursor"].as_str().unwrap()
        );
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 26);
    assert_eq!(names[0], "file-00.txt");
    assert_eq!(names[25], "Sub", "name order: 'sub' sorts after 'file-…'");
    let recursive = app
        .get_json(&token, "/api/v1/files/list?path=/Many/Sub&recursive=true")
        .await;
    assert_eq!(recursive["entries"][0]["path"], "/Many/Sub/deep.txt");
    let bad = app
        .call(
            Method::GET,
            "/api/v1/files/list?cursor=garbage",
            Some(&token),
            None,
        )
        .await;
    assert_problem(bad, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let file = app
        .call(
            Method::GET,
            "/api/v1/files/list?path=/Many/file-00.txt",
            Some(&token),
            None,
        )
        .await;
    assert_problem(file, StatusCode::CONFLICT, "operation_not_allowed").await;
}

async fn concurrent_writers_never_lose_an_acknowledged_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let writers = 6;
    let adds = futures_util::future::join_all(
        (0..writers).map(|i| app.put(&token, "path=/race.txt", format!("writer {i}").into_bytes())),
    )
    .await;
    let created = adds
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    let conflicts = adds
        .iter()
        .filter(|r| r.status() == StatusCode::CONFLICT)
        .count();
    assert_eq!(
        (created, conflicts),
        (1, writers - 1),
        "add: one wins, the others conflict"
    );

    let overwrites = futures_util::future::join_all((0..writers).map(|i| {
        app.put(
            &token,
            "path=/race.txt&mode=overwrite",
            format!("overwrite {i}").into_bytes(),
        )
    }))
    .await;
    assert!(overwrites.iter().all(|r| r.status() == StatusCode::OK));
    let revisions = app
        .get_json(&token, "/api/v1/files/revisions?path=/race.txt&limit=100")
        .await;
    assert_eq!(
        revisions["revisions"].as_array().unwrap().len(),
        writers + 1,
        "every acknowledged overwrite is kept as a revision"
    );
}

async fn garbage_collection_during_uploads_deletes_nothing_referenced(backend: Backend) {
    let grace = std::time::Duration::from_secs(3);
    let app = TestApp::spawn_with(backend, |s| s.storage.block_grace = grace).await;
    let (_, token) = app.user("a@example.org").await;
    // Content deleted for good and older than the grace period: its blocks are collectable,
    // and the uploads below reuse exactly those blocks while collections run.
    let shared = content(BLOCK, 42);
    app.upload(&token, "/old.bin", &shared).await;
    app.call(
        Method::POST,
        "/api/v1/files/delete",
        Some(&token),
        Some(json!({"path": "/old.bin"})),
    )
    .await;
    app.call(Method::DELETE, "/api/v1/trash", Some(&token), None)
        .await;
    tokio::time::sleep(grace + std::time::Duration::from_millis(500)).await;

    let uploads = futures_util::future::join_all((0..6u64).map(|i| {
        let mut data = shared.clone();
        if i % 2 == 1 {
            data.extend(content(1000, i));
        }
        let app = &app;
        let token = &token;
        async move {
            let status = app
                .put(token, &format!("path=/new-{i}.bin"), data.clone())
                .await
                .status();
            (i, data, status)
        }
    }));
    let collections = async {
        let mut deleted = 0;
        for _ in 0..5 {
            deleted += app.collect_garbage().await.blocks_deleted;
        }
        deleted
    };
    let (uploads, _) = tokio::join!(uploads, collections);
    // Whichever wins each race (collection first: the upload stores the block again; upload
    // first: its touch protects the block), every upload is acknowledged and intact.
    for (i, data, status) in uploads {
        assert_eq!(status, StatusCode::CREATED, "upload {i}");
        assert_eq!(
            app.download(&token, &format!("/new-{i}.bin")).await,
            data,
            "upload {i}"
        );
    }
    // And collection long after keeps everything that is referenced.
    tokio::time::sleep(grace).await;
    app.collect_garbage().await;
    for i in 0..6 {
        let path = format!("/new-{i}.bin");
        let meta = app
            .get_json(&token, &format!("/api/v1/files/metadata?path={path}"))
            .await;
        let data = app.download(&token, &path).await;
        assert_eq!(
            dropbox_content_hash(&data),
            meta["content_hash"].as_str().unwrap(),
            "{path}"
        );
    }
}

async fn search_finds_names_in_live_folders_page_by_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let (_, other) = app.user("b@example.org").await;
    for path in [
        "/Work/Budget 2026.xlsx",
        "/Work/old/budget-2019.xlsx",
        "/Home/BUDGET",
        "/Home/recipes.md",
    ] {
        app.upload(&token, path, b"x").await;
    }
    app.upload(&other, "/budget of b", b"x").await;
    app.upload(&token, "/Gone/budget.tmp", b"x").await;
    app.call(
        Method::POST,
        "/api/v1/files/delete",
        Some(&token),
        Some(json!({"path": "/Gone"})),
    )
    .await;

    let mut found = Vec::new();
    let mut url = "/api/v1/files/search?query=Budget&limit=2".to_owned();
    loop {
        let page = app.get_json(&token, &url).await;
        found.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned()),
        );
        if page["has_more"] == false {
            break;
        }
        url = format!(
            "/api/v1/files/search?query=Budget&limit=2&cursor={}",
            page["cursor"].as_str().unwrap()
        );
    }
    assert_eq!(
        found,
        [
            "/Home/BUDGET",
            "/Work/Budget 2026.xlsx",
            "/Work/old/budget-2019.xlsx"
        ]
    );

    let below = app
        .get_json(&token, "/api/v1/files/search?query=budget&path=/work/old")
        .await;
    assert_eq!(below["entries"].as_array().unwrap().len(), 1);
    let empty = app
        .call(
            Method::GET,
            "/api/v1/files/search?query=%20",
            Some(&token),
            None,
        )
        .await;
    let body = assert_problem(empty, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["field"], "query");
}
