use uuid::Uuid;

use crate::account::{PasswordHash, TokenDigest, UserId};
use crate::files::{NamespaceId, NodeId};
use crate::{DomainError, Timestamp};

/// Identifies a shared link (to list or revoke it); not its secret token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkId(Uuid);

impl LinkId {
    /// Wraps an id minted by the id generator or read from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

/// A link to a file or folder for people without an account. Only the digest of its token and
/// the hash of its password are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedLink {
    /// The link.
    pub id: LinkId,
    /// SHA-256 of the token in the link's URL.
    pub token_digest: TokenDigest,
    /// Who made it.
    pub owner: UserId,
    /// The tree the linked node is in.
    pub namespace: NamespaceId,
    /// The linked file or folder (a folder link reaches everything below it, nothing above).
    pub node: NodeId,
    /// If set, visitors must give this password.
    pub password: Option<PasswordHash>,
    /// If set, the link stops working then.
    pub expires_at: Option<Timestamp>,
    /// Whether visitors may download content (metadata and listings are always visible).
    pub allow_download: bool,
    /// When it was made.
    pub created_at: Timestamp,
    /// When its owner revoked it.
    pub revoked_at: Option<Timestamp>,
}

/// Whether a link works at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// It works.
    Active,
    /// Its expiry has passed.
    Expired,
    /// Its owner revoked it.
    Revoked,
}

impl SharedLink {
    /// Checks an expiry asked for at creation: it must lie in the future.
    pub fn check_expiry(expires_at: Option<Timestamp>, now: Timestamp) -> Result<(), DomainError> {
        match expires_at {
            Some(at) if at <= now => Err(DomainError::Invalid {
                field: "expires_at",
                reason: "must be in the future".into(),
            }),
            _ => Ok(()),
        }
    }

    /// The link's state at `now` (revocation wins over expiry).
    pub fn state(&self, now: Timestamp) -> LinkState {
        if self.revoked_at.is_some() {
            LinkState::Revoked
        } else if self.expires_at.is_some_and(|at| now >= at) {
            LinkState::Expired
        } else {
            LinkState::Active
        }
    }

    /// Revokes the link (idempotent: the first revocation time stays).
    pub fn revoke(&mut self, now: Timestamp) {
        self.revoked_at.get_or_insert(now);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn link(expires_at: Option<Timestamp>) -> SharedLink {
        SharedLink {
            id: LinkId::from_uuid(Uuid::nil()),
            token_digest: TokenDigest::from_bytes([0; 32]),
            owner: UserId::from_uuid(Uuid::nil()),
            namespace: NamespaceId::from_uuid(Uuid::nil()),
            node: NodeId::from_uuid(Uuid::nil()),
            password: None,
            expires_at,
            allow_download: true,
            created_at: Timestamp::default(),
            revoked_at: None,
        }
    }

    #[test]
    fn a_link_expires_at_its_expiry_and_revocation_wins() {
        let now = Timestamp::default();
        let mut l = link(Some(now + Duration::hours(1)));
        assert_eq!(l.state(now), LinkState::Active);
        assert_eq!(l.state(now + Duration::hours(1)), LinkState::Expired);
        l.revoke(now);
        l.revoke(now + Duration::minutes(5));
        assert_eq!(l.revoked_at, Some(now), "the first revocation stays");
        assert_eq!(l.state(now + Duration::hours(2)), LinkState::Revoked);
        assert_eq!(
            link(None).state(now + Duration::days(10_000)),
            LinkState::Active
        );
    }

    #[test]
    fn expiry_must_be_in_the_future() {
        let now = Timestamp::default();
        assert!(SharedLink::check_expiry(Some(now), now).is_err());
        assert!(SharedLink::check_expiry(Some(now + Duration::seconds(1)), now).is_ok());
        assert!(SharedLink::check_expiry(None, now).is_ok());
    }
}
