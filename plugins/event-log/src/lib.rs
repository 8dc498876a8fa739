//! An event hook that writes every event to the server log (through the host's log import,
//! tagged with this plugin). Configuration: `{"level": "info"}` (or `debug`, `warn`).

wit_bindgen::generate!({ path: "../../wit/v0.1.0", world: "event-hooks" });

use coffer::plugin::host::{Level, config, log};
use exports::coffer::plugin::events::{Event, EventKind, Guest};

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

impl Guest for EventLog {
    fn on_event(event: Event) {
        let level = match config().as_str() {
            c if c.contains("\"debug\"") => Level::Debug,
            c if c.contains("\"warn\"") => Level::Warn,
            _ => Level::Info,
        };
        let mut fields = vec![
            ("kind".to_owned(), kind(event.kind).to_owned()),
            ("actor".to_owned(), event.actor.email),
            ("at_micros".to_owned(), event.at_micros.to_string()),
        ];
        if let Some(path) = event.path {
            fields.push(("path".to_owned(), path));
        }
        if let Some(detail) = event.detail {
            fields.push(("detail".to_owned(), detail));
        }
        log(level, "event", &fields);
    }
}

export!(EventLog);
