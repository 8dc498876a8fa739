//! SQL shared by both backends.

macro_rules! select_users {
    ($rest:literal) => {
        concat!(
            "SELECT id, email, password_hash, is_admin, disabled, quota_bytes, created_at \
             FROM users ",
            $rest
        )
    };
}

macro_rules! select_tokens {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, digest, name, created_at, expires_at FROM access_tokens ",
            $rest
        )
    };
}

pub const INSERT_USER: &str = "INSERT INTO users \
    (id, email, password_hash, is_admin, disabled, quota_bytes, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const UPDATE_USER: &str = "UPDATE users SET email = $2, password_hash = $3, is_admin = $4, \
    disabled = $5, quota_bytes = $6 WHERE id = $1";
pub const GET_USER: &str = select_users!("WHERE id = $1");
pub const FIND_USER_BY_EMAIL: &str = select_users!("WHERE email = $1");
pub const LOCK_USERS_AGAINST_INSERTS: &str = "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE";
pub const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
pub const LIST_USERS: &str = select_users!("ORDER BY email LIMIT $1");
pub const LIST_USERS_AFTER: &str = select_users!("WHERE email > $1 ORDER BY email LIMIT $2");

pub const INSERT_TOKEN: &str = "INSERT INTO access_tokens \
    (id, user_id, digest, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub const FIND_TOKEN_BY_DIGEST: &str = select_tokens!("WHERE digest = $1");
pub const LIST_TOKENS_FOR_USER: &str =
    select_tokens!("WHERE user_id = $1 ORDER BY created_at DESC, id DESC");
pub const DELETE_TOKEN: &str = "DELETE FROM access_tokens WHERE id = $1 AND user_id = $2";
pub const DELETE_TOKENS_OF_USER: &str = "DELETE FROM access_tokens WHERE user_id = $1";
pub const DELETE_EXPIRED_TOKENS_OF_USER: &str =
    "DELETE FROM access_tokens WHERE user_id = $1 AND expires_at <= $2";

pub const INSERT_INVITE: &str = "INSERT INTO invites \
    (id, code_digest, email, created_by, created_at, expires_at, accepted_by) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const FIND_INVITE_BY_DIGEST: &str = "SELECT id, code_digest, email, created_by, created_at, \
    expires_at, accepted_by FROM invites WHERE code_digest = $1";
pub const UPDATE_INVITE: &str = "UPDATE invites SET accepted_by = $2 WHERE id = $1";
