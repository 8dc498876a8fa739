//! Creating folders, moving and copying.

use std::collections::HashMap;

use coffer_domain::files::{Node, NodeId, NodeKind, NodePath, RevisionId};

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
        let name = path
            .name()
            .cloned()
            .ok_or(AppError::Conflict("the root folder already exists"))?;
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        let (parent, parent_path) = self
            .folder_at(
                tx.as_mut(),
                &namespace,
                &path.parent().unwrap_or_default(),
                parents,
            )
            .await?;
        let name = self
            .free_name(tx.as_mut(), parent, &name, true, autorename, None)
            .await?;
        let node = Node::new(
            NodeId::from_uuid(self.ports.ids.new_id()),
            namespace.id,
            parent,
            name,
            NodeKind::Folder,
            self.ports.clock.now(),
        );
        tx.nodes().insert(&node).await?;
        self.record(tx.as_mut(), namespace.id, node.id, None)
            .await?;
        self.commit_changes(tx, namespace.id).await?;
        Ok(Entry {
            path: parent_path.join(node.name.clone()),
            node,
        })
    }

    /// Moves or renames a file or folder: one change, whatever the folder holds.
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
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        let mut source = self.locate_entry(tx.as_mut(), &namespace, &from).await?;
        let (parent, parent_path, name) = self
            .destination(tx.as_mut(), &namespace, &source, &to)
            .await?;
        let name = self
            .free_name(
                tx.as_mut(),
                parent,
                &name,
                source.node.is_folder(),
                autorename,
                Some(source.node.id),
            )
            .await?;
        source.node.parent = parent;
        source.node.name = name;
        source.node.modified_at = self.ports.clock.now();
        tx.nodes().update(&source.node).await?;
        self.record(
            tx.as_mut(),
            namespace.id,
            source.node.id,
            Some(&source.path),
        )
        .await?;
        self.commit_changes(tx, namespace.id).await?;
        Ok(Entry {
            path: parent_path.join(source.node.name.clone()),
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
        let (mut tx, namespace) = self.write_home(caller.user_id).await?;
        let quota = self.quota_of(tx.as_mut(), caller.user_id).await?;
        let source = self.locate_entry(tx.as_mut(), &namespace, &from).await?;
        let limit = self.rules.max_copy_entries;
        let nodes = tx.nodes().subtree(source.node.id, limit + 1).await?;
        if nodes.len() > limit as usize {
            return Err(AppError::TooLarge(format!(
                "a copy may create at most {limit} entries; copy the subfolders separately"
            )));
        }
        let bytes: u64 = nodes.iter().map(|n| n.size().get()).sum();
        Self::check_quota(&namespace, quota, bytes)?;
        let (parent, parent_path, name) = self
            .destination(tx.as_mut(), &namespace, &source, &to)
            .await?;
        let name = self
            .free_name(
                tx.as_mut(),
                parent,
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
            let mut copy = Node {
                id,
                namespace: namespace.id,
                parent: if is_root {
                    parent
                } else {
                    new_ids[&original.parent]
                },
                name: if is_root {
                    name.clone()
                } else {
                    original.name.clone()
                },
                kind: original.kind,
                file: None,
                created_at: now,
                modified_at: now,
                trashed_at: None,
            };
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
        self.record(tx.as_mut(), namespace.id, node.id, None)
            .await?;
        tx.namespaces()
            .add_usage(namespace.id, bytes as i64)
            .await?;
        self.commit_changes(tx, namespace.id).await?;
        Ok(Entry {
            path: parent_path.join(node.name.clone()),
            node,
        })
    }

    /// Where a move or copy of `source` to `to` lands: the parent folder (created if missing),
    /// its path, and the wanted name. A folder cannot go into itself.
    async fn destination(
        &self,
        tx: &mut dyn Transaction,
        namespace: &coffer_domain::files::Namespace,
        source: &Entry,
        to: &NodePath,
    ) -> Result<(NodeId, NodePath, coffer_domain::files::NodeName), AppError> {
        let name = to
            .name()
            .cloned()
            .ok_or(AppError::Conflict("the root folder already exists"))?;
        // Strictly below itself; the same path in another case is a rename.
        if source.node.is_folder() && source.path.contains(to) && !to.contains(&source.path) {
            return Err(AppError::NotAllowed(
                "a folder cannot be moved or copied into itself",
            ));
        }
        let (parent, parent_path) = self
            .folder_at(tx, namespace, &to.parent().unwrap_or_default(), true)
            .await?;
        Ok((parent, parent_path, name))
    }
}
