//! The composition root: builds every adapter from the settings, wires them into the use cases
//! and the HTTP API, and runs the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use coffer_api::{ApiState, ClientAddressSource};
use coffer_application::accounts::{AccountRules, Accounts};
use coffer_application::admin::{Actor, Administration};
use coffer_application::files::{Files, StorageRules};
use coffer_application::plugins::{PluginHost, Plugins};
use coffer_application::ports::{BackgroundTask, BlobStore, TaskSpawner};
use coffer_application::{Ports, Readiness};
use coffer_blob::{
    DiskScratch, LocalBlobStore, S3BlobStore, S3Settings, S3Timeouts, Sha256BlockHasher,
};
use coffer_domain::account::{ByteCount, SignupPolicy};
use coffer_plugins::{RuntimeSettings, WasmRuntime};
use coffer_security::{
    Argon2Hasher, Argon2Params, InMemoryLoginThrottle, RandomSecrets, SystemClock, ThrottleRules,
    UuidV7Ids,
};
use coffer_sql::{SqlError, SqlStore, StoreOptions};
use tokio::net::TcpListener;

use crate::connections::ConnectionLimits;
use crate::settings::{BlobBackend, Settings, SignupMode};

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database is unreachable or could not be migrated.
    #[error(transparent)]
    Database(#[from] SqlError),
    /// A setting is out of range.
    #[error("invalid configuration: {0}")]
    Settings(String),
    /// The block store is unreachable.
    #[error("cannot open the block store: {0}")]
    Blobs(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The use cases, wired to their adapters.
#[derive(Clone)]
pub struct UseCases {
    /// Account use cases.
    pub accounts: Accounts,
    /// Administration use cases.
    pub admin: Administration,
    /// Readiness check.
    pub readiness: Readiness,
    /// File use cases.
    pub files: Files,
    /// Plugin administration.
    pub plugins: Plugins,
    /// The plugins in force (refreshed in the background).
    pub plugin_host: PluginHost,
}

/// Runs background work on the tokio runtime.
struct TokioSpawner;

impl TaskSpawner for TokioSpawner {
    fn spawn(&self, task: BackgroundTask) {
        tokio::spawn(task);
    }
}

/// Connects to the database and the block store, applies migrations and wires the use cases.
pub async fn wire(settings: &Settings) -> Result<(SqlStore, UseCases), StartupError> {
    let options = StoreOptions {
        max_connections: settings.database.max_connections,
        statement_timeout: settings.database.statement_timeout,
        ..StoreOptions::default()
    };
    let store = SqlStore::connect(settings.database_url().expose(), &options).await?;
    store.migrate().await?;
    let blobs = blob_store(settings).await?;
    let use_cases = use_cases(settings, &store, blobs)?;
    if let Err(err) = use_cases.plugin_host.refresh().await {
        tracing::error!(error = %err, "plugins could not be loaded; they will be retried");
    }
    Ok((store, use_cases))
}

/// The block store the settings name (local directory or S3 bucket), checked to be usable.
pub async fn blob_store(settings: &Settings) -> Result<Arc<dyn BlobStore>, StartupError> {
    let failed = |e: coffer_application::InfrastructureError| StartupError::Blobs(e.to_string());
    Ok(match settings.storage.backend {
        BlobBackend::Local => Arc::new(
            LocalBlobStore::open(settings.blocks_dir())
                .map_err(failed)?
                .with_min_free_bytes(settings.storage.min_free_bytes),
        ),
        BlobBackend::S3 => {
            let s3 = &settings.storage.s3;
            let store = S3BlobStore::connect(S3Settings {
                endpoint: s3.endpoint.clone(),
                region: s3.region.clone(),
                bucket: s3.bucket.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3.secret_access_key.expose().to_owned(),
                force_path_style: s3.force_path_style,
                key_prefix: s3.key_prefix.clone(),
                timeouts: S3Timeouts {
                    connect: s3.connect_timeout,
                    attempt: s3.attempt_timeout,
                    operation: s3.operation_timeout,
                },
            })
            .map_err(failed)?;
            store.check().await.map_err(failed)?;
            Arc::new(store)
        }
    })
}

fn use_cases(
    settings: &Settings,
    store: &SqlStore,
    blobs: Arc<dyn BlobStore>,
) -> Result<UseCases, StartupError> {
    let accounts = &settings.accounts;
    let hashing = &accounts.password_hashing;
    let passwords = Argon2Hasher::new(Argon2Params {
        memory_kib: hashing.memory_kib,
        iterations: hashing.iterations,
        parallelism: hashing.parallelism,
    })
    .map_err(|e| StartupError::Settings(format!("accounts.password_hashing: {e}")))?;
    let throttle = &accounts.login_throttle;
    let clock = Arc::new(SystemClock);
    let runtime = WasmRuntime::new(&RuntimeSettings {
        cache_dir: Some(settings.plugin_cache_dir()),
        max_concurrent_calls: settings.plugins.max_concurrent_calls,
        max_concurrent_calls_per_plugin: settings.plugins.max_concurrent_calls_per_plugin,
        guest_threads: settings.plugins.guest_threads,
    })
    .map_err(|e| StartupError::Settings(format!("plugins: {e}")))?;
    let ports = Ports {
        uow: Arc::new(store.clone()),
        clock: clock.clone(),
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
        passwords: Arc::new(passwords),
        login_throttle: Arc::new(InMemoryLoginThrottle::new(
            ThrottleRules {
                account_failures: throttle.account_failures,
                address_failures: throttle.address_failures,
                member_additions: throttle.member_additions,
                window: throttle.window,
                lockout: throttle.lockout,
                max_lockout: throttle.max_lockout,
            },
            clock.clone(),
        )),
        block_hasher: Arc::new(Sha256BlockHasher::new()),
        blobs,
        scratch: Arc::new(
            DiskScratch::open(settings.scratch_dir())
                .map_err(|e| StartupError::Blobs(e.to_string()))?,
        ),
        notifier: Arc::new(store.change_notifier()),
    };
    let duration = |name: &str, d: std::time::Duration| {
        chrono::Duration::from_std(d)
            .map_err(|_| StartupError::Settings(format!("{name} is too long")))
    };
    let rules = AccountRules {
        signup: match accounts.signup {
            SignupMode::Open => SignupPolicy::Open,
            SignupMode::InviteOnly => SignupPolicy::InviteOnly,
            SignupMode::Closed => SignupPolicy::Closed,
        },
        token_lifetime: duration("accounts.token_lifetime", accounts.token_lifetime)?,
        invite_lifetime: duration("accounts.invite_lifetime", accounts.invite_lifetime)?,
        default_quota: ByteCount::new(accounts.default_quota_bytes)
            .map_err(|e| StartupError::Settings(format!("accounts.default_quota_bytes {e}")))?,
    };
    let storage = &settings.storage;
    let storage_rules = StorageRules {
        default_quota: rules.default_quota,
        max_copy_entries: storage.max_copy_entries,
        trash_retention: duration("storage.trash_retention", storage.trash_retention)?,
        revision_retention: duration("storage.revision_retention", storage.revision_retention)?,
        journal_retention: duration("storage.journal_retention", storage.journal_retention)?,
        block_grace: duration("storage.block_grace", storage.block_grace)?,
        upload_expiry: duration("storage.upload_expiry", storage.upload_expiry)?,
    };
    let plugin_host = PluginHost::new(
        ports.uow.clone(),
        Arc::new(runtime),
        clock,
        Arc::new(TokioSpawner),
    );
    Ok(UseCases {
        accounts: Accounts::new(ports.clone(), rules.clone(), plugin_host.clone()),
        admin: Administration::new(ports.clone(), rules, plugin_host.clone()),
        files: Files::new(ports.clone(), storage_rules, plugin_host.clone()),
        plugins: Plugins::new(ports.clone(), plugin_host.clone()),
        plugin_host,
        readiness: Readiness::new(ports.uow, ports.blobs),
    })
}

/// A bound, ready-to-run server.
pub struct Server {
    listener: TcpListener,
    router: axum::Router,
    store: SqlStore,
    use_cases: UseCases,
    shutdown_grace: std::time::Duration,
    gc_interval: std::time::Duration,
    plugin_refresh: std::time::Duration,
    connection_limits: ConnectionLimits,
}

impl Server {
    /// Wires everything and binds the listen address (port 0 picks a free port).
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let connection_limits = connection_limits(settings)?;
        let (store, use_cases) = wire(settings).await?;
        let client_address = match &settings.server.client_ip_header {
            None => ClientAddressSource::Peer,
            Some(name) => ClientAddressSource::Header(name.parse().map_err(|_| {
                StartupError::Settings(format!(
                    "server.client_ip_header {name:?} is not a header name"
                ))
            })?),
        };
        let cursor_key = store.server_secret("change-cursor").await?;
        let link_pass_key = store.server_secret("link-pass").await?;
        let csrf_key = store.server_secret("session-csrf").await?;
        let router = coffer_api::app(
            ApiState {
                cursors: coffer_api::CursorCodec::new(cursor_key),
                link_passes: coffer_api::LinkPasses::new(link_pass_key),
                sessions: coffer_api::SessionCookies::new(csrf_key, settings.server.secure_cookies),
                accounts: use_cases.accounts.clone(),
                admin: use_cases.admin.clone(),
                files: use_cases.files.clone(),
                plugins: use_cases.plugins.clone(),
                readiness: use_cases.readiness.clone(),
                client_address,
            },
            coffer_web::router(),
        );
        let address = settings.server.listen;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Listen { address, source })?;
        Ok(Self {
            listener,
            router,
            store,
            use_cases,
            shutdown_grace: settings.server.shutdown_grace,
            gc_interval: settings.storage.gc_interval,
            plugin_refresh: settings.plugins.refresh_interval,
            connection_limits,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// The file use cases (for operator tasks such as garbage collection).
    pub fn files(&self) -> coffer_application::files::Files {
        self.use_cases.files.clone()
    }

    /// Whether no account exists yet (to tell the operator how to create the first).
    pub async fn has_no_accounts(&self) -> bool {
        self.use_cases
            .admin
            .list_users(Actor::Operator, None, 1)
            .await
            .is_ok_and(|page| page.users.is_empty())
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish (for at most the
    /// configured grace period) and closes the database pool.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stopping, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stopping.send(true);
        });
        let mut stop_serving = stop.clone();
        let mut stop_waiting = stop.clone();
        if !self.plugin_refresh.is_zero() {
            tokio::spawn(refresh_plugins_periodically(
                self.use_cases.plugin_host.clone(),
                self.plugin_refresh,
                stop.clone(),
            ));
        }
        if !self.gc_interval.is_zero() {
            tokio::spawn(collect_garbage_periodically(
                self.use_cases.files.clone(),
                self.gc_interval,
                stop,
            ));
        }
        let graceful = crate::connections::serve(
            self.listener,
            self.router,
            self.connection_limits,
            async move {
                let _ = stop_serving.wait_for(|stop| *stop).await;
            },
        );
        let grace = self.shutdown_grace;
        tokio::select! {
            () = graceful => {}
            () = async move {
                let _ = stop_waiting.wait_for(|stop| *stop).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "grace period over: dropping requests still in flight");
            }
        };
        self.store.close().await;
        Ok(())
    }
}

/// The connection limits of `server.*`, checked to be usable.
fn connection_limits(settings: &Settings) -> Result<ConnectionLimits, StartupError> {
    let server = &settings.server;
    for (name, timeout) in [
        ("server.header_read_timeout", server.header_read_timeout),
        ("server.body_idle_timeout", server.body_idle_timeout),
        ("server.keep_alive_timeout", server.keep_alive_timeout),
    ] {
        if timeout.is_zero() {
            return Err(StartupError::Settings(format!("{name} must be positive")));
        }
    }
    if server.max_connections == 0 {
        return Err(StartupError::Settings(
            "server.max_connections must be positive".into(),
        ));
    }
    Ok(ConnectionLimits {
        header_read_timeout: server.header_read_timeout,
        body_idle_timeout: server.body_idle_timeout,
        keep_alive_timeout: server.keep_alive_timeout,
        max_connections: usize::try_from(server.max_connections).unwrap_or(usize::MAX),
    })
}

/// Runs garbage collection every `interval` until `stop` turns true. Failures are logged and
/// retried at the next interval.
async fn collect_garbage_periodically(
    files: Files,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if let Err(err) = files.collect_garbage(&mut |_| {}).await {
            tracing::error!(error = %err, "garbage collection failed");
        }
    }
}

/// Picks up plugin changes made through any instance, every `interval`, until `stop`.
async fn refresh_plugins_periodically(
    host: PluginHost,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if let Err(err) = host.refresh().await {
            tracing::error!(error = %err, "reloading plugins failed");
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
