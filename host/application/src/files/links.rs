//! Shared links: a file or folder made reachable by an unguessable URL, for people without an
//! account. [`Files::open_link`] is the one place that decides whether a visit gets in.

use std::net::IpAddr;

use coffer_domain::Timestamp;
use coffer_domain::account::Password;
use coffer_domain::files::{Node, NodePath};
use coffer_domain::sharing::{LinkId, LinkState, SharedLink};

use super::{
    Download, Entry, Files, FolderPage, ListCursor, ListFrame, RangeRequest, Target,
    stale_listing_cursor,
};
use coffer_domain::sharing::Need;

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
}

/// One of a user's links, with what it links to (`None` if that is trashed now).
#[derive(Debug, Clone)]
pub struct LinkListing {
    /// The link.
    pub link: SharedLink,
    /// The linked file or folder, as the owner sees it.
    pub target: Option<Entry>,
}

/// What a visitor of a link presents.
#[derive(Debug, Clone)]
pub struct LinkVisit {
    /// The token from the link's URL.
    pub token: String,
    /// The password, for a protected link.
    pub password: Option<String>,
    /// The visitor's address, for throttling wrong passwords.
    pub client_address: Option<IpAddr>,
}

impl Files {
    /// Creates a link to one of the caller's files or folders.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn create_link(
        &self,
        caller: &Principal,
        input: NewLink,
    ) -> Result<IssuedLink, AppError> {
        let target = Target::parse(&input.path)?;
        let now = self.ports.clock.now();
        SharedLink::check_expiry(input.expires_at, now)?;
        let password = match input.password.as_deref() {
            Some(password) => Some(
                self.ports
                    .passwords
                    .hash(&Password::parse(password)?)
                    .await?,
            ),
            None => None,
        };
        // Checked in a read transaction, then by the sharing policies (outside any transaction),
        // then stored.
        let (target, actor) = {
            let (mut tx, access) = self.read_access(caller.user_id).await?;
            let target = self.locate_entry(tx.as_mut(), &access, &target).await?;
            // Publishing content is a change of who can see it: viewers may not.
            access.require(target.node.namespace, Need::Write)?;
            (target, self.actor_facts(tx.as_mut(), caller.user_id).await?)
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
        })
    }

    /// The caller's links, newest first.
    pub async fn list_links(&self, caller: &Principal) -> Result<Vec<LinkListing>, AppError> {
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let links = tx.links().list_for_owner(caller.user_id).await?;
        let mut listings = Vec::with_capacity(links.len());
        for link in links {
            let target = match tx.nodes().get(link.node).await? {
                Some(node) if node.trashed_at.is_none() => self
                    .view_path_of(tx.as_mut(), &access, &node)
                    .await?
                    .map(|path| Entry { node, path }),
                _ => None,
            };
            listings.push(LinkListing { link, target });
        }
        Ok(listings)
    }

    /// Revokes one of the caller's links; visitors get "gone" from then on.
    pub async fn revoke_link(&self, caller: &Principal, id: LinkId) -> Result<(), AppError> {
        let mut tx = self.ports.uow.begin().await?;
        let mut link = tx
            .links()
            .get(id)
            .await?
            .filter(|l| l.owner == caller.user_id)
            .ok_or(AppError::NotFound("link"))?;
        link.revoke(self.ports.clock.now());
        tx.links().update(&link).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Metadata of the linked item, or of `path` below a linked folder (`/` is the link's root;
    /// paths are relative to it and cannot leave it).
    pub async fn link_metadata(&self, visit: &LinkVisit, path: &str) -> Result<Entry, AppError> {
        let mut tx = self.ports.uow.begin_read().await?;
        let (_, root) = self.open_link(tx.as_mut(), visit).await?;
        self.locate_in_link(tx.as_mut(), &root, path).await
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
        let mut tx = self.ports.uow.begin_read().await?;
        let (_, root) = self.open_link(tx.as_mut(), visit).await?;
        let invalid = stale_listing_cursor;
        let (folder, folder_path, after) = match cursor {
            None => {
                let entry = self.locate_in_link(tx.as_mut(), &root, path).await?;
                if !entry.node.is_folder() {
                    return Err(AppError::NotAllowed("only folders can be listed"));
                }
                (entry.node, entry.path, None)
            }
            Some(cursor) => {
                let [frame] = &cursor.frames[..] else {
                    return Err(invalid());
                };
                let node = if frame.folder == root.id {
                    root.clone()
                } else {
                    tx.nodes().get(frame.folder).await?.ok_or_else(invalid)?
                };
                let path = self
                    .path_within(tx.as_mut(), &root, &node)
                    .await?
                    .filter(|_| node.is_folder())
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

    /// The content of the linked file, or of a file below a linked folder.
    pub async fn link_download(
        &self,
        visit: &LinkVisit,
        path: &str,
        range: Option<RangeRequest>,
    ) -> Result<Download, AppError> {
        let mut tx = self.ports.uow.begin_read().await?;
        let (link, root) = self.open_link(tx.as_mut(), visit).await?;
        if !link.allow_download {
            return Err(AppError::DownloadNotAllowed);
        }
        let entry = self.locate_in_link(tx.as_mut(), &root, path).await?;
        self.serve(tx, entry, None, range).await
    }

    /// The one check of a visit: the link exists, is neither revoked nor expired, the password
    /// (if any) is right and not being guessed, and what it links to is still live. Returns the
    /// link and its root node.
    async fn open_link(
        &self,
        tx: &mut dyn Transaction,
        visit: &LinkVisit,
    ) -> Result<(SharedLink, Node), AppError> {
        let digest = self.ports.secrets.digest(&visit.token);
        let link = tx
            .links()
            .find_by_digest(&digest)
            .await?
            .ok_or(AppError::NotFound("link"))?;
        match link.state(self.ports.clock.now()) {
            LinkState::Active => {}
            LinkState::Expired => return Err(AppError::LinkGone("has expired")),
            LinkState::Revoked => return Err(AppError::LinkGone("was revoked")),
        }
        if let Some(hash) = &link.password {
            let mut keys = vec![ThrottleKey::Link(link.id)];
            keys.extend(visit.client_address.map(ThrottleKey::ClientAddress));
            for key in &keys {
                if let Err(retry_after) = self.ports.login_throttle.check(key).await {
                    return Err(AppError::Throttled { retry_after });
                }
            }
            let given = visit
                .password
                .as_deref()
                .ok_or(AppError::LinkPasswordRequired)?;
            if !self
                .ports
                .passwords
                .verify(&Password::candidate(given), Some(hash))
                .await?
            {
                for key in &keys {
                    self.ports.login_throttle.record_failure(key).await;
                }
                return Err(AppError::InvalidLinkPassword);
            }
            self.ports.login_throttle.record_success(&keys[0]).await;
        }
        let root = tx
            .nodes()
            .get(link.node)
            .await?
            .filter(|n| n.trashed_at.is_none())
            .ok_or(AppError::NotFound("link target"))?;
        if self.live_path_of(tx, &root).await?.is_none() {
            return Err(AppError::NotFound("link target"));
        }
        // A link lives only as long as its maker reaches what it links to (a member who leaves
        // a shared folder takes their links into it along).
        let maker_home = self.home(tx, link.owner).await?.id;
        if root.namespace != maker_home
            && tx
                .members()
                .get(root.namespace, link.owner)
                .await?
                .is_none()
        {
            return Err(AppError::NotFound("link target"));
        }
        Ok((link, root))
    }

    /// `path` (relative, `/` = the link's root) below the root. Components are looked up one
    /// by one from the root down, so nothing outside the linked folder can be named.
    async fn locate_in_link(
        &self,
        tx: &mut dyn Transaction,
        root: &Node,
        path: &str,
    ) -> Result<Entry, AppError> {
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
                .ok_or(AppError::NotFound("path"))?;
            current = node.id;
            names.push(node.name.clone());
            found = Some(node);
        }
        Ok(Entry {
            node: found.ok_or(AppError::NotFound("path"))?,
            path: NodePath::from_names(names),
        })
    }

    /// The path of `node` relative to `root`, if it is `root` or lies (live) below it.
    async fn path_within(
        &self,
        tx: &mut dyn Transaction,
        root: &Node,
        node: &Node,
    ) -> Result<Option<NodePath>, AppError> {
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::Duration;
    use coffer_domain::account::SignupPolicy;
    use futures_util::TryStreamExt;

    use super::{LinkVisit, NewLink};
    use crate::AppError;
    use crate::testing::TestEnv;

    fn visit(token: &str, password: Option<&str>) -> LinkVisit {
        LinkVisit {
            token: token.into(),
            password: password.map(Into::into),
            client_address: None,
        }
    }

    fn new_link(path: &str) -> NewLink {
        NewLink {
            path: path.into(),
            expires_at: None,
            password: None,
            allow_download: true,
        }
    }

    #[tokio::test]
    async fn a_folder_link_reaches_below_its_folder_and_nothing_above() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let me = env.principal("a@example.org").await;
        env.upload(&me, "/Shared/sub/file.txt", b"inside").await;
        env.upload(&me, "/secret.txt", b"outside").await;
        let issued = env
            .files
            .create_link(&me, new_link("/Shared"))
            .await
            .unwrap();
        let v = visit(&issued.token, None);

        let root = env.files.link_metadata(&v, "/").await.unwrap();
        assert_eq!(root.path.to_string(), "/");
        assert_eq!(root.node.name.as_str(), "Shared");
        let page = env.files.link_list(&v, "/", 10, None).await.unwrap();
        assert_eq!(page.entries[0].path.to_string(), "/sub");
        let download = env
            .files
            .link_download(&v, "/SUB/file.txt", None)
            .await
            .unwrap();
        let bytes: Vec<Bytes> = download.content.try_collect().await.unwrap();
        assert_eq!(bytes.concat(), b"inside");

        for outside in ["/secret.txt", "/../secret.txt", "/sub/../../secret.txt"] {
            let err = env.files.link_metadata(&v, outside).await.unwrap_err();
            assert!(
                matches!(err, AppError::NotFound(_) | AppError::Invalid { .. }),
                "{outside}: {err:?}"
            );
        }
        let err = env
            .files
            .link_metadata(&visit("cfl_made_up", None), "/")
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::NotFound("link")));
    }

    #[tokio::test]
    async fn passwords_are_required_checked_and_throttled() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let me = env.principal("a@example.org").await;
        env.upload(&me, "/doc.txt", b"d").await;
        let mut input = new_link("/doc.txt");
        input.password = Some("link password".into());
        let issued = env.files.create_link(&me, input).await.unwrap();
        assert!(issued.link.password.is_some());

        let err = env
            .files
            .link_metadata(&visit(&issued.token, None), "/")
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::LinkPasswordRequired));
        let right = visit(&issued.token, Some("link password"));
        assert_eq!(
            env.files
                .link_metadata(&right, "/")
                .await
                .unwrap()
                .path
                .to_string(),
            "/doc.txt"
        );
        for _ in 0..crate::testing::FakeThrottle::LIMIT {
            let err = env
                .files
                .link_metadata(&visit(&issued.token, Some("guess")), "/")
                .await
                .unwrap_err();
            assert!(matches!(err, AppError::InvalidLinkPassword));
        }
        let err = env.files.link_metadata(&right, "/").await.unwrap_err();
        assert!(
            matches!(err, AppError::Throttled { .. }),
            "even the right password: {err:?}"
        );
    }

    #[tokio::test]
    async fn expired_and_revoked_links_are_gone() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let me = env.principal("a@example.org").await;
        env.upload(&me, "/doc.txt", b"d").await;
        let mut expiring = new_link("/doc.txt");
        expiring.expires_at = Some(env.clock_now() + Duration::hours(1));
        let expiring = env.files.create_link(&me, expiring).await.unwrap();
        let revoked = env
            .files
            .create_link(&me, new_link("/doc.txt"))
            .await
            .unwrap();
        env.files.revoke_link(&me, revoked.link.id).await.unwrap();
        let err = env
            .files
            .link_metadata(&visit(&revoked.token, None), "/")
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::LinkGone(_)));
        assert!(
            env.files
                .link_metadata(&visit(&expiring.token, None), "/")
                .await
                .is_ok()
        );
        env.clock.advance(Duration::hours(1));
        let err = env
            .files
            .link_metadata(&visit(&expiring.token, None), "/")
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::LinkGone(_)));

        let mut past = new_link("/doc.txt");
        past.expires_at = Some(env.clock_now());
        let err = env.files.create_link(&me, past).await.unwrap_err();
        assert!(matches!(
            err,
            AppError::Invalid {
                field: "expires_at",
                ..
            }
        ));
    }

    #[tokio::test]
    async fn links_without_download_still_show_metadata_and_die_with_their_target() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let me = env.principal("a@example.org").await;
        env.member("b@example.org").await;
        let other = env.principal("b@example.org").await;
        env.upload(&me, "/doc.txt", b"d").await;
        let mut input = new_link("/doc.txt");
        input.allow_download = false;
        let issued = env.files.create_link(&me, input).await.unwrap();
        let v = visit(&issued.token, None);
        assert!(env.files.link_metadata(&v, "/").await.is_ok());
        let err = env.files.link_download(&v, "/", None).await.err().unwrap();
        assert!(matches!(err, AppError::DownloadNotAllowed));

        let err = env
            .files
            .revoke_link(&other, issued.link.id)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AppError::NotFound("link")),
            "only the owner revokes"
        );
        assert_eq!(env.files.list_links(&me).await.unwrap().len(), 1);
        assert!(env.files.list_links(&other).await.unwrap().is_empty());

        env.files.delete(&me, "/doc.txt").await.unwrap();
        let err = env.files.link_metadata(&v, "/").await.unwrap_err();
        assert!(
            matches!(err, AppError::NotFound(_)),
            "a trashed target is not served"
        );
        assert!(env.files.list_links(&me).await.unwrap()[0].target.is_none());
    }
}
