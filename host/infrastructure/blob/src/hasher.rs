//! The upload pipeline's first stages: cut the content into blocks, hash them off the async
//! worker threads.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use coffer_application::InfrastructureError;
use coffer_application::ports::{BlockHasher, BlockStream, ByteStream, ContentError, HashedBlock};
use coffer_domain::files::{BLOCK_SIZE, BlockHash};
use futures_core::Stream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks shorter than this are copied into a shared buffer instead of being kept one `Bytes`
/// each, so that a source sending tiny frames cannot make a block's chunk list huge.
const SMALL_CHUNK: usize = 16 * 1024;

/// Blocks waiting between two stages (reader → hasher, hasher → consumer).
const STAGE_CAPACITY: usize = 1;

/// A block cut from the content, not hashed yet.
struct RawBlock {
    chunks: Vec<Bytes>,
    len: usize,
}

/// What goes from one stage to the next. The explicit `End` tells a complete content from a
/// stage that died (a panicking source must not look like a shorter upload).
enum Message<T> {
    Block(T),
    Failed(ContentError),
    End,
}

/// [`BlockHasher`] computing SHA-256 per block.
///
/// Each call to [`hash_blocks`](BlockHasher::hash_blocks) runs a pipeline: an async task reads
/// the content and cuts it into blocks without copying, a blocking-pool thread hashes them, and
/// the returned stream yields the hashed blocks. Stages are joined by channels holding one block,
/// so at most a handful of blocks are in memory whatever the content's size. Dropping the returned
/// stream stops the pipeline and drops the content stream.
///
/// `hash_blocks` must be called from within a Tokio runtime; outside one, the returned stream
/// yields a single error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sha256BlockHasher;

impl Sha256BlockHasher {
    /// A hasher.
    pub fn new() -> Self {
        Self
    }
}

impl BlockHasher for Sha256BlockHasher {
    fn hash_blocks(&self, content: ByteStream) -> BlockStream {
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime,
            Err(err) => {
                let err = ContentError::Storage(InfrastructureError::new(err));
                return Box::pin(futures_util::stream::iter([Err(err)]));
            }
        };
        let (raw_tx, raw_rx) = mpsc::channel(STAGE_CAPACITY);
        let (hashed_tx, hashed_rx) = mpsc::channel(STAGE_CAPACITY);
        let reader = runtime.spawn(cut_blocks(content, raw_tx));
        // The hashing loop ends when the reader's sender is gone or the output is dropped.
        drop(runtime.spawn_blocking(move || hash_loop(raw_rx, hashed_tx)));
        Box::pin(HashedBlocks {
            blocks: hashed_rx,
            reader,
            finished: false,
        })
    }
}

/// Reads `content`, cuts it into `BLOCK_SIZE` blocks and sends them (then the content's error, if
/// any). Stops early when the hashing stage is gone.
async fn cut_blocks(mut content: ByteStream, blocks: mpsc::Sender<Message<RawBlock>>) {
    let mut cutter = BlockCutter::default();
    loop {
        let next = tokio::select! {
            next = content.next() => next,
            () = blocks.closed() => return,
        };
        match next {
            None => break,
            Some(Err(err)) => {
                let _ = blocks.send(Message::Failed(err)).await;
                return;
            }
            Some(Ok(mut data)) => {
                while let Some(block) = cutter.push(&mut data) {
                    if blocks.send(Message::Block(block)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
    if let Some(block) = cutter.finish()
        && blocks.send(Message::Block(block)).await.is_err()
    {
        return;
    }
    let _ = blocks.send(Message::End).await;
}

/// Hashes blocks as they come; runs on a blocking-pool thread.
fn hash_loop(
    mut raw: mpsc::Receiver<Message<RawBlock>>,
    hashed: mpsc::Sender<Message<HashedBlock>>,
) {
    while let Some(message) = raw.blocking_recv() {
        let message = match message {
            Message::Block(block) => Message::Block(hash(block)),
            Message::Failed(err) => Message::Failed(err),
            Message::End => Message::End,
        };
        if hashed.blocking_send(message).is_err() {
            return;
        }
    }
}

fn hash(block: RawBlock) -> HashedBlock {
    let mut hasher = Sha256::new();
    for chunk in &block.chunks {
        hasher.update(chunk);
    }
    HashedBlock {
        hash: BlockHash::from_bytes(hasher.finalize().into()),
        chunks: block.chunks,
        // A block is at most BLOCK_SIZE (4 MiB) long.
        len: block.len as u32,
    }
}

/// Accumulates chunks into blocks of exactly `BLOCK_SIZE` bytes without copying (except tiny
/// chunks, which are gathered into one buffer).
#[derive(Default)]
struct BlockCutter {
    chunks: Vec<Bytes>,
    len: usize,
    small: BytesMut,
}

impl BlockCutter {
    /// Takes bytes from `data`; returns a block once one is full (call again until `None`, which
    /// means `data` has been consumed entirely).
    fn push(&mut self, data: &mut Bytes) -> Option<RawBlock> {
        if data.is_empty() {
            return None;
        }
        let room = BLOCK_SIZE - self.len;
        let piece = if data.len() <= room {
            std::mem::take(data)
        } else {
            data.split_to(room)
        };
        self.len += piece.len();
        if piece.len() < SMALL_CHUNK {
            self.small.extend_from_slice(&piece);
        } else {
            self.flush_small();
            self.chunks.push(piece);
        }
        if self.len == BLOCK_SIZE {
            self.take()
        } else {
            None
        }
    }

    /// The last, partial block, if any bytes are left.
    fn finish(&mut self) -> Option<RawBlock> {
        self.take()
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.chunks.push(self.small.split().freeze());
        }
    }

    fn take(&mut self) -> Option<RawBlock> {
        self.flush_small();
        if self.len == 0 {
            return None;
        }
        let block = RawBlock {
            chunks: std::mem::take(&mut self.chunks),
            len: self.len,
        };
        self.len = 0;
        Some(block)
    }
}

/// The pipeline's output; aborts the reading task when dropped.
struct HashedBlocks {
    blocks: mpsc::Receiver<Message<HashedBlock>>,
    reader: JoinHandle<()>,
    finished: bool,
}

impl Stream for HashedBlocks {
    type Item = Result<HashedBlock, ContentError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let item = match ready!(self.blocks.poll_recv(cx)) {
            Some(Message::Block(block)) => return Poll::Ready(Some(Ok(block))),
            Some(Message::Failed(err)) => Some(Err(err)),
            Some(Message::End) => None,
            None => Some(Err(ContentError::Storage(InfrastructureError::msg(
                "the block hashing pipeline stopped before the end of the content",
            )))),
        };
        self.finished = true;
        Poll::Ready(item)
    }
}

impl Drop for HashedBlocks {
    fn drop(&mut self) {
        // Dropping the reader drops the content and the hashing stage's input, which ends it.
        self.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut_all(chunks: &[usize]) -> Vec<RawBlock> {
        let mut cutter = BlockCutter::default();
        let mut blocks = Vec::new();
        for &len in chunks {
            let mut data = Bytes::from(vec![7u8; len]);
            while let Some(block) = cutter.push(&mut data) {
                blocks.push(block);
            }
            assert!(data.is_empty());
        }
        blocks.extend(cutter.finish());
        blocks
    }

    #[test]
    fn large_chunks_are_split_without_copying_and_small_ones_are_gathered() {
        let blocks = cut_all(&[BLOCK_SIZE + 100, 1, 2, 3, 20_000]);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].len, BLOCK_SIZE);
        assert_eq!(blocks[0].chunks.len(), 1);
        assert_eq!(blocks[1].len, 100 + 6 + 20_000);
        // 100, 1, 2 and 3 bytes gathered into one chunk; then the large chunk as is.
        let lens: Vec<usize> = blocks[1].chunks.iter().map(Bytes::len).collect();
        assert_eq!(lens, vec![106, 20_000]);
    }

    #[test]
    fn tiny_chunks_do_not_make_one_entry_each() {
        let blocks = cut_all(&vec![1; 50_000]);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].len, 50_000);
        assert_eq!(blocks[0].chunks.len(), 1);
    }

    #[test]
    fn no_bytes_no_block() {
        assert!(cut_all(&[]).is_empty());
        assert!(cut_all(&[0, 0]).is_empty());
    }
}
