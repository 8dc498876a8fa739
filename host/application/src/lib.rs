//! Coffer's application layer: the use cases, and the ports (traits) through which they reach
//! storage, time, randomness and everything else outside the domain.
//!
//! Use cases take plain input structs and return domain values or plain output structs; they
//! commit through the [`ports::UnitOfWork`] port and never see a database, HTTP or a framework.

pub mod accounts;
pub mod admin;
mod error;
pub mod files;
pub mod plugins;
pub mod ports;
mod principal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{AppError, Conflict, FailureKind, InfrastructureError};
pub use principal::Principal;

use std::sync::Arc;

/// Every port a use case may need, wired once by the composition root.
#[derive(Clone)]
pub struct Ports {
    /// Transactions over all repositories.
    pub uow: Arc<dyn ports::UnitOfWork>,
    /// The current time.
    pub clock: Arc<dyn ports::Clock>,
    /// New unique ids.
    pub ids: Arc<dyn ports::IdGenerator>,
    /// Unguessable secrets (bearer tokens, invitation codes) and their digests.
    pub secrets: Arc<dyn ports::SecretGenerator>,
    /// Password hashing.
    pub passwords: Arc<dyn ports::PasswordHasher>,
    /// Throttling of failed logins.
    pub login_throttle: Arc<dyn ports::LoginThrottle>,
    /// Splitting and hashing of uploaded content.
    pub block_hasher: Arc<dyn ports::BlockHasher>,
    /// Block bytes.
    pub blobs: Arc<dyn ports::BlobStore>,
    /// Scratch space for bodies checked whole before they are kept.
    pub scratch: Arc<dyn ports::Scratch>,
    /// Change announcements, for longpoll.
    pub notifier: Arc<dyn ports::ChangeNotifier>,
}

/// Whether the installation can serve requests (for readiness probes).
#[derive(Clone)]
pub struct Readiness {
    uow: Arc<dyn ports::UnitOfWork>,
    blobs: Arc<dyn ports::BlobStore>,
}

impl Readiness {
    /// Checks the database and the block store.
    pub fn new(uow: Arc<dyn ports::UnitOfWork>, blobs: Arc<dyn ports::BlobStore>) -> Self {
        Self { uow, blobs }
    }

    /// Succeeds when the database answers and the block store is usable.
    pub async fn check(&self) -> Result<(), AppError> {
        self.database().await?;
        self.block_store().await
    }

    /// Succeeds when the database answers.
    pub async fn database(&self) -> Result<(), AppError> {
        Ok(self.uow.ping().await?)
    }

    /// Succeeds when the block store is usable (reachable; on a local disk, not full).
    pub async fn block_store(&self) -> Result<(), AppError> {
        Ok(self.blobs.check().await?)
    }
}
