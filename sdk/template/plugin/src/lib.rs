//! A Coffer plugin in a few lines: a scanner that refuses uploads whose extension is on a list
//! (configured by the administrator), and an event hook that logs every stored file.

use coffer_plugin_sdk::events::{Event, EventHook, EventKind};
use coffer_plugin_sdk::log;
use coffer_plugin_sdk::scanner::{Scanner, UploadContent, UploadInfo, Verdict};
use serde::Deserialize;

/// The configuration: `{"extensions": ["exe", "bat"]}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Settings {
    extensions: Vec<String>,
}

struct BlockedExtensions;

impl Scanner for BlockedExtensions {
    fn scan(upload: UploadInfo, _content: &UploadContent) -> Verdict {
        let settings: Settings = coffer_plugin_sdk::config();
        let extension = upload
            .path
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        if settings
            .extensions
            .iter()
            .any(|blocked| blocked.eq_ignore_ascii_case(&extension))
        {
            log::info(
                "refused",
                &[("path", &upload.path), ("extension", &extension)],
            );
            return Verdict::Infected(format!("blocked file type .{extension}"));
        }
        Verdict::Clean
    }
}

impl EventHook for BlockedExtensions {
    fn on_event(event: Event) {
        if let (EventKind::FileStored, Some(path)) = (event.kind, &event.path) {
            log::info("stored", &[("path", path), ("by", &event.actor.email)]);
        }
    }
}

coffer_plugin_sdk::export_scanner!(BlockedExtensions);
coffer_plugin_sdk::export_events!(BlockedExtensions);
