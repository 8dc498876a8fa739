use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use coffer_application::ports::{RepositoryError, Transaction, UnitOfWork};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, SqlitePool};
use thiserror::Error;

use crate::transaction::{PgTx, SqliteTx, WithinDeadline, backend_error, is_broken_connection};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../../../migrations/postgres");

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, WAL mode.
    Sqlite,
    /// The production database.
    Postgres,
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a free connection (and, on SQLite, for the write lock).
    pub acquire_timeout: Duration,
    /// Longest a statement may run on PostgreSQL (`statement_timeout`); a cancelled statement
    /// fails as unavailable. On either database, no statement waits for an answer longer than
    /// [`StoreOptions::statement_deadline`].
    pub statement_timeout: Duration,
}

impl StoreOptions {
    /// Longest any one statement may wait for an answer, whatever the server does: the
    /// statement timeout and a little more, so that the server's own cancellation (a clear
    /// error) comes first when it can act at all.
    pub fn statement_deadline(&self) -> Duration {
        self.statement_timeout + Duration::from_secs(2)
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// Opening or migrating the database failed.
#[derive(Debug, Error)]
pub enum SqlError {
    /// The URL names no supported database.
    #[error("unsupported database URL (expected sqlite:… or postgres://…)")]
    UnsupportedUrl,
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A secret could not be generated.
    #[error("cannot generate a secret: {0}")]
    Secret(String),
    /// The directory for the SQLite file could not be created.
    #[error("cannot create the database directory: {0}")]
    Directory(#[from] std::io::Error),
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection pool to SQLite or PostgreSQL, and the [`UnitOfWork`] over it.
#[derive(Clone)]
pub struct SqlStore {
    pool: Pool,
    /// Longest any one statement (or `BEGIN`, `COMMIT`) may wait for the database.
    deadline: Duration,
}

impl SqlStore {
    /// Connects to `sqlite:<path>` (creating the file and its directory) or `postgres://…`.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, SqlError> {
        let pool = if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(SqlError::Connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL syncs the WAL at every commit: an acknowledged write survives power loss
                // (decision 9). NORMAL could roll back the last commits, whose blocks are synced.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(options.acquire_timeout);
            if let Some(dir) = connect.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                // On some errors (SQLITE_FULL, SQLITE_IOERR) SQLite rolls the whole transaction
                // back by itself; sqlx's own ROLLBACK then fails and it goes on counting the
                // transaction as open, refusing every later BEGIN on that connection. Such a
                // connection is closed instead of going back to the pool. (The ping first runs
                // the rollback of a dropped transaction, which sqlx queues.)
                .after_release(|conn, _| {
                    Box::pin(async move {
                        conn.ping().await?;
                        Ok(!conn.is_in_transaction())
                    })
                })
                .connect_with(connect)
                .await
                .map_err(SqlError::Connect)?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let statement_ms = options.statement_timeout.as_millis().to_string();
            let connect = PgConnectOptions::from_str(url)
                .map_err(SqlError::Connect)?
                .options([("statement_timeout", statement_ms.as_str())]);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(SqlError::Connect)?;
            Pool::Postgres(pool)
        } else {
            return Err(SqlError::UnsupportedUrl);
        };
        Ok(Self {
            pool,
            deadline: options.statement_deadline(),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), SqlError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The shared secret `name` (32 random bytes), created by the first instance that asks.
    pub async fn server_secret(&self, name: &str) -> Result<Vec<u8>, SqlError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| SqlError::Secret(e.to_string()))?;
        const INSERT: &str = "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
        const SELECT: &str = "SELECT value FROM server_secrets WHERE name = $1";
        let value: Vec<u8> = match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query(INSERT)
                    .bind(name)
                    .bind(&fresh[..])
                    .execute(pool)
                    .await
                    .map_err(SqlError::Connect)?;
                sqlx::query_scalar(SELECT)
                    .bind(name)
                    .fetch_one(pool)
                    .await
                    .map_err(SqlError::Connect)?
            }
            Pool::Postgres(pool) => {
                sqlx::query(INSERT)
                    .bind(name)
                    .bind(&fresh[..])
                    .execute(pool)
                    .await
                    .map_err(SqlError::Connect)?;
                sqlx::query_scalar(SELECT)
                    .bind(name)
                    .fetch_one(pool)
                    .await
                    .map_err(SqlError::Connect)?
            }
        };
        Ok(value)
    }

    /// Change announcements for longpoll; on PostgreSQL they reach every instance (this starts
    /// a listener task, so call it inside the runtime, once).
    pub fn change_notifier(&self) -> crate::SqlChangeNotifier {
        match &self.pool {
            Pool::Sqlite(_) => crate::SqlChangeNotifier::local(),
            Pool::Postgres(pool) => crate::SqlChangeNotifier::bridged(pool.clone()),
        }
    }

    /// On SQLite, the `synchronous` setting of the pool's connections (2 is `FULL`); `None` on
    /// PostgreSQL. For diagnostics and tests.
    pub async fn sqlite_synchronous(&self) -> Result<Option<i64>, SqlError> {
        match &self.pool {
            Pool::Sqlite(pool) => Ok(Some(
                sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(pool)
                    .await
                    .map_err(SqlError::Connect)?,
            )),
            Pool::Postgres(_) => Ok(None),
        }
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

#[async_trait]
impl UnitOfWork for SqlStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepositoryError> {
        Ok(match &self.pool {
            // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
            // writes fails with SQLITE_BUSY when another writer got in between.
            Pool::Sqlite(pool) => Box::new(SqliteTx::new(
                retry_broken(|| pool.begin_with("BEGIN IMMEDIATE").within(self.deadline)).await?,
                self.deadline,
            )),
            Pool::Postgres(pool) => Box::new(PgTx::new(
                retry_broken(|| pool.begin().within(self.deadline)).await?,
                self.deadline,
            )),
        })
    }

    async fn begin_read(&self) -> Result<Box<dyn Transaction>, RepositoryError> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Box::new(SqliteTx::new(
                retry_broken(|| pool.begin().within(self.deadline)).await?,
                self.deadline,
            )),
            Pool::Postgres(pool) => Box::new(PgTx::new(
                retry_broken(|| pool.begin_with("BEGIN READ ONLY").within(self.deadline)).await?,
                self.deadline,
            )),
        })
    }

    async fn ping(&self) -> Result<(), RepositoryError> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                retry_broken(|| sqlx::query("SELECT 1").execute(pool).within(self.deadline))
                    .await?;
            }
            Pool::Postgres(pool) => {
                retry_broken(|| sqlx::query("SELECT 1").execute(pool).within(self.deadline))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Runs `work` (which must be idempotent: beginning a transaction, a probe) and, if it failed
/// on a broken pooled connection (the server ended the session, the socket died), once more on
/// another connection: the pool drops the broken one.
async fn retry_broken<T, F, Fut>(mut work: F) -> Result<T, RepositoryError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    match work().await {
        Err(err) if is_broken_connection(&err) => {
            tracing::info!(error = %err, "broken database connection; retrying once");
            work().await.map_err(backend_error)
        }
        result => result.map_err(backend_error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite ended a transaction by itself (as it does on SQLITE_FULL): the connection must not
    /// come back from the pool still counted as in a transaction.
    #[tokio::test]
    async fn a_connection_whose_transaction_sqlite_ended_leaves_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("coffer.db").display());
        let options = StoreOptions {
            max_connections: 1,
            ..StoreOptions::default()
        };
        let store = SqlStore::connect(&url, &options).await.unwrap();
        let Pool::Sqlite(pool) = &store.pool else {
            unreachable!("a SQLite URL")
        };
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        drop(tx);
        for _ in 0..2 {
            let tx = store.begin().await.expect("a usable connection");
            tx.commit().await.unwrap();
        }
    }
}
