//! Files and folders: names, paths, nodes, revisions, and content stored as hashed blocks.

mod change;
mod content;
mod name;
mod node;
mod path;
mod upload_session;

pub use change::Change;
pub use content::{BLOCK_SIZE, BlockHash, ContentHash};
pub use name::{NodeName, name_key};
pub use node::{
    FileVersion, Namespace, NamespaceId, NamespaceKind, Node, NodeId, NodeKind, Revision,
    RevisionId, UploadId, WriteMode, WriteOutcome, block_ranges,
};
pub use path::NodePath;
pub use upload_session::{
    AppendRefused, Checksum, ChecksumAlgorithm, ExpectedChecksum, SessionBlock, SessionKind,
    UploadSession, block_count, block_size_at,
};
