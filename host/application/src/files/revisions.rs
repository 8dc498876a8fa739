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
        let mut tx = self.ports.uow.begin_read().await?;
        let namespace = self.home(tx.as_mut(), caller.user_id).await?;
        let entry = self.locate_entry(tx.as_mut(), &namespace, &target).await?;
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
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        let quota = self.quota_of(tx.as_mut(), caller.user_id).await?;
        let mut entry = self.locate_entry(tx.as_mut(), &namespace, &target).await?;
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
        Self::check_quota(&namespace, quota, growth)?;
        self.store_revision(tx.as_mut(), &restored).await?;
        entry.node.file = Some(restored.version());
        entry.node.modified_at = now;
        tx.nodes().update(&entry.node).await?;
        self.record(tx.as_mut(), namespace.id, entry.node.id, Some(&entry.path))
            .await?;
        let delta = restored.size().get() as i64 - current.size.get() as i64;
        tx.namespaces().add_usage(namespace.id, delta).await?;
        self.commit_changes(tx, namespace.id).await?;
        Ok(UploadOutcome::Replaced(entry))
    }
}
