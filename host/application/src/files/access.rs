//! Who may reach what: the one place where file use cases ask whether the caller may read,
//! change or manage something.
//!
//! A caller reaches their home namespace (as its owner) and every shared folder they are a
//! member of (in their role there). Anything else does not exist for them: asking for it gets
//! "not found", never a hint that it is there. A member whose role does not allow a change gets
//! "forbidden".

use coffer_domain::files::{Namespace, NamespaceId, Node};
use coffer_domain::sharing::{Membership, Need, Role};

use crate::AppError;

/// The caller's reach, loaded once per use case (in its transaction).
#[derive(Debug, Clone)]
pub(crate) struct Access {
    /// The caller's home namespace.
    pub home: Namespace,
    memberships: Vec<Membership>,
    /// Namespaces the transaction holds the write lock of (empty for reads).
    locked: Vec<NamespaceId>,
}

impl Access {
    pub(crate) fn new(home: Namespace, memberships: Vec<Membership>) -> Self {
        Self {
            home,
            memberships,
            locked: Vec::new(),
        }
    }

    /// Records which namespaces this (write) transaction locked.
    pub(crate) fn with_locks(mut self, locked: Vec<NamespaceId>) -> Self {
        self.locked = locked;
        self
    }

    /// The caller's role in `namespace`, if they reach it at all.
    pub(crate) fn role(&self, namespace: NamespaceId) -> Option<Role> {
        if namespace == self.home.id {
            return Some(Role::Owner);
        }
        self.membership(namespace).map(|m| m.role)
    }

    /// The caller's role in `namespace` if it allows `need`: "not found" if they do not reach
    /// it, "forbidden" if they do but may not do this.
    pub(crate) fn require(&self, namespace: NamespaceId, need: Need) -> Result<Role, AppError> {
        match self.role(namespace) {
            None => Err(AppError::NotFound("path")),
            Some(role) if role.allows(need) => Ok(role),
            Some(_) => Err(AppError::Forbidden),
        }
    }

    /// Whether the caller may publish (link) content of `namespace`.
    pub(crate) fn may_publish(&self, namespace: NamespaceId) -> bool {
        self.role(namespace)
            .is_some_and(|role| role.allows(Need::Publish))
    }

    /// Whether a link made by the caller may show `node`: they may publish its namespace and,
    /// for a mount point, the shared folder it mounts. The one rule of what a link reaches: a
    /// link never crosses into a namespace its maker could not link.
    pub(crate) fn may_publish_node(&self, node: &Node) -> bool {
        self.may_publish(node.namespace) && node.mount.is_none_or(|shared| self.may_publish(shared))
    }

    /// The caller may make a link to `node` (see [`Self::may_publish_node`]): "not found" if
    /// they do not reach it, "forbidden" if they do but may not publish it.
    pub(crate) fn require_publish(&self, node: &Node) -> Result<(), AppError> {
        self.require(node.namespace, Need::Publish)?;
        if let Some(shared) = node.mount {
            self.require(shared, Need::Publish)?;
        }
        Ok(())
    }

    /// [`Self::require`] for a change, which also needs the namespace locked by this
    /// transaction (it is not when the tree changed between planning and locking).
    pub(crate) fn require_write(&self, namespace: NamespaceId) -> Result<Role, AppError> {
        let role = self.require(namespace, Need::Write)?;
        if !self.locked.contains(&namespace) {
            return Err(AppError::Conflict(
                crate::Conflict::ConcurrentChange,
                "the folder changed while the request ran; try again",
            ));
        }
        Ok(role)
    }

    /// The caller's membership of a shared folder.
    pub(crate) fn membership(&self, namespace: NamespaceId) -> Option<&Membership> {
        self.memberships.iter().find(|m| m.namespace == namespace)
    }

    /// Every shared folder the caller is a member of.
    pub(crate) fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// Every namespace the caller reaches: home first, then shared folders.
    pub(crate) fn namespaces(&self) -> Vec<NamespaceId> {
        std::iter::once(self.home.id)
            .chain(self.memberships.iter().map(|m| m.namespace))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::{ByteCount, UserId};
    use coffer_domain::files::{NamespaceKind, NodeId};
    use uuid::Uuid;

    use super::*;

    fn namespace(n: u128) -> NamespaceId {
        NamespaceId::from_uuid(Uuid::from_u128(n))
    }

    fn access() -> Access {
        let user = UserId::from_uuid(Uuid::from_u128(1));
        let home = Namespace {
            id: namespace(10),
            kind: NamespaceKind::Home,
            owner: user,
            root: NodeId::from_uuid(Uuid::from_u128(11)),
            used: ByteCount::default(),
        };
        let member = |ns, role| Membership {
            namespace: namespace(ns),
            user,
            role,
            mount: NodeId::from_uuid(Uuid::from_u128(ns + 100)),
            joined_at: Default::default(),
        };
        Access::new(
            home,
            vec![member(20, Role::Viewer), member(30, Role::Editor)],
        )
    }

    #[test]
    fn no_access_is_not_found_and_a_weak_role_is_forbidden() {
        let access = access();
        assert_eq!(
            access.require(namespace(10), Need::Manage).unwrap(),
            Role::Owner
        );
        assert_eq!(
            access.require(namespace(20), Need::Read).unwrap(),
            Role::Viewer
        );
        assert!(matches!(
            access.require(namespace(20), Need::Write),
            Err(AppError::Forbidden)
        ));
        assert_eq!(
            access.require(namespace(30), Need::Write).unwrap(),
            Role::Editor
        );
        assert!(matches!(
            access.require(namespace(30), Need::Manage),
            Err(AppError::Forbidden)
        ));
        for need in [Need::Read, Need::Write, Need::Manage] {
            assert!(matches!(
                access.require(namespace(99), need),
                Err(AppError::NotFound(_))
            ));
        }
        assert_eq!(
            access.namespaces(),
            [namespace(10), namespace(20), namespace(30)]
        );
    }

    fn node_in(namespace: NamespaceId, mount: Option<NamespaceId>) -> Node {
        let mut node = Node::new(
            NodeId::from_uuid(Uuid::from_u128(500)),
            namespace,
            NodeId::from_uuid(Uuid::from_u128(501)),
            coffer_domain::files::NodeName::parse("Team").unwrap(),
            coffer_domain::files::NodeKind::Folder,
            Default::default(),
        );
        node.mount = mount;
        node
    }

    #[test]
    fn publishing_a_mount_point_needs_the_right_to_publish_the_shared_folder() {
        let access = access();
        // Own folder: fine. A viewer's mount point: refused, although it lies in the home.
        assert!(
            access
                .require_publish(&node_in(namespace(10), None))
                .is_ok()
        );
        assert!(matches!(
            access.require_publish(&node_in(namespace(10), Some(namespace(20)))),
            Err(AppError::Forbidden)
        ));
        assert!(!access.may_publish_node(&node_in(namespace(10), Some(namespace(20)))));
        // An editor's mount point and content: fine; a viewer's content: refused.
        assert!(
            access
                .require_publish(&node_in(namespace(10), Some(namespace(30))))
                .is_ok()
        );
        assert!(access.may_publish_node(&node_in(namespace(30), None)));
        assert!(matches!(
            access.require_publish(&node_in(namespace(20), None)),
            Err(AppError::Forbidden)
        ));
        // A namespace out of reach: not found, and never published.
        assert!(matches!(
            access.require_publish(&node_in(namespace(99), None)),
            Err(AppError::NotFound(_))
        ));
        assert!(!access.may_publish_node(&node_in(namespace(10), Some(namespace(99)))));
    }

    #[test]
    fn writes_need_the_namespace_locked() {
        let access = access();
        assert!(matches!(
            access.require_write(namespace(30)),
            Err(AppError::Conflict(crate::Conflict::ConcurrentChange, _))
        ));
        let access = access.with_locks(vec![namespace(30)]);
        assert!(access.require_write(namespace(30)).is_ok());
        assert!(matches!(
            access.require_write(namespace(20)),
            Err(AppError::Forbidden)
        ));
    }
}
