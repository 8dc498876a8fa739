//! Database rows and their explicit mapping to domain entities.

use coffer_application::InfrastructureError;
use coffer_application::ports::RepositoryError;
use coffer_domain::Timestamp;
use coffer_domain::account::{
    AccessToken, ByteCount, Email, Invite, InviteId, PasswordHash, TokenDigest, TokenId, TokenName,
    User, UserId, UserStatus,
};
use uuid::Uuid;

/// A timestamp as stored: microseconds since the Unix epoch.
pub fn micros(ts: Timestamp) -> i64 {
    ts.timestamp_micros()
}

fn timestamp(micros: i64) -> Result<Timestamp, RepositoryError> {
    Timestamp::from_timestamp_micros(micros).ok_or_else(|| corrupt("timestamp out of range"))
}

fn corrupt(what: &str) -> RepositoryError {
    RepositoryError::Backend(InfrastructureError::msg(format!("corrupt row: {what}")))
}

fn digest(bytes: Vec<u8>) -> Result<TokenDigest, RepositoryError> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| corrupt("digest length"))?;
    Ok(TokenDigest::from_bytes(bytes))
}

fn email(raw: &str) -> Result<Email, RepositoryError> {
    Email::parse(raw).map_err(|_| corrupt("email"))
}

/// A row of `users`.
#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: Uuid,
    email: String,
    password_hash: String,
    is_admin: bool,
    disabled: bool,
    quota_bytes: Option<i64>,
    created_at: i64,
}

impl UserRow {
    pub fn into_user(self) -> Result<User, RepositoryError> {
        let quota = self
            .quota_bytes
            .map(|q| u64::try_from(q).ok().and_then(|q| ByteCount::new(q).ok()))
            .map(|q| q.ok_or_else(|| corrupt("quota")))
            .transpose()?;
        Ok(User::restore(
            UserId::from_uuid(self.id),
            email(&self.email)?,
            PasswordHash::from_phc(self.password_hash),
            self.is_admin,
            if self.disabled {
                UserStatus::Disabled
            } else {
                UserStatus::Active
            },
            quota,
            timestamp(self.created_at)?,
        ))
    }
}

/// A quota as stored (ByteCount guarantees it fits).
pub fn quota_column(user: &User) -> Option<i64> {
    user.quota_override().map(|q| q.get() as i64)
}

/// A row of `access_tokens`.
#[derive(sqlx::FromRow)]
pub struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    digest: Vec<u8>,
    name: String,
    created_at: i64,
    expires_at: i64,
}

impl TokenRow {
    pub fn into_token(self) -> Result<AccessToken, RepositoryError> {
        Ok(AccessToken {
            id: TokenId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            digest: digest(self.digest)?,
            name: TokenName::parse(&self.name).map_err(|_| corrupt("token name"))?,
            created_at: timestamp(self.created_at)?,
            expires_at: timestamp(self.expires_at)?,
        })
    }
}

/// A row of `invites`.
#[derive(sqlx::FromRow)]
pub struct InviteRow {
    id: Uuid,
    code_digest: Vec<u8>,
    email: Option<String>,
    created_by: Uuid,
    created_at: i64,
    expires_at: i64,
    accepted_by: Option<Uuid>,
}

impl InviteRow {
    pub fn into_invite(self) -> Result<Invite, RepositoryError> {
        Ok(Invite {
            id: InviteId::from_uuid(self.id),
            code_digest: digest(self.code_digest)?,
            email: self.email.as_deref().map(email).transpose()?,
            created_by: UserId::from_uuid(self.created_by),
            created_at: timestamp(self.created_at)?,
            expires_at: timestamp(self.expires_at)?,
            accepted_by: self.accepted_by.map(UserId::from_uuid),
        })
    }
}

// --- files -------------------------------------------------------------------------------------

use coffer_domain::files::{
    BlockHash, ContentHash, FileVersion, Namespace, NamespaceId, NamespaceKind, Node, NodeId,
    NodeKind, NodeName, Revision, RevisionId,
};

fn hash32(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], RepositoryError> {
    bytes.try_into().map_err(|_| corrupt(what))
}

fn byte_count(value: i64) -> Result<ByteCount, RepositoryError> {
    u64::try_from(value)
        .ok()
        .and_then(|v| ByteCount::new(v).ok())
        .ok_or_else(|| corrupt("byte count"))
}

/// A row of `namespaces`.
#[derive(sqlx::FromRow)]
pub struct NamespaceRow {
    id: Uuid,
    kind: String,
    owner_id: Uuid,
    root_id: Uuid,
    used_bytes: i64,
}

impl NamespaceRow {
    pub fn into_namespace(self) -> Result<Namespace, RepositoryError> {
        Ok(Namespace {
            id: NamespaceId::from_uuid(self.id),
            kind: match self.kind.as_str() {
                "home" => NamespaceKind::Home,
                "shared" => NamespaceKind::Shared,
                _ => return Err(corrupt("namespace kind")),
            },
            owner: UserId::from_uuid(self.owner_id),
            root: NodeId::from_uuid(self.root_id),
            used: byte_count(self.used_bytes)?,
        })
    }
}

/// A row of `nodes` (never a namespace root: those have no parent).
#[derive(sqlx::FromRow)]
pub struct NodeRow {
    id: Uuid,
    namespace_id: Uuid,
    parent_id: Option<Uuid>,
    name: String,
    is_folder: bool,
    revision_id: Option<Uuid>,
    size: Option<i64>,
    content_hash: Option<Vec<u8>>,
    client_modified: Option<i64>,
    created_at: i64,
    modified_at: i64,
    trashed_at: Option<i64>,
    mount_namespace_id: Option<Uuid>,
}

impl NodeRow {
    pub fn into_node(self) -> Result<Node, RepositoryError> {
        let file = match (
            self.is_folder,
            self.revision_id,
            self.size,
            self.content_hash,
            self.client_modified,
        ) {
            (true, ..) => None,
            (false, Some(revision), Some(size), Some(hash), Some(client_modified)) => {
                Some(FileVersion {
                    revision: RevisionId::from_uuid(revision),
                    size: byte_count(size)?,
                    content_hash: ContentHash::from_bytes(hash32(hash, "content hash")?),
                    client_modified: timestamp(client_modified)?,
                })
            }
            _ => return Err(corrupt("file without a current revision")),
        };
        Ok(Node {
            id: NodeId::from_uuid(self.id),
            namespace: NamespaceId::from_uuid(self.namespace_id),
            parent: NodeId::from_uuid(self.parent_id.ok_or_else(|| corrupt("root as entry"))?),
            name: NodeName::parse(&self.name).map_err(|_| corrupt("node name"))?,
            kind: if self.is_folder {
                NodeKind::Folder
            } else {
                NodeKind::File
            },
            file,
            created_at: timestamp(self.created_at)?,
            modified_at: timestamp(self.modified_at)?,
            trashed_at: self.trashed_at.map(timestamp).transpose()?,
            mount: self.mount_namespace_id.map(NamespaceId::from_uuid),
        })
    }
}

/// A row of `revisions`, without its blocks.
#[derive(sqlx::FromRow)]
pub struct RevisionRow {
    id: Uuid,
    node_id: Uuid,
    size: i64,
    content_hash: Vec<u8>,
    media_type: Option<String>,
    client_modified: i64,
    created_at: i64,
}

impl RevisionRow {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn into_revision(self, blocks: Vec<Vec<u8>>) -> Result<Revision, RepositoryError> {
        let blocks = blocks
            .into_iter()
            .map(|b| hash32(b, "block hash").map(BlockHash::from_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        let revision = Revision::new(
            RevisionId::from_uuid(self.id),
            NodeId::from_uuid(self.node_id),
            byte_count(self.size)?,
            blocks,
            self.media_type,
            timestamp(self.client_modified)?,
            timestamp(self.created_at)?,
        )
        .map_err(|_| corrupt("revision blocks"))?;
        if revision.content_hash().as_bytes()[..] != self.content_hash[..] {
            return Err(corrupt("revision content hash"));
        }
        Ok(revision)
    }
}

/// Column values of a node's current file version (all NULL for folders).
pub struct FileColumns {
    pub revision: Option<Uuid>,
    pub size: Option<i64>,
    pub content_hash: Option<Vec<u8>>,
    pub client_modified: Option<i64>,
}

pub fn file_columns(node: &Node) -> FileColumns {
    match &node.file {
        Some(file) => FileColumns {
            revision: Some(file.revision.as_uuid()),
            size: Some(file.size.get() as i64),
            content_hash: Some(file.content_hash.as_bytes().to_vec()),
            client_modified: Some(micros(file.client_modified)),
        },
        None => FileColumns {
            revision: None,
            size: None,
            content_hash: None,
            client_modified: None,
        },
    }
}

pub fn block_hash(bytes: Vec<u8>) -> Result<BlockHash, RepositoryError> {
    hash32(bytes, "block hash").map(BlockHash::from_bytes)
}

// --- shared links ------------------------------------------------------------------------------

use coffer_domain::sharing::{LinkId, Membership, Role, SharedLink};

/// A row of `shared_links`.
#[derive(sqlx::FromRow)]
pub struct LinkRow {
    id: Uuid,
    token_digest: Vec<u8>,
    owner_id: Uuid,
    namespace_id: Uuid,
    node_id: Uuid,
    password_hash: Option<String>,
    expires_at: Option<i64>,
    allow_download: bool,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl LinkRow {
    pub fn into_link(self) -> Result<SharedLink, RepositoryError> {
        Ok(SharedLink {
            id: LinkId::from_uuid(self.id),
            token_digest: digest(self.token_digest)?,
            owner: UserId::from_uuid(self.owner_id),
            namespace: NamespaceId::from_uuid(self.namespace_id),
            node: NodeId::from_uuid(self.node_id),
            password: self.password_hash.map(PasswordHash::from_phc),
            expires_at: self.expires_at.map(timestamp).transpose()?,
            allow_download: self.allow_download,
            created_at: timestamp(self.created_at)?,
            revoked_at: self.revoked_at.map(timestamp).transpose()?,
        })
    }
}

/// A row of `changes`.
#[derive(sqlx::FromRow)]
pub struct ChangeRow {
    namespace_id: Uuid,
    seq: i64,
    node_id: Uuid,
    path_before: Option<String>,
    changed_at: i64,
}

impl ChangeRow {
    pub fn into_change(self) -> Result<coffer_domain::files::Change, RepositoryError> {
        Ok(coffer_domain::files::Change {
            namespace: NamespaceId::from_uuid(self.namespace_id),
            seq: u64::try_from(self.seq).map_err(|_| corrupt("change seq"))?,
            node: NodeId::from_uuid(self.node_id),
            path_before: self
                .path_before
                .as_deref()
                .map(coffer_domain::files::NodePath::parse)
                .transpose()
                .map_err(|_| corrupt("change path"))?,
            at: timestamp(self.changed_at)?,
        })
    }
}

/// The `kind` column of a namespace.
pub fn namespace_kind(namespace: &Namespace) -> &'static str {
    match namespace.kind {
        NamespaceKind::Home => "home",
        NamespaceKind::Shared => "shared",
    }
}

/// A row of `shared_folder_members`.
#[derive(sqlx::FromRow)]
pub struct MemberRow {
    namespace_id: Uuid,
    user_id: Uuid,
    role: String,
    mount_node_id: Uuid,
    joined_at: i64,
}

impl MemberRow {
    pub fn into_membership(self) -> Result<Membership, RepositoryError> {
        Ok(Membership {
            namespace: NamespaceId::from_uuid(self.namespace_id),
            user: UserId::from_uuid(self.user_id),
            role: Role::parse(&self.role).map_err(|_| corrupt("member role"))?,
            mount: NodeId::from_uuid(self.mount_node_id),
            joined_at: timestamp(self.joined_at)?,
        })
    }
}

/// A row of `shared_folder_invitations`.
#[derive(sqlx::FromRow)]
pub struct InvitationRow {
    id: Uuid,
    namespace_id: Uuid,
    email: String,
    role: String,
    invited_at: i64,
}

impl InvitationRow {
    pub fn into_invitation(self) -> Result<coffer_domain::sharing::Invitation, RepositoryError> {
        Ok(coffer_domain::sharing::Invitation {
            id: UserId::from_uuid(self.id),
            namespace: NamespaceId::from_uuid(self.namespace_id),
            email: coffer_domain::account::Email::parse(&self.email)
                .map_err(|_| corrupt("invitation email"))?,
            role: Role::parse(&self.role).map_err(|_| corrupt("invitation role"))?,
            invited_at: timestamp(self.invited_at)?,
        })
    }
}

use coffer_domain::plugins::{
    AuditAction, AuditEntry, FailurePolicy, Hook, Plugin, PluginId, PluginLimits, PluginName,
    PluginVersion,
};

/// A row of `plugins`.
#[derive(sqlx::FromRow)]
pub struct PluginRow {
    id: Uuid,
    name: String,
    version: String,
    description: String,
    hooks: String,
    interface_version: String,
    digest: String,
    config: String,
    config_schema: Option<String>,
    enabled: bool,
    position: i64,
    memory_bytes: i64,
    time_ms: i64,
    output_bytes: i64,
    failure_policy: String,
    consecutive_failures: i64,
    disabled_reason: Option<String>,
    installed_at: i64,
    updated_at: i64,
}

/// The `hooks` column: interface names joined by commas.
pub fn hooks_column(hooks: &[Hook]) -> String {
    hooks.iter().map(Hook::as_str).collect::<Vec<_>>().join(",")
}

impl PluginRow {
    pub fn into_plugin(self) -> Result<Plugin, RepositoryError> {
        let hooks = self
            .hooks
            .split(',')
            .filter(|h| !h.is_empty())
            .map(Hook::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| corrupt("plugin hooks"))?;
        Ok(Plugin {
            id: PluginId::from_uuid(self.id),
            name: PluginName::parse(&self.name).map_err(|_| corrupt("plugin name"))?,
            version: PluginVersion::parse(&self.version).map_err(|_| corrupt("plugin version"))?,
            description: self.description,
            hooks,
            interface_version: self.interface_version,
            digest: self.digest,
            config: self.config,
            config_schema: self.config_schema,
            enabled: self.enabled,
            position: self.position,
            limits: PluginLimits::new(
                u64::try_from(self.memory_bytes).map_err(|_| corrupt("plugin memory"))?,
                std::time::Duration::from_millis(
                    u64::try_from(self.time_ms).map_err(|_| corrupt("plugin time"))?,
                ),
                u32::try_from(self.output_bytes).map_err(|_| corrupt("plugin output"))?,
            )
            .map_err(|_| corrupt("plugin limits"))?,
            failure_policy: FailurePolicy::parse(&self.failure_policy)
                .map_err(|_| corrupt("plugin failure policy"))?,
            consecutive_failures: u32::try_from(self.consecutive_failures).unwrap_or(u32::MAX),
            disabled_reason: self.disabled_reason,
            installed_at: timestamp(self.installed_at)?,
            updated_at: timestamp(self.updated_at)?,
        })
    }
}

/// A row of `plugin_audit`.
#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: i64,
    at: i64,
    action: String,
    plugin_name: String,
    plugin_version: Option<String>,
    hook: Option<String>,
    actor: Option<String>,
    subject: Option<String>,
    reason: Option<String>,
    duration_us: Option<i64>,
}

impl AuditRow {
    pub fn into_entry(self) -> Result<AuditEntry, RepositoryError> {
        Ok(AuditEntry {
            id: Some(u64::try_from(self.id).map_err(|_| corrupt("audit id"))?),
            at: timestamp(self.at)?,
            action: AuditAction::parse(&self.action).map_err(|_| corrupt("audit action"))?,
            plugin: self.plugin_name,
            version: self.plugin_version,
            hook: self
                .hook
                .as_deref()
                .map(Hook::parse)
                .transpose()
                .map_err(|_| corrupt("audit hook"))?,
            actor: self.actor,
            subject: self.subject,
            reason: self.reason,
            duration: self
                .duration_us
                .map(|us| std::time::Duration::from_micros(us.max(0) as u64)),
        })
    }
}

// --- upload sessions ---------------------------------------------------------------------------

use coffer_domain::files::{
    NodePath, SessionBlock, SessionKind, UploadId, UploadSession, WriteMode,
};

/// A row of `upload_sessions`.
#[derive(sqlx::FromRow)]
pub struct UploadRow {
    id: Uuid,
    owner_id: Uuid,
    kind: String,
    path: String,
    mode: String,
    update_rev: Option<Uuid>,
    autorename: bool,
    client_modified: Option<i64>,
    media_type: Option<String>,
    length: i64,
    received: i64,
    created_at: i64,
    expires_at: i64,
    committed_node: Option<Uuid>,
    committed_revision: Option<Uuid>,
}

impl UploadRow {
    pub fn into_session(self) -> Result<UploadSession, RepositoryError> {
        let kind = match self.kind.as_str() {
            "stream" => SessionKind::Stream,
            "blocks" => SessionKind::Blocks,
            _ => return Err(corrupt("upload kind")),
        };
        let mode = match (self.mode.as_str(), self.update_rev) {
            ("add", _) => WriteMode::Add,
            ("overwrite", _) => WriteMode::Overwrite,
            ("update", Some(rev)) => WriteMode::Update(RevisionId::from_uuid(rev)),
            _ => return Err(corrupt("upload mode")),
        };
        let committed = match (self.committed_node, self.committed_revision) {
            (Some(node), Some(revision)) => {
                Some((NodeId::from_uuid(node), RevisionId::from_uuid(revision)))
            }
            _ => None,
        };
        Ok(UploadSession {
            id: UploadId::from_uuid(self.id),
            owner: UserId::from_uuid(self.owner_id),
            kind,
            path: NodePath::parse(&self.path).map_err(|_| corrupt("upload path"))?,
            mode,
            autorename: self.autorename,
            client_modified: self.client_modified.map(timestamp).transpose()?,
            media_type: self.media_type,
            length: u64::try_from(self.length).map_err(|_| corrupt("upload length"))?,
            received: u64::try_from(self.received).map_err(|_| corrupt("upload offset"))?,
            created_at: timestamp(self.created_at)?,
            expires_at: timestamp(self.expires_at)?,
            committed,
        })
    }
}

/// The columns `kind`, `mode` and `update_rev` of a session.
pub fn upload_columns(session: &UploadSession) -> (&'static str, &'static str, Option<Uuid>) {
    let kind = match session.kind {
        SessionKind::Stream => "stream",
        SessionKind::Blocks => "blocks",
    };
    let (mode, rev) = match session.mode {
        WriteMode::Add => ("add", None),
        WriteMode::Overwrite => ("overwrite", None),
        WriteMode::Update(rev) => ("update", Some(rev.as_uuid())),
    };
    (kind, mode, rev)
}

/// A row of `upload_blocks`.
#[derive(sqlx::FromRow)]
pub struct UploadBlockRow {
    block_hash: Vec<u8>,
    size: i64,
    present: bool,
}

impl UploadBlockRow {
    pub fn into_block(self) -> Result<SessionBlock, RepositoryError> {
        Ok(SessionBlock {
            hash: block_hash(self.block_hash)?,
            size: u32::try_from(self.size).map_err(|_| corrupt("block size"))?,
            present: self.present,
        })
    }
}
