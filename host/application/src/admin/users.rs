use coffer_domain::account::{ByteCount, Email, UserId, UserStatus};

use super::{Actor, Administration, UserPage};
use crate::accounts::AccountView;
use crate::{AppError, Principal};

/// Changes an administrator makes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// Disable (`true`) or enable (`false`) the account.
    pub disabled: Option<bool>,
    /// Grant or revoke administration.
    pub is_admin: Option<bool>,
    /// Set the user's own quota (`Some(Some(bytes))`) or fall back to the default (`Some(None)`).
    pub quota_bytes: Option<Option<u64>>,
}

impl Administration {
    /// Largest page of users.
    pub const MAX_PAGE: u32 = 1000;

    /// Lists users by email, `limit` at a time (capped at [`Self::MAX_PAGE`]).
    pub async fn list_users(
        &self,
        actor: Actor<'_>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<UserPage, AppError> {
        actor.require_admin()?;
        let after = after.map(Email::parse).transpose()?;
        let limit = limit.clamp(1, Self::MAX_PAGE);
        let mut tx = self.ports.uow.begin_read().await?;
        // One extra row tells whether another page follows.
        let mut users = tx.users().list(after.as_ref(), limit + 1).await?;
        let next_after = if users.len() > limit as usize {
            users.truncate(limit as usize);
            users.last().map(|u| u.email().clone())
        } else {
            None
        };
        let mut views = Vec::with_capacity(users.len());
        for user in users {
            views.push(AccountView::load(tx.as_mut(), user, &self.rules, &self.plugins).await?);
        }
        Ok(UserPage {
            users: views,
            next_after,
        })
    }

    /// One user.
    pub async fn get_user(&self, caller: &Principal, id: UserId) -> Result<AccountView, AppError> {
        caller.require_admin()?;
        let mut tx = self.ports.uow.begin_read().await?;
        let user = tx
            .users()
            .get(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        AccountView::load(tx.as_mut(), user, &self.rules, &self.plugins).await
    }

    /// Applies `changes` to a user in one transaction: all or nothing.
    #[tracing::instrument(skip_all, fields(admin = %caller.user_id, user = %id))]
    pub async fn update_user(
        &self,
        caller: &Principal,
        id: UserId,
        changes: UserChanges,
    ) -> Result<AccountView, AppError> {
        caller.require_admin()?;
        let quota = match changes.quota_bytes {
            Some(Some(bytes)) => Some(Some(ByteCount::new(bytes).map_err(|_| {
                AppError::Invalid {
                    field: "quota_bytes",
                    reason: format!("must be at most {}", ByteCount::MAX.get()),
                }
            })?)),
            Some(None) => Some(None),
            None => None,
        };
        let mut tx = self.ports.uow.begin().await?;
        let mut user = tx
            .users()
            .get(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if let Some(disabled) = changes.disabled {
            let status = if disabled {
                UserStatus::Disabled
            } else {
                UserStatus::Active
            };
            let disabling = disabled && user.is_active();
            user.set_status(status, caller.user_id)?;
            if disabling {
                // A disabled account's links stop for good: enabling it again revives none.
                let revoked = tx
                    .links()
                    .revoke_all_of_owner(user.id(), self.ports.clock.now())
                    .await?;
                tracing::info!(revoked, "links of a disabled account revoked");
            }
        }
        if let Some(is_admin) = changes.is_admin {
            user.set_admin(is_admin, caller.user_id)?;
        }
        if let Some(quota) = quota {
            user.set_quota(quota);
        }
        tx.users().update(&user).await?;
        let used = tx.namespaces().usage_of_owner(user.id()).await?;
        tx.commit().await?;
        tracing::info!(?changes, "user changed by administrator");
        Ok(AccountView::of(user, used, &self.rules, &self.plugins).await)
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;

    use super::UserChanges;
    use crate::AppError;
    use crate::admin::Actor;
    use crate::testing::TestEnv;

    #[tokio::test]
    async fn only_admins_administer() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.admin("root@example.org").await;
        let member = env.member("a@example.org").await;
        let principal = env.principal("a@example.org").await;
        assert!(matches!(
            env.admin_uc
                .list_users(Actor::User(&principal), None, 10)
                .await,
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            env.admin_uc
                .update_user(
                    &principal,
                    member.id(),
                    UserChanges {
                        is_admin: Some(true),
                        ..Default::default()
                    }
                )
                .await,
            Err(AppError::Forbidden)
        ));
        assert!(!env.store.user(member.id()).is_admin());
    }

    #[tokio::test]
    async fn pages_through_users_in_email_order() {
        let env = TestEnv::new(SignupPolicy::Open);
        let admin = env.admin("root@example.org").await;
        for name in ["d", "b", "a", "c"] {
            env.member(&format!("{name}@example.org")).await;
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = env
                .admin_uc
                .list_users(Actor::User(&admin), after.as_deref(), 2)
                .await
                .unwrap();
            assert!(page.users.len() <= 2);
            seen.extend(page.users.iter().map(|u| u.user.email().to_string()));
            match page.next_after {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(
            seen,
            ["a", "b", "c", "d", "root"].map(|n| format!("{n}@example.org"))
        );
    }

    #[tokio::test]
    async fn sets_and_clears_a_quota() {
        let env = TestEnv::new(SignupPolicy::Open);
        let admin = env.admin("root@example.org").await;
        let member = env.member("a@example.org").await;
        let changed = env
            .admin_uc
            .update_user(
                &admin,
                member.id(),
                UserChanges {
                    quota_bytes: Some(Some(1234)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.quota.get(), 1234);
        let reset = env
            .admin_uc
            .update_user(
                &admin,
                member.id(),
                UserChanges {
                    quota_bytes: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(reset.quota, env.rules.default_quota);
        let too_big = env
            .admin_uc
            .update_user(
                &admin,
                member.id(),
                UserChanges {
                    quota_bytes: Some(Some(u64::MAX)),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            too_big,
            AppError::Invalid {
                field: "quota_bytes",
                ..
            }
        ));
    }

    #[tokio::test]
    async fn changes_apply_all_or_nothing() {
        let env = TestEnv::new(SignupPolicy::Open);
        let admin = env.admin("root@example.org").await;
        let err = env
            .admin_uc
            .update_user(
                &admin,
                admin.user_id,
                UserChanges {
                    quota_bytes: Some(Some(5)),
                    is_admin: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::NotAllowed(_)));
        let stored = env.store.user(admin.user_id);
        assert!(stored.is_admin());
        assert_eq!(stored.quota_override(), None);
    }

    #[tokio::test]
    async fn unknown_user_is_not_found() {
        let env = TestEnv::new(SignupPolicy::Open);
        let admin = env.admin("root@example.org").await;
        let ghost = coffer_domain::account::UserId::from_uuid(uuid::Uuid::from_u128(404));
        assert!(matches!(
            env.admin_uc.get_user(&admin, ghost).await,
            Err(AppError::NotFound("user"))
        ));
    }
}
