//! The plugin, built for wasm32-wasip2 and run by the SDK's harness with mocked host imports.

use coffer_plugin_test::{Hook, PluginUnderTest, ScanVerdict, build_plugin};
use serde_json::json;

async fn plugin() -> PluginUnderTest {
    let wasm = build_plugin(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin"));
    PluginUnderTest::load(&wasm)
        .await
        .expect("the plugin loads")
        .with_config(json!({"extensions": ["exe", "bat"]}))
}

#[tokio::test]
async fn exports_a_scanner_and_an_event_hook() {
    let plugin = plugin().await;
    assert_eq!(plugin.hooks(), [Hook::UploadScanner, Hook::Events]);
}

#[tokio::test]
async fn refuses_blocked_extensions_and_lets_the_rest_through() {
    let plugin = plugin().await;
    let refused = plugin.scan("/downloads/setup.EXE", b"MZ...").await;
    assert_eq!(
        refused.result,
        Ok(ScanVerdict::Infected("blocked file type .exe".into()))
    );
    assert_eq!(refused.logs[0].message, "refused");
    let clean = plugin.scan("/notes/readme.txt", b"hello").await;
    assert_eq!(clean.result, Ok(ScanVerdict::Clean));
}

#[tokio::test]
async fn logs_stored_files() {
    let plugin = plugin().await;
    let outcome = plugin
        .event("file-stored", "a@example.org", Some("/notes/readme.txt"))
        .await;
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(outcome.logs[0].message, "stored");
}
