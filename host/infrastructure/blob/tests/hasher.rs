//! The block hashing pipeline: block boundaries, hashes, errors, back-pressure and cancellation.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_application::ports::{BlockHasher, ByteStream, ContentError, HashedBlock};
use coffer_blob::Sha256BlockHasher;
use coffer_domain::files::{BLOCK_SIZE, BlockHash};
use futures_core::Stream;
use futures_util::StreamExt;

const MIB: usize = 1 << 20;

static ZEROS: [u8; MIB] = [0; MIB];

/// Deterministic bytes that differ from offset to offset.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect()
}

/// `data` as a stream of chunks whose sizes cycle through `sizes`.
fn chunked(data: &[u8], sizes: &[usize]) -> ByteStream {
    let mut rest = Bytes::copy_from_slice(data);
    let mut chunks = Vec::new();
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        chunks.push(Ok(rest.split_to(size.min(rest.len()))));
    }
    Box::pin(futures_util::stream::iter(chunks))
}

async fn collect(content: ByteStream) -> Vec<HashedBlock> {
    let mut blocks = Vec::new();
    let mut stream = Sha256BlockHasher::new().hash_blocks(content);
    while let Some(block) = stream.next().await {
        blocks.push(block.expect("block"));
    }
    blocks
}

/// Hashes `data` cut into chunks of `sizes` and checks every block against `data`.
async fn check(data: &[u8], sizes: &[usize]) {
    let blocks = collect(chunked(data, sizes)).await;
    let expected: Vec<&[u8]> = data.chunks(BLOCK_SIZE).collect();
    assert_eq!(
        blocks.len(),
        expected.len(),
        "{} bytes in {sizes:?}",
        data.len()
    );
    for (index, (block, expected)) in blocks.iter().zip(expected).enumerate() {
        assert_eq!(block.len as usize, expected.len(), "block {index} length");
        assert_eq!(block.hash, BlockHash::of(expected), "block {index} hash");
        let joined: Vec<u8> = block
            .chunks
            .iter()
            .flat_map(|c| c.iter().copied())
            .collect();
        assert!(joined == expected, "block {index} bytes differ");
    }
}

#[tokio::test]
async fn empty_content_has_no_block() {
    check(&[], &[1]).await;
    let only_empty_chunks = futures_util::stream::iter([Ok(Bytes::new()), Ok(Bytes::new())]);
    assert!(collect(Box::pin(only_empty_chunks)).await.is_empty());
}

#[tokio::test]
async fn one_byte_is_one_block() {
    check(b"a", &[1]).await;
}

#[tokio::test]
async fn small_content_in_one_byte_chunks() {
    check(&pattern(70_000), &[1]).await;
}

#[tokio::test]
async fn one_byte_short_of_a_block() {
    let data = pattern(BLOCK_SIZE - 1);
    check(&data, &[BLOCK_SIZE - 1]).await;
    check(&data, &[MIB + 3]).await;
}

#[tokio::test]
async fn exactly_one_block() {
    let data = pattern(BLOCK_SIZE);
    check(&data, &[BLOCK_SIZE]).await;
    check(&data, &[MIB + 3]).await;
    check(&data, &[BLOCK_SIZE - 1]).await;
}

#[tokio::test]
async fn one_byte_more_than_a_block() {
    let data = pattern(BLOCK_SIZE + 1);
    check(&data, &[BLOCK_SIZE + 1]).await;
    check(&data, &[BLOCK_SIZE]).await;
    check(&data, &[MIB + 3]).await;
}

#[tokio::test]
async fn several_blocks_with_chunks_straddling_the_boundaries() {
    let data = pattern(3 * BLOCK_SIZE + 5);
    check(&data, &[data.len()]).await;
    check(&data, &[MIB + 3]).await;
    check(&data, &[1, 4095, 65_537, MIB + 3, 7]).await;
    check(&data, &[2 * BLOCK_SIZE + 1]).await;
}

#[tokio::test]
async fn a_source_error_ends_the_stream_with_that_error() {
    let data = pattern(BLOCK_SIZE + 10);
    let content = futures_util::stream::iter([
        Ok(Bytes::copy_from_slice(&data)),
        Err(ContentError::Source("client went away".into())),
        Ok(Bytes::from_static(b"never read")),
    ]);
    let mut stream = Sha256BlockHasher::new().hash_blocks(Box::pin(content));
    let first = stream.next().await.expect("a block").expect("full block");
    assert_eq!(first.hash, BlockHash::of(&data[..BLOCK_SIZE]));
    match stream.next().await {
        Some(Err(ContentError::Source(message))) => assert_eq!(message, "client went away"),
        other => panic!("expected the source's error, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn an_immediate_source_error_is_the_first_item() {
    let content = futures_util::stream::iter([Err(ContentError::Source("bad body".into()))]);
    let mut stream = Sha256BlockHasher::new().hash_blocks(Box::pin(content));
    assert!(matches!(
        stream.next().await,
        Some(Err(ContentError::Source(_)))
    ));
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_panicking_source_is_an_error_not_a_shorter_content() {
    struct Panicking(bool);
    impl Stream for Panicking {
        type Item = Result<Bytes, ContentError>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if std::mem::replace(&mut self.0, true) {
                panic!("the source broke (expected by this test)");
            }
            Poll::Ready(Some(Ok(Bytes::from_static(b"first bytes"))))
        }
    }
    let mut stream = Sha256BlockHasher::new().hash_blocks(Box::pin(Panicking(false)));
    assert!(matches!(
        stream.next().await,
        Some(Err(ContentError::Storage(_)))
    ));
    assert!(stream.next().await.is_none());
}

#[test]
fn outside_a_runtime_the_stream_yields_an_error() {
    let mut stream = Sha256BlockHasher::new().hash_blocks(chunked(b"abc", &[3]));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let first = runtime.block_on(stream.next());
    assert!(matches!(first, Some(Err(ContentError::Storage(_)))));
}

/// An endless (or `limit`-byte) source of 1 MiB chunks of zeros that counts what was pulled
/// from it and notes when it is dropped.
struct CountingSource {
    pulled: Arc<AtomicUsize>,
    dropped: Arc<AtomicBool>,
    limit: usize,
}

impl Stream for CountingSource {
    type Item = Result<Bytes, ContentError>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let pulled = self.pulled.load(Ordering::SeqCst);
        if pulled >= self.limit {
            return Poll::Ready(None);
        }
        self.pulled.fetch_add(MIB, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Bytes::from_static(&ZEROS))))
    }
}

impl Drop for CountingSource {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

fn counting_source(limit: usize) -> (ByteStream, Arc<AtomicUsize>, Arc<AtomicBool>) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let source = CountingSource {
        pulled: Arc::clone(&pulled),
        dropped: Arc::clone(&dropped),
        limit,
    };
    (Box::pin(source), pulled, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_holds_the_source_back() {
    let blocks = 64;
    let (source, pulled, _) = counting_source(blocks * BLOCK_SIZE);
    let mut stream = Sha256BlockHasher::new().hash_blocks(source);
    let zero_block = BlockHash::of(&vec![0; BLOCK_SIZE]);
    let mut consumed = 0;
    let mut most_ahead = 0;
    while let Some(block) = stream.next().await {
        let block = block.expect("block");
        assert_eq!(block.hash, zero_block);
        consumed += block.len as usize;
        // Give the pipeline time to fill up, as a slow disk or network would.
        tokio::time::sleep(Duration::from_millis(3)).await;
        most_ahead = most_ahead.max(pulled.load(Ordering::SeqCst) - consumed);
    }
    assert_eq!(consumed, blocks * BLOCK_SIZE);
    assert!(
        most_ahead <= 5 * BLOCK_SIZE,
        "the source ran {} MiB ahead of the consumer",
        most_ahead / MIB
    );
    assert!(most_ahead >= BLOCK_SIZE, "the stages did not overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_output_stops_the_pipeline() {
    let (source, pulled, dropped) = counting_source(usize::MAX);
    let mut stream = Sha256BlockHasher::new().hash_blocks(source);
    for _ in 0..2 {
        stream.next().await.expect("a block").expect("block");
    }
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dropped.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the source was not dropped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let after_drop = pulled.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(pulled.load(Ordering::SeqCst), after_drop);
    assert!(
        after_drop <= 8 * BLOCK_SIZE,
        "{} MiB pulled",
        after_drop / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_output_drops_a_source_that_never_answers() {
    let dropped = Arc::new(AtomicBool::new(false));
    struct Pending(Arc<AtomicBool>);
    impl Stream for Pending {
        type Item = Result<Bytes, ContentError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }
    impl Drop for Pending {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let stream = Sha256BlockHasher::new().hash_blocks(Box::pin(Pending(Arc::clone(&dropped))));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!dropped.load(Ordering::SeqCst));
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dropped.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the source was not dropped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
