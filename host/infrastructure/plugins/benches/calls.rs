//! Per-call overhead of a hook: a fresh sandbox (store and instance from the pool) per call,
//! the call, and dropping it; and a scan streaming content through the host.
//! `cargo bench -p coffer-plugins` (the plugins must be built: `scripts/build-plugins`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use coffer_application::InfrastructureError;
use coffer_application::ports::{
    ActorFacts, PluginCall, PluginRuntime, ScanVerdict, SharingQuestion, UploadContentReader,
    UploadFacts,
};
use coffer_domain::plugins::PluginLimits;
use coffer_plugins::testing::plugin_wasm;
use coffer_plugins::{RuntimeSettings, WasmRuntime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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

fn actor() -> ActorFacts {
    ActorFacts {
        user_id: "u".into(),
        email: "a@example.org".into(),
    }
}

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let plugins = WasmRuntime::new(&RuntimeSettings::default()).unwrap();
    runtime.block_on(async {
        plugins
            .load("sharing", &plugin_wasm("sharing-rules"))
            .await
            .unwrap();
        plugins
            .load("eicar", &plugin_wasm("eicar-scanner"))
            .await
            .unwrap();
        // Compiled afresh (no disk cache): what installing a Python plugin costs once.
        let started = std::time::Instant::now();
        plugins
            .load("python", &plugin_wasm("magic-guard"))
            .await
            .unwrap();
        eprintln!(
            "compiling the Python plugin (magic-guard, {} bytes) took {:.1} s",
            plugin_wasm("magic-guard").len(),
            started.elapsed().as_secs_f64()
        );
    });
    let limits = PluginLimits::new(64 << 20, Duration::from_secs(10), 65536).unwrap();
    let call = |digest: &str| PluginCall {
        tag: digest.into(),
        digest: digest.into(),
        config: "{}".into(),
        limits,
    };
    let (sharing, eicar, python) = (call("sharing"), call("eicar"), call("python"));

    let mut group = c.benchmark_group("plugin call");
    group.bench_function("sharing policy: fresh sandbox, check-link, drop", |b| {
        let question = SharingQuestion::Link {
            actor: actor(),
            path: "/x".into(),
            is_folder: false,
            expires_in_seconds: Some(3600),
            has_password: true,
            allow_download: true,
        };
        b.to_async(&runtime).iter(|| async {
            let outcome = plugins.check_sharing(&sharing, &question).await;
            assert!(outcome.result.is_ok());
        });
    });
    group.bench_function("scanner: fresh sandbox, scan 1 byte, drop", |b| {
        b.to_async(&runtime).iter(|| async {
            let upload = UploadFacts {
                path: "/x".into(),
                size: 1,
                media_type: None,
                content_hash: String::new(),
                actor: actor(),
            };
            let outcome = plugins.scan(&eicar, &upload, Arc::new(Zeros(1))).await;
            assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
        });
    });
    group.bench_function("Python scanner: fresh sandbox, scan 1 byte, drop", |b| {
        b.to_async(&runtime).iter(|| async {
            let upload = UploadFacts {
                path: "/x".into(),
                size: 1,
                media_type: None,
                content_hash: String::new(),
                actor: actor(),
            };
            let outcome = plugins.scan(&python, &upload, Arc::new(Zeros(1))).await;
            assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
        });
    });
    group.finish();

    let size = 64 << 20;
    let mut group = c.benchmark_group("plugin scan");
    group.throughput(Throughput::Bytes(size));
    group.sample_size(10);
    group.bench_function("EICAR scanner over 64 MiB (256 KiB reads)", |b| {
        b.to_async(&runtime).iter(|| async {
            let upload = UploadFacts {
                path: "/x".into(),
                size,
                media_type: None,
                content_hash: String::new(),
                actor: actor(),
            };
            let outcome = plugins.scan(&eicar, &upload, Arc::new(Zeros(size))).await;
            assert_eq!(outcome.result, Ok(ScanVerdict::Clean));
        });
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
