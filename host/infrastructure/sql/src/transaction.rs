//! The transaction type of each backend, implementing every repository port. The bodies are
//! written once in [`sql_transaction!`] and compiled against each backend's concrete types.

use async_trait::async_trait;
use coffer_application::InfrastructureError;
use coffer_application::ports::{
    InviteRepository, RepositoryError, TokenRepository, Transaction, UserRepository,
};
use coffer_domain::Timestamp;
use coffer_domain::account::{AccessToken, Email, Invite, TokenDigest, TokenId, User, UserId};

use crate::queries::*;
use crate::rows::{InviteRow, TokenRow, UserRow, micros, quota_column};

/// Any database error, as the port's backend error.
pub(crate) fn backend_error(err: sqlx::Error) -> RepositoryError {
    RepositoryError::Backend(InfrastructureError::new(err))
}

/// A unique violation becomes `Conflict(what)`; anything else a backend error.
fn conflict_on(what: &'static str) -> impl FnOnce(sqlx::Error) -> RepositoryError {
    move |err| match err.as_database_error() {
        Some(db) if db.is_unique_violation() => RepositoryError::Conflict(what),
        _ => backend_error(err),
    }
}

macro_rules! sql_transaction {
    ($name:ident, $db:ty, lock_users: $lock_users:expr) => {
        /// A transaction on this backend; dropping it without commit rolls it back.
        pub(crate) struct $name {
            tx: sqlx::Transaction<'static, $db>,
        }

        impl $name {
            pub(crate) fn new(tx: sqlx::Transaction<'static, $db>) -> Self {
                Self { tx }
            }
        }

        #[async_trait]
        impl Transaction for $name {
            fn users(&mut self) -> &mut dyn UserRepository {
                self
            }
            fn tokens(&mut self) -> &mut dyn TokenRepository {
                self
            }
            fn invites(&mut self) -> &mut dyn InviteRepository {
                self
            }
            async fn commit(self: Box<Self>) -> Result<(), RepositoryError> {
                self.tx.commit().await.map_err(backend_error)
            }
        }

        #[async_trait]
        impl UserRepository for $name {
            async fn insert(&mut self, user: &User) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_USER)
                    .bind(user.id().as_uuid())
                    .bind(user.email().as_str())
                    .bind(user.password_hash().as_str())
                    .bind(user.is_admin())
                    .bind(!user.is_active())
                    .bind(quota_column(user))
                    .bind(micros(user.created_at()))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(conflict_on("email"))?;
                Ok(())
            }

            async fn update(&mut self, user: &User) -> Result<(), RepositoryError> {
                sqlx::query(UPDATE_USER)
                    .bind(user.id().as_uuid())
                    .bind(user.email().as_str())
                    .bind(user.password_hash().as_str())
                    .bind(user.is_admin())
                    .bind(!user.is_active())
                    .bind(quota_column(user))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(conflict_on("email"))?;
                Ok(())
            }

            async fn get(&mut self, id: UserId) -> Result<Option<User>, RepositoryError> {
                sqlx::query_as::<_, UserRow>(GET_USER)
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(backend_error)?
                    .map(UserRow::into_user)
                    .transpose()
            }

            async fn find_by_email(
                &mut self,
                email: &Email,
            ) -> Result<Option<User>, RepositoryError> {
                sqlx::query_as::<_, UserRow>(FIND_USER_BY_EMAIL)
                    .bind(email.as_str())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(backend_error)?
                    .map(UserRow::into_user)
                    .transpose()
            }

            async fn lock_against_inserts(&mut self) -> Result<(), RepositoryError> {
                let statement: Option<&'static str> = $lock_users;
                if let Some(statement) = statement {
                    sqlx::query(statement)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(backend_error)?;
                }
                Ok(())
            }

            async fn count(&mut self) -> Result<u64, RepositoryError> {
                let n: i64 = sqlx::query_scalar(COUNT_USERS)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(backend_error)?;
                Ok(n as u64)
            }

            async fn list(
                &mut self,
                after: Option<&Email>,
                limit: u32,
            ) -> Result<Vec<User>, RepositoryError> {
                let rows = match after {
                    Some(after) => {
                        sqlx::query_as::<_, UserRow>(LIST_USERS_AFTER)
                            .bind(after.as_str())
                            .bind(i64::from(limit))
                            .fetch_all(&mut *self.tx)
                            .await
                    }
                    None => {
                        sqlx::query_as::<_, UserRow>(LIST_USERS)
                            .bind(i64::from(limit))
                            .fetch_all(&mut *self.tx)
                            .await
                    }
                }
                .map_err(backend_error)?;
                rows.into_iter().map(UserRow::into_user).collect()
            }
        }

        #[async_trait]
        impl TokenRepository for $name {
            async fn insert(&mut self, token: &AccessToken) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_TOKEN)
                    .bind(token.id.as_uuid())
                    .bind(token.user_id.as_uuid())
                    .bind(&token.digest.as_bytes()[..])
                    .bind(token.name.as_str())
                    .bind(micros(token.created_at))
                    .bind(micros(token.expires_at))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(conflict_on("token"))?;
                Ok(())
            }

            async fn find_by_digest(
                &mut self,
                digest: &TokenDigest,
            ) -> Result<Option<AccessToken>, RepositoryError> {
                sqlx::query_as::<_, TokenRow>(FIND_TOKEN_BY_DIGEST)
                    .bind(&digest.as_bytes()[..])
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(backend_error)?
                    .map(TokenRow::into_token)
                    .transpose()
            }

            async fn list_for_user(
                &mut self,
                user: UserId,
            ) -> Result<Vec<AccessToken>, RepositoryError> {
                sqlx::query_as::<_, TokenRow>(LIST_TOKENS_FOR_USER)
                    .bind(user.as_uuid())
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(TokenRow::into_token)
                    .collect()
            }

            async fn delete(&mut self, user: UserId, id: TokenId) -> Result<bool, RepositoryError> {
                let done = sqlx::query(DELETE_TOKEN)
                    .bind(id.as_uuid())
                    .bind(user.as_uuid())
                    .execute(&mut *self.tx)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_all_for_user(&mut self, user: UserId) -> Result<u64, RepositoryError> {
                let done = sqlx::query(DELETE_TOKENS_OF_USER)
                    .bind(user.as_uuid())
                    .execute(&mut *self.tx)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }

            async fn delete_expired_for_user(
                &mut self,
                user: UserId,
                now: Timestamp,
            ) -> Result<u64, RepositoryError> {
                let done = sqlx::query(DELETE_EXPIRED_TOKENS_OF_USER)
                    .bind(user.as_uuid())
                    .bind(micros(now))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl InviteRepository for $name {
            async fn insert(&mut self, invite: &Invite) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_INVITE)
                    .bind(invite.id.as_uuid())
                    .bind(&invite.code_digest.as_bytes()[..])
                    .bind(invite.email.as_ref().map(Email::as_str))
                    .bind(invite.created_by.as_uuid())
                    .bind(micros(invite.created_at))
                    .bind(micros(invite.expires_at))
                    .bind(invite.accepted_by.map(|u| u.as_uuid()))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(conflict_on("invite"))?;
                Ok(())
            }

            async fn find_by_digest(
                &mut self,
                digest: &TokenDigest,
            ) -> Result<Option<Invite>, RepositoryError> {
                sqlx::query_as::<_, InviteRow>(FIND_INVITE_BY_DIGEST)
                    .bind(&digest.as_bytes()[..])
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(backend_error)?
                    .map(InviteRow::into_invite)
                    .transpose()
            }

            async fn update(&mut self, invite: &Invite) -> Result<(), RepositoryError> {
                sqlx::query(UPDATE_INVITE)
                    .bind(invite.id.as_uuid())
                    .bind(invite.accepted_by.map(|u| u.as_uuid()))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }
        }
    };
}

// SQLite write transactions begin IMMEDIATE, which already excludes every other writer.
sql_transaction!(SqliteTx, sqlx::Sqlite, lock_users: None);
// SHARE ROW EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE lock an INSERT takes.
sql_transaction!(PgTx, sqlx::Postgres, lock_users: Some(LOCK_USERS_AGAINST_INSERTS));
