//! Test Coffer plugins on your machine.
//!
//! [`build_plugin`] builds a plugin crate for `wasm32-wasip2`; [`PluginUnderTest`] loads the
//! component into the same sandbox the server uses (same limits, same WASI that grants nothing)
//! and calls its hooks. The host's imports are mocked in memory: the configuration is what you
//! set with [`PluginUnderTest::with_config`], upload content is the bytes you pass, and what the
//! plugin logs comes back in each [`CallOutcome`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use coffer_application::plugins::ContentInMemory;
pub use coffer_application::ports::{
    ActorFacts, CallFailure, CallOutcome, ComponentError, PluginLog, PolicyDecision, QuotaQuestion,
    ScanVerdict, SharingQuestion,
};
use coffer_application::ports::{
    PluginCall, PluginEvent, PluginRuntime, UploadContentReader, UploadFacts,
};
pub use coffer_domain::plugins::{Hook, PluginLimits};
use coffer_plugins::{RuntimeSettings, WasmRuntime};
use sha2::{Digest, Sha256};

/// Builds the plugin crate at `crate_dir` (release, `wasm32-wasip2`) and returns its `.wasm`.
/// Panics with cargo's output if the build fails (it is meant for tests).
pub fn build_plugin(crate_dir: impl AsRef<Path>) -> PathBuf {
    let crate_dir = crate_dir.as_ref();
    let manifest = crate_dir.join("Cargo.toml");
    let metadata = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("cargo metadata runs");
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).expect("cargo metadata answers JSON");
    let target_dir = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .expect("a target directory"),
    );
    let name = metadata["packages"]
        .as_array()
        .and_then(|packages| {
            packages.iter().find(|p| {
                p["manifest_path"]
                    .as_str()
                    .is_some_and(|m| Path::new(m) == manifest.canonicalize().unwrap_or_default())
            })
        })
        .and_then(|p| p["name"].as_str())
        .expect("the crate is in its workspace")
        .to_owned();
    let output = Command::new(cargo())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("cargo build runs");
    assert!(
        output.status.success(),
        "building {name} failed (is the target installed? `rustup target add wasm32-wasip2`):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// A plugin loaded into the sandbox, with its configuration and limits.
pub struct PluginUnderTest {
    runtime: WasmRuntime,
    call: PluginCall,
    hooks: Vec<Hook>,
    actor: ActorFacts,
}

impl PluginUnderTest {
    /// Loads the component at `wasm` as the server would install it.
    pub async fn load(wasm: impl AsRef<Path>) -> Result<Self, ComponentError> {
        let bytes = std::fs::read(wasm.as_ref())
            .map_err(|e| ComponentError::Invalid(format!("{}: {e}", wasm.as_ref().display())))?;
        let runtime = WasmRuntime::new(&RuntimeSettings {
            cache_dir: None,
            max_concurrent_calls: 4,
            ..RuntimeSettings::default()
        })?;
        let info = runtime.inspect(&bytes).await?;
        let digest = hex::encode(Sha256::digest(&bytes));
        runtime.load(&digest, &bytes).await?;
        Ok(Self {
            runtime,
            call: PluginCall {
                tag: "plugin-under-test".into(),
                digest,
                config: "{}".into(),
                limits: PluginLimits::default(),
            },
            hooks: info.hooks,
            actor: ActorFacts {
                user_id: "00000000-0000-0000-0000-000000000001".into(),
                email: "tester@example.org".into(),
            },
        })
    }

    /// The hooks the component exports.
    pub fn hooks(&self) -> &[Hook] {
        &self.hooks
    }

    /// Sets the configuration the plugin reads.
    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.call.config = config.to_string();
        self
    }

    /// Sets the limits of each call (the server's defaults otherwise).
    pub fn with_limits(mut self, limits: PluginLimits) -> Self {
        self.call.limits = limits;
        self
    }

    /// Who acts in the calls (`tester@example.org` otherwise).
    pub fn acting_as(mut self, email: &str) -> Self {
        self.actor.email = email.into();
        self
    }

    /// Scans `content` as an upload to `path`.
    pub async fn scan(&self, path: &str, content: &[u8]) -> CallOutcome<ScanVerdict> {
        let content = Arc::new(ContentInMemory(content.to_vec()));
        let upload = UploadFacts {
            path: path.into(),
            size: content.size(),
            media_type: None,
            content_hash: String::new(),
            actor: self.actor.clone(),
        };
        self.runtime.scan(&self.call, &upload, content).await
    }

    /// Asks the sharing policy about a link to `path`.
    pub async fn check_link(
        &self,
        path: &str,
        expires_in_seconds: Option<u64>,
        has_password: bool,
    ) -> CallOutcome<PolicyDecision> {
        let question = SharingQuestion::Link {
            actor: self.actor.clone(),
            path: path.into(),
            is_folder: false,
            expires_in_seconds,
            has_password,
            allow_download: true,
        };
        self.runtime.check_sharing(&self.call, &question).await
    }

    /// Asks the sharing policy about adding `member_email` to `folder_path`.
    pub async fn check_share(
        &self,
        folder_path: &str,
        member_email: &str,
        editor: bool,
    ) -> CallOutcome<PolicyDecision> {
        let question = SharingQuestion::Share {
            actor: self.actor.clone(),
            folder_path: folder_path.into(),
            member_email: member_email.into(),
            editor,
        };
        self.runtime.check_sharing(&self.call, &question).await
    }

    /// Asks the quota policy for the acting user's quota.
    pub async fn quota(&self, server_quota: u64) -> CallOutcome<Option<u64>> {
        self.runtime
            .quota(&self.call, &self.actor, server_quota)
            .await
    }

    /// Asks the quota policy about an upload of `size` bytes.
    pub async fn check_upload(
        &self,
        path: &str,
        size: u64,
        used: u64,
        quota: u64,
    ) -> CallOutcome<PolicyDecision> {
        let question = QuotaQuestion {
            actor: self.actor.clone(),
            owner: self.actor.clone(),
            path: path.into(),
            size,
            used,
            quota,
        };
        self.runtime.check_upload(&self.call, &question).await
    }

    /// Tells the event hook that `kind` (e.g. `file-stored`) happened.
    pub async fn event(
        &self,
        kind: &str,
        actor_email: &str,
        path: Option<&str>,
    ) -> CallOutcome<()> {
        let kind = EVENT_KINDS
            .iter()
            .copied()
            .find(|k| *k == kind)
            .unwrap_or_else(|| panic!("no event kind {kind}; one of {EVENT_KINDS:?}"));
        let event = PluginEvent {
            kind,
            actor: ActorFacts {
                user_id: self.actor.user_id.clone(),
                email: actor_email.into(),
            },
            path: path.map(Into::into),
            detail: None,
            at_micros: 0,
        };
        self.runtime.on_event(&self.call, &event).await
    }
}

/// The event kinds of `coffer:plugin@0.1.0`.
pub const EVENT_KINDS: [&str; 11] = [
    "file-stored",
    "folder-created",
    "moved",
    "deleted",
    "restored",
    "folder-shared",
    "member-added",
    "member-removed",
    "folder-unshared",
    "link-created",
    "link-revoked",
];
