//! Sharing: links that give people without an account access to a file or folder.

mod link;

pub use link::{LinkId, LinkState, SharedLink};
