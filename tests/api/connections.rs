//! Connections: slow, stalled and idle clients are cut off, the number of connections is
//! bounded, long requests are not cut, and an early answer never strands the client's next
//! request on a connection the server is closing.

use std::time::Duration;

use bytes::Bytes;
use coffer_tests::{Backend, RawConnection, Settings, TestApp, content, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    stalled_and_idle_clients_are_disconnected,
    connections_beyond_the_limit_wait_for_a_free_slot,
    longpolls_and_steady_uploads_outlast_the_timeouts,
    early_answers_keep_the_connection_usable_or_say_it_closes,
);

/// How long the server may take to act on a one-second timeout on a busy machine.
const PATIENCE: Duration = Duration::from_secs(15);

fn one_second_timeouts(settings: &mut Settings) {
    settings.server.header_read_timeout = Duration::from_secs(1);
    settings.server.body_idle_timeout = Duration::from_secs(1);
    settings.server.keep_alive_timeout = Duration::from_secs(1);
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: coffer\r\n\r\n";

async fn stalled_and_idle_clients_are_disconnected(backend: Backend) {
    let app = TestApp::spawn_with(backend, one_second_timeouts).await;
    let (_, token) = app.user("a@example.org").await;

    // A head that never ends.
    let mut half_head = RawConnection::open(app.address).await;
    half_head
        .send(b"GET /healthz HTTP/1.1\r\nHost: coffer\r\n")
        .await
        .unwrap();
    // A head trickling in, each byte in time, but too slow as a whole.
    let mut trickle = RawConnection::open(app.address).await;
    trickle
        .send(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        .await
        .unwrap();
    // A body that stops coming.
    let mut stalled_body = RawConnection::open(app.address).await;
    let head = format!(
        "PUT /api/v1/files/content?path=/stalled.bin HTTP/1.1\r\nHost: coffer\r\n\
         Authorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n"
    );
    stalled_body.send(head.as_bytes()).await.unwrap();
    stalled_body.send(&[b'x'; 100]).await.unwrap();
    // A kept-alive connection left idle.
    let mut idle = RawConnection::open(app.address).await;
    idle.send(HEALTH).await.unwrap();
    assert_eq!(idle.response().await.expect("an answer").status, 200);

    let trickling = async {
        let started = tokio::time::Instant::now();
        while started.elapsed() < PATIENCE {
            if trickle.send(b"a").await.is_err() {
                return;
            }
            if tokio::time::timeout(Duration::from_millis(200), trickle.closed())
                .await
                .is_ok()
            {
                return;
            }
        }
        panic!("a head trickling in for {PATIENCE:?} was not cut off");
    };
    let stalled_answer = async {
        let answer = tokio::time::timeout(PATIENCE, stalled_body.response())
            .await
            .expect("a stalled body is cut off")
            .expect("with an answer");
        tokio::time::timeout(PATIENCE, stalled_body.closed())
            .await
            .expect("and its connection closed");
        answer
    };
    let (half_head_closed, (), answer, idle_closed) = tokio::join!(
        tokio::time::timeout(PATIENCE, half_head.closed()),
        trickling,
        stalled_answer,
        tokio::time::timeout(PATIENCE, idle.closed()),
    );
    assert!(
        half_head_closed.is_ok(),
        "a half-sent head is cut off after the header timeout"
    );
    assert!(
        idle_closed.is_ok_and(|rest| rest.is_empty()),
        "an idle kept-alive connection is closed, silently"
    );
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.closes(), "{answer:?}");
    let problem: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(problem["code"], "upload_incomplete");

    // Nothing of the stalled upload was stored, and the server still serves.
    let metadata = app
        .call(
            Method::GET,
            "/api/v1/files/metadata?path=/stalled.bin",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(metadata.status(), StatusCode::NOT_FOUND);
}

async fn connections_beyond_the_limit_wait_for_a_free_slot(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.server.max_connections = 2).await;
    let mut first = RawConnection::open(app.address).await;
    let mut second = RawConnection::open(app.address).await;
    for connection in [&mut first, &mut second] {
        connection.send(HEALTH).await.unwrap();
        assert_eq!(connection.response().await.expect("an answer").status, 200);
    }
    // Both stay open (kept alive); a third client waits in the backlog...
    let mut third = RawConnection::open(app.address).await;
    third.send(HEALTH).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.response())
            .await
            .is_err(),
        "a third connection is served while two are open"
    );
    // ...until one of the first two leaves.
    drop(first);
    let answer = tokio::time::timeout(PATIENCE, third.response())
        .await
        .expect("the third connection is served once a slot is free")
        .expect("an answer");
    assert_eq!(answer.status, 200);
    second.send(HEALTH).await.unwrap();
    assert_eq!(second.response().await.expect("an answer").status, 200);
}

async fn longpolls_and_steady_uploads_outlast_the_timeouts(backend: Backend) {
    let app = TestApp::spawn_with(backend, one_second_timeouts).await;
    let (_, token) = app.user("a@example.org").await;
    let cursor = app
        .get_json(&token, "/api/v1/files/list/latest-cursor")
        .await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let longpoll = app.call(
        Method::POST,
        "/api/v1/files/list/longpoll",
        None,
        Some(json!({"cursor": cursor, "timeout": 30})),
    );
    let data = content(8 * 1024, 7);
    let steady_upload = async {
        // The longpoll waits past every timeout first.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // A body of 16 pieces, one every 250 ms: it takes four times the body idle timeout,
        // but never stalls for as long as that.
        let pieces: Vec<Bytes> = data.chunks(512).map(Bytes::copy_from_slice).collect();
        let body = futures_util::stream::unfold(pieces.into_iter(), |mut pieces| async move {
            let piece = pieces.next()?;
            tokio::time::sleep(Duration::from_millis(250)).await;
            Some((Ok::<_, std::io::Error>(piece), pieces))
        });
        app.request(Method::PUT, "/api/v1/files/content?path=/steady.bin")
            .bearer_auth(&token)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .expect("the upload is answered")
    };
    let (polled, uploaded) = tokio::join!(longpoll, steady_upload);
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    assert_eq!(polled.status(), StatusCode::OK);
    assert_eq!(polled.json::<Value>().await.unwrap()["changes"], true);
    assert_eq!(app.download(&token, "/steady.bin").await, data);
}

/// Requests answered before their body was read (refused uploads, a missing token, a body over
/// the limit, a client waiting for `100 Continue`): whatever the answer, either it says
/// `Connection: close` (and the server closes), or the same connection serves the next request.
async fn early_answers_keep_the_connection_usable_or_say_it_closes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.accounts.default_quota_bytes = 64 * 1024).await;
    let (_, admin) = app.user("admin@example.org").await;
    let (_, member) = app.user("member@example.org").await;
    let upload = |token: Option<&str>, length: usize, expect_continue: bool| {
        let mut head = format!(
            "PUT /api/v1/files/content?path=/big.bin HTTP/1.1\r\nHost: coffer\r\n\
             Content-Length: {length}\r\n"
        );
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if expect_continue {
            head.push_str("Expect: 100-continue\r\n");
        }
        head + "\r\n"
    };
    let install = format!(
        "POST /api/v1/admin/plugins HTTP/1.1\r\nHost: coffer\r\nAuthorization: Bearer {member}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\n\r\n",
        8 << 20
    );
    let login = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: coffer\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        3 << 20
    );
    let small = 100 * 1024;
    let large = 8 << 20;
    // (what, head, body bytes sent, expected status, whether the connection must stay usable)
    let cases = [
        (
            "over quota, small",
            upload(Some(&admin), small, false),
            small,
            507,
            true,
        ),
        (
            "over quota, large",
            upload(Some(&admin), large, false),
            large,
            507,
            false,
        ),
        (
            "no token, small",
            upload(None, small, false),
            small,
            401,
            true,
        ),
        (
            "no token, large",
            upload(None, large, false),
            large,
            401,
            false,
        ),
        (
            "no token, expecting 100",
            upload(None, large, true),
            0,
            401,
            false,
        ),
        ("not an administrator", install, 8 << 20, 403, false),
        ("JSON over 2 MiB", login, 3 << 20, 413, false),
    ];
    for (what, head, body_length, status, stays_usable) in cases {
        let mut connection = RawConnection::open(app.address).await;
        let mut request = head.into_bytes();
        request.extend(std::iter::repeat_n(b'{', body_length));
        connection.send_in_background(request);
        let answer = tokio::time::timeout(PATIENCE, connection.response())
            .await
            .unwrap_or_else(|_| panic!("{what}: answered"))
            .unwrap_or_else(|| panic!("{what}: an answer, not a closed connection"));
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        if answer.closes() {
            assert!(
                !stays_usable,
                "{what}: a small body is read, not a reason to close"
            );
            tokio::time::timeout(PATIENCE, connection.closed())
                .await
                .unwrap_or_else(|_| panic!("{what}: the server closes as it said"));
        } else {
            let closed_silently = |err: std::io::Error| {
                panic!("{what}: the connection closed without `Connection: close` ({err})")
            };
            connection.sent().await.unwrap_or_else(closed_silently);
            connection
                .send(HEALTH)
                .await
                .unwrap_or_else(closed_silently);
            let next = tokio::time::timeout(PATIENCE, connection.response())
                .await
                .unwrap_or_else(|_| panic!("{what}: the next request is answered"))
                .unwrap_or_else(|| {
                    panic!("{what}: the connection closed without `Connection: close`")
                });
            assert_eq!(next.status, 200, "{what}");
        }
    }
}
