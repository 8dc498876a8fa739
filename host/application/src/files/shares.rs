//! Shared folders: sharing one of your folders, managing its members, leaving and unsharing.
//!
//! Sharing a folder moves its content into a namespace of its own. The folder stays where it
//! was, as the owner's mount point of that namespace; each member gets a mount point at the
//! root of their home, which they may move and rename as they like. Content counts against the
//! owner's quota, whoever adds it.

use coffer_domain::Timestamp;
use coffer_domain::account::{Email, UserId};
use coffer_domain::files::{
    Namespace, NamespaceId, NamespaceKind, Node, NodeId, NodeKind, NodePath,
};
use coffer_domain::sharing::{Membership, Need, Role};

use super::access::Access;
use super::{Files, Target};
use crate::ports::{SharingQuestion, ThrottleKey, Transaction};
use crate::{AppError, Principal};

/// A shared folder as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFolder {
    /// The shared folder (its namespace).
    pub id: NamespaceId,
    /// The member's mount point.
    pub mount: NodeId,
    /// Where the member sees it (`None` if their mount point is hidden in the trash).
    pub path: Option<NodePath>,
    /// The member's role.
    pub role: Role,
    /// Who owns it (and whose quota it uses).
    pub owner: UserId,
    /// The owner's email.
    pub owner_email: Email,
}

/// A member of a shared folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The account.
    pub user: UserId,
    /// Its email.
    pub email: Email,
    /// Its role.
    pub role: Role,
    /// When it joined.
    pub joined_at: Timestamp,
}

impl Files {
    /// Shares one of the caller's folders: its content moves into a shared namespace owned by
    /// the caller, and the folder becomes the caller's mount point of it (paths, ids and links
    /// stay as they were).
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn share_folder(
        &self,
        caller: &Principal,
        path: &str,
    ) -> Result<SharedFolder, AppError> {
        let target = Target::parse(path)?;
        let (mut tx, access) = self.write_access(caller.user_id, &[&target]).await?;
        let mut entry = self.locate_entry(tx.as_mut(), &access, &target).await?;
        if !entry.node.is_folder() {
            return Err(AppError::NotAllowed("only folders can be shared"));
        }
        if entry.node.is_mount() {
            return Err(AppError::Conflict(
                crate::Conflict::AlreadyShared,
                "this folder is shared already",
            ));
        }
        if entry.node.namespace != access.home.id {
            return Err(AppError::NotAllowed(
                "a folder inside a shared folder cannot be shared on its own",
            ));
        }
        if self.holds_mount(tx.as_mut(), &access, &entry.node).await? {
            return Err(AppError::NotAllowed(
                "a folder that holds a shared folder cannot be shared",
            ));
        }
        let now = self.ports.clock.now();
        let shared = Namespace {
            id: NamespaceId::from_uuid(self.ports.ids.new_id()),
            kind: NamespaceKind::Shared,
            owner: caller.user_id,
            root: NodeId::from_uuid(self.ports.ids.new_id()),
            used: Default::default(),
        };
        tx.namespaces().insert(&shared, now).await?;
        tx.nodes().move_children(entry.node.id, shared.root).await?;
        tx.nodes().rehome_subtree(shared.root, shared.id).await?;
        let bytes = tx.nodes().subtree_bytes(shared.root).await? as i64;
        tx.namespaces().add_usage(access.home.id, -bytes).await?;
        tx.namespaces().add_usage(shared.id, bytes).await?;
        entry.node.mount = Some(shared.id);
        tx.nodes().update(&entry.node).await?;
        tx.members()
            .insert(&Membership {
                namespace: shared.id,
                user: caller.user_id,
                role: Role::Owner,
                mount: entry.node.id,
                joined_at: now,
            })
            .await?;
        // The mount point's entry tells the owner's sync clients to follow the new namespace.
        self.record(
            tx.as_mut(),
            access.home.id,
            entry.node.id,
            Some(&entry.path),
        )
        .await?;
        let owner_email = self.email_of(tx.as_mut(), caller.user_id).await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[access.home.id]).await?;
        if let Some(actor) = actor {
            self.publish("folder-shared", &actor, Some(&entry.path), None);
        }
        Ok(SharedFolder {
            id: shared.id,
            mount: entry.node.id,
            path: Some(entry.path),
            role: Role::Owner,
            owner: caller.user_id,
            owner_email,
        })
    }

    /// The shared folders the caller is a member of.
    pub async fn shared_folders(&self, caller: &Principal) -> Result<Vec<SharedFolder>, AppError> {
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let mut folders = Vec::with_capacity(access.memberships().len());
        for membership in access.memberships() {
            folders.push(
                self.shared_folder_view(tx.as_mut(), &access, membership)
                    .await?,
            );
        }
        Ok(folders)
    }

    /// One shared folder the caller is a member of.
    pub async fn shared_folder(
        &self,
        caller: &Principal,
        id: NamespaceId,
    ) -> Result<SharedFolder, AppError> {
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let membership = access
            .membership(id)
            .ok_or(AppError::NotFound("shared folder"))?
            .clone();
        self.shared_folder_view(tx.as_mut(), &access, &membership)
            .await
    }

    /// The members of a shared folder (any member may see them), owner first.
    pub async fn members(
        &self,
        caller: &Principal,
        id: NamespaceId,
    ) -> Result<Vec<Member>, AppError> {
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        Self::require_member(&access, id, Need::Read)?;
        let mut members = Vec::new();
        for membership in tx.members().of_namespace(id).await? {
            let Some(user) = tx.users().get(membership.user).await? else {
                continue;
            };
            members.push(Member {
                user: membership.user,
                email: user.email().clone(),
                role: membership.role,
                joined_at: membership.joined_at,
            });
        }
        // Invited emails without an account look like members until they sign up.
        for invitation in tx.members().invitations_of(id).await? {
            members.push(Member {
                user: invitation.id,
                email: invitation.email,
                role: invitation.role,
                joined_at: invitation.invited_at,
            });
        }
        Ok(members)
    }

    /// Adds the account with `email` as a viewer or editor. The folder appears at the root of
    /// their home, under a free name.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn add_member(
        &self,
        caller: &Principal,
        id: NamespaceId,
        email: &str,
        role: &str,
    ) -> Result<Member, AppError> {
        let role = Role::parse_grantable(role)?;
        let email = Email::parse(email)?;
        // Counted before anything is looked up, so parallel additions cannot outrun the limit.
        let additions = [ThrottleKey::MemberAdditions(caller.user_id)];
        if let Err(retry_after) = self.ports.login_throttle.attempt(&additions).await {
            return Err(AppError::Throttled { retry_after });
        }
        self.ask_sharing_policies(caller, id, &email, role, true)
            .await?;
        let mut tx = self.ports.uow.begin().await?;
        let access = self.access(tx.as_mut(), caller.user_id).await?;
        Self::require_member(&access, id, Need::Manage)?;
        let Some(user) = tx.users().find_by_email(&email).await? else {
            // No account has this email: it is invited, and the answer looks the same as for
            // an account, so adding members tells nobody which emails have accounts.
            return self.invite(tx, id, email, role).await;
        };
        if tx.members().get(id, user.id()).await?.is_some() {
            return Err(AppError::Conflict(
                crate::Conflict::AlreadyMember,
                "this account is a member already",
            ));
        }
        let home = self.home(tx.as_mut(), user.id()).await?;
        let (mut tx, access) = self.lock_namespaces(tx, access, vec![id, home.id]).await?;
        let owners_mount = access
            .membership(id)
            .map(|m| m.mount)
            .ok_or(AppError::NotFound("shared folder"))?;
        let name = tx
            .nodes()
            .get(owners_mount)
            .await?
            .ok_or(AppError::NotFound("shared folder"))?
            .name;
        let name = self
            .free_name(tx.as_mut(), home.root, &name, true, true, None)
            .await?;
        let now = self.ports.clock.now();
        let mut mount = Node::new(
            NodeId::from_uuid(self.ports.ids.new_id()),
            home.id,
            home.root,
            name,
            NodeKind::Folder,
            now,
        );
        mount.mount = Some(id);
        tx.nodes().insert(&mount).await?;
        let membership = Membership {
            namespace: id,
            user: user.id(),
            role,
            mount: mount.id,
            joined_at: now,
        };
        match tx.members().insert(&membership).await {
            Err(crate::ports::RepositoryError::Conflict(_)) => {
                return Err(AppError::Conflict(
                    crate::Conflict::AlreadyMember,
                    "this account is a member already",
                ));
            }
            other => other?,
        }
        self.record(tx.as_mut(), home.id, mount.id, None).await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &[home.id]).await?;
        if let Some(actor) = actor {
            let detail = format!("{} as {}", user.email(), role.as_str());
            self.publish("member-added", &actor, None, Some(detail));
        }
        Ok(Member {
            user: user.id(),
            email: user.email().clone(),
            role,
            joined_at: now,
        })
    }

    /// Invites `email`, which has no account, to shared folder `id` (whose management the
    /// caller's transaction has checked): the invitation shows among the members and becomes a
    /// membership when an account with that email is created.
    async fn invite(
        &self,
        mut tx: Box<dyn crate::ports::Transaction>,
        id: NamespaceId,
        email: Email,
        role: Role,
    ) -> Result<Member, AppError> {
        let invitation = coffer_domain::sharing::Invitation {
            id: UserId::from_uuid(self.ports.ids.new_id()),
            namespace: id,
            email,
            role,
            invited_at: self.ports.clock.now(),
        };
        match tx.members().invite(&invitation).await {
            Err(crate::ports::RepositoryError::Conflict(_)) => {
                return Err(AppError::Conflict(
                    crate::Conflict::AlreadyMember,
                    "this account is a member already",
                ));
            }
            other => other?,
        }
        tx.commit().await?;
        Ok(Member {
            user: invitation.id,
            email: invitation.email,
            role: invitation.role,
            joined_at: invitation.invited_at,
        })
    }

    /// Makes a member a viewer or an editor.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn set_member_role(
        &self,
        caller: &Principal,
        id: NamespaceId,
        member: UserId,
        role: &str,
    ) -> Result<(), AppError> {
        let role = Role::parse_grantable(role)?;
        let mut tx = self.ports.uow.begin().await?;
        let access = self.access(tx.as_mut(), caller.user_id).await?;
        Self::require_member(&access, id, Need::Manage)?;
        let Some(membership) = tx.members().get(id, member).await? else {
            // An invitation's role changes as a member's would, sharing policies asked.
            let invited = tx
                .members()
                .invitations_of(id)
                .await?
                .into_iter()
                .find(|i| i.id == member)
                .ok_or(AppError::NotFound("member"))?;
            drop(tx);
            self.ask_sharing_policies(caller, id, &invited.email, role, false)
                .await?;
            let mut tx = self.ports.uow.begin().await?;
            tx.members().set_invitation_role(id, member, role).await?;
            tx.commit().await?;
            return Ok(());
        };
        if membership.role == Role::Owner {
            return Err(AppError::NotAllowed("the owner's role cannot be changed"));
        }
        let email = self.email_of(tx.as_mut(), member).await?;
        drop(tx);
        self.ask_sharing_policies(caller, id, &email, role, false)
            .await?;
        let mut tx = self.ports.uow.begin().await?;
        tx.members().set_role(id, member, role).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a member (the owner removes anyone else; a member may remove themselves, which
    /// is leaving). Their mount point disappears from their tree, with their links into it.
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn remove_member(
        &self,
        caller: &Principal,
        id: NamespaceId,
        member: UserId,
    ) -> Result<(), AppError> {
        let mut tx = self.ports.uow.begin().await?;
        let access = self.access(tx.as_mut(), caller.user_id).await?;
        let need = if member == caller.user_id {
            Need::Read
        } else {
            Need::Manage
        };
        Self::require_member(&access, id, need)?;
        let Some(membership) = tx.members().get(id, member).await? else {
            // An invitation is withdrawn by whoever manages the folder.
            Self::require_member(&access, id, Need::Manage)?;
            if !tx.members().delete_invitation(id, member).await? {
                return Err(AppError::NotFound("member"));
            }
            tx.commit().await?;
            return Ok(());
        };
        if membership.role == Role::Owner {
            return Err(AppError::NotAllowed(
                "the owner cannot leave a shared folder: unshare it instead",
            ));
        }
        let home = self.home(tx.as_mut(), member).await?;
        let (mut tx, _) = self.lock_namespaces(tx, access, vec![id, home.id]).await?;
        self.unmount(tx.as_mut(), &membership).await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        let removed = self.email_of(tx.as_mut(), member).await?;
        self.commit_changes(tx, &[home.id]).await?;
        if let Some(actor) = actor {
            self.publish("member-removed", &actor, None, Some(removed.to_string()));
        }
        Ok(())
    }

    /// Leaves a shared folder the caller is a member (not the owner) of.
    pub async fn leave_shared_folder(
        &self,
        caller: &Principal,
        id: NamespaceId,
    ) -> Result<(), AppError> {
        self.remove_member(caller, id, caller.user_id).await
    }

    /// Stops sharing: every other member loses the folder, and its content moves back into the
    /// owner's home at the owner's mount point (which becomes a plain folder again).
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn unshare_folder(
        &self,
        caller: &Principal,
        id: NamespaceId,
    ) -> Result<(), AppError> {
        let mut tx = self.ports.uow.begin().await?;
        let access = self.access(tx.as_mut(), caller.user_id).await?;
        Self::require_member(&access, id, Need::Manage)?;
        let memberships = tx.members().of_namespace(id).await?;
        let mut homes = vec![id];
        for membership in &memberships {
            homes.push(self.home(tx.as_mut(), membership.user).await?.id);
        }
        let (mut tx, access) = self.lock_namespaces(tx, access, homes.clone()).await?;
        let shared = self.namespace(tx.as_mut(), id).await?;
        let mut owners_mount = None;
        for membership in &memberships {
            if membership.role == Role::Owner {
                owners_mount = Some(membership.mount);
            } else {
                self.unmount(tx.as_mut(), membership).await?;
            }
        }
        let mut folder = match owners_mount {
            Some(mount) => tx.nodes().get(mount).await?,
            None => None,
        }
        .ok_or_else(|| {
            AppError::Infrastructure(crate::InfrastructureError::msg(format!(
                "shared folder {id} has no owner's mount point"
            )))
        })?;
        tx.nodes().move_children(shared.root, folder.id).await?;
        tx.nodes().rehome_subtree(folder.id, access.home.id).await?;
        let bytes = shared.used.get() as i64;
        tx.namespaces().add_usage(id, -bytes).await?;
        tx.namespaces().add_usage(access.home.id, bytes).await?;
        folder.mount = None;
        tx.nodes().update(&folder).await?;
        tx.namespaces().delete(id).await?;
        let path = self.live_path_of(tx.as_mut(), &folder).await?;
        self.record(tx.as_mut(), access.home.id, folder.id, path.as_ref())
            .await?;
        let actor = self.event_actor(tx.as_mut(), caller).await?;
        self.commit_changes(tx, &homes).await?;
        if let Some(actor) = actor {
            self.publish("folder-unshared", &actor, path.as_ref(), None);
        }
        Ok(())
    }

    /// Removes a member's mount point and membership, telling their sync clients.
    async fn unmount(
        &self,
        tx: &mut dyn Transaction,
        membership: &Membership,
    ) -> Result<(), AppError> {
        let mount = tx.nodes().get(membership.mount).await?;
        let before = match &mount {
            Some(mount) => self.live_path_of(tx, mount).await?,
            None => None,
        };
        tx.members()
            .delete(membership.namespace, membership.user)
            .await?;
        if let Some(mount) = mount {
            tx.nodes().delete_subtree(mount.id).await?;
            self.record(tx, mount.namespace, mount.id, before.as_ref())
                .await?;
        }
        Ok(())
    }

    async fn shared_folder_view(
        &self,
        tx: &mut dyn Transaction,
        access: &Access,
        membership: &Membership,
    ) -> Result<SharedFolder, AppError> {
        let owner = self.namespace(tx, membership.namespace).await?.owner;
        Ok(SharedFolder {
            id: membership.namespace,
            mount: membership.mount,
            path: self.mount_path(tx, access, membership.namespace).await?,
            role: membership.role,
            owner,
            owner_email: self.email_of(tx, owner).await?,
        })
    }

    /// Asks the sharing policies whether `email` may join (or change to) `role`, after checking
    /// that the caller manages the folder (so a stranger learns nothing from a policy).
    async fn ask_sharing_policies(
        &self,
        caller: &Principal,
        id: NamespaceId,
        email: &Email,
        role: Role,
        joining: bool,
    ) -> Result<(), AppError> {
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        Self::require_member(&access, id, Need::Manage)?;
        let folder_path = self
            .mount_path(tx.as_mut(), &access, id)
            .await?
            .map(|p| p.to_string())
            .unwrap_or_default();
        let actor = self.actor_facts(tx.as_mut(), caller.user_id).await?;
        drop(tx);
        let (member_email, editor) = (email.to_string(), role == Role::Editor);
        let question = if joining {
            SharingQuestion::Share {
                actor,
                folder_path,
                member_email,
                editor,
            }
        } else {
            SharingQuestion::RoleChange {
                actor,
                folder_path,
                member_email,
                editor,
            }
        };
        self.plugins.check_sharing(&question).await
    }

    /// The caller's role in a shared folder if it allows `need` ("not found" for a folder they
    /// are no member of, and for their home).
    fn require_member(access: &Access, id: NamespaceId, need: Need) -> Result<Role, AppError> {
        if id == access.home.id || access.membership(id).is_none() {
            return Err(AppError::NotFound("shared folder"));
        }
        access.require(id, need)
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;
    use coffer_domain::files::NamespaceId;
    use coffer_domain::sharing::Role;

    use crate::files::{FeedEntry, UploadMode};
    use crate::testing::TestEnv;
    use crate::{AppError, Principal};

    struct Team {
        env: TestEnv,
        owner: Principal,
        editor: Principal,
        viewer: Principal,
        stranger: Principal,
        folder: NamespaceId,
    }

    /// `owner` shares `/Projects/Team` (holding `plan.txt`) with an editor and a viewer.
    async fn team() -> Team {
        let env = TestEnv::new(SignupPolicy::Open);
        let mut people = Vec::new();
        for email in [
            "o@example.org",
            "e@example.org",
            "v@example.org",
            "s@example.org",
        ] {
            env.member(email).await;
            people.push(env.principal(email).await);
        }
        let [owner, editor, viewer, stranger] = people.try_into().unwrap();
        env.upload(&owner, "/Projects/Team/plan.txt", b"plan").await;
        let shared = env
            .files
            .share_folder(&owner, "/Projects/Team")
            .await
            .unwrap();
        for (who, role) in [("e@example.org", "editor"), ("v@example.org", "viewer")] {
            env.files
                .add_member(&owner, shared.id, who, role)
                .await
                .unwrap();
        }
        Team {
            env,
            owner,
            editor,
            viewer,
            stranger,
            folder: shared.id,
        }
    }

    /// Moves `who`'s mount point of the team folder into a folder `/Holder` of theirs.
    async fn mount_in_holder(t: &Team, who: &Principal) {
        t.env
            .files
            .create_folder(who, "/Holder", false, false)
            .await
            .unwrap();
        t.env
            .files
            .move_entry(who, "/Team", "/Holder/Team", false)
            .await
            .unwrap();
    }

    fn paths(entries: &[crate::files::Entry]) -> Vec<String> {
        entries.iter().map(|e| e.path.to_string()).collect()
    }

    #[tokio::test]
    async fn members_see_the_folder_at_their_root_and_each_others_changes() {
        let t = team().await;
        let env = &t.env;
        assert_eq!(
            env.download(&t.editor, "/Team/plan.txt").await.unwrap(),
            b"plan"
        );
        assert_eq!(
            env.download(&t.owner, "/Projects/Team/plan.txt")
                .await
                .unwrap(),
            b"plan"
        );
        env.upload(&t.editor, "/Team/Notes/from editor.txt", b"e")
            .await;
        assert_eq!(
            env.download(&t.owner, "/Projects/Team/Notes/from editor.txt")
                .await
                .unwrap(),
            b"e"
        );
        let listing = env
            .files
            .list_folder(&t.viewer, "/", true, 100, None)
            .await
            .unwrap();
        assert_eq!(
            paths(&listing.entries),
            [
                "/Team",
                "/Team/Notes",
                "/Team/Notes/from editor.txt",
                "/Team/plan.txt"
            ]
        );
        // A member's mount point is theirs to move and rename.
        env.files
            .move_entry(&t.viewer, "/Team", "/Work/Our team", false)
            .await
            .unwrap();
        assert_eq!(
            env.download(&t.viewer, "/Work/Our team/plan.txt")
                .await
                .unwrap(),
            b"plan"
        );
        assert!(env.download(&t.editor, "/Team/plan.txt").await.is_ok());
        assert!(
            env.download(&t.owner, "/Projects/Team/plan.txt")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn viewers_cannot_write_and_strangers_cannot_see() {
        let t = team().await;
        let env = &t.env;
        let plan = env
            .files
            .metadata(&t.owner, "/Projects/Team/plan.txt")
            .await
            .unwrap();
        let by_id = format!("id:{}", plan.node.id);
        let viewer_writes = [
            env.upload_with(&t.viewer, "/Team/new.txt", b"x", UploadMode::Add)
                .await
                .map(|_| ()),
            env.upload_with(&t.viewer, "/Team/plan.txt", b"x", UploadMode::Overwrite)
                .await
                .map(|_| ()),
            env.files
                .create_folder(&t.viewer, "/Team/Sub", false, false)
                .await
                .map(|_| ()),
            env.files
                .delete(&t.viewer, "/Team/plan.txt")
                .await
                .map(|_| ()),
            env.files
                .move_entry(&t.viewer, "/Team/plan.txt", "/mine.txt", false)
                .await
                .map(|_| ()),
            env.files
                .copy_entry(&t.viewer, "/Team/plan.txt", "/Team/copy.txt", false)
                .await
                .map(|_| ()),
        ];
        for result in viewer_writes {
            assert!(matches!(result, Err(AppError::Forbidden)), "{result:?}");
        }
        // Copying out to their own home is reading: allowed.
        env.files
            .copy_entry(&t.viewer, "/Team/plan.txt", "/mine.txt", false)
            .await
            .unwrap();

        for result in [
            env.files.metadata(&t.stranger, &by_id).await.map(|_| ()),
            env.files
                .download(&t.stranger, &by_id, None, Default::default())
                .await
                .map(|_| ()),
            env.files.delete(&t.stranger, &by_id).await.map(|_| ()),
            env.files.members(&t.stranger, t.folder).await.map(|_| ()),
            env.files
                .add_member(&t.stranger, t.folder, "s@example.org", "editor")
                .await
                .map(|_| ()),
        ] {
            assert!(matches!(result, Err(AppError::NotFound(_))), "{result:?}");
        }
        for result in [
            env.files
                .add_member(&t.editor, t.folder, "s@example.org", "editor")
                .await
                .map(|_| ()),
            env.files.unshare_folder(&t.editor, t.folder).await,
            env.files
                .set_member_role(&t.viewer, t.folder, t.editor.user_id, "viewer")
                .await,
        ] {
            assert!(matches!(result, Err(AppError::Forbidden)), "{result:?}");
        }
        let found = env.files.search(&t.stranger, "plan", None, 10, None).await;
        assert!(found.unwrap().entries.is_empty());
    }

    #[tokio::test]
    async fn content_counts_against_the_owner_whoever_uploads_it() {
        let t = team().await;
        let env = &t.env;
        let before = env.store.usage_of(t.owner.user_id);
        env.upload(&t.editor, "/Team/big.bin", &[7; 100]).await;
        assert_eq!(env.store.usage_of(t.owner.user_id), before + 100);
        assert_eq!(env.store.usage_of(t.editor.user_id), 0);
        // Moving it out to the editor's home moves the bytes to the editor.
        env.files
            .move_entry(&t.editor, "/Team/big.bin", "/big.bin", false)
            .await
            .unwrap();
        assert_eq!(env.store.usage_of(t.owner.user_id), before);
        assert_eq!(env.store.usage_of(t.editor.user_id), 100);
        assert!(
            env.download(&t.owner, "/Projects/Team/big.bin")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn roles_change_members_leave_and_unsharing_gives_the_content_back() {
        let t = team().await;
        let env = &t.env;
        env.files
            .set_member_role(&t.owner, t.folder, t.viewer.user_id, "editor")
            .await
            .unwrap();
        env.upload(&t.viewer, "/Team/now I can.txt", b"y").await;
        let members = env.files.members(&t.viewer, t.folder).await.unwrap();
        let roles: Vec<_> = members
            .iter()
            .map(|m| (m.email.as_str().to_owned(), m.role.as_str()))
            .collect();
        assert_eq!(
            roles,
            [
                ("o@example.org".into(), "owner"),
                ("e@example.org".into(), "editor"),
                ("v@example.org".into(), "editor")
            ]
        );

        env.files
            .leave_shared_folder(&t.viewer, t.folder)
            .await
            .unwrap();
        assert!(matches!(
            env.download(&t.viewer, "/Team/plan.txt").await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            env.files.leave_shared_folder(&t.owner, t.folder).await,
            Err(AppError::NotAllowed(_))
        ));
        let err = env
            .files
            .delete(&t.owner, "/Projects/Team")
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::NotAllowed(_)), "{err:?}");

        env.files.unshare_folder(&t.owner, t.folder).await.unwrap();
        assert!(env.download(&t.editor, "/Team/plan.txt").await.is_err());
        assert_eq!(
            env.download(&t.owner, "/Projects/Team/now I can.txt")
                .await
                .unwrap(),
            b"y"
        );
        assert!(env.files.shared_folders(&t.owner).await.unwrap().is_empty());
        assert_eq!(env.store.usage_of(t.owner.user_id), 5);
        // A plain folder again: it can be trashed.
        env.files.delete(&t.owner, "/Projects/Team").await.unwrap();
    }

    #[tokio::test]
    async fn a_members_feed_covers_the_shared_folder_from_the_moment_it_is_mounted() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("o@example.org").await;
        env.member("m@example.org").await;
        let owner = env.principal("o@example.org").await;
        let member = env.principal("m@example.org").await;
        env.upload(&owner, "/Shared/old.txt", b"o").await;
        let owner_cursor = env.files.latest_cursor(&owner, "/", true).await.unwrap();
        let shared = env.files.share_folder(&owner, "/Shared").await.unwrap();
        let cursor = env.files.latest_cursor(&member, "/", true).await.unwrap();

        env.files
            .add_member(&owner, shared.id, "m@example.org", "viewer")
            .await
            .unwrap();
        let page = env.files.changes_since(&member, cursor, 100).await.unwrap();
        let seen: Vec<String> = page
            .entries
            .iter()
            .map(|e| match e {
                FeedEntry::Present(entry) => format!("+{}", entry.path),
                FeedEntry::Deleted(path) => format!("-{path}"),
            })
            .collect();
        assert_eq!(seen, ["+/Shared", "+/Shared/old.txt"]);

        // Later changes by the owner reach the member's feed, and wake their longpoll.
        let waiting = env.files.wait_for_changes(page.cursor.clone());
        let change = async {
            tokio::task::yield_now().await;
            env.upload(&owner, "/Shared/new.txt", b"n").await;
        };
        let (woke, ()) = tokio::join!(
            tokio::time::timeout(std::time::Duration::from_secs(5), waiting),
            change
        );
        woke.expect("woken by the owner's upload").unwrap();
        let page = env
            .files
            .changes_since(&member, page.cursor, 100)
            .await
            .unwrap();
        assert!(
            matches!(&page.entries[..], [FeedEntry::Present(e)] if e.path.to_string() == "/Shared/new.txt")
        );

        // The owner's cursor from before sharing follows the shared folder from then on.
        env.upload(&member, "/mine.txt", b"m").await;
        let page = env
            .files
            .changes_since(&owner, owner_cursor, 100)
            .await
            .unwrap();
        assert_eq!(page.cursor.positions.len(), 2, "joined the shared folder");
        env.upload(&owner, "/Shared/third.txt", b"3").await;
        let page = env
            .files
            .changes_since(&owner, page.cursor, 100)
            .await
            .unwrap();
        assert!(
            matches!(&page.entries[..], [FeedEntry::Present(e)] if e.path.to_string() == "/Shared/third.txt")
        );
    }

    #[tokio::test]
    async fn search_finds_matches_in_own_and_shared_folders_only() {
        let t = team().await;
        let env = &t.env;
        env.upload(&t.editor, "/my plan.txt", b"m").await;
        env.upload(&t.stranger, "/stranger plan.txt", b"s").await;
        let found = env
            .files
            .search(&t.editor, "PLAN", None, 1, None)
            .await
            .unwrap();
        let mut all = paths(&found.entries);
        let mut after = found.next_after;
        while let Some(position) = after {
            let page = env
                .files
                .search(&t.editor, "plan", None, 1, Some(position))
                .await
                .unwrap();
            all.extend(paths(&page.entries));
            after = page.next_after;
        }
        assert_eq!(all, ["/my plan.txt", "/Team/plan.txt"]);
        let owner = env
            .files
            .search(&t.owner, "plan", Some("/Projects"), 10, None)
            .await;
        assert_eq!(paths(&owner.unwrap().entries), ["/Projects/Team/plan.txt"]);
    }

    #[tokio::test]
    async fn links_into_a_shared_folder_live_as_long_as_their_makers_membership() {
        let t = team().await;
        let env = &t.env;
        let link = env
            .files
            .create_link(
                &t.editor,
                crate::files::NewLink {
                    path: "/Team".into(),
                    expires_at: None,
                    password: None,
                    allow_download: true,
                },
            )
            .await
            .unwrap();
        let visit = open_visit(&link.token);
        let page = env.files.link_list(&visit, "/", 10, None).await.unwrap();
        assert_eq!(paths(&page.entries), ["/plan.txt"]);
        let inside = env.files.link_metadata(&visit, "/plan.txt").await.unwrap();
        assert_eq!(inside.node.name.as_str(), "plan.txt");
        let viewer_link = env
            .files
            .create_link(
                &t.viewer,
                crate::files::NewLink {
                    path: "/Team/plan.txt".into(),
                    expires_at: None,
                    password: None,
                    allow_download: true,
                },
            )
            .await;
        assert!(matches!(viewer_link, Err(AppError::Forbidden)));

        env.files
            .leave_shared_folder(&t.editor, t.folder)
            .await
            .unwrap();
        assert!(matches!(
            env.files.link_list(&visit, "/", 10, None).await,
            Err(AppError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn an_email_without_an_account_is_invited_and_answered_like_an_account() {
        let t = team().await;
        let env = &t.env;
        let known = env
            .files
            .add_member(&t.owner, t.folder, "s@example.org", "viewer")
            .await
            .unwrap();
        let invited = env
            .files
            .add_member(&t.owner, t.folder, "new@example.org", "viewer")
            .await
            .unwrap();
        assert_eq!(
            (known.role, invited.role, invited.email.as_str()),
            (Role::Viewer, Role::Viewer, "new@example.org")
        );
        assert!(matches!(
            env.files
                .add_member(&t.owner, t.folder, "new@example.org", "editor")
                .await,
            Err(AppError::Conflict(crate::Conflict::AlreadyMember, _))
        ));
        // Listed like a member; its role changes and it can be withdrawn like one.
        let listed = env.files.members(&t.owner, t.folder).await.unwrap();
        assert!(listed.iter().any(|m| m.user == invited.user));
        env.files
            .set_member_role(&t.owner, t.folder, invited.user, "editor")
            .await
            .unwrap();
        assert!(matches!(
            env.files
                .remove_member(&t.editor, t.folder, invited.user)
                .await,
            Err(AppError::Forbidden)
        ));
        env.files
            .remove_member(&t.owner, t.folder, invited.user)
            .await
            .unwrap();
        assert!(
            !env.files
                .members(&t.owner, t.folder)
                .await
                .unwrap()
                .iter()
                .any(|m| m.user == invited.user)
        );

        // Invited again, the account created for the email joins with the invited role.
        env.files
            .add_member(&t.owner, t.folder, "new@example.org", "editor")
            .await
            .unwrap();
        env.member("new@example.org").await;
        let newcomer = env.principal("new@example.org").await;
        assert_eq!(
            env.download(&newcomer, "/Team/plan.txt").await.unwrap(),
            b"plan"
        );
        env.upload(&newcomer, "/Team/hello.txt", b"hi").await;
        let listed = env.files.members(&t.owner, t.folder).await.unwrap();
        let joined = listed
            .iter()
            .find(|m| m.email.as_str() == "new@example.org")
            .unwrap();
        assert_eq!((joined.user, joined.role), (newcomer.user_id, Role::Editor));
        assert_eq!(
            listed
                .iter()
                .filter(|m| m.email.as_str() == "new@example.org")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn adding_members_is_throttled_per_account_whatever_the_outcome() {
        let t = team().await;
        let env = &t.env;
        // The team's two additions counted; refused additions (already a member, a stranger
        // to the folder) count too, so that probing costs the same as adding.
        let mut admitted = 2;
        let refused = env
            .files
            .add_member(&t.owner, t.folder, "e@example.org", "viewer")
            .await;
        assert!(matches!(refused, Err(AppError::Conflict(..))));
        admitted += 1;
        while admitted < crate::testing::FakeThrottle::MEMBER_ADDITIONS {
            let email = format!("guest{admitted}@example.org");
            env.files
                .add_member(&t.owner, t.folder, &email, "viewer")
                .await
                .unwrap();
            admitted += 1;
        }
        let throttled = env
            .files
            .add_member(&t.owner, t.folder, "one-more@example.org", "viewer")
            .await;
        assert!(
            matches!(throttled, Err(AppError::Throttled { .. })),
            "{throttled:?}"
        );
        assert!(
            !env.files
                .members(&t.owner, t.folder)
                .await
                .unwrap()
                .iter()
                .any(|m| m.email.as_str() == "one-more@example.org"),
            "a throttled addition added nobody"
        );
        // Another account's additions are its own.
        env.upload(&t.stranger, "/Theirs/x.txt", b"x").await;
        let theirs = env
            .files
            .share_folder(&t.stranger, "/Theirs")
            .await
            .unwrap();
        env.files
            .add_member(&t.stranger, theirs.id, "o@example.org", "viewer")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_longpoll_on_a_cursor_into_a_lost_shared_folder_answers_reset_at_once() {
        let t = team().await;
        let env = &t.env;
        let editors = env
            .files
            .latest_cursor(&t.editor, "/Team", true)
            .await
            .unwrap();
        let viewers = env.files.latest_cursor(&t.viewer, "/", true).await.unwrap();
        let owners = env
            .files
            .latest_cursor(&t.owner, "/Projects/Team", true)
            .await
            .unwrap();
        let wait = |cursor| {
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                env.files.wait_for_changes(cursor),
            )
        };
        // The viewer leaves: their cursor (which follows the folder) is reset, not left waiting.
        env.files
            .leave_shared_folder(&t.viewer, t.folder)
            .await
            .unwrap();
        let answer = wait(viewers).await.expect("answers at once");
        assert!(
            matches!(answer, Err(AppError::CursorReset(_))),
            "{answer:?}"
        );
        // The owner unshares: the folder's journal is gone.
        env.files.unshare_folder(&t.owner, t.folder).await.unwrap();
        for cursor in [editors, owners] {
            let answer = wait(cursor).await.expect("answers at once");
            assert!(
                matches!(answer, Err(AppError::CursorReset(_))),
                "{answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_editor_over_the_owners_quota_learns_only_that_there_is_no_room() {
        let env = TestEnv::new(SignupPolicy::Open);
        let owner = env.member_with_quota("o@example.org", 100).await;
        env.member("e@example.org").await;
        let editor = env.principal("e@example.org").await;
        env.upload(&owner, "/private.bin", &[0; 60]).await;
        env.upload(&owner, "/Team/plan.txt", b"plan").await;
        let shared = env.files.share_folder(&owner, "/Team").await.unwrap();
        env.files
            .add_member(&owner, shared.id, "e@example.org", "editor")
            .await
            .unwrap();
        let err = env
            .upload_with(&editor, "/Team/big.bin", &[1; 50], UploadMode::Add)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::OwnerQuotaExceeded), "{err:?}");
        let err = env
            .upload_with(&owner, "/Team/big.bin", &[1; 50], UploadMode::Add)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AppError::QuotaExceeded { quota: 100, .. }),
            "{err:?}"
        );
    }

    fn open_visit(token: &str) -> crate::files::LinkVisit {
        crate::files::LinkVisit {
            token: token.into(),
            password: None,
            pass: false,
            client_address: None,
        }
    }

    fn link_to(path: &str) -> crate::files::NewLink {
        crate::files::NewLink {
            path: path.into(),
            expires_at: None,
            password: None,
            allow_download: true,
        }
    }

    #[tokio::test]
    async fn a_viewer_cannot_publish_the_shared_folder_through_their_mount_point() {
        let t = team().await;
        let env = &t.env;
        let err = env
            .files
            .create_link(&t.viewer, link_to("/Team"))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Forbidden), "{err:?}");
        // By id too: the rule is about the node, not the way it was named.
        let mount = env.files.metadata(&t.viewer, "/Team").await.unwrap();
        let err = env
            .files
            .create_link(&t.viewer, link_to(&format!("id:{}", mount.node.id)))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Forbidden), "{err:?}");
        // The editor may, and the owner sees and revokes the editor's link.
        let link = env
            .files
            .create_link(&t.editor, link_to("/Team"))
            .await
            .unwrap();
        let listed = env.files.list_links(&t.owner).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].created_by, "e@example.org");
        assert_eq!(
            listed[0].target.as_ref().unwrap().path.to_string(),
            "/Projects/Team",
            "shown where the owner has the folder"
        );
        assert!(env.files.list_links(&t.viewer).await.unwrap().is_empty());
        assert!(matches!(
            env.files.revoke_link(&t.stranger, link.link.id).await,
            Err(AppError::NotFound(_))
        ));
        env.files.revoke_link(&t.owner, link.link.id).await.unwrap();
        assert!(matches!(
            env.files
                .link_list(&open_visit(&link.token), "/", 10, None)
                .await,
            Err(AppError::LinkGone(_))
        ));
    }

    #[tokio::test]
    async fn a_link_above_a_mount_point_does_not_cross_into_a_folder_its_maker_cannot_publish() {
        let t = team().await;
        let env = &t.env;
        mount_in_holder(&t, &t.viewer).await;
        env.upload(&t.viewer, "/Holder/own.txt", b"own").await;
        let link = env
            .files
            .create_link(&t.viewer, link_to("/Holder"))
            .await
            .unwrap();
        let visit = open_visit(&link.token);
        let page = env.files.link_list(&visit, "/", 10, None).await.unwrap();
        assert_eq!(
            paths(&page.entries),
            ["/own.txt"],
            "the mount point is not there"
        );
        for path in ["/Team", "/Team/plan.txt"] {
            assert!(matches!(
                env.files.link_metadata(&visit, path).await,
                Err(AppError::NotFound(_))
            ));
        }
        // The owner sees the link that holds their folder (not where it is: that is the
        // viewer's tree) and may revoke it.
        let listed = env.files.list_links(&t.owner).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].target.is_none());

        // The same link made by an editor shows the shared folder's content, until the editor
        // becomes a viewer.
        mount_in_holder(&t, &t.editor).await;
        let link = env
            .files
            .create_link(&t.editor, link_to("/Holder"))
            .await
            .unwrap();
        let visit = open_visit(&link.token);
        let page = env
            .files
            .link_list(&visit, "/Team", 10, None)
            .await
            .unwrap();
        assert_eq!(paths(&page.entries), ["/Team/plan.txt"]);
        assert!(
            env.files
                .link_metadata(&visit, "/Team/plan.txt")
                .await
                .is_ok()
        );
        let editor_id = env.principal("e@example.org").await.user_id;
        env.files
            .set_member_role(&t.owner, t.folder, editor_id, "viewer")
            .await
            .unwrap();
        assert!(matches!(
            env.files.link_metadata(&visit, "/Team/plan.txt").await,
            Err(AppError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn shared_folders_do_not_nest_and_are_not_copied_or_trashed() {
        let t = team().await;
        let env = &t.env;
        mount_in_holder(&t, &t.editor).await;
        env.upload(&t.editor, "/Holder/Team/Sub/x.txt", b"x").await;
        let refusals = [
            env.files
                .share_folder(&t.editor, "/Holder")
                .await
                .map(|_| ()),
            env.files
                .share_folder(&t.editor, "/Holder/Team/Sub")
                .await
                .map(|_| ()),
            env.files.delete(&t.editor, "/Holder").await.map(|_| ()),
            env.files
                .copy_entry(&t.editor, "/Holder", "/Holder copy", false)
                .await
                .map(|_| ()),
        ];
        for result in refusals {
            assert!(matches!(result, Err(AppError::NotAllowed(_))), "{result:?}");
        }
        // Another shared folder cannot go into this one.
        env.upload(&t.editor, "/Mine/x.txt", b"x").await;
        env.files.share_folder(&t.editor, "/Mine").await.unwrap();
        let err = env
            .files
            .move_entry(&t.editor, "/Mine", "/Holder/Team/Mine", false)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::NotAllowed(_)), "{err:?}");
        assert!(matches!(
            env.files.share_folder(&t.editor, "/Mine").await,
            Err(AppError::Conflict(..))
        ));
        assert_eq!(env.files.shared_folders(&t.editor).await.unwrap().len(), 2);
    }
}
