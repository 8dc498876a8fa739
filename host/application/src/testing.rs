//! In-memory fakes of every port, and a [`TestEnv`] that wires them to the use cases.
//!
//! The fakes are faithful where the use cases depend on behaviour (transactions roll back when
//! dropped, emails are unique, digests identify secrets) and trivial elsewhere (passwords are
//! "hashed" by prefixing). Concurrent transactions are last-commit-wins: unit tests are serial.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeZone;
use coffer_domain::Timestamp;
use coffer_domain::account::{
    AccessToken, ByteCount, Email, Invite, InviteId, Password, PasswordHash, SignupPolicy,
    TokenDigest, TokenId, User, UserId,
};
use uuid::Uuid;

use crate::accounts::{AccountRules, Accounts, IssuedToken, LogIn};
use crate::admin::{Administration, UserChanges};
use crate::ports::*;
use crate::{AppError, InfrastructureError, Ports, Principal};

#[derive(Default, Clone)]
struct State {
    users: BTreeMap<UserId, User>,
    tokens: HashMap<TokenId, AccessToken>,
    invites: HashMap<InviteId, Invite>,
}

/// An in-memory database: a transaction works on a copy and publishes it on commit.
#[derive(Default, Clone)]
pub struct InMemoryStore {
    state: Arc<Mutex<State>>,
}

impl InMemoryStore {
    fn snapshot(&self) -> State {
        self.state.lock().unwrap().clone()
    }
    /// Committed users.
    pub fn user_count(&self) -> usize {
        self.snapshot().users.len()
    }
    /// Committed tokens.
    pub fn token_count(&self) -> usize {
        self.snapshot().tokens.len()
    }
    /// A committed user (panics if missing).
    pub fn user(&self, id: UserId) -> User {
        self.snapshot().users[&id].clone()
    }
}

struct InMemoryTx {
    store: InMemoryStore,
    work: State,
}

#[async_trait]
impl UnitOfWork for InMemoryStore {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepositoryError> {
        Ok(Box::new(InMemoryTx {
            store: self.clone(),
            work: self.snapshot(),
        }))
    }
    async fn begin_read(&self) -> Result<Box<dyn Transaction>, RepositoryError> {
        self.begin().await
    }
    async fn ping(&self) -> Result<(), RepositoryError> {
        Ok(())
    }
}

#[async_trait]
impl Transaction for InMemoryTx {
    fn users(&mut self) -> &mut dyn UserRepository {
        self
    }
    fn tokens(&mut self) -> &mut dyn TokenRepository {
        self
    }
    fn invites(&mut self) -> &mut dyn InviteRepository {
        self
    }
    async fn commit(self: Box<Self>) -> Result<(), RepositoryError> {
        *self.store.state.lock().unwrap() = self.work;
        Ok(())
    }
}

#[async_trait]
impl UserRepository for InMemoryTx {
    async fn insert(&mut self, user: &User) -> Result<(), RepositoryError> {
        if self.work.users.values().any(|u| u.email() == user.email()) {
            return Err(RepositoryError::Conflict("email"));
        }
        self.work.users.insert(user.id(), user.clone());
        Ok(())
    }
    async fn update(&mut self, user: &User) -> Result<(), RepositoryError> {
        self.work.users.insert(user.id(), user.clone());
        Ok(())
    }
    async fn get(&mut self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Ok(self.work.users.get(&id).cloned())
    }
    async fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, RepositoryError> {
        Ok(self
            .work
            .users
            .values()
            .find(|u| u.email() == email)
            .cloned())
    }
    async fn lock_against_inserts(&mut self) -> Result<(), RepositoryError> {
        Ok(())
    }
    async fn count(&mut self) -> Result<u64, RepositoryError> {
        Ok(self.work.users.len() as u64)
    }
    async fn list(
        &mut self,
        after: Option<&Email>,
        limit: u32,
    ) -> Result<Vec<User>, RepositoryError> {
        let mut users: Vec<User> = self
            .work
            .users
            .values()
            .filter(|u| after.is_none_or(|a| u.email() > a))
            .cloned()
            .collect();
        users.sort_by(|a, b| a.email().cmp(b.email()));
        users.truncate(limit as usize);
        Ok(users)
    }
}

#[async_trait]
impl TokenRepository for InMemoryTx {
    async fn insert(&mut self, token: &AccessToken) -> Result<(), RepositoryError> {
        self.work.tokens.insert(token.id, token.clone());
        Ok(())
    }
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<AccessToken>, RepositoryError> {
        Ok(self
            .work
            .tokens
            .values()
            .find(|t| &t.digest == digest)
            .cloned())
    }
    async fn list_for_user(&mut self, user: UserId) -> Result<Vec<AccessToken>, RepositoryError> {
        let mut tokens: Vec<_> = self
            .work
            .tokens
            .values()
            .filter(|t| t.user_id == user)
            .cloned()
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        Ok(tokens)
    }
    async fn delete(&mut self, user: UserId, id: TokenId) -> Result<bool, RepositoryError> {
        let owned = self.work.tokens.get(&id).is_some_and(|t| t.user_id == user);
        if owned {
            self.work.tokens.remove(&id);
        }
        Ok(owned)
    }
    async fn delete_all_for_user(&mut self, user: UserId) -> Result<u64, RepositoryError> {
        let before = self.work.tokens.len();
        self.work.tokens.retain(|_, t| t.user_id != user);
        Ok((before - self.work.tokens.len()) as u64)
    }
    async fn delete_expired_for_user(
        &mut self,
        user: UserId,
        now: Timestamp,
    ) -> Result<u64, RepositoryError> {
        let before = self.work.tokens.len();
        self.work
            .tokens
            .retain(|_, t| t.user_id != user || t.is_live_at(now));
        Ok((before - self.work.tokens.len()) as u64)
    }
}

#[async_trait]
impl InviteRepository for InMemoryTx {
    async fn insert(&mut self, invite: &Invite) -> Result<(), RepositoryError> {
        self.work.invites.insert(invite.id, invite.clone());
        Ok(())
    }
    async fn find_by_digest(
        &mut self,
        digest: &TokenDigest,
    ) -> Result<Option<Invite>, RepositoryError> {
        Ok(self
            .work
            .invites
            .values()
            .find(|i| &i.code_digest == digest)
            .cloned())
    }
    async fn update(&mut self, invite: &Invite) -> Result<(), RepositoryError> {
        self.work.invites.insert(invite.id, invite.clone());
        Ok(())
    }
}

/// A clock that stands still until told to move.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl Default for ManualClock {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(
            chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        )))
    }
}

impl ManualClock {
    /// Moves time forward.
    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// Ids 1, 2, 3, ...
#[derive(Default)]
pub struct SequentialIds(AtomicU64);

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed) + 1))
    }
}

/// Predictable secrets ("secret-1", ...); the digest is the secret's bytes, zero-padded.
#[derive(Default)]
pub struct PredictableSecrets(AtomicU64);

impl SecretGenerator for PredictableSecrets {
    fn generate(&self, _kind: SecretKind) -> IssuedSecret {
        let plaintext = format!("secret-{}", self.0.fetch_add(1, Ordering::Relaxed) + 1);
        IssuedSecret {
            digest: self.digest(&plaintext),
            plaintext,
        }
    }
    fn digest(&self, plaintext: &str) -> TokenDigest {
        let mut bytes = [0u8; 32];
        for (slot, b) in bytes.iter_mut().zip(plaintext.bytes()) {
            *slot = b;
        }
        TokenDigest::from_bytes(bytes)
    }
}

/// "Hashes" by prefixing: fast, and enough to tell a right password from a wrong one.
pub struct PrefixHasher;

#[async_trait]
impl PasswordHasher for PrefixHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfrastructureError> {
        Ok(PasswordHash::from_phc(format!(
            "plain:{}",
            password.expose()
        )))
    }
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, InfrastructureError> {
        Ok(hash.is_some_and(|h| h.as_str() == format!("plain:{}", password.expose())))
    }
}

/// Refuses a key after [`FakeThrottle::LIMIT`] failures until a success.
#[derive(Default)]
pub struct FakeThrottle(Mutex<HashMap<ThrottleKey, u32>>);

impl FakeThrottle {
    /// Failures allowed before refusing.
    pub const LIMIT: u32 = 3;
}

#[async_trait]
impl LoginThrottle for FakeThrottle {
    async fn check(&self, key: &ThrottleKey) -> Result<(), Duration> {
        let failures = self.0.lock().unwrap().get(key).copied().unwrap_or(0);
        if failures >= Self::LIMIT {
            Err(Duration::from_secs(60))
        } else {
            Ok(())
        }
    }
    async fn record_failure(&self, key: &ThrottleKey) {
        *self.0.lock().unwrap().entry(key.clone()).or_default() += 1;
    }
    async fn record_success(&self, key: &ThrottleKey) {
        self.0.lock().unwrap().remove(key);
    }
}

/// Use cases wired to fakes, with helpers for common steps.
pub struct TestEnv {
    /// The fake database.
    pub store: InMemoryStore,
    /// The fake clock.
    pub clock: ManualClock,
    /// The rules in force.
    pub rules: AccountRules,
    /// Account use cases.
    pub accounts: Accounts,
    /// Administration use cases.
    pub admin_uc: Administration,
}

/// The password every helper-made account has.
pub const PASSWORD: &str = "long enough";

impl TestEnv {
    /// Fakes wired with the given sign-up policy.
    pub fn new(signup: SignupPolicy) -> Self {
        let store = InMemoryStore::default();
        let clock = ManualClock::default();
        let ports = Ports {
            uow: Arc::new(store.clone()),
            clock: Arc::new(clock.clone()),
            ids: Arc::new(SequentialIds::default()),
            secrets: Arc::new(PredictableSecrets::default()),
            passwords: Arc::new(PrefixHasher),
            login_throttle: Arc::new(FakeThrottle::default()),
        };
        let rules = AccountRules {
            signup,
            token_lifetime: chrono::Duration::days(30),
            invite_lifetime: chrono::Duration::days(7),
            default_quota: ByteCount::new(1 << 30).unwrap(),
        };
        Self {
            accounts: Accounts::new(ports.clone(), rules.clone()),
            admin_uc: Administration::new(ports, rules.clone()),
            store,
            clock,
            rules,
        }
    }

    /// Creates an administrator through the operator path and returns them logged in.
    pub async fn admin(&self, email: &str) -> Principal {
        self.admin_uc
            .create_user(email, PASSWORD, true)
            .await
            .unwrap();
        self.principal(email).await
    }

    /// Creates an ordinary account through the operator path.
    pub async fn member(&self, email: &str) -> User {
        self.admin_uc
            .create_user(email, PASSWORD, false)
            .await
            .unwrap()
            .user
    }

    /// Logs in with the helper password.
    pub async fn log_in(&self, email: &str) -> IssuedToken {
        self.try_log_in(email, PASSWORD).await.unwrap()
    }

    /// Logs in with any password.
    pub async fn try_log_in(&self, email: &str, password: &str) -> Result<IssuedToken, AppError> {
        let input = LogIn {
            email: email.into(),
            password: password.into(),
            token_name: None,
            client_address: None,
        };
        self.accounts.log_in(input).await
    }

    /// Logs in and authenticates.
    pub async fn principal(&self, email: &str) -> Principal {
        let token = self.log_in(email).await;
        self.accounts.authenticate(&token.secret).await.unwrap()
    }

    /// Disables a user as `admin`.
    pub async fn disable(&self, admin: &Principal, user: UserId) {
        let changes = UserChanges {
            disabled: Some(true),
            ..Default::default()
        };
        self.admin_uc
            .update_user(admin, user, changes)
            .await
            .unwrap();
    }

    /// Enables a user as `admin`.
    pub async fn enable(&self, admin: &Principal, user: UserId) {
        let changes = UserChanges {
            disabled: Some(false),
            ..Default::default()
        };
        self.admin_uc
            .update_user(admin, user, changes)
            .await
            .unwrap();
    }
}
