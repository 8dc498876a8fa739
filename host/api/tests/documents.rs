//! The committed API documents stay true to the code: a change to a route, schema or error code
//! that is not reflected in `docs/` fails here.

use coffer_api::ErrorCode;

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs");

#[test]
fn docs_openapi_json_is_the_generated_document() {
    let generated = coffer_api::openapi().to_pretty_json().unwrap();
    let committed = std::fs::read_to_string(format!("{DOCS}/openapi.json")).unwrap();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "docs/openapi.json is stale: run `cargo run -- openapi > docs/openapi.json`"
    );
}

#[test]
fn docs_errors_md_lists_every_error_code_with_its_status() {
    let catalogue = std::fs::read_to_string(format!("{DOCS}/errors.md")).unwrap();
    for code in ErrorCode::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.status().as_u16());
        assert!(
            catalogue.contains(&row),
            "docs/errors.md lacks the row starting {row}"
        );
    }
}
