//! The dependency rule, enforced: inner layers must not depend on frameworks or I/O crates.
//! Uses `cargo tree -p <crate>`, which resolves each crate's dependencies and features on its
//! own, exactly as the crate builds.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates no inner layer may reach, directly or transitively (normal dependencies only).
const FORBIDDEN_EVERYWHERE_INSIDE: &[&str] = &[
    "sqlx",
    "axum",
    "hyper",
    "tower",
    "tower-http",
    "wasmtime",
    "wasmtime-wasi",
    "reqwest",
    "aws-config",
    "aws-sdk-s3",
    "opentelemetry",
    "figment",
    "clap",
    "tokio",
];
/// Crates the domain may not reach either: it carries no serialisation, no logging.
const FORBIDDEN_IN_DOMAIN: &[&str] = &["serde", "serde_json", "async-trait", "tracing"];

/// Package names `crate_name` reaches through normal dependencies, `depth` levels deep.
fn dependencies(crate_name: &str, depth: Option<u32>) -> BTreeSet<String> {
    let mut command = Command::new(env!("CARGO"));
    command
        .args([
            "tree", "--locked", "-p", crate_name, "-e", "normal", "--prefix", "none",
        ])
        .args(["--format", "{p}"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    if let Some(depth) = depth {
        command.args(["--depth", &depth.to_string()]);
    }
    let output = command.output().expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != crate_name)
        .map(str::to_owned)
        .collect()
}

fn reachable(crate_name: &str) -> BTreeSet<String> {
    dependencies(crate_name, None)
}

fn direct_layers(crate_name: &str) -> Vec<String> {
    dependencies(crate_name, Some(1))
        .into_iter()
        .filter(|d| d.starts_with("coffer-"))
        .collect()
}

#[test]
fn the_domain_depends_on_no_framework_io_or_serialisation() {
    let reached = reachable("coffer-domain");
    let forbidden: Vec<_> = FORBIDDEN_EVERYWHERE_INSIDE
        .iter()
        .chain(FORBIDDEN_IN_DOMAIN)
        .filter(|name| reached.contains(**name))
        .collect();
    assert!(forbidden.is_empty(), "coffer-domain reaches {forbidden:?}");
    let layers = direct_layers("coffer-domain");
    assert!(
        layers.is_empty(),
        "the domain depends on no other layer: {layers:?}"
    );
}

#[test]
fn the_application_depends_on_no_framework_or_io() {
    let reached = reachable("coffer-application");
    let forbidden: Vec<_> = FORBIDDEN_EVERYWHERE_INSIDE
        .iter()
        .filter(|name| reached.contains(**name))
        .collect();
    assert!(
        forbidden.is_empty(),
        "coffer-application reaches {forbidden:?}"
    );
    let layers = direct_layers("coffer-application");
    assert_eq!(
        layers,
        ["coffer-domain"],
        "the application sees only the domain"
    );
}

#[test]
fn adapters_and_the_api_do_not_depend_on_each_other() {
    for (outer, must_not_see) in [
        (
            "coffer-api",
            &[
                "coffer-sql",
                "coffer-security",
                "coffer-plugins",
                "coffer-web",
                "coffer-server",
            ][..],
        ),
        // The web app's assets and pages: presentation only, it calls the API over HTTP.
        (
            "coffer-web",
            &[
                "coffer-domain",
                "coffer-application",
                "coffer-api",
                "coffer-sql",
                "coffer-security",
                "coffer-blob",
                "coffer-plugins",
                "coffer-server",
            ][..],
        ),
        (
            "coffer-sql",
            &["coffer-api", "coffer-security", "coffer-server"][..],
        ),
        (
            "coffer-security",
            &["coffer-api", "coffer-sql", "coffer-server"][..],
        ),
        (
            "coffer-plugins",
            &[
                "coffer-api",
                "coffer-sql",
                "coffer-security",
                "coffer-blob",
                "coffer-server",
            ][..],
        ),
    ] {
        let reached = reachable(outer);
        let wrong: Vec<_> = must_not_see
            .iter()
            .filter(|c| reached.contains(**c))
            .collect();
        assert!(wrong.is_empty(), "{outer} reaches {wrong:?}");
    }
}

#[test]
fn the_check_would_catch_a_violation() {
    // Guard against a vacuous test: the server does reach the frameworks.
    let reached = reachable("coffer-server");
    for name in ["sqlx", "axum", "tokio", "serde"] {
        assert!(
            reached.contains(name),
            "{name} should be visible from coffer-server"
        );
    }
}
