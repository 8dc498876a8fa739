//! Test support: the example and test plugins of `plugins/`, built once per test process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The directory of the built plugins: `COFFER_TEST_PLUGINS_DIR` if set (the test command sets
/// it after building them), else built now with `scripts/build-plugins`.
pub fn plugins_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(dir) = std::env::var("COFFER_TEST_PLUGINS_DIR") {
            return PathBuf::from(dir);
        }
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../scripts/build-plugins"
        );
        let output = Command::new(script)
            .output()
            .expect("scripts/build-plugins runs");
        assert!(
            output.status.success(),
            "building the plugins failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    })
    .clone()
}

/// The component of plugin crate `name` (e.g. `eicar-scanner`).
pub fn plugin_wasm(name: &str) -> Vec<u8> {
    let path = plugins_dir().join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A compile cache shared by the tests of every process, beside the built plugins: compiling a
/// large component (a Python plugin carries its interpreter) with a debug build of the compiler
/// takes long, so each component is compiled once per machine, not once per test.
pub fn shared_compile_cache() -> PathBuf {
    let dir = plugins_dir().join("compiled-for-tests");
    std::fs::create_dir_all(&dir).expect("the compile cache can be created");
    dir
}
