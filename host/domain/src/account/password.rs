use std::fmt;

use crate::DomainError;

/// A plaintext password as typed by its owner, checked against the password rules.
///
/// It never prints: `Debug` is redacted so it cannot leak into logs.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password, in characters (NIST SP 800-63B minimum).
    pub const MIN_CHARS: usize = 8;
    /// Longest accepted password, in bytes; bounds the cost of hashing hostile input.
    pub const MAX_BYTES: usize = 1024;

    /// Accepts a new password if it follows the rules.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(DomainError::invalid(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(DomainError::invalid(
                "password",
                format!("must be at most {} bytes", Self::MAX_BYTES),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wraps a password offered at login without applying the rules for new passwords: an old
    /// password may predate them. Overlong input is cut so that hashing cost stays bounded.
    pub fn candidate(raw: &str) -> Self {
        let mut end = raw.len().min(Self::MAX_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        Self(raw[..end].to_owned())
    }

    /// The plaintext, for the password hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A stored password hash in PHC string format (e.g. `$argon2id$v=19$...`); opaque to the domain.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a password hasher or read from storage.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_rules() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("exactly8").is_ok());
        assert!(
            Password::parse("ééééééé").is_err(),
            "counts characters, not bytes"
        );
        assert!(Password::parse(&"x".repeat(Password::MAX_BYTES)).is_ok());
        assert!(Password::parse(&"x".repeat(Password::MAX_BYTES + 1)).is_err());
    }

    #[test]
    fn never_prints_the_secret() {
        let password = Password::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
        let hash = PasswordHash::from_phc("$argon2id$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
    }

    #[test]
    fn login_candidates_are_cut_on_a_char_boundary() {
        let long = "é".repeat(Password::MAX_BYTES);
        let candidate = Password::candidate(&long);
        assert!(candidate.expose().len() <= Password::MAX_BYTES);
        assert!(candidate.expose().chars().all(|c| c == 'é'));
        assert_eq!(Password::candidate("abc").expose(), "abc");
    }
}
