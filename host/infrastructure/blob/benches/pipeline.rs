//! Throughput of the upload path's CPU and disk stages: splitting and hashing content into
//! blocks, and storing blocks on local disk. `cargo bench -p coffer-blob`.

use std::hint::black_box;

use bytes::Bytes;
use coffer_application::ports::{BlobStore, BlockHasher, ByteStream};
use coffer_blob::{LocalBlobStore, Sha256BlockHasher};
use coffer_domain::files::BLOCK_SIZE;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;

const CONTENT: usize = 64 * 1024 * 1024;
/// What hyper typically hands over per body frame.
const FRAME: usize = 64 * 1024;

fn content() -> ByteStream {
    let frame = Bytes::from(vec![0x5a; FRAME]);
    Box::pin(futures_util::stream::iter(
        (0..CONTENT / FRAME).map(move |_| Ok(frame.clone())),
    ))
}

fn hashing(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("hash_blocks");
    group.throughput(Throughput::Bytes(CONTENT as u64));
    group.sample_size(10);
    group.bench_function("64 MiB in 64 KiB frames", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut blocks = Sha256BlockHasher::new().hash_blocks(content());
            let mut count = 0;
            while let Some(block) = blocks.next().await {
                black_box(block.unwrap().hash);
                count += 1;
            }
            assert_eq!(count, CONTENT / BLOCK_SIZE);
        });
    });
    group.finish();
}

fn storing(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).unwrap();
    let mut group = c.benchmark_group("local_store");
    group.throughput(Throughput::Bytes(CONTENT as u64));
    group.sample_size(10);
    group.bench_function("hash and put 64 MiB of new blocks (fsync each)", |b| {
        let mut round = 0u8;
        b.to_async(&runtime).iter(|| {
            round = round.wrapping_add(1);
            let store = &store;
            async move {
                // Fresh bytes each round, so every block is really written.
                let frame = Bytes::from(vec![round; FRAME]);
                let mut salt = 0u64;
                let source: ByteStream = Box::pin(futures_util::stream::iter(
                    (0..CONTENT / FRAME).map(move |_| {
                        salt += 1;
                        let mut bytes = frame.to_vec();
                        bytes[..8].copy_from_slice(&salt.to_le_bytes());
                        Ok(Bytes::from(bytes))
                    }),
                ));
                let mut blocks = Sha256BlockHasher::new().hash_blocks(source);
                while let Some(block) = blocks.next().await {
                    store.put(block.unwrap()).await.unwrap();
                }
            }
        });
    });
    group.finish();
}

criterion_group!(benches, hashing, storing);
criterion_main!(benches);
