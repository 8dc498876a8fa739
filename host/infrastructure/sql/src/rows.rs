//! Database rows and their explicit mapping to domain entities.

use coffer_application::InfrastructureError;
use coffer_application::ports::RepositoryError;
use coffer_domain::Timestamp;
use coffer_domain::account::{
    AccessToken, ByteCount, Email, Invite, InviteId, PasswordHash, TokenDigest, TokenId, TokenName,
    User, UserId, UserStatus,
};
use uuid::Uuid;

/// A timestamp as stored: microseconds since the Unix epoch.
pub fn micros(ts: Timestamp) -> i64 {
    ts.timestamp_micros()
}

fn timestamp(micros: i64) -> Result<Timestamp, RepositoryError> {
    Timestamp::from_timestamp_micros(micros).ok_or_else(|| corrupt("timestamp out of range"))
}

fn corrupt(what: &str) -> RepositoryError {
    RepositoryError::Backend(InfrastructureError::msg(format!("corrupt row: {what}")))
}

fn digest(bytes: Vec<u8>) -> Result<TokenDigest, RepositoryError> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| corrupt("digest length"))?;
    Ok(TokenDigest::from_bytes(bytes))
}

fn email(raw: &str) -> Result<Email, RepositoryError> {
    Email::parse(raw).map_err(|_| corrupt("email"))
}

/// A row of `users`.
#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: Uuid,
    email: String,
    password_hash: String,
    is_admin: bool,
    disabled: bool,
    quota_bytes: Option<i64>,
    created_at: i64,
}

impl UserRow {
    pub fn into_user(self) -> Result<User, RepositoryError> {
        let quota = self
            .quota_bytes
            .map(|q| u64::try_from(q).ok().and_then(|q| ByteCount::new(q).ok()))
            .map(|q| q.ok_or_else(|| corrupt("quota")))
            .transpose()?;
        Ok(User::restore(
            UserId::from_uuid(self.id),
            email(&self.email)?,
            PasswordHash::from_phc(self.password_hash),
            self.is_admin,
            if self.disabled {
                UserStatus::Disabled
            } else {
                UserStatus::Active
            },
            quota,
            timestamp(self.created_at)?,
        ))
    }
}

/// A quota as stored (ByteCount guarantees it fits).
pub fn quota_column(user: &User) -> Option<i64> {
    user.quota_override().map(|q| q.get() as i64)
}

/// A row of `access_tokens`.
#[derive(sqlx::FromRow)]
pub struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    digest: Vec<u8>,
    name: String,
    created_at: i64,
    expires_at: i64,
}

impl TokenRow {
    pub fn into_token(self) -> Result<AccessToken, RepositoryError> {
        Ok(AccessToken {
            id: TokenId::from_uuid(self.id),
            user_id: UserId::from_uuid(self.user_id),
            digest: digest(self.digest)?,
            name: TokenName::parse(&self.name).map_err(|_| corrupt("token name"))?,
            created_at: timestamp(self.created_at)?,
            expires_at: timestamp(self.expires_at)?,
        })
    }
}

/// A row of `invites`.
#[derive(sqlx::FromRow)]
pub struct InviteRow {
    id: Uuid,
    code_digest: Vec<u8>,
    email: Option<String>,
    created_by: Uuid,
    created_at: i64,
    expires_at: i64,
    accepted_by: Option<Uuid>,
}

impl InviteRow {
    pub fn into_invite(self) -> Result<Invite, RepositoryError> {
        Ok(Invite {
            id: InviteId::from_uuid(self.id),
            code_digest: digest(self.code_digest)?,
            email: self.email.as_deref().map(email).transpose()?,
            created_by: UserId::from_uuid(self.created_by),
            created_at: timestamp(self.created_at)?,
            expires_at: timestamp(self.expires_at)?,
            accepted_by: self.accepted_by.map(UserId::from_uuid),
        })
    }
}
