//! Shared folders: a namespace of its own, with members who each mount it in their tree.

use crate::account::UserId;
use crate::files::{NamespaceId, NodeId};
use crate::{DomainError, Timestamp};

/// What a member of a shared folder may do there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Read and download.
    Viewer,
    /// Read, download and change content.
    Editor,
    /// Everything an editor may, plus managing members and unsharing. Exactly one per folder.
    Owner,
}

/// What an action needs, checked against a [`Role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// See and download.
    Read,
    /// Create, change, move or delete content.
    Write,
    /// Make content reachable by people outside the folder (a shared link).
    Publish,
    /// Add and remove members, change roles, unshare.
    Manage,
}

impl Role {
    /// Parses `viewer`, `editor` or `owner`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "owner" => Ok(Role::Owner),
            _ => Err(DomainError::invalid(
                "role",
                "must be viewer, editor or owner",
            )),
        }
    }

    /// A role the owner may hand to a member: viewer or editor (ownership is not transferable).
    pub fn parse_grantable(raw: &str) -> Result<Self, DomainError> {
        match Self::parse(raw)? {
            Role::Owner => Err(DomainError::invalid(
                "role",
                "must be viewer or editor (a shared folder has one owner)",
            )),
            role => Ok(role),
        }
    }

    /// The role's name, as `parse` reads it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    /// Whether this role may do what `need` asks.
    pub fn allows(&self, need: Need) -> bool {
        match need {
            Need::Read => true,
            Need::Write | Need::Publish => *self >= Role::Editor,
            Need::Manage => *self == Role::Owner,
        }
    }
}

/// An invitation to a shared folder for an email that has no account yet: it becomes a
/// membership when an account with that email is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The id it shows under among the members (reserved, never an account's).
    pub id: UserId,
    /// The shared folder's namespace.
    pub namespace: NamespaceId,
    /// Who is invited.
    pub email: crate::account::Email,
    /// The role they will have (viewer or editor).
    pub role: Role,
    /// When it was made.
    pub invited_at: Timestamp,
}

/// A user's membership of a shared folder, and where the folder appears in their tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The shared folder's namespace.
    pub namespace: NamespaceId,
    /// The member.
    pub user: UserId,
    /// What they may do.
    pub role: Role,
    /// The mount point: a folder node in the member's home whose content is the namespace's.
    pub mount: NodeId,
    /// When they joined.
    pub joined_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_their_rank_allows() {
        use Need::*;
        let cases = [
            (Role::Viewer, [true, false, false, false]),
            (Role::Editor, [true, true, true, false]),
            (Role::Owner, [true, true, true, true]),
        ];
        for (role, expected) in cases {
            let got = [Read, Write, Publish, Manage].map(|need| role.allows(need));
            assert_eq!(got, expected, "{role:?}");
        }
    }

    #[test]
    fn roles_parse_and_ownership_is_not_grantable() {
        assert_eq!(Role::parse(" Editor ").unwrap(), Role::Editor);
        for role in [Role::Viewer, Role::Editor, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("admin").is_err());
        assert!(Role::parse_grantable("owner").is_err());
        assert_eq!(Role::parse_grantable("viewer").unwrap(), Role::Viewer);
    }
}
