use std::time::Duration;

use coffer_domain::DomainError;
use thiserror::Error;

use crate::ports::RepositoryError;

/// What kind of failure an [`InfrastructureError`] is, as far as the adapter that saw it knows.
/// Clients are told which kind (so they know whether to retry), never the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureKind {
    /// A dependency (the database, the block store) cannot be reached, broke the connection,
    /// or did not answer in time: retrying later may succeed.
    Unavailable,
    /// The storage is full (no space left on the device, a filesystem quota): nothing was
    /// stored, and writes fail until space is freed.
    StorageFull,
    /// Anything else: a bug, corrupted data, a misconfiguration.
    #[default]
    Other,
}

/// A failure outside the domain (database, block store, hashing, ...), with its
/// [`FailureKind`]. Its text is for logs, never for clients.
#[derive(Debug)]
pub struct InfrastructureError {
    kind: FailureKind,
    transient: bool,
    inner: Box<dyn std::error::Error + Send + Sync>,
}

/// Shows and chains as the wrapped error (the kind is not part of the text).
impl std::fmt::Display for InfrastructureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::error::Error for InfrastructureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl InfrastructureError {
    /// Wraps any error (of kind [`FailureKind::Other`]).
    pub fn new(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::from(Box::new(err) as Box<dyn std::error::Error + Send + Sync>)
    }

    /// An error from a message, for adapters without a typed error.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::from(Box::<dyn std::error::Error + Send + Sync>::from(
            message.into(),
        ))
    }

    /// A dependency that cannot be reached or did not answer in time.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::msg(message).with_kind(FailureKind::Unavailable)
    }

    /// Storage that is full.
    pub fn storage_full(message: impl Into<String>) -> Self {
        Self::msg(message).with_kind(FailureKind::StorageFull)
    }

    /// The same error, of another kind.
    pub fn with_kind(mut self, kind: FailureKind) -> Self {
        self.kind = kind;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The same error, marked transient: the resource that failed has been replaced (a broken
    /// pooled connection the pool dropped), so idempotent work may be done again at once.
    /// Transient errors are [`FailureKind::Unavailable`].
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self.kind = FailureKind::Unavailable;
        self
    }

    /// Whether idempotent work that failed with this error may be done again at once.
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

/// Runs idempotent work (reads), and once more if it failed transiently: a database connection
/// broke under it and was replaced. Anything else, or a second failure, is returned as is.
pub(crate) async fn retry_transient<T, F, Fut>(mut work: F) -> Result<T, AppError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    match work().await {
        Err(AppError::Infrastructure(err)) if err.is_transient() => {
            tracing::info!(error = %err, "transient failure; doing the work once more");
            work().await
        }
        result => result,
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for InfrastructureError {
    fn from(inner: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self {
            kind: FailureKind::Other,
            transient: false,
            inner,
        }
    }
}

/// What kind of conflict refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The name is taken (by a file or folder, a plugin): another name (autorename) works.
    NameTaken,
    /// `update` with a revision that is no longer the file's current one: fetch it again.
    RevisionMismatch,
    /// The account is a member of the shared folder already.
    AlreadyMember,
    /// The folder is shared already.
    AlreadyShared,
    /// Something the change depends on changed while it ran: trying again works.
    ConcurrentChange,
    /// Anything else in the way (a file where a folder is needed, a trashed parent).
    Other,
}

/// Why a use case did not succeed. The HTTP layer maps each variant to one stable problem code.
#[derive(Debug, Error)]
pub enum AppError {
    /// Input did not parse into a domain value.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which input.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A domain rule forbids the change in the current state.
    #[error("{0}")]
    NotAllowed(&'static str),
    /// No valid credentials were presented (missing, unknown, expired or revoked token).
    #[error("authentication required")]
    Unauthenticated,
    /// Email and password do not match an account.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The account is disabled.
    #[error("this account is disabled")]
    AccountDisabled,
    /// The caller is authenticated but may not do this.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// The named thing does not exist (or the caller may not know it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An account with that email already exists.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// The sign-up policy admits no new accounts.
    #[error("sign-up is closed on this server")]
    SignupClosed,
    /// The sign-up policy requires an invitation and none was given.
    #[error("an invitation code is required to sign up")]
    InviteRequired,
    /// The invitation given is unknown, used, expired or for another address.
    #[error("invalid invitation: {0}")]
    InviteInvalid(&'static str),
    /// The state prevents the change; the kind tells a client whether to rename, refetch or
    /// retry.
    #[error("conflict: {1}")]
    Conflict(Conflict, &'static str),
    /// The change would take the owner past their storage quota; nothing was stored.
    #[error("storage quota exceeded")]
    QuotaExceeded {
        /// Bytes in use.
        used: u64,
        /// The quota.
        quota: u64,
        /// Bytes the change needed.
        needed: u64,
    },
    /// The change would take the owner of the shared folder it is in past their quota; nothing
    /// was stored. (Their figures are theirs: the caller is not told them.)
    #[error("the shared folder's owner has no room for this")]
    OwnerQuotaExceeded,
    /// The uploaded content does not have the content hash the client announced; nothing was
    /// stored.
    #[error("content hash mismatch")]
    ContentHashMismatch {
        /// What the client announced.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// The upload stream ended early or failed; nothing was stored.
    #[error("{0}")]
    UploadInterrupted(String),
    /// An append to a resumable upload does not start where the upload is.
    #[error("the upload is at offset {offset}")]
    UploadOffsetMismatch {
        /// Where the upload is: the next append starts here.
        offset: u64,
    },
    /// A request body does not have the checksum the client announced; none of it was kept.
    #[error("checksum mismatch")]
    ChecksumMismatch,
    /// A delta upload cannot commit before every block it needs has arrived.
    #[error("{missing} blocks are still needed")]
    BlocksMissing {
        /// How many distinct blocks must still be sent.
        missing: u64,
    },
    /// The requested byte range lies outside the content.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The content's size.
        size: u64,
    },
    /// The request is too large to do at once (e.g. copying a huge folder).
    #[error("{0}")]
    TooLarge(String),
    /// A change cursor can no longer be served; the client must list the folder again.
    #[error("the cursor must be reset: {0}")]
    CursorReset(&'static str),
    /// The shared link was revoked or has expired.
    #[error("this link is no longer available: it {0}")]
    LinkGone(&'static str),
    /// The shared link needs a password and none was given.
    #[error("this link needs a password")]
    LinkPasswordRequired,
    /// The shared link's password is wrong.
    #[error("wrong password for this link")]
    InvalidLinkPassword,
    /// The shared link does not allow downloads.
    #[error("this link does not allow downloads")]
    DownloadNotAllowed,
    /// A plugin refused the request (a scanner found something, a policy denied it).
    #[error("refused by plugin {plugin}: {reason}")]
    RefusedByPlugin {
        /// The plugin's name.
        plugin: String,
        /// Its reason, shown to the user.
        reason: String,
    },
    /// A plugin that guards this request failed, and its failure policy refuses.
    #[error("plugin {plugin} failed, and refuses while it does")]
    PluginFailed {
        /// The plugin's name.
        plugin: String,
    },
    /// Too many failed attempts; try again after the given time.
    #[error("too many attempts")]
    Throttled {
        /// How long to wait.
        retry_after: Duration,
    },
    /// Something outside the domain failed (its kind says whether it is worth retrying).
    #[error("internal error")]
    Infrastructure(#[from] InfrastructureError),
}

impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Invalid { field, reason } => AppError::Invalid { field, reason },
            DomainError::NotAllowed(why) => AppError::NotAllowed(why),
        }
    }
}

impl From<crate::ports::ContentError> for AppError {
    fn from(err: crate::ports::ContentError) -> Self {
        match err {
            crate::ports::ContentError::Source(why) => AppError::UploadInterrupted(why),
            crate::ports::ContentError::Storage(inner) => AppError::Infrastructure(inner),
        }
    }
}

impl From<RepositoryError> for AppError {
    fn from(err: RepositoryError) -> Self {
        match err {
            RepositoryError::Conflict(what) => AppError::Infrastructure(InfrastructureError::msg(
                format!("unexpected uniqueness conflict on {what}"),
            )),
            RepositoryError::Backend(inner) => AppError::Infrastructure(inner),
        }
    }
}
