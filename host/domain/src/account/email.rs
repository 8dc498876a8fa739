use std::fmt;

use crate::DomainError;

/// An email address, normalised: trimmed and lower-cased, so that one mailbox is one account.
///
/// The check is deliberately structural (one `@`, a non-empty local part, a dotted domain without
/// spaces, at most 254 bytes): deliverability is proven by mail, not by a regular expression.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Longest address SMTP can carry (RFC 5321, forward-path minus the angle brackets).
    pub const MAX_LEN: usize = 254;

    /// Parses and normalises an address.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let email = raw.trim().to_lowercase();
        let invalid = |reason: &str| DomainError::invalid("email", reason);
        if email.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if email.len() > Self::MAX_LEN {
            return Err(invalid("must be at most 254 bytes"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("must contain '@'"));
        };
        if local.is_empty() || domain.contains('@') {
            return Err(invalid("must have exactly one '@' after a non-empty name"));
        }
        let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
        if !labels_ok {
            return Err(invalid("must end in a domain such as example.org"));
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`, e.g. for domain-based policies.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_surrounding_space() {
        let email = Email::parse("  Alice@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "alice@example.org");
        assert_eq!(email.domain(), "example.org");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "   ",
            "alice",
            "@example.org",
            "alice@",
            "alice@example",
            "alice@@example.org",
            "a@b@example.org",
            "al ice@example.org",
            "alice@example..org",
            "alice@exa\u{7}mple.org",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid { field: "email", .. }),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn rejects_overlong_addresses() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
        let fits = format!("{}@example.org", "a".repeat(Email::MAX_LEN - 12));
        assert!(Email::parse(&fits).is_ok());
    }
}
