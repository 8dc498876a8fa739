//! Write Coffer plugins in Rust.
//!
//! A plugin is a WebAssembly component (`wasm32-wasip2`) that implements one or more hooks of
//! `coffer:plugin@0.1.0`. Enable the cargo feature of each hook you implement (`scanner`,
//! `sharing`, `quota`, `events`), implement its trait, and export it with its macro:
//!
//! ```ignore
//! use coffer_plugin_sdk::scanner::{Scanner, UploadContent, UploadInfo, Verdict};
//!
//! struct Mine;
//!
//! impl Scanner for Mine {
//!     fn scan(upload: UploadInfo, content: &UploadContent) -> Verdict {
//!         coffer_plugin_sdk::log::info("scanning", &[("path", &upload.path)]);
//!         Verdict::Clean
//!     }
//! }
//!
//! coffer_plugin_sdk::export_scanner!(Mine);
//! ```
//!
//! [`config`] reads the plugin's configuration into your own type; [`log`] writes to the
//! server's log, tagged with the plugin. See `sdk/GUIDE.md` for building, testing and installing.

#![allow(missing_docs)]

// The bindings name this crate by its name, from here and from the export macros' expansions.
extern crate self as coffer_plugin_sdk;

/// The bindings' runtime, used by the export macros.
#[doc(hidden)]
pub use wit_bindgen;

/// The host imports every plugin has, bound once for all hooks.
#[doc(hidden)]
pub mod imports {
    wit_bindgen::generate!({ path: "../../wit/v0.1.0", world: "imports" });
}

pub use imports::coffer::plugin::types::{Actor, Decision, Role};

/// Scanning uploads: implement [`scanner::Scanner`], export with [`export_scanner!`].
#[cfg(feature = "scanner")]
pub mod scanner {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "scanner",
        with: {
            "coffer:plugin/types@0.1.0": crate::imports::coffer::plugin::types,
            "coffer:plugin/host@0.1.0": crate::imports::coffer::plugin::host,
            "coffer:plugin/content@0.1.0": crate::imports::coffer::plugin::content,
        },
        pub_export_macro: true,
        export_macro_name: "export_scanner",
        default_bindings_module: "coffer_plugin_sdk::scanner",
        runtime_path: "coffer_plugin_sdk::wit_bindgen::rt",
    });
    pub use crate::imports::coffer::plugin::content::UploadContent;
    pub use exports::coffer::plugin::upload_scanner::{Guest as Scanner, UploadInfo, Verdict};
}

/// Deciding on sharing: implement [`sharing::SharingPolicy`], export with [`export_sharing!`].
#[cfg(feature = "sharing")]
pub mod sharing {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "sharing",
        with: {
            "coffer:plugin/types@0.1.0": crate::imports::coffer::plugin::types,
            "coffer:plugin/host@0.1.0": crate::imports::coffer::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_sharing",
        default_bindings_module: "coffer_plugin_sdk::sharing",
        runtime_path: "coffer_plugin_sdk::wit_bindgen::rt",
    });
    pub use exports::coffer::plugin::sharing_policy::{
        Guest as SharingPolicy, LinkRequest, RoleChange, ShareRequest,
    };
}

/// Quotas: implement [`quota::QuotaPolicy`], export with [`export_quota!`].
#[cfg(feature = "quota")]
pub mod quota {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "quota",
        with: {
            "coffer:plugin/types@0.1.0": crate::imports::coffer::plugin::types,
            "coffer:plugin/host@0.1.0": crate::imports::coffer::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_quota",
        default_bindings_module: "coffer_plugin_sdk::quota",
        runtime_path: "coffer_plugin_sdk::wit_bindgen::rt",
    });
    pub use exports::coffer::plugin::quota_policy::{Guest as QuotaPolicy, UploadCheck};
}

/// Events: implement [`events::EventHook`], export with [`export_events!`].
#[cfg(feature = "events")]
pub mod events {
    wit_bindgen::generate!({
        path: "../../wit/v0.1.0",
        world: "event-hooks",
        with: {
            "coffer:plugin/types@0.1.0": crate::imports::coffer::plugin::types,
            "coffer:plugin/host@0.1.0": crate::imports::coffer::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_events",
        default_bindings_module: "coffer_plugin_sdk::events",
        runtime_path: "coffer_plugin_sdk::wit_bindgen::rt",
    });
    pub use exports::coffer::plugin::events::{Event, EventKind, Guest as EventHook};
}

#[cfg(feature = "events")]
pub use events::export_events;
#[cfg(feature = "quota")]
pub use quota::export_quota;
#[cfg(feature = "scanner")]
pub use scanner::export_scanner;
#[cfg(feature = "sharing")]
pub use sharing::export_sharing;

/// The plugin's configuration, as the administrator set it, read into `T`. A configuration
/// that does not fit `T` is logged and replaced by `T::default()`.
pub fn config<T: serde::de::DeserializeOwned + Default>() -> T {
    let raw = imports::coffer::plugin::host::config();
    match serde_json::from_str(&raw) {
        Ok(value) => value,
        Err(err) => {
            log::warn(
                "configuration ignored: it does not fit the plugin's settings",
                &[("error", &err.to_string())],
            );
            T::default()
        }
    }
}

/// The plugin's configuration as raw JSON text.
pub fn raw_config() -> String {
    imports::coffer::plugin::host::config()
}

/// Structured logging to the server's log, tagged with the plugin's name and version.
pub mod log {
    use crate::imports::coffer::plugin::host::{Level, log};

    fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        log(level, message, &fields);
    }

    /// Debug detail.
    pub fn debug(message: &str, fields: &[(&str, &str)]) {
        write(Level::Debug, message, fields);
    }
    /// Normal operation.
    pub fn info(message: &str, fields: &[(&str, &str)]) {
        write(Level::Info, message, fields);
    }
    /// Something an administrator should look at.
    pub fn warn(message: &str, fields: &[(&str, &str)]) {
        write(Level::Warn, message, fields);
    }
    /// A failure.
    pub fn error(message: &str, fields: &[(&str, &str)]) {
        write(Level::Error, message, fields);
    }
}
