//! Resumable (tus 1.0.0) and delta uploads over HTTP, on both stacks.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_domain::files::BlockHash;
use coffer_tests::{Backend, TestApp, assert_problem, content, encode, on_both_backends};
use futures_util::StreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BLOCK: usize = 4 * 1024 * 1024;

on_both_backends!(
    tus_creates_appends_at_offsets_and_commits_the_file,
    tus_checksums_refuse_a_wrong_body_and_termination_ends_the_upload,
    an_interrupted_tus_append_resumes_from_the_last_byte_that_arrived,
    a_tus_upload_started_on_one_instance_finishes_on_another,
    tus_refuses_what_is_not_tus_and_what_cannot_fit,
    a_delta_upload_sends_only_the_changed_block,
    real_tus_clients_upload_and_resume,
);

fn metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", BASE64.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn tus(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.request(method, path)
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
}

async fn create(app: &TestApp, token: &str, length: usize, meta: &str) -> String {
    let response = tus(app, Method::POST, "/api/v1/uploads", token)
        .header("upload-length", length)
        .header("upload-metadata", meta)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "upload-offset"), "0");
    assert_eq!(header(&response, "tus-resumable"), "1.0.0");
    header(&response, "location")
}

async fn patch(
    app: &TestApp,
    token: &str,
    location: &str,
    offset: usize,
    body: Vec<u8>,
) -> Response {
    tus(app, Method::PATCH, location, token)
        .header("upload-offset", offset)
        .header("content-type", "application/offset+octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn offset_of(app: &TestApp, token: &str, location: &str) -> Response {
    tus(app, Method::HEAD, location, token)
        .send()
        .await
        .unwrap()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} in the answer"))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn tus_creates_appends_at_offsets_and_commits_the_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;

    let options = app
        .request(Method::OPTIONS, "/api/v1/uploads")
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&options, "tus-version"), "1.0.0");
    assert_eq!(
        header(&options, "tus-extension"),
        "creation,creation-with-upload,termination,checksum,expiration"
    );

    let data = content(2 * BLOCK + 10, 1);
    let meta = metadata(&[
        ("path", "/Videos/clip one.mp4"),
        ("filetype", "video/mp4"),
        ("client_modified", "2026-01-02T03:04:05Z"),
    ]);
    let location = create(&app, &token, data.len(), &meta).await;
    assert!(location.starts_with("/api/v1/uploads/"), "{location}");

    let head = offset_of(&app, &token, &location).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "upload-offset"), "0");
    assert_eq!(header(&head, "upload-length"), data.len().to_string());
    assert!(header(&head, "upload-expires").ends_with(" GMT"));
    assert_eq!(header(&head, "cache-control"), "no-store");

    let first = patch(&app, &token, &location, 0, data[..BLOCK + 5].to_vec()).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&first, "upload-offset"), (BLOCK + 5).to_string());

    let wrong_type = tus(&app, Method::PATCH, &location, &token)
        .header("upload-offset", BLOCK + 5)
        .body(vec![1u8])
        .send()
        .await
        .unwrap();
    assert_problem(
        wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let behind = patch(&app, &token, &location, 7, data[7..].to_vec()).await;
    assert_eq!(header(&behind, "upload-offset"), (BLOCK + 5).to_string());
    let problem = assert_problem(behind, StatusCode::CONFLICT, "upload_offset_mismatch").await;
    assert_eq!(problem["offset"], BLOCK + 5);

    let rest = data[BLOCK + 5..].to_vec();
    let checksum = format!("sha256 {}", BASE64.encode(Sha256::digest(&rest)));
    let last = tus(&app, Method::PATCH, &location, &token)
        .header("upload-offset", BLOCK + 5)
        .header("upload-checksum", checksum)
        .header("content-type", "application/offset+octet-stream")
        .body(rest)
        .send()
        .await
        .unwrap();
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&last, "upload-offset"), data.len().to_string());
    let rev = header(&last, "coffer-rev");

    let meta = app
        .get_json(
            &token,
            &format!(
                "/api/v1/files/metadata?path={}",
                encode("/Videos/clip one.mp4")
            ),
        )
        .await;
    assert_eq!(meta["rev"], rev);
    assert_eq!(meta["id"], header(&last, "coffer-file-id"));
    assert_eq!(meta["client_modified"], "2026-01-02T03:04:05Z");
    assert_eq!(
        meta["content_hash"],
        coffer_tests::dropbox_content_hash(&data)
    );
    assert_eq!(app.download(&token, "/Videos/clip one.mp4").await, data);

    // A client that lost the last answer learns from HEAD that the upload is complete.
    let after = offset_of(&app, &token, &location).await;
    assert_eq!(header(&after, "upload-offset"), data.len().to_string());
    assert_eq!(header(&after, "coffer-rev"), rev);
}

async fn tus_checksums_refuse_a_wrong_body_and_termination_ends_the_upload(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let data = content(1000, 2);

    // Creation with upload: the first bytes ride on the POST.
    let created = tus(&app, Method::POST, "/api/v1/uploads", &token)
        .header("upload-length", data.len())
        .header("upload-metadata", metadata(&[("filename", "notes.txt")]))
        .header("content-type", "application/offset+octet-stream")
        .body(data[..400].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(header(&created, "upload-offset"), "400");
    let location = header(&created, "location");

    let wrong = tus(&app, Method::PATCH, &location, &token)
        .header("upload-offset", 400)
        .header(
            "upload-checksum",
            format!("sha256 {}", BASE64.encode(Sha256::digest(b"other"))),
        )
        .header("content-type", "application/offset+octet-stream")
        .body(data[400..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 460);
    assert_eq!(header(&wrong, "tus-resumable"), "1.0.0");
    let head = offset_of(&app, &token, &location).await;
    assert_eq!(header(&head, "upload-offset"), "400", "nothing of it kept");
    // Nor stored: the block the wrong body would have completed was never written.
    let joined = coffer_domain::files::BlockHash::of(&data);
    assert!(
        !app.blobs.contains(&joined).await.unwrap(),
        "unchecked bytes stored"
    );
    let md5 = tus(&app, Method::PATCH, &location, &token)
        .header("upload-offset", 400)
        .header("upload-checksum", "md5 AAAAAAAAAAAAAAAAAAAAAA==")
        .header("content-type", "application/offset+octet-stream")
        .body(data[400..].to_vec())
        .send()
        .await
        .unwrap();
    assert_problem(
        md5,
        StatusCode::BAD_REQUEST,
        "checksum_algorithm_unsupported",
    )
    .await;

    let gone = tus(&app, Method::DELETE, &location, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let head = offset_of(&app, &token, &location).await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert!(head.headers().get("upload-offset").is_none());
    let listing = app.get_json(&token, "/api/v1/files/list?path=/").await;
    assert_eq!(listing["entries"], json!([]), "nothing was committed");
}

async fn an_interrupted_tus_append_resumes_from_the_last_byte_that_arrived(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let data = content(3 * BLOCK + 123, 3);
    let location = create(&app, &token, data.len(), &metadata(&[("path", "/big.bin")])).await;

    // The client sends a block and a bit, then its connection breaks.
    let sent = BLOCK + 1000;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(data[..BLOCK].to_vec()),
        Ok(data[BLOCK..sent].to_vec()),
        Err(std::io::Error::other("network gone")),
    ];
    let broken = tus(&app, Method::PATCH, &location, &token)
        .header("upload-offset", 0)
        .header("content-type", "application/offset+octet-stream")
        .body(reqwest::Body::wrap_stream(
            futures_util::stream::iter(chunks).then(|chunk| async move {
                // The sent bytes reach the server before the connection breaks.
                if chunk.is_err() {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                chunk
            }),
        ))
        .send()
        .await;
    assert!(broken.is_err(), "the request broke off");

    // The server records what arrived, even though nobody waits for its answer.
    let mut offset = String::new();
    for _ in 0..100 {
        offset = header(&offset_of(&app, &token, &location).await, "upload-offset");
        if offset == sent.to_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(offset, sent.to_string(), "every byte that arrived is kept");

    let rest = patch(&app, &token, &location, sent, data[sent..].to_vec()).await;
    assert_eq!(rest.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.download(&token, "/big.bin").await, data);
}

async fn a_tus_upload_started_on_one_instance_finishes_on_another(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = first.spawn_sibling().await;
    let (_, token) = first.user("a@example.org").await;
    let data = content(BLOCK + 77, 4);
    let location = create(
        &first,
        &token,
        data.len(),
        &metadata(&[("path", "/moved.bin")]),
    )
    .await;
    let half = patch(&first, &token, &location, 0, data[..BLOCK + 7].to_vec()).await;
    assert_eq!(half.status(), StatusCode::NO_CONTENT);

    let head = offset_of(&second, &token, &location).await;
    assert_eq!(header(&head, "upload-offset"), (BLOCK + 7).to_string());
    let rest = patch(
        &second,
        &token,
        &location,
        BLOCK + 7,
        data[BLOCK + 7..].to_vec(),
    )
    .await;
    assert_eq!(rest.status(), StatusCode::NO_CONTENT);
    assert_eq!(first.download(&token, "/moved.bin").await, data);
}

async fn tus_refuses_what_is_not_tus_and_what_cannot_fit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let (_, other) = app.user("b@example.org").await;

    let no_version = app
        .request(Method::POST, "/api/v1/uploads")
        .bearer_auth(&token)
        .header("upload-length", 1)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&no_version, "tus-version"), "1.0.0");
    assert_problem(
        no_version,
        StatusCode::PRECONDITION_FAILED,
        "tus_version_unsupported",
    )
    .await;

    let no_length = tus(&app, Method::POST, "/api/v1/uploads", &token)
        .header("upload-metadata", metadata(&[("path", "/a")]))
        .send()
        .await
        .unwrap();
    assert_problem(no_length, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let no_path = tus(&app, Method::POST, "/api/v1/uploads", &token)
        .header("upload-length", 1)
        .send()
        .await
        .unwrap();
    assert_problem(no_path, StatusCode::BAD_REQUEST, "invalid_parameter").await;
    let anonymous = app
        .request(Method::POST, "/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", 1)
        .header("upload-metadata", metadata(&[("path", "/a")]))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let huge = tus(&app, Method::POST, "/api/v1/uploads", &token)
        .header("upload-length", u64::MAX / 2)
        .header("upload-metadata", metadata(&[("path", "/huge.iso")]))
        .send()
        .await
        .unwrap();
    assert_problem(huge, StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded").await;

    // Another user's upload does not exist for them.
    let location = create(&app, &token, 4, &metadata(&[("path", "/mine.txt")])).await;
    let foreign = patch(&app, &other, &location, 0, b"evil".to_vec()).await;
    assert_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;
    let past = patch(&app, &token, &location, 0, b"too long".to_vec()).await;
    assert_problem(past, StatusCode::PAYLOAD_TOO_LARGE, "request_too_large").await;
    let head = offset_of(&app, &token, &location).await;
    assert_eq!(header(&head, "upload-offset"), "0");
}

async fn a_delta_upload_sends_only_the_changed_block(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let (_, stranger) = app.user("b@example.org").await;
    let old = content(3 * BLOCK + 500, 5);
    let stored = app.upload(&token, "/disk.img", &old).await;
    let mut new = old.clone();
    new[2 * BLOCK + 9] ^= 1;
    let hashes: Vec<String> = new
        .chunks(BLOCK)
        .map(|c| BlockHash::of(c).to_hex())
        .collect();

    // A stranger declaring the same blocks is asked for every one of them.
    let guess = app
        .call(
            Method::POST,
            "/api/v1/delta-uploads",
            Some(&stranger),
            Some(json!({ "path": "/guess.img", "size": new.len(), "blocks": hashes })),
        )
        .await;
    assert_eq!(guess.status(), StatusCode::CREATED);
    let guess: Value = guess.json().await.unwrap();
    assert_eq!(guess["needed"].as_array().unwrap().len(), 4);

    let started = app
        .call(
            Method::POST,
            "/api/v1/delta-uploads",
            Some(&token),
            Some(json!({
                "path": "/disk.img", "mode": "update", "rev": stored["rev"],
                "size": new.len(), "blocks": hashes,
            })),
        )
        .await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["needed"], json!([hashes[2]]), "one block to send");
    let id = started["id"].as_str().unwrap();

    let early = app
        .call(
            Method::POST,
            &format!("/api/v1/delta-uploads/{id}/commit"),
            Some(&token),
            None,
        )
        .await;
    let problem = assert_problem(early, StatusCode::CONFLICT, "blocks_missing").await;
    assert_eq!(problem["missing"], 1);

    let block_url = format!("/api/v1/delta-uploads/{id}/blocks/{}", hashes[2]);
    let wrong = app
        .request(Method::PUT, &block_url)
        .bearer_auth(&token)
        .body(old[2 * BLOCK..3 * BLOCK].to_vec())
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::BAD_REQUEST, "content_hash_mismatch").await;
    let sent = app
        .request(Method::PUT, &block_url)
        .bearer_auth(&token)
        .body(new[2 * BLOCK..3 * BLOCK].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::NO_CONTENT);

    let committed = app
        .call(
            Method::POST,
            &format!("/api/v1/delta-uploads/{id}/commit"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(committed.status(), StatusCode::OK);
    let committed: Value = committed.json().await.unwrap();
    assert_ne!(committed["rev"], stored["rev"]);
    assert_eq!(
        committed["content_hash"],
        coffer_tests::dropbox_content_hash(&new)
    );
    assert_eq!(app.download(&token, "/disk.img").await, new);
    let account = app.get_json(&token, "/api/v1/account").await;
    assert_eq!(account["used_bytes"], new.len() as u64);
}

/// The installed tus clients: `COFFER_TEST_TUS_CLIENTS_DIR` if set (the test command sets it),
/// else installed now with `scripts/tus-clients`.
fn tus_clients_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(dir) = std::env::var("COFFER_TEST_TUS_CLIENTS_DIR") {
            return PathBuf::from(dir);
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/tus-clients");
        let output = Command::new(script)
            .output()
            .expect("scripts/tus-clients runs");
        assert!(
            output.status.success(),
            "installing the tus clients failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    })
    .clone()
}

/// Runs a client script to completion off the runtime (the server shares it), returning its
/// JSON report.
async fn run_client(mut command: Command) -> Value {
    let output = tokio::task::spawn_blocking(move || command.output().expect("the client runs"))
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "the client failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client prints JSON")
}

async fn real_tus_clients_upload_and_resume(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let clients = tus_clients_dir();
    let scripts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/clients"));
    let work = tempfile::tempdir().unwrap();
    let large = content(3 * BLOCK + 321, 8);
    let large_file = work.path().join("large.bin");
    std::fs::write(&large_file, &large).unwrap();
    let small_file = work.path().join("small.txt");
    std::fs::write(&small_file, b"sent with the creation request").unwrap();

    // tuspy: one chunk, then a new uploader resumes from the URL it stored.
    let mut tuspy = Command::new(clients.join("venv/bin/python"));
    tuspy
        .arg(scripts.join("tuspy_resume.py"))
        .args([&app.base, &token])
        .arg(&large_file)
        .arg("/tuspy/large.bin")
        .arg(work.path().join("tuspy-urls.json"));
    let report = run_client(tuspy).await;
    assert_eq!(report["same_url"], true, "{report}");
    assert_eq!(report["first_offset"], 3 * 1024 * 1024, "{report}");
    assert_eq!(report["resumed_from"], 3 * 1024 * 1024, "{report}");
    assert_eq!(report["final_offset"], large.len(), "{report}");
    assert_eq!(app.download(&token, "/tuspy/large.bin").await, large);

    // tus-js-client: 5 MiB chunks (not aligned to blocks), aborted after the first; a new
    // Upload resumes from the URL. A small file rides on its creation request.
    let mut node = Command::new("node");
    node.env("NODE_PATH", clients.join("node/node_modules"))
        .arg(scripts.join("tus_js_resume.cjs"))
        .args([&app.base, &token])
        .arg(&large_file)
        .arg("/tus-js/large.bin")
        .arg(&small_file)
        .arg("/tus-js/small.txt");
    let report = run_client(node).await;
    assert_eq!(report["same_url"], true, "{report}");
    assert_eq!(report["resumed_from"], 5 * 1024 * 1024, "{report}");
    assert_eq!(report["final_offset"], large.len(), "{report}");
    assert_eq!(app.download(&token, "/tus-js/large.bin").await, large);
    assert_eq!(
        app.download(&token, "/tus-js/small.txt").await,
        b"sent with the creation request"
    );
}
