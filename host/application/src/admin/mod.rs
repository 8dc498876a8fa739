//! Use cases of administrators (through the API) and of the operator (through the command line,
//! which runs with the server's own access to the database).

mod create_user;
mod invites;
mod users;

use coffer_domain::account::{Email, Invite, UserId};

use crate::accounts::{AccountRules, AccountView};
use crate::plugins::PluginHost;
use crate::{AppError, Ports, Principal};

pub use users::UserChanges;

/// The administration use cases.
#[derive(Clone)]
pub struct Administration {
    ports: Ports,
    rules: AccountRules,
    plugins: PluginHost,
}

impl Administration {
    /// Wires the use cases to their ports, rules and plugins (quota policies).
    pub fn new(ports: Ports, rules: AccountRules, plugins: PluginHost) -> Self {
        Self {
            ports,
            rules,
            plugins,
        }
    }
}

/// Who asks for an administrative action.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// The operator at the server's command line: trusted.
    Operator,
    /// A user through the API: must be an administrator.
    User(&'a Principal),
}

impl Actor<'_> {
    /// Succeeds for the operator and for administrators.
    pub fn require_admin(self) -> Result<(), AppError> {
        match self {
            Actor::Operator => Ok(()),
            Actor::User(principal) => principal.require_admin(),
        }
    }

    /// The account acting, if it is one (not the operator).
    pub fn user_id(self) -> Option<UserId> {
        match self {
            Actor::Operator => None,
            Actor::User(principal) => Some(principal.user_id),
        }
    }
}

/// One page of users, ordered by email.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The users on this page.
    pub users: Vec<AccountView>,
    /// Where the next page starts, if there is one.
    pub next_after: Option<Email>,
}

/// A new invitation: the code is shown to the administrator this once.
#[derive(Debug, Clone)]
pub struct IssuedInvite {
    /// The stored invitation.
    pub invite: Invite,
    /// The code to hand to the invitee.
    pub code: String,
}
