//! The one typed settings struct, loaded from an optional TOML file and `COFFER_` environment
//! overrides. Nothing else in Coffer reads configuration from the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything configurable. Every field has a default, so no configuration is needed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener.
    pub server: ServerSettings,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Where local data lives.
    pub storage: StorageSettings,
    /// Accounts, sign-up and login.
    pub accounts: AccountSettings,
    /// Logs and traces.
    pub telemetry: TelemetrySettings,
    /// The plugin runtime.
    pub plugins: PluginSettings,
}

/// The plugin runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// Where compiled plugins are cached (default `<data_dir>/plugin-cache`).
    pub cache_dir: Option<PathBuf>,
    /// How often each instance checks whether an administrator changed the plugins.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
    /// Most plugin calls running at once on this instance.
    pub max_concurrent_calls: u32,
    /// Most calls of one plugin running at once on this instance (so that one slow plugin
    /// cannot take every slot from the others).
    pub max_concurrent_calls_per_plugin: u32,
    /// Threads that run plugin code, apart from the threads that serve requests.
    pub guest_threads: usize,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            cache_dir: None,
            refresh_interval: Duration::from_secs(1),
            max_concurrent_calls: 64,
            max_concurrent_calls_per_plugin: 16,
            guest_threads: 2,
        }
    }
}

/// HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Header a trusted reverse proxy sets to the client's address (e.g. `x-forwarded-for`);
    /// unset when clients connect directly. Never set it without such a proxy: clients could
    /// forge it to dodge login throttling.
    pub client_ip_header: Option<String>,
    /// How long shutdown waits for requests in flight.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's head (the request line and headers),
    /// from when the connection opens or the first byte of the next request arrives.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long a request body may go without a byte arriving, or a response without a byte
    /// leaving, before the connection is closed. A slow upload that keeps sending is not cut.
    #[serde(with = "humantime_serde")]
    pub body_idle_timeout: Duration,
    /// How long a connection may wait idle between requests before it is closed.
    #[serde(with = "humantime_serde")]
    pub keep_alive_timeout: Duration,
    /// Most connections open at once; further clients wait in the listen backlog. Keep it below
    /// the process's file-descriptor limit, less what the database pool and block store need.
    pub max_connections: u32,
    /// Mark the browser session cookie `Secure` always (set it when the server is reached over
    /// HTTPS through a proxy that does not send `X-Forwarded-Proto: https`; with that header
    /// the cookie is `Secure` anyway).
    pub secure_cookies: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            client_ip_header: None,
            shutdown_grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 4096,
            secure_cookies: false,
        }
    }
}

/// Database connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://<path>` or `postgres://user:password@host/db`; defaults to
    /// `<data_dir>/coffer.db`.
    pub url: Option<SecretUrl>,
    /// Connection pool size.
    pub max_connections: u32,
    /// Longest a PostgreSQL statement may run before it is cancelled (the request then answers
    /// 503 `service_unavailable`).
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// A URL that may carry a password: shown with the password masked.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    /// The URL itself, password included: for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return url.clone();
        };
        let authority_end = url[scheme_end..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| scheme_end + i);
        let Some(at) = url[scheme_end..authority_end]
            .rfind('@')
            .map(|i| scheme_end + i)
        else {
            return url.clone();
        };
        match url[scheme_end..at].find(':') {
            Some(colon) => format!("{}:***{}", &url[..scheme_end + colon], &url[at..]),
            None => url.clone(),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A secret (password, key): never printed. `Debug` and `coffer config` show `<redacted>`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
    /// The secret itself: for the client that needs it only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<redacted>"
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "<redacted>" })
    }
}

/// Where block bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    /// Files under `storage.blocks_dir`.
    Local,
    /// Objects in an S3-compatible bucket (`storage.s3`).
    S3,
}

/// Where data lives, and how long deleted data is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Directory for the embedded database and local blocks.
    pub data_dir: PathBuf,
    /// Where block bytes go.
    pub backend: BlobBackend,
    /// Local block directory (default `<data_dir>/blocks`).
    pub blocks_dir: Option<PathBuf>,
    /// The bucket, with `backend = "s3"`.
    pub s3: S3StorageSettings,
    /// How long trashed items are kept before they are deleted for good.
    #[serde(with = "humantime_serde")]
    pub trash_retention: Duration,
    /// How long replaced file revisions are kept.
    #[serde(with = "humantime_serde")]
    pub revision_retention: Duration,
    /// How long change-journal entries are kept (sync cursors older than that must list again).
    #[serde(with = "humantime_serde")]
    pub journal_retention: Duration,
    /// How long unreferenced blocks are kept (must exceed the longest upload).
    #[serde(with = "humantime_serde")]
    pub block_grace: Duration,
    /// How long a resumable or delta upload session lives after its last append before it is
    /// abandoned and its blocks collected.
    #[serde(with = "humantime_serde")]
    pub upload_expiry: Duration,
    /// How often garbage collection runs in the background (`0s`: never; use
    /// `coffer admin gc`).
    #[serde(with = "humantime_serde")]
    pub gc_interval: Duration,
    /// Most entries one folder copy may create.
    pub max_copy_entries: u32,
    /// With `backend = "local"`: `/readyz` reports not ready while less than this many bytes
    /// are free for the block directory.
    pub min_free_bytes: u64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./coffer-data"),
            backend: BlobBackend::Local,
            blocks_dir: None,
            s3: S3StorageSettings::default(),
            trash_retention: Duration::from_secs(30 * 24 * 3600),
            revision_retention: Duration::from_secs(30 * 24 * 3600),
            journal_retention: Duration::from_secs(60 * 24 * 3600),
            block_grace: Duration::from_secs(24 * 3600),
            upload_expiry: Duration::from_secs(7 * 24 * 3600),
            gc_interval: Duration::from_secs(3600),
            max_copy_entries: 10_000,
            min_free_bytes: 64 << 20,
        }
    }
}

/// An S3-compatible bucket (AWS, Garage, MinIO, ...).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3StorageSettings {
    /// Endpoint URL; unset for AWS itself.
    pub endpoint: Option<String>,
    /// Region (`garage` for Garage's default).
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Path-style addressing (`endpoint/bucket/key`), which Garage and MinIO need.
    pub force_path_style: bool,
    /// Prefix of every key Coffer writes (to share a bucket).
    pub key_prefix: String,
    /// Longest wait to connect to the endpoint.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest one attempt of a request may take until its answer begins, and longest a body
    /// being read may stall.
    #[serde(with = "humantime_serde")]
    pub attempt_timeout: Duration,
    /// Longest a request may take until its answer begins, retries included.
    #[serde(with = "humantime_serde")]
    pub operation_timeout: Duration,
}

impl Default for S3StorageSettings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: String::new(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            force_path_style: true,
            key_prefix: String::new(),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(60),
        }
    }
}

/// Who may sign up through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignupMode {
    /// Anyone.
    Open,
    /// With an invitation from an administrator (the first account needs none).
    InviteOnly,
    /// Nobody; accounts are created with `coffer admin create-user`.
    Closed,
}

/// Accounts, sign-up and login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// Sign-up policy.
    pub signup: SignupMode,
    /// How long a login token works.
    #[serde(with = "humantime_serde")]
    pub token_lifetime: Duration,
    /// How long an invitation can be used.
    #[serde(with = "humantime_serde")]
    pub invite_lifetime: Duration,
    /// Storage quota of accounts without their own, in bytes.
    pub default_quota_bytes: u64,
    /// argon2id cost.
    pub password_hashing: PasswordHashingSettings,
    /// Failed-login throttling.
    pub login_throttle: LoginThrottleSettings,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            signup: SignupMode::InviteOnly,
            token_lifetime: Duration::from_secs(30 * 24 * 3600),
            invite_lifetime: Duration::from_secs(7 * 24 * 3600),
            default_quota_bytes: 10 << 30,
            password_hashing: PasswordHashingSettings::default(),
            login_throttle: LoginThrottleSettings::default(),
        }
    }
}

/// argon2id cost (defaults: the hasher's, OWASP's 19 MiB, 2 iterations, 1 lane).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordHashingSettings {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordHashingSettings {
    fn default() -> Self {
        let params = coffer_security::Argon2Params::default();
        Self {
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
        }
    }
}

/// Failed-login throttling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginThrottleSettings {
    /// Failures per account within the window before a lockout.
    pub account_failures: u32,
    /// Failures per client address within the window before a lockout.
    pub address_failures: u32,
    /// Members one account may add (or invite) within the window before it must wait.
    pub member_additions: u32,
    /// How long failures are remembered.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// First lockout; doubles with each further failure.
    #[serde(with = "humantime_serde")]
    pub lockout: Duration,
    /// Longest lockout.
    #[serde(with = "humantime_serde")]
    pub max_lockout: Duration,
}

impl Default for LoginThrottleSettings {
    fn default() -> Self {
        let rules = coffer_security::ThrottleRules::default();
        Self {
            account_failures: rules.account_failures,
            address_failures: rules.address_failures,
            member_additions: rules.member_additions,
            window: rules.window,
            lockout: rules.lockout,
            max_lockout: rules.max_lockout,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Logs and traces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Log line format.
    pub log_format: LogFormat,
    /// Which logs to keep, as a tracing filter (e.g. `info,coffer_sql=debug`).
    pub log_filter: String,
    /// Base URL of an OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`); traces are exported
    /// there when set.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of exported traces.
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Human,
            log_filter: "info".into(),
            otlp_endpoint: None,
            service_name: "coffer".into(),
        }
    }
}

/// Settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(#[from] Box<figment::Error>);

impl Settings {
    /// Defaults, then the TOML file (if given and present, or `coffer.toml` if present), then
    /// environment variables `COFFER_<SECTION>__<KEY>` (e.g. `COFFER_DATABASE__URL`).
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::figment(file, Env::raw())
    }

    fn figment(file: Option<&Path>, env: Env) -> Result<Self, SettingsError> {
        let file = file.unwrap_or(Path::new("coffer.toml"));
        // Only COFFER_SECTION__KEY variables are settings; others (COFFER_CONFIG, test
        // variables) are not, and must not trip `deny_unknown_fields`.
        let env = env
            .filter_map(|key| {
                let key = key.as_str();
                let setting = key
                    .strip_prefix("COFFER_")
                    .or(key.strip_prefix("coffer_"))?;
                setting.contains("__").then(|| setting.to_owned().into())
            })
            .split("__");
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(env)
            .extract()
            .map_err(|e| SettingsError(Box::new(e)))
    }

    /// Where compiled plugins are cached.
    pub fn plugin_cache_dir(&self) -> PathBuf {
        self.plugins
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.storage.data_dir.join("plugin-cache"))
    }

    /// The local block directory in force.
    pub fn blocks_dir(&self) -> PathBuf {
        self.storage
            .blocks_dir
            .clone()
            .unwrap_or_else(|| self.storage.data_dir.join("blocks"))
    }

    /// Scratch space for bodies checked whole before they are kept (appends with
    /// `Upload-Checksum`): `<data_dir>/scratch`.
    pub fn scratch_dir(&self) -> PathBuf {
        self.storage.data_dir.join("scratch")
    }

    /// The database URL in force: the configured one, or the embedded SQLite file.
    pub fn database_url(&self) -> SecretUrl {
        self.database.url.clone().unwrap_or_else(|| {
            SecretUrl::new(format!(
                "sqlite://{}",
                self.storage.data_dir.join("coffer.db").display()
            ))
        })
    }
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use super::*;

    fn load_in_jail() -> Result<Settings, SettingsError> {
        Settings::load(None)
    }

    #[test]
    fn defaults_need_no_configuration() {
        Jail::expect_with(|_| {
            let s = load_in_jail().unwrap();
            assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(
                s.database_url().expose(),
                "sqlite://./coffer-data/coffer.db"
            );
            assert_eq!(s.accounts.signup, SignupMode::InviteOnly);
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_override_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "coffer.toml",
                r#"
                [server]
                listen = "0.0.0.0:9000"
                [accounts]
                signup = "open"
                token_lifetime = "2h"
                "#,
            )?;
            jail.set_env("COFFER_ACCOUNTS__SIGNUP", "closed");
            jail.set_env("COFFER_DATABASE__URL", "postgres://u:pw@db/coffer");
            jail.set_env("COFFER_CONFIG", "ignored: not a setting");
            jail.set_env("COFFER_TEST_POSTGRES_URL", "ignored too");
            let s = load_in_jail().unwrap();
            assert_eq!(s.server.listen.port(), 9000);
            assert_eq!(s.accounts.signup, SignupMode::Closed);
            assert_eq!(s.accounts.token_lifetime, Duration::from_secs(7200));
            assert_eq!(s.database_url().expose(), "postgres://u:pw@db/coffer");
            Ok(())
        });
    }

    #[test]
    fn connection_limits_have_defaults_and_can_be_set() {
        Jail::expect_with(|jail| {
            let s = load_in_jail().unwrap();
            assert_eq!(s.server.header_read_timeout, Duration::from_secs(30));
            assert_eq!(s.server.body_idle_timeout, Duration::from_secs(60));
            assert_eq!(s.server.keep_alive_timeout, Duration::from_secs(75));
            assert_eq!(s.server.max_connections, 4096);
            jail.create_file("coffer.toml", "[server]\nheader_read_timeout = \"5s\"\n")?;
            jail.set_env("COFFER_SERVER__MAX_CONNECTIONS", "200");
            let s = load_in_jail().unwrap();
            assert_eq!(s.server.header_read_timeout, Duration::from_secs(5));
            assert_eq!(s.server.max_connections, 200);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        Jail::expect_with(|jail| {
            jail.create_file("coffer.toml", "[server]\nlisten_on = \"x\"\n")?;
            let err = load_in_jail().unwrap_err().to_string();
            assert!(err.contains("listen_on"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("COFFER_ACCOUNTS__SIGNUP", "sometimes");
            let err = load_in_jail().unwrap_err().to_string();
            assert!(err.contains("sometimes"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn passwords_in_urls_never_print() {
        let url = SecretUrl::new("postgres://coffer:hunter2@db:5432/coffer?sslmode=require");
        assert_eq!(
            url.redacted(),
            "postgres://coffer:***@db:5432/coffer?sslmode=require"
        );
        let settings = Settings {
            database: DatabaseSettings {
                url: Some(url),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
        let mut s3 = Settings::default();
        s3.storage.s3.secret_access_key = Secret::new("hunter3");
        assert!(!format!("{s3:?}").contains("hunter3"));
        assert!(!toml::to_string(&s3).unwrap().contains("hunter3"));
        for plain in [
            "sqlite://./x.db",
            "postgres://coffer@db/x",
            "postgres://db/x",
        ] {
            assert_eq!(SecretUrl::new(plain).redacted(), plain);
        }
    }
}
