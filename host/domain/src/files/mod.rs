//! Files and folders: names, paths, nodes, revisions, and content stored as hashed blocks.

mod content;

pub use content::{BLOCK_SIZE, BlockHash, ContentHash};
