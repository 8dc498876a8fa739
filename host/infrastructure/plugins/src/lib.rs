//! The plugin runtime: WebAssembly components run by wasmtime under hard limits, implementing
//! the application's [`PluginRuntime`] port.
//!
//! Each component is compiled once (and cached on disk by digest) and linked once
//! ([`InstancePre`]); every call gets a fresh [`Store`] and instance from a pooling allocator, a
//! memory cap, an epoch deadline (plus an outer timeout for time spent in host calls), and a WASI
//! context that grants nothing: no files, no environment, no network. What a plugin logs or
//! prints goes to the server log, tagged with the plugin, within its output limit.

mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod v0_1_0;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use coffer_application::InfrastructureError;
use coffer_application::ports::{
    ActorFacts, CallFailure, CallOutcome, ComponentError, ComponentInfo, PluginCall, PluginEvent,
    PluginRuntime, PolicyDecision, QuotaQuestion, ScanVerdict, SharingQuestion,
    UploadContentReader, UploadFacts,
};
use coffer_domain::plugins::{Hook, PluginLimits};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use crate::state::CallState;

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Where compiled components are cached (none: compile at every start).
    pub cache_dir: Option<PathBuf>,
    /// Most plugin calls running at once (instance slots in the pool).
    pub max_concurrent_calls: u32,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_concurrent_calls: 64,
        }
    }
}

/// Interval of the epoch ticker: the granularity of call deadlines.
const TICK: Duration = Duration::from_millis(10);
/// Extra time the outer timeout grants past the deadline (for the epoch to be noticed).
const GRACE: Duration = Duration::from_millis(250);

/// A loaded component: linked, with its hooks looked up.
struct Loaded {
    pre: InstancePre<CallState>,
    hooks: v0_1_0::Hooks,
}

/// What a call asks.
enum Request<'a> {
    Scan(&'a UploadFacts, Arc<dyn UploadContentReader>),
    Sharing(&'a SharingQuestion),
    Quota(&'a ActorFacts, u64),
    CheckUpload(&'a QuotaQuestion),
    Event(&'a PluginEvent),
}

/// What a call answered.
enum Answer {
    Scan(ScanVerdict),
    Decision(PolicyDecision),
    Quota(Option<u64>),
    Unit,
}

impl Answer {
    /// Bytes of text the plugin handed back.
    fn output_len(&self) -> usize {
        match self {
            Answer::Scan(ScanVerdict::Infected(text))
            | Answer::Decision(PolicyDecision::Deny(text)) => text.len(),
            _ => 0,
        }
    }
}

/// Runs plugins with wasmtime.
pub struct WasmRuntime {
    engine: Engine,
    linker: Linker<CallState>,
    loaded: RwLock<HashMap<String, Arc<Loaded>>>,
    cache_dir: Option<PathBuf>,
    ticking: Arc<AtomicBool>,
}

impl Drop for WasmRuntime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

fn runtime_error(err: impl std::fmt::Display) -> InfrastructureError {
    InfrastructureError::msg(format!("plugin runtime: {err}"))
}

impl WasmRuntime {
    /// An engine with the component model, epoch interruption and a pooling allocator, and a
    /// ticker thread that advances the epoch.
    pub fn new(settings: &RuntimeSettings) -> Result<Self, InfrastructureError> {
        let slots = settings.max_concurrent_calls.max(1);
        let max_memory = PluginLimits::MAX_MEMORY as usize;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 16)
            .total_memories(slots * 2)
            .total_tables(slots * 16)
            .total_stacks(slots)
            .max_memory_size(max_memory);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .memory_reservation(max_memory as u64)
            .memory_guard_size(2 << 20)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(runtime_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(runtime_error)?;
        v0_1_0::add_to_linker(&mut linker).map_err(runtime_error)?;

        let ticking = Arc::new(AtomicBool::new(true));
        let (ticker_engine, running) = (engine.clone(), ticking.clone());
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while running.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker_engine.increment_epoch();
                }
            })
            .map_err(runtime_error)?;
        if let Some(dir) = &settings.cache_dir {
            std::fs::create_dir_all(dir).map_err(runtime_error)?;
        }
        Ok(Self {
            engine,
            linker,
            loaded: RwLock::new(HashMap::new()),
            cache_dir: settings.cache_dir.clone(),
            ticking,
        })
    }

    /// The component of `wasm`, compiled (off the async threads), from the disk cache when it
    /// has it.
    async fn compile(
        &self,
        digest: Option<&str>,
        wasm: &[u8],
    ) -> Result<Component, ComponentError> {
        let cached = match (&self.cache_dir, digest) {
            (Some(dir), Some(digest)) => {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                self.engine
                    .precompile_compatibility_hash()
                    .hash(&mut hasher);
                Some(dir.join(format!("{digest}-{:016x}.cwasm", hasher.finish())))
            }
            _ => None,
        };
        if let Some(path) = cached.as_ref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `Component::serialize` of an engine with the same
            // compatibility hash (it is in the name), in a directory only this server writes.
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, path) } {
                return Ok(component);
            }
        }
        let engine = self.engine.clone();
        let bytes = wasm.to_vec();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
            .await
            .map_err(runtime_error)?
            .map_err(|err| ComponentError::Invalid(format!("{err:#}")))?;
        if let Some(path) = cached {
            match component.serialize() {
                Ok(compiled) => {
                    // One writer's temporary file per process: concurrent writers never share it.
                    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
                    if std::fs::write(&temporary, compiled)
                        .and_then(|()| std::fs::rename(&temporary, &path))
                        .is_err()
                    {
                        tracing::warn!(path = %path.display(), "could not cache a compiled plugin");
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not serialise a compiled plugin"),
            }
        }
        Ok(component)
    }

    /// The interface version and hooks a component exports.
    fn interface_of(&self, component: &Component) -> Result<ComponentInfo, ComponentError> {
        let mut hooks = Vec::new();
        let mut other_versions = Vec::new();
        for (name, _) in component.component_type().exports(&self.engine) {
            let Some(rest) = name.strip_prefix("coffer:plugin/") else {
                continue;
            };
            let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
            if version != v0_1_0::VERSION {
                other_versions.push(format!("coffer:plugin@{version}"));
                continue;
            }
            if let Ok(hook) = Hook::parse(interface) {
                hooks.push(hook);
            }
        }
        if hooks.is_empty() {
            return Err(ComponentError::Unsupported(if other_versions.is_empty() {
                "the component exports no hook of coffer:plugin@0.1.0".into()
            } else {
                format!(
                    "the component was built against {}; this server supports coffer:plugin@{}",
                    other_versions.join(", "),
                    v0_1_0::VERSION
                )
            }));
        }
        hooks.sort();
        Ok(ComponentInfo {
            interface_version: v0_1_0::VERSION.into(),
            hooks,
        })
    }

    fn link(&self, component: &Component) -> Result<InstancePre<CallState>, ComponentError> {
        self.linker.instantiate_pre(component).map_err(|err| {
            ComponentError::Unsupported(format!(
                "the component imports something this server does not provide: {err:#}"
            ))
        })
    }

    /// Runs one call on a fresh instance, under the call's limits.
    async fn run(&self, call: &PluginCall, request: Request<'_>) -> CallOutcome<Answer> {
        let started = Instant::now();
        let loaded = self.loaded.read().expect("lock").get(&call.digest).cloned();
        let Some(loaded) = loaded else {
            return CallOutcome {
                result: Err(CallFailure::Unavailable(
                    "its component is not loaded".into(),
                )),
                logs: Vec::new(),
                duration: started.elapsed(),
            };
        };
        let limits = call.limits;
        let mut store = Store::new(
            &self.engine,
            CallState::new(
                call.tag.clone(),
                call.config.clone(),
                limits.memory_bytes(),
                limits.output_bytes(),
            ),
        );
        store.limiter(|state| state as &mut dyn wasmtime::ResourceLimiter);
        store.set_epoch_deadline(limits.time().as_millis().div_ceil(TICK.as_millis()) as u64 + 1);
        store.epoch_deadline_trap();

        let work = async {
            let instance = loaded.pre.instantiate_async(&mut store).await?;
            let hooks = &loaded.hooks;
            Ok::<_, wasmtime::Error>(match request {
                Request::Scan(upload, content) => {
                    v0_1_0::scan(&mut store, &instance, hooks, upload, content)
                        .await?
                        .map(Answer::Scan)
                }
                Request::Sharing(question) => {
                    v0_1_0::check_sharing(&mut store, &instance, hooks, question)
                        .await?
                        .map(Answer::Decision)
                }
                Request::Quota(user, server_quota) => {
                    v0_1_0::quota(&mut store, &instance, hooks, user, server_quota)
                        .await?
                        .map(Answer::Quota)
                }
                Request::CheckUpload(question) => {
                    v0_1_0::check_upload(&mut store, &instance, hooks, question)
                        .await?
                        .map(Answer::Decision)
                }
                Request::Event(event) => v0_1_0::on_event(&mut store, &instance, hooks, event)
                    .await?
                    .map(|()| Answer::Unit),
            })
        };
        let finished = tokio::time::timeout(limits.time() + GRACE, work).await;
        let state = store.data_mut();
        state.drain_output();
        let result = match finished {
            Err(_elapsed) => Err(CallFailure::Timeout),
            Ok(Ok(None)) => Err(CallFailure::Unavailable(
                "it does not implement this hook".into(),
            )),
            Ok(Ok(Some(answer))) if answer.output_len() > limits.output_bytes() as usize => {
                Err(CallFailure::OutputTooLarge)
            }
            Ok(Ok(Some(answer))) => Ok(answer),
            Ok(Err(err)) => Err(classify(&err, state.memory_exceeded)),
        };
        if let Err(failure) = &result {
            tracing::warn!(plugin = %call.tag, %failure, "plugin call failed");
        }
        CallOutcome {
            result,
            logs: std::mem::take(&mut state.logs),
            duration: started.elapsed(),
        }
    }
}

/// What went wrong in a call that returned an error.
fn classify(err: &wasmtime::Error, memory_exceeded: bool) -> CallFailure {
    if memory_exceeded {
        return CallFailure::MemoryExceeded;
    }
    if let Some(wasmtime::Trap::Interrupt) = err.downcast_ref::<wasmtime::Trap>() {
        return CallFailure::Timeout;
    }
    let mut message = format!("{:#}", err.root_cause());
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        message = trap.to_string();
    }
    message.truncate(500);
    CallFailure::Trap(message)
}

fn answer<T>(
    outcome: CallOutcome<Answer>,
    pick: impl FnOnce(Answer) -> Option<T>,
) -> CallOutcome<T> {
    let outcome = outcome.map(pick);
    CallOutcome {
        result: outcome.result.and_then(|answer| {
            answer.ok_or_else(|| CallFailure::Unavailable("wrong answer kind".into()))
        }),
        logs: outcome.logs,
        duration: outcome.duration,
    }
}

#[async_trait]
impl PluginRuntime for WasmRuntime {
    async fn inspect(&self, wasm: &[u8]) -> Result<ComponentInfo, ComponentError> {
        // Cached under the digest the component is stored by, so that loading it after an
        // install does not compile it again.
        let digest = hex::encode(Sha256::digest(wasm));
        let component = self.compile(Some(&digest), wasm).await?;
        let info = self.interface_of(&component)?;
        self.link(&component)?;
        Ok(info)
    }

    async fn load(&self, digest: &str, wasm: &[u8]) -> Result<(), ComponentError> {
        if self.is_loaded(digest) {
            return Ok(());
        }
        let component = self.compile(Some(digest), wasm).await?;
        self.interface_of(&component)?;
        let pre = self.link(&component)?;
        let hooks = v0_1_0::Hooks::find(&pre);
        self.loaded
            .write()
            .expect("lock")
            .insert(digest.to_owned(), Arc::new(Loaded { pre, hooks }));
        Ok(())
    }

    fn is_loaded(&self, digest: &str) -> bool {
        self.loaded.read().expect("lock").contains_key(digest)
    }

    async fn scan(
        &self,
        call: &PluginCall,
        upload: &UploadFacts,
        content: Arc<dyn UploadContentReader>,
    ) -> CallOutcome<ScanVerdict> {
        let outcome = self.run(call, Request::Scan(upload, content)).await;
        answer(outcome, |a| match a {
            Answer::Scan(verdict) => Some(verdict),
            _ => None,
        })
    }

    async fn check_sharing(
        &self,
        call: &PluginCall,
        question: &SharingQuestion,
    ) -> CallOutcome<PolicyDecision> {
        let outcome = self.run(call, Request::Sharing(question)).await;
        answer(outcome, |a| match a {
            Answer::Decision(decision) => Some(decision),
            _ => None,
        })
    }

    async fn quota(
        &self,
        call: &PluginCall,
        user: &ActorFacts,
        server_quota: u64,
    ) -> CallOutcome<Option<u64>> {
        let outcome = self.run(call, Request::Quota(user, server_quota)).await;
        answer(outcome, |a| match a {
            Answer::Quota(quota) => Some(quota),
            _ => None,
        })
    }

    async fn check_upload(
        &self,
        call: &PluginCall,
        question: &QuotaQuestion,
    ) -> CallOutcome<PolicyDecision> {
        let outcome = self.run(call, Request::CheckUpload(question)).await;
        answer(outcome, |a| match a {
            Answer::Decision(decision) => Some(decision),
            _ => None,
        })
    }

    async fn on_event(&self, call: &PluginCall, event: &PluginEvent) -> CallOutcome<()> {
        let outcome = self.run(call, Request::Event(event)).await;
        answer(outcome, |a| match a {
            Answer::Unit => Some(()),
            _ => None,
        })
    }
}
