//! The plugin runtime port: runs a plugin's hook in a sandbox and reports what happened. The
//! use cases decide what a result means (failure policies, order, audit); the runtime only runs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use coffer_domain::plugins::{Hook, PluginLimits};

use crate::InfrastructureError;

/// What the runtime needs to call a plugin.
#[derive(Debug, Clone)]
pub struct PluginCall {
    /// `name@version`, to tag its logs.
    pub tag: String,
    /// SHA-256 (hex) of its component, which must have been [`PluginRuntime::load`]ed.
    pub digest: String,
    /// Its configuration (JSON), handed to the plugin on request.
    pub config: String,
    /// The call's limits.
    pub limits: PluginLimits,
}

/// What a component is, read at install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// The WIT package version it was built against.
    pub interface_version: String,
    /// The hooks it exports.
    pub hooks: Vec<Hook>,
}

/// Why a component cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// Not a WebAssembly component, or one that does not compile.
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// A component of an interface version this server does not support, or that imports
    /// something the host does not provide, or exports no hook.
    #[error("{0}")]
    Unsupported(String),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] InfrastructureError),
}

/// A log line a plugin wrote during a call (already written to the server log, tagged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginLog {
    /// `trace`, `debug`, `info`, `warn`, `error`, or `stdout`/`stderr` for the guest's output.
    pub level: String,
    /// The message.
    pub message: String,
    /// Structured fields.
    pub fields: Vec<(String, String)>,
}

/// Why a call did not return an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// The plugin trapped (panicked, hit `unreachable`, misused memory...).
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The call ran past its time limit.
    #[error("the plugin ran past its time limit")]
    Timeout,
    /// The plugin tried to use more memory than its limit.
    #[error("the plugin ran out of its memory limit")]
    MemoryExceeded,
    /// The plugin answered with more output than its limit allows.
    #[error("the plugin's answer was larger than its output limit")]
    OutputTooLarge,
    /// The plugin does not implement the hook, or its component is not loaded.
    #[error("the plugin cannot be called: {0}")]
    Unavailable(String),
    /// The host was too busy to run the call in time: no free slot (per plugin or overall)
    /// before the hook's deadline, or the call waited for the CPU longer than it ran.
    #[error("the server was too busy to run the plugin in time")]
    Busy,
    /// The host could not serve the plugin (e.g. reading the upload's content failed).
    #[error("the server could not serve the plugin: {0}")]
    HostFailed(String),
}

impl CallFailure {
    /// Whether the plugin itself is to blame (a trap, its own time used up, memory, output):
    /// only such failures count toward disabling it automatically. A busy host, a host-side
    /// error or a component that is not loaded is not the plugin's doing.
    pub fn is_plugins_fault(&self) -> bool {
        match self {
            CallFailure::Trap(_)
            | CallFailure::Timeout
            | CallFailure::MemoryExceeded
            | CallFailure::OutputTooLarge => true,
            CallFailure::Unavailable(_) | CallFailure::Busy | CallFailure::HostFailed(_) => false,
        }
    }
}

/// The result of one call, with its logs and how long it took.
#[derive(Debug, Clone)]
pub struct CallOutcome<T> {
    /// The answer, or why there is none.
    pub result: Result<T, CallFailure>,
    /// What the plugin logged.
    pub logs: Vec<PluginLog>,
    /// How long the call took (instantiation included).
    pub duration: Duration,
}

impl<T> CallOutcome<T> {
    /// The same outcome with its answer mapped; logs and duration are kept.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> CallOutcome<U> {
        CallOutcome {
            result: self.result.map(f),
            logs: self.logs,
            duration: self.duration,
        }
    }
}

/// Someone acting, as plugins see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorFacts {
    /// Account id.
    pub user_id: String,
    /// Account email.
    pub email: String,
}

/// An upload as a scanner sees it.
#[derive(Debug, Clone)]
pub struct UploadFacts {
    /// Where it goes, as the uploader sees it.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Declared media type.
    pub media_type: Option<String>,
    /// Content hash (hex).
    pub content_hash: String,
    /// Who uploads.
    pub actor: ActorFacts,
}

/// Random access to an upload's bytes, for scanners.
#[async_trait]
pub trait UploadContentReader: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Up to `len` bytes from `offset` (fewer at the end, none past it).
    async fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, InfrastructureError>;
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    /// Go ahead.
    Allow,
    /// Refuse, with the reason shown to the user.
    Deny(String),
}

/// A scanner's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanVerdict {
    /// Nothing found.
    Clean,
    /// Found this.
    Infected(String),
}

/// A question for a sharing policy.
#[derive(Debug, Clone)]
pub enum SharingQuestion {
    /// May `member_email` join the folder with `editor` (or viewer) rights?
    Share {
        /// Who asks.
        actor: ActorFacts,
        /// The folder, as the owner sees it.
        folder_path: String,
        /// The new member.
        member_email: String,
        /// Editor (true) or viewer.
        editor: bool,
    },
    /// May the member's role change to editor (or viewer)?
    RoleChange {
        /// Who asks.
        actor: ActorFacts,
        /// The folder, as the owner sees it.
        folder_path: String,
        /// The member.
        member_email: String,
        /// Editor (true) or viewer.
        editor: bool,
    },
    /// May this link be created?
    Link {
        /// Who asks.
        actor: ActorFacts,
        /// What it links to.
        path: String,
        /// Whether that is a folder.
        is_folder: bool,
        /// Seconds until it expires, if it does.
        expires_in_seconds: Option<u64>,
        /// Whether it has a password.
        has_password: bool,
        /// Whether it allows downloads.
        allow_download: bool,
    },
}

/// An upload a quota policy may refuse.
#[derive(Debug, Clone)]
pub struct QuotaQuestion {
    /// Who uploads.
    pub actor: ActorFacts,
    /// Whose quota it counts against.
    pub owner: ActorFacts,
    /// Where it goes.
    pub path: String,
    /// Bytes it adds.
    pub size: u64,
    /// Bytes the owner uses.
    pub used: u64,
    /// The owner's quota.
    pub quota: u64,
}

/// Something that happened, for event plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginEvent {
    /// `file-stored`, `folder-created`, `moved`, `deleted`, `restored`, `folder-shared`,
    /// `member-added`, `member-removed`, `folder-unshared`, `link-created`, `link-revoked`.
    pub kind: &'static str,
    /// Who did it.
    pub actor: ActorFacts,
    /// The path concerned, as the actor sees it.
    pub path: Option<String>,
    /// More about it.
    pub detail: Option<String>,
    /// When, in microseconds since the epoch.
    pub at_micros: i64,
}

/// Runs plugins.
#[async_trait]
pub trait PluginRuntime: Send + Sync {
    /// Compiles a component and reads which hooks it exports and for which interface version.
    async fn inspect(&self, wasm: &[u8]) -> Result<ComponentInfo, ComponentError>;
    /// Makes a component callable under `digest` (compiled once, cached).
    async fn load(&self, digest: &str, wasm: &[u8]) -> Result<(), ComponentError>;
    /// Whether a component is loaded.
    fn is_loaded(&self, digest: &str) -> bool;
    /// Unloads every component but those of `digests` and deletes their compiled copies, so
    /// that uninstalled plugins cost neither memory nor disk.
    fn retain(&self, digests: &[String]);
    /// Calls `upload-scanner.scan`, with the time a scan of the upload's size is granted
    /// ([`coffer_domain::plugins::PluginLimits::scan_time`]).
    async fn scan(
        &self,
        call: &PluginCall,
        upload: &UploadFacts,
        content: Arc<dyn UploadContentReader>,
    ) -> CallOutcome<ScanVerdict>;
    /// Calls the matching `sharing-policy` function.
    async fn check_sharing(
        &self,
        call: &PluginCall,
        question: &SharingQuestion,
    ) -> CallOutcome<PolicyDecision>;
    /// Calls `quota-policy.quota`.
    async fn quota(
        &self,
        call: &PluginCall,
        user: &ActorFacts,
        server_quota: u64,
    ) -> CallOutcome<Option<u64>>;
    /// Calls `quota-policy.check-upload`.
    async fn check_upload(
        &self,
        call: &PluginCall,
        question: &QuotaQuestion,
    ) -> CallOutcome<PolicyDecision>;
    /// Calls `events.on-event`.
    async fn on_event(&self, call: &PluginCall, event: &PluginEvent) -> CallOutcome<()>;
}
