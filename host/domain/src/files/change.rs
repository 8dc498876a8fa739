use super::{NamespaceId, NodeId, NodePath};
use crate::Timestamp;

/// One entry of a namespace's change journal: "this node changed", with where it was before if
/// it was visible then (so that sync clients can remove it from there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The namespace whose tree changed.
    pub namespace: NamespaceId,
    /// Position in that namespace's journal: 1, 2, 3, ... without gaps.
    pub seq: u64,
    /// The node that was created, changed, moved, trashed or restored.
    pub node: NodeId,
    /// Its path before the change, if it was visible then.
    pub path_before: Option<NodePath>,
    /// When.
    pub at: Timestamp,
}
