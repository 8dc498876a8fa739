//! Database faults: errors say whether the database is unavailable, broken pooled connections
//! are replaced, statements are bounded, and SQLite syncs every commit.

use std::time::{Duration, Instant};

use coffer_application::FailureKind;
use coffer_application::ports::{RepositoryError, UnitOfWork};
use coffer_sql::testing::TestDatabase;
use coffer_sql::{Backend, SqlStore, StoreOptions};

fn kind_of(err: RepositoryError) -> FailureKind {
    match err {
        RepositoryError::Backend(err) => err.kind(),
        other => panic!("unexpected {other:?}"),
    }
}

async fn open(db: &TestDatabase, options: &StoreOptions) -> SqlStore {
    let store = SqlStore::connect(db.url(), options).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn postgres_sessions_ended_under_a_transaction_fail_as_unavailable_and_the_pool_recovers() {
    let db = TestDatabase::new(Backend::Postgres).await;
    let store = open(&db, &StoreOptions::default()).await;
    // Several pooled connections, idle and in use, when the server ends every session.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(store.begin_read().await.unwrap());
    }
    drop(idle);
    let mut in_flight = store.begin_read().await.unwrap();
    in_flight.users().count().await.unwrap();
    assert!(db.terminate_sessions().await >= 1);

    let err = in_flight.users().count().await.unwrap_err();
    assert_eq!(kind_of(err), FailureKind::Unavailable);
    drop(in_flight);
    // The next units of work get live connections.
    for _ in 0..4 {
        let mut tx = store.begin().await.unwrap();
        tx.users().count().await.unwrap();
        tx.commit().await.unwrap();
    }
    store.ping().await.unwrap();
}

#[tokio::test]
async fn a_postgres_statement_waiting_past_the_statement_timeout_is_cancelled_as_unavailable() {
    let db = TestDatabase::new(Backend::Postgres).await;
    let options = StoreOptions {
        statement_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let store = open(&db, &options).await;
    // The first transaction holds the lock that serialises user creation; the second waits.
    let mut holder = store.begin().await.unwrap();
    holder.users().lock_against_inserts().await.unwrap();
    let mut waiter = store.begin().await.unwrap();
    let started = Instant::now();
    let err = waiter.users().lock_against_inserts().await.unwrap_err();
    assert_eq!(kind_of(err), FailureKind::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn sqlite_syncs_every_commit() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let store = open(&db, &StoreOptions::default()).await;
    // 2 = FULL: the WAL is synced at each commit, so an acknowledged write survives power loss.
    assert_eq!(store.sqlite_synchronous().await.unwrap(), Some(2));
}

#[tokio::test]
async fn a_sqlite_writer_blocked_past_the_busy_timeout_is_unavailable() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    };
    let store = open(&db, &options).await;
    let _writer = store.begin().await.unwrap();
    let err = match store.begin().await {
        Err(err) => err,
        Ok(_) => panic!("a second writer got in while the first holds the lock"),
    };
    assert_eq!(kind_of(err), FailureKind::Unavailable);
}

/// A TCP relay to the test PostgreSQL server that can freeze: it keeps every connection open
/// and forwards nothing (a server stopped with SIGSTOP, or a network that drops packets).
struct FreezableRelay {
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FreezableRelay {
    /// Starts a relay to the server of `url`; returns it and `url` pointing at it.
    async fn start(url: &str) -> (Self, String) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let at = url.rfind('@').expect("a user in the URL") + 1;
        let end = at + url[at..].find('/').expect("a database in the URL");
        let upstream = url[at..end].to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relayed = format!(
            "{}{}{}",
            &url[..at],
            listener.local_addr().unwrap(),
            &url[end..]
        );
        let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let relay = Self {
            frozen: frozen.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                for (mut from, mut to) in [
                    (
                        Box::new(client_read) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
                        Box::new(server_write) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
                    ),
                    (Box::new(server_read), Box::new(client_write)),
                ] {
                    let frozen = frozen.clone();
                    tokio::spawn(async move {
                        let mut buffer = vec![0u8; 16 * 1024];
                        loop {
                            let n = match from.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while frozen.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            if to.write_all(&buffer[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        (relay, relayed)
    }

    fn freeze(&self, frozen: bool) {
        self.frozen
            .store(frozen, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_frozen_postgres_fails_statements_by_their_deadline() {
    let db = TestDatabase::new(Backend::Postgres).await;
    let (relay, url) = FreezableRelay::start(db.url()).await;
    let options = StoreOptions {
        statement_timeout: Duration::from_millis(500),
        acquire_timeout: Duration::from_secs(1),
        ..StoreOptions::default()
    };
    let store = SqlStore::connect(&url, &options).await.unwrap();
    store.migrate().await.unwrap();
    let deadline = options.statement_deadline();

    let mut in_flight = store.begin().await.unwrap();
    in_flight.users().count().await.unwrap();
    relay.freeze(true);
    // The server cannot cancel anything: the statement fails by the client's deadline.
    let started = Instant::now();
    let err = in_flight.users().count().await.unwrap_err();
    let waited = started.elapsed();
    assert_eq!(kind_of(err), FailureKind::Unavailable);
    assert!(
        waited >= deadline && waited < deadline + Duration::from_secs(2),
        "{waited:?}"
    );
    drop(in_flight);
    // So do new units of work, and the probe.
    let started = Instant::now();
    let begun = store.begin_read().await;
    assert!(begun.is_err(), "a transaction began on a frozen server");
    assert!(started.elapsed() < deadline + Duration::from_secs(2));
    let started = Instant::now();
    assert!(store.ping().await.is_err());
    assert!(started.elapsed() < deadline + Duration::from_secs(2));

    // Thawed, the store works again.
    relay.freeze(false);
    let mut tx = store.begin().await.unwrap();
    tx.users().count().await.unwrap();
    tx.commit().await.unwrap();
}
