//! Creating folders, moving and copying.

use std::collections::HashMap;

use coffer_domain::files::{Node, NodeId, NodeKind, NodeName, NodePath, RevisionId};

use super::access::Access;
use super::locate::Place;
use super::{Entry, Files, Target};
use crate::ports::Transaction;
use crate::{AppError, Principal};

impl Files {
    /// Creates a folder; with `parents`, missing folders above it too.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn create_folder(
        &self,
        caller: &Principal,
        path: &str,
        parents: bool,
        autorename: bool,
    ) -> Result<Entry, AppError> {
        let path = NodePath::parse(path)?;
        let name = path.name().cloned().ok_or(AppError::Conflict(
            crate::Conflict::NameTaken,
            "the root folder already exists",
        ))?;
        let parent_path = path.parent().unwrap_or_default();
        let (mut tx, access) = self
            .write_access(caller.user_id, &[&Target::Path(parent_path.clone())])
            .await?;
        let place = self
            .folder_at(tx.as_mut(), &access, &parent_path, parents)
            .await?;
        access.require_write(place.namespace)?;
        let name = self
            .free_name(tx.as_mut(), place.folder, &name, true, autorename, None)
            .await?;
        let node = Node::new(
            NodeId::from_uuid(self.ports.ids.new_id()),
            place.namespace,
            place.folder,
            name,
            NodeKind::Folder,
            self.ports.clock.now(),
        );
        tx.nodes().insert(&node).await?;
        self.record(tx.as_mut(), place.namespace, node.id, None)
            .await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[place.namespace]).await?;
        let path = place.path.join(node.name.clone());
        if let Some(actor) = actor {
            self.publish("folder-created", &actor, Some(&path), None);
        }
        Ok(Entry { path, node })
    }

    /// Moves or renames a file or folder: one change, whatever the folder holds. Moving into or
    /// out of a shared folder moves the subtree to that folder's namespace (and its bytes to
    /// that folder owner's usage).
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn move_entry(
        &self,
        caller: &Principal,
        from: &str,
        to: &str,
        autorename: bool,
    ) -> Result<Entry, AppError> {
        let from = Target::parse(from)?;
        let to = NodePath::parse(to)?;
        let to_parent = Target::Path(to.parent().unwrap_or_default());
        let (mut tx, access) = self
            .write_access(caller.user_id, &[&from, &to_parent])
            .await?;
        let mut source = self.locate_entry(tx.as_mut(), &access, &from).await?;
        let origin = source.node.namespace;
        access.require_write(origin)?;
        let (place, name) = self.destination(tx.as_mut(), &access, &source, &to).await?;
        access.require_write(place.namespace)?;
        if place.namespace != access.home.id
            && self.holds_mount(tx.as_mut(), &access, &source.node).await?
        {
            return Err(AppError::NotAllowed(
                "a shared folder cannot be put inside another shared folder",
            ));
        }
        let name = self
            .free_name(
                tx.as_mut(),
                place.folder,
                &name,
                source.node.is_folder(),
                autorename,
                Some(source.node.id),
            )
            .await?;
        let before = self
            .live_path_of(tx.as_mut(), &source.node)
            .await?
            .ok_or(AppError::NotFound("path"))?;
        source.node.parent = place.folder;
        source.node.name = name;
        source.node.modified_at = self.ports.clock.now();
        tx.nodes().update(&source.node).await?;
        if place.namespace != origin {
            let bytes = tx.nodes().subtree_bytes(source.node.id).await?;
            let origin_owner = self.namespace(tx.as_mut(), origin).await?.owner;
            let target_owner = self.namespace(tx.as_mut(), place.namespace).await?.owner;
            if origin_owner != target_owner {
                let room = self.room_in(tx.as_mut(), &access, place.namespace).await?;
                Self::check_quota(room, bytes)?;
            }
            tx.nodes()
                .rehome_subtree(source.node.id, place.namespace)
                .await?;
            tx.namespaces().add_usage(origin, -(bytes as i64)).await?;
            tx.namespaces()
                .add_usage(place.namespace, bytes as i64)
                .await?;
            source.node.namespace = place.namespace;
            self.record(tx.as_mut(), place.namespace, source.node.id, None)
                .await?;
        }
        self.record(tx.as_mut(), origin, source.node.id, Some(&before))
            .await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[origin, place.namespace]).await?;
        let path = place.path.join(source.node.name.clone());
        if let Some(actor) = actor {
            self.publish(
                "moved",
                &actor,
                Some(&source.path),
                Some(format!("to {path}")),
            );
        }
        Ok(Entry {
            path,
            node: source.node,
        })
    }

    /// Copies a file or folder. Content is shared, never copied: a copied file's revision
    /// points at the same blocks.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn copy_entry(
        &self,
        caller: &Principal,
        from: &str,
        to: &str,
        autorename: bool,
    ) -> Result<Entry, AppError> {
        let from = Target::parse(from)?;
        let to = NodePath::parse(to)?;
        let to_parent = Target::Path(to.parent().unwrap_or_default());
        let (mut tx, access) = self
            .write_access(caller.user_id, &[&from, &to_parent])
            .await?;
        let source = self.locate_entry(tx.as_mut(), &access, &from).await?;
        if self.holds_mount(tx.as_mut(), &access, &source.node).await? {
            return Err(AppError::NotAllowed(
                "a shared folder cannot be copied: copy the folders and files in it instead",
            ));
        }
        let limit = self.rules.max_copy_entries;
        let nodes = tx.nodes().subtree(source.node.id, limit + 1).await?;
        if nodes.len() > limit as usize {
            return Err(AppError::TooLarge(format!(
                "a copy may create at most {limit} entries; copy the subfolders separately"
            )));
        }
        let bytes: u64 = nodes.iter().map(|n| n.size().get()).sum();
        let (place, name) = self.destination(tx.as_mut(), &access, &source, &to).await?;
        access.require_write(place.namespace)?;
        let room = self.room_in(tx.as_mut(), &access, place.namespace).await?;
        Self::check_quota(room, bytes)?;
        let name = self
            .free_name(
                tx.as_mut(),
                place.folder,
                &name,
                source.node.is_folder(),
                autorename,
                None,
            )
            .await?;

        let now = self.ports.clock.now();
        let mut new_ids: HashMap<NodeId, NodeId> = HashMap::new();
        let mut copy_root = None;
        for original in nodes {
            let id = NodeId::from_uuid(self.ports.ids.new_id());
            let is_root = original.id == source.node.id;
            let mut copy = Node::new(
                id,
                place.namespace,
                if is_root {
                    place.folder
                } else {
                    new_ids[&original.parent]
                },
                if is_root {
                    name.clone()
                } else {
                    original.name.clone()
                },
                original.kind,
                now,
            );
            new_ids.insert(original.id, id);
            let revision = match &original.file {
                Some(file) => {
                    let revision = tx
                        .revisions()
                        .get(file.revision)
                        .await?
                        .ok_or(AppError::NotFound("revision"))?;
                    let revision =
                        revision.reuse(RevisionId::from_uuid(self.ports.ids.new_id()), id, now);
                    copy.file = Some(revision.version());
                    Some(revision)
                }
                None => None,
            };
            tx.nodes().insert(&copy).await?;
            if let Some(revision) = revision {
                self.store_revision(tx.as_mut(), &revision).await?;
            }
            if is_root {
                copy_root = Some(copy);
            }
        }
        let node = copy_root.expect("the subtree starts with its root");
        self.record(tx.as_mut(), place.namespace, node.id, None)
            .await?;
        tx.namespaces()
            .add_usage(place.namespace, bytes as i64)
            .await?;
        self.commit_changes(tx, &[place.namespace]).await?;
        Ok(Entry {
            path: place.path.join(node.name.clone()),
            node,
        })
    }

    /// Where a move or copy of `source` to `to` lands: the parent folder (created if missing)
    /// and the wanted name. A folder cannot go into itself.
    async fn destination(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        source: &Entry,
        to: &NodePath,
    ) -> Result<(Place, NodeName), AppError> {
        let name = to.name().cloned().ok_or(AppError::Conflict(
            crate::Conflict::NameTaken,
            "the root folder already exists",
        ))?;
        // Strictly below itself; the same path in another case is a rename.
        if source.node.is_folder() && source.path.contains(to) && !to.contains(&source.path) {
            return Err(AppError::NotAllowed(
                "a folder cannot be moved or copied into itself",
            ));
        }
        let place = self
            .folder_at(tx, access, &to.parent().unwrap_or_default(), true)
            .await?;
        Ok((place, name))
    }

    /// Whether `node` is, or (a folder of the caller's home) holds, one of the caller's mount
    /// points.
    pub(crate) async fn holds_mount(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        node: &Node,
    ) -> Result<bool, AppError> {
        if node.is_mount() {
            return Ok(true);
        }
        if !node.is_folder() || node.namespace != access.home.id {
            return Ok(false);
        }
        for membership in access.memberships() {
            let ancestors = tx.nodes().ancestors(membership.mount).await?;
            if ancestors.iter().any(|a| a.id == node.id) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
