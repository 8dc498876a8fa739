use coffer_domain::account::TokenId;

use super::{Accounts, TokenListing};
use crate::{AppError, Principal};

impl Accounts {
    /// The caller's live tokens, newest first.
    pub async fn list_tokens(&self, caller: &Principal) -> Result<Vec<TokenListing>, AppError> {
        let now = self.ports.clock.now();
        let mut tx = self.ports.uow.begin_read().await?;
        let tokens = tx.tokens().list_for_user(caller.user_id).await?;
        Ok(tokens
            .into_iter()
            .filter(|t| t.is_live_at(now))
            .map(|token| TokenListing {
                is_current: token.id == caller.token_id,
                token,
            })
            .collect())
    }

    /// Revokes one of the caller's tokens. Another user's token is "not found".
    #[tracing::instrument(skip_all, fields(user = %caller.user_id))]
    pub async fn revoke_token(&self, caller: &Principal, id: TokenId) -> Result<(), AppError> {
        let mut tx = self.ports.uow.begin().await?;
        if !tx.tokens().delete(caller.user_id, id).await? {
            return Err(AppError::NotFound("token"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Revokes the token the caller is using.
    pub async fn log_out(&self, caller: &Principal) -> Result<(), AppError> {
        self.revoke_token(caller, caller.token_id).await
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;

    use crate::AppError;
    use crate::testing::TestEnv;

    #[tokio::test]
    async fn lists_live_tokens_and_marks_the_current_one() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let first = env.log_in("a@example.org").await;
        let second = env.log_in("a@example.org").await;
        let me = env.accounts.authenticate(&second.secret).await.unwrap();
        let listed = env.accounts.list_tokens(&me).await.unwrap();
        assert_eq!(listed.len(), 2);
        let current: Vec<_> = listed.iter().filter(|t| t.is_current).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].token.id, second.token.id);
        assert!(listed.iter().any(|t| t.token.id == first.token.id));
    }

    #[tokio::test]
    async fn logout_revokes_only_the_current_token() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let kept = env.log_in("a@example.org").await;
        let dropped = env.log_in("a@example.org").await;
        let me = env.accounts.authenticate(&dropped.secret).await.unwrap();
        env.accounts.log_out(&me).await.unwrap();
        assert!(matches!(
            env.accounts.authenticate(&dropped.secret).await,
            Err(AppError::Unauthenticated)
        ));
        assert!(env.accounts.authenticate(&kept.secret).await.is_ok());
    }

    #[tokio::test]
    async fn cannot_revoke_someone_elses_token() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        env.member("b@example.org").await;
        let alice = env.log_in("a@example.org").await;
        let bob = env.log_in("b@example.org").await;
        let bob_principal = env.accounts.authenticate(&bob.secret).await.unwrap();
        let err = env
            .accounts
            .revoke_token(&bob_principal, alice.token.id)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::NotFound("token")));
        assert!(env.accounts.authenticate(&alice.secret).await.is_ok());
    }
}
