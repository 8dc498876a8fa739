//! Every `BlobStore` behaviour, checked against the local store and against the test Garage (S3).

use bytes::Bytes;
use coffer_application::ports::{BlobStore, HashedBlock};
use coffer_blob::testing::TestBlobStores;
use coffer_domain::files::{BLOCK_SIZE, BlockHash};
use futures_util::StreamExt;

/// Deterministic bytes that differ from offset to offset (so a wrong range is noticed).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// A block of `data`, split into chunks of the given sizes (the last one takes the rest).
fn block(data: &[u8], chunk_sizes: &[usize]) -> HashedBlock {
    let mut chunks = Vec::new();
    let mut rest = Bytes::copy_from_slice(data);
    for &size in chunk_sizes {
        chunks.push(rest.split_to(size.min(rest.len())));
    }
    if !rest.is_empty() {
        chunks.push(rest);
    }
    HashedBlock {
        hash: BlockHash::of(data),
        chunks,
        len: data.len() as u32,
    }
}

/// Reads a range and returns its bytes and the sizes of the chunks it came in.
async fn read(
    store: &dyn BlobStore,
    hash: &BlockHash,
    offset: u64,
    len: u64,
) -> (Vec<u8>, Vec<usize>) {
    let mut stream = store.read(hash, offset, len).await.expect("read");
    let mut bytes = Vec::new();
    let mut sizes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("read chunk");
        sizes.push(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    (bytes, sizes)
}

async fn read_all(store: &dyn BlobStore, hash: &BlockHash, len: usize) -> Vec<u8> {
    read(store, hash, 0, len as u64).await.0
}

async fn round_trip(store: &dyn BlobStore, data: &[u8], chunk_sizes: &[usize]) {
    let block = block(data, chunk_sizes);
    let hash = block.hash;
    assert!(!store.contains(&hash).await.expect("contains"));
    store.put(block).await.expect("put");
    assert!(store.contains(&hash).await.expect("contains"));
    assert!(
        read_all(store, &hash, data.len()).await == data,
        "content differs"
    );
}

async fn round_trip_of_an_empty_block(store: &dyn BlobStore) {
    round_trip(store, &[], &[]).await;
}

async fn round_trip_of_a_one_byte_block(store: &dyn BlobStore) {
    round_trip(store, b"x", &[]).await;
}

async fn round_trip_of_a_full_block(store: &dyn BlobStore) {
    round_trip(store, &pattern(BLOCK_SIZE, 1), &[]).await;
}

async fn round_trip_of_a_multi_chunk_block(store: &dyn BlobStore) {
    let sizes = [1, 4095, (1 << 20) + 3, 17, (1 << 20) + 3, 65_536];
    round_trip(store, &pattern(BLOCK_SIZE, 2), &sizes).await;
    round_trip(store, &pattern(BLOCK_SIZE / 3 + 11, 3), &[1, 2, 3, 100_000]).await;
}

async fn ranged_reads_return_exactly_the_range(store: &dyn BlobStore) {
    let data = pattern(BLOCK_SIZE, 4);
    let hashed = block(&data, &[(1 << 20) + 3]);
    let hash = hashed.hash;
    store.put(hashed).await.expect("put");
    let size = BLOCK_SIZE as u64;
    for (offset, len) in [
        (0, 10),
        (0, 1),
        (1_000_000, 2_500_000),
        (size / 2, 1),
        (size - 100, 100),
        (size - 1, 1),
        (0, size),
        (7, 0),
        (size, 0),
    ] {
        let (bytes, _) = read(store, &hash, offset, len).await;
        let expected = &data[offset as usize..(offset + len) as usize];
        assert!(bytes == expected, "range {offset}+{len} differs");
    }
}

async fn reads_are_streamed_in_chunks_of_at_most_1_mib(store: &dyn BlobStore) {
    let data = pattern(BLOCK_SIZE, 5);
    let hashed = block(&data, &[]);
    let hash = hashed.hash;
    store.put(hashed).await.expect("put");
    let (bytes, sizes) = read(store, &hash, 0, BLOCK_SIZE as u64).await;
    assert!(bytes == data);
    assert!(
        sizes.len() >= 4,
        "a 4 MiB block came in {} chunks",
        sizes.len()
    );
    assert!(sizes.iter().all(|&size| size <= 1 << 20), "{sizes:?}");
}

async fn reads_outside_the_block_fail(store: &dyn BlobStore) {
    let data = pattern(1000, 6);
    let hashed = block(&data, &[]);
    let hash = hashed.hash;
    store.put(hashed).await.expect("put");
    for (offset, len) in [
        (0, 1001),
        (999, 2),
        (1000, 1),
        (5000, 10),
        (1001, 0),
        (1, u64::MAX),
    ] {
        assert!(
            store.read(&hash, offset, len).await.is_err(),
            "range {offset}+{len} of a 1000-byte block was accepted"
        );
    }
}

async fn put_is_idempotent(store: &dyn BlobStore) {
    let data = pattern(300_000, 7);
    store.put(block(&data, &[])).await.expect("first put");
    store
        .put(block(&data, &[10, 20_000, 7]))
        .await
        .expect("second put");
    let hash = BlockHash::of(&data);
    assert!(store.contains(&hash).await.expect("contains"));
    assert!(read_all(store, &hash, data.len()).await == data);
}

async fn put_rejects_a_length_that_does_not_match_the_chunks(store: &dyn BlobStore) {
    let data = pattern(100, 8);
    let mut wrong = block(&data, &[]);
    wrong.len = 99;
    assert!(store.put(wrong).await.is_err());
    assert!(
        !store
            .contains(&BlockHash::of(&data))
            .await
            .expect("contains")
    );
}

async fn contains_only_stored_blocks(store: &dyn BlobStore) {
    let stored = pattern(10, 9);
    let other = pattern(11, 9);
    store.put(block(&stored, &[])).await.expect("put");
    assert!(
        store
            .contains(&BlockHash::of(&stored))
            .await
            .expect("contains")
    );
    assert!(
        !store
            .contains(&BlockHash::of(&other))
            .await
            .expect("contains")
    );
}

async fn delete_removes_present_blocks_and_ignores_missing_ones(store: &dyn BlobStore) {
    let kept = pattern(20, 10);
    let deleted = pattern(21, 10);
    let never_stored = BlockHash::of(b"never stored");
    store.put(block(&kept, &[])).await.expect("put");
    store.put(block(&deleted, &[])).await.expect("put");
    let deleted = BlockHash::of(&deleted);
    store
        .delete(&[deleted, never_stored])
        .await
        .expect("delete present and missing");
    assert!(!store.contains(&deleted).await.expect("contains"));
    assert!(
        store
            .contains(&BlockHash::of(&kept))
            .await
            .expect("contains")
    );
    assert!(store.read(&deleted, 0, 21).await.is_err());
    store.delete(&[deleted]).await.expect("delete again");
    store.delete(&[]).await.expect("delete nothing");
}

async fn deleted_blocks_can_be_stored_again(store: &dyn BlobStore) {
    let data = pattern(5000, 11);
    let hash = BlockHash::of(&data);
    store.put(block(&data, &[])).await.expect("put");
    store.delete(&[hash]).await.expect("delete");
    store.put(block(&data, &[])).await.expect("put again");
    assert!(read_all(store, &hash, data.len()).await == data);
}

async fn reading_a_missing_block_fails(store: &dyn BlobStore) {
    let missing = BlockHash::of(b"missing");
    assert!(store.read(&missing, 0, 10).await.is_err());
    assert!(store.read(&missing, 0, 0).await.is_err());
}

async fn many_blocks_can_be_deleted_at_once(store: &dyn BlobStore) {
    let blocks: Vec<Vec<u8>> = (0..1100u32).map(|i| i.to_le_bytes().to_vec()).collect();
    for data in blocks.iter().step_by(100) {
        store.put(block(data, &[])).await.expect("put");
    }
    let hashes: Vec<BlockHash> = blocks.iter().map(|data| BlockHash::of(data)).collect();
    store.delete(&hashes).await.expect("delete 1100 blocks");
    for data in blocks.iter().step_by(100) {
        assert!(
            !store
                .contains(&BlockHash::of(data))
                .await
                .expect("contains")
        );
    }
}

async fn concurrent_puts_of_the_same_block_succeed(store: &dyn BlobStore) {
    let data = pattern(BLOCK_SIZE / 2, 12);
    let puts = (0..4).map(|_| store.put(block(&data, &[(1 << 20) + 3])));
    for result in futures_util::future::join_all(puts).await {
        result.expect("concurrent put");
    }
    assert!(read_all(store, &BlockHash::of(&data), data.len()).await == data);
}

/// Generates `local::<test>` and `s3::<test>` for each test function above.
macro_rules! blob_store_tests {
    ($($test:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let store = TestBlobStores::local();
                    super::$test(&store).await;
                }
            )*
        }

        mod s3 {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let store = TestBlobStores::s3();
                    super::$test(&store).await;
                }
            )*
        }
    };
}

blob_store_tests!(
    round_trip_of_an_empty_block,
    round_trip_of_a_one_byte_block,
    round_trip_of_a_full_block,
    round_trip_of_a_multi_chunk_block,
    ranged_reads_return_exactly_the_range,
    reads_are_streamed_in_chunks_of_at_most_1_mib,
    reads_outside_the_block_fail,
    put_is_idempotent,
    put_rejects_a_length_that_does_not_match_the_chunks,
    contains_only_stored_blocks,
    delete_removes_present_blocks_and_ignores_missing_ones,
    deleted_blocks_can_be_stored_again,
    reading_a_missing_block_fails,
    many_blocks_can_be_deleted_at_once,
    concurrent_puts_of_the_same_block_succeed,
);

mod local_only {
    use std::fs;

    use super::*;

    #[tokio::test]
    async fn blocks_are_files_sharded_by_hash() {
        let store = TestBlobStores::local();
        let data = pattern(1234, 20);
        let hash = BlockHash::of(&data);
        store.put(block(&data, &[100])).await.expect("put");
        let hex = hash.to_hex();
        let path = store.root().join(&hex[..2]).join(&hex[2..4]).join(&hex);
        assert_eq!(store.block_path(&hash), path);
        assert_eq!(fs::read(&path).expect("block file"), data);
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("shard"))
            .expect("shard directory")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(&hex)]);
    }

    #[tokio::test]
    async fn leftover_temporary_files_are_not_blocks() {
        let store = TestBlobStores::local();
        let data = pattern(4321, 21);
        let hash = BlockHash::of(&data);
        let hex = hash.to_hex();
        let shard = store.root().join(&hex[..2]).join(&hex[2..4]);
        fs::create_dir_all(&shard).expect("shard");
        fs::write(shard.join(format!(".tmp-{hex}-1-0")), &data[..100]).expect("leftover");
        assert!(!store.contains(&hash).await.expect("contains"));
        assert!(store.read(&hash, 0, 100).await.is_err());
        store.put(block(&data, &[])).await.expect("put");
        assert!(read_all(&*store, &hash, data.len()).await == data);
    }

    #[tokio::test]
    async fn a_block_file_that_is_already_there_is_not_rewritten() {
        let store = TestBlobStores::local();
        let data = pattern(100, 22);
        let hash = BlockHash::of(&data);
        store.put(block(&data, &[])).await.expect("put");
        let modified = fs::metadata(store.block_path(&hash))
            .and_then(|meta| meta.modified())
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        store.put(block(&data, &[])).await.expect("put again");
        let again = fs::metadata(store.block_path(&hash))
            .and_then(|meta| meta.modified())
            .expect("mtime");
        assert_eq!(modified, again);
    }

    #[tokio::test]
    async fn check_fails_when_the_root_is_gone() {
        let store = TestBlobStores::local();
        store.check().await.expect("fresh store is ready");
        fs::remove_dir_all(store.root()).expect("remove root");
        assert!(store.check().await.is_err());
    }
}

mod s3_only {
    use coffer_blob::S3BlobStore;

    use super::*;

    #[tokio::test]
    async fn check_reaches_the_bucket() {
        TestBlobStores::s3()
            .check()
            .await
            .expect("bucket reachable");
    }

    #[tokio::test]
    async fn check_fails_for_a_missing_bucket() {
        let mut settings = TestBlobStores::s3_settings();
        settings.bucket = "coffer-no-such-bucket".into();
        let store = S3BlobStore::connect(settings).expect("connect");
        assert!(store.check().await.is_err());
    }

    #[tokio::test]
    async fn check_fails_with_wrong_credentials() {
        let mut settings = TestBlobStores::s3_settings();
        settings.secret_access_key = "not-the-secret-8472".into();
        let store = S3BlobStore::connect(settings).expect("connect");
        let err = store.check().await.expect_err("wrong secret accepted");
        assert!(
            !err.to_string().contains("8472"),
            "the secret leaked: {err}"
        );
    }

    #[tokio::test]
    async fn the_server_rejects_bytes_that_do_not_match_the_hash() {
        let store = TestBlobStores::s3();
        let data = pattern(1000, 30);
        let mut forged = block(&data, &[]);
        forged.hash = BlockHash::of(b"something else");
        assert!(store.put(forged).await.is_err());
        assert!(
            !store
                .contains(&BlockHash::of(b"something else"))
                .await
                .expect("contains")
        );
    }

    #[tokio::test]
    async fn blocks_are_keyed_under_the_prefix() {
        let store = TestBlobStores::s3();
        let hash = BlockHash::of(b"keyed");
        let hex = hash.to_hex();
        assert_eq!(
            store.key(&hash),
            format!("{}blocks/{}/{hex}", store.key_prefix(), &hex[..2])
        );
        assert!(store.key_prefix().starts_with("coffer-test/"));
    }
}
