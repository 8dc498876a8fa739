//! Faults of the dependencies: the block store down or stalled, database sessions ended, a full
//! disk, debris of killed writes. Failures answer 503 (with `Retry-After`) or 507, never 500,
//! and never a body that could pass for a complete file.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use coffer_tests::{Backend, TestApp, assert_problem, content, encode, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

on_both_backends!(
    downloads_answer_503_with_retry_after_while_the_block_store_is_down,
    uploads_answer_503_while_the_block_store_is_down,
    a_download_cut_after_its_headers_cannot_pass_for_complete,
);

/// What the switch between the server and its bucket does with connections.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards them to the test bucket.
    Up,
    /// Closes them at once (the bucket is down).
    Down,
    /// Accepts them and never answers (the bucket is frozen).
    Stalled,
}

/// A TCP relay between the server and the test bucket that can cut or freeze the link, and
/// cuts the connections it relays when it changes.
#[derive(Clone)]
struct BucketSwitch {
    link: Arc<Mutex<Link>>,
    relayed: Arc<Mutex<Vec<AbortHandle>>>,
}

impl BucketSwitch {
    /// Starts a relay to the test bucket; returns it and its endpoint URL.
    async fn start() -> (Self, String) {
        let bucket = std::env::var("COFFER_TEST_S3_ENDPOINT").expect("COFFER_TEST_S3_ENDPOINT");
        let upstream = bucket
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let switch = Self {
            link: Arc::new(Mutex::new(Link::Up)),
            relayed: Arc::new(Mutex::new(Vec::new())),
        };
        let relay = switch.clone();
        tokio::spawn(async move {
            let mut stalled = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let link = *relay.link.lock().unwrap();
                match link {
                    Link::Down => drop(client),
                    Link::Stalled => stalled.push(client),
                    Link::Up => {
                        let upstream = upstream.clone();
                        let task = tokio::spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(&upstream).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                        relay.relayed.lock().unwrap().push(task.abort_handle());
                    }
                }
            }
        });
        (switch, endpoint)
    }

    fn set(&self, link: Link) {
        *self.link.lock().unwrap() = link;
        for task in self.relayed.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// A block store that can be taken down: on the PostgreSQL stack the bucket behind a
/// [`BucketSwitch`], on the SQLite stack the block directory (moved away, like an unmounted
/// disk).
struct Outage {
    switch: Option<BucketSwitch>,
    blocks_dir: std::path::PathBuf,
}

impl Outage {
    async fn spawn(backend: Backend, timeouts: Option<Duration>) -> (TestApp, Self) {
        let switch = match backend {
            Backend::Postgres => Some(BucketSwitch::start().await),
            Backend::Sqlite => None,
        };
        let endpoint = switch.as_ref().map(|(_, endpoint)| endpoint.clone());
        let app = TestApp::spawn_with(backend, |settings| {
            if let Some(endpoint) = endpoint {
                settings.storage.s3.endpoint = Some(endpoint);
            }
            if let Some(timeout) = timeouts {
                settings.storage.s3.connect_timeout = timeout;
                settings.storage.s3.attempt_timeout = timeout;
                settings.storage.s3.operation_timeout = 2 * timeout;
            }
        })
        .await;
        let outage = Self {
            switch: switch.map(|(switch, _)| switch),
            blocks_dir: app.blocks_dir.clone(),
        };
        (app, outage)
    }

    fn down(&self) {
        match &self.switch {
            Some(switch) => switch.set(Link::Down),
            None => {
                std::fs::rename(&self.blocks_dir, self.blocks_dir.with_extension("down")).unwrap()
            }
        }
    }

    fn up(&self) {
        match &self.switch {
            Some(switch) => switch.set(Link::Up),
            None => {
                std::fs::rename(self.blocks_dir.with_extension("down"), &self.blocks_dir).unwrap()
            }
        }
    }

    fn stall(&self) {
        self.switch
            .as_ref()
            .expect("only a bucket can stall")
            .set(Link::Stalled);
    }
}

async fn get_file(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.request(
        Method::GET,
        &format!("/api/v1/files/content?path={}", encode(path)),
    )
    .bearer_auth(token)
    .send()
    .await
    .unwrap()
}

async fn assert_unavailable(response: reqwest::Response) -> Value {
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(seconds >= 1);
    assert_eq!(body["retry_after"], seconds);
    body
}

async fn downloads_answer_503_with_retry_after_while_the_block_store_is_down(backend: Backend) {
    let (app, outage) = Outage::spawn(backend, Some(Duration::from_secs(1))).await;
    let (_, token) = app.user("a@example.org").await;
    let data = content(5 * 1024 * 1024, 1);
    app.upload(&token, "/f.bin", &data).await;

    outage.down();
    assert_unavailable(get_file(&app, &token, "/f.bin").await).await;
    let ranged = app
        .request(Method::GET, "/api/v1/files/content?path=%2Ff.bin")
        .bearer_auth(&token)
        .header("range", "bytes=4194304-")
        .send()
        .await
        .unwrap();
    assert_unavailable(ranged).await;

    outage.up();
    assert_eq!(app.download(&token, "/f.bin").await, data);
}

async fn uploads_answer_503_while_the_block_store_is_down(backend: Backend) {
    let (app, outage) = Outage::spawn(backend, Some(Duration::from_secs(1))).await;
    let (_, token) = app.user("a@example.org").await;
    outage.down();
    let response = app.put(&token, "path=%2Fnew.bin", content(1000, 2)).await;
    assert_unavailable(response).await;
    outage.up();
    app.upload(&token, "/new.bin", &content(1000, 2)).await;
}

/// Blocks after the first are read while the body is sent: if one fails then, the body is cut
/// short of its `Content-Length`, so no client takes it for the whole file.
async fn a_download_cut_after_its_headers_cannot_pass_for_complete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = app.user("a@example.org").await;
    let block = 4 * 1024 * 1024;
    let data = content(5 * block + 10, 3);
    app.upload(&token, "/big.bin", &data).await;
    let response = get_file(&app, &token, "/big.bin").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(data.len() as u64));
    // The last block goes while the first is on its way.
    let last = coffer_domain::files::BlockHash::of(&data[5 * block..]);
    app.blobs.delete(&[last]).await.unwrap();
    let received = response.bytes().await;
    assert!(
        received.is_err(),
        "a cut body must fail, not end short: got {} bytes",
        received.map(|b| b.len()).unwrap_or(0)
    );
}

#[tokio::test]
async fn readiness_answers_within_2_s_while_the_bucket_stalls() {
    // The bucket's own deadlines are the defaults (tens of seconds): the probe bounds itself.
    let (app, outage) = Outage::spawn(Backend::Postgres, None).await;
    outage.stall();
    let started = Instant::now();
    let response = app
        .request(Method::GET, "/readyz")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("/readyz answers");
    let body = assert_unavailable(response).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "/readyz took {:?}",
        started.elapsed()
    );
    assert_eq!(body["check"], "block_store");
    outage.up();
}

#[tokio::test]
async fn requests_fail_within_the_deadlines_while_the_bucket_stalls() {
    let (app, outage) = Outage::spawn(Backend::Postgres, Some(Duration::from_secs(1))).await;
    let (_, token) = app.user("a@example.org").await;
    app.upload(&token, "/f.bin", b"before the freeze").await;
    outage.stall();
    let started = Instant::now();
    let download = get_file(&app, &token, "/f.bin").await;
    assert_unavailable(download).await;
    let upload = app.put(&token, "path=%2Fg.bin", b"during".to_vec()).await;
    assert_unavailable(upload).await;
    // Two requests, each bounded by a 2 s operation deadline (with margin for a busy machine).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    outage.up();
    assert_eq!(app.download(&token, "/f.bin").await, b"before the freeze");
}

#[tokio::test]
async fn requests_go_through_after_the_database_ended_every_session() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (_, token) = app.user("a@example.org").await;
    app.upload(&token, "/f.txt", b"kept").await;
    for round in 0..3 {
        assert!(app.terminate_database_sessions().await >= 1);
        assert_eq!(
            app.download(&token, "/f.txt").await,
            b"kept",
            "round {round}"
        );
        let path = format!("/after-{round}.txt");
        app.upload(&token, &path, b"written").await;
    }
}

#[tokio::test]
async fn readiness_reports_a_full_disk() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.storage.min_free_bytes = u64::MAX;
    })
    .await;
    let response = app.request(Method::GET, "/readyz").send().await.unwrap();
    let body = assert_unavailable(response).await;
    assert_eq!(body["check"], "block_store");
    assert!(body["detail"].as_str().unwrap().contains("full"), "{body}");
}

/// The embedded stack keeps `storage.min_free_bytes` of its disk in reserve: once uploads have
/// eaten up to it, new content is refused with 507 while reading, creating folders, moving,
/// deleting (which frees space) and deduplicated uploads go on working.
#[tokio::test]
async fn a_full_disk_refuses_new_content_and_keeps_everything_else_working() {
    let roomy = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = roomy.user("a@example.org").await;
    let kept = content(300_000, 7);
    roomy.upload(&token, "/kept.bin", &kept).await;
    roomy.upload(&token, "/doomed.bin", b"doomed").await;
    let full = roomy
        .spawn_sibling_with(|settings| settings.storage.min_free_bytes = u64::MAX)
        .await;

    let refused = full.put(&token, "path=/new.bin", content(1000, 8)).await;
    let body = assert_problem(refused, StatusCode::INSUFFICIENT_STORAGE, "storage_full").await;
    assert!(
        !body["detail"].as_str().unwrap().contains('/'),
        "no paths: {body}"
    );
    let listed = full.get_json(&token, "/api/v1/files/list?path=/").await;
    let names: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["doomed.bin", "kept.bin"], "nothing half-stored");

    assert_eq!(full.download(&token, "/kept.bin").await, kept);
    let copy = full
        .put(&token, "path=/copy-of-kept.bin", kept.clone())
        .await;
    assert_eq!(
        copy.status(),
        StatusCode::CREATED,
        "known blocks need no room"
    );
    let folder = full
        .call(
            Method::POST,
            "/api/v1/files/folders",
            Some(&token),
            Some(serde_json::json!({ "path": "/Archive" })),
        )
        .await;
    assert_eq!(folder.status(), StatusCode::CREATED);
    let moved = full
        .call(
            Method::POST,
            "/api/v1/files/move",
            Some(&token),
            Some(serde_json::json!({ "from": "/kept.bin", "to": "/Archive/kept.bin" })),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let deleted = full
        .call(
            Method::POST,
            "/api/v1/files/delete",
            Some(&token),
            Some(serde_json::json!({ "path": "/doomed.bin" })),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
}

#[tokio::test]
async fn garbage_collection_sweeps_temporary_files_of_killed_writes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let shard = app.blocks_dir.join("ab").join("cd");
    std::fs::create_dir_all(&shard).unwrap();
    let debris = shard.join(".tmp-abcd-4242-0");
    std::fs::write(&debris, vec![0u8; 64 * 1024]).unwrap();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&debris)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    let in_flight = shard.join(".tmp-abce-4242-1");
    std::fs::write(&in_flight, b"being written").unwrap();

    let report = app.collect_garbage().await;
    assert_eq!(report.debris_swept, 1);
    assert!(!debris.exists());
    assert!(
        in_flight.exists(),
        "a write within the grace may still be running"
    );
}
