use std::fmt;

use crate::DomainError;

/// A number of bytes (sizes, usage, quotas). Never negative; at most `i64::MAX` so every database
/// can store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteCount(u64);

impl ByteCount {
    /// Largest representable count.
    pub const MAX: ByteCount = ByteCount(i64::MAX as u64);

    /// Parses a count from an unsigned integer.
    pub fn new(bytes: u64) -> Result<Self, DomainError> {
        if bytes > Self::MAX.0 {
            return Err(DomainError::invalid("bytes", "is too large"));
        }
        Ok(Self(bytes))
    }

    /// The count.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ByteCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_what_databases_store() {
        assert_eq!(ByteCount::new(0).unwrap().get(), 0);
        assert_eq!(ByteCount::new(i64::MAX as u64).unwrap(), ByteCount::MAX);
        assert!(ByteCount::new(i64::MAX as u64 + 1).is_err());
    }
}
