//! The SDK template, built and run by the harness exactly as its own tests do: the template
//! compiles against the SDK, exports two hooks, and behaves.

use coffer_plugin_test::{Hook, PluginUnderTest, ScanVerdict, build_plugin};
use serde_json::json;

#[tokio::test]
async fn the_template_builds_and_its_hooks_run_in_the_sandbox() {
    let wasm = build_plugin(concat!(env!("CARGO_MANIFEST_DIR"), "/../template/plugin"));
    let plugin = PluginUnderTest::load(&wasm)
        .await
        .unwrap()
        .with_config(json!({"extensions": ["exe"]}));
    assert_eq!(plugin.hooks(), [Hook::UploadScanner, Hook::Events]);
    let refused = plugin.scan("/setup.exe", b"MZ").await;
    assert_eq!(
        refused.result,
        Ok(ScanVerdict::Infected("blocked file type .exe".into()))
    );
    assert_eq!(
        plugin.scan("/a.txt", b"a").await.result,
        Ok(ScanVerdict::Clean)
    );
    let logged = plugin
        .event("file-stored", "a@example.org", Some("/a.txt"))
        .await;
    assert_eq!(logged.result, Ok(()));
    assert_eq!(logged.logs[0].fields[0], ("path".into(), "/a.txt".into()));
}
