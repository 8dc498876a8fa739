use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use coffer_domain::Timestamp;
use coffer_domain::account::{Email, Password, PasswordHash, TokenDigest};
use uuid::Uuid;

use crate::InfrastructureError;

/// The current time.
pub trait Clock: Send + Sync {
    /// Now, in UTC, truncated to microseconds.
    fn now(&self) -> Timestamp;
}

/// Unique ids for new entities (time-ordered UUIDs in production).
pub trait IdGenerator: Send + Sync {
    /// A new id, never returned before.
    fn new_id(&self) -> Uuid;
}

/// What a secret is for; it shows in the secret's prefix so a leaked one is recognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A bearer token for the API.
    AccessToken,
    /// A sign-up invitation code.
    Invite,
    /// The token of a shared link.
    Link,
}

/// A freshly generated secret: the plaintext goes to the client once, the digest is stored.
#[derive(Clone)]
pub struct IssuedSecret {
    /// The secret itself; never stored or logged.
    pub plaintext: String,
    /// Its digest, for storage and look-up.
    pub digest: TokenDigest,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedSecret(<redacted>)")
    }
}

/// Unguessable secrets and their digests.
pub trait SecretGenerator: Send + Sync {
    /// A new secret with at least 256 random bits.
    fn generate(&self, kind: SecretKind) -> IssuedSecret;
    /// The digest of a secret presented by a client.
    fn digest(&self, plaintext: &str) -> TokenDigest;
}

/// Slow, salted password hashing.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfrastructureError>;
    /// Checks a password against a stored hash. With no hash, does the same work against a decoy
    /// and returns false, so that unknown accounts answer as slowly as known ones.
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, InfrastructureError>;
}

/// What attempts are counted against: failed logins and link passwords, and member additions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// One account (whether or not it exists).
    Account(Email),
    /// One client address.
    ClientAddress(IpAddr),
    /// The password of one shared link.
    Link(coffer_domain::sharing::LinkId),
    /// Members one account adds (or invites) to its shared folders: every addition counts,
    /// so that nobody can probe or spam email addresses at speed.
    MemberAdditions(coffer_domain::account::UserId),
}

/// Counts password attempts and says when to refuse further ones.
///
/// An attempt counts as a failure from the moment it is admitted, before its password is
/// checked, so that parallel attempts cannot outrun the limit; a success takes it back.
#[async_trait]
pub trait LoginThrottle: Send + Sync {
    /// Admits one attempt against every key at once and counts it: `Err(retry_after)`, with
    /// nothing counted, while any of them is locked out.
    async fn attempt(&self, keys: &[ThrottleKey]) -> Result<(), Duration>;
    /// The attempt admitted for `keys` succeeded: an account's or a link's failures are
    /// forgotten; a client address gets its attempt back.
    async fn succeeded(&self, keys: &[ThrottleKey]);
}

/// A future that completes when something it waits for happens.
pub type Wakeup = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

/// Tells waiters, on every server instance, that a namespace changed.
#[async_trait]
pub trait ChangeNotifier: Send + Sync {
    /// Announces a committed change of `namespace` (call after the commit).
    async fn changed(&self, namespace: coffer_domain::files::NamespaceId);
    /// A future that completes at the next announced change of `namespace` after this call.
    fn next_change(&self, namespace: coffer_domain::files::NamespaceId) -> Wakeup;
}

/// A task to run in the background.
pub type BackgroundTask = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

/// Runs work after a request has been answered (e.g. telling event plugins what happened).
pub trait TaskSpawner: Send + Sync {
    /// Runs `task` in the background; its failures are its own to log.
    fn spawn(&self, task: BackgroundTask);
}
