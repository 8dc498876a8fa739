//! The web app in a real browser (Chromium, driven by playwright-core from `web/e2e/run.mjs`)
//! against a server on each stack, then checked through the API: what the user did in the
//! browser is what the server holds. The run signs up, uploads files and a folder (picker and
//! drag-and-drop), resumes a large upload after a reload, sees changes made elsewhere appear,
//! shares a folder with a second user who sees a new file appear live, opens a password link as
//! an anonymous visitor and downloads, installs and enables the EICAR scanner as the
//! administrator and sees an EICAR upload refused in words, uses the trash, and logs out.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use coffer_tests::{Backend, TestApp, dropbox_content_hash, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(a_user_does_their_files_in_the_browser);

/// A Chromium: `COFFER_TEST_CHROMIUM` if set (the test command sets it), else `scripts/chromium`
/// finds or installs one.
fn chromium() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Ok(path) = std::env::var("COFFER_TEST_CHROMIUM") {
            return PathBuf::from(path);
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/chromium");
        let output = Command::new(script)
            .output()
            .expect("scripts/chromium runs");
        assert!(
            output.status.success(),
            "no Chromium: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    })
    .clone()
}

/// The 48 MiB file the browser uploads (and resumes after a reload): the e2e script's pattern.
fn big_file(size: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; size];
    for i in (0..size).step_by(4096) {
        let word = (i as u32).wrapping_mul(2_654_435_761);
        bytes[i..i + 4].copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

async fn a_user_does_their_files_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
    let browser = chromium();
    let base = app.base.clone();
    let plugins = coffer_plugins::testing::plugins_dir();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["e2e/run.mjs", "--base", &base, "--repo", ".."])
            .arg("--plugins")
            .arg(plugins)
            .env("COFFER_TEST_CHROMIUM", browser)
            .current_dir(web)
            .output()
            .expect("node runs (Node.js 20 or later is needed)")
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "the browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let facts: Value = serde_json::from_slice(run.stdout.trim_ascii()).expect("the run's facts");

    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": facts["email"], "password": facts["password"] })),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let token = login.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = app.get_json(&token, "/api/v1/files/list?path=/").await;
    let mut names: Vec<&str> = root["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Projects",
            "big.bin",
            "dropped-1.txt",
            "dropped-2.txt",
            "from-the-api.txt",
            "notes.txt",
            "photos"
        ]
    );
    assert_eq!(app.download(&token, "/notes.txt").await, b"first notes\n");
    assert_eq!(
        app.download(&token, "/dropped-2.txt").await,
        b"dropped two\n"
    );
    assert_eq!(
        app.download(&token, "/photos/deeper/b.txt").await,
        b"photo b\n"
    );
    let size = facts["bigSize"].as_u64().unwrap() as usize;
    let big = app
        .get_json(&token, "/api/v1/files/metadata?path=/big.bin")
        .await;
    assert_eq!(big["size"], size);
    assert_eq!(big["content_hash"], dropbox_content_hash(&big_file(size)));
    assert!(facts["resumedFrom"].as_u64().unwrap() >= 16 << 20);
    // The member the folder was shared with sees the file the owner added in the browser.
    let member = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": facts["member"]["email"], "password": facts["member"]["password"] })),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.download(&member, "/Projects/plan.txt").await,
        b"the plan\n"
    );
    // The scanner's refusal reached the user as a sentence, and nothing was stored.
    let refusal = facts["refusal"].as_str().unwrap();
    assert!(refusal.contains("eicar-scanner"), "{refusal}");
    let eicar = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=/eicar.txt",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(eicar.status(), StatusCode::NOT_FOUND);
    // The browser's session ended at logout: its token is gone from the account's list.
    let tokens = app.get_json(&token, "/api/v1/account/tokens").await;
    let browser_sessions = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "web browser")
        .count();
    assert_eq!(browser_sessions, 0, "{tokens}");
}
