//! What one call's store holds: the sandbox's WASI context (nothing granted), the resource
//! table, the memory limiter, and what the plugin may read (its configuration, an upload) or
//! write (logs, bounded).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coffer_application::ports::{PluginLog, UploadContentReader};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Most log lines kept per call (beyond them, lines are counted, not kept).
const MAX_LOG_LINES: usize = 200;

/// The host side of an `upload-content` resource; the bytes come from [`CallState::content`].
pub struct UploadContentHandle;

/// A plugin-supplied string made safe for a log line: control characters (newlines, carriage
/// returns, escapes, ...) and Unicode line separators are written as escapes, so that a plugin
/// can never start a line of its own in the server log or forge its format.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if unsafe_char(c) => escaped.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncated(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The time a call's guest has run: wall time while it runs or waits in a host call, not
/// while it waits for a thread after yielding. A busy host does not use up a plugin's time.
pub struct GuestClock {
    base: Instant,
    /// Nanoseconds after `base` when the guest last resumed.
    since: AtomicU64,
    /// Nanoseconds run before that.
    used: AtomicU64,
    /// Whether the guest is yielded (not running) now.
    yielded: AtomicBool,
}

impl GuestClock {
    /// A clock that starts now.
    pub fn start() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            since: AtomicU64::new(0),
            used: AtomicU64::new(0),
            yielded: AtomicBool::new(false),
        })
    }
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
    /// The guest runs again.
    pub fn resume(&self) {
        self.since.store(self.now(), Ordering::Relaxed);
        self.yielded.store(false, Ordering::Relaxed);
    }
    /// The guest yields its thread; returns the time it has run.
    pub fn pause(&self) -> Duration {
        let ran = self
            .now()
            .saturating_sub(self.since.load(Ordering::Relaxed));
        let used = self.used.fetch_add(ran, Ordering::Relaxed) + ran;
        self.yielded.store(true, Ordering::Relaxed);
        Duration::from_nanos(used)
    }
    /// The time the guest has run so far.
    pub fn used(&self) -> Duration {
        let mut used = self.used.load(Ordering::Relaxed);
        if !self.yielded.load(Ordering::Relaxed) {
            used += self
                .now()
                .saturating_sub(self.since.load(Ordering::Relaxed));
        }
        Duration::from_nanos(used)
    }
}

/// A store's data for one call.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory_limit: usize,
    /// Set when the plugin asked for more memory than its limit.
    pub memory_exceeded: bool,
    /// `name@version`.
    pub tag: String,
    /// The plugin's configuration (JSON).
    pub config: String,
    /// The upload a scanner reads, if this is a scan.
    pub content: Option<Arc<dyn UploadContentReader>>,
    /// Log lines, as the plugin wrote them (bounded).
    pub logs: Vec<PluginLog>,
    /// Bytes of output (logs) the plugin may still write in this call.
    pub output_budget: usize,
    /// Log lines dropped for exceeding the limits.
    pub logs_dropped: u64,
    /// Log lines cut to fit the output limit.
    pub logs_truncated: u64,
    /// The time the guest has run in this call.
    pub clock: Arc<GuestClock>,
    /// Set when the host failed to serve the plugin (a content read failed): the call fails as
    /// the host's fault, not the plugin's.
    pub host_failure: Option<String>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl CallState {
    /// A sandbox with no files, no environment, no network, no arguments; stdout and stderr go
    /// to bounded buffers that end up in the log.
    pub fn new(tag: String, config: String, memory_limit: u64, output_bytes: u32) -> Self {
        let stdout = MemoryOutputPipe::new(output_bytes as usize);
        let stderr = MemoryOutputPipe::new(output_bytes as usize);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            memory_limit: usize::try_from(memory_limit).unwrap_or(usize::MAX),
            memory_exceeded: false,
            tag,
            config,
            content: None,
            logs: Vec::new(),
            output_budget: output_bytes as usize,
            logs_dropped: 0,
            logs_truncated: 0,
            host_failure: None,
            clock: GuestClock::start(),
            stdout,
            stderr,
        }
    }

    /// The resource table.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Records a log line from the plugin and writes it to the server log tagged with the
    /// plugin: control characters escaped, and cut (message first, then fields in order) to
    /// what is left of the output budget; only once the budget is spent are lines dropped.
    pub fn log(&mut self, level: &str, message: String, fields: Vec<(String, String)>) {
        if self.output_budget == 0 || self.logs.len() >= MAX_LOG_LINES {
            self.logs_dropped += 1;
            return;
        }
        let mut budget = self.output_budget;
        let mut cut = false;
        let mut take = |text: &str| {
            let escaped = escape_controls(text).into_owned();
            let whole = escaped.len();
            let text = truncated(escaped, budget);
            cut |= text.len() < whole;
            budget -= text.len();
            text
        };
        let message = take(&message);
        let mut kept = Vec::with_capacity(fields.len());
        for (key, value) in &fields {
            let (key, value) = (take(key), take(value));
            if key.is_empty() {
                break;
            }
            kept.push((key, value));
        }
        if cut {
            self.logs_truncated += 1;
        }
        self.output_budget = budget;
        let fields = kept;
        let tag = &self.tag;
        match level {
            "error" => tracing::error!(plugin = %tag, ?fields, "{message}"),
            "warn" => tracing::warn!(plugin = %tag, ?fields, "{message}"),
            "info" | "stdout" | "stderr" => {
                tracing::info!(plugin = %tag, stream = level, ?fields, "{message}")
            }
            "debug" => tracing::debug!(plugin = %tag, ?fields, "{message}"),
            _ => tracing::trace!(plugin = %tag, ?fields, "{message}"),
        }
        self.logs.push(PluginLog {
            level: level.to_owned(),
            message,
            fields,
        });
    }

    /// Moves what the guest printed to stdout and stderr into the log, line by line.
    pub fn drain_output(&mut self) {
        for (stream, pipe) in [
            ("stdout", self.stdout.clone()),
            ("stderr", self.stderr.clone()),
        ] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.is_empty())
            {
                self.log(stream, line.to_owned(), Vec::new());
            }
        }
        if self.logs_dropped > 0 || self.logs_truncated > 0 {
            tracing::warn!(plugin = %self.tag, dropped = self.logs_dropped, truncated = self.logs_truncated, "plugin log output over its output limit was cut");
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for CallState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exceeded = true;
            wasmtime::bail!(
                "the plugin's memory limit of {} bytes is reached",
                self.memory_limit
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
