use async_trait::async_trait;
use coffer_domain::Timestamp;
use coffer_domain::account::{AccessToken, Email, Invite, TokenDigest, TokenId, User, UserId};
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
