//! Sharing: folders shared between accounts, and links that give people without an account
//! access to a file or folder.

mod folder;
mod link;

pub use folder::{Invitation, Membership, Need, Role};
pub use link::{LinkId, LinkState, SharedLink};
