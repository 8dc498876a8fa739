//! Per-test databases: a temporary SQLite file, or a fresh database on a PostgreSQL server that
//! is dropped (with its connections) when the test ends, even if the test panicked.
//!
//! PostgreSQL comes from `COFFER_TEST_POSTGRES_URL` (a server URL whose user may create
//! databases); without it, a throwaway container is started through testcontainers, which needs a
//! Docker engine.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::ContainerAsync;
use testcontainers_modules::testcontainers::runners::AsyncRunner;

use crate::Backend;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "COFFER_TEST_POSTGRES_URL";

/// A database that lives as long as this value.
pub struct TestDatabase {
    url: String,
    backend: Backend,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Held for its `Drop`, which deletes the directory.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        server_url: String,
        name: String,
        _container: Option<Box<ContainerAsync<Postgres>>>,
    },
}

impl TestDatabase {
    /// A fresh database on `backend`.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("coffer.db").display());
        Self {
            url,
            backend: Backend::Sqlite,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A new, empty PostgreSQL database.
    pub async fn postgres() -> Self {
        let (server_url, container) = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) => (url, None),
            Err(_) => {
                let container = Postgres::default().start().await.unwrap_or_else(|e| {
                    panic!(
                        "no PostgreSQL for tests: set {POSTGRES_URL_VAR} (e.g. \
                         postgres://postgres@127.0.0.1:5432/postgres) or run a Docker engine \
                         for testcontainers ({e})"
                    )
                });
                let port = container
                    .get_host_port_ipv4(5432)
                    .await
                    .expect("container port");
                (
                    format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres"),
                    Some(Box::new(container)),
                )
            }
        };
        let name = format!("coffer_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = connect(&server_url).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let url = PgConnectOptions::from_str(&server_url)
            .expect("PostgreSQL URL")
            .database(&name)
            .to_url_lossy()
            .to_string();
        Self {
            url,
            backend: Backend::Postgres,
            cleanup: Cleanup::Postgres {
                server_url,
                name,
                _container: container,
            },
        }
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend it is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// On PostgreSQL, terminates every other session on this database (as an administrator or
    /// a failover would) and returns how many; on SQLite there are no sessions to end: 0.
    pub async fn terminate_sessions(&self) -> u64 {
        if self.backend != Backend::Postgres {
            return 0;
        }
        let mut admin = connect(&self.url).await;
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
        )
        .fetch_one(&mut admin)
        .await
        .expect("terminate sessions");
        let _ = admin.close().await;
        ended as u64
    }
}

async fn connect(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"))
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres {
            server_url, name, ..
        } = &self.cleanup
        else {
            return;
        };
        let (server_url, name) = (server_url.clone(), name.clone());
        // Drop is synchronous and may run inside a runtime: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = connect(&server_url).await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(_))) {
            eprintln!("warning: could not drop a test database");
        }
    }
}
