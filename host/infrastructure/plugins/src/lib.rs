//! The plugin runtime: WebAssembly components run by wasmtime under hard limits, implementing
//! the application's [`PluginRuntime`] port.
//!
//! Each component is compiled once (and cached on disk by digest) and linked once
//! ([`InstancePre`]); every call gets a fresh [`Store`] and instance from a pooling allocator, a
//! memory cap, a time budget, and a WASI context that grants nothing: no files, no environment,
//! no network. What a plugin logs or prints goes to the server log, tagged with the plugin,
//! escaped and within its output limit.
//!
//! Guest code never runs on the caller's (request) threads: every call runs as a task of a
//! runtime of its own with a few threads, and yields at every epoch tick, so guests share those
//! threads and deadlines hold. A call first waits, within its deadline, for a slot of its
//! plugin and one of the pool (semaphores in front of instantiation); a full pool makes the
//! call wait, and a call that gets no slot in time fails as `Busy`, never as the plugin's fault.
//! The time budget counts the time the guest runs (not the time it waits for a thread); a call
//! that reaches the deadline without having used its budget also fails as `Busy`.

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
use tokio::sync::Semaphore;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use crate::state::CallState;

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Where compiled components are cached (none: compile at every start).
    pub cache_dir: Option<PathBuf>,
    /// Most plugin calls running at once (instance slots in the pool).
    pub max_concurrent_calls: u32,
    /// Most calls of one plugin running at once, so that one slow plugin cannot take every
    /// slot from the others.
    pub max_concurrent_calls_per_plugin: u32,
    /// Threads that run guest code (a runtime of their own, apart from the request threads).
    pub guest_threads: usize,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_concurrent_calls: 64,
            max_concurrent_calls_per_plugin: 16,
            guest_threads: 2,
        }
    }
}

/// Interval of the epoch ticker: the granularity of call deadlines and of guests' turns.
const TICK: Duration = Duration::from_millis(10);
/// Extra time a call's deadline grants past its time budget (to notice the budget is spent).
const GRACE: Duration = Duration::from_millis(250);
/// Time budget of the instance that checks a component's exports at install.
const CHECK_TIME: Duration = Duration::from_secs(5);

/// A loaded component: linked, with its hooks looked up, and its calls' slots.
struct Loaded {
    pre: InstancePre<CallState>,
    hooks: v0_1_0::Hooks,
    slots: Arc<Semaphore>,
}

/// What a call asks.
enum Request {
    Scan(UploadFacts, Arc<dyn UploadContentReader>),
    Sharing(SharingQuestion),
    Quota(ActorFacts, u64),
    CheckUpload(QuotaQuestion),
    Event(PluginEvent),
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
    /// Names a compiled file by this engine's compatibility, so another build never reads it.
    cache_suffix: String,
    /// Digests of the components this runtime compiled or read from the cache: the compiled
    /// files it deletes when their components go (a cache directory may be shared).
    cached: std::sync::Mutex<std::collections::HashSet<String>>,
    ticking: Arc<AtomicBool>,
    /// The threads guest code runs on.
    guests: Option<tokio::runtime::Runtime>,
    /// Slots of the pool.
    slots: Arc<Semaphore>,
    per_plugin: usize,
}

impl Drop for WasmRuntime {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
        if let Some(guests) = self.guests.take() {
            // Dropped anywhere, even on an async thread: running calls are abandoned.
            guests.shutdown_background();
        }
    }
}

fn runtime_error(err: impl std::fmt::Display) -> InfrastructureError {
    InfrastructureError::msg(format!("plugin runtime: {err}"))
}

/// Aborts a guest task whose caller went away (its request was dropped).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl WasmRuntime {
    /// An engine with the component model, epoch interruption and a pooling allocator, a ticker
    /// thread that advances the epoch, and the threads that run guests.
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

        let guests = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(settings.guest_threads.max(1))
            .thread_name("plugin-guest")
            .enable_time()
            .build()
            .map_err(runtime_error)?;
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
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            engine,
            linker,
            loaded: RwLock::new(HashMap::new()),
            cache_dir: settings.cache_dir.clone(),
            cache_suffix: format!("{:016x}.cwasm", hasher.finish()),
            cached: Default::default(),
            ticking,
            guests: Some(guests),
            slots: Arc::new(Semaphore::new(slots as usize)),
            per_plugin: settings.max_concurrent_calls_per_plugin.clamp(1, slots) as usize,
        })
    }

    fn guests(&self) -> &tokio::runtime::Handle {
        self.guests
            .as_ref()
            .expect("the guest runtime runs")
            .handle()
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
                self.cached.lock().expect("lock").insert(digest.to_owned());
                Some(dir.join(format!("{digest}-{}", self.cache_suffix)))
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

    /// Instantiates a component once, on the guest threads and in a slot of the pool, and
    /// checks the signatures of the hooks it exports against the WIT.
    async fn check_exports(
        &self,
        pre: InstancePre<CallState>,
        hooks: Vec<Hook>,
    ) -> Result<(), ComponentError> {
        let (engine, slots) = (self.engine.clone(), self.slots.clone());
        let task = async move {
            let _slot = tokio::time::timeout(CHECK_TIME, slots.acquire_owned())
                .await
                .map_err(|_| "the server is too busy to check the component".to_owned())?
                .map_err(|err| err.to_string())?;
            let limits = PluginLimits::default();
            let mut store = new_store(&engine, "install", String::new(), limits, CHECK_TIME);
            let checked = tokio::time::timeout(CHECK_TIME + GRACE, async {
                let instance = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(|err| format!("it does not instantiate: {err:#}"))?;
                v0_1_0::Hooks::check(&pre, &mut store, &instance, &hooks)
            })
            .await
            .unwrap_or_else(|_| Err("it does not instantiate in time".to_owned()));
            drop(store);
            checked
        };
        let handle = self.guests().spawn(task);
        let _abort = AbortOnDrop(handle.abort_handle());
        handle
            .await
            .map_err(runtime_error)?
            .map_err(ComponentError::Unsupported)
    }

    /// Runs one call on a fresh instance on the guest threads, under the call's limits.
    async fn run(&self, call: &PluginCall, request: Request) -> CallOutcome<Answer> {
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
        let budget = match &request {
            Request::Scan(upload, _) => call.limits.scan_time(upload.size),
            _ => call.limits.time(),
        };
        let deadline = tokio::time::Instant::from_std(started) + budget + GRACE;
        let tag = call.tag.clone();
        let (engine, slots, call) = (self.engine.clone(), self.slots.clone(), call.clone());
        let task = async move {
            // A slot of the plugin, then one of the pool, within the deadline.
            let permits = tokio::time::timeout_at(deadline, async {
                let own = loaded.slots.clone().acquire_owned().await;
                let any = slots.acquire_owned().await;
                (own, any)
            })
            .await;
            let Ok((Ok(_own), Ok(_any))) = permits else {
                return (Err(CallFailure::Busy), Vec::new());
            };
            execute(&engine, &loaded, &call, request, budget, deadline).await
        };
        let handle = self.guests().spawn(task);
        let _abort = AbortOnDrop(handle.abort_handle());
        let (result, logs) = handle.await.unwrap_or_else(|err| {
            (
                Err(CallFailure::HostFailed(format!(
                    "the call's task failed: {err}"
                ))),
                Vec::new(),
            )
        });
        if let Err(failure) = &result {
            tracing::warn!(plugin = %tag, %failure, "plugin call failed");
        }
        CallOutcome {
            result,
            logs,
            duration: started.elapsed(),
        }
    }
}

/// A store for one call: the plugin's memory cap, and a time budget counted in guest time that
/// yields the thread at every epoch tick (so that guests share the guest threads) and traps
/// once the budget is spent.
fn new_store(
    engine: &Engine,
    tag: &str,
    config: String,
    limits: PluginLimits,
    budget: Duration,
) -> Store<CallState> {
    let mut store = Store::new(
        engine,
        CallState::new(
            tag.to_owned(),
            config,
            limits.memory_bytes(),
            limits.output_bytes(),
        ),
    );
    store.limiter(|state| state as &mut dyn wasmtime::ResourceLimiter);
    let clock = store.data().clock.clone();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if clock.pause() >= budget {
            return Ok(UpdateDeadline::Interrupt);
        }
        let clock = clock.clone();
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                tokio::task::yield_now().await;
                clock.resume();
            }),
        ))
    });
    store
}

/// Runs a call in a slot: instantiates, calls, and tells what happened.
async fn execute(
    engine: &Engine,
    loaded: &Loaded,
    call: &PluginCall,
    request: Request,
    budget: Duration,
    deadline: tokio::time::Instant,
) -> (
    Result<Answer, CallFailure>,
    Vec<coffer_application::ports::PluginLog>,
) {
    let limits = call.limits;
    let mut store = new_store(engine, &call.tag, call.config.clone(), limits, budget);
    store.data().clock.resume();
    let work = async {
        let instance = loaded.pre.instantiate_async(&mut store).await?;
        let hooks = &loaded.hooks;
        Ok::<_, wasmtime::Error>(match &request {
            Request::Scan(upload, content) => {
                v0_1_0::scan(&mut store, &instance, hooks, upload, content.clone())
                    .await?
                    .map(Answer::Scan)
            }
            Request::Sharing(question) => {
                v0_1_0::check_sharing(&mut store, &instance, hooks, question)
                    .await?
                    .map(Answer::Decision)
            }
            Request::Quota(user, server_quota) => {
                v0_1_0::quota(&mut store, &instance, hooks, user, *server_quota)
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
    let finished = tokio::time::timeout_at(deadline, work).await;
    let state = store.data_mut();
    state.drain_output();
    let result = match finished {
        // The deadline came before the budget was spent: the guest waited for the host.
        Err(_elapsed) if state.clock.used() + TICK < budget => Err(CallFailure::Busy),
        Err(_elapsed) => Err(CallFailure::Timeout),
        Ok(Ok(None)) => Err(CallFailure::Unavailable(
            "it does not implement this hook".into(),
        )),
        Ok(Ok(Some(answer))) if answer.output_len() > limits.output_bytes() as usize => {
            Err(CallFailure::OutputTooLarge)
        }
        Ok(Ok(Some(answer))) => Ok(answer),
        Ok(Err(_)) if state.host_failure.is_some() => Err(CallFailure::HostFailed(
            state.host_failure.clone().unwrap_or_default(),
        )),
        Ok(Err(err)) => Err(classify(&err, state.memory_exceeded)),
    };
    let logs = std::mem::take(&mut state.logs);
    drop(store);
    (result, logs)
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
        let pre = self.link(&component)?;
        self.check_exports(pre, info.hooks.clone()).await?;
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
        let slots = Arc::new(Semaphore::new(self.per_plugin));
        self.loaded
            .write()
            .expect("lock")
            .insert(digest.to_owned(), Arc::new(Loaded { pre, hooks, slots }));
        Ok(())
    }

    fn is_loaded(&self, digest: &str) -> bool {
        self.loaded.read().expect("lock").contains_key(digest)
    }

    fn retain(&self, digests: &[String]) {
        let kept = |digest: &str| digests.iter().any(|d| d == digest);
        // Calls running keep their component until they end.
        self.loaded
            .write()
            .expect("lock")
            .retain(|digest, _| kept(digest));
        let gone: Vec<String> = {
            let mut cached = self.cached.lock().expect("lock");
            let gone = cached.iter().filter(|d| !kept(d)).cloned().collect();
            cached.retain(|d| kept(d));
            gone
        };
        let Some(dir) = &self.cache_dir else {
            return;
        };
        for digest in gone {
            let path = dir.join(format!("{digest}-{}", self.cache_suffix));
            match std::fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!(path = %path.display(), error = %err, "could not delete a compiled plugin");
                }
                _ => {}
            }
        }
    }

    async fn scan(
        &self,
        call: &PluginCall,
        upload: &UploadFacts,
        content: Arc<dyn UploadContentReader>,
    ) -> CallOutcome<ScanVerdict> {
        let outcome = self.run(call, Request::Scan(upload.clone(), content)).await;
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
        let outcome = self.run(call, Request::Sharing(question.clone())).await;
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
        let outcome = self
            .run(call, Request::Quota(user.clone(), server_quota))
            .await;
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
        let outcome = self.run(call, Request::CheckUpload(question.clone())).await;
        answer(outcome, |a| match a {
            Answer::Decision(decision) => Some(decision),
            _ => None,
        })
    }

    async fn on_event(&self, call: &PluginCall, event: &PluginEvent) -> CallOutcome<()> {
        let outcome = self.run(call, Request::Event(event.clone())).await;
        answer(outcome, |a| match a {
            Answer::Unit => Some(()),
            _ => None,
        })
    }
}
