use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use coffer_domain::Timestamp;
use coffer_domain::files::BlockHash;
use futures_core::Stream;
use thiserror::Error;

use crate::InfrastructureError;

/// A stream of bytes: an upload's body, or a download's content.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ContentError>> + Send + 'static>>;

/// A stream of hashed blocks, in content order.
pub type BlockStream =
    Pin<Box<dyn Stream<Item = Result<HashedBlock, ContentError>> + Send + 'static>>;

/// Content could not be read or written.
#[derive(Debug, Error)]
pub enum ContentError {
    /// The client's stream failed (disconnected, timed out, or sent a malformed body).
    #[error("the upload was interrupted: {0}")]
    Source(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] InfrastructureError),
}

/// One block of content with its SHA-256, as the chunks it arrived in (no copy was made to
/// join them). `len` is at most [`coffer_domain::files::BLOCK_SIZE`].
#[derive(Debug, Clone)]
pub struct HashedBlock {
    /// SHA-256 of the block's bytes.
    pub hash: BlockHash,
    /// The bytes, in order.
    pub chunks: Vec<Bytes>,
    /// Total length of `chunks`.
    pub len: u32,
}

/// Splits content into blocks and hashes them, off the async worker threads.
pub trait BlockHasher: Send + Sync {
    /// Cuts `content` into blocks of exactly `BLOCK_SIZE` bytes (the last one shorter; empty
    /// content yields no block) and hashes each one. Reading, hashing and the consumer overlap,
    /// with at most a couple of blocks buffered between them, so memory does not grow with the
    /// content's size. An error of `content` ends the stream with that error.
    fn hash_blocks(&self, content: ByteStream) -> BlockStream;
}

/// Scratch space outside memory for a body that must be read whole before any of it is kept
/// (an append whose checksum covers the whole body), so memory does not grow with its size.
#[async_trait]
pub trait Scratch: Send + Sync {
    /// Writes `content` to fresh scratch space until it ends (an error of `content` is returned
    /// as is) and gives a stream reading it back once. The space is freed when that stream is
    /// dropped, and never outlives the process.
    async fn hold(&self, content: ByteStream) -> Result<ByteStream, ContentError>;
}

/// Where block bytes live: content-addressed, each block stored once for the whole installation.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores a block under its hash unless it is stored already. Durable when this returns.
    async fn put(&self, block: HashedBlock) -> Result<(), InfrastructureError>;
    /// Streams `len` bytes of a stored block, starting at `offset` within the block.
    async fn read(
        &self,
        hash: &BlockHash,
        offset: u64,
        len: u64,
    ) -> Result<ByteStream, InfrastructureError>;
    /// Whether a block is stored.
    async fn contains(&self, hash: &BlockHash) -> Result<bool, InfrastructureError>;
    /// Deletes blocks; a block that is not stored is not an error.
    async fn delete(&self, hashes: &[BlockHash]) -> Result<(), InfrastructureError>;
    /// Succeeds when the store can be used (for readiness probes): reachable and, where the
    /// store can tell, not full.
    async fn check(&self) -> Result<(), InfrastructureError>;
    /// Deletes debris of writes that never finished (a process killed mid-write) last touched
    /// before `cutoff`; returns how many pieces went. Stores whose writes leave no debris keep
    /// this default.
    async fn sweep_debris(&self, cutoff: Timestamp) -> Result<u64, InfrastructureError> {
        let _ = cutoff;
        Ok(0)
    }
}
