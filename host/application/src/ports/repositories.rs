use async_trait::async_trait;
use coffer_domain::Timestamp;
use coffer_domain::account::{AccessToken, Email, Invite, TokenDigest, TokenId, User, UserId};
use coffer_domain::files::{
    BlockHash, Change, Namespace, NamespaceId, Node, NodeId, NodePath, Revision, RevisionId,
    SessionBlock, UploadId, UploadSession,
};
use coffer_domain::plugins::{AuditEntry, Plugin, PluginId, PluginName};
use coffer_domain::sharing::{Invitation, LinkId, Membership, Role, SharedLink};
use thiserror::Error;

use crate::InfrastructureError;

/// A repository operation failed.
#[derive(Debug, Error)]
pub enum RepositoryError {
    /// A uniqueness rule of the store was violated (e.g. a second account with one email).
    /// After this error the transaction is unusable and must be dropped.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The store failed.
    #[error(transparent)]
    Backend(#[from] InfrastructureError),
}

/// Starts transactions. Use cases commit explicitly; dropping a transaction rolls it back.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// A transaction that may write. Writers are serialised where the store needs it.
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepositoryError>;
    /// A transaction that only reads (a consistent snapshot where the store offers one).
    async fn begin_read(&self) -> Result<Box<dyn Transaction>, RepositoryError>;
    /// Checks that the store answers, for readiness probes.
    async fn ping(&self) -> Result<(), RepositoryError>;
}

/// One transaction, giving access to every repository inside it.
#[async_trait]
pub trait Transaction: Send {
    /// Users.
    fn users(&mut self) -> &mut dyn UserRepository;
    /// Access tokens.
    fn tokens(&mut self) -> &mut dyn TokenRepository;
    /// Invitations.
    fn invites(&mut self) -> &mut dyn InviteRepository;
    /// Namespaces (trees of files) and their usage.
    fn namespaces(&mut self) -> &mut dyn NamespaceRepository;
    /// Files and folders.
    fn nodes(&mut self) -> &mut dyn NodeRepository;
    /// File revisions and their block lists.
    fn revisions(&mut self) -> &mut dyn RevisionRepository;
    /// The index of stored blocks.
    fn blocks(&mut self) -> &mut dyn BlockRepository;
    /// Shared links.
    fn links(&mut self) -> &mut dyn LinkRepository;
    /// The change journal.
    fn changes(&mut self) -> &mut dyn ChangeRepository;
    /// Members of shared folders.
    fn members(&mut self) -> &mut dyn MemberRepository;
    /// Installed plugins, their components and their audit log.
    fn plugins(&mut self) -> &mut dyn PluginRepository;
    /// Upload sessions (resumable and delta uploads).
    fn uploads(&mut self) -> &mut dyn UploadRepository;
    /// Makes every change of this transaction durable, or none of them.
    async fn commit(self: Box<Self>) -> Result<(), RepositoryError>;
}

/// Users, by id and by email.
#[async_trait]
pub trait UserRepository: Send {
    /// Adds a user; `Conflict("email")` if the email is taken.
    async fn insert(&mut self, user: &User) -> Result<(), RepositoryError>;
    /// Saves every field of an existing user.
    async fn update(&mut self, user: &User) -> Result<(), RepositoryError>;
    /// The user with this id.
    async fn get(&mut self, id: UserId) -> Result<Option<User>, RepositoryError>;
    /// The user with this (normalised) email.
    async fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, RepositoryError>;
    /// Keeps other transactions from adding users until this one ends, so that a decision taken
    /// on the current set of users (e.g. "this is the first account") stays true at commit.
    async fn lock_against_inserts(&mut self) -> Result<(), RepositoryError>;
    /// How many accounts exist.
    async fn count(&mut self) -> Result<u64, RepositoryError>;
    /// Up to `limit` users ordered by email, starting after `after`.
    async fn list(
        &mut self,
        after: Option<&Email>,
        limit: u32,
    ) -> Result<Vec<User>, RepositoryError>;
}

/// Access tokens (only their digests are stored).
#[async_trait]
pub trait TokenRepository: Send {
    /// Stores a new token.
    async fn insert(&mut self, token: &AccessToken) -> Result<(), RepositoryError>;
    /// The token whose secret has this digest.
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessToken>, RepositoryError>;
    /// A user's tokens, newest first, expired ones included.
    async fn list_for_user(&mut self, user: UserId) -> Result<Vec<AccessToken>, RepositoryError>;
    /// Deletes one of `user`'s tokens; false if there was none with that id.
    async fn delete(&mut self, user: UserId, id: TokenId) -> Result<bool, RepositoryError>;
    /// Deletes all of a user's tokens (e.g. after a password reset).
    async fn delete_all_for_user(&mut self, user: UserId) -> Result<u64, RepositoryError>;
    /// Deletes a user's tokens that expired before `now`.
    async fn delete_expired_for_user(
        &mut self,
        user: UserId,
        now: Timestamp,
    ) -> Result<u64, RepositoryError>;
}

/// Sign-up invitations.
#[async_trait]
pub trait InviteRepository: Send {
    /// Stores a new invitation.
    async fn insert(&mut self, invite: &Invite) -> Result<(), RepositoryError>;
    /// The invitation whose code has this digest.
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<Invite>, RepositoryError>;
    /// Saves an invitation's acceptance.
    async fn update(&mut self, invite: &Invite) -> Result<(), RepositoryError>;
}

/// Namespaces: each is a tree of files and folders with an owner and a usage counter.
#[async_trait]
pub trait NamespaceRepository: Send {
    /// Creates a namespace and its (empty) root folder.
    async fn insert(
        &mut self,
        namespace: &Namespace,
        now: Timestamp,
    ) -> Result<(), RepositoryError>;
    /// A user's home namespace.
    async fn home_of(&mut self, user: UserId) -> Result<Option<Namespace>, RepositoryError>;
    /// A namespace by id.
    async fn get(&mut self, id: NamespaceId) -> Result<Option<Namespace>, RepositoryError>;
    /// Deletes a namespace with everything still in it (its root, its journal, its members and
    /// their mount points).
    async fn delete(&mut self, id: NamespaceId) -> Result<(), RepositoryError>;
    /// Reads a namespace and keeps other writers of it out until this transaction ends, so that
    /// decisions on its content and usage (conflicts, quota) hold at commit.
    async fn lock(&mut self, id: NamespaceId) -> Result<Namespace, RepositoryError>;
    /// Adds `delta` (possibly negative) to the namespace's usage.
    async fn add_usage(&mut self, id: NamespaceId, delta: i64) -> Result<(), RepositoryError>;
    /// Bytes used by all namespaces the user owns.
    async fn usage_of_owner(&mut self, user: UserId) -> Result<u64, RepositoryError>;
}

/// Files and folders. "Live" means not trashed; a node whose ancestor is trashed is hidden with
/// it but keeps `trashed_at` empty (trashing a folder is one change, not one per descendant).
#[async_trait]
pub trait NodeRepository: Send {
    /// Adds a node; `Conflict("name")` if a live sibling has the same name key.
    async fn insert(&mut self, node: &Node) -> Result<(), RepositoryError>;
    /// Saves a node's parent, name, current file version, times, trash state and mount;
    /// `Conflict("name")` if that collides with a live sibling.
    async fn update(&mut self, node: &Node) -> Result<(), RepositoryError>;
    /// A node (never a namespace root).
    async fn get(&mut self, id: NodeId) -> Result<Option<Node>, RepositoryError>;
    /// The live child of `parent` whose name has this key.
    async fn child(
        &mut self,
        parent: NodeId,
        name_key: &str,
    ) -> Result<Option<Node>, RepositoryError>;
    /// Up to `limit` live children of `parent` ordered by name key, after `after` (a name key).
    async fn children(
        &mut self,
        parent: NodeId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError>;
    /// The folders above `id`, nearest first, up to but excluding the namespace root.
    async fn ancestors(&mut self, id: NodeId) -> Result<Vec<Node>, RepositoryError>;
    /// Total size of the files in the subtree at `id` (itself included) that are not trashed
    /// on their own: what trashing or restoring `id` removes from or adds to the usage.
    async fn subtree_bytes(&mut self, id: NodeId) -> Result<u64, RepositoryError>;
    /// The nodes of the subtree at `id` (itself first, then parents before children), at most
    /// `limit`; descendants that are trashed on their own are left out.
    async fn subtree(&mut self, id: NodeId, limit: u32) -> Result<Vec<Node>, RepositoryError>;
    /// Trashed nodes of a namespace (the ones trashed themselves), most recent first, after
    /// `after` (the last one of the previous page).
    async fn trashed(
        &mut self,
        namespace: NamespaceId,
        after: Option<(Timestamp, NodeId)>,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError>;
    /// Trashed nodes (of any namespace) trashed before `cutoff`, at most `limit`.
    async fn trashed_before(
        &mut self,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError>;
    /// Up to `limit` live nodes of `namespace` whose name key contains `fragment` (itself a name
    /// key), ordered by name key then id, after `after`. Nodes below a trashed folder are
    /// included: callers check ancestors.
    async fn search(
        &mut self,
        namespace: NamespaceId,
        fragment: &str,
        after: Option<(&str, NodeId)>,
        limit: u32,
    ) -> Result<Vec<Node>, RepositoryError>;
    /// Gives every child of `from` (trashed ones too) the parent `to`, keeping names. `to` must
    /// have no live children whose names clash (a fresh namespace root, or an emptied folder).
    async fn move_children(&mut self, from: NodeId, to: NodeId) -> Result<(), RepositoryError>;
    /// Moves the subtree at `id` (itself and every descendant, trashed ones too) and the links
    /// to its nodes into `namespace`; returns how many nodes moved.
    async fn rehome_subtree(
        &mut self,
        id: NodeId,
        namespace: NamespaceId,
    ) -> Result<u64, RepositoryError>;
    /// Deletes the subtree at `id` for good, with its revisions; returns how many nodes.
    async fn delete_subtree(&mut self, id: NodeId) -> Result<u64, RepositoryError>;
}

/// File revisions.
#[async_trait]
pub trait RevisionRepository: Send {
    /// Stores a revision and its block list. Every block must be in the block index.
    async fn insert(&mut self, revision: &Revision) -> Result<(), RepositoryError>;
    /// A revision with its blocks.
    async fn get(&mut self, id: RevisionId) -> Result<Option<Revision>, RepositoryError>;
    /// A file's revisions, newest first, at most `limit`.
    async fn list_for_node(
        &mut self,
        node: NodeId,
        limit: u32,
    ) -> Result<Vec<Revision>, RepositoryError>;
    /// Deletes revisions created before `cutoff` that are no file's current revision; at most
    /// `limit`. Returns how many.
    async fn prune_before(&mut self, cutoff: Timestamp, limit: u32)
    -> Result<u64, RepositoryError>;
}

/// The index of stored blocks, which garbage collection works from.
///
/// A block's `touched_at` protects it: collection only takes blocks unreferenced by any revision
/// *and* untouched for the grace period. Uploads touch each block before storing its bytes and
/// again in the transaction that references it.
#[async_trait]
pub trait BlockRepository: Send {
    /// Records that a block is (about to be) stored, or refreshes its `touched_at`.
    async fn touch(
        &mut self,
        hash: &BlockHash,
        size: u32,
        now: Timestamp,
    ) -> Result<(), RepositoryError>;
    /// Refreshes `touched_at` of blocks that must already be indexed; false if any is not.
    async fn touch_existing(
        &mut self,
        hashes: &[BlockHash],
        now: Timestamp,
    ) -> Result<bool, RepositoryError>;
    /// Which of `hashes` are in some revision of a file in `namespace`, with their sizes.
    async fn in_namespace(
        &mut self,
        namespace: NamespaceId,
        hashes: &[BlockHash],
    ) -> Result<Vec<(BlockHash, u32)>, RepositoryError>;
    /// Removes from the index up to `limit` blocks that no revision and no upload session
    /// references and that were last touched before `cutoff`; returns them, so their bytes can
    /// be deleted.
    async fn collect(
        &mut self,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<Vec<BlockHash>, RepositoryError>;
}

/// Upload sessions and their blocks, in file order.
#[async_trait]
pub trait UploadRepository: Send {
    /// Stores a new session with its blocks (a delta upload declares them all at the start).
    async fn insert(
        &mut self,
        session: &UploadSession,
        blocks: &[SessionBlock],
    ) -> Result<(), RepositoryError>;
    /// A session, expired or not.
    async fn get(&mut self, id: UploadId) -> Result<Option<UploadSession>, RepositoryError>;
    /// A session's blocks, in file order.
    async fn blocks(&mut self, id: UploadId) -> Result<Vec<SessionBlock>, RepositoryError>;
    /// Records a stream append: if the session is still at `from_received` bytes, replaces its
    /// blocks from `position` on with `blocks`, sets `received` and `expires_at`, and returns
    /// true; returns false (changing nothing) if another append moved it first.
    async fn append(
        &mut self,
        id: UploadId,
        from_received: u64,
        position: u64,
        blocks: &[SessionBlock],
        received: u64,
        expires_at: Timestamp,
    ) -> Result<bool, RepositoryError>;
    /// Marks every block of the session with this hash present; returns how many were marked.
    async fn mark_present(
        &mut self,
        id: UploadId,
        hash: &BlockHash,
        expires_at: Timestamp,
    ) -> Result<u64, RepositoryError>;
    /// Records what the session became and drops its blocks (the revision references them
    /// now).
    async fn mark_committed(
        &mut self,
        id: UploadId,
        node: NodeId,
        revision: RevisionId,
    ) -> Result<(), RepositoryError>;
    /// Deletes a session and its blocks; false if there was none.
    async fn delete(&mut self, id: UploadId) -> Result<bool, RepositoryError>;
    /// The total length of a user's sessions that are neither committed nor expired at `now`.
    async fn open_length_of(
        &mut self,
        owner: UserId,
        now: Timestamp,
    ) -> Result<u64, RepositoryError>;
    /// Deletes up to `limit` sessions that expired before `now`; returns how many.
    async fn delete_expired(&mut self, now: Timestamp, limit: u32) -> Result<u64, RepositoryError>;
}

/// Shared links.
#[async_trait]
pub trait LinkRepository: Send {
    /// Stores a new link.
    async fn insert(&mut self, link: &SharedLink) -> Result<(), RepositoryError>;
    /// The link whose token has this digest.
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<SharedLink>, RepositoryError>;
    /// A link by id.
    async fn get(&mut self, id: LinkId) -> Result<Option<SharedLink>, RepositoryError>;
    /// A user's links, newest first.
    async fn list_for_owner(&mut self, owner: UserId) -> Result<Vec<SharedLink>, RepositoryError>;
    /// Every link that may reach into `namespace`, whoever made it, newest first: links to its
    /// content, to a mount point of it, and to a folder holding such a mount point.
    async fn list_into_namespace(
        &mut self,
        namespace: NamespaceId,
    ) -> Result<Vec<SharedLink>, RepositoryError>;
    /// Saves a link's revocation.
    async fn update(&mut self, link: &SharedLink) -> Result<(), RepositoryError>;
    /// Revokes, as of `at`, every link of `owner` not revoked yet; returns how many.
    async fn revoke_all_of_owner(
        &mut self,
        owner: UserId,
        at: Timestamp,
    ) -> Result<u64, RepositoryError>;
}

/// The per-namespace change journal.
#[async_trait]
pub trait ChangeRepository: Send {
    /// Appends a change of `node` (visible at `path_before` until now, if given) and returns its
    /// sequence number. Call under the namespace's lock, in the transaction of the change.
    async fn append(
        &mut self,
        namespace: NamespaceId,
        node: NodeId,
        path_before: Option<&NodePath>,
        at: Timestamp,
    ) -> Result<u64, RepositoryError>;
    /// Up to `limit` changes of `namespace` after `after`, in order.
    async fn since(
        &mut self,
        namespace: NamespaceId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Change>, RepositoryError>;
    /// The namespace's latest sequence number, and the floor below which changes were pruned.
    async fn position(&mut self, namespace: NamespaceId) -> Result<(u64, u64), RepositoryError>;
    /// Deletes changes made before `cutoff` (raising each namespace's floor); returns how many.
    async fn prune_before(&mut self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}

/// Members of shared folders: who may reach which shared namespace, in what role, and where
/// each member mounted it.
#[async_trait]
pub trait MemberRepository: Send {
    /// Adds a member; `Conflict("member")` if they already are one.
    async fn insert(&mut self, membership: &Membership) -> Result<(), RepositoryError>;
    /// Changes a member's role.
    async fn set_role(
        &mut self,
        namespace: NamespaceId,
        user: UserId,
        role: Role,
    ) -> Result<(), RepositoryError>;
    /// Removes a member (not their mount point); false if they were none.
    async fn delete(
        &mut self,
        namespace: NamespaceId,
        user: UserId,
    ) -> Result<bool, RepositoryError>;
    /// A user's membership of a namespace.
    async fn get(
        &mut self,
        namespace: NamespaceId,
        user: UserId,
    ) -> Result<Option<Membership>, RepositoryError>;
    /// Every shared folder a user is a member of, oldest membership first.
    async fn of_user(&mut self, user: UserId) -> Result<Vec<Membership>, RepositoryError>;
    /// Every member of a shared folder, owner first, then by joining time.
    async fn of_namespace(
        &mut self,
        namespace: NamespaceId,
    ) -> Result<Vec<Membership>, RepositoryError>;
    /// Stores an invitation; `Conflict("invitation")` if the email is invited already.
    async fn invite(&mut self, invitation: &Invitation) -> Result<(), RepositoryError>;
    /// A shared folder's invitations, oldest first.
    async fn invitations_of(
        &mut self,
        namespace: NamespaceId,
    ) -> Result<Vec<Invitation>, RepositoryError>;
    /// Changes an invitation's role; false if there is no such invitation.
    async fn set_invitation_role(
        &mut self,
        namespace: NamespaceId,
        id: UserId,
        role: Role,
    ) -> Result<bool, RepositoryError>;
    /// Deletes an invitation; false if there was none.
    async fn delete_invitation(
        &mut self,
        namespace: NamespaceId,
        id: UserId,
    ) -> Result<bool, RepositoryError>;
    /// Deletes and returns every invitation for `email`, oldest first.
    async fn take_invitations_for(
        &mut self,
        email: &Email,
    ) -> Result<Vec<Invitation>, RepositoryError>;
}

/// Installed plugins, the components they run (stored once per digest), the generation counter
/// instances watch, and the audit log.
#[async_trait]
pub trait PluginRepository: Send {
    /// Adds a plugin; `Conflict("plugin")` if the name is taken.
    async fn insert(&mut self, plugin: &Plugin) -> Result<(), RepositoryError>;
    /// Saves every field of a plugin.
    async fn update(&mut self, plugin: &Plugin) -> Result<(), RepositoryError>;
    /// A plugin by id.
    async fn get(&mut self, id: PluginId) -> Result<Option<Plugin>, RepositoryError>;
    /// A plugin by name.
    async fn find_by_name(&mut self, name: &PluginName) -> Result<Option<Plugin>, RepositoryError>;
    /// Every plugin, in running order (position, then name).
    async fn list(&mut self) -> Result<Vec<Plugin>, RepositoryError>;
    /// Removes a plugin; false if there was none.
    async fn delete(&mut self, id: PluginId) -> Result<bool, RepositoryError>;
    /// Stores a component under its digest (nothing happens if it is there).
    async fn store_component(
        &mut self,
        digest: &str,
        wasm: &[u8],
        now: Timestamp,
    ) -> Result<(), RepositoryError>;
    /// A stored component.
    async fn component(&mut self, digest: &str) -> Result<Option<Vec<u8>>, RepositoryError>;
    /// Deletes components no plugin uses; returns how many.
    async fn delete_unused_components(&mut self) -> Result<u64, RepositoryError>;
    /// The current generation of the plugin set.
    async fn generation(&mut self) -> Result<u64, RepositoryError>;
    /// Marks the plugin set as changed; returns the new generation.
    async fn bump_generation(&mut self) -> Result<u64, RepositoryError>;
    /// Appends to the audit log.
    async fn audit(&mut self, entry: &AuditEntry) -> Result<(), RepositoryError>;
    /// Up to `limit` audit entries, newest first, of one plugin or all, older than `before`.
    async fn audit_log(
        &mut self,
        plugin: Option<&str>,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, RepositoryError>;
}
