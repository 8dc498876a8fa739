//! What `synchronous=FULL` costs SQLite (decision 9): small write transactions per second in
//! WAL mode with `FULL` (the WAL synced at every commit, as Coffer runs) against `NORMAL`, on
//! the disk of the temporary directory.
//!
//!     cargo bench -p coffer-sql --bench commits

use std::str::FromStr;

use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

fn commits(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("sqlite commit of one small row");
    for (name, synchronous) in [
        ("synchronous=FULL", SqliteSynchronous::Full),
        ("synchronous=NORMAL", SqliteSynchronous::Normal),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let pool = runtime.block_on(async {
            let options = SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
                .execute(&pool)
                .await
                .unwrap();
            pool
        });
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::query("INSERT INTO t (v) VALUES (?)")
                    .bind(vec![7u8; 200])
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, commits);
criterion_main!(benches);
