use super::Accounts;
use crate::{AppError, Principal};

impl Accounts {
    /// Resolves a bearer secret to the caller. Expired or revoked tokens are refused, and so is
    /// every token of a disabled account, from the moment it is disabled.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal, AppError> {
        let digest = self.ports.secrets.digest(secret);
        // Every request authenticates: a connection that broke under it costs one more read.
        let digest = &digest;
        crate::error::retry_transient(|| self.authenticate_digest(digest)).await
    }

    async fn authenticate_digest(
        &self,
        digest: &coffer_domain::account::TokenDigest,
    ) -> Result<Principal, AppError> {
        let mut tx = self.ports.uow.begin_read().await?;
        let token = tx
            .tokens()
            .find_by_digest(digest)
            .await?
            .filter(|t| t.is_live_at(self.ports.clock.now()))
            .ok_or(AppError::Unauthenticated)?;
        let user = tx
            .users()
            .get(token.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if !user.is_active() {
            return Err(AppError::AccountDisabled);
        }
        Ok(Principal {
            user_id: user.id(),
            is_admin: user.is_admin(),
            token_id: token.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;

    use crate::AppError;
    use crate::testing::TestEnv;

    #[tokio::test]
    async fn unknown_and_expired_tokens_are_refused() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let err = env.accounts.authenticate("cft_made_up").await.unwrap_err();
        assert!(matches!(err, AppError::Unauthenticated));

        let token = env.log_in("a@example.org").await;
        env.clock.advance(env.rules.token_lifetime);
        let err = env.accounts.authenticate(&token.secret).await.unwrap_err();
        assert!(matches!(err, AppError::Unauthenticated));
    }

    #[tokio::test]
    async fn disabling_a_user_stops_their_tokens_at_once_and_enabling_restores_them() {
        let env = TestEnv::new(SignupPolicy::Open);
        let admin = env.admin("root@example.org").await;
        let user = env.member("a@example.org").await;
        let token = env.log_in("a@example.org").await;
        env.disable(&admin, user.id()).await;
        let err = env.accounts.authenticate(&token.secret).await.unwrap_err();
        assert!(matches!(err, AppError::AccountDisabled));
        env.enable(&admin, user.id()).await;
        assert!(env.accounts.authenticate(&token.secret).await.is_ok());
    }
}
