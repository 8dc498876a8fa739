use super::{AccountView, Accounts};
use crate::{AppError, Principal};

impl Accounts {
    /// The caller's own account.
    pub async fn account(&self, caller: &Principal) -> Result<AccountView, AppError> {
        let mut tx = self.ports.uow.begin_read().await?;
        let user = tx
            .users()
            .get(caller.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        AccountView::load(tx.as_mut(), user, &self.rules, &self.plugins).await
    }
}
