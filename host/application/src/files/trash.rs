//! The trash: delete, list, restore, delete for good.

use coffer_domain::Timestamp;
use coffer_domain::files::{NodeId, NodePath};

use super::{Entry, Files, Target, TrashPage, TrashedEntry};
use crate::{AppError, Principal};

impl Files {
    /// Moves a file or folder to the trash: one change, whatever the folder holds. Its bytes stop
    /// counting against the quota.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn delete(&self, caller: &Principal, target: &str) -> Result<Entry, AppError> {
        let target = Target::parse(target)?;
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        let mut entry = self.locate_entry(tx.as_mut(), &namespace, &target).await?;
        let bytes = tx.nodes().subtree_bytes(entry.node.id).await?;
        entry.node.trashed_at = Some(self.ports.clock.now());
        tx.nodes().update(&entry.node).await?;
        self.record(tx.as_mut(), namespace.id, entry.node.id, Some(&entry.path))
            .await?;
        tx.namespaces()
            .add_usage(namespace.id, -(bytes as i64))
            .await?;
        self.commit_changes(tx, namespace.id).await?;
        Ok(entry)
    }

    /// The caller's trash, most recently trashed first.
    pub async fn list_trash(
        &self,
        caller: &Principal,
        after: Option<(Timestamp, NodeId)>,
        limit: u32,
    ) -> Result<TrashPage, AppError> {
        let limit = limit.clamp(1, super::content::MAX_PAGE);
        let mut tx = self.ports.uow.begin_read().await?;
        let namespace = self.home(tx.as_mut(), caller.user_id).await?;
        let nodes = tx.nodes().trashed(namespace.id, after, limit + 1).await?;
        let more = nodes.len() > limit as usize;
        let mut items = Vec::with_capacity(nodes.len().min(limit as usize));
        for node in nodes.into_iter().take(limit as usize) {
            let ancestors = tx.nodes().ancestors(node.id).await?;
            let mut names: Vec<_> = ancestors.into_iter().rev().map(|a| a.name).collect();
            names.push(node.name.clone());
            items.push(TrashedEntry {
                node,
                original_path: NodePath::from_names(names),
            });
        }
        let next_after = more
            .then(|| items.last())
            .flatten()
            .and_then(|i| i.node.trashed_at.map(|at| (at, i.node.id)));
        Ok(TrashPage { items, next_after })
    }

    /// Puts a trashed item back where it was; under a numbered name if that name was taken
    /// since (unless `autorename` is off, then that is a conflict).
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn restore(
        &self,
        caller: &Principal,
        id: NodeId,
        autorename: bool,
    ) -> Result<Entry, AppError> {
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        let quota = self.quota_of(tx.as_mut(), caller.user_id).await?;
        let mut node = tx
            .nodes()
            .get(id)
            .await?
            .filter(|n| n.namespace == namespace.id && n.trashed_at.is_some())
            .ok_or(AppError::NotFound("trashed item"))?;
        let ancestors = tx.nodes().ancestors(id).await?;
        if ancestors.iter().any(|a| a.trashed_at.is_some()) {
            return Err(AppError::Conflict(
                "the folder it was in is in the trash too: restore that folder first",
            ));
        }
        let bytes = tx.nodes().subtree_bytes(id).await?;
        Self::check_quota(&namespace, quota, bytes)?;
        node.name = self
            .free_name(
                tx.as_mut(),
                node.parent,
                &node.name,
                node.is_folder(),
                autorename,
                None,
            )
            .await?;
        node.trashed_at = None;
        tx.nodes().update(&node).await?;
        self.record(tx.as_mut(), namespace.id, node.id, None)
            .await?;
        tx.namespaces()
            .add_usage(namespace.id, bytes as i64)
            .await?;
        self.commit_changes(tx, namespace.id).await?;
        let mut names: Vec<_> = ancestors.into_iter().rev().map(|a| a.name).collect();
        names.push(node.name.clone());
        Ok(Entry {
            node,
            path: NodePath::from_names(names),
        })
    }

    /// Deletes a trashed item for good. Its content is freed by garbage collection.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn delete_permanently(&self, caller: &Principal, id: NodeId) -> Result<(), AppError> {
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        tx.nodes()
            .get(id)
            .await?
            .filter(|n| n.namespace == namespace.id && n.trashed_at.is_some())
            .ok_or(AppError::NotFound("trashed item"))?;
        tx.nodes().delete_subtree(id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes everything in the caller's trash for good; returns how many items.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn empty_trash(&self, caller: &Principal) -> Result<u64, AppError> {
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        let mut emptied = 0;
        loop {
            let batch = tx.nodes().trashed(namespace.id, None, 500).await?;
            if batch.is_empty() {
                break;
            }
            // Every listed item counts, including one inside a trashed folder deleted just
            // before it: the caller saw both in the trash.
            for node in batch {
                tx.nodes().delete_subtree(node.id).await?;
                emptied += 1;
            }
        }
        tx.commit().await?;
        Ok(emptied)
    }
}
