//! The plugins in force, and the one place hooks are run: in the administrator's order, the
//! first denial wins; a failed call is decided by the plugin's failure policy, audited, and
//! counted if it was the plugin's fault (a plugin that keeps failing disables itself, and a
//! guard that denies on failure keeps refusing once disabled); events run in the background.
//!
//! Nothing here may run inside the caller's write transaction: every call, audit entry and
//! automatic disabling happens between transactions (see decision 8).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use coffer_domain::Timestamp;
use coffer_domain::account::{ByteCount, User};
use coffer_domain::plugins::{
    AuditAction, AuditEntry, FailurePolicy, Hook, MAX_CONSECUTIVE_FAILURES, Plugin, PluginId,
};

use crate::ports::{
    ActorFacts, CallFailure, CallOutcome, Clock, PluginCall, PluginEvent, PluginRuntime,
    PolicyDecision, QuotaQuestion, ScanVerdict, SharingQuestion, TaskSpawner, UnitOfWork,
    UploadContentReader, UploadFacts,
};
use crate::ports::{ComponentError, Transaction};
use crate::{AppError, InfrastructureError};

/// A component that cannot be installed or loaded, as the use cases report it.
pub(crate) fn component_error(err: ComponentError) -> AppError {
    match err {
        ComponentError::Invalid(reason) | ComponentError::Unsupported(reason) => {
            AppError::Invalid {
                field: "component",
                reason,
            }
        }
        ComponentError::Runtime(err) => AppError::Infrastructure(err),
    }
}

/// The plugin set this instance runs, as of a generation of the plugin table.
#[derive(Default)]
struct Snapshot {
    generation: Option<u64>,
    plugins: Vec<Plugin>,
    /// Quota answers of this plugin set, by user and server quota. A plugin sees nothing but
    /// its input and its configuration, so an answer holds until the set or a configuration
    /// changes, which makes a new snapshot. An answer that some policy failed to give (the
    /// server's quota stood in) is kept only for [`FAILED_QUOTA_TTL`], so that a failing
    /// policy is not asked again by every request, nor ever inside a transaction.
    quotas: Mutex<HashMap<QuotaKey, RememberedQuota>>,
}

/// Who a quota is for: user id, email, the server's quota.
type QuotaKey = (String, String, u64);

/// A quota answer, and until when it holds (for answers a failed call stood in for).
#[derive(Clone, Copy)]
struct RememberedQuota {
    quota: u64,
    until: Option<Timestamp>,
}

/// How long the quota stands in for an answer a quota policy failed to give.
const FAILED_QUOTA_TTL: chrono::Duration = chrono::Duration::seconds(30);

/// Most quota answers kept; past it the cache starts over.
const MAX_CACHED_QUOTAS: usize = 100_000;

/// Runs hooks of the installed plugins. Cheap to clone.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    uow: Arc<dyn UnitOfWork>,
    runtime: Arc<dyn PluginRuntime>,
    clock: Arc<dyn Clock>,
    spawner: Arc<dyn TaskSpawner>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Failed calls in a row that were the plugin's fault, per plugin, on this instance. Any
    /// change of the plugin (enabling it again, new limits, a new configuration) starts its
    /// count over when the plugin set is reloaded.
    failures: Mutex<HashMap<PluginId, u32>>,
}

/// What a hook call is about, for the audit log.
pub(crate) struct Subject<'a> {
    pub hook: Hook,
    pub actor: &'a str,
    pub subject: &'a str,
}

impl PluginHost {
    /// A host with no plugins loaded yet; [`Self::refresh`] loads them.
    pub fn new(
        uow: Arc<dyn UnitOfWork>,
        runtime: Arc<dyn PluginRuntime>,
        clock: Arc<dyn Clock>,
        spawner: Arc<dyn TaskSpawner>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                uow,
                runtime,
                clock,
                spawner,
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
                failures: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The runtime (for administration: inspection, dry runs).
    pub(crate) fn runtime(&self) -> &Arc<dyn PluginRuntime> {
        &self.inner.runtime
    }

    /// Reloads the plugin set if it changed since the last look (any instance may have changed
    /// it); components not loaded yet are loaded. Returns whether anything changed. Cheap when
    /// nothing did: one query.
    pub async fn refresh(&self) -> Result<bool, AppError> {
        let mut tx = self.inner.uow.begin_read().await?;
        let generation = tx.plugins().generation().await?;
        let current = self.inner.snapshot.read().expect("lock").generation;
        if current == Some(generation) {
            return Ok(false);
        }
        let plugins = tx.plugins().list().await?;
        for plugin in plugins.iter().filter(|p| p.enabled) {
            if let Err(err) = self.ensure_loaded(tx.as_mut(), plugin).await {
                tracing::error!(plugin = %plugin.name, error = %err, "the plugin's component does not load");
            }
        }
        drop(tx);
        // Components no installed plugin uses any more go, with their compiled copies.
        let installed: Vec<String> = plugins.iter().map(|p| p.digest.clone()).collect();
        self.inner.runtime.retain(&installed);
        tracing::info!(
            generation,
            enabled = plugins.iter().filter(|p| p.enabled).count(),
            "plugin set loaded"
        );
        {
            // A plugin that changed (enabled again, other limits or configuration) starts its
            // count of failures over.
            let previous = self.inner.snapshot.read().expect("lock").clone();
            let mut failures = self.inner.failures.lock().expect("lock");
            failures.retain(|id, _| {
                let before = previous.plugins.iter().find(|p| p.id == *id);
                let now = plugins.iter().find(|p| p.id == *id);
                matches!((before, now), (Some(before), Some(now)) if before == now)
            });
        }
        *self.inner.snapshot.write().expect("lock") = Arc::new(Snapshot {
            generation: Some(generation),
            plugins,
            quotas: Mutex::default(),
        });
        Ok(true)
    }

    /// Makes `plugin`'s component callable on this instance, reading it from the database only
    /// if the runtime does not have it yet.
    pub(crate) async fn ensure_loaded(
        &self,
        tx: &mut dyn Transaction,
        plugin: &Plugin,
    ) -> Result<(), AppError> {
        if self.inner.runtime.is_loaded(&plugin.digest) {
            return Ok(());
        }
        let wasm = tx
            .plugins()
            .component(&plugin.digest)
            .await?
            .ok_or_else(|| {
                AppError::Infrastructure(InfrastructureError::msg(format!(
                    "the component of plugin {} is missing",
                    plugin.name
                )))
            })?;
        self.inner
            .runtime
            .load(&plugin.digest, &wasm)
            .await
            .map_err(component_error)
    }

    /// The enabled plugins implementing `hook`, in running order.
    fn active(&self, hook: Hook) -> Vec<Plugin> {
        self.inner
            .snapshot
            .read()
            .expect("lock")
            .plugins
            .iter()
            .filter(|p| p.enabled && p.implements(hook))
            .cloned()
            .collect()
    }

    /// The plugins that decide on `hook`, in running order: the enabled ones, and the guards
    /// that were disabled automatically and keep refusing ([`Plugin::fails_closed`]).
    fn guards(&self, hook: Hook) -> Vec<Plugin> {
        self.inner
            .snapshot
            .read()
            .expect("lock")
            .plugins
            .iter()
            .filter(|p| (p.enabled && p.implements(hook)) || p.fails_closed(hook))
            .cloned()
            .collect()
    }

    /// The refusal of a guard that was disabled automatically and fails closed.
    fn refused_while_disabled(plugin: &Plugin) -> AppError {
        tracing::debug!(plugin = %plugin.name, "refused: the plugin was disabled after failures and fails closed");
        AppError::PluginFailed {
            plugin: plugin.name.to_string(),
        }
    }

    /// The call description of a plugin.
    pub(crate) fn call_of(plugin: &Plugin) -> PluginCall {
        PluginCall {
            tag: format!("{}@{}", plugin.name, plugin.version),
            digest: plugin.digest.clone(),
            config: plugin.config.clone(),
            limits: plugin.limits,
        }
    }

    /// Runs every active scanner on an upload; the first finding refuses it.
    pub(crate) async fn scan(
        &self,
        upload: &UploadFacts,
        content: Arc<dyn UploadContentReader>,
    ) -> Result<(), AppError> {
        for plugin in self.guards(Hook::UploadScanner) {
            if !plugin.enabled {
                return Err(Self::refused_while_disabled(&plugin));
            }
            let outcome = self
                .inner
                .runtime
                .scan(&Self::call_of(&plugin), upload, content.clone())
                .await;
            let subject = Subject {
                hook: Hook::UploadScanner,
                actor: &upload.actor.email,
                subject: &upload.path,
            };
            let decision = outcome.map(|verdict| match verdict {
                ScanVerdict::Clean => PolicyDecision::Allow,
                ScanVerdict::Infected(name) => PolicyDecision::Deny(format!("{name} found")),
            });
            self.settle(&plugin, &subject, decision).await?;
        }
        Ok(())
    }

    /// Asks every active sharing policy; the first denial refuses.
    pub(crate) async fn check_sharing(&self, question: &SharingQuestion) -> Result<(), AppError> {
        let (actor, subject) = match question {
            SharingQuestion::Share {
                actor,
                member_email,
                ..
            }
            | SharingQuestion::RoleChange {
                actor,
                member_email,
                ..
            } => (actor, member_email.as_str()),
            SharingQuestion::Link { actor, path, .. } => (actor, path.as_str()),
        };
        for plugin in self.guards(Hook::SharingPolicy) {
            if !plugin.enabled {
                return Err(Self::refused_while_disabled(&plugin));
            }
            let outcome = self
                .inner
                .runtime
                .check_sharing(&Self::call_of(&plugin), question)
                .await;
            let subject = Subject {
                hook: Hook::SharingPolicy,
                actor: &actor.email,
                subject,
            };
            self.settle(&plugin, &subject, outcome).await?;
        }
        Ok(())
    }

    /// The answer remembered for `key` in `snapshot`, if it still holds.
    fn remembered(&self, snapshot: &Snapshot, key: &QuotaKey) -> Option<u64> {
        let remembered = *snapshot.quotas.lock().expect("lock").get(key)?;
        match remembered.until {
            Some(until) if until <= self.inner.clock.now() => None,
            _ => Some(remembered.quota),
        }
    }

    /// The quota of `user`: the first quota policy with an answer sets it; a failed call keeps
    /// the server's. Answers are remembered for the plugin set in force (see [`Snapshot`]).
    /// Asks the plugins: call it outside write transactions.
    pub(crate) async fn quota(&self, user: &ActorFacts, server_quota: u64) -> u64 {
        let snapshot = self.inner.snapshot.read().expect("lock").clone();
        let key = (user.user_id.clone(), user.email.clone(), server_quota);
        if let Some(quota) = self.remembered(&snapshot, &key) {
            return quota;
        }
        let remember = |quota: u64, all_answered: bool| {
            let until = (!all_answered).then(|| self.inner.clock.now() + FAILED_QUOTA_TTL);
            let mut quotas = snapshot.quotas.lock().expect("lock");
            if quotas.len() >= MAX_CACHED_QUOTAS {
                quotas.clear();
            }
            quotas.insert(key.clone(), RememberedQuota { quota, until });
            quota
        };
        let mut all_answered = true;
        let policies = snapshot
            .plugins
            .iter()
            .filter(|p| p.enabled && p.implements(Hook::QuotaPolicy));
        for plugin in policies {
            let outcome = self
                .inner
                .runtime
                .quota(&Self::call_of(plugin), user, server_quota)
                .await;
            match outcome.result {
                Ok(Some(quota)) => {
                    self.succeeded(plugin);
                    return remember(quota, all_answered);
                }
                Ok(None) => self.succeeded(plugin),
                Err(failure) => {
                    all_answered = false;
                    let subject = Subject {
                        hook: Hook::QuotaPolicy,
                        actor: &user.email,
                        subject: "quota",
                    };
                    self.failed(plugin, &subject, &failure, outcome.duration)
                        .await;
                }
            }
        }
        remember(server_quota, all_answered)
    }

    /// The quota of `user` as last answered (see [`Self::quota`]), without asking any plugin:
    /// for use inside transactions. With no answer remembered, the server's quota stands, as it
    /// does for a failed answer. Writes ask before they begin
    /// ([`crate::files::Files`]' `ask_quotas_before_writing`), so they find the answer here.
    pub(crate) fn known_quota_for(&self, user: &User, default_quota: ByteCount) -> ByteCount {
        let server_quota = user.effective_quota(default_quota);
        if !self.sets_quotas() {
            return server_quota;
        }
        let snapshot = self.inner.snapshot.read().expect("lock").clone();
        let key = (
            user.id().to_string(),
            user.email().to_string(),
            server_quota.get(),
        );
        match self.remembered(&snapshot, &key) {
            Some(quota) => ByteCount::new(quota).unwrap_or(server_quota),
            None => {
                tracing::debug!(user = %user.id(), "no quota answer remembered; the server's stands");
                server_quota
            }
        }
    }

    /// The quota of `user`: the server's (their own, else `default_quota`), unless a quota
    /// policy sets another.
    pub(crate) async fn quota_for(&self, user: &User, default_quota: ByteCount) -> ByteCount {
        let server_quota = user.effective_quota(default_quota);
        if !self.sets_quotas() {
            return server_quota;
        }
        let facts = ActorFacts {
            user_id: user.id().to_string(),
            email: user.email().to_string(),
        };
        let quota = self.quota(&facts, server_quota.get()).await;
        ByteCount::new(quota).unwrap_or(server_quota)
    }

    /// Whether any enabled plugin sets quotas.
    pub(crate) fn sets_quotas(&self) -> bool {
        !self.active(Hook::QuotaPolicy).is_empty()
    }

    /// Asks every active quota policy about an upload; the first denial refuses.
    pub(crate) async fn check_upload(&self, question: &QuotaQuestion) -> Result<(), AppError> {
        for plugin in self.guards(Hook::QuotaPolicy) {
            if !plugin.enabled {
                return Err(Self::refused_while_disabled(&plugin));
            }
            let outcome = self
                .inner
                .runtime
                .check_upload(&Self::call_of(&plugin), question)
                .await;
            let subject = Subject {
                hook: Hook::QuotaPolicy,
                actor: &question.actor.email,
                subject: &question.path,
            };
            self.settle(&plugin, &subject, outcome).await?;
        }
        Ok(())
    }

    /// Whether any plugin scans uploads or decides on them (quota policies), or refuses them
    /// while disabled.
    pub(crate) fn guards_uploads(&self) -> bool {
        !self.guards(Hook::UploadScanner).is_empty() || !self.guards(Hook::QuotaPolicy).is_empty()
    }

    /// Whether any enabled plugin listens to events.
    pub(crate) fn listens(&self) -> bool {
        !self.active(Hook::Events).is_empty()
    }

    /// Tells every active event plugin, in the background; never fails or delays the caller.
    pub(crate) fn publish(&self, event: PluginEvent) {
        let plugins = self.active(Hook::Events);
        if plugins.is_empty() {
            return;
        }
        let host = self.clone();
        self.inner.spawner.spawn(Box::pin(async move {
            for plugin in plugins {
                let outcome = host
                    .inner
                    .runtime
                    .on_event(&Self::call_of(&plugin), &event)
                    .await;
                match outcome.result {
                    Ok(()) => host.succeeded(&plugin),
                    Err(failure) => {
                        let subject = Subject {
                            hook: Hook::Events,
                            actor: &event.actor.email,
                            subject: event.kind,
                        };
                        host.failed(&plugin, &subject, &failure, outcome.duration)
                            .await;
                    }
                }
            }
        }));
    }

    /// Applies one plugin's answer: a denial refuses (audited); a failure is decided by the
    /// failure policy (audited, counted).
    async fn settle(
        &self,
        plugin: &Plugin,
        subject: &Subject<'_>,
        outcome: CallOutcome<PolicyDecision>,
    ) -> Result<(), AppError> {
        match outcome.result {
            Ok(PolicyDecision::Allow) => {
                self.succeeded(plugin);
                Ok(())
            }
            Ok(PolicyDecision::Deny(reason)) => {
                self.succeeded(plugin);
                self.audit(
                    plugin,
                    subject,
                    AuditAction::Denied,
                    Some(reason.clone()),
                    Some(outcome.duration),
                )
                .await;
                Err(AppError::RefusedByPlugin {
                    plugin: plugin.name.to_string(),
                    reason,
                })
            }
            Err(failure) => {
                self.failed(plugin, subject, &failure, outcome.duration)
                    .await;
                match plugin.failure_policy {
                    FailurePolicy::Allow => Ok(()),
                    FailurePolicy::Deny => Err(AppError::PluginFailed {
                        plugin: plugin.name.to_string(),
                    }),
                }
            }
        }
    }

    fn succeeded(&self, plugin: &Plugin) {
        self.inner.failures.lock().expect("lock").remove(&plugin.id);
    }

    /// Audits a failed call and, if it was the plugin's fault, counts it; the call that makes
    /// too many in a row disables the plugin (for every instance). A busy host or a host-side
    /// error is audited but never counted: no caller can switch a plugin off by making the
    /// host fail it.
    async fn failed(
        &self,
        plugin: &Plugin,
        subject: &Subject<'_>,
        failure: &CallFailure,
        duration: std::time::Duration,
    ) {
        let reason = failure.to_string();
        self.audit(
            plugin,
            subject,
            AuditAction::Failed,
            Some(reason.clone()),
            Some(duration),
        )
        .await;
        if !failure.is_plugins_fault() {
            return;
        }
        let in_a_row = {
            let mut failures = self.inner.failures.lock().expect("lock");
            let count = failures.entry(plugin.id).or_default();
            *count += 1;
            *count
        };
        if in_a_row >= MAX_CONSECUTIVE_FAILURES
            && let Err(err) = self.disable(plugin, subject, &reason, in_a_row).await
        {
            tracing::error!(plugin = %plugin.name, error = %err, "could not disable a failing plugin");
        }
    }

    async fn disable(
        &self,
        plugin: &Plugin,
        subject: &Subject<'_>,
        reason: &str,
        in_a_row: u32,
    ) -> Result<(), AppError> {
        let now = self.inner.clock.now();
        let mut tx = self.inner.uow.begin().await?;
        let Some(mut fresh) = tx.plugins().get(plugin.id).await? else {
            return Ok(());
        };

        fresh.consecutive_failures = in_a_row.saturating_sub(1);
        if !fresh.record_failure(reason, now) {
            return Ok(());
        }
        tx.plugins().update(&fresh).await?;
        tx.plugins()
            .audit(&AuditEntry {
                id: None,
                at: now,
                action: AuditAction::AutoDisabled,
                plugin: fresh.name.to_string(),
                version: Some(fresh.version.to_string()),
                hook: Some(subject.hook),
                actor: None,
                subject: None,
                reason: fresh.disabled_reason.clone(),
                duration: None,
            })
            .await?;
        tx.plugins().bump_generation().await?;
        tx.commit().await?;
        tracing::warn!(plugin = %fresh.name, in_a_row, "plugin disabled after repeated failures");
        self.inner.failures.lock().expect("lock").remove(&plugin.id);
        self.refresh().await?;
        Ok(())
    }

    async fn audit(
        &self,
        plugin: &Plugin,
        subject: &Subject<'_>,
        action: AuditAction,
        reason: Option<String>,
        duration: Option<std::time::Duration>,
    ) {
        let entry = AuditEntry {
            id: None,
            at: self.inner.clock.now(),
            action,
            plugin: plugin.name.to_string(),
            version: Some(plugin.version.to_string()),
            hook: Some(subject.hook),
            actor: Some(subject.actor.to_owned()),
            subject: Some(subject.subject.to_owned()),
            reason,
            duration,
        };
        let written = async {
            let mut tx = self.inner.uow.begin().await?;
            tx.plugins().audit(&entry).await?;
            tx.commit().await?;
            Ok::<_, AppError>(())
        };
        if let Err(err) = written.await {
            tracing::error!(plugin = %plugin.name, error = %err, "could not write the plugin audit log");
        }
    }
}
