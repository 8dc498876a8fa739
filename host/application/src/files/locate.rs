//! Finding things: targets (by path or id), the caller's namespace, folders on the way.

use coffer_domain::DomainError;
use coffer_domain::account::{ByteCount, UserId};
use coffer_domain::files::{Namespace, Node, NodeId, NodeKind, NodeName, NodePath};
use uuid::Uuid;

use super::{Entry, Files};
use crate::AppError;
use crate::ports::Transaction;

/// What a request names: a path from the root, or a node by id (`id:<uuid>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/folder/file.txt`; `/` is the root.
    Path(NodePath),
    /// `id:<uuid>`: the node wherever it is now.
    Id(NodeId),
}

impl Target {
    /// Parses `id:<uuid>` or an absolute path.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.strip_prefix("id:") {
            Some(id) => Uuid::try_parse(id)
                .map(|id| Target::Id(NodeId::from_uuid(id)))
                .map_err(|_| DomainError::Invalid {
                    field: "path",
                    reason: "id: must be followed by a file or folder id".into(),
                }),
            None => NodePath::parse(raw).map(Target::Path),
        }
    }
}

/// A located target: the root, or an entry.
// Short-lived and returned by value; boxing the entry would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Located {
    Root,
    Entry(Entry),
}

/// Most numbered alternatives tried by an automatic rename.
const MAX_AUTORENAME: u32 = 1000;

impl Files {
    /// The caller's home namespace.
    pub(crate) async fn home(
        &self,
        tx: &mut dyn Transaction,
        user: UserId,
    ) -> Result<Namespace, AppError> {
        tx.namespaces().home_of(user).await?.ok_or_else(|| {
            AppError::Infrastructure(crate::InfrastructureError::msg(format!(
                "user {user} has no home namespace"
            )))
        })
    }

    /// A write transaction holding the lock on `user`'s home namespace, and that namespace.
    pub(crate) async fn write_home(
        &self,
        user: UserId,
    ) -> Result<(Box<dyn Transaction>, Namespace), AppError> {
        let mut tx = self.ports.uow.begin().await?;
        let home = self.home(tx.as_mut(), user).await?;
        let namespace = tx.namespaces().lock(home.id).await?;
        Ok((tx, namespace))
    }

    /// Appends a change of `node` (visible at `path_before` until now, if it was) to the
    /// namespace's journal, in the transaction that makes the change.
    pub(crate) async fn record(
        &self,
        tx: &mut dyn Transaction,
        namespace: coffer_domain::files::NamespaceId,
        node: NodeId,
        path_before: Option<&NodePath>,
    ) -> Result<(), AppError> {
        tx.changes()
            .append(namespace, node, path_before, self.ports.clock.now())
            .await?;
        Ok(())
    }

    /// Commits a transaction that changed `namespace`, then announces the change to waiting
    /// longpolls (on every instance).
    pub(crate) async fn commit_changes(
        &self,
        tx: Box<dyn Transaction>,
        namespace: coffer_domain::files::NamespaceId,
    ) -> Result<(), AppError> {
        tx.commit().await?;
        self.ports.notifier.changed(namespace).await;
        Ok(())
    }

    /// The quota in force for `user`.
    pub(crate) async fn quota_of(
        &self,
        tx: &mut dyn Transaction,
        user: UserId,
    ) -> Result<ByteCount, AppError> {
        let user = tx
            .users()
            .get(user)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(user.effective_quota(self.rules.default_quota))
    }

    /// Finds a live target in `namespace`. Anything not found, trashed, or below a trashed
    /// folder is "not found".
    pub(crate) async fn locate(
        &self,
        tx: &mut dyn Transaction,
        namespace: &Namespace,
        target: &Target,
    ) -> Result<Located, AppError> {
        match target {
            Target::Path(path) if path.is_root() => Ok(Located::Root),
            Target::Path(path) => {
                let mut parent = namespace.root;
                let mut names = Vec::with_capacity(path.components().len());
                let mut found = None;
                for (i, name) in path.components().iter().enumerate() {
                    let node = tx
                        .nodes()
                        .child(parent, &name.key())
                        .await?
                        .ok_or(AppError::NotFound("path"))?;
                    let last = i + 1 == path.components().len();
                    if !last && !node.is_folder() {
                        return Err(AppError::NotFound("path"));
                    }
                    parent = node.id;
                    names.push(node.name.clone());
                    found = Some(node);
                }
                let node = found.ok_or(AppError::NotFound("path"))?;
                Ok(Located::Entry(Entry {
                    node,
                    path: NodePath::from_names(names),
                }))
            }
            Target::Id(id) => {
                let node = tx
                    .nodes()
                    .get(*id)
                    .await?
                    .filter(|n| n.namespace == namespace.id && n.trashed_at.is_none())
                    .ok_or(AppError::NotFound("path"))?;
                let path = self
                    .live_path_of(tx, &node)
                    .await?
                    .ok_or(AppError::NotFound("path"))?;
                Ok(Located::Entry(Entry { node, path }))
            }
        }
    }

    /// A located entry; the root is not one.
    pub(crate) async fn locate_entry(
        &self,
        tx: &mut dyn Transaction,
        namespace: &Namespace,
        target: &Target,
    ) -> Result<Entry, AppError> {
        match self.locate(tx, namespace, target).await? {
            Located::Entry(entry) => Ok(entry),
            Located::Root => Err(AppError::NotAllowed("the root folder cannot be changed")),
        }
    }

    /// The path of `node` from its ancestors, or `None` if an ancestor is trashed.
    pub(crate) async fn live_path_of(
        &self,
        tx: &mut dyn Transaction,
        node: &Node,
    ) -> Result<Option<NodePath>, AppError> {
        let ancestors = tx.nodes().ancestors(node.id).await?;
        if ancestors.iter().any(|a| a.trashed_at.is_some()) {
            return Ok(None);
        }
        let mut names: Vec<NodeName> = ancestors.into_iter().rev().map(|a| a.name).collect();
        names.push(node.name.clone());
        Ok(Some(NodePath::from_names(names)))
    }

    /// The folder at `path`, creating missing folders when `create` is set. Returns the
    /// folder's id and its display path.
    pub(crate) async fn folder_at(
        &self,
        tx: &mut dyn Transaction,
        namespace: &Namespace,
        path: &NodePath,
        create: bool,
    ) -> Result<(NodeId, NodePath), AppError> {
        let mut folder = namespace.root;
        let mut names = Vec::with_capacity(path.components().len());
        for name in path.components() {
            match tx.nodes().child(folder, &name.key()).await? {
                Some(node) if node.is_folder() => {
                    folder = node.id;
                    names.push(node.name);
                }
                Some(_) => {
                    return Err(AppError::Conflict(
                        "a file is in the way of the folder path",
                    ));
                }
                None if create => {
                    let node = Node::new(
                        NodeId::from_uuid(self.ports.ids.new_id()),
                        namespace.id,
                        folder,
                        name.clone(),
                        NodeKind::Folder,
                        self.ports.clock.now(),
                    );
                    tx.nodes().insert(&node).await?;
                    self.record(tx, namespace.id, node.id, None).await?;
                    folder = node.id;
                    names.push(node.name);
                }
                None => return Err(AppError::NotFound("parent folder")),
            }
        }
        Ok((folder, NodePath::from_names(names)))
    }

    /// `name`, or with `autorename` the first free numbered alternative, if the name is taken
    /// in `folder` by something other than `except`.
    pub(crate) async fn free_name(
        &self,
        tx: &mut dyn Transaction,
        folder: NodeId,
        name: &NodeName,
        is_folder: bool,
        autorename: bool,
        except: Option<NodeId>,
    ) -> Result<NodeName, AppError> {
        let taken = |node: Option<Node>| node.is_some_and(|n| Some(n.id) != except);
        if !taken(tx.nodes().child(folder, &name.key()).await?) {
            return Ok(name.clone());
        }
        if !autorename {
            return Err(AppError::Conflict("something already exists at this path"));
        }
        for n in 1..=MAX_AUTORENAME {
            let candidate = name.numbered(n, is_folder)?;
            if !taken(tx.nodes().child(folder, &candidate.key()).await?) {
                return Ok(candidate);
            }
        }
        Err(AppError::Conflict("no free name for an automatic rename"))
    }

    /// Refuses a change that would take `namespace` past `quota`.
    pub(crate) fn check_quota(
        namespace: &Namespace,
        quota: ByteCount,
        additional: u64,
    ) -> Result<(), AppError> {
        let used = namespace.used.get();
        if additional > 0 && used.saturating_add(additional) > quota.get() {
            return Err(AppError::QuotaExceeded {
                used,
                quota: quota.get(),
                needed: additional,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_paths_or_ids() {
        assert_eq!(Target::parse("/").unwrap(), Target::Path(NodePath::root()));
        let id = Uuid::from_u128(42);
        assert_eq!(
            Target::parse(&format!("id:{id}")).unwrap(),
            Target::Id(NodeId::from_uuid(id))
        );
        assert!(Target::parse("id:nope").is_err());
        assert!(Target::parse("relative").is_err());
    }
}
