//! Accounts: users, their credentials, access tokens, invitations and the sign-up policy.

mod email;
mod invite;
mod password;
mod quota;
mod signup;
mod token;
mod user;

pub use email::Email;
pub use invite::{Invite, InviteId};
pub use password::{Password, PasswordHash};
pub use quota::ByteCount;
pub use signup::{SignupDecision, SignupPolicy};
pub use token::{AccessToken, TokenDigest, TokenId, TokenName};
pub use user::{User, UserId, UserStatus};
