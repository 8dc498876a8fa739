//! A file's revisions: list them, bring an old one back.

use coffer_domain::files::{Revision, RevisionId};

use super::{Entry, Files, Target, UploadOutcome};
use crate::{AppError, Principal};

/// Most revisions listed at once.
pub const MAX_REVISIONS: u32 = 100;

impl Files {
    /// A file's revisions, newest first (at most `limit`, capped at 100). Replaced revisions are
    /// kept for the configured retention.
    pub async fn revisions(
        &self,
        caller: &Principal,
        target: &str,
        limit: u32,
    ) -> Result<(Entry, Vec<Revision>), AppError> {
        let target = Target::parse(target)?;
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let entry = self.locate_entry(tx.as_mut(), &access, &target).await?;
        if entry.node.is_folder() {
            return Err(AppError::NotAllowed("folders have no revisions"));
        }
        let revisions = tx
            .revisions()
            .list_for_node(entry.node.id, limit.clamp(1, MAX_REVISIONS))
            .await?;
        Ok((entry, revisions))
    }

    /// Makes an old revision current again, as a new revision sharing its blocks.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn restore_revision(
        &self,
        caller: &Principal,
        target: &str,
        rev: &str,
    ) -> Result<UploadOutcome, AppError> {
        let target = Target::parse(target)?;
        let rev = RevisionId::parse_rev(rev)?;
        let (mut tx, access) = self.write_access(caller.user_id, &[&target]).await?;
        let mut entry = self.locate_entry(tx.as_mut(), &access, &target).await?;
        let namespace = entry.node.namespace;
        access.require_write(namespace)?;
        let current = entry
            .node
            .file
            .clone()
            .ok_or(AppError::NotAllowed("folders have no revisions"))?;
        let old = tx
            .revisions()
            .get(rev)
            .await?
            .filter(|r| r.node() == entry.node.id)
            .ok_or(AppError::NotFound("revision"))?;
        if old.content_hash() == current.content_hash {
            return Ok(UploadOutcome::Unchanged(entry));
        }
        let now = self.ports.clock.now();
        let restored = old.reuse(
            RevisionId::from_uuid(self.ports.ids.new_id()),
            entry.node.id,
            now,
        );
        let growth = restored.size().get().saturating_sub(current.size.get());
        let room = self.room_in(tx.as_mut(), &access, namespace).await?;
        Self::check_quota(room, growth)?;
        self.store_revision(tx.as_mut(), &restored).await?;
        entry.node.file = Some(restored.version());
        entry.node.modified_at = now;
        tx.nodes().update(&entry.node).await?;
        let within = self.live_path_of(tx.as_mut(), &entry.node).await?;
        self.record(tx.as_mut(), namespace, entry.node.id, within.as_ref())
            .await?;
        let delta = restored.size().get() as i64 - current.size.get() as i64;
        tx.namespaces().add_usage(namespace, delta).await?;
        self.commit_changes(tx, &[namespace]).await?;
        Ok(UploadOutcome::Replaced(entry))
    }
}
