//! The transaction type of each backend, implementing every repository port. The bodies are
//! written once in [`sql_transaction!`] and compiled against each backend's concrete types.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use coffer_application::ports::{
    BlockRepository, ChangeRepository, InviteRepository, LinkRepository, MemberRepository,
    NamespaceRepository, NodeRepository, PluginRepository, RepositoryError, RevisionRepository,
    TokenRepository, Transaction, UploadRepository, UserRepository,
};
use coffer_application::{FailureKind, InfrastructureError};
use coffer_domain::Timestamp;
use coffer_domain::account::{AccessToken, Email, Invite, TokenDigest, TokenId, User, UserId};
use coffer_domain::files::{
    BlockHash, Change, Namespace, NamespaceId, Node, NodeId, NodePath, Revision, RevisionId,
    SessionBlock, UploadId, UploadSession,
};
use coffer_domain::plugins::{AuditEntry, Plugin, PluginId, PluginName};
use coffer_domain::sharing::{Invitation, LinkId, Membership, Role, SharedLink};
use futures_core::future::BoxFuture;
use uuid::Uuid;

use crate::queries::*;
use crate::rows::{
    AuditRow, ChangeRow, InvitationRow, InviteRow, LinkRow, MemberRow, NamespaceRow, NodeRow,
    PluginRow, RevisionRow, TokenRow, UploadBlockRow, UploadRow, UserRow, block_hash, file_columns,
    hooks_column, micros, namespace_kind, quota_column, upload_columns,
};

/// A database round trip that may take at most a deadline: a server that stops answering
/// (frozen, or cut off while its sockets stay open) fails the statement as unavailable instead
/// of holding the request for as long as it stalls. PostgreSQL's own `statement_timeout` ends
/// slow statements first; this bounds the wait when the server cannot end anything.
pub(crate) trait WithinDeadline<'a, T>:
    Future<Output = Result<T, sqlx::Error>> + Send + 'a
{
    /// This round trip, failing with [`deadline_passed`] after `deadline`.
    fn within(self, deadline: Duration) -> BoxFuture<'a, Result<T, sqlx::Error>>
    where
        Self: Sized,
    {
        Box::pin(async move {
            tokio::time::timeout(deadline, self)
                .await
                .unwrap_or_else(|_| Err(deadline_passed(deadline)))
        })
    }
}

impl<'a, T, F> WithinDeadline<'a, T> for F where
    F: Future<Output = Result<T, sqlx::Error>> + Send + 'a
{
}

/// The error of a round trip that outlived its deadline: I/O timed out (unavailable), and
/// not a broken connection to retry at once (the next try would wait as long).
pub(crate) fn deadline_passed(deadline: Duration) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("the database did not answer within {deadline:?}"),
    ))
}

/// Any database error, as the port's backend error, with its [`FailureKind`].
pub(crate) fn backend_error(err: sqlx::Error) -> RepositoryError {
    let kind = failure_kind(&err);
    let broken = is_broken_connection(&err);
    let err = InfrastructureError::new(err).with_kind(kind);
    // The pool drops a broken connection: idempotent work may be done again at once.
    RepositoryError::Backend(if broken { err.transient() } else { err })
}

/// What kind of failure a database error is: the database unreachable, gone, busy beyond the
/// timeouts or cancelled by one is [`FailureKind::Unavailable`]; a full disk is
/// [`FailureKind::StorageFull`].
pub(crate) fn failure_kind(err: &sqlx::Error) -> FailureKind {
    use sqlx::error::DatabaseError as _;
    match err {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            FailureKind::StorageFull
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => FailureKind::Unavailable,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres_failure_kind(pg.code())
            } else if let Some(sqlite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                sqlite_failure_kind(sqlite.code().and_then(|code| code.parse().ok()))
            } else {
                FailureKind::Other
            }
        }
        _ => FailureKind::Other,
    }
}

/// By SQLSTATE: class 08 (connection exception), 57P (the server shuts down or cannot take
/// connections), 57014 (cancelled: a statement timeout), 53 (insufficient resources; 53100 is a
/// full disk), 40001/40P01 (serialization failure, deadlock: worth retrying).
fn postgres_failure_kind(sqlstate: &str) -> FailureKind {
    match sqlstate {
        "53100" => FailureKind::StorageFull,
        "57014" | "40001" | "40P01" => FailureKind::Unavailable,
        _ if sqlstate.starts_with("08")
            || sqlstate.starts_with("57P")
            || sqlstate.starts_with("53") =>
        {
            FailureKind::Unavailable
        }
        _ => FailureKind::Other,
    }
}

/// By SQLite result code (primary code: the low byte of an extended one): SQLITE_FULL (13) is a
/// full disk; SQLITE_BUSY (5) and SQLITE_LOCKED (6) outlasted the busy timeout.
fn sqlite_failure_kind(code: Option<i32>) -> FailureKind {
    match code.map(|code| code & 0xff) {
        Some(13) => FailureKind::StorageFull,
        Some(5 | 6) => FailureKind::Unavailable,
        _ => FailureKind::Other,
    }
}

/// Whether the connection an error came from is broken (so the same work may succeed on
/// another one): I/O failed, or the server ended the session.
pub(crate) fn is_broken_connection(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(io) => io.kind() != std::io::ErrorKind::TimedOut,
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some_and(|pg| pg.code().starts_with("08") || pg.code().starts_with("57P")),
        _ => false,
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    #[test]
    fn sqlstates_and_sqlite_codes_have_kinds() {
        assert_eq!(postgres_failure_kind("57P01"), FailureKind::Unavailable);
        assert_eq!(postgres_failure_kind("08006"), FailureKind::Unavailable);
        assert_eq!(postgres_failure_kind("57014"), FailureKind::Unavailable);
        assert_eq!(postgres_failure_kind("53100"), FailureKind::StorageFull);
        assert_eq!(postgres_failure_kind("23505"), FailureKind::Other);
        assert_eq!(sqlite_failure_kind(Some(13)), FailureKind::StorageFull);
        assert_eq!(sqlite_failure_kind(Some(517)), FailureKind::Unavailable);
        assert_eq!(sqlite_failure_kind(Some(19)), FailureKind::Other);
        assert_eq!(
            failure_kind(&sqlx::Error::PoolTimedOut),
            FailureKind::Unavailable
        );
        assert_eq!(
            failure_kind(&sqlx::Error::Io(std::io::Error::from_raw_os_error(28))),
            FailureKind::StorageFull
        );
    }
}

/// `%fragment%` with LIKE's special characters escaped by `\`.
fn like_pattern(fragment: &str) -> String {
    let mut pattern = String::with_capacity(fragment.len() + 2);
    pattern.push('%');
    for c in fragment.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A unique violation becomes `Conflict(what)`; anything else a backend error.
fn conflict_on(what: &'static str) -> impl FnOnce(sqlx::Error) -> RepositoryError {
    move |err| match err.as_database_error() {
        Some(db) if db.is_unique_violation() => RepositoryError::Conflict(what),
        _ => backend_error(err),
    }
}

macro_rules! sql_transaction {
    ($name:ident, $db:ty, lock_users: $lock_users:expr, lock_namespace: $lock_namespace:expr) => {
        /// A transaction on this backend; dropping it without commit rolls it back.
        pub(crate) struct $name {
            tx: sqlx::Transaction<'static, $db>,
            /// Longest any one statement may wait for the database.
            deadline: Duration,
        }

        impl $name {
            pub(crate) fn new(tx: sqlx::Transaction<'static, $db>, deadline: Duration) -> Self {
                Self { tx, deadline }
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
            fn namespaces(&mut self) -> &mut dyn NamespaceRepository {
                self
            }
            fn nodes(&mut self) -> &mut dyn NodeRepository {
                self
            }
            fn revisions(&mut self) -> &mut dyn RevisionRepository {
                self
            }
            fn blocks(&mut self) -> &mut dyn BlockRepository {
                self
            }
            fn links(&mut self) -> &mut dyn LinkRepository {
                self
            }
            fn changes(&mut self) -> &mut dyn ChangeRepository {
                self
            }
            fn members(&mut self) -> &mut dyn MemberRepository {
                self
            }
            fn plugins(&mut self) -> &mut dyn PluginRepository {
                self
            }
            fn uploads(&mut self) -> &mut dyn UploadRepository {
                self
            }
            async fn commit(self: Box<Self>) -> Result<(), RepositoryError> {
                let deadline = self.deadline;
                self.tx
                    .commit()
                    .within(deadline)
                    .await
                    .map_err(backend_error)
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
                    .within(self.deadline)
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
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("email"))?;
                Ok(())
            }

            async fn get(&mut self, id: UserId) -> Result<Option<User>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, UserRow>(GET_USER).bind(id.as_uuid()),
                    UserRow::into_user,
                )
                .await
            }

            async fn find_by_email(
                &mut self,
                email: &Email,
            ) -> Result<Option<User>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, UserRow>(FIND_USER_BY_EMAIL).bind(email.as_str()),
                    UserRow::into_user,
                )
                .await
            }

            async fn lock_against_inserts(&mut self) -> Result<(), RepositoryError> {
                let statement: Option<&'static str> = $lock_users;
                if let Some(statement) = statement {
                    sqlx::query(statement)
                        .execute(&mut *self.tx)
                        .within(self.deadline)
                        .await
                        .map_err(backend_error)?;
                }
                Ok(())
            }

            async fn count(&mut self) -> Result<u64, RepositoryError> {
                let n: i64 = sqlx::query_scalar(COUNT_USERS)
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(n as u64)
            }

            async fn list(
                &mut self,
                after: Option<&Email>,
                limit: u32,
            ) -> Result<Vec<User>, RepositoryError> {
                let query = match after {
                    Some(after) => sqlx::query_as::<_, UserRow>(LIST_USERS_AFTER)
                        .bind(after.as_str())
                        .bind(i64::from(limit)),
                    None => sqlx::query_as::<_, UserRow>(LIST_USERS).bind(i64::from(limit)),
                };
                self.all(query, UserRow::into_user).await
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
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("token"))?;
                Ok(())
            }

            async fn find_by_digest(
                &mut self,
                digest: &TokenDigest,
            ) -> Result<Option<AccessToken>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, TokenRow>(FIND_TOKEN_BY_DIGEST)
                        .bind(&digest.as_bytes()[..]),
                    TokenRow::into_token,
                )
                .await
            }

            async fn list_for_user(
                &mut self,
                user: UserId,
            ) -> Result<Vec<AccessToken>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, TokenRow>(LIST_TOKENS_FOR_USER).bind(user.as_uuid()),
                    TokenRow::into_token,
                )
                .await
            }

            async fn delete(&mut self, user: UserId, id: TokenId) -> Result<bool, RepositoryError> {
                let done = sqlx::query(DELETE_TOKEN)
                    .bind(id.as_uuid())
                    .bind(user.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_all_for_user(&mut self, user: UserId) -> Result<u64, RepositoryError> {
                let done = sqlx::query(DELETE_TOKENS_OF_USER)
                    .bind(user.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
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
                    .within(self.deadline)
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
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("invite"))?;
                Ok(())
            }

            async fn find_by_digest(
                &mut self,
                digest: &TokenDigest,
            ) -> Result<Option<Invite>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, InviteRow>(FIND_INVITE_BY_DIGEST)
                        .bind(&digest.as_bytes()[..]),
                    InviteRow::into_invite,
                )
                .await
            }

            async fn update(&mut self, invite: &Invite) -> Result<(), RepositoryError> {
                sqlx::query(UPDATE_INVITE)
                    .bind(invite.id.as_uuid())
                    .bind(invite.accepted_by.map(|u| u.as_uuid()))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }
        }

        #[async_trait]
        impl NamespaceRepository for $name {
            async fn insert(
                &mut self,
                namespace: &Namespace,
                now: Timestamp,
            ) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_NAMESPACE)
                    .bind(namespace.id.as_uuid())
                    .bind(namespace.owner.as_uuid())
                    .bind(namespace_kind(namespace))
                    .bind(namespace.root.as_uuid())
                    .bind(namespace.used.get() as i64)
                    .bind(micros(now))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("namespace"))?;
                sqlx::query(INSERT_ROOT_NODE)
                    .bind(namespace.root.as_uuid())
                    .bind(namespace.id.as_uuid())
                    .bind(micros(now))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn home_of(
                &mut self,
                user: UserId,
            ) -> Result<Option<Namespace>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, NamespaceRow>(HOME_NAMESPACE).bind(user.as_uuid()),
                    NamespaceRow::into_namespace,
                )
                .await
            }

            async fn get(&mut self, id: NamespaceId) -> Result<Option<Namespace>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, NamespaceRow>(SELECT_NAMESPACE).bind(id.as_uuid()),
                    NamespaceRow::into_namespace,
                )
                .await
            }

            async fn delete(&mut self, id: NamespaceId) -> Result<(), RepositoryError> {
                sqlx::query(DELETE_NAMESPACE)
                    .bind(id.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn lock(&mut self, id: NamespaceId) -> Result<Namespace, RepositoryError> {
                let statement: &'static str = $lock_namespace;
                sqlx::query_as::<_, NamespaceRow>(statement)
                    .bind(id.as_uuid())
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?
                    .into_namespace()
            }

            async fn add_usage(
                &mut self,
                id: NamespaceId,
                delta: i64,
            ) -> Result<(), RepositoryError> {
                sqlx::query(ADD_USAGE)
                    .bind(id.as_uuid())
                    .bind(delta)
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn usage_of_owner(&mut self, user: UserId) -> Result<u64, RepositoryError> {
                let used: i64 = sqlx::query_scalar(USAGE_OF_OWNER)
                    .bind(user.as_uuid())
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(used.max(0) as u64)
            }
        }

        #[async_trait]
        impl NodeRepository for $name {
            async fn insert(&mut self, node: &Node) -> Result<(), RepositoryError> {
                let file = file_columns(node);
                sqlx::query(INSERT_NODE)
                    .bind(node.id.as_uuid())
                    .bind(node.namespace.as_uuid())
                    .bind(node.parent.as_uuid())
                    .bind(node.name.as_str())
                    .bind(node.name.key())
                    .bind(node.is_folder())
                    .bind(file.revision)
                    .bind(file.size)
                    .bind(file.content_hash)
                    .bind(file.client_modified)
                    .bind(micros(node.created_at))
                    .bind(micros(node.modified_at))
                    .bind(node.trashed_at.map(micros))
                    .bind(node.mount.map(|m| m.as_uuid()))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("name"))?;
                Ok(())
            }

            async fn update(&mut self, node: &Node) -> Result<(), RepositoryError> {
                let file = file_columns(node);
                sqlx::query(UPDATE_NODE)
                    .bind(node.id.as_uuid())
                    .bind(node.parent.as_uuid())
                    .bind(node.name.as_str())
                    .bind(node.name.key())
                    .bind(file.revision)
                    .bind(file.size)
                    .bind(file.content_hash)
                    .bind(file.client_modified)
                    .bind(micros(node.modified_at))
                    .bind(node.trashed_at.map(micros))
                    .bind(node.mount.map(|m| m.as_uuid()))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("name"))?;
                Ok(())
            }

            async fn get(&mut self, id: NodeId) -> Result<Option<Node>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, NodeRow>(GET_NODE).bind(id.as_uuid()),
                    NodeRow::into_node,
                )
                .await
            }

            async fn child(
                &mut self,
                parent: NodeId,
                name_key: &str,
            ) -> Result<Option<Node>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, NodeRow>(CHILD_NODE)
                        .bind(parent.as_uuid())
                        .bind(name_key),
                    NodeRow::into_node,
                )
                .await
            }

            async fn children(
                &mut self,
                parent: NodeId,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<Node>, RepositoryError> {
                let query = match after {
                    Some(after) => sqlx::query_as::<_, NodeRow>(CHILDREN_AFTER)
                        .bind(parent.as_uuid())
                        .bind(after)
                        .bind(i64::from(limit)),
                    None => sqlx::query_as::<_, NodeRow>(CHILDREN)
                        .bind(parent.as_uuid())
                        .bind(i64::from(limit)),
                };
                self.all(query, NodeRow::into_node).await
            }

            async fn ancestors(&mut self, id: NodeId) -> Result<Vec<Node>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, NodeRow>(ANCESTORS).bind(id.as_uuid()),
                    NodeRow::into_node,
                )
                .await
            }

            async fn subtree_bytes(&mut self, id: NodeId) -> Result<u64, RepositoryError> {
                let bytes: i64 = sqlx::query_scalar(SUBTREE_BYTES)
                    .bind(id.as_uuid())
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(bytes.max(0) as u64)
            }

            async fn subtree(
                &mut self,
                id: NodeId,
                limit: u32,
            ) -> Result<Vec<Node>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, NodeRow>(SUBTREE)
                        .bind(id.as_uuid())
                        .bind(i64::from(limit)),
                    NodeRow::into_node,
                )
                .await
            }

            async fn trashed(
                &mut self,
                namespace: NamespaceId,
                after: Option<(Timestamp, NodeId)>,
                limit: u32,
            ) -> Result<Vec<Node>, RepositoryError> {
                let query = match after {
                    Some((at, id)) => sqlx::query_as::<_, NodeRow>(TRASHED_AFTER)
                        .bind(namespace.as_uuid())
                        .bind(micros(at))
                        .bind(id.as_uuid())
                        .bind(i64::from(limit)),
                    None => sqlx::query_as::<_, NodeRow>(TRASHED)
                        .bind(namespace.as_uuid())
                        .bind(i64::from(limit)),
                };
                self.all(query, NodeRow::into_node).await
            }

            async fn trashed_before(
                &mut self,
                cutoff: Timestamp,
                limit: u32,
            ) -> Result<Vec<Node>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, NodeRow>(TRASHED_BEFORE)
                        .bind(micros(cutoff))
                        .bind(i64::from(limit)),
                    NodeRow::into_node,
                )
                .await
            }

            async fn search(
                &mut self,
                namespace: NamespaceId,
                fragment: &str,
                after: Option<(&str, NodeId)>,
                limit: u32,
            ) -> Result<Vec<Node>, RepositoryError> {
                let pattern = like_pattern(fragment);
                let query = match after {
                    Some((key, id)) => sqlx::query_as::<_, NodeRow>(SEARCH_NODES_AFTER)
                        .bind(namespace.as_uuid())
                        .bind(&pattern)
                        .bind(key)
                        .bind(id.as_uuid())
                        .bind(i64::from(limit)),
                    None => sqlx::query_as::<_, NodeRow>(SEARCH_NODES)
                        .bind(namespace.as_uuid())
                        .bind(&pattern)
                        .bind(i64::from(limit)),
                };
                self.all(query, NodeRow::into_node).await
            }

            async fn move_children(
                &mut self,
                from: NodeId,
                to: NodeId,
            ) -> Result<(), RepositoryError> {
                sqlx::query(MOVE_CHILDREN)
                    .bind(from.as_uuid())
                    .bind(to.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("name"))?;
                Ok(())
            }

            async fn rehome_subtree(
                &mut self,
                id: NodeId,
                namespace: NamespaceId,
            ) -> Result<u64, RepositoryError> {
                sqlx::query(REHOME_LINKS)
                    .bind(id.as_uuid())
                    .bind(namespace.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                let done = sqlx::query(REHOME_SUBTREE)
                    .bind(id.as_uuid())
                    .bind(namespace.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }

            async fn delete_subtree(&mut self, id: NodeId) -> Result<u64, RepositoryError> {
                let done = sqlx::query(DELETE_SUBTREE)
                    .bind(id.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl RevisionRepository for $name {
            async fn insert(&mut self, revision: &Revision) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_REVISION)
                    .bind(revision.id().as_uuid())
                    .bind(revision.node().as_uuid())
                    .bind(revision.size().get() as i64)
                    .bind(&revision.content_hash().as_bytes()[..])
                    .bind(revision.media_type())
                    .bind(micros(revision.client_modified()))
                    .bind(micros(revision.created_at()))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("revision"))?;
                for (position, block) in revision.blocks().iter().enumerate() {
                    sqlx::query(INSERT_REVISION_BLOCK)
                        .bind(revision.id().as_uuid())
                        .bind(position as i64)
                        .bind(&block.as_bytes()[..])
                        .execute(&mut *self.tx)
                        .within(self.deadline)
                        .await
                        .map_err(backend_error)?;
                }
                Ok(())
            }

            async fn get(&mut self, id: RevisionId) -> Result<Option<Revision>, RepositoryError> {
                let Some(row) = sqlx::query_as::<_, RevisionRow>(GET_REVISION)
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?
                else {
                    return Ok(None);
                };
                let blocks = self.revision_blocks(id.as_uuid()).await?;
                row.into_revision(blocks).map(Some)
            }

            async fn list_for_node(
                &mut self,
                node: NodeId,
                limit: u32,
            ) -> Result<Vec<Revision>, RepositoryError> {
                let rows = sqlx::query_as::<_, RevisionRow>(REVISIONS_OF_NODE)
                    .bind(node.as_uuid())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                let mut revisions = Vec::with_capacity(rows.len());
                for row in rows {
                    let blocks = self.revision_blocks(row.id()).await?;
                    revisions.push(row.into_revision(blocks)?);
                }
                Ok(revisions)
            }

            async fn prune_before(
                &mut self,
                cutoff: Timestamp,
                limit: u32,
            ) -> Result<u64, RepositoryError> {
                let done = sqlx::query(PRUNE_REVISIONS)
                    .bind(micros(cutoff))
                    .bind(i64::from(limit))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl UploadRepository for $name {
            async fn insert(
                &mut self,
                session: &UploadSession,
                blocks: &[SessionBlock],
            ) -> Result<(), RepositoryError> {
                let (kind, mode, update_rev) = upload_columns(session);
                sqlx::query(INSERT_UPLOAD)
                    .bind(session.id.as_uuid())
                    .bind(session.owner.as_uuid())
                    .bind(kind)
                    .bind(session.path.to_string())
                    .bind(mode)
                    .bind(update_rev)
                    .bind(session.autorename)
                    .bind(session.client_modified.map(micros))
                    .bind(session.media_type.as_deref())
                    .bind(session.length as i64)
                    .bind(session.received as i64)
                    .bind(micros(session.created_at))
                    .bind(micros(session.expires_at))
                    .bind(session.committed.map(|(node, _)| node.as_uuid()))
                    .bind(session.committed.map(|(_, revision)| revision.as_uuid()))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                self.insert_upload_blocks(session.id, 0, blocks).await
            }

            async fn get(
                &mut self,
                id: UploadId,
            ) -> Result<Option<UploadSession>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, UploadRow>(GET_UPLOAD).bind(id.as_uuid()),
                    UploadRow::into_session,
                )
                .await
            }

            async fn blocks(&mut self, id: UploadId) -> Result<Vec<SessionBlock>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, UploadBlockRow>(UPLOAD_BLOCKS).bind(id.as_uuid()),
                    UploadBlockRow::into_block,
                )
                .await
            }

            async fn append(
                &mut self,
                id: UploadId,
                from_received: u64,
                position: u64,
                blocks: &[SessionBlock],
                received: u64,
                expires_at: Timestamp,
            ) -> Result<bool, RepositoryError> {
                let moved = sqlx::query(ADVANCE_UPLOAD)
                    .bind(id.as_uuid())
                    .bind(from_received as i64)
                    .bind(received as i64)
                    .bind(micros(expires_at))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                if moved.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(TRUNCATE_UPLOAD_BLOCKS)
                    .bind(id.as_uuid())
                    .bind(position as i64)
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                self.insert_upload_blocks(id, position, blocks).await?;
                Ok(true)
            }

            async fn mark_present(
                &mut self,
                id: UploadId,
                hash: &BlockHash,
                expires_at: Timestamp,
            ) -> Result<u64, RepositoryError> {
                let marked = sqlx::query(MARK_UPLOAD_BLOCK_PRESENT)
                    .bind(id.as_uuid())
                    .bind(&hash.as_bytes()[..])
                    .bind(true)
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                sqlx::query(REFRESH_UPLOAD)
                    .bind(id.as_uuid())
                    .bind(micros(expires_at))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(marked.rows_affected())
            }

            async fn mark_committed(
                &mut self,
                id: UploadId,
                node: NodeId,
                revision: RevisionId,
            ) -> Result<(), RepositoryError> {
                sqlx::query(MARK_UPLOAD_COMMITTED)
                    .bind(id.as_uuid())
                    .bind(node.as_uuid())
                    .bind(revision.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                sqlx::query(DELETE_UPLOAD_BLOCKS)
                    .bind(id.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn delete(&mut self, id: UploadId) -> Result<bool, RepositoryError> {
                sqlx::query(DELETE_UPLOAD_BLOCKS)
                    .bind(id.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                let done = sqlx::query(DELETE_UPLOAD)
                    .bind(id.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn open_length_of(
                &mut self,
                owner: UserId,
                now: Timestamp,
            ) -> Result<u64, RepositoryError> {
                let total: i64 = sqlx::query_scalar(OPEN_UPLOAD_LENGTH)
                    .bind(owner.as_uuid())
                    .bind(micros(now))
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(total.max(0) as u64)
            }

            async fn delete_expired(
                &mut self,
                now: Timestamp,
                limit: u32,
            ) -> Result<u64, RepositoryError> {
                let done = sqlx::query(DELETE_EXPIRED_UPLOADS)
                    .bind(micros(now))
                    .bind(i64::from(limit))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }

        impl $name {
            async fn insert_upload_blocks(
                &mut self,
                id: UploadId,
                first_position: u64,
                blocks: &[SessionBlock],
            ) -> Result<(), RepositoryError> {
                for (offset, block) in blocks.iter().enumerate() {
                    sqlx::query(INSERT_UPLOAD_BLOCK)
                        .bind(id.as_uuid())
                        .bind((first_position + offset as u64) as i64)
                        .bind(&block.hash.as_bytes()[..])
                        .bind(i64::from(block.size))
                        .bind(block.present)
                        .execute(&mut *self.tx)
                        .within(self.deadline)
                        .await
                        .map_err(backend_error)?;
                }
                Ok(())
            }
        }

        impl $name {
            /// Runs a query and maps every row to its entity.
            async fn all<R, T>(
                &mut self,
                query: sqlx::query::QueryAs<'_, $db, R, <$db as sqlx::Database>::Arguments>,
                map: fn(R) -> Result<T, RepositoryError>,
            ) -> Result<Vec<T>, RepositoryError>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            {
                query
                    .fetch_all(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?
                    .into_iter()
                    .map(map)
                    .collect()
            }

            /// Runs a query for at most one row and maps it to its entity.
            async fn one<R, T>(
                &mut self,
                query: sqlx::query::QueryAs<'_, $db, R, <$db as sqlx::Database>::Arguments>,
                map: fn(R) -> Result<T, RepositoryError>,
            ) -> Result<Option<T>, RepositoryError>
            where
                R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
            {
                query
                    .fetch_optional(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?
                    .map(map)
                    .transpose()
            }

            async fn revision_blocks(
                &mut self,
                revision: Uuid,
            ) -> Result<Vec<Vec<u8>>, RepositoryError> {
                sqlx::query_scalar(REVISION_BLOCKS)
                    .bind(revision)
                    .fetch_all(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)
            }
        }

        #[async_trait]
        impl BlockRepository for $name {
            async fn touch(
                &mut self,
                hash: &BlockHash,
                size: u32,
                now: Timestamp,
            ) -> Result<(), RepositoryError> {
                sqlx::query(TOUCH_BLOCK)
                    .bind(&hash.as_bytes()[..])
                    .bind(i64::from(size))
                    .bind(micros(now))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn touch_existing(
                &mut self,
                hashes: &[BlockHash],
                now: Timestamp,
            ) -> Result<bool, RepositoryError> {
                for hash in hashes {
                    let done = sqlx::query(TOUCH_EXISTING_BLOCK)
                        .bind(&hash.as_bytes()[..])
                        .bind(micros(now))
                        .execute(&mut *self.tx)
                        .within(self.deadline)
                        .await
                        .map_err(backend_error)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                }
                Ok(true)
            }

            async fn in_namespace(
                &mut self,
                namespace: NamespaceId,
                hashes: &[BlockHash],
            ) -> Result<Vec<(BlockHash, u32)>, RepositoryError> {
                let mut found = Vec::new();
                for hash in hashes {
                    let size: Option<i64> = sqlx::query_scalar(BLOCK_IN_NAMESPACE)
                        .bind(&hash.as_bytes()[..])
                        .bind(namespace.as_uuid())
                        .fetch_optional(&mut *self.tx)
                        .within(self.deadline)
                        .await
                        .map_err(backend_error)?;
                    if let Some(size) = size {
                        let size = u32::try_from(size).map_err(|_| {
                            backend_error(sqlx::Error::Protocol("block size out of range".into()))
                        })?;
                        found.push((*hash, size));
                    }
                }
                Ok(found)
            }

            async fn collect(
                &mut self,
                cutoff: Timestamp,
                limit: u32,
            ) -> Result<Vec<BlockHash>, RepositoryError> {
                let rows: Vec<Vec<u8>> = sqlx::query_scalar(COLLECT_BLOCKS)
                    .bind(micros(cutoff))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                rows.into_iter().map(block_hash).collect()
            }
        }

        #[async_trait]
        impl LinkRepository for $name {
            async fn insert(&mut self, link: &SharedLink) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_LINK)
                    .bind(link.id.as_uuid())
                    .bind(&link.token_digest.as_bytes()[..])
                    .bind(link.owner.as_uuid())
                    .bind(link.namespace.as_uuid())
                    .bind(link.node.as_uuid())
                    .bind(link.password.as_ref().map(|p| p.as_str()))
                    .bind(link.expires_at.map(micros))
                    .bind(link.allow_download)
                    .bind(micros(link.created_at))
                    .bind(link.revoked_at.map(micros))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("link"))?;
                Ok(())
            }

            async fn find_by_digest(
                &mut self,
                digest: &TokenDigest,
            ) -> Result<Option<SharedLink>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, LinkRow>(FIND_LINK_BY_DIGEST).bind(&digest.as_bytes()[..]),
                    LinkRow::into_link,
                )
                .await
            }

            async fn get(&mut self, id: LinkId) -> Result<Option<SharedLink>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, LinkRow>(GET_LINK).bind(id.as_uuid()),
                    LinkRow::into_link,
                )
                .await
            }

            async fn list_for_owner(
                &mut self,
                owner: UserId,
            ) -> Result<Vec<SharedLink>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, LinkRow>(LINKS_OF_OWNER).bind(owner.as_uuid()),
                    LinkRow::into_link,
                )
                .await
            }

            async fn list_into_namespace(
                &mut self,
                namespace: NamespaceId,
            ) -> Result<Vec<SharedLink>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, LinkRow>(LINKS_INTO_NAMESPACE).bind(namespace.as_uuid()),
                    LinkRow::into_link,
                )
                .await
            }

            async fn update(&mut self, link: &SharedLink) -> Result<(), RepositoryError> {
                sqlx::query(UPDATE_LINK)
                    .bind(link.id.as_uuid())
                    .bind(link.revoked_at.map(micros))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn revoke_all_of_owner(
                &mut self,
                owner: UserId,
                at: Timestamp,
            ) -> Result<u64, RepositoryError> {
                let done = sqlx::query(REVOKE_LINKS_OF_OWNER)
                    .bind(owner.as_uuid())
                    .bind(micros(at))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }
        }

        impl $name {
            fn plugin_query<'q>(
                statement: &'static str,
                plugin: &'q Plugin,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                sqlx::query(statement)
                    .bind(plugin.id.as_uuid())
                    .bind(plugin.name.as_str())
                    .bind(plugin.version.as_str())
                    .bind(plugin.description.as_str())
                    .bind(hooks_column(&plugin.hooks))
                    .bind(plugin.interface_version.as_str())
                    .bind(plugin.digest.as_str())
                    .bind(plugin.config.as_str())
                    .bind(plugin.config_schema.as_deref())
                    .bind(plugin.enabled)
                    .bind(plugin.position)
                    .bind(plugin.limits.memory_bytes() as i64)
                    .bind(plugin.limits.time().as_millis() as i64)
                    .bind(i64::from(plugin.limits.output_bytes()))
                    .bind(plugin.failure_policy.as_str())
                    .bind(i64::from(plugin.consecutive_failures))
                    .bind(plugin.disabled_reason.as_deref())
                    .bind(micros(plugin.installed_at))
                    .bind(micros(plugin.updated_at))
            }
        }

        #[async_trait]
        impl PluginRepository for $name {
            async fn insert(&mut self, plugin: &Plugin) -> Result<(), RepositoryError> {
                Self::plugin_query(INSERT_PLUGIN, plugin)
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("plugin"))?;
                Ok(())
            }

            async fn update(&mut self, plugin: &Plugin) -> Result<(), RepositoryError> {
                Self::plugin_query(UPDATE_PLUGIN, plugin)
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("plugin"))?;
                Ok(())
            }

            async fn get(&mut self, id: PluginId) -> Result<Option<Plugin>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, PluginRow>(GET_PLUGIN).bind(id.as_uuid()),
                    PluginRow::into_plugin,
                )
                .await
            }

            async fn find_by_name(
                &mut self,
                name: &PluginName,
            ) -> Result<Option<Plugin>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, PluginRow>(PLUGIN_BY_NAME).bind(name.as_str()),
                    PluginRow::into_plugin,
                )
                .await
            }

            async fn list(&mut self) -> Result<Vec<Plugin>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, PluginRow>(LIST_PLUGINS),
                    PluginRow::into_plugin,
                )
                .await
            }

            async fn delete(&mut self, id: PluginId) -> Result<bool, RepositoryError> {
                let done = sqlx::query(DELETE_PLUGIN)
                    .bind(id.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn store_component(
                &mut self,
                digest: &str,
                wasm: &[u8],
                now: Timestamp,
            ) -> Result<(), RepositoryError> {
                sqlx::query(STORE_COMPONENT)
                    .bind(digest)
                    .bind(wasm)
                    .bind(micros(now))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn component(
                &mut self,
                digest: &str,
            ) -> Result<Option<Vec<u8>>, RepositoryError> {
                sqlx::query_scalar(GET_COMPONENT)
                    .bind(digest)
                    .fetch_optional(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)
            }

            async fn delete_unused_components(&mut self) -> Result<u64, RepositoryError> {
                let done = sqlx::query(DELETE_UNUSED_COMPONENTS)
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected())
            }

            async fn generation(&mut self) -> Result<u64, RepositoryError> {
                let generation: i64 = sqlx::query_scalar(PLUGIN_GENERATION)
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(generation.max(0) as u64)
            }

            async fn bump_generation(&mut self) -> Result<u64, RepositoryError> {
                let generation: i64 = sqlx::query_scalar(BUMP_PLUGIN_GENERATION)
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(generation.max(0) as u64)
            }

            async fn audit(&mut self, entry: &AuditEntry) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_AUDIT)
                    .bind(micros(entry.at))
                    .bind(entry.action.as_str())
                    .bind(entry.plugin.as_str())
                    .bind(entry.version.as_deref())
                    .bind(entry.hook.map(|h| h.as_str()))
                    .bind(entry.actor.as_deref())
                    .bind(entry.subject.as_deref())
                    .bind(entry.reason.as_deref())
                    .bind(entry.duration.map(|d| d.as_micros() as i64))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn audit_log(
                &mut self,
                plugin: Option<&str>,
                before: Option<u64>,
                limit: u32,
            ) -> Result<Vec<AuditEntry>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, AuditRow>(AUDIT_LOG)
                        .bind(plugin)
                        .bind(before.map_or(i64::MAX, |b| b.min(i64::MAX as u64) as i64))
                        .bind(i64::from(limit)),
                    AuditRow::into_entry,
                )
                .await
            }
        }

        #[async_trait]
        impl MemberRepository for $name {
            async fn insert(&mut self, membership: &Membership) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_MEMBER)
                    .bind(membership.namespace.as_uuid())
                    .bind(membership.user.as_uuid())
                    .bind(membership.role.as_str())
                    .bind(membership.mount.as_uuid())
                    .bind(micros(membership.joined_at))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("member"))?;
                Ok(())
            }

            async fn set_role(
                &mut self,
                namespace: NamespaceId,
                user: UserId,
                role: Role,
            ) -> Result<(), RepositoryError> {
                sqlx::query(SET_MEMBER_ROLE)
                    .bind(namespace.as_uuid())
                    .bind(user.as_uuid())
                    .bind(role.as_str())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(())
            }

            async fn delete(
                &mut self,
                namespace: NamespaceId,
                user: UserId,
            ) -> Result<bool, RepositoryError> {
                let done = sqlx::query(DELETE_MEMBER)
                    .bind(namespace.as_uuid())
                    .bind(user.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn get(
                &mut self,
                namespace: NamespaceId,
                user: UserId,
            ) -> Result<Option<Membership>, RepositoryError> {
                self.one(
                    sqlx::query_as::<_, MemberRow>(GET_MEMBER)
                        .bind(namespace.as_uuid())
                        .bind(user.as_uuid()),
                    MemberRow::into_membership,
                )
                .await
            }

            async fn of_user(&mut self, user: UserId) -> Result<Vec<Membership>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, MemberRow>(MEMBERS_OF_USER).bind(user.as_uuid()),
                    MemberRow::into_membership,
                )
                .await
            }

            async fn of_namespace(
                &mut self,
                namespace: NamespaceId,
            ) -> Result<Vec<Membership>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, MemberRow>(MEMBERS_OF_NAMESPACE).bind(namespace.as_uuid()),
                    MemberRow::into_membership,
                )
                .await
            }

            async fn invite(&mut self, invitation: &Invitation) -> Result<(), RepositoryError> {
                sqlx::query(INSERT_INVITATION)
                    .bind(invitation.id.as_uuid())
                    .bind(invitation.namespace.as_uuid())
                    .bind(invitation.email.as_str())
                    .bind(invitation.role.as_str())
                    .bind(micros(invitation.invited_at))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(conflict_on("invitation"))?;
                Ok(())
            }

            async fn invitations_of(
                &mut self,
                namespace: NamespaceId,
            ) -> Result<Vec<Invitation>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, InvitationRow>(INVITATIONS_OF_NAMESPACE)
                        .bind(namespace.as_uuid()),
                    InvitationRow::into_invitation,
                )
                .await
            }

            async fn set_invitation_role(
                &mut self,
                namespace: NamespaceId,
                id: UserId,
                role: Role,
            ) -> Result<bool, RepositoryError> {
                let done = sqlx::query(SET_INVITATION_ROLE)
                    .bind(namespace.as_uuid())
                    .bind(id.as_uuid())
                    .bind(role.as_str())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_invitation(
                &mut self,
                namespace: NamespaceId,
                id: UserId,
            ) -> Result<bool, RepositoryError> {
                let done = sqlx::query(DELETE_INVITATION)
                    .bind(namespace.as_uuid())
                    .bind(id.as_uuid())
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn take_invitations_for(
                &mut self,
                email: &Email,
            ) -> Result<Vec<Invitation>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, InvitationRow>(TAKE_INVITATIONS_FOR).bind(email.as_str()),
                    InvitationRow::into_invitation,
                )
                .await
            }
        }

        #[async_trait]
        impl ChangeRepository for $name {
            async fn append(
                &mut self,
                namespace: NamespaceId,
                node: NodeId,
                path_before: Option<&NodePath>,
                at: Timestamp,
            ) -> Result<u64, RepositoryError> {
                let seq: i64 = sqlx::query_scalar(NEXT_CHANGE_SEQ)
                    .bind(namespace.as_uuid())
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                sqlx::query(INSERT_CHANGE)
                    .bind(namespace.as_uuid())
                    .bind(seq)
                    .bind(node.as_uuid())
                    .bind(path_before.map(|p| p.to_string()))
                    .bind(micros(at))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok(seq as u64)
            }

            async fn since(
                &mut self,
                namespace: NamespaceId,
                after: u64,
                limit: u32,
            ) -> Result<Vec<Change>, RepositoryError> {
                self.all(
                    sqlx::query_as::<_, ChangeRow>(CHANGES_SINCE)
                        .bind(namespace.as_uuid())
                        .bind(after as i64)
                        .bind(i64::from(limit)),
                    ChangeRow::into_change,
                )
                .await
            }

            async fn position(
                &mut self,
                namespace: NamespaceId,
            ) -> Result<(u64, u64), RepositoryError> {
                let (seq, floor): (i64, i64) = sqlx::query_as(JOURNAL_POSITION)
                    .bind(namespace.as_uuid())
                    .fetch_one(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                Ok((seq.max(0) as u64, floor.max(0) as u64))
            }

            async fn prune_before(&mut self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
                let done = sqlx::query(PRUNE_CHANGES)
                    .bind(micros(cutoff))
                    .execute(&mut *self.tx)
                    .within(self.deadline)
                    .await
                    .map_err(backend_error)?;
                if done.rows_affected() > 0 {
                    sqlx::query(RAISE_JOURNAL_FLOORS)
                        .execute(&mut *self.tx)
                        .within(self.deadline)
                        .await
                        .map_err(backend_error)?;
                }
                Ok(done.rows_affected())
            }
        }
    };
}

// SQLite write transactions begin IMMEDIATE, which already excludes every other writer: no
// table or row locks are needed.
sql_transaction!(SqliteTx, sqlx::Sqlite, lock_users: None, lock_namespace: SELECT_NAMESPACE);
// SHARE ROW EXCLUSIVE conflicts with itself and with the ROW EXCLUSIVE lock an INSERT takes.
sql_transaction!(
    PgTx,
    sqlx::Postgres,
    lock_users: Some(LOCK_USERS_AGAINST_INSERTS),
    lock_namespace: SELECT_NAMESPACE_FOR_UPDATE
);
