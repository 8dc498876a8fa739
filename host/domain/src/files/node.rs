use std::fmt;

use uuid::Uuid;

use super::{BLOCK_SIZE, BlockHash, ContentHash, NodeName};
use crate::account::{ByteCount, UserId};
use crate::{DomainError, Timestamp};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an id minted by the id generator or read from storage.
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// Identifies a file or folder for its whole life, across renames and moves.
    NodeId
);
uuid_id!(
    /// Identifies a namespace: a tree of files and folders with one owner (a user's home, or
    /// later a shared folder).
    NamespaceId
);
uuid_id!(
    /// Identifies one revision of one file; shown to clients as `rev`.
    RevisionId
);
uuid_id!(
    /// Identifies an upload session (a resumable upload or a delta upload).
    UploadId
);

impl RevisionId {
    /// The opaque `rev` string clients see: 32 lowercase hex digits.
    pub fn rev(&self) -> String {
        self.0.simple().to_string()
    }

    /// Parses a `rev` string.
    pub fn parse_rev(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        if raw.len() != 32 {
            return Err(DomainError::invalid(
                "rev",
                "is not a revision of this server",
            ));
        }
        Uuid::try_parse(raw)
            .map(Self)
            .map_err(|_| DomainError::invalid("rev", "is not a revision of this server"))
    }
}

/// Whose tree a namespace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceKind {
    /// A user's own tree (one per user).
    Home,
    /// A shared folder's tree, mounted in each member's home.
    Shared,
}

/// A namespace: the root folder of a tree, its owner, and the bytes its live files use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The namespace.
    pub id: NamespaceId,
    /// A home or a shared folder.
    pub kind: NamespaceKind,
    /// Whose quota its files count against.
    pub owner: UserId,
    /// Its root folder (never listed as an entry itself).
    pub root: NodeId,
    /// Bytes of its live files (not trashed, not old revisions).
    pub used: ByteCount,
}

/// File or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A file: has a current revision.
    File,
    /// A folder: has children.
    Folder,
}

/// The current revision of a file, as kept on its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    /// The revision.
    pub revision: RevisionId,
    /// Size in bytes.
    pub size: ByteCount,
    /// Dropbox-compatible content hash.
    pub content_hash: ContentHash,
    /// The modification time the client reported (or the upload time).
    pub client_modified: Timestamp,
}

/// A file or folder below a namespace's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node.
    pub id: NodeId,
    /// The tree it belongs to.
    pub namespace: NamespaceId,
    /// Its folder (the namespace root for top-level entries).
    pub parent: NodeId,
    /// Its name in that folder.
    pub name: NodeName,
    /// File or folder.
    pub kind: NodeKind,
    /// For files, the current revision.
    pub file: Option<FileVersion>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its content or name last changed on the server.
    pub modified_at: Timestamp,
    /// Set when it was moved to the trash (its descendants stay as they were, hidden with it).
    pub trashed_at: Option<Timestamp>,
    /// For a folder that is the mount point of a shared folder: that folder's namespace, whose
    /// root holds the content (the mount point itself has no children).
    pub mount: Option<NamespaceId>,
}

impl Node {
    /// A new, live node created at `now` (a file gets its version when its first revision is
    /// stored).
    pub fn new(
        id: NodeId,
        namespace: NamespaceId,
        parent: NodeId,
        name: NodeName,
        kind: NodeKind,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            namespace,
            parent,
            name,
            kind,
            file: None,
            created_at: now,
            modified_at: now,
            trashed_at: None,
            mount: None,
        }
    }

    /// The size of a file, 0 for a folder.
    pub fn size(&self) -> ByteCount {
        self.file.as_ref().map(|f| f.size).unwrap_or_default()
    }
    /// Whether this is a folder.
    pub fn is_folder(&self) -> bool {
        self.kind == NodeKind::Folder
    }
    /// Whether this is the mount point of a shared folder.
    pub fn is_mount(&self) -> bool {
        self.mount.is_some()
    }
}

/// One revision of a file: its content as an ordered list of blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    id: RevisionId,
    node: NodeId,
    size: ByteCount,
    content_hash: ContentHash,
    blocks: Vec<BlockHash>,
    media_type: Option<String>,
    client_modified: Timestamp,
    created_at: Timestamp,
}

impl Revision {
    /// A revision of `size` bytes made of `blocks`; the block count must be what `size` needs.
    /// The content hash is derived from the blocks.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: RevisionId,
        node: NodeId,
        size: ByteCount,
        blocks: Vec<BlockHash>,
        media_type: Option<String>,
        client_modified: Timestamp,
        created_at: Timestamp,
    ) -> Result<Self, DomainError> {
        let needed = size.get().div_ceil(BLOCK_SIZE as u64);
        if blocks.len() as u64 != needed {
            return Err(DomainError::invalid(
                "blocks",
                format!("{size} need {needed} blocks, got {}", blocks.len()),
            ));
        }
        Ok(Self {
            content_hash: ContentHash::of_blocks(&blocks),
            id,
            node,
            size,
            blocks,
            media_type,
            client_modified,
            created_at,
        })
    }

    /// The revision.
    pub fn id(&self) -> RevisionId {
        self.id
    }
    /// The file it belongs to.
    pub fn node(&self) -> NodeId {
        self.node
    }
    /// Size in bytes.
    pub fn size(&self) -> ByteCount {
        self.size
    }
    /// Content hash.
    pub fn content_hash(&self) -> ContentHash {
        self.content_hash
    }
    /// The blocks, in order.
    pub fn blocks(&self) -> &[BlockHash] {
        &self.blocks
    }
    /// The media type the uploader declared, if any.
    pub fn media_type(&self) -> Option<&str> {
        self.media_type.as_deref()
    }
    /// The modification time the client reported.
    pub fn client_modified(&self) -> Timestamp {
        self.client_modified
    }
    /// When the server stored it.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The same content as a new revision of `node` (copying a file, restoring a revision):
    /// the blocks are shared, no byte is copied.
    pub fn reuse(&self, id: RevisionId, node: NodeId, now: Timestamp) -> Self {
        Self {
            id,
            node,
            created_at: now,
            ..self.clone()
        }
    }

    /// What the file's node records about this revision.
    pub fn version(&self) -> FileVersion {
        FileVersion {
            revision: self.id,
            size: self.size,
            content_hash: self.content_hash,
            client_modified: self.client_modified,
        }
    }

    /// The blocks overlapping bytes `start..end` of the content, each with the range within
    /// the block to read: `(block, offset_in_block, length)`.
    pub fn block_ranges(&self, start: u64, end: u64) -> Vec<(BlockHash, u64, u64)> {
        block_ranges(&self.blocks, self.size.get(), start, end)
    }
}

/// The blocks of content `blocks` (of `size` bytes in all) overlapping bytes `start..end`,
/// each with the range within the block to read: `(block, offset_in_block, length)`.
pub fn block_ranges(
    blocks: &[BlockHash],
    size: u64,
    start: u64,
    end: u64,
) -> Vec<(BlockHash, u64, u64)> {
    let block_size = BLOCK_SIZE as u64;
    let end = end.min(size);
    let mut ranges = Vec::new();
    let mut position = start;
    while position < end {
        let index = position / block_size;
        let offset = position % block_size;
        let length = (block_size - offset).min(end - position);
        ranges.push((blocks[index as usize], offset, length));
        position += length;
    }
    ranges
}

/// How an upload treats a file already at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Never replace: a file there is a conflict.
    Add,
    /// Always replace.
    Overwrite,
    /// Replace only if the current revision is this one.
    Update(RevisionId),
}

/// What an upload does, decided by the write mode and what is at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Nothing there: create the file.
    Create,
    /// Replace the file's content with a new revision.
    Replace,
    /// The file already has exactly this content: change nothing (never a conflict).
    Unchanged,
    /// The write mode forbids it (or a folder is in the way).
    Conflict,
}

impl WriteMode {
    /// Decides an upload of content `hash` onto `existing` (what is at the path, if anything).
    pub fn decide(self, existing: Option<&Node>, hash: &ContentHash) -> WriteOutcome {
        let Some(node) = existing else {
            return match self {
                WriteMode::Update(_) => WriteOutcome::Conflict,
                WriteMode::Add | WriteMode::Overwrite => WriteOutcome::Create,
            };
        };
        let Some(current) = &node.file else {
            return WriteOutcome::Conflict;
        };
        if &current.content_hash == hash {
            return WriteOutcome::Unchanged;
        }
        match self {
            WriteMode::Add => WriteOutcome::Conflict,
            WriteMode::Overwrite => WriteOutcome::Replace,
            WriteMode::Update(rev) if rev == current.revision => WriteOutcome::Replace,
            WriteMode::Update(_) => WriteOutcome::Conflict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(hash: ContentHash, rev: u128) -> Node {
        Node {
            id: NodeId::from_uuid(Uuid::from_u128(1)),
            namespace: NamespaceId::from_uuid(Uuid::from_u128(2)),
            parent: NodeId::from_uuid(Uuid::from_u128(3)),
            name: NodeName::parse("a.txt").unwrap(),
            kind: NodeKind::File,
            file: Some(FileVersion {
                revision: RevisionId::from_uuid(Uuid::from_u128(rev)),
                size: ByteCount::new(1).unwrap(),
                content_hash: hash,
                client_modified: Timestamp::default(),
            }),
            created_at: Timestamp::default(),
            modified_at: Timestamp::default(),
            trashed_at: None,
            mount: None,
        }
    }

    fn rev(n: u128) -> RevisionId {
        RevisionId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn write_modes_follow_dropbox() {
        let old = ContentHash::of_blocks(&[BlockHash::of(b"old")]);
        let new = ContentHash::of_blocks(&[BlockHash::of(b"new")]);
        let existing = file(old, 7);
        use WriteOutcome::*;
        let cases = [
            (WriteMode::Add, None, Create),
            (WriteMode::Overwrite, None, Create),
            (WriteMode::Update(rev(7)), None, Conflict),
            (WriteMode::Add, Some(&existing), Conflict),
            (WriteMode::Overwrite, Some(&existing), Replace),
            (WriteMode::Update(rev(7)), Some(&existing), Replace),
            (WriteMode::Update(rev(6)), Some(&existing), Conflict),
        ];
        for (mode, at_path, expected) in cases {
            assert_eq!(mode.decide(at_path, &new), expected, "{mode:?}");
        }
    }

    #[test]
    fn identical_content_is_never_a_conflict() {
        let same = ContentHash::of_blocks(&[BlockHash::of(b"same")]);
        let existing = file(same, 7);
        for mode in [
            WriteMode::Add,
            WriteMode::Overwrite,
            WriteMode::Update(rev(1)),
        ] {
            assert_eq!(mode.decide(Some(&existing), &same), WriteOutcome::Unchanged);
        }
    }

    #[test]
    fn a_folder_in_the_way_is_a_conflict_in_every_mode() {
        let mut folder = file(ContentHash::of_blocks(&[]), 1);
        folder.kind = NodeKind::Folder;
        folder.file = None;
        let hash = ContentHash::of_blocks(&[]);
        for mode in [
            WriteMode::Add,
            WriteMode::Overwrite,
            WriteMode::Update(rev(1)),
        ] {
            assert_eq!(mode.decide(Some(&folder), &hash), WriteOutcome::Conflict);
        }
    }

    #[test]
    fn revisions_need_exactly_the_blocks_their_size_needs() {
        let make = |size: u64, blocks: usize| {
            Revision::new(
                rev(1),
                NodeId::from_uuid(Uuid::nil()),
                ByteCount::new(size).unwrap(),
                vec![BlockHash::of(b"x"); blocks],
                None,
                Timestamp::default(),
                Timestamp::default(),
            )
        };
        assert!(make(0, 0).is_ok());
        assert!(make(0, 1).is_err());
        assert!(make(1, 1).is_ok());
        let block = BLOCK_SIZE as u64;
        assert!(make(block, 1).is_ok());
        assert!(make(block + 1, 1).is_err());
        assert!(make(block + 1, 2).is_ok());
        assert_eq!(
            make(0, 0).unwrap().content_hash(),
            ContentHash::of_blocks(&[])
        );
    }

    #[test]
    fn block_ranges_cover_exactly_the_requested_bytes() {
        let block = BLOCK_SIZE as u64;
        let blocks: Vec<BlockHash> = (0..3u8).map(|i| BlockHash::of(&[i])).collect();
        let revision = Revision::new(
            rev(1),
            NodeId::from_uuid(Uuid::nil()),
            ByteCount::new(2 * block + 10).unwrap(),
            blocks.clone(),
            None,
            Timestamp::default(),
            Timestamp::default(),
        )
        .unwrap();
        assert_eq!(
            revision.block_ranges(0, 2 * block + 10),
            vec![
                (blocks[0], 0, block),
                (blocks[1], 0, block),
                (blocks[2], 0, 10)
            ]
        );
        assert_eq!(
            revision.block_ranges(block - 1, block + 1),
            vec![(blocks[0], block - 1, 1), (blocks[1], 0, 1)]
        );
        assert_eq!(
            revision.block_ranges(2 * block + 9, u64::MAX),
            vec![(blocks[2], 9, 1)]
        );
        assert!(revision.block_ranges(5, 5).is_empty());
    }

    #[test]
    fn revs_round_trip_and_reject_garbage() {
        let id = rev(0xabcdef);
        assert_eq!(RevisionId::parse_rev(&id.rev()).unwrap(), id);
        assert_eq!(id.rev().len(), 32);
        for bad in ["", "123", "zz", &"g".repeat(32)] {
            assert!(RevisionId::parse_rev(bad).is_err(), "{bad}");
        }
    }
}
