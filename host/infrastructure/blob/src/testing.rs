//! Per-test blob stores: a local store in a temporary directory, or an S3 store on the test
//! Garage under a key prefix of its own (deleted when the store is dropped).

use std::ops::Deref;

use async_trait::async_trait;
use coffer_application::InfrastructureError;
use coffer_application::ports::{BlobStore, ByteStream, HashedBlock};
use coffer_domain::files::BlockHash;
use tempfile::TempDir;

use crate::{LocalBlobStore, S3BlobStore, S3Settings};

/// Environment variables describing the test S3 server (`scripts/garage-test-server` prints
/// them; `scripts/test` exports them).
pub const S3_ENV: [&str; 5] = [
    "COFFER_TEST_S3_ENDPOINT",
    "COFFER_TEST_S3_REGION",
    "COFFER_TEST_S3_BUCKET",
    "COFFER_TEST_S3_ACCESS_KEY_ID",
    "COFFER_TEST_S3_SECRET_ACCESS_KEY",
];

/// Makers of per-test stores.
pub struct TestBlobStores;

impl TestBlobStores {
    /// A [`LocalBlobStore`] in a fresh temporary directory, removed when the store is dropped.
    pub fn local() -> TestBlobStore<LocalBlobStore> {
        let dir = tempfile::Builder::new()
            .prefix("coffer-blobs-")
            .tempdir()
            .expect("create a temporary directory");
        let store = LocalBlobStore::open(dir.path().join("blocks")).expect("open a local store");
        TestBlobStore {
            store,
            guard: Guard::Dir { _dir: dir },
        }
    }

    /// An [`S3BlobStore`] on the test S3 server, under a unique key prefix whose objects are
    /// deleted when the store is dropped.
    ///
    /// Panics unless the `COFFER_TEST_S3_*` variables are set: run the tests through
    /// `scripts/test`, or `eval "$(scripts/garage-test-server)"` first.
    pub fn s3() -> TestBlobStore<S3BlobStore> {
        let settings = Self::s3_settings();
        let store = S3BlobStore::connect(settings.clone()).expect("configure the test S3 store");
        TestBlobStore {
            store,
            guard: Guard::S3Prefix(settings),
        }
    }

    /// Settings for the test S3 server with a fresh, unique `key_prefix` (nothing deletes its
    /// objects; prefer [`s3`](Self::s3) when a store is all you need).
    ///
    /// Panics unless the `COFFER_TEST_S3_*` variables are set.
    pub fn s3_settings() -> S3Settings {
        let [endpoint, region, bucket, access_key_id, secret_access_key] = S3_ENV.map(|name| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: the S3 tests need a test S3 server. Run the tests with \
                     `scripts/test` (which starts Garage), or run \
                     `eval \"$(scripts/garage-test-server)\"` first, or set {}",
                    S3_ENV.join(", ")
                )
            })
        });
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).expect("random key prefix");
        S3Settings {
            endpoint: Some(endpoint),
            region,
            bucket,
            access_key_id,
            secret_access_key,
            force_path_style: true,
            key_prefix: format!("coffer-test/{}/", hex::encode(random)),
            timeouts: crate::S3Timeouts::default(),
        }
    }
}

/// A store made for one test; derefs to the store and implements [`BlobStore`] itself, so it
/// can go behind an `Arc<dyn BlobStore>`.
pub struct TestBlobStore<S> {
    store: S,
    guard: Guard,
}

enum Guard {
    /// The local store's directory (removed on drop).
    Dir { _dir: TempDir },
    /// The S3 store's settings, to delete its prefix on drop.
    S3Prefix(S3Settings),
}

impl<S> Deref for TestBlobStore<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.store
    }
}

impl<S> Drop for TestBlobStore<S> {
    fn drop(&mut self) {
        if let Guard::S3Prefix(settings) = &self.guard {
            delete_prefix(settings.clone());
        }
    }
}

/// Deletes a test prefix's objects, on a thread and runtime of its own (this runs in `Drop`,
/// possibly inside a single-threaded runtime that must not be re-entered).
fn delete_prefix(settings: S3Settings) {
    let prefix = settings.key_prefix.clone();
    let cleanup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(InfrastructureError::new)?;
        let store = S3BlobStore::connect(settings)?;
        runtime.block_on(store.delete_prefix(store.key_prefix()))
    });
    match cleanup.join() {
        Ok(Ok(())) => {}
        Ok(Err(err)) => eprintln!("could not delete test objects under {prefix}: {err}"),
        Err(_) => eprintln!("could not delete test objects under {prefix}: cleanup panicked"),
    }
}

#[async_trait]
impl<S: BlobStore> BlobStore for TestBlobStore<S> {
    async fn put(&self, block: HashedBlock) -> Result<(), InfrastructureError> {
        self.store.put(block).await
    }

    async fn read(
        &self,
        hash: &BlockHash,
        offset: u64,
        len: u64,
    ) -> Result<ByteStream, InfrastructureError> {
        self.store.read(hash, offset, len).await
    }

    async fn contains(&self, hash: &BlockHash) -> Result<bool, InfrastructureError> {
        self.store.contains(hash).await
    }

    async fn delete(&self, hashes: &[BlockHash]) -> Result<(), InfrastructureError> {
        self.store.delete(hashes).await
    }

    async fn check(&self) -> Result<(), InfrastructureError> {
        self.store.check().await
    }

    async fn sweep_debris(
        &self,
        cutoff: coffer_domain::Timestamp,
    ) -> Result<u64, InfrastructureError> {
        self.store.sweep_debris(cutoff).await
    }
}
