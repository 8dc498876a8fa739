use coffer_domain::account::{Email, Password, SignupDecision, User, UserId};

use super::{AccountView, Accounts, SignUp};
use crate::AppError;

impl Accounts {
    /// Creates an account as the sign-up policy allows. The first account of an installation
    /// becomes its administrator.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(&self, input: SignUp) -> Result<AccountView, AppError> {
        let email = Email::parse(&input.email)?;
        let password = Password::parse(&input.password)?;
        // Hash before the transaction: it is slow and needs no lock.
        let password_hash = self.ports.passwords.hash(&password).await?;
        let now = self.ports.clock.now();
        let id = UserId::from_uuid(self.ports.ids.new_id());

        let mut tx = self.ports.uow.begin().await?;
        tx.users().lock_against_inserts().await?;
        let existing = tx.users().count().await?;
        let decision = self
            .rules
            .signup
            .decide(existing)
            .map_err(|_| AppError::SignupClosed)?;
        let accepted_invite = if decision == SignupDecision::MemberWithInvite {
            let code = input.invite_code.as_deref().map(str::trim).unwrap_or("");
            if code.is_empty() {
                return Err(AppError::InviteRequired);
            }
            let digest = self.ports.secrets.digest(code);
            let mut invite = tx
                .invites()
                .find_by_digest(&digest)
                .await?
                .ok_or(AppError::InviteInvalid("unknown invitation code"))?;
            invite.accept(&email, id, now).map_err(|err| match err {
                coffer_domain::DomainError::NotAllowed(why) => AppError::InviteInvalid(why),
                other => other.into(),
            })?;
            Some(invite)
        } else {
            None
        };
        if tx.users().find_by_email(&email).await?.is_some() {
            return Err(AppError::EmailTaken);
        }
        let is_admin = decision == SignupDecision::FirstAdministrator;
        let user = User::register(id, email, password_hash, is_admin, now);
        super::register(&self.ports, tx.as_mut(), &user).await?;
        // After the user exists: the invitation records who accepted it.
        if let Some(invite) = accepted_invite {
            tx.invites().update(&invite).await?;
        }
        tx.commit().await?;
        tracing::info!(user = %user.id(), is_admin, "account created");
        Ok(AccountView::of(user, 0, &self.rules, &self.plugins).await)
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;

    use crate::AppError;
    use crate::accounts::SignUp;
    use crate::testing::TestEnv;

    fn sign_up(email: &str, invite: Option<&str>) -> SignUp {
        SignUp {
            email: email.into(),
            password: "long enough".into(),
            invite_code: invite.map(Into::into),
        }
    }

    #[tokio::test]
    async fn first_account_becomes_admin_and_later_ones_do_not() {
        let env = TestEnv::new(SignupPolicy::Open);
        let first = env
            .accounts
            .sign_up(sign_up("a@example.org", None))
            .await
            .unwrap();
        let second = env
            .accounts
            .sign_up(sign_up("b@example.org", None))
            .await
            .unwrap();
        assert!(first.user.is_admin());
        assert!(!second.user.is_admin());
        assert_eq!(second.quota, env.rules.default_quota);
    }

    #[tokio::test]
    async fn email_is_unique_ignoring_case() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.accounts
            .sign_up(sign_up("a@example.org", None))
            .await
            .unwrap();
        let err = env
            .accounts
            .sign_up(sign_up("A@Example.org", None))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::EmailTaken), "{err:?}");
        assert_eq!(env.store.user_count(), 1);
    }

    #[tokio::test]
    async fn bad_input_is_rejected_before_anything_is_stored() {
        let env = TestEnv::new(SignupPolicy::Open);
        let err = env
            .accounts
            .sign_up(sign_up("nope", None))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Invalid { field: "email", .. }));
        let mut short = sign_up("a@example.org", None);
        short.password = "short".into();
        let err = env.accounts.sign_up(short).await.unwrap_err();
        assert!(matches!(
            err,
            AppError::Invalid {
                field: "password",
                ..
            }
        ));
        assert_eq!(env.store.user_count(), 0);
    }

    #[tokio::test]
    async fn closed_sign_up_admits_nobody() {
        let env = TestEnv::new(SignupPolicy::Closed);
        let err = env
            .accounts
            .sign_up(sign_up("a@example.org", None))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::SignupClosed));
        assert_eq!(env.store.user_count(), 0);
    }

    #[tokio::test]
    async fn invite_only_needs_a_valid_unused_invitation() {
        let env = TestEnv::new(SignupPolicy::InviteOnly);
        let admin = env.admin("root@example.org").await;

        let err = env
            .accounts
            .sign_up(sign_up("b@example.org", None))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::InviteRequired));
        let err = env
            .accounts
            .sign_up(sign_up("b@example.org", Some("made-up")))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::InviteInvalid(_)));

        let invite = env.admin_uc.create_invite(&admin, None).await.unwrap();
        let joined = env
            .accounts
            .sign_up(sign_up("b@example.org", Some(&invite.code)))
            .await
            .unwrap();
        assert!(!joined.user.is_admin());

        let err = env
            .accounts
            .sign_up(sign_up("c@example.org", Some(&invite.code)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AppError::InviteInvalid(_)),
            "used twice: {err:?}"
        );
        assert_eq!(env.store.user_count(), 2);
    }

    #[tokio::test]
    async fn an_expired_or_misaddressed_invitation_is_refused() {
        let env = TestEnv::new(SignupPolicy::InviteOnly);
        let admin = env.admin("root@example.org").await;
        let for_bob = env
            .admin_uc
            .create_invite(&admin, Some("bob@example.org".into()))
            .await
            .unwrap();
        let err = env
            .accounts
            .sign_up(sign_up("eve@example.org", Some(&for_bob.code)))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::InviteInvalid(_)));

        env.clock.advance(env.rules.invite_lifetime);
        let err = env
            .accounts
            .sign_up(sign_up("bob@example.org", Some(&for_bob.code)))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::InviteInvalid(_)));
        assert_eq!(env.store.user_count(), 1);
    }
}
