//! Plugins: WebAssembly components an administrator installs to decide on uploads, sharing and
//! quotas, or to be told about events. Here: what a plugin is and the rules on its settings.

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

use crate::{DomainError, Timestamp};

/// Identifies an installed plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PluginId(Uuid);

impl PluginId {
    /// Wraps an id minted by the id generator or read from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A plugin's name: 1 to 64 of `a-z`, `0-9` and `-`, starting with a letter. Unique per
/// installation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PluginName(String);

impl PluginName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = raw.trim();
        let valid = (1..=64).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(DomainError::invalid(
                "name",
                "must be 1 to 64 of a-z, 0-9 and '-', starting with a letter",
            ));
        }
        Ok(Self(name.to_owned()))
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plugin's version as its author declares it (`MAJOR.MINOR.PATCH`, optionally `-suffix`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginVersion(String);

impl PluginVersion {
    /// Parses a version.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let version = raw.trim();
        let core = version.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        let valid = version.len() <= 64
            && parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
        if !valid {
            return Err(DomainError::invalid(
                "version",
                "must be MAJOR.MINOR.PATCH (optionally with a -suffix)",
            ));
        }
        Ok(Self(version.to_owned()))
    }
    /// The version.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A hook: an interface a plugin may export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// Sees uploads before they commit (`upload-scanner`).
    UploadScanner,
    /// Decides on members, roles and links (`sharing-policy`).
    SharingPolicy,
    /// Computes quotas and may refuse uploads (`quota-policy`).
    QuotaPolicy,
    /// Told about changes after they commit (`events`).
    Events,
}

impl Hook {
    /// Every hook.
    pub const ALL: [Hook; 4] = [
        Hook::UploadScanner,
        Hook::SharingPolicy,
        Hook::QuotaPolicy,
        Hook::Events,
    ];

    /// The hook's interface name in WIT.
    pub fn as_str(&self) -> &'static str {
        match self {
            Hook::UploadScanner => "upload-scanner",
            Hook::SharingPolicy => "sharing-policy",
            Hook::QuotaPolicy => "quota-policy",
            Hook::Events => "events",
        }
    }

    /// Parses a hook's interface name.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Hook::ALL
            .into_iter()
            .find(|h| h.as_str() == raw.trim())
            .ok_or_else(|| {
                DomainError::invalid(
                    "hook",
                    "must be upload-scanner, sharing-policy, quota-policy or events",
                )
            })
    }

    /// What a failed call (trap, timeout, bad output) means unless the administrator says
    /// otherwise: deny for the hooks that guard something, allow for events (which never fail
    /// a request anyway).
    pub fn default_failure_policy(&self) -> FailurePolicy {
        match self {
            Hook::Events => FailurePolicy::Allow,
            _ => FailurePolicy::Deny,
        }
    }
}

/// What a failed plugin call decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Refuse what the plugin was asked about (fail closed).
    Deny,
    /// Let it through (fail open).
    Allow,
}

impl FailurePolicy {
    /// Parses `deny` or `allow`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim() {
            "deny" => Ok(FailurePolicy::Deny),
            "allow" => Ok(FailurePolicy::Allow),
            _ => Err(DomainError::invalid(
                "failure_policy",
                "must be deny or allow",
            )),
        }
    }
    /// `deny` or `allow`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FailurePolicy::Deny => "deny",
            FailurePolicy::Allow => "allow",
        }
    }
}

/// Hard limits of one plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    memory_bytes: u64,
    time: Duration,
    output_bytes: u32,
}

impl PluginLimits {
    /// Smallest memory a component can start in.
    pub const MIN_MEMORY: u64 = 1 << 20;
    /// Largest memory an administrator may grant.
    pub const MAX_MEMORY: u64 = 256 << 20;
    /// Longest time an administrator may grant one call.
    pub const MAX_TIME: Duration = Duration::from_secs(600);
    /// Time a scanner is granted per MiB of the upload, on top of its time limit.
    pub const SCAN_TIME_PER_MIB: Duration = Duration::from_millis(50);

    /// Limits within the bounds: memory 1 MiB..=256 MiB, time 1 ms..=10 min, output 1 KiB..=16 MiB.
    pub fn new(memory_bytes: u64, time: Duration, output_bytes: u32) -> Result<Self, DomainError> {
        if !(Self::MIN_MEMORY..=Self::MAX_MEMORY).contains(&memory_bytes) {
            return Err(DomainError::invalid(
                "memory_bytes",
                "must be between 1 MiB and 256 MiB",
            ));
        }
        if time < Duration::from_millis(1) || time > Self::MAX_TIME {
            return Err(DomainError::invalid(
                "time_ms",
                "must be between 1 ms and 10 minutes",
            ));
        }
        if !(1024..=16 << 20).contains(&output_bytes) {
            return Err(DomainError::invalid(
                "output_bytes",
                "must be between 1 KiB and 16 MiB",
            ));
        }
        Ok(Self {
            memory_bytes,
            time,
            output_bytes,
        })
    }

    /// Most linear memory the plugin may use.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes
    }
    /// Longest one call may run.
    pub fn time(&self) -> Duration {
        self.time
    }
    /// Most bytes of strings the plugin may hand back (reasons, logs) per call.
    pub fn output_bytes(&self) -> u32 {
        self.output_bytes
    }
    /// The time a scanner may take over an upload of `bytes`: its time limit plus
    /// [`Self::SCAN_TIME_PER_MIB`] for each MiB (begun) it is given, so that an honest scanner
    /// that reads every byte is never timed out by the size of what a user uploads.
    pub fn scan_time(&self, bytes: u64) -> Duration {
        let mebibytes = u32::try_from(bytes.div_ceil(1 << 20)).unwrap_or(u32::MAX);
        self.time
            .saturating_add(Self::SCAN_TIME_PER_MIB.saturating_mul(mebibytes))
    }
}

impl Default for PluginLimits {
    /// 64 MiB, 2 s, 64 KiB: room for a streaming scanner, short enough for a request.
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            time: Duration::from_secs(2),
            output_bytes: 64 << 10,
        }
    }
}

/// After this many consecutive failed calls a plugin is disabled automatically.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 5;

/// An installed plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    /// The plugin.
    pub id: PluginId,
    /// Its unique name.
    pub name: PluginName,
    /// Its version.
    pub version: PluginVersion,
    /// What it does, for administrators.
    pub description: String,
    /// The hooks its component exports.
    pub hooks: Vec<Hook>,
    /// The WIT package version it was built against (e.g. `0.1.0`).
    pub interface_version: String,
    /// SHA-256 of the component (hex); the component is stored under it.
    pub digest: String,
    /// Its configuration (a JSON document).
    pub config: String,
    /// A JSON Schema its configuration must satisfy, if the author gave one.
    pub config_schema: Option<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// Order among the plugins of a hook (lower runs first).
    pub position: i64,
    /// Limits of each call.
    pub limits: PluginLimits,
    /// What a failed call decides.
    pub failure_policy: FailurePolicy,
    /// Failed calls in a row (reset by a successful one).
    pub consecutive_failures: u32,
    /// Why it was disabled automatically, if it was.
    pub disabled_reason: Option<String>,
    /// When it was installed.
    pub installed_at: Timestamp,
    /// When its settings last changed.
    pub updated_at: Timestamp,
}

impl Plugin {
    /// Whether it implements `hook`.
    pub fn implements(&self, hook: Hook) -> bool {
        self.hooks.contains(&hook)
    }

    /// Records a failed call; past [`MAX_CONSECUTIVE_FAILURES`] in a row the plugin disables
    /// itself. Returns whether this failure disabled it.
    pub fn record_failure(&mut self, reason: &str, now: Timestamp) -> bool {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.enabled && self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
            self.enabled = false;
            self.disabled_reason = Some(format!(
                "disabled after {} consecutive failures; last: {reason}",
                self.consecutive_failures
            ));
            self.updated_at = now;
            return true;
        }
        false
    }

    /// Records a successful call.
    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Whether it refuses `hook` without being called: a guard (failure policy `deny`) that was
    /// disabled automatically keeps failing closed until an administrator enables it again,
    /// disables it explicitly, or sets its failure policy to `allow`. Repeated failures never
    /// turn a guard that denies on failure into one that lets everything through.
    pub fn fails_closed(&self, hook: Hook) -> bool {
        !self.enabled
            && self.disabled_reason.is_some()
            && self.failure_policy == FailurePolicy::Deny
            && hook != Hook::Events
            && self.implements(hook)
    }
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A plugin refused something (a scan found something, a policy denied).
    Denied,
    /// A call failed (trap, timeout, memory, output) and the failure policy decided.
    Failed,
    /// A plugin was disabled after repeated failures.
    AutoDisabled,
    /// An administrator installed a plugin.
    Installed,
    /// An administrator replaced a plugin's component (a new version).
    Upgraded,
    /// An administrator changed a plugin's configuration.
    Configured,
    /// An administrator enabled a plugin.
    Enabled,
    /// An administrator disabled a plugin.
    Disabled,
    /// An administrator changed a plugin's order, limits or failure policy.
    SettingsChanged,
    /// An administrator uninstalled a plugin.
    Uninstalled,
    /// An administrator tried a plugin on a sample.
    DryRun,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 11] = [
        AuditAction::Denied,
        AuditAction::Failed,
        AuditAction::AutoDisabled,
        AuditAction::Installed,
        AuditAction::Upgraded,
        AuditAction::Configured,
        AuditAction::Enabled,
        AuditAction::Disabled,
        AuditAction::SettingsChanged,
        AuditAction::Uninstalled,
        AuditAction::DryRun,
    ];

    /// The action's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuditAction::Denied => "denied",
            AuditAction::Failed => "failed",
            AuditAction::AutoDisabled => "auto_disabled",
            AuditAction::Installed => "installed",
            AuditAction::Upgraded => "upgraded",
            AuditAction::Configured => "configured",
            AuditAction::Enabled => "enabled",
            AuditAction::Disabled => "disabled",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::Uninstalled => "uninstalled",
            AuditAction::DryRun => "dry_run",
        }
    }

    /// Parses an action's name.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == raw)
            .ok_or_else(|| DomainError::invalid("action", "is not an audit action"))
    }
}

/// One entry of the plugin audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log (assigned when stored; newer entries have larger ids).
    pub id: Option<u64>,
    /// When.
    pub at: Timestamp,
    /// What happened.
    pub action: AuditAction,
    /// The plugin's name.
    pub plugin: String,
    /// The plugin's version, if known.
    pub version: Option<String>,
    /// The hook concerned, for calls.
    pub hook: Option<Hook>,
    /// Who acted (an administrator's email, or the user whose request ran the hook).
    pub actor: Option<String>,
    /// What it was about (a path, a member's email, a setting).
    pub subject: Option<String>,
    /// Why (a denial's reason, a failure).
    pub reason: Option<String>,
    /// How long the call took, for calls.
    pub duration: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_parse_strictly() {
        assert!(PluginName::parse("eicar-scanner").is_ok());
        for bad in ["", "Eicar", "1abc", "a b", "a_b", &"a".repeat(65)] {
            assert!(PluginName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PluginVersion::parse("1.2.3").is_ok());
        assert!(PluginVersion::parse("0.1.0-beta.1").is_ok());
        for bad in ["1.2", "v1.2.3", "1.2.x", "1..3", ""] {
            assert!(PluginVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn guarding_hooks_fail_closed_and_events_fail_open() {
        for hook in Hook::ALL {
            assert_eq!(Hook::parse(hook.as_str()).unwrap(), hook);
        }
        assert_eq!(
            Hook::UploadScanner.default_failure_policy(),
            FailurePolicy::Deny
        );
        assert_eq!(Hook::Events.default_failure_policy(), FailurePolicy::Allow);
    }

    #[test]
    fn a_scanner_gets_time_for_every_mebibyte_it_is_given() {
        let limits = PluginLimits::default();
        assert_eq!(limits.scan_time(0), limits.time());
        assert_eq!(
            limits.scan_time(1),
            limits.time() + PluginLimits::SCAN_TIME_PER_MIB
        );
        assert_eq!(
            limits.scan_time(1 << 30),
            limits.time() + PluginLimits::SCAN_TIME_PER_MIB * 1024
        );
        assert!(limits.scan_time(u64::MAX) > limits.time());
    }

    #[test]
    fn limits_stay_within_bounds() {
        let ok = PluginLimits::new(16 << 20, Duration::from_millis(200), 4096).unwrap();
        assert_eq!(ok.memory_bytes(), 16 << 20);
        assert!(PluginLimits::new(1, Duration::from_secs(1), 4096).is_err());
        assert!(PluginLimits::new(16 << 20, Duration::ZERO, 4096).is_err());
        assert!(PluginLimits::new(16 << 20, Duration::from_secs(601), 4096).is_err());
        assert!(PluginLimits::new(16 << 20, Duration::from_secs(1), 10).is_err());
    }

    #[test]
    fn repeated_failures_disable_a_plugin_and_a_success_resets_the_count() {
        let now = Timestamp::default();
        let mut plugin = Plugin {
            id: PluginId::from_uuid(Uuid::nil()),
            name: PluginName::parse("p").unwrap(),
            version: PluginVersion::parse("1.0.0").unwrap(),
            description: String::new(),
            hooks: vec![Hook::UploadScanner],
            interface_version: "0.1.0".into(),
            digest: String::new(),
            config: "{}".into(),
            config_schema: None,
            enabled: true,
            position: 0,
            limits: PluginLimits::default(),
            failure_policy: FailurePolicy::Deny,
            consecutive_failures: 0,
            disabled_reason: None,
            installed_at: now,
            updated_at: now,
        };
        for _ in 1..MAX_CONSECUTIVE_FAILURES {
            assert!(!plugin.record_failure("trap", now));
        }
        plugin.record_success();
        for _ in 1..MAX_CONSECUTIVE_FAILURES {
            assert!(!plugin.record_failure("trap", now));
        }
        assert!(!plugin.fails_closed(Hook::UploadScanner));
        assert!(plugin.record_failure("timeout", now));
        assert!(!plugin.enabled);
        assert!(
            plugin.fails_closed(Hook::UploadScanner),
            "a guard that denies on failure keeps refusing once disabled"
        );
        assert!(!plugin.fails_closed(Hook::SharingPolicy), "not its hook");
        plugin.failure_policy = FailurePolicy::Allow;
        assert!(
            !plugin.fails_closed(Hook::UploadScanner),
            "the administrator chose"
        );
        assert!(
            plugin
                .disabled_reason
                .as_deref()
                .unwrap()
                .contains("timeout")
        );
    }
}
