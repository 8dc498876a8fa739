use coffer_domain::account::{Email, Password, User, UserId};

use super::{Actor, Administration};
use crate::AppError;
use crate::accounts::AccountView;

impl Administration {
    /// Creates an account whatever the sign-up policy: the operator (command line) or an
    /// administrator. Invitations to shared folders waiting for its email become memberships.
    #[tracing::instrument(skip_all)]
    pub async fn create_user(
        &self,
        actor: Actor<'_>,
        email: &str,
        password: &str,
        is_admin: bool,
    ) -> Result<AccountView, AppError> {
        actor.require_admin()?;
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        let hash = self.ports.passwords.hash(&password).await?;
        let user = User::register(
            UserId::from_uuid(self.ports.ids.new_id()),
            email,
            hash,
            is_admin,
            self.ports.clock.now(),
        );
        let mut tx = self.ports.uow.begin().await?;
        if tx.users().find_by_email(user.email()).await?.is_some() {
            return Err(AppError::EmailTaken);
        }
        crate::accounts::register(&self.ports, tx.as_mut(), &user).await?;
        tx.commit().await?;
        tracing::info!(user = %user.id(), is_admin, by = ?actor.user_id(), "account created by an administrator");
        Ok(AccountView::of(user, 0, &self.rules, &self.plugins).await)
    }

    /// Sets a new password and revokes every token of the account (operator only).
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(&self, email: &str, password: &str) -> Result<(), AppError> {
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        let hash = self.ports.passwords.hash(&password).await?;
        let mut tx = self.ports.uow.begin().await?;
        let mut user = tx
            .users()
            .find_by_email(&email)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        user.change_password(hash);
        tx.users().update(&user).await?;
        let revoked = tx.tokens().delete_all_for_user(user.id()).await?;
        tx.commit().await?;
        tracing::info!(user = %user.id(), revoked, "password reset by operator");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;

    use crate::AppError;
    use crate::admin::Actor;
    use crate::testing::TestEnv;

    #[tokio::test]
    async fn operator_creates_users_even_when_sign_up_is_closed() {
        let env = TestEnv::new(SignupPolicy::Closed);
        let admin = env
            .admin_uc
            .create_user(Actor::Operator, "root@example.org", "long enough", true)
            .await
            .unwrap();
        assert!(admin.user.is_admin());
        let err = env
            .admin_uc
            .create_user(Actor::Operator, "ROOT@example.org", "long enough", false)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::EmailTaken));
    }

    #[tokio::test]
    async fn administrators_create_users_and_members_do_not() {
        let env = TestEnv::new(SignupPolicy::Closed);
        env.admin_uc
            .create_user(Actor::Operator, "root@example.org", "long enough", true)
            .await
            .unwrap();
        let root = env.principal("root@example.org").await;
        let made = env
            .admin_uc
            .create_user(Actor::User(&root), "new@example.org", "long enough", false)
            .await
            .unwrap();
        assert!(!made.user.is_admin());
        let member = env.principal("new@example.org").await;
        let refused = env
            .admin_uc
            .create_user(
                Actor::User(&member),
                "third@example.org",
                "long enough",
                true,
            )
            .await;
        assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    }

    #[tokio::test]
    async fn reset_password_replaces_it_and_revokes_tokens() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let old = env.log_in("a@example.org").await;
        env.admin_uc
            .reset_password("a@example.org", "brand new secret")
            .await
            .unwrap();
        assert!(matches!(
            env.accounts.authenticate(&old.secret).await,
            Err(AppError::Unauthenticated)
        ));
        assert!(
            env.try_log_in("a@example.org", "long enough")
                .await
                .is_err()
        );
        assert!(
            env.try_log_in("a@example.org", "brand new secret")
                .await
                .is_ok()
        );
        assert!(matches!(
            env.admin_uc
                .reset_password("nobody@example.org", "brand new secret")
                .await,
            Err(AppError::NotFound("user"))
        ));
    }
}
