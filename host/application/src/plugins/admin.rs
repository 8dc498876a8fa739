//! Plugin administration: install, list, inspect, configure, enable, disable, reorder, set
//! limits and failure policy, uninstall, dry runs, and the audit log. Every change bumps the
//! plugin set's generation (every instance reloads within its refresh interval) and is audited.

use std::time::Duration;

use coffer_domain::Timestamp;
use coffer_domain::files::BlockHash;
use coffer_domain::plugins::{
    AuditAction, AuditEntry, FailurePolicy, Hook, Plugin, PluginId, PluginLimits, PluginName,
    PluginVersion,
};
use serde_json::Value;

use super::host::component_error;
use super::schema;
use super::{ContentInMemory, PluginHost, Plugins};
use crate::AppError;
use crate::admin::Actor;
use crate::ports::{
    ActorFacts, CallFailure, PluginLog, PolicyDecision, QuotaQuestion, RepositoryError,
    SharingQuestion, Transaction, UploadContentReader, UploadFacts,
};

/// What comes with a component at install.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Unique name.
    pub name: String,
    /// Version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// The hooks the author says it implements (checked against the component), if given.
    pub hooks: Option<Vec<String>>,
    /// A JSON Schema for its configuration, if any.
    pub config_schema: Option<Value>,
    /// Its initial configuration (default `{}`).
    pub config: Option<Value>,
}

/// Changes to a plugin's running settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// New position in the running order.
    pub position: Option<i64>,
    /// New memory limit, in bytes.
    pub memory_bytes: Option<u64>,
    /// New time limit per call, in milliseconds.
    pub time_ms: Option<u64>,
    /// New output limit, in bytes.
    pub output_bytes: Option<u32>,
    /// `deny` or `allow`.
    pub failure_policy: Option<String>,
}

/// A sample to try a plugin on.
#[derive(Debug, Clone)]
pub enum DryRunInput {
    /// Scan these bytes as an upload to `path`.
    Scan {
        /// Where the sample would go.
        path: String,
        /// Its content.
        content: Vec<u8>,
    },
    /// Ask the sharing policy.
    Sharing(SharingQuestion),
    /// Ask the quota policy for a user's quota.
    Quota {
        /// The user.
        user: ActorFacts,
        /// What the server would apply.
        server_quota: u64,
    },
    /// Ask the quota policy about an upload.
    CheckUpload(QuotaQuestion),
}

/// What a dry run found.
#[derive(Debug, Clone)]
pub struct DryRunReport {
    /// The plugin's answer (`allow`, `deny: reason`, `clean`, `infected: name`, a quota), or
    /// why there is none.
    pub decision: Result<String, CallFailure>,
    /// What it logged.
    pub logs: Vec<PluginLog>,
    /// How long the call took.
    pub duration: Duration,
}

/// Most audit entries per page.
pub const MAX_AUDIT_PAGE: u32 = 500;
/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 32 << 20;
/// How the audit log names the operator at the server's command line.
pub const OPERATOR: &str = "operator";

fn invalid(field: &'static str, reason: impl Into<String>) -> AppError {
    AppError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A configuration as stored: valid JSON, fitting the schema if there is one.
fn checked_config(config: &Value, schema_text: Option<&str>) -> Result<String, AppError> {
    if let Some(schema_text) = schema_text {
        let schema: Value = serde_json::from_str(schema_text)
            .map_err(|_| invalid("config_schema", "is not JSON"))?;
        schema::check(&schema, config).map_err(|reason| invalid("config", reason))?;
    }
    Ok(config.to_string())
}

impl Plugins {
    /// Opens a transaction for an administrator's change, with how the audit log names them
    /// (their email, or `operator` at the command line).
    async fn admin_tx(&self, admin: Actor<'_>) -> Result<(Box<dyn Transaction>, String), AppError> {
        admin.require_admin()?;
        let mut tx = self.ports.uow.begin().await?;
        let name = Self::admin_name(tx.as_mut(), admin).await?;
        Ok((tx, name))
    }

    /// How the audit log names an administrator.
    async fn admin_name(tx: &mut dyn Transaction, admin: Actor<'_>) -> Result<String, AppError> {
        Ok(match admin.user_id() {
            Some(user_id) => tx
                .users()
                .get(user_id)
                .await?
                .map(|u| u.email().to_string())
                .unwrap_or_default(),
            None => OPERATOR.to_owned(),
        })
    }

    fn entry(
        plugin: &Plugin,
        action: AuditAction,
        actor: &str,
        subject: Option<String>,
        at: Timestamp,
    ) -> AuditEntry {
        AuditEntry {
            id: None,
            at,
            action,
            plugin: plugin.name.to_string(),
            version: Some(plugin.version.to_string()),
            hook: None,
            actor: Some(actor.to_owned()),
            subject,
            reason: None,
            duration: None,
        }
    }

    /// Commits an administrator's change: audit, new generation, and this instance reloads at
    /// once (others within their refresh interval).
    async fn commit_change(
        &self,
        mut tx: Box<dyn Transaction>,
        entry: AuditEntry,
    ) -> Result<(), AppError> {
        tx.plugins().audit(&entry).await?;
        tx.plugins().bump_generation().await?;
        tx.commit().await?;
        self.host.refresh().await?;
        Ok(())
    }

    async fn plugin(tx: &mut dyn Transaction, id: PluginId) -> Result<Plugin, AppError> {
        tx.plugins()
            .get(id)
            .await?
            .ok_or(AppError::NotFound("plugin"))
    }

    /// Installs a component (disabled until enabled). The hooks come from the component's
    /// exports; a manifest that claims others is refused.
    #[tracing::instrument(skip_all, fields(admin = ?admin.user_id()))]
    pub async fn install(
        &self,
        admin: Actor<'_>,
        manifest: Manifest,
        wasm: Vec<u8>,
    ) -> Result<Plugin, AppError> {
        admin.require_admin()?;
        let name = PluginName::parse(&manifest.name)?;
        let version = PluginVersion::parse(&manifest.version)?;
        if manifest.description.chars().count() > 1000 {
            return Err(invalid("description", "must be at most 1000 characters"));
        }
        if wasm.len() > MAX_COMPONENT_BYTES {
            return Err(AppError::TooLarge(format!(
                "a component may be at most {} MiB",
                MAX_COMPONENT_BYTES >> 20
            )));
        }
        let schema_text = match &manifest.config_schema {
            Some(schema) => {
                schema::check_schema(schema).map_err(|reason| invalid("config_schema", reason))?;
                Some(schema.to_string())
            }
            None => None,
        };
        let config = checked_config(
            manifest
                .config
                .as_ref()
                .unwrap_or(&Value::Object(Default::default())),
            schema_text.as_deref(),
        )?;
        let info = self
            .host
            .runtime()
            .inspect(&wasm)
            .await
            .map_err(component_error)?;
        if let Some(claimed) = &manifest.hooks {
            let mut claimed = claimed
                .iter()
                .map(|h| Hook::parse(h))
                .collect::<Result<Vec<_>, _>>()?;
            claimed.sort();
            claimed.dedup();
            if claimed != info.hooks {
                return Err(invalid(
                    "hooks",
                    format!(
                        "the manifest names {}, the component exports {}",
                        hook_list(&claimed),
                        hook_list(&info.hooks)
                    ),
                ));
            }
        }
        let digest = BlockHash::of(&wasm).to_hex();
        let (mut tx, actor) = self.admin_tx(admin).await?;
        if tx.plugins().find_by_name(&name).await?.is_some() {
            return Err(AppError::Conflict(
                crate::Conflict::NameTaken,
                "a plugin with this name is installed",
            ));
        }
        let position = tx
            .plugins()
            .list()
            .await?
            .iter()
            .map(|p| p.position + 1)
            .max()
            .unwrap_or(0);
        let now = self.ports.clock.now();
        let guarding = info.hooks.iter().any(|h| *h != Hook::Events);
        let plugin = Plugin {
            id: PluginId::from_uuid(self.ports.ids.new_id()),
            name,
            version,
            description: manifest.description,
            hooks: info.hooks,
            interface_version: info.interface_version,
            digest: digest.clone(),
            config,
            config_schema: schema_text,
            enabled: false,
            position,
            limits: PluginLimits::default(),
            failure_policy: if guarding {
                FailurePolicy::Deny
            } else {
                FailurePolicy::Allow
            },
            consecutive_failures: 0,
            disabled_reason: None,
            installed_at: now,
            updated_at: now,
        };
        tx.plugins().store_component(&digest, &wasm, now).await?;
        match tx.plugins().insert(&plugin).await {
            Err(RepositoryError::Conflict(_)) => {
                return Err(AppError::Conflict(
                    crate::Conflict::NameTaken,
                    "a plugin with this name is installed",
                ));
            }
            other => other?,
        }
        let entry = Self::entry(
            &plugin,
            AuditAction::Installed,
            &actor,
            Some(format!("sha256 {digest}")),
            now,
        );
        self.commit_change(tx, entry).await?;
        Ok(plugin)
    }

    /// Every installed plugin, in running order.
    pub async fn list(&self, admin: Actor<'_>) -> Result<Vec<Plugin>, AppError> {
        admin.require_admin()?;
        let mut tx = self.ports.uow.begin_read().await?;
        Ok(tx.plugins().list().await?)
    }

    /// One plugin.
    pub async fn get(&self, admin: Actor<'_>, id: PluginId) -> Result<Plugin, AppError> {
        admin.require_admin()?;
        let mut tx = self.ports.uow.begin_read().await?;
        Self::plugin(tx.as_mut(), id).await
    }

    /// One plugin, by name.
    pub async fn get_by_name(&self, admin: Actor<'_>, name: &str) -> Result<Plugin, AppError> {
        admin.require_admin()?;
        let name = PluginName::parse(name)?;
        let mut tx = self.ports.uow.begin_read().await?;
        tx.plugins()
            .find_by_name(&name)
            .await?
            .ok_or(AppError::NotFound("plugin"))
    }

    /// Replaces a plugin's configuration (checked against its schema).
    #[tracing::instrument(skip_all, fields(admin = ?admin.user_id()))]
    pub async fn configure(
        &self,
        admin: Actor<'_>,
        id: PluginId,
        config: Value,
    ) -> Result<Plugin, AppError> {
        let (mut tx, actor) = self.admin_tx(admin).await?;
        let mut plugin = Self::plugin(tx.as_mut(), id).await?;
        plugin.config = checked_config(&config, plugin.config_schema.as_deref())?;
        plugin.updated_at = self.ports.clock.now();
        tx.plugins().update(&plugin).await?;
        let entry = Self::entry(
            &plugin,
            AuditAction::Configured,
            &actor,
            None,
            plugin.updated_at,
        );
        self.commit_change(tx, entry).await?;
        Ok(plugin)
    }

    /// Enables or disables a plugin. Enabling clears an automatic disabling (and the failures
    /// counted before it); disabling explicitly ends the refusals of a guard that was disabled
    /// automatically and failed closed ([`Plugin::fails_closed`]).
    #[tracing::instrument(skip_all, fields(admin = ?admin.user_id()))]
    pub async fn set_enabled(
        &self,
        admin: Actor<'_>,
        id: PluginId,
        enabled: bool,
    ) -> Result<Plugin, AppError> {
        let (mut tx, actor) = self.admin_tx(admin).await?;
        let mut plugin = Self::plugin(tx.as_mut(), id).await?;
        if enabled {
            // The component must load here before it is enabled everywhere.
            self.host.ensure_loaded(tx.as_mut(), &plugin).await?;
        }
        plugin.consecutive_failures = 0;
        plugin.disabled_reason = None;
        plugin.enabled = enabled;
        plugin.updated_at = self.ports.clock.now();
        tx.plugins().update(&plugin).await?;
        let action = if enabled {
            AuditAction::Enabled
        } else {
            AuditAction::Disabled
        };
        let entry = Self::entry(&plugin, action, &actor, None, plugin.updated_at);
        self.commit_change(tx, entry).await?;
        Ok(plugin)
    }

    /// Changes order, limits or failure policy.
    #[tracing::instrument(skip_all, fields(admin = ?admin.user_id()))]
    pub async fn change_settings(
        &self,
        admin: Actor<'_>,
        id: PluginId,
        change: SettingsChange,
    ) -> Result<Plugin, AppError> {
        let (mut tx, actor) = self.admin_tx(admin).await?;
        let mut plugin = Self::plugin(tx.as_mut(), id).await?;
        let limits = plugin.limits;
        plugin.limits = PluginLimits::new(
            change.memory_bytes.unwrap_or(limits.memory_bytes()),
            change
                .time_ms
                .map(Duration::from_millis)
                .unwrap_or(limits.time()),
            change.output_bytes.unwrap_or(limits.output_bytes()),
        )?;
        if let Some(policy) = &change.failure_policy {
            plugin.failure_policy = FailurePolicy::parse(policy)?;
        }
        if let Some(position) = change.position {
            plugin.position = position;
        }
        plugin.updated_at = self.ports.clock.now();
        tx.plugins().update(&plugin).await?;
        let subject = format!(
            "position {}, memory {} B, time {} ms, output {} B, on failure {}",
            plugin.position,
            plugin.limits.memory_bytes(),
            plugin.limits.time().as_millis(),
            plugin.limits.output_bytes(),
            plugin.failure_policy.as_str()
        );
        let entry = Self::entry(
            &plugin,
            AuditAction::SettingsChanged,
            &actor,
            Some(subject),
            plugin.updated_at,
        );
        self.commit_change(tx, entry).await?;
        Ok(plugin)
    }

    /// Removes a plugin (and its component, unless another plugin uses it).
    #[tracing::instrument(skip_all, fields(admin = ?admin.user_id()))]
    pub async fn uninstall(&self, admin: Actor<'_>, id: PluginId) -> Result<(), AppError> {
        let (mut tx, actor) = self.admin_tx(admin).await?;
        let plugin = Self::plugin(tx.as_mut(), id).await?;
        tx.plugins().delete(id).await?;
        tx.plugins().delete_unused_components().await?;
        let entry = Self::entry(
            &plugin,
            AuditAction::Uninstalled,
            &actor,
            None,
            self.ports.clock.now(),
        );
        self.commit_change(tx, entry).await
    }

    /// Calls a plugin (enabled or not) on a sample and reports its answer, logs and duration.
    /// Nothing is stored but the audit entry, written after the call: no transaction is open
    /// while the plugin runs.
    pub async fn dry_run(
        &self,
        admin: Actor<'_>,
        id: PluginId,
        input: DryRunInput,
    ) -> Result<DryRunReport, AppError> {
        admin.require_admin()?;
        let (plugin, actor) = {
            let mut tx = self.ports.uow.begin_read().await?;
            let actor = Self::admin_name(tx.as_mut(), admin).await?;
            let plugin = Self::plugin(tx.as_mut(), id).await?;
            self.host.ensure_loaded(tx.as_mut(), &plugin).await?;
            (plugin, actor)
        };
        let runtime = self.host.runtime().clone();
        let call = PluginHost::call_of(&plugin);
        let decision_text = |d: PolicyDecision| match d {
            PolicyDecision::Allow => "allow".to_owned(),
            PolicyDecision::Deny(reason) => format!("deny: {reason}"),
        };
        let (decision, logs, duration) = match input {
            DryRunInput::Scan { path, content } => {
                let sample = std::sync::Arc::new(ContentInMemory(content));
                let facts = UploadFacts {
                    path,
                    size: sample.size(),
                    media_type: None,
                    content_hash: coffer_domain::files::ContentHash::of_blocks(
                        &sample
                            .0
                            .chunks(coffer_domain::files::BLOCK_SIZE)
                            .map(BlockHash::of)
                            .collect::<Vec<_>>(),
                    )
                    .to_hex(),
                    actor: ActorFacts {
                        user_id: admin.user_id().map(|id| id.to_string()).unwrap_or_default(),
                        email: actor.clone(),
                    },
                };
                let outcome = runtime.scan(&call, &facts, sample).await;
                let decision = outcome.result.map(|v| match v {
                    crate::ports::ScanVerdict::Clean => "clean".to_owned(),
                    crate::ports::ScanVerdict::Infected(name) => format!("infected: {name}"),
                });
                (decision, outcome.logs, outcome.duration)
            }
            DryRunInput::Sharing(question) => {
                let outcome = runtime.check_sharing(&call, &question).await;
                (
                    outcome.result.map(decision_text),
                    outcome.logs,
                    outcome.duration,
                )
            }
            DryRunInput::Quota { user, server_quota } => {
                let outcome = runtime.quota(&call, &user, server_quota).await;
                let decision = outcome.result.map(|q| match q {
                    Some(quota) => format!("quota: {quota}"),
                    None => "quota: unchanged".to_owned(),
                });
                (decision, outcome.logs, outcome.duration)
            }
            DryRunInput::CheckUpload(question) => {
                let outcome = runtime.check_upload(&call, &question).await;
                (
                    outcome.result.map(decision_text),
                    outcome.logs,
                    outcome.duration,
                )
            }
        };
        let mut entry = Self::entry(
            &plugin,
            AuditAction::DryRun,
            &actor,
            None,
            self.ports.clock.now(),
        );
        entry.reason = Some(match &decision {
            Ok(answer) => answer.clone(),
            Err(failure) => failure.to_string(),
        });
        entry.duration = Some(duration);
        let mut tx = self.ports.uow.begin().await?;
        tx.plugins().audit(&entry).await?;
        tx.commit().await?;
        Ok(DryRunReport {
            decision,
            logs,
            duration,
        })
    }

    /// Audit entries, newest first, of one plugin (by name) or all, older than `before`.
    pub async fn audit_log(
        &self,
        admin: Actor<'_>,
        plugin: Option<&str>,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, AppError> {
        admin.require_admin()?;
        let mut tx = self.ports.uow.begin_read().await?;
        Ok(tx
            .plugins()
            .audit_log(plugin, before, limit.clamp(1, MAX_AUDIT_PAGE))
            .await?)
    }
}

fn hook_list(hooks: &[Hook]) -> String {
    if hooks.is_empty() {
        return "none".into();
    }
    hooks
        .iter()
        .map(Hook::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
