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
