//! Prints the OpenAPI document (as `coffer openapi` does) without building the rest of the
//! server, the web app included: after changing the API, regenerate the document the web app's
//! client is generated from with
//!
//!     cargo run -q -p coffer-api --example openapi > docs/openapi.json

fn main() {
    let document = coffer_api::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    println!("{document}");
}
