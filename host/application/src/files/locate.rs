//! Finding things: targets (by path or id) as the caller sees them, across the shared folders
//! mounted in their tree; the caller's reach ([`Access`]); locks and quotas of writes.

use coffer_domain::DomainError;
use coffer_domain::account::{ByteCount, UserId};
use coffer_domain::files::{Namespace, NamespaceId, Node, NodeId, NodeKind, NodeName, NodePath};
use coffer_domain::sharing::Need;
use uuid::Uuid;

use super::access::Access;
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

/// A folder as the place its children live: the namespace holding them, the node they have as
/// parent (a shared folder's root for a mount point), and the folder's path as the caller sees
/// it.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub namespace: NamespaceId,
    pub folder: NodeId,
    pub path: NodePath,
}

/// Bytes a quota owner uses and may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Room {
    pub used: u64,
    pub quota: ByteCount,
    /// Whether the quota is another account's (a shared folder's owner): its figures are not
    /// the caller's to see.
    pub others: bool,
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

    /// A namespace that must exist.
    pub(crate) async fn namespace(
        &self,
        tx: &mut dyn Transaction,
        id: NamespaceId,
    ) -> Result<Namespace, AppError> {
        tx.namespaces().get(id).await?.ok_or_else(|| {
            AppError::Infrastructure(crate::InfrastructureError::msg(format!(
                "namespace {id} is missing"
            )))
        })
    }

    /// What the caller reaches, read in `tx`.
    pub(crate) async fn access(
        &self,
        tx: &mut dyn Transaction,
        user: UserId,
    ) -> Result<Access, AppError> {
        let home = self.home(tx, user).await?;
        let memberships = tx.members().of_user(user).await?;
        Ok(Access::new(home, memberships))
    }

    /// A read transaction and the caller's reach.
    pub(crate) async fn read_access(
        &self,
        user: UserId,
    ) -> Result<(Box<dyn Transaction>, Access), AppError> {
        let mut tx = self.ports.uow.begin_read().await?;
        let access = self.access(tx.as_mut(), user).await?;
        Ok((tx, access))
    }

    /// A write transaction holding the locks of the namespaces `targets` lie in (for a path
    /// that does not exist yet: the namespace of its deepest existing folder) and of the homes
    /// of those namespaces' owners (whose quota a change counts against). Locks are taken in id
    /// order, so concurrent writers never wait on each other in a circle.
    pub(crate) async fn write_access(
        &self,
        user: UserId,
        targets: &[&Target],
    ) -> Result<(Box<dyn Transaction>, Access), AppError> {
        if self.plugins.sets_quotas() {
            self.ask_quotas_before_writing(user, targets).await;
        }
        let mut tx = self.ports.uow.begin().await?;
        let access = self.access(tx.as_mut(), user).await?;
        let mut namespaces = vec![access.home.id];
        for target in targets {
            namespaces.push(self.namespace_hint(tx.as_mut(), &access, target).await?);
        }
        self.lock_namespaces(tx, access, namespaces).await
    }

    /// Locks `namespaces` and their owners' homes, in id order.
    pub(crate) async fn lock_namespaces(
        &self,
        mut tx: Box<dyn Transaction>,
        access: Access,
        mut namespaces: Vec<NamespaceId>,
    ) -> Result<(Box<dyn Transaction>, Access), AppError> {
        for namespace in namespaces.clone() {
            if namespace == access.home.id {
                continue;
            }
            let owner = self.namespace(tx.as_mut(), namespace).await?.owner;
            namespaces.push(self.home(tx.as_mut(), owner).await?.id);
        }
        namespaces.sort();
        namespaces.dedup();
        for namespace in &namespaces {
            tx.namespaces().lock(*namespace).await?;
        }
        Ok((tx, access.with_locks(namespaces)))
    }

    /// The namespace a target lies in, or for a path not there yet, the namespace its deepest
    /// existing folder gives its children.
    pub(crate) async fn namespace_hint(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        target: &Target,
    ) -> Result<NamespaceId, AppError> {
        match target {
            Target::Id(id) => Ok(tx
                .nodes()
                .get(*id)
                .await?
                .map_or(access.home.id, |n| n.namespace)),
            Target::Path(path) => {
                let (mut namespace, mut folder) = (access.home.id, access.home.root);
                for name in path.components() {
                    let Some(node) = tx.nodes().child(folder, &name.key()).await? else {
                        break;
                    };
                    if !node.is_folder() {
                        return Ok(node.namespace);
                    }
                    (namespace, folder) = self.contents(tx, &node).await?;
                }
                Ok(namespace)
            }
        }
    }

    /// Appends a change of `node` (visible at `path_before`, relative to its namespace's root,
    /// until now, if it was) to the namespace's journal, in the transaction that makes the
    /// change.
    pub(crate) async fn record(
        &self,
        tx: &mut dyn Transaction,
        namespace: NamespaceId,
        node: NodeId,
        path_before: Option<&NodePath>,
    ) -> Result<(), AppError> {
        tx.changes()
            .append(namespace, node, path_before, self.ports.clock.now())
            .await?;
        Ok(())
    }

    /// Commits a transaction that changed `namespaces`, then announces the changes to waiting
    /// longpolls (on every instance).
    pub(crate) async fn commit_changes(
        &self,
        tx: Box<dyn Transaction>,
        namespaces: &[NamespaceId],
    ) -> Result<(), AppError> {
        tx.commit().await?;
        let mut announced = Vec::with_capacity(namespaces.len());
        for namespace in namespaces {
            if !announced.contains(namespace) {
                self.ports.notifier.changed(*namespace).await;
                announced.push(*namespace);
            }
        }
        Ok(())
    }

    /// The quota in force for `user`, as the quota policies last answered: no plugin is asked
    /// here, as this runs inside transactions (see [`Self::ask_quotas_before_writing`]).
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
        Ok(self
            .plugins
            .known_quota_for(&user, self.rules.default_quota))
    }

    /// Asks the quota policies, outside any transaction, for the quotas a write to `targets`
    /// may check (the caller's and those of the owners of where the targets lie). The write
    /// transaction then finds the answers remembered, so a slow quota plugin holds no lock.
    /// Best effort: the write itself reports any error.
    pub(crate) async fn ask_quotas_before_writing(&self, user: UserId, targets: &[&Target]) {
        let owners = async {
            let (mut tx, access) = self.read_access(user).await?;
            let mut owners = vec![user];
            for target in targets {
                let namespace = self.namespace_hint(tx.as_mut(), &access, target).await?;
                owners.push(self.namespace(tx.as_mut(), namespace).await?.owner);
            }
            owners.sort();
            owners.dedup();
            let mut users = Vec::with_capacity(owners.len());
            for owner in owners {
                users.extend(tx.users().get(owner).await?);
            }
            Ok::<_, AppError>(users)
        };
        match owners.await {
            Ok(users) => {
                for user in users {
                    self.plugins
                        .quota_for(&user, self.rules.default_quota)
                        .await;
                }
            }
            Err(err) => tracing::debug!(error = %err, "quotas not asked before a write"),
        }
    }

    /// What the owner of `namespace` uses (in all their namespaces) and may use: content of a
    /// shared folder counts against its owner, whoever puts it there.
    pub(crate) async fn room_in(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        namespace: NamespaceId,
    ) -> Result<Room, AppError> {
        let owner = self.namespace(tx, namespace).await?.owner;
        let used = tx.namespaces().usage_of_owner(owner).await?;
        let quota = self.quota_of(tx, owner).await?;
        Ok(Room {
            used,
            quota,
            others: owner != access.home.owner,
        })
    }

    /// Refuses a change that would take the quota owner past their quota. Only the owner
    /// learns their figures; anyone else learns that the owner has no room.
    pub(crate) fn check_quota(room: Room, additional: u64) -> Result<(), AppError> {
        if additional > 0 && room.used.saturating_add(additional) > room.quota.get() {
            if room.others {
                return Err(AppError::OwnerQuotaExceeded);
            }
            return Err(AppError::QuotaExceeded {
                used: room.used,
                quota: room.quota.get(),
                needed: additional,
            });
        }
        Ok(())
    }

    /// Where the children of folder `node` live: its own namespace and id, or for a mount point
    /// the shared folder's namespace and root.
    pub(crate) async fn contents(
        &self,
        tx: &mut dyn Transaction,
        node: &Node,
    ) -> Result<(NamespaceId, NodeId), AppError> {
        match node.mount {
            Some(shared) => Ok((shared, self.namespace(tx, shared).await?.root)),
            None => Ok((node.namespace, node.id)),
        }
    }

    /// Finds a live target the caller can see. Anything not found, trashed, below a trashed
    /// folder, or out of the caller's reach is "not found".
    pub(crate) async fn locate(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        target: &Target,
    ) -> Result<Located, AppError> {
        match target {
            Target::Path(path) if path.is_root() => Ok(Located::Root),
            Target::Path(path) => {
                let mut parent = access.home.root;
                let mut names = Vec::with_capacity(path.components().len());
                let mut found = None;
                for (i, name) in path.components().iter().enumerate() {
                    let node = tx
                        .nodes()
                        .child(parent, &name.key())
                        .await?
                        .ok_or(AppError::NotFound("path"))?;
                    let last = i + 1 == path.components().len();
                    if !last {
                        if !node.is_folder() {
                            return Err(AppError::NotFound("path"));
                        }
                        let (namespace, folder) = self.contents(tx, &node).await?;
                        access.require(namespace, Need::Read)?;
                        parent = folder;
                    }
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
                    .filter(|n| n.trashed_at.is_none() && access.role(n.namespace).is_some())
                    .ok_or(AppError::NotFound("path"))?;
                let path = self
                    .view_path_of(tx, access, &node)
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
        access: &Access,
        target: &Target,
    ) -> Result<Entry, AppError> {
        match self.locate(tx, access, target).await? {
            Located::Entry(entry) => Ok(entry),
            Located::Root => Err(AppError::NotAllowed("the root folder cannot be changed")),
        }
    }

    /// The path of `node` within its namespace, or `None` if an ancestor is trashed.
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

    /// Where the caller sees the root of `namespace`: `/` for their home, their mount point for
    /// a shared folder; `None` if they do not reach it (or their mount point is in the trash).
    pub(crate) async fn mount_path(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        namespace: NamespaceId,
    ) -> Result<Option<NodePath>, AppError> {
        if namespace == access.home.id {
            return Ok(Some(NodePath::root()));
        }
        let Some(membership) = access.membership(namespace) else {
            return Ok(None);
        };
        match tx.nodes().get(membership.mount).await? {
            Some(mount) if mount.trashed_at.is_none() => self.live_path_of(tx, &mount).await,
            _ => Ok(None),
        }
    }

    /// The path of `node` as the caller sees it (through their mount point for a node of a
    /// shared folder), or `None` if it is hidden (trashed above) or out of reach.
    pub(crate) async fn view_path_of(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        node: &Node,
    ) -> Result<Option<NodePath>, AppError> {
        let Some(within) = self.live_path_of(tx, node).await? else {
            return Ok(None);
        };
        Ok(self
            .mount_path(tx, access, node.namespace)
            .await?
            .map(|mount| mount.concat(&within)))
    }

    /// The folder at `path`, creating missing folders when `create` is set (which needs write
    /// access where they are created).
    pub(crate) async fn folder_at(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        path: &NodePath,
        create: bool,
    ) -> Result<Place, AppError> {
        let mut place = Place {
            namespace: access.home.id,
            folder: access.home.root,
            path: NodePath::root(),
        };
        for name in path.components() {
            match tx.nodes().child(place.folder, &name.key()).await? {
                Some(node) if node.is_folder() => {
                    let (namespace, folder) = self.contents(tx, &node).await?;
                    access.require(namespace, Need::Read)?;
                    place = Place {
                        namespace,
                        folder,
                        path: place.path.join(node.name),
                    };
                }
                Some(_) => {
                    return Err(AppError::Conflict(
                        crate::Conflict::Other,
                        "a file is in the way of the folder path",
                    ));
                }
                None if create => {
                    access.require_write(place.namespace)?;
                    let node = Node::new(
                        NodeId::from_uuid(self.ports.ids.new_id()),
                        place.namespace,
                        place.folder,
                        name.clone(),
                        NodeKind::Folder,
                        self.ports.clock.now(),
                    );
                    tx.nodes().insert(&node).await?;
                    self.record(tx, place.namespace, node.id, None).await?;
                    place = Place {
                        namespace: place.namespace,
                        folder: node.id,
                        path: place.path.join(node.name),
                    };
                }
                None => return Err(AppError::NotFound("parent folder")),
            }
        }
        Ok(place)
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
            return Err(AppError::Conflict(
                crate::Conflict::NameTaken,
                "something already exists at this path",
            ));
        }
        for n in 1..=MAX_AUTORENAME {
            let candidate = name.numbered(n, is_folder)?;
            if !taken(tx.nodes().child(folder, &candidate.key()).await?) {
                return Ok(candidate);
            }
        }
        Err(AppError::Conflict(
            crate::Conflict::NameTaken,
            "no free name for an automatic rename",
        ))
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
