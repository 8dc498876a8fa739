//! What one call's store holds: the sandbox's WASI context (nothing granted), the resource
//! table, the memory limiter, and what the plugin may read (its configuration, an upload) or
//! write (logs, bounded).

use std::sync::Arc;

use coffer_application::ports::{PluginLog, UploadContentReader};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Most log lines kept per call (beyond them, lines are counted, not kept).
const MAX_LOG_LINES: usize = 200;

/// The host side of an `upload-content` resource; the bytes come from [`CallState::content`].
pub struct UploadContentHandle;

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
            stdout,
            stderr,
        }
    }

    /// The resource table.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Records a log line from the plugin, within the output budget, and writes it to the
    /// server log tagged with the plugin.
    pub fn log(&mut self, level: &str, message: String, fields: Vec<(String, String)>) {
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        if size > self.output_budget || self.logs.len() >= MAX_LOG_LINES {
            self.logs_dropped += 1;
            return;
        }
        self.output_budget -= size;
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
        if self.logs_dropped > 0 {
            tracing::warn!(plugin = %self.tag, dropped = self.logs_dropped, "plugin log lines over its output limit were dropped");
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
