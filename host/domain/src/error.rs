use thiserror::Error;

/// A rule of the domain was broken by input or by an attempted state change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value did not parse into its value object; `field` names the input.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which input was invalid (e.g. `email`).
        field: &'static str,
        /// Why, in words fit for the person who sent it.
        reason: String,
    },
    /// The change is not allowed in the entity's current state.
    #[error("{0}")]
    NotAllowed(&'static str),
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
