//! Harness for black-box tests: the whole server, spawned in-process on port 0 with a fresh
//! database, driven over real HTTP.

use std::net::SocketAddr;

pub use coffer_server::settings::{Settings, SignupMode};
pub use coffer_sql::Backend;
use coffer_sql::testing::TestDatabase;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Generates `sqlite::<test>` and `postgres::<test>` for each listed `async fn(Backend)`, so the
/// test output shows every HTTP test passing on both databases.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $test() { super::$test($crate::Backend::Sqlite).await } )*
        }
        mod postgres {
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
    stop: Option<oneshot::Sender<()>>,
    _data: tempfile::TempDir,
    _database: TestDatabase,
}

impl TestApp {
    /// A server on `backend` with open sign-up and cheap password hashing.
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
        configure(&mut settings);

        let server = coffer_server::Server::build(&settings)
            .await
            .expect("server starts");
        let address = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{address}"),
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            stop: Some(stop),
            _data: data,
            _database: database,
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
