use std::fmt;

use sha2::{Digest, Sha256};

use crate::DomainError;

/// Content is stored in blocks of this many bytes (the last block of a file may be shorter).
/// Chosen so that the content hash is exactly Dropbox's `content_hash`.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

fn parse_hex32(field: &'static str, raw: &str) -> Result<[u8; 32], DomainError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(raw.trim(), &mut bytes)
        .map_err(|_| DomainError::invalid(field, "must be 64 hexadecimal characters"))?;
    Ok(bytes)
}

/// The SHA-256 of one block: the block's name in the blob store, shared by every file that
/// contains the same bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockHash([u8; 32]);

impl BlockHash {
    /// Wraps a digest computed over a block's bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// Hashes a block held in memory (the streaming path hashes off the async threads instead).
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }
    /// Parses lowercase or uppercase hex.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        parse_hex32("block_hash", raw).map(Self)
    }
    /// The digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({})", self.to_hex())
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A file's content hash: SHA-256 over the concatenated raw digests of its blocks, in order
/// (Dropbox's `content_hash`). An empty file has no blocks and hashes to SHA-256 of nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// The hash of content made of these blocks.
    pub fn of_blocks<'a>(blocks: impl IntoIterator<Item = &'a BlockHash>) -> Self {
        let mut hasher = Sha256::new();
        for block in blocks {
            hasher.update(block.as_bytes());
        }
        Self(hasher.finalize().into())
    }
    /// Parses a client-sent hash (hex).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        parse_hex32("content_hash", raw).map(Self)
    }
    /// Wraps stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// The digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Lowercase hex, as Dropbox shows it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dropbox's content_hash, computed the slow, obvious way.
    fn reference(data: &[u8]) -> String {
        let mut concatenated = Vec::new();
        for block in data.chunks(BLOCK_SIZE) {
            concatenated.extend_from_slice(&Sha256::digest(block));
        }
        hex::encode(Sha256::digest(&concatenated))
    }

    fn hash(data: &[u8]) -> ContentHash {
        let blocks: Vec<BlockHash> = data.chunks(BLOCK_SIZE).map(BlockHash::of).collect();
        ContentHash::of_blocks(&blocks)
    }

    #[test]
    fn empty_content_hashes_to_sha256_of_nothing() {
        assert_eq!(
            ContentHash::of_blocks(&[]).to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn matches_dropbox_at_block_boundaries() {
        for len in [
            1,
            BLOCK_SIZE - 1,
            BLOCK_SIZE,
            BLOCK_SIZE + 1,
            2 * BLOCK_SIZE + 7,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            assert_eq!(hash(&data).to_hex(), reference(&data), "length {len}");
        }
    }

    #[test]
    fn a_single_block_file_is_not_just_its_block_hash() {
        let block = BlockHash::of(b"hello");
        assert_ne!(
            ContentHash::of_blocks(&[block]).as_bytes(),
            block.as_bytes()
        );
    }

    #[test]
    fn parses_hex_of_either_case_and_rejects_the_rest() {
        let hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(
            ContentHash::parse(hex).unwrap(),
            ContentHash::of_blocks(&[])
        );
        assert!(ContentHash::parse("abc").is_err());
        assert!(ContentHash::parse(&"g".repeat(64)).is_err());
        assert_eq!(
            BlockHash::parse(&BlockHash::of(b"x").to_hex()).unwrap(),
            BlockHash::of(b"x")
        );
    }
}
