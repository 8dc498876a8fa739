//! The wasmtime runtime against real components: the example scanner, and a plugin that
//! misbehaves in every way the sandbox must contain.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use coffer_application::InfrastructureError;
use coffer_application::ports::{
    ActorFacts, CallFailure, ComponentError, PluginCall, PluginRuntime, PolicyDecision,
    ScanVerdict, SharingQuestion, UploadContentReader, UploadFacts,
};
use coffer_domain::plugins::{Hook, PluginLimits};
use coffer_plugins::testing::{plugin_wasm, shared_compile_cache};
use coffer_plugins::{RuntimeSettings, WasmRuntime};

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Content generated on the fly (never held whole), with `needle` at `at`, counting reads.
struct Generated {
    size: u64,
    needle: Option<(u64, Vec<u8>)>,
    fail: bool,
    reads: std::sync::atomic::AtomicU64,
}

impl Generated {
    fn new(size: u64, needle: Option<(u64, &[u8])>) -> Arc<Self> {
        Arc::new(Self {
            size,
            needle: needle.map(|(at, n)| (at, n.to_vec())),
            fail: false,
            reads: Default::default(),
        })
    }
}

#[async_trait]
impl UploadContentReader for Generated {
    fn size(&self) -> u64 {
        self.size
    }
    async fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, InfrastructureError> {
        if self.fail {
            return Err(InfrastructureError::msg("the block store is down"));
        }
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let end = (offset + u64::from(len)).min(self.size);
        let mut bytes: Vec<u8> = (offset..end).map(|i| (i % 251) as u8).collect();
        if let Some((at, needle)) = &self.needle {
            for (i, byte) in needle.iter().enumerate() {
                let position = at + i as u64;
                if (offset..end).contains(&position) {
                    bytes[(position - offset) as usize] = *byte;
                }
            }
        }
        Ok(bytes)
    }
}

struct Loaded {
    runtime: WasmRuntime,
    eicar: PluginCall,
    hostile: PluginCall,
}

fn call(tag: &str, digest: &str, config: &str, limits: PluginLimits) -> PluginCall {
    PluginCall {
        tag: tag.into(),
        digest: digest.into(),
        config: config.into(),
        limits,
    }
}

async fn loaded() -> Loaded {
    let runtime = WasmRuntime::new(&RuntimeSettings::default()).unwrap();
    runtime
        .load("eicar", &plugin_wasm("eicar-scanner"))
        .await
        .unwrap();
    runtime
        .load("hostile", &plugin_wasm("hostile"))
        .await
        .unwrap();
    let limits = PluginLimits::new(16 << 20, Duration::from_millis(500), 4096).unwrap();
    Loaded {
        eicar: call("eicar-scanner@0.1.0", "eicar", "{}", limits),
        hostile: call("hostile@0.1.0", "hostile", "", limits),
        runtime,
    }
}

fn upload(size: u64) -> UploadFacts {
    UploadFacts {
        path: "/in/file.bin".into(),
        size,
        media_type: None,
        content_hash: "00".repeat(32),
        actor: ActorFacts {
            user_id: "u".into(),
            email: "a@example.org".into(),
        },
    }
}

#[tokio::test]
async fn inspection_reads_the_exported_hooks_and_refuses_what_is_not_a_plugin() {
    let runtime = WasmRuntime::new(&RuntimeSettings::default()).unwrap();
    let info = runtime
        .inspect(&plugin_wasm("eicar-scanner"))
        .await
        .unwrap();
    assert_eq!(info.interface_version, "0.1.0");
    assert_eq!(info.hooks, [Hook::UploadScanner]);
    let info = runtime.inspect(&plugin_wasm("hostile")).await.unwrap();
    assert_eq!(info.hooks, [Hook::UploadScanner, Hook::SharingPolicy]);

    let garbage = runtime.inspect(b"not wasm at all").await.unwrap_err();
    assert!(matches!(garbage, ComponentError::Invalid(_)), "{garbage}");
    // A core module is WebAssembly but not a component.
    let core_module = b"\0asm\x01\0\0\0";
    let core = runtime.inspect(core_module).await.unwrap_err();
    assert!(matches!(core, ComponentError::Invalid(_)), "{core}");
}

#[tokio::test]
async fn the_scanner_finds_signatures_anywhere_streaming_any_size() {
    let t = loaded().await;
    let clean = Generated::new(3 << 20, None);
    let outcome = t
        .runtime
        .scan(&t.eicar, &upload(3 << 20), clean.clone())
        .await;
    assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
    assert!(
        clean.reads.load(std::sync::atomic::Ordering::Relaxed) >= 12,
        "read in chunks"
    );

    // Across a chunk boundary (the scanner reads 256 KiB at a time), in a 64 MiB file scanned
    // by a plugin limited to 16 MiB of memory.
    let size = 64 << 20;
    let infected = Generated::new(size, Some(((256 << 10) * 7 - 20, EICAR)));
    // Time to spare: this checks streaming within the memory cap, not speed.
    let patient = PluginCall {
        limits: PluginLimits::new(16 << 20, Duration::from_secs(60), 4096).unwrap(),
        ..t.eicar.clone()
    };
    let outcome = t.runtime.scan(&patient, &upload(size), infected).await;
    assert_eq!(
        outcome.result,
        Ok(ScanVerdict::Infected("EICAR-Test-File".into()))
    );
    assert!(outcome.logs.iter().any(|l| l.message == "signature found"));

    let configured = PluginCall {
        config: r#"{"signatures": [{"name": "Demo.Threat", "hex": "DEADBEEF"}]}"#.into(),
        ..t.eicar.clone()
    };
    let tail = Generated::new(1000, Some((996, &[0xde, 0xad, 0xbe, 0xef])));
    let outcome = t.runtime.scan(&configured, &upload(1000), tail).await;
    assert_eq!(
        outcome.result,
        Ok(ScanVerdict::Infected("Demo.Threat".into()))
    );
}

#[tokio::test]
async fn a_failing_read_traps_the_scan_instead_of_looking_clean() {
    let t = loaded().await;
    let broken = Arc::new(Generated {
        size: 10,
        needle: None,
        fail: true,
        reads: Default::default(),
    });
    let outcome = t.runtime.scan(&t.eicar, &upload(10), broken).await;
    assert!(
        matches!(outcome.result, Err(CallFailure::Trap(_))),
        "{:?}",
        outcome.result
    );
}

async fn hostile_scan(
    t: &Loaded,
    mode: &str,
) -> coffer_application::ports::CallOutcome<ScanVerdict> {
    let call = PluginCall {
        config: mode.into(),
        ..t.hostile.clone()
    };
    t.runtime
        .scan(&call, &upload(1), Generated::new(1, None))
        .await
}

#[tokio::test]
async fn hostile_plugins_cost_at_most_their_call() {
    let t = loaded().await;

    let started = std::time::Instant::now();
    let outcome = hostile_scan(&t, "loop").await;
    assert_eq!(outcome.result, Err(CallFailure::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let outcome = hostile_scan(&t, "memory").await;
    assert_eq!(outcome.result, Err(CallFailure::MemoryExceeded));

    let outcome = hostile_scan(&t, "trap").await;
    assert!(
        matches!(outcome.result, Err(CallFailure::Trap(_))),
        "{:?}",
        outcome.result
    );
    assert!(
        outcome
            .logs
            .iter()
            .any(|l| l.level == "stderr" && l.message.contains("on purpose")),
        "the panic message reaches the log: {:?}",
        outcome.logs
    );

    let outcome = hostile_scan(&t, "big-output").await;
    assert!(
        matches!(
            outcome.result,
            Err(CallFailure::OutputTooLarge | CallFailure::MemoryExceeded)
        ),
        "{:?}",
        outcome.result
    );

    // The sandbox grants nothing: no files, no environment, no network.
    let Ok(ScanVerdict::Infected(file)) = hostile_scan(&t, "read-file").await.result else {
        panic!("the plugin reports what happened");
    };
    assert!(file.starts_with("denied"), "{file}");
    let Ok(ScanVerdict::Infected(env)) = hostile_scan(&t, "env").await.result else {
        panic!("the plugin reports what happened");
    };
    assert_eq!(env, "env: []");
    let Ok(ScanVerdict::Infected(network)) = hostile_scan(&t, "network").await.result else {
        panic!("the plugin reports what happened");
    };
    assert!(network.starts_with("denied"), "{network}");

    // Logs and printed output are kept within the output limit.
    // (With time to spare: this checks the output bound, not speed.)
    let patient = PluginCall {
        config: "log-flood".into(),
        limits: PluginLimits::new(16 << 20, Duration::from_secs(30), 4096).unwrap(),
        ..t.hostile.clone()
    };
    let flood = t
        .runtime
        .scan(&patient, &upload(1), Generated::new(1, None))
        .await;
    assert_eq!(flood.result, Ok(ScanVerdict::Clean));
    let logged: usize = flood.logs.iter().map(|l| l.message.len()).sum();
    assert!(logged <= 4096, "{logged} bytes of logs kept");
    let printed = hostile_scan(&t, "stdout").await;
    assert!(
        printed
            .logs
            .iter()
            .any(|l| l.level == "stdout" && l.message == "hello from the guest's stdout")
    );

    // After all that, the runtime still serves.
    let outcome = t
        .runtime
        .scan(&t.eicar, &upload(1), Generated::new(1, None))
        .await;
    assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
}

#[tokio::test]
async fn policies_answer_and_missing_hooks_or_components_are_unavailable() {
    let t = loaded().await;
    let question = SharingQuestion::Link {
        actor: ActorFacts {
            user_id: "u".into(),
            email: "a@example.org".into(),
        },
        path: "/x".into(),
        is_folder: false,
        expires_in_seconds: None,
        has_password: false,
        allow_download: true,
    };
    let behaving = PluginCall {
        config: "behave".into(),
        ..t.hostile.clone()
    };
    let outcome = t.runtime.check_sharing(&behaving, &question).await;
    assert_eq!(outcome.result, Ok(PolicyDecision::Allow));
    let denying = PluginCall {
        config: "read-file".into(),
        ..t.hostile.clone()
    };
    let outcome = t.runtime.check_sharing(&denying, &question).await;
    assert!(matches!(outcome.result, Ok(PolicyDecision::Deny(_))));

    let outcome = t.runtime.check_sharing(&t.eicar, &question).await;
    assert!(matches!(outcome.result, Err(CallFailure::Unavailable(_))));
    let unknown = PluginCall {
        digest: "missing".into(),
        ..t.eicar.clone()
    };
    let outcome = t
        .runtime
        .scan(&unknown, &upload(1), Generated::new(1, None))
        .await;
    assert!(matches!(outcome.result, Err(CallFailure::Unavailable(_))));
}

#[tokio::test]
async fn compiled_components_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let settings = RuntimeSettings {
        cache_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let wasm = plugin_wasm("eicar-scanner");
    let first = WasmRuntime::new(&settings).unwrap();
    first.load("digest-1", &wasm).await.unwrap();
    let cached: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(cached.len(), 1);
    let second = WasmRuntime::new(&settings).unwrap();
    second.load("digest-1", &wasm).await.unwrap();
    let limits = PluginLimits::default();
    let outcome = second
        .scan(
            &call("eicar@1", "digest-1", "{}", limits),
            &upload(70),
            Generated::new(70, Some((0, EICAR))),
        )
        .await;
    assert_eq!(
        outcome.result,
        Ok(ScanVerdict::Infected("EICAR-Test-File".into()))
    );
}

#[tokio::test]
async fn the_event_log_plugin_writes_each_event_through_the_log_import() {
    let runtime = WasmRuntime::new(&RuntimeSettings::default()).unwrap();
    runtime
        .load("events", &plugin_wasm("event-log"))
        .await
        .unwrap();
    let call = call("event-log@0.1.0", "events", "{}", PluginLimits::default());
    let event = coffer_application::ports::PluginEvent {
        kind: "moved",
        actor: ActorFacts {
            user_id: "u".into(),
            email: "a@example.org".into(),
        },
        path: Some("/from".into()),
        detail: Some("to /to".into()),
        at_micros: 42,
    };
    let outcome = runtime.on_event(&call, &event).await;
    assert_eq!(outcome.result, Ok(()));
    let line = &outcome.logs[0];
    assert_eq!(
        (line.level.as_str(), line.message.as_str()),
        ("info", "event")
    );
    for field in [
        ("kind", "moved"),
        ("actor", "a@example.org"),
        ("path", "/from"),
        ("detail", "to /to"),
    ] {
        assert!(
            line.fields
                .contains(&(field.0.to_owned(), field.1.to_owned())),
            "{field:?} in {:?}",
            line.fields
        );
    }
}

#[tokio::test]
async fn the_python_scanner_refuses_executables_by_their_first_bytes() {
    let runtime = WasmRuntime::new(&RuntimeSettings {
        cache_dir: Some(shared_compile_cache()),
        ..Default::default()
    })
    .unwrap();
    let wasm = plugin_wasm("magic-guard");
    let info = runtime.inspect(&wasm).await.unwrap();
    assert_eq!(info.hooks, [Hook::UploadScanner]);
    runtime.load("magic-guard", &wasm).await.unwrap();
    let scan = |config: &str, content: Arc<Generated>| {
        let call = call(
            "magic-guard@0.1.0",
            "magic-guard",
            config,
            PluginLimits::default(),
        );
        let runtime = &runtime;
        async move {
            let size = content.size;
            runtime.scan(&call, &upload(size), content).await
        }
    };

    // A 64 MiB "Windows executable": found from its first bytes, in one small read.
    let exe = Generated::new(64 << 20, Some((0, b"MZ\x90\0")));
    let outcome = scan("{}", exe.clone()).await;
    assert_eq!(
        outcome.result,
        Ok(ScanVerdict::Infected("Windows executable".into()))
    );
    assert_eq!(exe.reads.load(std::sync::atomic::Ordering::Relaxed), 1);
    let log = outcome
        .logs
        .iter()
        .find(|l| l.message == "refused an executable")
        .expect("the refusal is logged");
    assert_eq!(log.level, "warn");
    assert!(
        log.fields
            .contains(&("kind".into(), "windows-executable".into()))
    );
    assert!(log.fields.contains(&("path".into(), "/in/file.bin".into())));

    // The signature only counts at the start.
    let outcome = scan("{}", Generated::new(4096, Some((100, b"MZ")))).await;
    assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
    // The configuration chooses the kinds.
    let elf_only = r#"{"block": ["elf"]}"#;
    let outcome = scan(elf_only, Generated::new(10, Some((0, b"MZ")))).await;
    assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
    let outcome = scan(elf_only, Generated::new(10, Some((0, b"\x7fELF")))).await;
    assert_eq!(
        outcome.result,
        Ok(ScanVerdict::Infected("ELF executable".into()))
    );
    // A configuration the plugin cannot read is a failed call (the failure policy decides).
    let outcome = scan(r#"{"block": ["nonsense"]}"#, Generated::new(10, None)).await;
    assert!(
        matches!(outcome.result, Err(CallFailure::Trap(_))),
        "{:?}",
        outcome.result
    );
}
