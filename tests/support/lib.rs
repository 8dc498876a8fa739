//! Harness for black-box tests: the whole server, spawned in-process on port 0 with a fresh
//! database, driven over real HTTP.

use std::net::SocketAddr;

mod raw;
pub use raw::{RawConnection, RawResponse};

pub use coffer_server::settings::{Settings, SignupMode};
pub use coffer_sql::Backend;
use coffer_sql::testing::TestDatabase;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Generates `sqlite_disk::<test>` and `postgres_s3::<test>` for each listed
/// `async fn(Backend)`, so the test output shows every HTTP test passing on both stacks:
/// SQLite with blocks on local disk, and PostgreSQL with blocks in S3 (the test Garage).
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite_disk {
            $( #[tokio::test] async fn $test() { super::$test($crate::Backend::Sqlite).await } )*
        }
        mod postgres_s3 {
            $( #[tokio::test] async fn $test() { super::$test($crate::Backend::Postgres).await } )*
        }
    };
}

/// The password of every account the helpers create.
pub const PASSWORD: &str = "correct horse battery";

/// A running server and a client for it. Dropping it stops the server and drops its database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The address the server listens on.
    pub address: SocketAddr,
    /// An HTTP client (no cookies, no redirects).
    pub client: reqwest::Client,
    /// The file use cases of the running server (for garbage collection, as `coffer admin gc`).
    pub files: coffer_application::files::Files,
    /// A view of the server's block store, to check what is stored.
    pub blobs: std::sync::Arc<dyn coffer_application::ports::BlobStore>,
    /// The local block directory (used by the SQLite stack).
    pub blocks_dir: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    settings: Settings,
    _data: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

impl TestApp {
    /// A server on `backend` (SQLite with local blocks, or PostgreSQL with S3 blocks) with open
    /// sign-up and cheap password hashing.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with settings adjusted by `configure`.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let database = TestDatabase::new(backend).await;
        let data = tempfile::tempdir().expect("temporary data directory");
        let mut settings = Settings::default();
        settings.server.listen = "127.0.0.1:0".parse().unwrap();
        settings.database.url = Some(coffer_server::settings::SecretUrl::new(database.url()));
        settings.storage.data_dir = data.path().to_owned();
        settings.accounts.signup = SignupMode::Open;
        // Real argon2id, at the lowest cost: tests measure behaviour, not hashing strength.
        settings.accounts.password_hashing.memory_kib = 64;
        settings.accounts.password_hashing.iterations = 1;
        // Garbage collection runs when a test asks for it.
        settings.storage.gc_interval = std::time::Duration::ZERO;
        // Compiled plugins are shared by the tests (keyed by digest and engine); few call slots.
        settings.plugins.cache_dir = Some(coffer_plugins::testing::shared_compile_cache());
        settings.plugins.max_concurrent_calls = 8;
        if backend == Backend::Postgres {
            use coffer_server::settings::{BlobBackend, Secret};
            let s3 = coffer_blob::testing::TestBlobStores::s3_settings();
            settings.storage.backend = BlobBackend::S3;
            settings.storage.s3.endpoint = s3.endpoint.clone();
            settings.storage.s3.region = s3.region.clone();
            settings.storage.s3.bucket = s3.bucket.clone();
            settings.storage.s3.access_key_id = s3.access_key_id.clone();
            settings.storage.s3.secret_access_key = Secret::new(s3.secret_access_key);
            settings.storage.s3.key_prefix = s3.key_prefix;
        }
        configure(&mut settings);
        let mut app = Self::start(settings).await;
        app._data = Some(data);
        app._database = Some(database);
        app
    }

    /// A second server on this one's database and block store: another instance of the same
    /// installation (it stops with itself; the data stays with the first).
    pub async fn spawn_sibling(&self) -> Self {
        Self::start(self.settings.clone()).await
    }

    /// Like [`TestApp::spawn_sibling`], with this one's settings adjusted by `configure`.
    pub async fn spawn_sibling_with(&self, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.settings.clone();
        configure(&mut settings);
        Self::start(settings).await
    }

    async fn start(settings: Settings) -> Self {
        let blobs = coffer_server::app::blob_store(&settings)
            .await
            .expect("block store opens");
        let server = coffer_server::Server::build(&settings)
            .await
            .expect("server starts");
        let address = server.local_addr();
        let files = server.files();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{address}"),
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // Never reuse a connection the server may be closing as idle.
                .pool_idle_timeout(settings.server.keep_alive_timeout / 2)
                .build()
                .unwrap(),
            files,
            blobs,
            blocks_dir: settings.blocks_dir(),
            stop: Some(stop),
            settings,
            _data: None,
            _database: None,
        }
    }

    /// A request to `path` (relative to the server root, e.g. `/api/v1/account`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// `method path` with a JSON body and an optional bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.request(method, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request reaches the server")
    }

    /// Signs up `email` and returns the account JSON (asserting 201).
    pub async fn sign_up(&self, email: &str) -> Value {
        let response = self
            .call(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({ "email": email, "password": PASSWORD })),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {email}");
        response.json().await.unwrap()
    }

    /// Logs in and returns the bearer token (asserting 200).
    pub async fn log_in(&self, email: &str) -> String {
        let response = self.try_log_in(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {email}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Attempts a login.
    pub async fn try_log_in(&self, email: &str, password: &str) -> Response {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "email": email, "password": password })),
        )
        .await
    }

    /// Signs up and logs in; returns (account JSON, token).
    pub async fn user(&self, email: &str) -> (Value, String) {
        let account = self.sign_up(email).await;
        let token = self.log_in(email).await;
        (account, token)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts a problem response: status, content type, code, and the RFC 9457 members. Returns
/// the body for further checks.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of a {code} problem");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], format!("urn:coffer:problem:{code}"));
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// Dropbox's content hash of `data`, computed independently of the server.
pub fn dropbox_content_hash(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut digests = Vec::new();
    for block in data.chunks(4 * 1024 * 1024) {
        digests.extend_from_slice(&Sha256::digest(block));
    }
    hex::encode(Sha256::digest(&digests))
}

/// Deterministic, non-repeating test content.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

impl TestApp {
    /// `PUT /api/v1/files/content?<query>` with `body`.
    pub async fn put(&self, token: &str, query: &str, body: Vec<u8>) -> Response {
        self.request(Method::PUT, &format!("/api/v1/files/content?{query}"))
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .expect("request reaches the server")
    }

    /// Uploads `body` to `path` (mode add), asserting 201; returns the metadata.
    pub async fn upload(&self, token: &str, path: &str, body: &[u8]) -> Value {
        let response = self
            .put(token, &format!("path={}", encode(path)), body.to_vec())
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "upload of {path}");
        response.json().await.unwrap()
    }

    /// Downloads `path` whole, asserting 200.
    pub async fn download(&self, token: &str, path: &str) -> Vec<u8> {
        let response = self
            .request(
                Method::GET,
                &format!("/api/v1/files/content?path={}", encode(path)),
            )
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "download of {path}");
        response.bytes().await.unwrap().to_vec()
    }

    /// `GET` with a bearer token, returning the JSON body (asserting 200).
    pub async fn get_json(&self, token: &str, path_and_query: &str) -> Value {
        let response = self
            .call(Method::GET, path_and_query, Some(token), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path_and_query}");
        response.json().await.unwrap()
    }

    /// Ends every other session on the PostgreSQL database (as an administrator or a failover
    /// would); returns how many (0 on SQLite).
    pub async fn terminate_database_sessions(&self) -> u64 {
        match &self._database {
            Some(database) => database.terminate_sessions().await,
            None => 0,
        }
    }

    /// Runs a garbage collection now.
    pub async fn collect_garbage(&self) -> coffer_application::files::GcReport {
        self.files
            .collect_garbage(&mut |_| {})
            .await
            .expect("garbage collection")
    }
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
