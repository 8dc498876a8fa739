//! An event hook that writes every event to the server log (through the host's log import,
//! tagged with this plugin). Configuration: `{"level": "info"}` (or `debug`, `warn`).

use coffer_plugin_sdk::events::{Event, EventHook, EventKind};
use coffer_plugin_sdk::log;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Settings {
    level: String,
}

fn kind(kind: EventKind) -> &'static str {
    match kind {
        EventKind::FileStored => "file-stored",
        EventKind::FolderCreated => "folder-created",
        EventKind::Moved => "moved",
        EventKind::Deleted => "deleted",
        EventKind::Restored => "restored",
        EventKind::FolderShared => "folder-shared",
        EventKind::MemberAdded => "member-added",
        EventKind::MemberRemoved => "member-removed",
        EventKind::FolderUnshared => "folder-unshared",
        EventKind::LinkCreated => "link-created",
        EventKind::LinkRevoked => "link-revoked",
    }
}

struct EventLog;

impl EventHook for EventLog {
    fn on_event(event: Event) {
        let settings: Settings = coffer_plugin_sdk::config();
        let at = event.at_micros.to_string();
        let mut fields = vec![
            ("kind", kind(event.kind)),
            ("actor", event.actor.email.as_str()),
            ("at_micros", at.as_str()),
        ];
        if let Some(path) = &event.path {
            fields.push(("path", path));
        }
        if let Some(detail) = &event.detail {
            fields.push(("detail", detail));
        }
        match settings.level.as_str() {
            "debug" => log::debug("event", &fields),
            "warn" => log::warn("event", &fields),
            _ => log::info("event", &fields),
        }
    }
}

coffer_plugin_sdk::export_events!(EventLog);
