use coffer_domain::account::{TokenId, UserId};

use crate::AppError;

/// The authenticated caller of a use case, as established by [`crate::accounts::Accounts::authenticate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// Who is calling.
    pub user_id: UserId,
    /// Whether they administer the installation (read at authentication time).
    pub is_admin: bool,
    /// The token they presented.
    pub token_id: TokenId,
}

impl Principal {
    /// Succeeds only for administrators.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}
