//! In-memory fakes of every port, and a [`TestEnv`] that wires them to the use cases.
//!
//! The fakes are faithful where the use cases depend on behaviour (transactions roll back when
//! dropped, emails are unique, digests identify secrets) and trivial elsewhere (passwords are
//! "hashed" by prefixing). Concurrent transactions are last-commit-wins: unit tests are serial.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::TimeZone;
use coffer_domain::Timestamp;
use coffer_domain::account::{
    AccessToken, ByteCount, Email, Invite, InviteId, Password, PasswordHash, SignupPolicy,
    TokenDigest, TokenId, User, UserId,
};
use coffer_domain::files::{
    BlockHash, Namespace, NamespaceId, Node, NodeId, Revision, RevisionId, SessionBlock, UploadId,
    UploadSession,
};
use uuid::Uuid;

use crate::accounts::{AccountRules, Accounts, IssuedToken, LogIn};
use crate::admin::{Administration, UserChanges};
use crate::files::{Files, StorageRules, Upload, UploadMode, UploadOutcome};
use crate::plugins::{PluginHost, Plugins};
use crate::ports::*;
use crate::{AppError, InfrastructureError, Ports, Principal};

#[derive(Default, Clone)]
struct State {
    users: BTreeMap<UserId, User>,
    tokens: HashMap<TokenId, AccessToken>,
    invites: HashMap<InviteId, Invite>,
    namespaces: HashMap<NamespaceId, Namespace>,
    roots: HashMap<NodeId, NamespaceId>,
    nodes: HashMap<NodeId, Node>,
    revisions: HashMap<RevisionId, Revision>,
    blocks: HashMap<BlockHash, (u32, Timestamp)>,
    links: HashMap<coffer_domain::sharing::LinkId, coffer_domain::sharing::SharedLink>,
    changes: Vec<coffer_domain::files::Change>,
    journal: HashMap<NamespaceId, (u64, u64)>,
    members: Vec<coffer_domain::sharing::Membership>,
    invitations: Vec<coffer_domain::sharing::Invitation>,
    plugins: BTreeMap<coffer_domain::plugins::PluginId, coffer_domain::plugins::Plugin>,
    components: HashMap<String, Vec<u8>>,
    plugin_generation: u64,
    audit: Vec<coffer_domain::plugins::AuditEntry>,
    uploads: BTreeMap<UploadId, (UploadSession, Vec<SessionBlock>)>,
}

/// An in-memory database: a transaction works on a copy and publishes it on commit.
#[derive(Default, Clone)]
pub struct InMemoryStore {
    state: Arc<Mutex<State>>,
    /// Write transactions begun and not yet ended.
    open_writes: Arc<std::sync::atomic::AtomicUsize>,
    /// Read transactions still to fail, as on a connection that broke.
    broken_reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl InMemoryStore {
    /// The next `count` read transactions fail to begin with a transient error, as when a
    /// pooled connection broke (the server ended the session).
    pub fn break_reads(&self, count: usize) {
        self.broken_reads
            .store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many write transactions are open now.
    pub fn open_writes(&self) -> usize {
        self.open_writes.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn snapshot(&self) -> State {
        self.state.lock().unwrap().clone()
    }
    /// Committed users.
    pub fn user_count(&self) -> usize {
        self.snapshot().users.len()
    }
    /// Committed tokens.
    pub fn token_count(&self) -> usize {
        self.snapshot().tokens.len()
    }
    /// A committed user (panics if missing).
    pub fn user(&self, id: UserId) -> User {
        self.snapshot().users[&id].clone()
    }
    /// Committed nodes (files and folders, trashed or not).
    pub fn node_count(&self) -> usize {
        self.snapshot().nodes.len()
    }
    /// Committed revisions.
    pub fn revision_count(&self) -> usize {
        self.snapshot().revisions.len()
    }
    /// Indexed blocks.
    pub fn block_count(&self) -> usize {
        self.snapshot().blocks.len()
    }
    /// The committed usage of a user's namespaces.
    pub fn usage_of(&self, user: UserId) -> u64 {
        self.snapshot()
            .namespaces
            .values()
            .filter(|n| n.owner == user)
            .map(|n| n.used.get())
            .sum()
    }
}

struct InMemoryTx {
    store: InMemoryStore,
    work: State,
    writes: bool,
}

impl Drop for InMemoryTx {
    fn drop(&mut self) {
        if self.writes {
            self.store
                .open_writes
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl UnitOfWork for InMemoryStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepositoryError> {
        self.open_writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(InMemoryTx {
            store: self.clone(),
            work: self.snapshot(),
            writes: true,
        }))
    }
    async fn begin_read(&self) -> Result<Box<dyn Transaction>, RepositoryError> {
        let broken = self.broken_reads.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |left| left.checked_sub(1),
        );
        if broken.is_ok() {
            return Err(RepositoryError::Backend(
                InfrastructureError::msg("connection closed: the session was terminated")
                    .transient(),
            ));
        }
        Ok(Box::new(InMemoryTx {
            store: self.clone(),
            work: self.snapshot(),
            writes: false,
        }))
    }
    async fn ping(&self) -> Result<(), RepositoryError> {
        Ok(())
    }
}

#[async_trait]
impl Transaction for InMemoryTx {
    fn users(&mut self) -> &mut dyn UserRepository {
        self
    }
    fn tokens(&mut self) -> &mut dyn TokenRepository {
        self
    }
    fn invites(&mut self) -> &mut dyn InviteRepository {
        self
    }
    fn namespaces(&mut self) -> &mut dyn NamespaceRepository {
        self
    }
    fn nodes(&mut self) -> &mut dyn NodeRepository {
        self
    }
    fn revisions(&mut self) -> &mut dyn RevisionRepository {
        self
    }
    fn blocks(&mut self) -> &mut dyn BlockRepository {
        self
    }
    fn links(&mut self) -> &mut dyn LinkRepository {
        self
    }
    fn changes(&mut self) -> &mut dyn ChangeRepository {
        self
    }
    fn members(&mut self) -> &mut dyn MemberRepository {
        self
    }
    fn plugins(&mut self) -> &mut dyn PluginRepository {
        self
    }
    fn uploads(&mut self) -> &mut dyn UploadRepository {
        self
    }
    async fn commit(mut self: Box<Self>) -> Result<(), RepositoryError> {
        *self.store.state.lock().unwrap() = std::mem::take(&mut self.work);
        Ok(())
    }
}

#[async_trait]
impl UserRepository for InMemoryTx {
    async fn insert(&mut self, user: &User) -> Result<(), RepositoryError> {
        if self.work.users.values().any(|u| u.email() == user.email()) {
            return Err(RepositoryError::Conflict("email"));
        }
        self.work.users.insert(user.id(), user.clone());
        Ok(())
    }
    async fn update(&mut self, user: &User) -> Result<(), RepositoryError> {
        self.work.users.insert(user.id(), user.clone());
        Ok(())
    }
    async fn get(&mut self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.work.users.get(&id).cloned())
    }
    async fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, RepositoryError> {
        Ok(self
            .work
            .users
            .values()
            .find(|u| u.email() == email)
            .cloned())
    }
    async fn lock_against_inserts(&mut self) -> Result<(), RepositoryError> {
        Ok(())
    }
    async fn count(&mut self) -> Result<u64, RepositoryError> {
        Ok(self.work.users.len() as u64)
    }
    async fn list(
        &mut self,
        after: Option<&Email>,
        limit: u32,
    ) -> Result<Vec<User>, RepositoryError> {
        let mut users: Vec<User> = self
            .work
            .users
            .values()
            .filter(|u| after.is_none_or(|a| u.email() > a))
            .cloned()
            .collect();
        users.sort_by(|a, b| a.email().cmp(b.email()));
        users.truncate(limit as usize);
        Ok(users)
    }
}

#[async_trait]
impl TokenRepository for InMemoryTx {
    async fn insert(&mut self, token: &AccessToken) -> Result<(), RepositoryError> {
        self.work.tokens.insert(token.id, token.clone());
        Ok(())
    }
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessToken>, RepositoryError> {
        Ok(self
            .work
            .tokens
            .values()
            .find(|t| &t.digest == digest)
            .cloned())
    }
    async fn list_for_user(&mut self, user: UserId) -> Result<Vec<AccessToken>, RepositoryError> {
        let mut tokens: Vec<_> = self
            .work
            .tokens
            .values()
            .filter(|t| t.user_id == user)
            .cloned()
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        Ok(tokens)
    }
    async fn delete(&mut self, user: UserId, id: TokenId) -> Result<bool, RepositoryError> {
        let owned = self.work.tokens.get(&id).is_some_and(|t| t.user_id == user);
        if owned {
            self.work.tokens.remove(&id);
        }
        Ok(owned)
    }
    async fn delete_all_for_user(&mut self, user: UserId) -> Result<u64, RepositoryError> {
        let before = self.work.tokens.len();
        self.work.tokens.retain(|_, t| t.user_id != user);
        Ok((before - self.work.tokens.len()) as u64)
    }
    async fn delete_expired_for_user(
        &mut self,
        user: UserId,
        now: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let before = self.work.tokens.len();
        self.work
            .tokens
            .retain(|_, t| t.user_id != user || t.is_live_at(now));
        Ok((before - self.work.tokens.len()) as u64)
    }
}

#[async_trait]
impl InviteRepository for InMemoryTx {
    async fn insert(&mut self, invite: &Invite) -> Result<(), RepositoryError> {
        self.work.invites.insert(invite.id, invite.clone());
        Ok(())
    }
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<Invite>, RepositoryError> {
        Ok(self
            .work
            .invites
            .values()
            .find(|i| &i.code_digest == digest)
            .cloned())
    }
    async fn update(&mut self, invite: &Invite) -> Result<(), RepositoryError> {
        self.work.invites.insert(invite.id, invite.clone());
        Ok(())
    }
}

impl InMemoryTx {
    fn is_referenced(&self, hash: &BlockHash) -> bool {
        self.work
            .revisions
            .values()
            .any(|r| r.blocks().contains(hash))
            || self
                .work
                .uploads
                .values()
                .any(|(_, blocks)| blocks.iter().any(|b| b.hash == *hash))
    }

    fn descendants(&self, id: NodeId, through_trashed: bool) -> Vec<NodeId> {
        let mut found = vec![id];
        let mut next = 0;
        while next < found.len() {
            let parent = found[next];
            next += 1;
            let mut children: Vec<&Node> = self
                .work
                .nodes
                .values()
                .filter(|n| n.parent == parent && (through_trashed || n.trashed_at.is_none()))
                .collect();
            children.sort_by_key(|n| n.name.key());
            found.extend(children.into_iter().map(|n| n.id));
        }
        found
    }
}

#[async_trait]
impl NamespaceRepository for InMemoryTx {
    async fn insert(
        &mut self,
        namespace: &Namespace,
        _now: Timestamp,
    ) -> Result<(), RepositoryError> {
        self.work.roots.insert(namespace.root, namespace.id);
        self.work.namespaces.insert(namespace.id, namespace.clone());
        Ok(())
    }
    async fn home_of(&mut self, user: UserId) -> Result<Option<Namespace>, RepositoryError> {
        Ok(self
            .work
            .namespaces
            .values()
            .find(|n| n.owner == user && n.kind == coffer_domain::files::NamespaceKind::Home)
            .cloned())
    }
    async fn get(&mut self, id: NamespaceId) -> Result<Option<Namespace>, RepositoryError> {
        Ok(self.work.namespaces.get(&id).cloned())
    }
    async fn delete(&mut self, id: NamespaceId) -> Result<(), RepositoryError> {
        let work = &mut self.work;
        work.namespaces.remove(&id);
        work.roots.retain(|_, namespace| *namespace != id);
        work.nodes
            .retain(|_, n| n.namespace != id && n.mount != Some(id));
        work.members.retain(|m| m.namespace != id);
        work.changes.retain(|c| c.namespace != id);
        work.journal.remove(&id);
        work.links.retain(|_, l| l.namespace != id);
        Ok(())
    }
    async fn lock(&mut self, id: NamespaceId) -> Result<Namespace, RepositoryError> {
        self.work
            .namespaces
            .get(&id)
            .cloned()
            .ok_or_else(|| RepositoryError::Backend(InfrastructureError::msg("no namespace")))
    }
    async fn add_usage(&mut self, id: NamespaceId, delta: i64) -> Result<(), RepositoryError> {
        let namespace = self.work.namespaces.get_mut(&id).expect("namespace");
        let used = namespace.used.get() as i64 + delta;
        assert!(used >= 0, "usage went negative: a use case miscounted");
        namespace.used = ByteCount::new(used as u64).unwrap();
        Ok(())
    }
    async fn usage_of_owner(&mut self, user: UserId) -> Result<u64, RepositoryError> {
        Ok(self
            .work
            .namespaces
            .values()
            .filter(|n| n.owner == user)
            .map(|n| n.used.get())
            .sum())
    }
}

#[async_trait]
impl NodeRepository for InMemoryTx {
    async fn insert(&mut self, node: &Node) -> Result<(), RepositoryError> {
        if self.child(node.parent, &node.name.key()).await?.is_some() && node.trashed_at.is_none() {
            return Err(RepositoryError::Conflict("name"));
        }
        self.work.nodes.insert(node.id, node.clone());
        Ok(())
    }
    async fn update(&mut self, node: &Node) -> Result<(), RepositoryError> {
        let clash = self.child(node.parent, &node.name.key()).await?;
        if node.trashed_at.is_none() && clash.is_some_and(|c| c.id != node.id) {
            return Err(RepositoryError::Conflict("name"));
        }
        self.work.nodes.insert(node.id, node.clone());
        Ok(())
    }
    async fn get(&mut self, id: NodeId) -> Result<Option<Node>, RepositoryError> {
        Ok(self.work.nodes.get(&id).cloned())
    }
    async fn child(
        &mut self,
        parent: NodeId,
        name_key: &str,
    ) -> Result<Option<Node>, RepositoryError> {
        Ok(self
            .work
            .nodes
            .values()
            .find(|n| n.parent == parent && n.trashed_at.is_none() && n.name.key() == name_key)
            .cloned())
    }
    async fn children(
        &mut self,
        parent: NodeId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError> {
        let mut children: Vec<Node> = self
            .work
            .nodes
            .values()
            .filter(|n| n.parent == parent && n.trashed_at.is_none())
            .filter(|n| after.is_none_or(|a| n.name.key().as_str() > a))
            .cloned()
            .collect();
        children.sort_by_key(|n| n.name.key());
        children.truncate(limit as usize);
        Ok(children)
    }
    async fn ancestors(&mut self, id: NodeId) -> Result<Vec<Node>, RepositoryError> {
        let mut chain = Vec::new();
        let mut current = self.work.nodes.get(&id).map(|n| n.parent);
        while let Some(parent) = current {
            match self.work.nodes.get(&parent) {
                Some(node) => {
                    chain.push(node.clone());
                    current = Some(node.parent);
                }
                None => break,
            }
        }
        Ok(chain)
    }
    async fn subtree_bytes(&mut self, id: NodeId) -> Result<u64, RepositoryError> {
        Ok(self
            .descendants(id, false)
            .iter()
            .filter_map(|n| self.work.nodes.get(n))
            .map(|n| n.size().get())
            .sum())
    }
    async fn subtree(&mut self, id: NodeId, limit: u32) -> Result<Vec<Node>, RepositoryError> {
        // A namespace root is not a node: its subtree is its descendants.
        Ok(self
            .descendants(id, false)
            .into_iter()
            .filter_map(|n| self.work.nodes.get(&n).cloned())
            .take(limit as usize)
            .collect())
    }
    async fn move_children(&mut self, from: NodeId, to: NodeId) -> Result<(), RepositoryError> {
        for node in self.work.nodes.values_mut() {
            if node.parent == from {
                node.parent = to;
            }
        }
        Ok(())
    }
    async fn rehome_subtree(
        &mut self,
        id: NodeId,
        namespace: NamespaceId,
    ) -> Result<u64, RepositoryError> {
        let moved = self.descendants(id, true);
        let mut count = 0;
        for node in &moved {
            if let Some(node) = self.work.nodes.get_mut(node) {
                node.namespace = namespace;
                count += 1;
            }
        }
        for link in self.work.links.values_mut() {
            if moved.contains(&link.node) {
                link.namespace = namespace;
            }
        }
        Ok(count)
    }
    async fn trashed(
        &mut self,
        namespace: NamespaceId,
        after: Option<(Timestamp, NodeId)>,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError> {
        let mut trashed: Vec<Node> = self
            .work
            .nodes
            .values()
            .filter(|n| n.namespace == namespace)
            .filter(|n| {
                n.trashed_at
                    .is_some_and(|at| after.is_none_or(|a| (at, n.id) < a))
            })
            .cloned()
            .collect();
        trashed.sort_by_key(|n| std::cmp::Reverse((n.trashed_at, n.id)));
        trashed.truncate(limit as usize);
        Ok(trashed)
    }
    async fn trashed_before(
        &mut self,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError> {
        let mut trashed: Vec<Node> = self
            .work
            .nodes
            .values()
            .filter(|n| n.trashed_at.is_some_and(|at| at < cutoff))
            .cloned()
            .collect();
        trashed.sort_by_key(|n| n.trashed_at);
        trashed.truncate(limit as usize);
        Ok(trashed)
    }
    async fn search(
        &mut self,
        namespace: NamespaceId,
        fragment: &str,
        after: Option<(&str, NodeId)>,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError> {
        let mut found: Vec<Node> = self
            .work
            .nodes
            .values()
            .filter(|n| n.namespace == namespace && n.trashed_at.is_none())
            .filter(|n| n.name.key().contains(fragment))
            .filter(|n| after.is_none_or(|(key, id)| (n.name.key().as_str(), n.id) > (key, id)))
            .cloned()
            .collect();
        found.sort_by_key(|n| (n.name.key(), n.id));
        found.truncate(limit as usize);
        Ok(found)
    }
    async fn delete_subtree(&mut self, id: NodeId) -> Result<u64, RepositoryError> {
        let doomed = self.descendants(id, true);
        for node in &doomed {
            self.work.nodes.remove(node);
        }
        self.work.members.retain(|m| !doomed.contains(&m.mount));
        self.work
            .revisions
            .retain(|_, r| !doomed.contains(&r.node()));
        Ok(doomed.len() as u64)
    }
}

#[async_trait]
impl RevisionRepository for InMemoryTx {
    async fn insert(&mut self, revision: &Revision) -> Result<(), RepositoryError> {
        if revision
            .blocks()
            .iter()
            .any(|b| !self.work.blocks.contains_key(b))
        {
            return Err(RepositoryError::Backend(InfrastructureError::msg(
                "foreign key: block not indexed",
            )));
        }
        self.work.revisions.insert(revision.id(), revision.clone());
        Ok(())
    }
    async fn get(&mut self, id: RevisionId) -> Result<Option<Revision>, RepositoryError> {
        Ok(self.work.revisions.get(&id).cloned())
    }
    async fn list_for_node(
        &mut self,
        node: NodeId,
        limit: u32,
    ) -> Result<Vec<Revision>, RepositoryError> {
        let mut revisions: Vec<Revision> = self
            .work
            .revisions
            .values()
            .filter(|r| r.node() == node)
            .cloned()
            .collect();
        revisions.sort_by_key(|r| std::cmp::Reverse((r.created_at(), r.id())));
        revisions.truncate(limit as usize);
        Ok(revisions)
    }
    async fn prune_before(
        &mut self,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<u64, RepositoryError> {
        let current: Vec<RevisionId> = self
            .work
            .nodes
            .values()
            .filter_map(|n| n.file.as_ref().map(|f| f.revision))
            .collect();
        let doomed: Vec<RevisionId> = self
            .work
            .revisions
            .values()
            .filter(|r| r.created_at() < cutoff && !current.contains(&r.id()))
            .map(|r| r.id())
            .take(limit as usize)
            .collect();
        for id in &doomed {
            self.work.revisions.remove(id);
        }
        Ok(doomed.len() as u64)
    }
}

#[async_trait]
impl BlockRepository for InMemoryTx {
    async fn touch(
        &mut self,
        hash: &BlockHash,
        size: u32,
        now: Timestamp,
    ) -> Result<(), RepositoryError> {
        self.work.blocks.insert(*hash, (size, now));
        Ok(())
    }
    async fn touch_existing(
        &mut self,
        hashes: &[BlockHash],
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        for hash in hashes {
            match self.work.blocks.get_mut(hash) {
                Some(entry) => entry.1 = now,
                None => return Ok(false),
            }
        }
        Ok(true)
    }
    async fn in_namespace(
        &mut self,
        namespace: NamespaceId,
        hashes: &[BlockHash],
    ) -> Result<Vec<(BlockHash, u32)>, RepositoryError> {
        let mut found = Vec::new();
        for hash in hashes {
            let known = self.work.revisions.values().any(|r| {
                r.blocks().contains(hash)
                    && self
                        .work
                        .nodes
                        .get(&r.node())
                        .is_some_and(|n| n.namespace == namespace)
            });
            if known && !found.iter().any(|(h, _)| h == hash) {
                found.push((*hash, self.work.blocks[hash].0));
            }
        }
        Ok(found)
    }
    async fn collect(
        &mut self,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<Vec<BlockHash>, RepositoryError> {
        let doomed: Vec<BlockHash> = self
            .work
            .blocks
            .iter()
            .filter(|(hash, (_, touched))| *touched < cutoff && !self.is_referenced(hash))
            .map(|(hash, _)| *hash)
            .take(limit as usize)
            .collect();
        for hash in &doomed {
            self.work.blocks.remove(hash);
        }
        Ok(doomed)
    }
}

#[async_trait]
impl UploadRepository for InMemoryTx {
    async fn insert(
        &mut self,
        session: &UploadSession,
        blocks: &[SessionBlock],
    ) -> Result<(), RepositoryError> {
        self.work
            .uploads
            .insert(session.id, (session.clone(), blocks.to_vec()));
        Ok(())
    }
    async fn get(&mut self, id: UploadId) -> Result<Option<UploadSession>, RepositoryError> {
        Ok(self.work.uploads.get(&id).map(|(s, _)| s.clone()))
    }
    async fn blocks(&mut self, id: UploadId) -> Result<Vec<SessionBlock>, RepositoryError> {
        Ok(self
            .work
            .uploads
            .get(&id)
            .map(|(_, b)| b.clone())
            .unwrap_or_default())
    }
    async fn append(
        &mut self,
        id: UploadId,
        from_received: u64,
        position: u64,
        blocks: &[SessionBlock],
        received: u64,
        expires_at: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let Some((session, stored)) = self.work.uploads.get_mut(&id) else {
            return Ok(false);
        };
        if session.received != from_received {
            return Ok(false);
        }
        stored.truncate(position as usize);
        stored.extend_from_slice(blocks);
        session.received = received;
        session.expires_at = expires_at;
        Ok(true)
    }
    async fn mark_present(
        &mut self,
        id: UploadId,
        hash: &BlockHash,
        expires_at: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let Some((session, stored)) = self.work.uploads.get_mut(&id) else {
            return Ok(0);
        };
        session.expires_at = expires_at;
        let mut marked = 0;
        for block in stored.iter_mut().filter(|b| b.hash == *hash) {
            block.present = true;
            marked += 1;
        }
        Ok(marked)
    }
    async fn mark_committed(
        &mut self,
        id: UploadId,
        node: NodeId,
        revision: RevisionId,
    ) -> Result<(), RepositoryError> {
        if let Some((session, stored)) = self.work.uploads.get_mut(&id) {
            session.committed = Some((node, revision));
            stored.clear();
        }
        Ok(())
    }
    async fn delete(&mut self, id: UploadId) -> Result<bool, RepositoryError> {
        Ok(self.work.uploads.remove(&id).is_some())
    }
    async fn open_length_of(
        &mut self,
        owner: UserId,
        now: Timestamp,
    ) -> Result<u64, RepositoryError> {
        Ok(self
            .work
            .uploads
            .values()
            .filter(|(s, _)| s.owner == owner && s.committed.is_none() && !s.is_expired(now))
            .map(|(s, _)| s.length)
            .sum())
    }
    async fn delete_expired(&mut self, now: Timestamp, limit: u32) -> Result<u64, RepositoryError> {
        let doomed: Vec<UploadId> = self
            .work
            .uploads
            .values()
            .filter(|(s, _)| s.expires_at < now)
            .map(|(s, _)| s.id)
            .take(limit as usize)
            .collect();
        for id in &doomed {
            self.work.uploads.remove(id);
        }
        Ok(doomed.len() as u64)
    }
}

#[async_trait]
impl LinkRepository for InMemoryTx {
    async fn insert(
        &mut self,
        link: &coffer_domain::sharing::SharedLink,
    ) -> Result<(), RepositoryError> {
        self.work.links.insert(link.id, link.clone());
        Ok(())
    }
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<coffer_domain::sharing::SharedLink>, RepositoryError> {
        Ok(self
            .work
            .links
            .values()
            .find(|l| &l.token_digest == digest)
            .cloned())
    }
    async fn get(
        &mut self,
        id: coffer_domain::sharing::LinkId,
    ) -> Result<Option<coffer_domain::sharing::SharedLink>, RepositoryError> {
        Ok(self.work.links.get(&id).cloned())
    }
    async fn list_for_owner(
        &mut self,
        owner: UserId,
    ) -> Result<Vec<coffer_domain::sharing::SharedLink>, RepositoryError> {
        let mut links: Vec<_> = self
            .work
            .links
            .values()
            .filter(|l| l.owner == owner)
            .cloned()
            .collect();
        links.sort_by_key(|l| std::cmp::Reverse(l.created_at));
        Ok(links)
    }
    async fn list_into_namespace(
        &mut self,
        namespace: NamespaceId,
    ) -> Result<Vec<coffer_domain::sharing::SharedLink>, RepositoryError> {
        // Mount points of the namespace and every folder above them.
        let mut reaching = std::collections::HashSet::new();
        for mount in self
            .work
            .nodes
            .values()
            .filter(|n| n.mount == Some(namespace))
        {
            let mut current = Some(mount);
            while let Some(node) = current {
                if !reaching.insert(node.id) {
                    break;
                }
                current = self.work.nodes.get(&node.parent);
            }
        }
        let mut links: Vec<_> = self
            .work
            .links
            .values()
            .filter(|l| l.namespace == namespace || reaching.contains(&l.node))
            .cloned()
            .collect();
        links.sort_by_key(|l| std::cmp::Reverse(l.created_at));
        Ok(links)
    }
    async fn update(
        &mut self,
        link: &coffer_domain::sharing::SharedLink,
    ) -> Result<(), RepositoryError> {
        self.work.links.insert(link.id, link.clone());
        Ok(())
    }
    async fn revoke_all_of_owner(
        &mut self,
        owner: UserId,
        at: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let mut revoked = 0;
        for link in self.work.links.values_mut() {
            if link.owner == owner && link.revoked_at.is_none() {
                link.revoked_at = Some(at);
                revoked += 1;
            }
        }
        Ok(revoked)
    }
}

#[async_trait]
impl ChangeRepository for InMemoryTx {
    async fn append(
        &mut self,
        namespace: NamespaceId,
        node: NodeId,
        path_before: Option<&coffer_domain::files::NodePath>,
        at: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let position = self.work.journal.entry(namespace).or_default();
        position.0 += 1;
        let seq = position.0;
        self.work.changes.push(coffer_domain::files::Change {
            namespace,
            seq,
            node,
            path_before: path_before.cloned(),
            at,
        });
        Ok(seq)
    }
    async fn since(
        &mut self,
        namespace: NamespaceId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<coffer_domain::files::Change>, RepositoryError> {
        Ok(self
            .work
            .changes
            .iter()
            .filter(|c| c.namespace == namespace && c.seq > after)
            .take(limit as usize)
            .cloned()
            .collect())
    }
    async fn position(&mut self, namespace: NamespaceId) -> Result<(u64, u64), RepositoryError> {
        Ok(self
            .work
            .journal
            .get(&namespace)
            .copied()
            .unwrap_or_default())
    }
    async fn prune_before(&mut self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        let before = self.work.changes.len();
        self.work.changes.retain(|c| c.at >= cutoff);
        let pruned = (before - self.work.changes.len()) as u64;
        if pruned > 0 {
            for (namespace, (seq, floor)) in self.work.journal.iter_mut() {
                let first = self.work.changes.iter().find(|c| c.namespace == *namespace);
                *floor = first.map_or(*seq, |c| c.seq - 1);
            }
        }
        Ok(pruned)
    }
}

#[async_trait]
impl MemberRepository for InMemoryTx {
    async fn insert(
        &mut self,
        membership: &coffer_domain::sharing::Membership,
    ) -> Result<(), RepositoryError> {
        if MemberRepository::get(self, membership.namespace, membership.user)
            .await?
            .is_some()
        {
            return Err(RepositoryError::Conflict("member"));
        }
        self.work.members.push(membership.clone());
        Ok(())
    }
    async fn set_role(
        &mut self,
        namespace: NamespaceId,
        user: UserId,
        role: coffer_domain::sharing::Role,
    ) -> Result<(), RepositoryError> {
        for member in &mut self.work.members {
            if member.namespace == namespace && member.user == user {
                member.role = role;
            }
        }
        Ok(())
    }
    async fn delete(
        &mut self,
        namespace: NamespaceId,
        user: UserId,
    ) -> Result<bool, RepositoryError> {
        let before = self.work.members.len();
        self.work
            .members
            .retain(|m| !(m.namespace == namespace && m.user == user));
        Ok(self.work.members.len() < before)
    }
    async fn get(
        &mut self,
        namespace: NamespaceId,
        user: UserId,
    ) -> Result<Option<coffer_domain::sharing::Membership>, RepositoryError> {
        Ok(self
            .work
            .members
            .iter()
            .find(|m| m.namespace == namespace && m.user == user)
            .cloned())
    }
    async fn of_user(
        &mut self,
        user: UserId,
    ) -> Result<Vec<coffer_domain::sharing::Membership>, RepositoryError> {
        Ok(self
            .work
            .members
            .iter()
            .filter(|m| m.user == user)
            .cloned()
            .collect())
    }
    async fn of_namespace(
        &mut self,
        namespace: NamespaceId,
    ) -> Result<Vec<coffer_domain::sharing::Membership>, RepositoryError> {
        let mut members: Vec<_> = self
            .work
            .members
            .iter()
            .filter(|m| m.namespace == namespace)
            .cloned()
            .collect();
        members.sort_by_key(|m| {
            (
                std::cmp::Reverse(m.role == coffer_domain::sharing::Role::Owner),
                m.joined_at,
            )
        });
        Ok(members)
    }
    async fn invite(
        &mut self,
        invitation: &coffer_domain::sharing::Invitation,
    ) -> Result<(), RepositoryError> {
        if self
            .work
            .invitations
            .iter()
            .any(|i| i.namespace == invitation.namespace && i.email == invitation.email)
        {
            return Err(RepositoryError::Conflict("invitation"));
        }
        self.work.invitations.push(invitation.clone());
        Ok(())
    }
    async fn invitations_of(
        &mut self,
        namespace: NamespaceId,
    ) -> Result<Vec<coffer_domain::sharing::Invitation>, RepositoryError> {
        Ok(self
            .work
            .invitations
            .iter()
            .filter(|i| i.namespace == namespace)
            .cloned()
            .collect())
    }
    async fn set_invitation_role(
        &mut self,
        namespace: NamespaceId,
        id: UserId,
        role: coffer_domain::sharing::Role,
    ) -> Result<bool, RepositoryError> {
        let found = self
            .work
            .invitations
            .iter_mut()
            .find(|i| i.namespace == namespace && i.id == id);
        Ok(found.map(|i| i.role = role).is_some())
    }
    async fn delete_invitation(
        &mut self,
        namespace: NamespaceId,
        id: UserId,
    ) -> Result<bool, RepositoryError> {
        let before = self.work.invitations.len();
        self.work
            .invitations
            .retain(|i| !(i.namespace == namespace && i.id == id));
        Ok(self.work.invitations.len() < before)
    }
    async fn take_invitations_for(
        &mut self,
        email: &coffer_domain::account::Email,
    ) -> Result<Vec<coffer_domain::sharing::Invitation>, RepositoryError> {
        let (taken, kept) = std::mem::take(&mut self.work.invitations)
            .into_iter()
            .partition(|i| &i.email == email);
        self.work.invitations = kept;
        Ok(taken)
    }
}

#[async_trait]
impl PluginRepository for InMemoryTx {
    async fn insert(
        &mut self,
        plugin: &coffer_domain::plugins::Plugin,
    ) -> Result<(), RepositoryError> {
        if self.work.plugins.values().any(|p| p.name == plugin.name) {
            return Err(RepositoryError::Conflict("plugin"));
        }
        self.work.plugins.insert(plugin.id, plugin.clone());
        Ok(())
    }
    async fn update(
        &mut self,
        plugin: &coffer_domain::plugins::Plugin,
    ) -> Result<(), RepositoryError> {
        self.work.plugins.insert(plugin.id, plugin.clone());
        Ok(())
    }
    async fn get(
        &mut self,
        id: coffer_domain::plugins::PluginId,
    ) -> Result<Option<coffer_domain::plugins::Plugin>, RepositoryError> {
        Ok(self.work.plugins.get(&id).cloned())
    }
    async fn find_by_name(
        &mut self,
        name: &coffer_domain::plugins::PluginName,
    ) -> Result<Option<coffer_domain::plugins::Plugin>, RepositoryError> {
        Ok(self
            .work
            .plugins
            .values()
            .find(|p| &p.name == name)
            .cloned())
    }
    async fn list(&mut self) -> Result<Vec<coffer_domain::plugins::Plugin>, RepositoryError> {
        let mut all: Vec<_> = self.work.plugins.values().cloned().collect();
        all.sort_by(|a, b| (a.position, &a.name).cmp(&(b.position, &b.name)));
        Ok(all)
    }
    async fn delete(
        &mut self,
        id: coffer_domain::plugins::PluginId,
    ) -> Result<bool, RepositoryError> {
        Ok(self.work.plugins.remove(&id).is_some())
    }
    async fn store_component(
        &mut self,
        digest: &str,
        wasm: &[u8],
        _now: Timestamp,
    ) -> Result<(), RepositoryError> {
        self.work
            .components
            .entry(digest.to_owned())
            .or_insert_with(|| wasm.to_vec());
        Ok(())
    }
    async fn component(&mut self, digest: &str) -> Result<Option<Vec<u8>>, RepositoryError> {
        Ok(self.work.components.get(digest).cloned())
    }
    async fn delete_unused_components(&mut self) -> Result<u64, RepositoryError> {
        let used: Vec<String> = self
            .work
            .plugins
            .values()
            .map(|p| p.digest.clone())
            .collect();
        let before = self.work.components.len();
        self.work
            .components
            .retain(|digest, _| used.contains(digest));
        Ok((before - self.work.components.len()) as u64)
    }
    async fn generation(&mut self) -> Result<u64, RepositoryError> {
        Ok(self.work.plugin_generation)
    }
    async fn bump_generation(&mut self) -> Result<u64, RepositoryError> {
        self.work.plugin_generation += 1;
        Ok(self.work.plugin_generation)
    }
    async fn audit(
        &mut self,
        entry: &coffer_domain::plugins::AuditEntry,
    ) -> Result<(), RepositoryError> {
        let mut entry = entry.clone();
        entry.id = Some(self.work.audit.len() as u64 + 1);
        self.work.audit.push(entry);
        Ok(())
    }
    async fn audit_log(
        &mut self,
        plugin: Option<&str>,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<coffer_domain::plugins::AuditEntry>, RepositoryError> {
        Ok(self
            .work
            .audit
            .iter()
            .rev()
            .filter(|e| plugin.is_none_or(|p| e.plugin == p))
            .filter(|e| before.is_none_or(|b| e.id.unwrap_or(0) < b))
            .take(limit as usize)
            .cloned()
            .collect())
    }
}

impl InMemoryStore {
    /// The committed journal of every namespace, in order.
    pub fn changes(&self) -> Vec<coffer_domain::files::Change> {
        self.snapshot().changes
    }
}

/// Block bytes in memory. [`fail_with`](Self::fail_with) makes every operation fail, as a store
/// that is down or full would; [`leave_debris`](Self::leave_debris) stands for the leftovers of a
/// write that never finished.
#[derive(Default, Clone)]
pub struct InMemoryBlobs {
    blocks: Arc<Mutex<HashMap<BlockHash, Bytes>>>,
    failure: Arc<Mutex<Option<crate::FailureKind>>>,
    debris: Arc<Mutex<Vec<Timestamp>>>,
}

impl InMemoryBlobs {
    /// From now on every operation fails with an error of `kind` (`None`: works again).
    pub fn fail_with(&self, kind: Option<crate::FailureKind>) {
        *self.failure.lock().unwrap() = kind;
    }

    /// Leaves a piece of debris last touched at `at`.
    pub fn leave_debris(&self, at: Timestamp) {
        self.debris.lock().unwrap().push(at);
    }

    /// How many pieces of debris are left.
    pub fn debris(&self) -> usize {
        self.debris.lock().unwrap().len()
    }

    fn fault(&self) -> Result<(), InfrastructureError> {
        match *self.failure.lock().unwrap() {
            Some(kind) => {
                Err(InfrastructureError::msg("injected block store fault").with_kind(kind))
            }
            None => Ok(()),
        }
    }

    /// How many blocks are stored.
    pub fn len(&self) -> usize {
        self.blocks.lock().unwrap().len()
    }
    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl BlobStore for InMemoryBlobs {
    async fn put(&self, block: HashedBlock) -> Result<(), InfrastructureError> {
        self.fault()?;
        let bytes: Vec<u8> = block
            .chunks
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect();
        assert_eq!(
            BlockHash::of(&bytes),
            block.hash,
            "blocks arrive with their hash"
        );
        self.blocks
            .lock()
            .unwrap()
            .entry(block.hash)
            .or_insert_with(|| Bytes::from(bytes));
        Ok(())
    }
    async fn read(
        &self,
        hash: &BlockHash,
        offset: u64,
        len: u64,
    ) -> Result<ByteStream, InfrastructureError> {
        self.fault()?;
        let block = self
            .blocks
            .lock()
            .unwrap()
            .get(hash)
            .cloned()
            .ok_or_else(|| InfrastructureError::msg("no such block"))?;
        let piece = block.slice(offset as usize..(offset + len) as usize);
        Ok(Box::pin(futures_util::stream::iter([Ok(piece)])))
    }
    async fn contains(&self, hash: &BlockHash) -> Result<bool, InfrastructureError> {
        self.fault()?;
        Ok(self.blocks.lock().unwrap().contains_key(hash))
    }
    async fn delete(&self, hashes: &[BlockHash]) -> Result<(), InfrastructureError> {
        self.fault()?;
        let mut blocks = self.blocks.lock().unwrap();
        for hash in hashes {
            blocks.remove(hash);
        }
        Ok(())
    }
    async fn check(&self) -> Result<(), InfrastructureError> {
        self.fault()?;
        Ok(())
    }
    async fn sweep_debris(&self, cutoff: Timestamp) -> Result<u64, InfrastructureError> {
        self.fault()?;
        let mut debris = self.debris.lock().unwrap();
        let before = debris.len();
        debris.retain(|at| *at >= cutoff);
        Ok((before - debris.len()) as u64)
    }
}

/// Splits and hashes content in memory, in one go: right for the small contents of unit tests
/// (the real hasher streams).
pub struct InMemoryHasher;

impl BlockHasher for InMemoryHasher {
    fn hash_blocks(&self, content: ByteStream) -> BlockStream {
        use futures_util::StreamExt;
        let blocks = async move {
            let mut data = Vec::new();
            let mut content = content;
            while let Some(chunk) = content.next().await {
                match chunk {
                    Ok(chunk) => data.extend_from_slice(&chunk),
                    Err(err) => return vec![Err(err)],
                }
            }
            data.chunks(coffer_domain::files::BLOCK_SIZE)
                .map(|block| {
                    Ok(HashedBlock {
                        hash: BlockHash::of(block),
                        chunks: vec![Bytes::copy_from_slice(block)],
                        len: block.len() as u32,
                    })
                })
                .collect()
        };
        Box::pin(futures_util::stream::once(blocks).flat_map(futures_util::stream::iter))
    }
}

/// Announces changes in this process: wakes every waiter (of any namespace) on each change.
#[derive(Default, Clone)]
pub struct InMemoryNotifier(Arc<Mutex<(u64, Vec<std::task::Waker>)>>);

impl InMemoryNotifier {
    /// How many changes were announced.
    pub fn announced(&self) -> u64 {
        self.0.lock().unwrap().0
    }
}

#[async_trait]
impl ChangeNotifier for InMemoryNotifier {
    async fn changed(&self, _namespace: NamespaceId) {
        let wakers = {
            let mut state = self.0.lock().unwrap();
            state.0 += 1;
            std::mem::take(&mut state.1)
        };
        wakers.into_iter().for_each(std::task::Waker::wake);
    }

    fn next_change(&self, _namespace: NamespaceId) -> Wakeup {
        let shared = self.0.clone();
        let start = shared.lock().unwrap().0;
        Box::pin(std::future::poll_fn(move |cx| {
            let mut state = shared.lock().unwrap();
            if state.0 != start {
                return std::task::Poll::Ready(());
            }
            state.1.push(cx.waker().clone());
            std::task::Poll::Pending
        }))
    }
}

/// A clock that stands still until told to move.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl Default for ManualClock {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(
            chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        )))
    }
}

impl ManualClock {
    /// Moves time forward.
    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// Ids 1, 2, 3, ...
#[derive(Default)]
pub struct SequentialIds(AtomicU64);

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

/// Predictable secrets ("secret-1", ...); the digest is the secret's bytes, zero-padded.
#[derive(Default)]
pub struct PredictableSecrets(AtomicU64);

impl SecretGenerator for PredictableSecrets {
    fn generate(&self, _kind: SecretKind) -> IssuedSecret {
        let plaintext = format!("secret-{}", self.0.fetch_add(1, Ordering::Relaxed) + 1);
        IssuedSecret {
            digest: self.digest(&plaintext),
            plaintext,
        }
    }
    fn digest(&self, plaintext: &str) -> TokenDigest {
        let mut bytes = [0u8; 32];
        for (slot, b) in bytes.iter_mut().zip(plaintext.bytes()) {
            *slot = b;
        }
        TokenDigest::from_bytes(bytes)
    }
}

/// "Hashes" by prefixing: fast, and enough to tell a right password from a wrong one.
pub struct PrefixHasher;

#[async_trait]
impl PasswordHasher for PrefixHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfrastructureError> {
        Ok(PasswordHash::from_phc(format!(
            "plain:{}",
            password.expose()
        )))
    }
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, InfrastructureError> {
        Ok(hash.is_some_and(|h| h.as_str() == format!("plain:{}", password.expose())))
    }
}

/// Refuses a key after [`FakeThrottle::LIMIT`] attempts until a success.
#[derive(Default)]
pub struct FakeThrottle(Mutex<HashMap<ThrottleKey, u32>>);

impl FakeThrottle {
    /// Attempts admitted before refusing.
    pub const LIMIT: u32 = 3;
    /// Member additions admitted before refusing.
    pub const MEMBER_ADDITIONS: u32 = 10;

    fn limit(key: &ThrottleKey) -> u32 {
        match key {
            ThrottleKey::MemberAdditions(_) => Self::MEMBER_ADDITIONS,
            _ => Self::LIMIT,
        }
    }
}

#[async_trait]
impl LoginThrottle for FakeThrottle {
    async fn attempt(&self, keys: &[ThrottleKey]) -> Result<(), Duration> {
        let mut counts = self.0.lock().unwrap();
        if keys
            .iter()
            .any(|key| counts.get(key).copied().unwrap_or(0) >= Self::limit(key))
        {
            return Err(Duration::from_secs(60));
        }
        for key in keys {
            *counts.entry(key.clone()).or_default() += 1;
        }
        Ok(())
    }
    async fn succeeded(&self, keys: &[ThrottleKey]) {
        let mut counts = self.0.lock().unwrap();
        for key in keys {
            match key {
                ThrottleKey::ClientAddress(_) => {
                    if let Some(count) = counts.get_mut(key) {
                        *count = count.saturating_sub(1);
                    }
                }
                ThrottleKey::MemberAdditions(_) => {}
                _ => {
                    counts.remove(key);
                }
            }
        }
    }
}

/// Use cases wired to fakes, with helpers for common steps.
pub struct TestEnv {
    /// The fake database.
    pub store: InMemoryStore,
    /// The fake clock.
    pub clock: ManualClock,
    /// The rules in force.
    pub rules: AccountRules,
    /// Account use cases.
    pub accounts: Accounts,
    /// Administration use cases.
    pub admin_uc: Administration,
    /// File use cases.
    pub files: Files,
    /// The fake blob store.
    pub blobs: InMemoryBlobs,
    /// The fake change notifier.
    pub notifier: InMemoryNotifier,
    /// The storage rules in force.
    pub storage: StorageRules,
    /// Plugin administration use cases.
    pub plugins: Plugins,
    /// The plugins in force.
    pub plugin_host: PluginHost,
    /// The fake plugin runtime.
    pub plugin_runtime: Arc<FakePluginRuntime>,
    /// Background work, run when a test says so.
    pub background: Arc<ManualSpawner>,
}

/// The password every helper-made account has.
pub const PASSWORD: &str = "long enough";

/// [`Scratch`](crate::ports::Scratch) in memory.
pub struct InMemoryScratch;

#[async_trait]
impl crate::ports::Scratch for InMemoryScratch {
    async fn hold(
        &self,
        content: crate::ports::ByteStream,
    ) -> Result<crate::ports::ByteStream, crate::ports::ContentError> {
        use futures_util::TryStreamExt;
        let chunks: Vec<Bytes> = content.try_collect().await?;
        Ok(Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(Ok),
        )))
    }
}

impl TestEnv {
    /// Fakes wired with the given sign-up policy.
    pub fn new(signup: SignupPolicy) -> Self {
        let store = InMemoryStore::default();
        let clock = ManualClock::default();
        let blobs = InMemoryBlobs::default();
        let notifier = InMemoryNotifier::default();
        let ports = Ports {
            uow: Arc::new(store.clone()),
            clock: Arc::new(clock.clone()),
            ids: Arc::new(SequentialIds::default()),
            secrets: Arc::new(PredictableSecrets::default()),
            passwords: Arc::new(PrefixHasher),
            login_throttle: Arc::new(FakeThrottle::default()),
            block_hasher: Arc::new(InMemoryHasher),
            blobs: Arc::new(blobs.clone()),
            scratch: Arc::new(InMemoryScratch),
            notifier: Arc::new(notifier.clone()),
        };
        let rules = AccountRules {
            signup,
            token_lifetime: chrono::Duration::days(30),
            invite_lifetime: chrono::Duration::days(7),
            default_quota: ByteCount::new(1 << 30).unwrap(),
        };
        let storage = StorageRules {
            default_quota: rules.default_quota,
            max_copy_entries: 50,
            trash_retention: chrono::Duration::days(30),
            revision_retention: chrono::Duration::days(30),
            journal_retention: chrono::Duration::days(60),
            block_grace: chrono::Duration::hours(24),
            upload_expiry: chrono::Duration::days(7),
        };
        let plugin_runtime = Arc::new(FakePluginRuntime::watching(store.clone()));
        let background = Arc::new(ManualSpawner::default());
        let plugin_host = PluginHost::new(
            ports.uow.clone(),
            plugin_runtime.clone(),
            ports.clock.clone(),
            background.clone(),
        );
        Self {
            accounts: Accounts::new(ports.clone(), rules.clone(), plugin_host.clone()),
            admin_uc: Administration::new(ports.clone(), rules.clone(), plugin_host.clone()),
            plugins: Plugins::new(ports.clone(), plugin_host.clone()),
            files: Files::new(ports, storage.clone(), plugin_host.clone()),
            plugin_host,
            plugin_runtime,
            background,
            store,
            clock,
            blobs,
            notifier,
            rules,
            storage,
        }
    }

    /// Creates an administrator through the operator path and returns them logged in.
    pub async fn admin(&self, email: &str) -> Principal {
        self.admin_uc
            .create_user(crate::admin::Actor::Operator, email, PASSWORD, true)
            .await
            .unwrap();
        self.principal(email).await
    }

    /// Creates an ordinary account through the operator path.
    pub async fn member(&self, email: &str) -> User {
        self.admin_uc
            .create_user(crate::admin::Actor::Operator, email, PASSWORD, false)
            .await
            .unwrap()
            .user
    }

    /// Creates an ordinary account with its own quota (set by an administrator made for it)
    /// and returns it logged in.
    pub async fn member_with_quota(&self, email: &str, quota_bytes: u64) -> Principal {
        let admin = self.admin(&format!("quota-admin-{email}")).await;
        let user = self.member(email).await;
        let changes = UserChanges {
            quota_bytes: Some(Some(quota_bytes)),
            ..Default::default()
        };
        self.admin_uc
            .update_user(&admin, user.id(), changes)
            .await
            .unwrap();
        self.principal(email).await
    }

    /// The fake clock's time.
    pub fn clock_now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Logs in with the helper password.
    pub async fn log_in(&self, email: &str) -> IssuedToken {
        self.try_log_in(email, PASSWORD).await.unwrap()
    }

    /// Logs in with any password.
    pub async fn try_log_in(&self, email: &str, password: &str) -> Result<IssuedToken, AppError> {
        let input = LogIn {
            email: email.into(),
            password: password.into(),
            token_name: None,
            client_address: None,
        };
        self.accounts.log_in(input).await
    }

    /// Logs in and authenticates.
    pub async fn principal(&self, email: &str) -> Principal {
        let token = self.log_in(email).await;
        self.accounts.authenticate(&token.secret).await.unwrap()
    }

    /// Uploads `data` to `path` with `mode` (no autorename).
    pub async fn upload_with(
        &self,
        caller: &Principal,
        path: &str,
        data: &[u8],
        mode: UploadMode,
    ) -> Result<UploadOutcome, AppError> {
        let input = Upload {
            path: path.into(),
            mode,
            autorename: false,
            client_modified: None,
            media_type: None,
            content_hash: None,
            length: Some(data.len() as u64),
        };
        let chunk = Bytes::copy_from_slice(data);
        let content: ByteStream = Box::pin(futures_util::stream::iter([Ok(chunk)]));
        self.files.upload(caller, input, content).await
    }

    /// Uploads `data` to `path` in `add` mode, expecting success.
    pub async fn upload(&self, caller: &Principal, path: &str, data: &[u8]) -> UploadOutcome {
        self.upload_with(caller, path, data, UploadMode::Add)
            .await
            .unwrap()
    }

    /// Downloads a file whole.
    pub async fn download(&self, caller: &Principal, path: &str) -> Result<Vec<u8>, AppError> {
        use futures_util::TryStreamExt;
        let download = self
            .files
            .download(caller, path, None, Default::default())
            .await?
            .into_download()
            .expect("no conditions: content");
        let chunks: Vec<Bytes> = download.content.try_collect().await?;
        Ok(chunks.concat())
    }

    /// Disables a user as `admin`.
    pub async fn disable(&self, admin: &Principal, user: UserId) {
        let changes = UserChanges {
            disabled: Some(true),
            ..Default::default()
        };
        self.admin_uc
            .update_user(admin, user, changes)
            .await
            .unwrap();
    }

    /// Enables a user as `admin`.
    pub async fn enable(&self, admin: &Principal, user: UserId) {
        let changes = UserChanges {
            disabled: Some(false),
            ..Default::default()
        };
        self.admin_uc
            .update_user(admin, user, changes)
            .await
            .unwrap();
    }
}

/// Background tasks kept until a test runs them ([`ManualSpawner::run_all`]).
#[derive(Default)]
pub struct ManualSpawner(Mutex<Vec<BackgroundTask>>);

impl ManualSpawner {
    /// Runs every task spawned so far (and any they spawn), in order.
    pub async fn run_all(&self) {
        loop {
            let tasks: Vec<BackgroundTask> = std::mem::take(&mut *self.0.lock().unwrap());
            if tasks.is_empty() {
                return;
            }
            for task in tasks {
                task.await;
            }
        }
    }
}

impl TaskSpawner for ManualSpawner {
    fn spawn(&self, task: BackgroundTask) {
        self.0.lock().unwrap().push(task);
    }
}

/// A plugin runtime whose "components" are text describing the plugin:
/// `fake-plugin hooks=upload-scanner,events answer=infected:Name` where the answer is `allow`,
/// `deny:reason`, `clean`, `infected:name`, `quota:123`, or
/// `fail:trap|timeout|memory|output|busy|host`, or `fail-quota` (only `quota` fails).
/// It records every call.
#[derive(Default)]
pub struct FakePluginRuntime {
    loaded: Mutex<HashMap<String, String>>,
    calls: Mutex<Vec<(String, &'static str)>>,
    events: Mutex<Vec<PluginEvent>>,
    /// The store whose open write transactions calls are checked against, if any.
    store: Option<InMemoryStore>,
    calls_in_writes: Mutex<Vec<(String, &'static str)>>,
}

impl FakePluginRuntime {
    /// A fake component with these hooks and answer.
    pub fn component(hooks: &str, answer: &str) -> Vec<u8> {
        format!("fake-plugin hooks={hooks} answer={answer}").into_bytes()
    }

    /// A runtime that notes the calls made while `store` has a write transaction open.
    pub fn watching(store: InMemoryStore) -> Self {
        Self {
            store: Some(store),
            ..Self::default()
        }
    }

    /// The calls made so far: (plugin tag, function).
    pub fn calls(&self) -> Vec<(String, &'static str)> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls made while a write transaction was open (a plugin holding locks).
    pub fn calls_in_writes(&self) -> Vec<(String, &'static str)> {
        self.calls_in_writes.lock().unwrap().clone()
    }

    /// The digests of the components loaded now.
    pub fn loaded(&self) -> Vec<String> {
        self.loaded.lock().unwrap().keys().cloned().collect()
    }

    /// The events delivered so far.
    pub fn events(&self) -> Vec<PluginEvent> {
        self.events.lock().unwrap().clone()
    }

    fn parse(wasm: &[u8]) -> Result<(Vec<coffer_domain::plugins::Hook>, String), ComponentError> {
        let text = std::str::from_utf8(wasm)
            .ok()
            .and_then(|t| t.strip_prefix("fake-plugin "))
            .ok_or_else(|| ComponentError::Invalid("not a fake plugin".into()))?;
        let (text, answer) = text.split_once(" answer=").unwrap_or((text, ""));
        let answer = answer.to_owned();
        let mut hooks = Vec::new();
        for part in text.split(' ') {
            if let Some(list) = part.strip_prefix("hooks=") {
                for hook in list.split(',').filter(|h| !h.is_empty()) {
                    hooks.push(
                        coffer_domain::plugins::Hook::parse(hook)
                            .map_err(|e| ComponentError::Invalid(e.to_string()))?,
                    );
                }
            }
        }
        if hooks.is_empty() {
            return Err(ComponentError::Unsupported("exports no hook".into()));
        }
        hooks.sort();
        Ok((hooks, answer))
    }

    fn answer(&self, call: &PluginCall, function: &'static str) -> Result<String, CallFailure> {
        self.calls
            .lock()
            .unwrap()
            .push((call.tag.clone(), function));
        if self.store.as_ref().is_some_and(|s| s.open_writes() > 0) {
            self.calls_in_writes
                .lock()
                .unwrap()
                .push((call.tag.clone(), function));
        }
        let answer = self
            .loaded
            .lock()
            .unwrap()
            .get(&call.digest)
            .cloned()
            .ok_or_else(|| CallFailure::Unavailable("not loaded".into()))?;
        match answer.strip_prefix("fail:") {
            Some("timeout") => Err(CallFailure::Timeout),
            Some("memory") => Err(CallFailure::MemoryExceeded),
            Some("output") => Err(CallFailure::OutputTooLarge),
            Some("busy") => Err(CallFailure::Busy),
            Some("host") => Err(CallFailure::HostFailed("the block store is down".into())),
            Some(other) => Err(CallFailure::Trap(other.to_owned())),
            None => Ok(answer),
        }
    }

    fn outcome<T>(result: Result<T, CallFailure>) -> CallOutcome<T> {
        CallOutcome {
            result,
            logs: vec![PluginLog {
                level: "info".into(),
                message: "called".into(),
                fields: Vec::new(),
            }],
            duration: Duration::from_micros(25),
        }
    }

    fn decision(answer: &str) -> PolicyDecision {
        match answer.strip_prefix("deny:") {
            Some(reason) => PolicyDecision::Deny(reason.to_owned()),
            None => PolicyDecision::Allow,
        }
    }
}

#[async_trait]
impl PluginRuntime for FakePluginRuntime {
    async fn inspect(&self, wasm: &[u8]) -> Result<ComponentInfo, ComponentError> {
        let (hooks, _) = Self::parse(wasm)?;
        Ok(ComponentInfo {
            interface_version: "0.1.0".into(),
            hooks,
        })
    }
    async fn load(&self, digest: &str, wasm: &[u8]) -> Result<(), ComponentError> {
        let (_, answer) = Self::parse(wasm)?;
        self.loaded
            .lock()
            .unwrap()
            .insert(digest.to_owned(), answer);
        Ok(())
    }
    fn is_loaded(&self, digest: &str) -> bool {
        self.loaded.lock().unwrap().contains_key(digest)
    }
    fn retain(&self, digests: &[String]) {
        self.loaded
            .lock()
            .unwrap()
            .retain(|digest, _| digests.contains(digest));
    }
    async fn scan(
        &self,
        call: &PluginCall,
        _upload: &UploadFacts,
        content: Arc<dyn UploadContentReader>,
    ) -> CallOutcome<ScanVerdict> {
        let result =
            self.answer(call, "scan")
                .map(|answer| match answer.strip_prefix("infected:") {
                    Some(name) => ScanVerdict::Infected(name.to_owned()),
                    None => ScanVerdict::Clean,
                });
        // A scanner reads what it scans: the whole content must be readable.
        let readable = content.read(0, content.size() as u32).await;
        Self::outcome(result.and_then(|verdict| {
            readable
                .map(|_| verdict)
                .map_err(|e| CallFailure::Trap(e.to_string()))
        }))
    }
    async fn check_sharing(
        &self,
        call: &PluginCall,
        _question: &SharingQuestion,
    ) -> CallOutcome<PolicyDecision> {
        Self::outcome(
            self.answer(call, "check_sharing")
                .map(|a| Self::decision(&a)),
        )
    }
    async fn quota(
        &self,
        call: &PluginCall,
        _user: &ActorFacts,
        _server_quota: u64,
    ) -> CallOutcome<Option<u64>> {
        Self::outcome(self.answer(call, "quota").and_then(|answer| {
            if answer == "fail-quota" {
                return Err(CallFailure::Timeout);
            }
            Ok(answer.strip_prefix("quota:").and_then(|q| q.parse().ok()))
        }))
    }
    async fn check_upload(
        &self,
        call: &PluginCall,
        _question: &QuotaQuestion,
    ) -> CallOutcome<PolicyDecision> {
        Self::outcome(
            self.answer(call, "check_upload")
                .map(|a| Self::decision(&a)),
        )
    }
    async fn on_event(&self, call: &PluginCall, event: &PluginEvent) -> CallOutcome<()> {
        let result = self.answer(call, "on_event");
        if result.is_ok() {
            self.events.lock().unwrap().push(event.clone());
        }
        Self::outcome(result.map(|_| ()))
    }
}
