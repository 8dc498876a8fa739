//! Upload sessions: a file's content arriving over several requests, stored block by block
//! until the file is committed from its block list.

use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{BLOCK_SIZE, BlockHash, NodeId, NodePath, RevisionId, UploadId, WriteMode};
use crate::account::UserId;
use crate::{DomainError, Timestamp};

/// How the content of a session arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// As one byte stream, appended at the current offset (tus): blocks are cut as bytes arrive.
    Stream,
    /// As a declared list of block hashes, each missing block sent on its own (delta upload).
    Blocks,
}

/// One block of a session, at its position in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBlock {
    /// The block's SHA-256.
    pub hash: BlockHash,
    /// Its length in bytes.
    pub size: u32,
    /// Whether the block may be used: stored by this session, or already in a file the owner
    /// can read. A delta upload's declared block that is neither must be sent.
    pub present: bool,
}

/// An upload in progress: where the file goes, how long it is, and how far it has arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// The session.
    pub id: UploadId,
    /// The user who started it; nobody else sees it.
    pub owner: UserId,
    /// How its content arrives.
    pub kind: SessionKind,
    /// Where the file will be stored.
    pub path: NodePath,
    /// What to do if a file is at the path when the session commits.
    pub mode: WriteMode,
    /// On conflict, store under a free numbered name instead of failing.
    pub autorename: bool,
    /// The file's modification time on the client.
    pub client_modified: Option<Timestamp>,
    /// The media type the client declared.
    pub media_type: Option<String>,
    /// The file's length in bytes, announced when the session started.
    pub length: u64,
    /// Bytes received so far (stream sessions; the offset the next append starts at).
    pub received: u64,
    /// When it started.
    pub created_at: Timestamp,
    /// When it is abandoned unless more content arrives (each append pushes this back).
    pub expires_at: Timestamp,
    /// Once committed: the file and the revision it became.
    pub committed: Option<(NodeId, RevisionId)>,
}

impl UploadSession {
    /// Whether it is past its expiry at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at <= now
    }

    /// Whether every byte has arrived (stream sessions).
    pub fn is_complete(&self) -> bool {
        self.received == self.length
    }

    /// Where a stream append begins its work: the position of the first block it may write
    /// (a partial last block is rewritten, joined with the new bytes) and the bytes of that
    /// partial block which must be read back and joined first.
    pub fn resume_point(&self) -> (u64, u32) {
        let block = BLOCK_SIZE as u64;
        (self.received / block, (self.received % block) as u32)
    }

    /// Checks an append at `offset` of `body_len` bytes (if announced) against the session.
    pub fn check_append(&self, offset: u64, body_len: Option<u64>) -> Result<(), AppendRefused> {
        if offset != self.received {
            return Err(AppendRefused::WrongOffset {
                offset: self.received,
            });
        }
        if body_len.is_some_and(|len| offset.saturating_add(len) > self.length) {
            return Err(AppendRefused::PastLength {
                length: self.length,
            });
        }
        Ok(())
    }
}

/// Why an append cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendRefused {
    /// It does not start where the upload is.
    WrongOffset {
        /// Where the upload is.
        offset: u64,
    },
    /// It would take the upload past its announced length.
    PastLength {
        /// The announced length.
        length: u64,
    },
}

/// How many blocks content of `length` bytes has.
pub fn block_count(length: u64) -> u64 {
    length.div_ceil(BLOCK_SIZE as u64)
}

/// The size of the block at `position` in content of `length` bytes (`None` past the end).
pub fn block_size_at(length: u64, position: u64) -> Option<u32> {
    let block = BLOCK_SIZE as u64;
    let start = position.checked_mul(block)?;
    (start < length).then(|| (length - start).min(block) as u32)
}

/// A digest algorithm a client may checksum a request body with (tus `Upload-Checksum`). These
/// guard against corruption in transit, not against an adversary: SHA-1 is accepted because
/// common clients (tuspy) send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, by its tus name.
    pub const ALL: [(&'static str, ChecksumAlgorithm); 2] =
        [("sha1", Self::Sha1), ("sha256", Self::Sha256)];

    /// The algorithm with this tus name (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, a)| *a)
    }

    /// The length of its digests in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// The checksum a client announced for a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedChecksum {
    algorithm: ChecksumAlgorithm,
    digest: Vec<u8>,
}

impl ExpectedChecksum {
    /// A digest of the algorithm's length.
    pub fn new(algorithm: ChecksumAlgorithm, digest: Vec<u8>) -> Result<Self, DomainError> {
        if digest.len() != algorithm.digest_len() {
            return Err(DomainError::invalid(
                "upload_checksum",
                format!(
                    "a {algorithm:?} digest has {} bytes",
                    algorithm.digest_len()
                ),
            ));
        }
        Ok(Self { algorithm, digest })
    }

    /// A running checksum of the same algorithm, to feed the body to.
    pub fn start(&self) -> Checksum {
        match self.algorithm {
            ChecksumAlgorithm::Sha1 => Checksum::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Checksum::Sha256(Sha256::new()),
        }
    }

    /// Whether a finished checksum matches.
    pub fn matches(&self, actual: &[u8]) -> bool {
        self.digest == actual
    }
}

/// A checksum over a request body as it streams by.
#[derive(Clone)]
pub enum Checksum {
    /// SHA-1.
    Sha1(Sha1),
    /// SHA-256.
    Sha256(Sha256),
}

impl Checksum {
    /// Adds the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
        }
    }
    /// The digest of everything added.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    const MIB4: u64 = BLOCK_SIZE as u64;

    fn session(length: u64, received: u64) -> UploadSession {
        UploadSession {
            id: UploadId::from_uuid(Uuid::from_u128(1)),
            owner: UserId::from_uuid(Uuid::from_u128(2)),
            kind: SessionKind::Stream,
            path: NodePath::parse("/a.bin").unwrap(),
            mode: WriteMode::Add,
            autorename: false,
            client_modified: None,
            media_type: None,
            length,
            received,
            created_at: Timestamp::default(),
            expires_at: Timestamp::default() + chrono::Duration::hours(1),
            committed: None,
        }
    }

    #[test]
    fn an_append_resumes_at_the_partial_block() {
        assert_eq!(session(10 * MIB4, 0).resume_point(), (0, 0));
        assert_eq!(session(10 * MIB4, 2 * MIB4).resume_point(), (2, 0));
        assert_eq!(session(10 * MIB4, 2 * MIB4 + 5).resume_point(), (2, 5));
    }

    #[test]
    fn an_append_must_start_at_the_offset_and_stay_within_the_length() {
        let s = session(100, 40);
        assert_eq!(s.check_append(40, Some(60)), Ok(()));
        assert_eq!(s.check_append(40, None), Ok(()));
        assert_eq!(
            s.check_append(39, None),
            Err(AppendRefused::WrongOffset { offset: 40 })
        );
        assert_eq!(
            s.check_append(40, Some(61)),
            Err(AppendRefused::PastLength { length: 100 })
        );
        assert!(!s.is_complete());
        assert!(session(100, 100).is_complete());
    }

    #[test]
    fn block_sizes_follow_the_length() {
        assert_eq!(block_count(0), 0);
        assert_eq!(block_count(1), 1);
        assert_eq!(block_count(MIB4), 1);
        assert_eq!(block_count(MIB4 + 1), 2);
        assert_eq!(block_size_at(MIB4 + 1, 0), Some(BLOCK_SIZE as u32));
        assert_eq!(block_size_at(MIB4 + 1, 1), Some(1));
        assert_eq!(block_size_at(MIB4 + 1, 2), None);
        assert_eq!(block_size_at(0, 0), None);
        assert_eq!(block_size_at(u64::MAX, u64::MAX), None);
    }

    #[test]
    fn expiry_is_inclusive() {
        let s = session(1, 0);
        assert!(!s.is_expired(s.expires_at - chrono::Duration::seconds(1)));
        assert!(s.is_expired(s.expires_at));
    }

    #[test]
    fn a_checksum_covers_the_whole_body_however_it_is_cut() {
        let sha256 = ExpectedChecksum::new(
            ChecksumAlgorithm::Sha256,
            hex::decode("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
                .unwrap(),
        )
        .unwrap();
        let sha1 = ExpectedChecksum::new(
            ChecksumAlgorithm::parse("SHA1").unwrap(),
            hex::decode("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed").unwrap(),
        )
        .unwrap();
        for expected in [sha256, sha1] {
            let mut running = expected.start();
            running.update(b"hello ");
            running.update(b"world");
            assert!(expected.matches(&running.finish()));
            let mut other = expected.start();
            other.update(b"hello");
            assert!(!expected.matches(&other.finish()));
        }
        assert!(ExpectedChecksum::new(ChecksumAlgorithm::Sha1, vec![0; 32]).is_err());
        assert_eq!(ChecksumAlgorithm::parse("md5"), None);
    }
}
