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
        matches!(&outcome.result, Err(CallFailure::HostFailed(reason)) if reason.contains("block store")),
        "the host's failure, not the plugin's: {:?}",
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

/// Zeros, as fast as the host can hand them out.
struct Zeros(u64);

#[async_trait]
impl UploadContentReader for Zeros {
    fn size(&self) -> u64 {
        self.0
    }
    async fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, InfrastructureError> {
        let end = (offset + u64::from(len)).min(self.0);
        Ok(vec![0; end.saturating_sub(offset) as usize])
    }
}

#[tokio::test]
async fn a_scanner_gets_time_for_every_mebibyte_it_is_given() {
    let t = loaded().await;
    // 1 ms would not read 32 MiB; the allowance per MiB does.
    let hurried = PluginCall {
        limits: PluginLimits::new(16 << 20, Duration::from_millis(1), 4096).unwrap(),
        ..t.eicar.clone()
    };
    let size = 32 << 20;
    let outcome = t
        .runtime
        .scan(&hurried, &upload(size), Arc::new(Zeros(size)))
        .await;
    assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
}

fn limits_ms(ms: u64) -> PluginLimits {
    PluginLimits::new(16 << 20, Duration::from_millis(ms), 4096).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn guest_code_never_runs_on_the_callers_threads() {
    let t = loaded().await;
    let looping = PluginCall {
        config: "loop".into(),
        limits: limits_ms(500),
        ..t.hostile.clone()
    };
    // A timer on the caller's only thread keeps ticking while a guest computes.
    let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            let mut interval = tokio::time::interval(Duration::from_millis(10));
            loop {
                interval.tick().await;
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let outcome = t
        .runtime
        .scan(&looping, &upload(1), Generated::new(1, None))
        .await;
    ticker.abort();
    assert_eq!(outcome.result, Err(CallFailure::Timeout));
    let ticks = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        ticks >= 10,
        "the caller's thread was blocked: {ticks} ticks in 500 ms"
    );
}

#[tokio::test]
async fn deadlines_hold_under_concurrent_load() {
    let t = loaded().await;
    let looping = PluginCall {
        config: "loop".into(),
        limits: limits_ms(300),
        ..t.hostile.clone()
    };
    let started = std::time::Instant::now();
    let calls = (0..12).map(|_| {
        let (runtime, call) = (&t.runtime, &looping);
        async move {
            let outcome = runtime
                .scan(call, &upload(1), Generated::new(1, None))
                .await;
            (outcome.result, started.elapsed())
        }
    });
    for (result, elapsed) in futures_util::future::join_all(calls).await {
        assert!(
            matches!(result, Err(CallFailure::Timeout | CallFailure::Busy)),
            "{result:?}"
        );
        // Twelve calls of 300 ms in turn would take 3.6 s; the deadline is 550 ms.
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }
}

#[tokio::test]
async fn a_full_pool_makes_calls_wait_and_is_never_the_plugins_fault() {
    let runtime = WasmRuntime::new(&RuntimeSettings {
        max_concurrent_calls: 2,
        max_concurrent_calls_per_plugin: 1,
        ..Default::default()
    })
    .unwrap();
    runtime
        .load("hostile", &plugin_wasm("hostile"))
        .await
        .unwrap();
    runtime
        .load("eicar", &plugin_wasm("eicar-scanner"))
        .await
        .unwrap();
    let behaving = call("hostile@0.1.0", "hostile", "behave", limits_ms(2000));
    let eicar = call("eicar@0.1.0", "eicar", "{}", limits_ms(2000));
    // More callers than slots: they wait their turn, and all answer.
    let calls = (0..8).map(|i| {
        let (runtime, call) = (&runtime, if i % 2 == 0 { &behaving } else { &eicar });
        async move {
            runtime
                .scan(call, &upload(1), Generated::new(1, None))
                .await
                .result
        }
    });
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(result, Ok(ScanVerdict::Clean));
    }

    // A plugin whose calls hang holds only its own slot; callers that cannot get one in
    // time fail as `Busy`, which is not the plugin's fault.
    let looping = call("hostile@0.1.0", "hostile", "loop", limits_ms(400));
    let hanging = (0..3).map(|_| {
        let runtime = &runtime;
        let looping = &looping;
        async move {
            runtime
                .scan(looping, &upload(1), Generated::new(1, None))
                .await
                .result
        }
    });
    let other = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        runtime
            .scan(&eicar, &upload(1), Generated::new(1, None))
            .await
            .result
    };
    let (results, other) = tokio::join!(futures_util::future::join_all(hanging), other);
    assert_eq!(other, Ok(ScanVerdict::Clean), "another plugin still runs");
    assert!(results.contains(&Err(CallFailure::Timeout)), "{results:?}");
    assert!(results.contains(&Err(CallFailure::Busy)), "{results:?}");
    for result in results {
        let failure = result.unwrap_err();
        assert!(
            failure == CallFailure::Timeout || !failure.is_plugins_fault(),
            "{failure:?}"
        );
    }
}

#[tokio::test]
async fn a_hook_with_the_right_name_and_the_wrong_signature_is_refused_at_install() {
    let runtime = WasmRuntime::new(&RuntimeSettings::default()).unwrap();
    let err = runtime
        .inspect(&plugin_wasm("mismatched"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ComponentError::Unsupported(reason) if reason.contains("upload-scanner")),
        "{err}"
    );
}

#[tokio::test]
async fn unloading_frees_components_and_deletes_their_compiled_files() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = WasmRuntime::new(&RuntimeSettings {
        cache_dir: Some(dir.path().to_owned()),
        ..Default::default()
    })
    .unwrap();
    runtime
        .load("kept", &plugin_wasm("eicar-scanner"))
        .await
        .unwrap();
    runtime.load("gone", &plugin_wasm("hostile")).await.unwrap();
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(files().len(), 2);
    runtime.retain(&["kept".to_owned()]);
    assert!(runtime.is_loaded("kept"));
    assert!(!runtime.is_loaded("gone"));
    let left = files();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("kept-"), "{left:?}");
}

#[tokio::test]
async fn plugin_output_cannot_forge_log_lines_and_long_lines_are_cut_not_dropped() {
    let t = loaded().await;
    let outcome = hostile_scan(&t, "forge-log").await;
    let Ok(ScanVerdict::Infected(finding)) = &outcome.result else {
        panic!("{:?}", outcome.result);
    };
    let control = |text: &str| text.chars().any(char::is_control);
    assert!(!control(finding), "{finding:?}");
    assert_eq!(finding, "found\\nFORGED line");
    assert!(outcome.logs.len() >= 2, "{:?}", outcome.logs);
    for line in &outcome.logs {
        assert!(!control(&line.message), "{line:?}");
        assert!(
            line.fields.iter().all(|(k, v)| !control(k) && !control(v)),
            "{line:?}"
        );
    }
    assert!(outcome.logs[0].message.starts_with("scanned\\n2026"));

    let outcome = hostile_scan(&t, "big-log").await;
    assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
    let kept = outcome.logs.first().expect("the long line is kept, cut");
    assert!(
        (1000..=4096).contains(&kept.message.len()),
        "{}",
        kept.message.len()
    );
}

#[tokio::test]
async fn every_event_kind_reaches_an_event_plugin() {
    let runtime = WasmRuntime::new(&RuntimeSettings::default()).unwrap();
    runtime
        .load("events", &plugin_wasm("event-log"))
        .await
        .unwrap();
    let call = call("event-log@0.1.0", "events", "{}", PluginLimits::default());
    for kind in [
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
    ] {
        let event = coffer_application::ports::PluginEvent {
            kind,
            actor: ActorFacts {
                user_id: "u".into(),
                email: "a@example.org".into(),
            },
            path: Some("/x".into()),
            detail: None,
            at_micros: 1,
        };
        let outcome = runtime.on_event(&call, &event).await;
        assert_eq!(outcome.result, Ok(()), "{kind}");
        assert!(
            outcome.logs[0]
                .fields
                .contains(&("kind".to_owned(), kind.to_owned())),
            "{kind}: {:?}",
            outcome.logs
        );
    }
}
