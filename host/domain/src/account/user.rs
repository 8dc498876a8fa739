use std::fmt;

use uuid::Uuid;

use super::{ByteCount, Email, PasswordHash};
use crate::{DomainError, Timestamp};

/// Identifies a user for good; never reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Uuid);

impl UserId {
    /// Wraps an id minted by the id generator or read from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// Whether a user may sign in and use their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Normal.
    Active,
    /// Locked out by an administrator: no login, and every token stops working at once.
    Disabled,
}

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    id: UserId,
    email: Email,
    password_hash: PasswordHash,
    is_admin: bool,
    status: UserStatus,
    quota_override: Option<ByteCount>,
    created_at: Timestamp,
}

impl User {
    /// A new, active user.
    pub fn register(
        id: UserId,
        email: Email,
        password_hash: PasswordHash,
        is_admin: bool,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            email,
            password_hash,
            is_admin,
            status: UserStatus::Active,
            quota_override: None,
            created_at: now,
        }
    }

    /// Rebuilds a user from storage, trusting that it was valid when stored.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        id: UserId,
        email: Email,
        password_hash: PasswordHash,
        is_admin: bool,
        status: UserStatus,
        quota_override: Option<ByteCount>,
        created_at: Timestamp,
    ) -> Self {
        Self {
            id,
            email,
            password_hash,
            is_admin,
            status,
            quota_override,
            created_at,
        }
    }

    /// The user's id.
    pub fn id(&self) -> UserId {
        self.id
    }
    /// The user's (normalised) email address, also their login name.
    pub fn email(&self) -> &Email {
        &self.email
    }
    /// The stored password hash.
    pub fn password_hash(&self) -> &PasswordHash {
        &self.password_hash
    }
    /// Whether the user administers this installation.
    pub fn is_admin(&self) -> bool {
        self.is_admin
    }
    /// Active or disabled.
    pub fn status(&self) -> UserStatus {
        self.status
    }
    /// Whether the user may sign in and use tokens.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
    /// The quota an administrator set for this user, if any (otherwise the default applies).
    pub fn quota_override(&self) -> Option<ByteCount> {
        self.quota_override
    }
    /// The quota in force: this user's own, or the installation's default.
    pub fn effective_quota(&self, default: ByteCount) -> ByteCount {
        self.quota_override.unwrap_or(default)
    }
    /// When the account was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// Replaces the password hash (password change or reset).
    pub fn change_password(&mut self, password_hash: PasswordHash) {
        self.password_hash = password_hash;
    }

    /// Enables or disables the account. An administrator cannot disable their own account, so an
    /// installation can never lock out the person fixing it.
    pub fn set_status(&mut self, status: UserStatus, actor: UserId) -> Result<(), DomainError> {
        if actor == self.id && status == UserStatus::Disabled {
            return Err(DomainError::NotAllowed(
                "administrators cannot disable their own account",
            ));
        }
        self.status = status;
        Ok(())
    }

    /// Grants or revokes administration. An administrator cannot revoke their own rights.
    pub fn set_admin(&mut self, is_admin: bool, actor: UserId) -> Result<(), DomainError> {
        if actor == self.id && !is_admin {
            return Err(DomainError::NotAllowed(
                "administrators cannot revoke their own administration rights",
            ));
        }
        self.is_admin = is_admin;
        Ok(())
    }

    /// Sets this user's own quota, or `None` to fall back to the installation's default.
    pub fn set_quota(&mut self, quota: Option<ByteCount>) {
        self.quota_override = quota;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(admin: bool) -> User {
        User::register(
            UserId::from_uuid(Uuid::from_u128(1)),
            Email::parse("a@example.org").unwrap(),
            PasswordHash::from_phc("$x".into()),
            admin,
            Timestamp::default(),
        )
    }

    #[test]
    fn a_new_user_is_active_with_the_default_quota() {
        let u = user(false);
        assert!(u.is_active());
        let default = ByteCount::new(10).unwrap();
        assert_eq!(u.effective_quota(default), default);
    }

    #[test]
    fn quota_override_wins_over_default() {
        let mut u = user(false);
        let own = ByteCount::new(99).unwrap();
        u.set_quota(Some(own));
        assert_eq!(u.effective_quota(ByteCount::new(10).unwrap()), own);
        u.set_quota(None);
        assert_eq!(u.effective_quota(ByteCount::new(10).unwrap()).get(), 10);
    }

    #[test]
    fn an_admin_cannot_lock_themselves_out() {
        let mut u = user(true);
        let me = u.id();
        assert!(u.set_status(UserStatus::Disabled, me).is_err());
        assert!(u.set_admin(false, me).is_err());
        assert!(u.is_active() && u.is_admin());
    }

    #[test]
    fn another_admin_can_disable_and_demote() {
        let mut u = user(true);
        let other = UserId::from_uuid(Uuid::from_u128(2));
        u.set_status(UserStatus::Disabled, other).unwrap();
        u.set_admin(false, other).unwrap();
        assert!(!u.is_active() && !u.is_admin());
        u.set_status(UserStatus::Active, other).unwrap();
        assert!(u.is_active());
    }
}
