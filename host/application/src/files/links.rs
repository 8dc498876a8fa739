//! Shared links: a file or folder made reachable by an unguessable URL, for people without an
//! account. [`Files::admit_link`] checks a visitor's password (once, outside any transaction);
//! `open_link` is the one place that decides, in the visit's read, what an admitted visit
//! reaches: nothing its maker could not link (see [`Access::may_publish_node`]).

use std::net::IpAddr;

use coffer_domain::Timestamp;
use coffer_domain::account::Password;
use coffer_domain::files::{Node, NodePath};
use coffer_domain::sharing::{LinkId, LinkState, SharedLink};

use super::access::Access;
use super::content::{ReadRequest, Served};
use super::{Entry, Files, FolderPage, ListCursor, ListFrame, Target, stale_listing_cursor};

use crate::error::retry_transient;
use crate::ports::{SecretKind, SharingQuestion, ThrottleKey, Transaction};
use crate::{AppError, Principal};

/// Input of [`Files::create_link`].
#[derive(Debug, Clone)]
pub struct NewLink {
    /// The file or folder (`/path` or `id:<uuid>`).
    pub path: String,
    /// When the link stops working, if ever (must be in the future).
    pub expires_at: Option<Timestamp>,
    /// A password visitors must give, if any.
    pub password: Option<String>,
    /// Whether visitors may download content.
    pub allow_download: bool,
}

/// A new link: the token (the secret part of its URL) is shown this once.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    /// The stored link.
    pub link: SharedLink,
    /// The token for the link's URL.
    pub token: String,
    /// What it links to.
    pub target: Entry,
    /// The email of its maker (the caller).
    pub created_by: String,
}

/// A link the caller may see and revoke: their own, or one into a shared folder they own.
#[derive(Debug, Clone)]
pub struct LinkListing {
    /// The link.
    pub link: SharedLink,
    /// The email of whoever made it.
    pub created_by: String,
    /// The linked file or folder, as the caller sees it (`None` if that is in the trash, or
    /// outside the caller's tree: a member's folder that holds the caller's shared folder).
    pub target: Option<Entry>,
}

/// What a visitor of a link presents.
#[derive(Debug, Clone)]
pub struct LinkVisit {
    /// The token from the link's URL.
    pub token: String,
    /// The password, for a protected link.
    pub password: Option<String>,
    /// Whether the visit holds a pass for this link's token: handed out after a right
    /// password, checked (signature, expiry, token) by the edge that issued it. It stands in
    /// for the password.
    pub pass: bool,
    /// The visitor's address, for throttling wrong passwords.
    pub client_address: Option<IpAddr>,
}

/// What an admitted visit reaches, read in the visit's transaction.
struct LinkScope {
    link: SharedLink,
    /// The linked node.
    root: Node,
    /// What the link's maker reaches now: a visit goes nowhere they could not link.
    maker: Access,
}

impl Files {
    /// Creates a link to one of the caller's files or folders. Publishing is a change of who
    /// can see content: it needs the right to publish what the link reaches directly (for a
    /// mount point, the shared folder too), see [`Access::require_publish`].
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn create_link(
        &self,
        caller: &Principal,
        input: NewLink,
    ) -> Result<IssuedLink, AppError> {
        let target = Target::parse(&input.path)?;
        let now = self.ports.clock.now();
        SharedLink::check_expiry(input.expires_at, now)?;
        // Checked in a read transaction, then by the sharing policies (outside any transaction),
        // then stored.
        let (target, actor) = {
            let (mut tx, access) = self.read_access(caller.user_id).await?;
            let target = self.locate_entry(tx.as_mut(), &access, &target).await?;
            access.require_publish(&target.node)?;
            (target, self.actor_facts(tx.as_mut(), caller.user_id).await?)
        };
        let password = match input.password.as_deref() {
            Some(password) => Some(
                self.ports
                    .passwords
                    .hash(&Password::parse(password)?)
                    .await?,
            ),
            None => None,
        };
        self.plugins
            .check_sharing(&SharingQuestion::Link {
                actor: actor.clone(),
                path: target.path.to_string(),
                is_folder: target.node.is_folder(),
                expires_in_seconds: input
                    .expires_at
                    .map(|at| (at - now).num_seconds().max(0) as u64),
                has_password: password.is_some(),
                allow_download: input.allow_download,
            })
            .await?;
        let mut tx = self.ports.uow.begin().await?;
        let secret = self.ports.secrets.generate(SecretKind::Link);
        let link = SharedLink {
            id: LinkId::from_uuid(self.ports.ids.new_id()),
            token_digest: secret.digest,
            owner: caller.user_id,
            namespace: target.node.namespace,
            node: target.node.id,
            password,
            expires_at: input.expires_at,
            allow_download: input.allow_download,
            created_at: now,
            revoked_at: None,
        };
        tx.links().insert(&link).await?;
        tx.commit().await?;
        self.publish("link-created", &actor, Some(&target.path), None);
        Ok(IssuedLink {
            link,
            token: secret.plaintext,
            target,
            created_by: actor.email,
        })
    }

    /// The links the caller may see and revoke, newest first: their own, and every link into
    /// a shared folder they own, whoever made it.
    pub async fn list_links(&self, caller: &Principal) -> Result<Vec<LinkListing>, AppError> {
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let links = self.links_in_care_of(tx.as_mut(), &access).await?;
        let mut listings = Vec::with_capacity(links.len());
        // Most links are the caller's own: each maker's email is read once.
        let mut makers: std::collections::HashMap<_, String> = std::collections::HashMap::new();
        for link in links {
            let target = match tx.nodes().get(link.node).await? {
                Some(node) if node.trashed_at.is_none() => {
                    self.link_target_view(tx.as_mut(), &access, node).await?
                }
                _ => None,
            };
            let created_by = match makers.get(&link.owner) {
                Some(email) => email.clone(),
                None => {
                    let email = self.email_of(tx.as_mut(), link.owner).await?.to_string();
                    makers.insert(link.owner, email.clone());
                    email
                }
            };
            listings.push(LinkListing {
                link,
                created_by,
                target,
            });
        }
        Ok(listings)
    }

    /// The caller's own links and the links into the shared folders they own, newest first.
    async fn links_in_care_of(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
    ) -> Result<Vec<SharedLink>, AppError> {
        let mut links = tx.links().list_for_owner(access.home.owner).await?;
        let owned = access
            .memberships()
            .iter()
            .filter(|m| m.role == coffer_domain::sharing::Role::Owner);
        for membership in owned {
            links.extend(tx.links().list_into_namespace(membership.namespace).await?);
        }
        links.sort_by_key(|l| std::cmp::Reverse((l.created_at, l.id.as_uuid())));
        links.dedup_by_key(|l| l.id);
        Ok(links)
    }

    /// Whether `link` is the caller's to see and revoke: theirs, or one into a shared folder
    /// they own.
    async fn in_care_of(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        link: &SharedLink,
    ) -> Result<bool, AppError> {
        if link.owner == access.home.owner {
            return Ok(true);
        }
        let owned = access
            .memberships()
            .iter()
            .filter(|m| m.role == coffer_domain::sharing::Role::Owner);
        for membership in owned {
            let into = tx.links().list_into_namespace(membership.namespace).await?;
            if into.iter().any(|l| l.id == link.id) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A linked node as the caller sees it: where it is in their tree, or for a member's mount
    /// point of the caller's shared folder, the caller's own mount point of it.
    async fn link_target_view(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        node: Node,
    ) -> Result<Option<Entry>, AppError> {
        let path = match self.view_path_of(tx, access, &node).await? {
            Some(path) => Some(path),
            None => match node.mount {
                Some(shared) => self.mount_path(tx, access, shared).await?,
                None => None,
            },
        };
        Ok(path.map(|path| Entry { node, path }))
    }

    /// Revokes a link the caller made, or one into a shared folder they own; visitors get
    /// "gone" from then on.
    pub async fn revoke_link(&self, caller: &Principal, id: LinkId) -> Result<(), AppError> {
        let mut tx = self.ports.uow.begin().await?;
        let access = self.access(tx.as_mut(), caller.user_id).await?;
        let mut link = tx
            .links()
            .get(id)
            .await?
            .ok_or(AppError::NotFound("link"))?;
        if !self.in_care_of(tx.as_mut(), &access, &link).await? {
            return Err(AppError::NotFound("link"));
        }
        let path = match tx.nodes().get(link.node).await? {
            Some(node) => self
                .link_target_view(tx.as_mut(), &access, node)
                .await?
                .map(|entry| entry.path),
            None => None,
        };
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        link.revoke(self.ports.clock.now());
        tx.links().update(&link).await?;
        tx.commit().await?;
        if let Some(actor) = actor {
            self.publish("link-revoked", &actor, path.as_ref(), None);
        }
        Ok(())
    }

    /// Lets a visitor in (the first step of every visit), or says why not: the link exists and
    /// is neither revoked nor expired, and a protected link's password is right (or the visit
    /// holds a pass for this link).
    /// Wrong passwords are throttled per link and per address, each attempt counted before the
    /// password is checked; the check (argon2) runs once per visit, with no transaction open.
    /// What the link reaches is decided in the visit's own read ([`Self::open_link`]).
    async fn admit_link(&self, visit: &LinkVisit) -> Result<LinkId, AppError> {
        let digest = self.ports.secrets.digest(&visit.token);
        let digest = &digest;
        let link = retry_transient(|| async move {
            let mut tx = self.ports.uow.begin_read().await?;
            Self::live_link(tx.as_mut(), digest, self.ports.clock.now()).await
        })
        .await?;
        let Some(hash) = &link.password else {
            return Ok(link.id);
        };
        if visit.pass {
            return Ok(link.id);
        }
        let given = visit
            .password
            .as_deref()
            .ok_or(AppError::LinkPasswordRequired)?;
        let mut keys = vec![ThrottleKey::Link(link.id)];
        keys.extend(visit.client_address.map(ThrottleKey::ClientAddress));
        if let Err(retry_after) = self.ports.login_throttle.attempt(&keys).await {
            return Err(AppError::Throttled { retry_after });
        }
        if !self
            .ports
            .passwords
            .verify(&Password::candidate(given), Some(hash))
            .await?
        {
            return Err(AppError::InvalidLinkPassword);
        }
        self.ports.login_throttle.succeeded(&keys).await;
        Ok(link.id)
    }

    /// The link with this token digest, if it works now.
    async fn live_link(
        tx: &mut dyn Transaction,
        digest: &coffer_domain::account::TokenDigest,
        now: Timestamp,
    ) -> Result<SharedLink, AppError> {
        let link = tx
            .links()
            .find_by_digest(digest)
            .await?
            .ok_or(AppError::NotFound("link"))?;
        match link.state(now) {
            LinkState::Active => Ok(link),
            LinkState::Expired => Err(AppError::LinkGone("has expired")),
            LinkState::Revoked => Err(AppError::LinkGone("was revoked")),
        }
    }

    /// Metadata of the linked item, or of `path` below a linked folder (`/` is the link's root;
    /// paths are relative to it and cannot leave it).
    pub async fn link_metadata(&self, visit: &LinkVisit, path: &str) -> Result<Entry, AppError> {
        let admitted = self.admit_link(visit).await?;
        // Reading is idempotent: done once more if a database connection broke under it.
        retry_transient(|| async move {
            let mut tx = self.ports.uow.begin_read().await?;
            let scope = self.open_link(tx.as_mut(), visit, admitted).await?;
            self.locate_in_link(tx.as_mut(), &scope, path).await
        })
        .await
    }

    /// A page of a linked folder (or of a folder below it), in name order.
    pub async fn link_list(
        &self,
        visit: &LinkVisit,
        path: &str,
        limit: u32,
        cursor: Option<ListCursor>,
    ) -> Result<FolderPage, AppError> {
        let limit = limit.clamp(1, super::content::MAX_PAGE);
        let admitted = self.admit_link(visit).await?;
        let mut tx = self.ports.uow.begin_read().await?;
        let scope = self.open_link(tx.as_mut(), visit, admitted).await?;
        let invalid = stale_listing_cursor;
        let (folder, folder_path, after) = match cursor {
            None => {
                let entry = self.locate_in_link(tx.as_mut(), &scope, path).await?;
                if !entry.node.is_folder() {
                    return Err(AppError::NotAllowed("only folders can be listed"));
                }
                (entry.node, entry.path, None)
            }
            Some(cursor) => {
                let [frame] = &cursor.frames[..] else {
                    return Err(invalid());
                };
                let node = if frame.folder == scope.root.id {
                    scope.root.clone()
                } else {
                    tx.nodes().get(frame.folder).await?.ok_or_else(invalid)?
                };
                let path = self
                    .path_within(tx.as_mut(), &scope, &node)
                    .await?
                    .filter(|_| node.is_folder() && scope.maker.may_publish_node(&node))
                    .ok_or_else(invalid)?;
                (node, path, frame.after.clone())
            }
        };
        let (_, parent) = self.contents(tx.as_mut(), &folder).await?;
        let folder = folder.id;
        let children = tx.nodes().children(parent, after.as_deref(), limit).await?;
        let more = children.len() == limit as usize;
        let last = children.last().map(|c| c.name.key());
        let entries = children
            .into_iter()
            .filter(|node| scope.maker.may_publish_node(node))
            .map(|node| Entry {
                path: folder_path.join(node.name.clone()),
                node,
            })
            .collect();
        let cursor = more.then(|| ListCursor {
            recursive: false,
            frames: vec![ListFrame {
                folder,
                after: last,
            }],
        });
        Ok(FolderPage { entries, cursor })
    }

    /// The content of the linked file, or of a file below a linked folder, with the request's
    /// conditions evaluated against the revision served.
    pub async fn link_download(
        &self,
        visit: &LinkVisit,
        path: &str,
        request: ReadRequest,
    ) -> Result<Served, AppError> {
        let admitted = self.admit_link(visit).await?;
        let (entry, revision) = retry_transient(|| async move {
            let mut tx = self.ports.uow.begin_read().await?;
            let scope = self.open_link(tx.as_mut(), visit, admitted).await?;
            if !scope.link.allow_download {
                return Err(AppError::DownloadNotAllowed);
            }
            let entry = self.locate_in_link(tx.as_mut(), &scope, path).await?;
            let revision = Self::revision_to_serve(tx.as_mut(), &entry, None).await?;
            Ok((entry, revision))
        })
        .await?;
        self.open_content(entry, revision, request).await
    }

    /// The one check of what an admitted visit reaches, in the visit's read: the link still
    /// works, its maker's account is active and may still publish what it links to, and that
    /// is still live. Returns the link, its root node and its maker's reach.
    async fn open_link(
        &self,
        tx: &mut dyn Transaction,
        visit: &LinkVisit,
        admitted: LinkId,
    ) -> Result<LinkScope, AppError> {
        let digest = self.ports.secrets.digest(&visit.token);
        let link = Self::live_link(tx, &digest, self.ports.clock.now()).await?;
        if link.id != admitted {
            return Err(AppError::NotFound("link"));
        }
        let gone = || AppError::NotFound("link target");
        // A disabled account's links stop (disabling also revokes them; this covers a link
        // made while the account was being disabled).
        let maker_active = tx
            .users()
            .get(link.owner)
            .await?
            .is_some_and(|user| user.is_active());
        if !maker_active {
            return Err(AppError::LinkGone("was revoked"));
        }
        let root = tx
            .nodes()
            .get(link.node)
            .await?
            .filter(|n| n.trashed_at.is_none())
            .ok_or_else(gone)?;
        if self.live_path_of(tx, &root).await?.is_none() {
            return Err(gone());
        }
        // A link lives only as long as its maker may publish what it links to: a member who
        // leaves a shared folder, or becomes a viewer, takes their links into it along.
        let maker = self.access(tx, link.owner).await?;
        if !maker.may_publish_node(&root) {
            return Err(gone());
        }
        Ok(LinkScope { link, root, maker })
    }

    /// `path` (relative, `/` = the link's root) below the root. Components are looked up one
    /// by one from the root down, so nothing outside the linked folder can be named, and a
    /// mount point of a shared folder the maker may not publish is not there.
    async fn locate_in_link(
        &self,
        tx: &mut dyn Transaction,
        scope: &LinkScope,
        path: &str,
    ) -> Result<Entry, AppError> {
        let root = &scope.root;
        let path = NodePath::parse(path)?;
        if path.is_root() {
            let shown = if root.is_folder() {
                NodePath::root()
            } else {
                NodePath::from_names(vec![root.name.clone()])
            };
            return Ok(Entry {
                node: root.clone(),
                path: shown,
            });
        }
        if !root.is_folder() {
            return Err(AppError::NotFound("path"));
        }
        let (_, mut current) = self.contents(tx, root).await?;
        let mut names = Vec::new();
        let mut found = None;
        for name in path.components() {
            if found.as_ref().is_some_and(|n: &Node| !n.is_folder()) {
                return Err(AppError::NotFound("path"));
            }
            let node = tx
                .nodes()
                .child(current, &name.key())
                .await?
                .filter(|node| scope.maker.may_publish_node(node))
                .ok_or(AppError::NotFound("path"))?;
            current = self.contents(tx, &node).await?.1;
            names.push(node.name.clone());
            found = Some(node);
        }
        Ok(Entry {
            node: found.ok_or(AppError::NotFound("path"))?,
            path: NodePath::from_names(names),
        })
    }

    /// The path of `node` relative to the link's root, if it is the root or lies (live) below
    /// it within the root's namespace or the shared folder the root mounts.
    async fn path_within(
        &self,
        tx: &mut dyn Transaction,
        scope: &LinkScope,
        node: &Node,
    ) -> Result<Option<NodePath>, AppError> {
        let root = &scope.root;
        if node.id == root.id {
            return Ok(Some(NodePath::root()));
        }
        if node.trashed_at.is_some() {
            return Ok(None);
        }
        let mut names = vec![node.name.clone()];
        for ancestor in tx.nodes().ancestors(node.id).await? {
            if ancestor.id == root.id {
                names.reverse();
                return Ok(Some(NodePath::from_names(names)));
            }
            if ancestor.trashed_at.is_some() {
                return Ok(None);
            }
            names.push(ancestor.name);
        }
        // Below the root of the shared folder a linked mount point shows.
        if root.mount == Some(node.namespace) {
            names.reverse();
            return Ok(Some(NodePath::from_names(names)));
        }
        Ok(None)
    }
}
