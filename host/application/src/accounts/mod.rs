//! Use cases of a person's own account: sign-up, login, authentication, tokens, logout.

mod authenticate;
mod log_in;
mod sign_up;
mod tokens;
mod view;

use std::net::IpAddr;

use chrono::Duration;
use coffer_domain::account::{AccessToken, ByteCount, SignupPolicy, User};

use crate::Ports;
use crate::plugins::PluginHost;

/// The rules an installation sets for accounts (from configuration).
#[derive(Debug, Clone)]
pub struct AccountRules {
    /// Who may sign up through the API.
    pub signup: SignupPolicy,
    /// How long a login token works.
    pub token_lifetime: Duration,
    /// How long an invitation can be used.
    pub invite_lifetime: Duration,
    /// Storage quota of users without their own.
    pub default_quota: ByteCount,
}

/// The account use cases.
#[derive(Clone)]
pub struct Accounts {
    ports: Ports,
    rules: AccountRules,
    plugins: PluginHost,
}

impl Accounts {
    /// Wires the use cases to their ports, rules and plugins (quota policies).
    pub fn new(ports: Ports, rules: AccountRules, plugins: PluginHost) -> Self {
        Self {
            ports,
            rules,
            plugins,
        }
    }
}

/// A user together with their storage quota and usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    /// The account.
    pub user: User,
    /// Its storage quota in force: its own or the default, unless a quota plugin sets another.
    pub quota: ByteCount,
    /// Bytes of the live files in the namespaces it owns.
    pub used: u64,
}

impl AccountView {
    /// The view of `user`, who uses `used` bytes: the quota in force is asked of the quota
    /// plugins (call it outside write transactions).
    pub(crate) async fn of(
        user: User,
        used: u64,
        rules: &AccountRules,
        plugins: &PluginHost,
    ) -> Self {
        let quota = plugins.quota_for(&user, rules.default_quota).await;
        Self { user, quota, used }
    }

    /// Reads the usage of `user` in `tx`, then its quota.
    pub(crate) async fn load(
        tx: &mut dyn crate::ports::Transaction,
        user: User,
        rules: &AccountRules,
        plugins: &PluginHost,
    ) -> Result<Self, crate::AppError> {
        let used = tx.namespaces().usage_of_owner(user.id()).await?;
        Ok(Self::of(user, used, rules, plugins).await)
    }
}

/// Stores a new user with their (empty) home namespace.
pub(crate) async fn register(
    ports: &Ports,
    tx: &mut dyn crate::ports::Transaction,
    user: &User,
) -> Result<(), crate::AppError> {
    match tx.users().insert(user).await {
        Err(crate::ports::RepositoryError::Conflict(_)) => return Err(crate::AppError::EmailTaken),
        other => other?,
    }
    let home = coffer_domain::files::Namespace {
        id: coffer_domain::files::NamespaceId::from_uuid(ports.ids.new_id()),
        kind: coffer_domain::files::NamespaceKind::Home,
        owner: user.id(),
        root: coffer_domain::files::NodeId::from_uuid(ports.ids.new_id()),
        used: ByteCount::default(),
    };
    tx.namespaces().insert(&home, user.created_at()).await?;
    join_invited_folders(ports, tx, user, &home).await
}

/// Turns the invitations for `user`'s email into memberships: each shared folder is mounted at
/// the root of their new home, under its owner's name for it (numbered if taken).
async fn join_invited_folders(
    ports: &Ports,
    tx: &mut dyn crate::ports::Transaction,
    user: &User,
    home: &coffer_domain::files::Namespace,
) -> Result<(), crate::AppError> {
    use coffer_domain::files::{Node, NodeId, NodeKind};
    for invitation in tx.members().take_invitations_for(user.email()).await? {
        let owner_mount = tx
            .members()
            .of_namespace(invitation.namespace)
            .await?
            .into_iter()
            .find(|m| m.role == coffer_domain::sharing::Role::Owner)
            .map(|m| m.mount);
        let Some(owner_mount) = owner_mount else {
            continue;
        };
        let Some(shared) = tx.nodes().get(owner_mount).await? else {
            continue;
        };
        let mut name = shared.name.clone();
        let mut n = 1;
        while tx.nodes().child(home.root, &name.key()).await?.is_some() {
            n += 1;
            name = shared.name.numbered(n, true)?;
        }
        let mut mount = Node::new(
            NodeId::from_uuid(ports.ids.new_id()),
            home.id,
            home.root,
            name,
            NodeKind::Folder,
            user.created_at(),
        );
        mount.mount = Some(invitation.namespace);
        tx.nodes().insert(&mount).await?;
        tx.members()
            .insert(&coffer_domain::sharing::Membership {
                namespace: invitation.namespace,
                user: user.id(),
                role: invitation.role,
                mount: mount.id,
                joined_at: user.created_at(),
            })
            .await?;
    }
    Ok(())
}

/// Input of [`Accounts::sign_up`].
#[derive(Debug, Clone)]
pub struct SignUp {
    /// Email as typed.
    pub email: String,
    /// Password as typed.
    pub password: String,
    /// Invitation code, needed when sign-up is invite-only.
    pub invite_code: Option<String>,
}

/// Input of [`Accounts::log_in`].
#[derive(Debug, Clone)]
pub struct LogIn {
    /// Email as typed.
    pub email: String,
    /// Password as typed.
    pub password: String,
    /// A label for the token, e.g. the device; defaults to "login".
    pub token_name: Option<String>,
    /// The client's network address, for throttling.
    pub client_address: Option<IpAddr>,
}

/// A token issued at login: the secret is shown to the client this once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The stored token.
    pub token: AccessToken,
    /// The bearer secret.
    pub secret: String,
}

/// One of a user's tokens, as listed to them.
#[derive(Debug, Clone)]
pub struct TokenListing {
    /// The token.
    pub token: AccessToken,
    /// Whether it is the one this request was made with.
    pub is_current: bool,
}
