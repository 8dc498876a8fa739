//! Builds the web app (`web/`, TypeScript + Vite) into `OUT_DIR` and generates the table of
//! embedded assets. `npm ci` runs only when `web/package-lock.json` changed since the last
//! install, and the bundler only when the web sources (or the OpenAPI document its API client
//! is generated from) changed. `COFFER_WEB_DIST=<dir>` embeds a prebuilt app instead (a
//! `vite build` output with `docs/scalar.js` added), for machines without Node.js.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Files under `web/` whose change rebuilds the app.
const SOURCES: &[&str] = &[
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("../..");
    let web = root.join("web");
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    for source in SOURCES {
        println!("cargo:rerun-if-changed={}", web.join(source).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("docs/openapi.json").display()
    );
    println!("cargo:rerun-if-env-changed=COFFER_WEB_DIST");

    let dist = match env::var_os("COFFER_WEB_DIST") {
        Some(prebuilt) => PathBuf::from(prebuilt),
        None => build(&web, &out.join("web-dist")),
    };
    write_asset_table(&dist, &out);
}

/// Runs `npm ci` (if needed) and the build; returns the output directory.
fn build(web: &Path, dist: &Path) -> PathBuf {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if Command::new(npm).arg("--version").output().is_err() {
        panic!(
            "\n\nBuilding Coffer needs Node.js (20 or later) and npm, to build the web app in web/.\n\
             Install them (e.g. `apt-get install nodejs npm`), or set COFFER_WEB_DIST to a prebuilt\n\
             app (the output of `npm run build` in web/).\n"
        );
    }
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    let stale = match (fs::metadata(&lock), fs::metadata(&installed)) {
        (Ok(lock), Ok(installed)) => lock.modified().ok() > installed.modified().ok(),
        _ => true,
    };
    if stale {
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
                .current_dir(web),
            "npm ci",
        );
    }
    run(
        Command::new(npm)
            .args(["run", "build", "--", "--outDir"])
            .arg(dist)
            .arg("--emptyOutDir")
            .current_dir(web),
        "npm run build (type check and bundle the web app; after changing the API, regenerate \
         its client's source first: cargo run -q -p coffer-api --example openapi > docs/openapi.json)",
    );
    // The API reference page's script, from npm, served by the binary itself.
    let scalar = web.join("node_modules/@scalar/api-reference/dist/browser/standalone.js");
    fs::create_dir_all(dist.join("docs")).expect("create the docs asset directory");
    fs::copy(&scalar, dist.join("docs/scalar.js"))
        .unwrap_or_else(|e| panic!("copy {}: {e}", scalar.display()));
    dist.to_owned()
}

fn run(command: &mut Command, what: &str) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    assert!(
        status.success(),
        "{what} failed ({status}); see its output above"
    );
}

/// Writes `assets.rs`: every file of `dist` with its media type, entity tag, bytes and (when
/// it shrinks) a gzipped copy.
fn write_asset_table(dist: &Path, out: &Path) {
    let mut files = Vec::new();
    collect(dist, dist, &mut files);
    files.sort();
    assert!(
        files.iter().any(|f| f == "index.html"),
        "{} holds no index.html: the web app was not built",
        dist.display()
    );
    let gz_dir = out.join("gz");
    fs::create_dir_all(&gz_dir).expect("create the gzip directory");
    let mut table =
        String::from("/// Every embedded file.\npub(crate) static ASSETS: &[Asset] = &[\n");
    for (i, relative) in files.iter().enumerate() {
        let path = dist.join(relative);
        let bytes = fs::read(&path).expect("read an asset");
        let tag = hex::encode(&Sha256::digest(&bytes)[..12]);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&bytes).expect("gzip in memory");
        let gzipped = encoder.finish().expect("gzip in memory");
        let gzip = if compressible(relative) && gzipped.len() + 64 < bytes.len() {
            let gz_path = gz_dir.join(format!("{i}.gz"));
            fs::write(&gz_path, &gzipped).expect("write a gzipped asset");
            format!("Some(include_bytes!({:?}))", gz_path.display().to_string())
        } else {
            "None".to_owned()
        };
        writeln!(
            table,
            "    Asset {{ path: {:?}, media_type: {:?}, etag: {:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            format!("/{relative}"),
            media_type(relative),
            format!("\"{tag}\""),
            path.canonicalize().expect("an asset's path").display().to_string(),
        )
        .expect("write to a string");
    }
    table.push_str("];\n");
    fs::write(out.join("assets.rs"), table).expect("write assets.rs");
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let relative = path.strip_prefix(root).expect("below the root");
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(path: &str) -> bool {
    matches!(
        path.rsplit('.').next().unwrap_or(""),
        "html" | "js" | "mjs" | "css" | "json" | "svg" | "txt"
    )
}
