use std::fmt;

use uuid::Uuid;

use super::UserId;
use crate::{DomainError, Timestamp};

/// Identifies an access token, e.g. to revoke it; not the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenId(Uuid);

impl TokenId {
    /// Wraps an id minted by the id generator or read from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

/// The SHA-256 digest of a secret (a bearer token or an invitation code). Only digests are stored,
/// so a leaked database grants no access.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// Wraps a digest.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(<redacted>)")
    }
}

/// A label the owner gives a token (e.g. "laptop"), 1 to 100 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    /// Longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Parses a name, trimming surrounding space.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(DomainError::invalid("token_name", "must not be empty"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid(
                "token_name",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "token_name",
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An opaque bearer token issued at login. Only its digest is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token's id.
    pub id: TokenId,
    /// Whose token it is.
    pub user_id: UserId,
    /// SHA-256 of the secret the client holds.
    pub digest: TokenDigest,
    /// The owner's label for it.
    pub name: TokenName,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl AccessToken {
    /// Whether the token still grants access at `now` (expiry is exclusive).
    pub fn is_live_at(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn token_names_are_trimmed_and_bounded() {
        assert_eq!(TokenName::parse("  laptop ").unwrap().as_str(), "laptop");
        assert!(TokenName::parse("   ").is_err());
        assert!(TokenName::parse("tab\there").is_err());
        assert!(TokenName::parse(&"n".repeat(100)).is_ok());
        assert!(TokenName::parse(&"n".repeat(101)).is_err());
    }

    #[test]
    fn a_token_expires_at_its_expiry_instant() {
        let issued = Timestamp::default();
        let token = AccessToken {
            id: TokenId::from_uuid(Uuid::nil()),
            user_id: UserId::from_uuid(Uuid::nil()),
            digest: TokenDigest::from_bytes([0; 32]),
            name: TokenName::parse("t").unwrap(),
            created_at: issued,
            expires_at: issued + Duration::hours(1),
        };
        assert!(token.is_live_at(issued));
        assert!(token.is_live_at(issued + Duration::minutes(59)));
        assert!(!token.is_live_at(issued + Duration::hours(1)));
    }
}
