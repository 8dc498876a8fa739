//! The API against its own OpenAPI document, on both stacks: schemathesis generates requests
//! for every operation from the served document (valid and invalid ones, with a token of an
//! administrator who has content) and fails on any 5xx, any status or content type the
//! document does not list for the operation.
//!
//! The run is seeded, so that CI meets the same cases every time;
//! `COFFER_TEST_SCHEMATHESIS_SEED` picks other cases (a failure prints the seed that found it).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use coffer_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

on_both_backends!(every_answer_is_one_the_document_lists);

/// The schemathesis command: `COFFER_TEST_SCHEMATHESIS` if set (the test command sets it), else
/// installed now with `scripts/schemathesis`.
fn schemathesis() -> PathBuf {
    static COMMAND: OnceLock<PathBuf> = OnceLock::new();
    COMMAND
        .get_or_init(|| {
            if let Ok(command) = std::env::var("COFFER_TEST_SCHEMATHESIS") {
                return PathBuf::from(command);
            }
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/schemathesis");
            let output = Command::new(script)
                .output()
                .expect("scripts/schemathesis runs");
            assert!(
                output.status.success(),
                "installing schemathesis failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
        })
        .clone()
}

async fn every_answer_is_one_the_document_lists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("admin@example.org").await;
    app.user("member@example.org").await;
    app.upload(&token, "/Docs/report.txt", b"a report").await;
    let link = app
        .call(
            Method::POST,
            "/api/v1/links",
            Some(&token),
            Some(json!({"path": "/Docs"})),
        )
        .await;
    assert!(link.status().is_success());

    let base = app.base.clone();
    let command = schemathesis();
    let seed = std::env::var("COFFER_TEST_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".into());
    // Its cache of earlier findings stays out of the checkout and out of later runs.
    let workdir = tempfile::tempdir().unwrap();
    let cwd = workdir.path().to_owned();
    let report = tokio::task::spawn_blocking(move || {
        Command::new(command)
            .current_dir(cwd)
            .args([
                "run",
                &format!("{base}/api/v1/openapi.json"),
                "--url",
                &format!("{base}/api/v1"),
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "8",
                "--seed",
                &seed,
                // One worker: hypothesis is not safe to run in threads.
                "--workers",
                "1",
                "--request-timeout",
                "20",
                "--suppress-health-check",
                "all",
                "--no-color",
                // Logging out would end the token every other request uses.
                "--exclude-path",
                "/auth/logout",
                // So would revoking its own token (whose id the token list tells).
                "--exclude-path",
                "/account/tokens/{token_id}",
                // Longpolls wait 30 s at least when they are valid; they are tested elsewhere.
                "--exclude-path",
                "/files/list/longpoll",
                // tus bodies (application/offset+octet-stream) are a media type schemathesis
                // cannot generate; tus is tested with real clients (uploads.rs).
                "--exclude-operation-id",
                "create_upload",
                "--exclude-operation-id",
                "append",
                "--exclude-operation-id",
                "overridden",
            ])
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.status.success(),
        "schemathesis found answers the document does not list:\n{stdout}\n{}",
        String::from_utf8_lossy(&report.stderr)
    );
}
