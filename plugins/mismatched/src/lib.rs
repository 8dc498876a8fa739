//! Exports `coffer:plugin/upload-scanner@0.1.0` with a `scan` of the wrong signature (it takes a
//! size and answers a flag), so the tests can check that the host refuses it at install instead
//! of failing every call.

wit_bindgen::generate!({
    inline: "
        package coffer:plugin@0.1.0;

        interface upload-scanner {
            scan: func(size: u64) -> bool;
        }

        world mismatched {
            export upload-scanner;
        }
    ",
});

struct Mismatched;

impl exports::coffer::plugin::upload_scanner::Guest for Mismatched {
    fn scan(size: u64) -> bool {
        size > 0
    }
}

export!(Mismatched);
