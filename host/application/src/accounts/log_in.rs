use coffer_domain::account::{AccessToken, Email, Password, TokenId, TokenName};

use super::{Accounts, IssuedToken, LogIn};
use crate::AppError;
use crate::ports::{SecretKind, ThrottleKey};

impl Accounts {
    /// Checks email and password and issues a bearer token.
    ///
    /// Failed attempts are throttled per account and per client address; unknown accounts,
    /// wrong passwords and malformed emails all answer the same [`AppError::InvalidCredentials`].
    #[tracing::instrument(skip_all)]
    pub async fn log_in(&self, input: LogIn) -> Result<IssuedToken, AppError> {
        let token_name = TokenName::parse(input.token_name.as_deref().unwrap_or("login"))?;
        let mut keys = Vec::with_capacity(2);
        let email = Email::parse(&input.email).ok();
        if let Some(email) = &email {
            keys.push(ThrottleKey::Account(email.clone()));
        }
        if let Some(address) = input.client_address {
            keys.push(ThrottleKey::ClientAddress(address));
        }
        // Counted before the password is checked: parallel attempts cannot outrun the limit.
        if let Err(retry_after) = self.ports.login_throttle.attempt(&keys).await {
            tracing::warn!(?keys, "login throttled");
            return Err(AppError::Throttled { retry_after });
        }

        let user = match &email {
            Some(email) => {
                let mut tx = self.ports.uow.begin_read().await?;
                tx.users().find_by_email(email).await?
            }
            None => None,
        };
        let password = Password::candidate(&input.password);
        let hash = user.as_ref().map(|u| u.password_hash());
        if !self.ports.passwords.verify(&password, hash).await? {
            return Err(AppError::InvalidCredentials);
        }
        let Some(user) = user else {
            return Err(AppError::InvalidCredentials);
        };
        self.ports.login_throttle.succeeded(&keys).await;
        if !user.is_active() {
            return Err(AppError::AccountDisabled);
        }

        let now = self.ports.clock.now();
        let secret = self.ports.secrets.generate(SecretKind::AccessToken);
        let token = AccessToken {
            id: TokenId::from_uuid(self.ports.ids.new_id()),
            user_id: user.id(),
            digest: secret.digest,
            name: token_name,
            created_at: now,
            expires_at: now + self.rules.token_lifetime,
        };
        let mut tx = self.ports.uow.begin().await?;
        tx.tokens().delete_expired_for_user(user.id(), now).await?;
        tx.tokens().insert(&token).await?;
        tx.commit().await?;
        tracing::info!(user = %user.id(), "logged in");
        Ok(IssuedToken {
            token,
            secret: secret.plaintext,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use coffer_domain::account::SignupPolicy;

    use crate::AppError;
    use crate::accounts::LogIn;
    use crate::testing::TestEnv;

    fn login(email: &str, password: &str) -> LogIn {
        LogIn {
            email: email.into(),
            password: password.into(),
            token_name: Some("laptop".into()),
            client_address: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        }
    }

    #[tokio::test]
    async fn issues_a_token_that_authenticates() {
        let env = TestEnv::new(SignupPolicy::Open);
        let user = env.member("a@example.org").await;
        let issued = env
            .accounts
            .log_in(login("A@example.org", "long enough"))
            .await
            .unwrap();
        assert_eq!(issued.token.user_id, user.id());
        assert_eq!(issued.token.name.as_str(), "laptop");
        assert_eq!(
            issued.token.expires_at - issued.token.created_at,
            env.rules.token_lifetime
        );
        let principal = env.accounts.authenticate(&issued.secret).await.unwrap();
        assert_eq!(principal.user_id, user.id());
        assert_eq!(principal.token_id, issued.token.id);
    }

    #[tokio::test]
    async fn wrong_password_unknown_account_and_malformed_email_look_alike() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        for (email, password) in [
            ("a@example.org", "wrong password"),
            ("nobody@example.org", "long enough"),
            ("not an email", "long enough"),
        ] {
            let err = env
                .accounts
                .log_in(login(email, password))
                .await
                .unwrap_err();
            assert!(
                matches!(err, AppError::InvalidCredentials),
                "{email}: {err:?}"
            );
        }
        assert_eq!(env.store.token_count(), 0);
    }

    #[tokio::test]
    async fn a_disabled_account_cannot_log_in() {
        let env = TestEnv::new(SignupPolicy::Open);
        let admin = env.admin("root@example.org").await;
        let user = env.member("a@example.org").await;
        env.disable(&admin, user.id()).await;
        let err = env
            .accounts
            .log_in(login("a@example.org", "long enough"))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::AccountDisabled));
    }

    #[tokio::test]
    async fn repeated_failures_are_throttled_even_with_the_right_password() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        for _ in 0..crate::testing::FakeThrottle::LIMIT {
            let err = env
                .accounts
                .log_in(login("a@example.org", "guess"))
                .await
                .unwrap_err();
            assert!(matches!(err, AppError::InvalidCredentials));
        }
        let err = env
            .accounts
            .log_in(login("a@example.org", "long enough"))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Throttled { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn expired_tokens_are_swept_at_the_next_login() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        env.accounts
            .log_in(login("a@example.org", "long enough"))
            .await
            .unwrap();
        env.clock.advance(env.rules.token_lifetime);
        env.accounts
            .log_in(login("a@example.org", "long enough"))
            .await
            .unwrap();
        assert_eq!(env.store.token_count(), 1);
    }
}
