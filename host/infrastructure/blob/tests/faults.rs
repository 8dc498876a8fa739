//! Blob stores under faults: an unreachable or stalled bucket fails in bounded time as
//! `Unavailable`; a local store reports a missing directory and a full disk, and sweeps the
//! temporary files of writes that never finished.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use coffer_application::ports::{BlobStore, HashedBlock};
use coffer_application::{FailureKind, InfrastructureError};
use coffer_blob::testing::TestBlobStores;
use coffer_blob::{S3BlobStore, S3Settings, S3Timeouts};
use coffer_domain::files::BlockHash;
use futures_util::StreamExt;

fn settings(endpoint: String) -> S3Settings {
    S3Settings {
        endpoint: Some(endpoint),
        region: "garage".into(),
        bucket: "coffer".into(),
        access_key_id: "GK0000".into(),
        secret_access_key: "secret".into(),
        force_path_style: true,
        key_prefix: String::new(),
        timeouts: S3Timeouts {
            connect: Duration::from_millis(300),
            attempt: Duration::from_millis(300),
            operation: Duration::from_secs(1),
        },
    }
}

fn block(data: &'static [u8]) -> HashedBlock {
    HashedBlock {
        hash: BlockHash::of(data),
        chunks: vec![Bytes::from_static(data)],
        len: data.len() as u32,
    }
}

/// Runs every operation of `store`, each of which must fail as unavailable, in bounded time.
async fn every_operation_is_unavailable(store: &dyn BlobStore) {
    let hash = BlockHash::of(b"x");
    let started = Instant::now();
    let results: Vec<(&str, Result<(), InfrastructureError>)> = vec![
        ("check", store.check().await),
        ("put", store.put(block(b"x")).await),
        ("read", store.read(&hash, 0, 1).await.map(drop)),
        ("contains", store.contains(&hash).await.map(drop)),
        ("delete", store.delete(&[hash]).await),
    ];
    for (operation, result) in results {
        let err = result.expect_err(operation);
        assert_eq!(err.kind(), FailureKind::Unavailable, "{operation}: {err}");
    }
    // Five operations with a 1 s deadline each (generous: retries back off within it).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_bucket_is_unavailable() {
    // A port nothing listens on: bound, then closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let store = S3BlobStore::connect(settings(format!("http://{address}"))).unwrap();
    every_operation_is_unavailable(&store).await;
}

#[tokio::test]
async fn a_stalled_bucket_fails_within_the_deadlines() {
    // Accepts connections and never answers, like a frozen server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stalled = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let store = S3BlobStore::connect(settings(format!("http://{address}"))).unwrap();
    every_operation_is_unavailable(&store).await;
    stalled.abort();
}

#[tokio::test]
async fn a_local_store_without_its_directory_is_unavailable() {
    let store = TestBlobStores::local();
    store.put(block(b"kept")).await.unwrap();
    let root = store.root().to_owned();
    std::fs::rename(&root, root.with_extension("gone")).unwrap();
    let read = store.read(&BlockHash::of(b"kept"), 0, 4).await.map(drop);
    assert_eq!(read.unwrap_err().kind(), FailureKind::Unavailable);
    let put = store.put(block(b"new")).await;
    assert_eq!(put.unwrap_err().kind(), FailureKind::Unavailable);
    std::fs::rename(root.with_extension("gone"), &root).unwrap();
    let mut content = store.read(&BlockHash::of(b"kept"), 0, 4).await.unwrap();
    assert_eq!(&content.next().await.unwrap().unwrap()[..], b"kept");
}

#[tokio::test]
async fn a_local_store_keeps_its_reserve_for_deletes() {
    let store = TestBlobStores::local();
    store.check().await.unwrap();
    store.put(block(b"stored before")).await.unwrap();
    let full = store.clone().with_min_free_bytes(u64::MAX);
    assert_eq!(
        full.check().await.unwrap_err().kind(),
        FailureKind::StorageFull
    );
    // New blocks would eat into the reserve: refused, and nothing is left behind.
    let put = full.put(block(b"a new block")).await;
    assert_eq!(put.unwrap_err().kind(), FailureKind::StorageFull);
    assert!(!full.contains(&BlockHash::of(b"a new block")).await.unwrap());
    // What is stored stays readable, a block already stored is still "written" (deduplicated
    // uploads need no room), and deleting works.
    let mut content = full
        .read(&BlockHash::of(b"stored before"), 0, 13)
        .await
        .unwrap();
    assert_eq!(
        &content.next().await.unwrap().unwrap()[..],
        b"stored before"
    );
    full.put(block(b"stored before")).await.unwrap();
    full.delete(&[BlockHash::of(b"stored before")])
        .await
        .unwrap();
    assert!(
        !full
            .contains(&BlockHash::of(b"stored before"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn temporary_files_older_than_the_cutoff_are_swept() {
    let store = TestBlobStores::local();
    store.put(block(b"a block")).await.unwrap();
    let block_path = store.block_path(&BlockHash::of(b"a block"));
    let shard = block_path.parent().unwrap().to_owned();
    let old = shard.join(".tmp-left-by-a-killed-process");
    let fresh = shard.join(".tmp-being-written");
    std::fs::write(&old, vec![0u8; 1024]).unwrap();
    std::fs::write(&fresh, b"in flight").unwrap();
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(an_hour_ago - Duration::from_secs(60))
        .unwrap();

    let cutoff = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(store.sweep_debris(cutoff).await.unwrap(), 1);
    assert!(!old.exists(), "debris older than the cutoff is deleted");
    assert!(fresh.exists(), "a write that may be in flight is kept");
    assert!(block_path.exists(), "blocks are never swept");
}
