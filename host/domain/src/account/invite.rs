use uuid::Uuid;

use super::{Email, TokenDigest, UserId};
use crate::{DomainError, Timestamp};

/// Identifies an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InviteId(Uuid);

impl InviteId {
    /// Wraps an id minted by the id generator or read from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

/// A single-use invitation to sign up when the installation is invite-only. Only the digest of its
/// code is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The invitation's id.
    pub id: InviteId,
    /// SHA-256 of the code handed to the invitee.
    pub code_digest: TokenDigest,
    /// If set, only this address may use the invitation.
    pub email: Option<Email>,
    /// The administrator who issued it.
    pub created_by: UserId,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Who used it, once used.
    pub accepted_by: Option<UserId>,
}

impl Invite {
    /// Consumes the invitation for `email`'s new account `user`.
    pub fn accept(
        &mut self,
        email: &Email,
        user: UserId,
        now: Timestamp,
    ) -> Result<(), DomainError> {
        if self.accepted_by.is_some() {
            return Err(DomainError::NotAllowed("the invitation was already used"));
        }
        if now >= self.expires_at {
            return Err(DomainError::NotAllowed("the invitation has expired"));
        }
        if self.email.as_ref().is_some_and(|e| e != email) {
            return Err(DomainError::NotAllowed(
                "the invitation is for another email address",
            ));
        }
        self.accepted_by = Some(user);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn invite(email: Option<&str>) -> Invite {
        Invite {
            id: InviteId::from_uuid(Uuid::nil()),
            code_digest: TokenDigest::from_bytes([1; 32]),
            email: email.map(|e| Email::parse(e).unwrap()),
            created_by: UserId::from_uuid(Uuid::nil()),
            created_at: Timestamp::default(),
            expires_at: Timestamp::default() + Duration::days(7),
            accepted_by: None,
        }
    }

    fn email(e: &str) -> Email {
        Email::parse(e).unwrap()
    }

    #[test]
    fn accepts_once() {
        let mut inv = invite(None);
        let user = UserId::from_uuid(Uuid::from_u128(5));
        inv.accept(&email("x@example.org"), user, Timestamp::default())
            .unwrap();
        assert_eq!(inv.accepted_by, Some(user));
        assert!(
            inv.accept(&email("y@example.org"), user, Timestamp::default())
                .is_err()
        );
    }

    #[test]
    fn refuses_after_expiry_and_for_another_address() {
        let user = UserId::from_uuid(Uuid::from_u128(5));
        let mut expired = invite(None);
        let late = Timestamp::default() + Duration::days(7);
        assert!(expired.accept(&email("x@example.org"), user, late).is_err());

        let mut addressed = invite(Some("bob@example.org"));
        let now = Timestamp::default();
        assert!(
            addressed
                .accept(&email("eve@example.org"), user, now)
                .is_err()
        );
        assert!(
            addressed
                .accept(&email("BOB@example.org"), user, now)
                .is_ok()
        );
    }
}
