//! The production topology: two `coffer serve` processes on one PostgreSQL database and one
//! S3-compatible bucket, each with its own (empty) working directory. What one does, the other
//! serves: files, change notifications, and plugin changes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer_sql::Backend;
use coffer_sql::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The settings both instances share, as an operator would give them: the environment.
fn shared_settings(database_url: &str) -> Vec<(String, String)> {
    let s3 = coffer_blob::testing::TestBlobStores::s3_settings();
    let mut settings = vec![
        ("COFFER_DATABASE__URL", database_url.to_owned()),
        ("COFFER_STORAGE__BACKEND", "s3".into()),
        (
            "COFFER_STORAGE__S3__ENDPOINT",
            s3.endpoint.unwrap_or_default(),
        ),
        ("COFFER_STORAGE__S3__REGION", s3.region),
        ("COFFER_STORAGE__S3__BUCKET", s3.bucket),
        ("COFFER_STORAGE__S3__ACCESS_KEY_ID", s3.access_key_id),
        (
            "COFFER_STORAGE__S3__SECRET_ACCESS_KEY",
            s3.secret_access_key,
        ),
        (
            "COFFER_STORAGE__S3__FORCE_PATH_STYLE",
            s3.force_path_style.to_string(),
        ),
        ("COFFER_STORAGE__S3__KEY_PREFIX", s3.key_prefix),
        ("COFFER_ACCOUNTS__PASSWORD_HASHING__MEMORY_KIB", "64".into()),
        ("COFFER_ACCOUNTS__PASSWORD_HASHING__ITERATIONS", "1".into()),
    ];
    settings.push(("COFFER_SERVER__LISTEN", "127.0.0.1:0".into()));
    settings
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn coffer(dir: &Path, settings: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coffer"));
    command
        .current_dir(dir)
        .env_remove("COFFER_CONFIG")
        .envs(settings.iter().map(|(k, v)| (k, v)));
    command
}

/// A running `coffer serve`, stopped when dropped.
struct Instance {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Instance {
    fn start(settings: &[(String, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = coffer(dir.path(), settings)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("coffer starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("a first line").unwrap();
        let url = first
            .strip_prefix("Coffer is listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        // Keep reading the banner so that the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            url,
            _dir: dir,
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn operator(settings: &[(String, String)], args: &[&str], stdin: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = coffer(dir.path(), settings)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "coffer {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn get_json(http: &reqwest::Client, url: String, token: &str) -> Value {
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn upload(
    http: &reqwest::Client,
    instance: &Instance,
    token: &str,
    path: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    http.put(instance.api(&format!("/files/content?path={path}")))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_instances_serve_one_installation() {
    let db = TestDatabase::new(Backend::Postgres).await;
    let settings = shared_settings(db.url());
    let a = Instance::start(&settings);
    let b = Instance::start(&settings);
    let http = reqwest::Client::new();
    operator(
        &settings,
        &[
            "admin",
            "create-user",
            "--email",
            "root@example.org",
            "--admin",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    let login: Value = http
        .post(a.api("/auth/login"))
        .json(&json!({"email": "root@example.org", "password": "a long enough password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();

    // Uploaded through one, downloaded through the other (several blocks, in the bucket).
    let content: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    let stored = upload(&http, &a, &token, "/big.bin", content.clone()).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
    let stored: Value = stored.json().await.unwrap();
    let downloaded = http
        .get(b.api("/files/content?path=/big.bin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert!(downloaded.bytes().await.unwrap() == content);
    let metadata = get_json(&http, b.api("/files/metadata?path=/big.bin"), &token).await;
    assert_eq!(metadata["content_hash"], stored["content_hash"]);

    // A longpoll on one wakes on a change through the other.
    let cursor = get_json(&http, b.api("/files/list/latest-cursor"), &token).await;
    let started = Instant::now();
    let poll = http
        .post(b.api("/files/list/longpoll"))
        .json(&json!({"cursor": cursor["cursor"], "timeout": 30}))
        .send();
    let change = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        upload(&http, &a, &token, "/new.txt", b"new".to_vec()).await
    };
    let (answer, changed) = tokio::join!(poll, change);
    assert_eq!(changed.status(), StatusCode::CREATED);
    let answer: Value = answer.unwrap().json().await.unwrap();
    assert_eq!(answer["changes"], true);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "woken by the change, not by the timeout"
    );

    // A resumable (tus) upload started through one finishes through the other: its state is in
    // the database and its blocks in the bucket, not in either process.
    let tus = |method: reqwest::Method, url: String| {
        http.request(method, url)
            .bearer_auth(&token)
            .header("tus-resumable", "1.0.0")
    };
    let resumable: Vec<u8> = (0..6_000_000u32).map(|i| (i % 241) as u8).collect();
    let created = tus(reqwest::Method::POST, a.api("/uploads"))
        .header("upload-length", resumable.len())
        .header("upload-metadata", "path L3R1cy5iaW4=") // base64("/tus.bin")
        .header("content-type", "application/offset+octet-stream")
        .body(resumable[..5_000_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["upload-offset"], "5000000");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let on_b = format!("{}{location}", b.url);
    let head = tus(reqwest::Method::HEAD, on_b.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["upload-offset"], "5000000");
    let finished = tus(reqwest::Method::PATCH, on_b)
        .header("upload-offset", 5_000_000)
        .header("content-type", "application/offset+octet-stream")
        .body(resumable[5_000_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), StatusCode::NO_CONTENT);
    let downloaded = http
        .get(a.api("/files/content?path=/tus.bin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(downloaded.bytes().await.unwrap() == resumable);

    // A plugin installed by the operator and enabled through one is in force on the other
    // within 2 s (each instance looks for plugin changes every second).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plugin.json"),
        r#"{"name": "eicar-scanner", "version": "0.1.0"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scanner.wasm"),
        coffer_plugins::testing::plugin_wasm("eicar-scanner"),
    )
    .unwrap();
    let manifest = dir.path().join("plugin.json");
    let component = dir.path().join("scanner.wasm");
    operator(
        &settings,
        &[
            "admin",
            "plugins",
            "install",
            "--manifest",
            manifest.to_str().unwrap(),
            "--component",
            component.to_str().unwrap(),
        ],
        "",
    );
    let listed = get_json(&http, a.api("/admin/plugins"), &token).await;
    let id = listed["plugins"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        upload(&http, &b, &token, "/before.txt", EICAR.to_vec())
            .await
            .status(),
        StatusCode::CREATED,
        "installed but not enabled"
    );
    let enabled = http
        .post(a.api(&format!("/admin/plugins/{id}/enable")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), StatusCode::OK);
    let enabled_at = Instant::now();
    let mut attempt = 0;
    let refused_after = loop {
        attempt += 1;
        let response = upload(
            &http,
            &b,
            &token,
            &format!("/eicar-{attempt}.txt"),
            EICAR.to_vec(),
        )
        .await;
        if response.status() == StatusCode::FORBIDDEN {
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "refused_by_plugin");
            break enabled_at.elapsed();
        }
        assert_eq!(response.status(), StatusCode::CREATED);
        assert!(
            enabled_at.elapsed() < Duration::from_secs(10),
            "the other instance never applied the plugin"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        refused_after <= Duration::from_secs(2),
        "in force on the other instance after {refused_after:?}"
    );
}
