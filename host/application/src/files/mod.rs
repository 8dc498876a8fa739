//! Use cases on files and folders: upload, download, list, create folders, move, copy, trash,
//! revisions, and garbage collection of unreferenced content.

mod access;
mod changes;
mod content;
mod links;
mod locate;
mod maintenance;
mod organise;
mod revisions;
mod search;
mod sessions;
mod shares;
mod trash;
mod upload;

use chrono::Duration;
use coffer_domain::Timestamp;
use coffer_domain::account::ByteCount;
use coffer_domain::files::{Node, NodeId, NodePath, Revision};

use crate::Ports;
use crate::plugins::PluginHost;
use crate::ports::{ActorFacts, ByteStream, PluginEvent};

pub use changes::{ChangeCursor, ChangePage, FeedEntry};
pub use content::{RangeRequest, ReadRequest, RevisionTest, Served};
pub use links::{IssuedLink, LinkListing, LinkVisit, NewLink};
pub use locate::Target;
pub use maintenance::{GcProgress, GcReport};
pub use search::SearchPage;
pub use sessions::{Appended, DeltaStarted, NewSession};
pub use shares::{Member, SharedFolder};
pub use upload::{Upload, UploadMode, UploadOutcome};

/// The rules an installation sets for storage (from configuration).
#[derive(Debug, Clone)]
pub struct StorageRules {
    /// Quota of users without their own.
    pub default_quota: ByteCount,
    /// Most entries one folder copy may create.
    pub max_copy_entries: u32,
    /// How long trashed items are kept before they are deleted for good.
    pub trash_retention: Duration,
    /// How long replaced revisions are kept.
    pub revision_retention: Duration,
    /// How long journal entries are kept; a sync cursor older than that must list again.
    pub journal_retention: Duration,
    /// How long an unreferenced block is kept before its bytes are deleted (covers uploads in
    /// progress, which reference their blocks only when they commit).
    pub block_grace: Duration,
    /// How long an upload session lives after its last append or block before it is
    /// abandoned and its blocks collected.
    pub upload_expiry: Duration,
}

/// The file use cases.
#[derive(Clone)]
pub struct Files {
    ports: Ports,
    rules: StorageRules,
    plugins: PluginHost,
}

impl Files {
    /// Wires the use cases to their ports, rules, and the plugins whose hooks they run.
    pub fn new(ports: Ports, rules: StorageRules, plugins: PluginHost) -> Self {
        Self {
            ports,
            rules,
            plugins,
        }
    }

    /// Who `user` is, as plugins see them.
    pub(crate) async fn actor_facts(
        &self,
        tx: &mut dyn crate::ports::Transaction,
        user: coffer_domain::account::UserId,
    ) -> Result<ActorFacts, crate::AppError> {
        Ok(ActorFacts {
            user_id: user.to_string(),
            email: self.email_of(tx, user).await?.to_string(),
        })
    }

    /// The email of an account that must exist.
    pub(crate) async fn email_of(
        &self,
        tx: &mut dyn crate::ports::Transaction,
        user: coffer_domain::account::UserId,
    ) -> Result<coffer_domain::account::Email, crate::AppError> {
        Ok(tx
            .users()
            .get(user)
            .await?
            .ok_or_else(|| {
                crate::AppError::Infrastructure(crate::InfrastructureError::msg(format!(
                    "user {user} is missing"
                )))
            })?
            .email()
            .clone())
    }

    /// The caller as event plugins see them, if any plugin listens (read in the change's
    /// transaction, before it commits).
    pub(crate) async fn event_actor(
        &self,
        tx: &mut dyn crate::ports::Transaction,
        caller: &crate::Principal,
    ) -> Result<Option<ActorFacts>, crate::AppError> {
        if !self.plugins.listens() {
            return Ok(None);
        }
        Ok(Some(self.actor_facts(tx, caller.user_id).await?))
    }

    /// Tells event plugins (in the background) that `kind` happened.
    pub(crate) fn publish(
        &self,
        kind: &'static str,
        actor: &ActorFacts,
        path: Option<&NodePath>,
        detail: Option<String>,
    ) {
        self.plugins.publish(PluginEvent {
            kind,
            actor: actor.clone(),
            path: path.map(|p| p.to_string()),
            detail,
            at_micros: self.ports.clock.now().timestamp_micros(),
        });
    }
}

/// A listing cursor that names folders this listing cannot continue in (forged, or the folder
/// was moved or trashed since).
fn stale_listing_cursor() -> crate::AppError {
    crate::AppError::Invalid {
        field: "cursor",
        reason: "is not a cursor of this listing (or the folder changed)".into(),
    }
}

/// A file or folder with its path as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The node.
    pub node: Node,
    /// Its display path (names as stored, case preserved).
    pub path: NodePath,
}

/// One page of a folder listing.
#[derive(Debug, Clone)]
pub struct FolderPage {
    /// Entries in name order (depth-first when recursive).
    pub entries: Vec<Entry>,
    /// Where the next page starts, if more may follow.
    pub cursor: Option<ListCursor>,
}

/// Where a listing stopped: the folders being walked (outermost first), each with the name key
/// of the last entry returned from it. Opaque to clients; checked when it comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    /// Whether the listing descends into subfolders.
    pub recursive: bool,
    /// The walk's position.
    pub frames: Vec<ListFrame>,
}

/// One folder of a listing walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFrame {
    /// The folder as the caller sees it (for a shared folder: the mount point).
    pub folder: NodeId,
    /// Name key of the last entry returned from it.
    pub after: Option<String>,
}

/// A download: metadata first, the bytes as a lazy stream.
pub struct Download {
    /// The file.
    pub entry: Entry,
    /// The revision served.
    pub revision: Revision,
    /// The byte range served (`start..end`); the whole file unless a range was asked for.
    pub range: (u64, u64),
    /// Whether a range was asked for (and satisfiable).
    pub partial: bool,
    /// The bytes of `range`, read from storage only as they are polled.
    pub content: ByteStream,
}

/// An item in the trash.
#[derive(Debug, Clone)]
pub struct TrashedEntry {
    /// The trashed node (with `trashed_at`).
    pub node: Node,
    /// Where it was when it was trashed.
    pub original_path: NodePath,
}

/// One page of the trash, most recently trashed first.
#[derive(Debug, Clone)]
pub struct TrashPage {
    /// The items.
    pub items: Vec<TrashedEntry>,
    /// Position after the last item, if more may follow.
    pub next_after: Option<(Timestamp, NodeId)>,
}
#[cfg(test)]
mod link_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;
