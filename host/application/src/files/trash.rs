//! The trash: delete, list, restore, delete for good.

use coffer_domain::Timestamp;
use coffer_domain::files::{Node, NodeId, NodePath};
use coffer_domain::sharing::Need;

use super::{Entry, Files, Target, TrashPage, TrashedEntry};
use crate::{AppError, Principal};

impl Files {
    /// Moves a file or folder to the trash: one change, whatever the folder holds. Its bytes stop
    /// counting against the quota. A shared folder's mount point cannot be trashed: its members
    /// leave it, its owner unshares it.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn delete(&self, caller: &Principal, target: &str) -> Result<Entry, AppError> {
        let target = Target::parse(target)?;
        let (mut tx, access) = self.write_access(caller.user_id, &[&target]).await?;
        let mut entry = self.locate_entry(tx.as_mut(), &access, &target).await?;
        let namespace = entry.node.namespace;
        access.require_write(namespace)?;
        if self.holds_mount(tx.as_mut(), &access, &entry.node).await? {
            return Err(AppError::NotAllowed(
                "a shared folder cannot be moved to the trash: leave it or unshare it instead",
            ));
        }
        let before = self.live_path_of(tx.as_mut(), &entry.node).await?;
        let bytes = tx.nodes().subtree_bytes(entry.node.id).await?;
        entry.node.trashed_at = Some(self.ports.clock.now());
        tx.nodes().update(&entry.node).await?;
        self.record(tx.as_mut(), namespace, entry.node.id, before.as_ref())
            .await?;
        tx.namespaces()
            .add_usage(namespace, -(bytes as i64))
            .await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[namespace]).await?;
        if let Some(actor) = actor {
            self.publish("deleted", &actor, Some(&entry.path), None);
        }
        Ok(entry)
    }

    /// The caller's trash, most recently trashed first: what was trashed in their home and in
    /// the shared folders they may change.
    pub async fn list_trash(
        &self,
        caller: &Principal,
        after: Option<(Timestamp, NodeId)>,
        limit: u32,
    ) -> Result<TrashPage, AppError> {
        let limit = limit.clamp(1, super::content::MAX_PAGE);
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let mut nodes: Vec<Node> = Vec::new();
        for namespace in access.namespaces() {
            if access.require(namespace, Need::Write).is_err() {
                continue;
            }
            nodes.extend(tx.nodes().trashed(namespace, after, limit + 1).await?);
        }
        nodes.sort_by_key(|n| std::cmp::Reverse((n.trashed_at, n.id)));
        let more = nodes.len() > limit as usize;
        let mut items = Vec::with_capacity(nodes.len().min(limit as usize));
        for node in nodes.into_iter().take(limit as usize) {
            let ancestors = tx.nodes().ancestors(node.id).await?;
            let mut names: Vec<_> = ancestors.into_iter().rev().map(|a| a.name).collect();
            names.push(node.name.clone());
            let mount = self
                .mount_path(tx.as_mut(), &access, node.namespace)
                .await?
                .unwrap_or_default();
            items.push(TrashedEntry {
                original_path: mount.concat(&NodePath::from_names(names)),
                node,
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
        let (mut tx, access) = self
            .write_access(caller.user_id, &[&Target::Id(id)])
            .await?;
        let mut node = self.trashed_item(tx.as_mut(), &access, id).await?;
        let namespace = node.namespace;
        let ancestors = tx.nodes().ancestors(id).await?;
        if ancestors.iter().any(|a| a.trashed_at.is_some()) {
            return Err(AppError::Conflict(
                crate::Conflict::Other,
                "the folder it was in is in the trash too: restore that folder first",
            ));
        }
        let bytes = tx.nodes().subtree_bytes(id).await?;
        let room = self.room_in(tx.as_mut(), &access, namespace).await?;
        Self::check_quota(room, bytes)?;
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
        self.record(tx.as_mut(), namespace, node.id, None).await?;
        tx.namespaces().add_usage(namespace, bytes as i64).await?;
        let path = self
            .view_path_of(tx.as_mut(), &access, &node)
            .await?
            .unwrap_or_else(|| NodePath::from_names(vec![node.name.clone()]));
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[namespace]).await?;
        if let Some(actor) = actor {
            self.publish("restored", &actor, Some(&path), None);
        }
        Ok(Entry { node, path })
    }

    /// Deletes a trashed item for good. Its content is freed by garbage collection.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn delete_permanently(&self, caller: &Principal, id: NodeId) -> Result<(), AppError> {
        let (mut tx, access) = self
            .write_access(caller.user_id, &[&Target::Id(id)])
            .await?;
        self.trashed_item(tx.as_mut(), &access, id).await?;
        tx.nodes().delete_subtree(id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes everything trashed in the caller's home for good (items trashed in shared
    /// folders are deleted one by one); returns how many items.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn empty_trash(&self, caller: &Principal) -> Result<u64, AppError> {
        let (mut tx, access) = self.write_access(caller.user_id, &[]).await?;
        let mut emptied = 0;
        loop {
            let batch = tx.nodes().trashed(access.home.id, None, 500).await?;
            if batch.is_empty() {
                break;
            }
            for node in batch {
                tx.nodes().delete_subtree(node.id).await?;
                emptied += 1;
            }
        }
        tx.commit().await?;
        Ok(emptied)
    }

    /// A node trashed itself, in a namespace the caller may change.
    async fn trashed_item(
        &self,
        tx: &mut dyn crate::ports::Transaction,
        access: &super::access::Access,
        id: NodeId,
    ) -> Result<Node, AppError> {
        let node = tx
            .nodes()
            .get(id)
            .await?
            .filter(|n| n.trashed_at.is_some() && access.role(n.namespace).is_some())
            .ok_or(AppError::NotFound("trashed item"))?;
        access.require_write(node.namespace)?;
        Ok(node)
    }
}
