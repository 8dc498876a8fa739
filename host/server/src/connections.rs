//! Serving HTTP/1 connections under limits, so that slow, stalled or idle clients cannot hold
//! the server's connections (and file descriptors) for ever:
//!
//! - a request's head must arrive within `header_read_timeout` of the connection opening, or of
//!   the first byte of the next request on a kept-alive connection;
//! - a request body that sends nothing for `body_idle_timeout` fails (its handler sees a broken
//!   body and answers), and a response that cannot send a byte for as long closes its connection;
//! - a connection idle between requests closes after `keep_alive_timeout`;
//! - at most `max_connections` are open at once; further clients wait in the listen backlog.
//!
//! A request being handled has no time limit of its own: longpolls wait for minutes, and uploads
//! take as long as their bytes keep coming.
//!
//! A handler may answer before it has read its request's body to the end (a refused upload).
//! The rest is then read and discarded if it is small and arrives at once, and the connection
//! serves the next request; otherwise the answer says `Connection: close`, so the client never
//! sends its next request on a connection the server is closing.

use std::convert::Infallible;
use std::future::{Future, pending, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::header::{CONNECTION, EXPECT};
use axum::http::{HeaderValue, Request, Response};
use http_body::Body as _;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// The limits connections are served under (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a request's head may take to arrive.
    pub header_read_timeout: Duration,
    /// How long a request or response body may make no progress.
    pub body_idle_timeout: Duration,
    /// How long a connection may wait idle between requests.
    pub keep_alive_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// At most this much of a request body its handler left unread is read and discarded to keep
/// the connection open...
const DRAIN_BYTES: usize = 256 * 1024;
/// ...and for at most this long; otherwise the connection closes after the answer.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` completes, then lets the open connections
/// finish their requests in flight and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closing_rx) = watch::channel(false);
    let (open, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &permits) => accepted,
        };
        let Some((stream, peer, permit)) = accepted else {
            continue;
        };
        let connection = Connection {
            peer,
            router: router.clone(),
            limits,
            activity: Arc::new(Activity::new()),
        };
        let (closing_signal, open_token) = (closing_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            connection.serve(stream, closing_signal).await;
            drop((open_token, permit));
        });
    }
    drop(listener);
    let _ = closing.send(true);
    drop(open_rx);
    open.closed().await;
}

/// Waits for a free connection slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let permit = permits
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, permit)),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionRefused
            ) =>
        {
            None
        }
        Err(err) => {
            // Most likely out of file descriptors: give connections time to close.
            tracing::error!(error = %err, "cannot accept a connection");
            tokio::time::sleep(Duration::from_secs(1)).await;
            None
        }
    }
}

/// One client connection.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    activity: Arc<Activity>,
}

impl Connection {
    /// Serves requests until the client leaves, a limit is reached, or shutdown is asked for
    /// (then the request in flight, if any, finishes first).
    async fn serve(self, stream: TcpStream, mut closing: watch::Receiver<bool>) {
        let (peer, limits, activity) = (self.peer, self.limits, self.activity.clone());
        let io = TokioIo::new(WatchedStream {
            stream,
            activity: activity.clone(),
        });
        let this = Arc::new(self);
        let service = hyper::service::service_fn(move |request| this.clone().handle(request));
        // The header timeout is ours (hyper's would also cut idle keep-alive connections).
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .keep_alive(true)
            .header_read_timeout(Option::<Duration>::None);
        let mut connection = pin!(builder.serve_connection(io, service));
        let mut shutting_down = false;
        loop {
            let deadline = activity.deadline(&limits);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(err) = served {
                        tracing::debug!(%peer, error = %err, "connection failed");
                    }
                    return;
                }
                () = sleep_until(deadline) => {
                    if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!(%peer, "closing a stalled or idle connection");
                        return;
                    }
                }
                () = activity.changed.notified() => {}
                _ = closing.wait_for(|closing| *closing), if !shutting_down => {
                    shutting_down = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }

    /// Handles one request: its body under the idle timeout, the answer marked
    /// `Connection: close` when the body could not be finished, the connection busy until the
    /// answer's last byte is sent.
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<TrackedBody>, Infallible> {
        let in_flight = InFlight::begin(self.activity.clone());
        let expects_continue = request
            .headers()
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let handoff = Arc::new(Handoff::default());
        let idle = self.limits.body_idle_timeout;
        let mut request =
            request.map(|incoming| Body::new(RequestBody::new(incoming, idle, handoff.clone())));
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let Ok(mut response) = self.router.clone().oneshot(request).await;
        if !handoff.finish(expects_continue).await {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response.map(|body| TrackedBody {
            body,
            _in_flight: in_flight,
        }))
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => pending().await,
    }
}

/// What a connection is doing, as its watchdog needs to know.
struct Activity {
    state: Mutex<ActivityState>,
    /// Wakes the watchdog when its deadline may have come earlier or appeared.
    changed: Notify,
}

struct ActivityState {
    /// Requests being handled or answered.
    requests: usize,
    /// When the connection last became idle.
    idle_since: Instant,
    /// When the head being read started to arrive (the connection opened, or the first byte
    /// of the next request came).
    head_started: Option<Instant>,
    /// Since when the client has not taken the bytes the server is sending.
    write_blocked_since: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(ActivityState {
                requests: 0,
                idle_since: now,
                head_started: Some(now),
                write_blocked_since: None,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection must close unless something happens first; none while a request is
    /// handled and its answer flows.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let state = self.state();
        if let Some(since) = state.write_blocked_since {
            return Some(since + limits.body_idle_timeout);
        }
        if state.requests > 0 {
            return None;
        }
        Some(match state.head_started {
            Some(since) => since + limits.header_read_timeout,
            None => state.idle_since + limits.keep_alive_timeout,
        })
    }

    fn bytes_read(&self) {
        let mut state = self.state();
        if state.requests == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn write_blocked(&self) {
        let mut state = self.state();
        if state.write_blocked_since.is_none() {
            state.write_blocked_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn bytes_written(&self) {
        self.state().write_blocked_since = None;
    }
}

/// A request being handled or answered; the connection is idle once none is.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        let mut state = activity.state();
        state.requests += 1;
        state.head_started = None;
        drop(state);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.requests -= 1;
        if state.requests == 0 {
            state.idle_since = Instant::now();
            state.head_started = None;
        }
        drop(state);
        self.0.changed.notify_one();
    }
}

/// The client's socket, reporting reads and blocked writes to the connection's [`Activity`].
struct WatchedStream {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl WatchedStream {
    fn watch_write(&self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &written {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.bytes_written(),
            Poll::Ready(_) => {}
        }
        written
    }
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch_write(written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch_write(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A request body that sent nothing for the body idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
struct BodyStalled(Duration);

/// What a request body leaves behind for its connection when its handler is done with it.
#[derive(Default)]
struct Handoff {
    /// The body arrived to its end.
    ended: AtomicBool,
    /// The handler asked for the body (so a client that expects `100 Continue` got it).
    polled: AtomicBool,
    /// The body stalled past the idle timeout.
    stalled: AtomicBool,
    /// The unread rest, once the handler dropped the body.
    rest: Mutex<Option<Incoming>>,
}

impl Handoff {
    /// Whether the connection can serve another request after this one: the body arrived to
    /// its end, or its small rest arrives at once (and is discarded).
    async fn finish(&self, expects_continue: bool) -> bool {
        if self.ended.load(Ordering::Acquire) {
            return true;
        }
        // A stalled body will not arrive, and a client still waiting for `100 Continue` need not
        // send its body at all once it has its answer.
        if self.stalled.load(Ordering::Acquire)
            || (expects_continue && !self.polled.load(Ordering::Acquire))
        {
            return false;
        }
        // Still held by the handler's work (then it is not done with it): close.
        let Some(mut rest) = self
            .rest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return false;
        };
        let drain = async {
            let mut allowed = DRAIN_BYTES;
            loop {
                if http_body::Body::is_end_stream(&rest) {
                    return true;
                }
                match poll_fn(|cx| Pin::new(&mut rest).poll_frame(cx)).await {
                    None => return true,
                    Some(Err(_)) => return false,
                    Some(Ok(frame)) => {
                        let len = frame.data_ref().map_or(0, Bytes::len);
                        match allowed.checked_sub(len) {
                            Some(left) => allowed = left,
                            None => return false,
                        }
                    }
                }
            }
        };
        tokio::time::timeout(DRAIN_TIME, drain)
            .await
            .unwrap_or(false)
    }
}

/// A request body under the idle timeout: fails when no byte arrives for that long while its
/// reader waits.
struct RequestBody {
    incoming: Option<Incoming>,
    idle: Duration,
    /// Running while the reader waits for bytes.
    stall: Option<Pin<Box<Sleep>>>,
    waiting: bool,
    handoff: Arc<Handoff>,
}

impl RequestBody {
    fn new(incoming: Incoming, idle: Duration, handoff: Arc<Handoff>) -> Self {
        if http_body::Body::is_end_stream(&incoming) {
            handoff.ended.store(true, Ordering::Release);
        }
        Self {
            incoming: Some(incoming),
            idle,
            stall: None,
            waiting: false,
            handoff,
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(incoming) = this.incoming.as_mut() else {
            return Poll::Ready(None);
        };
        this.handoff.polled.store(true, Ordering::Release);
        match Pin::new(&mut *incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.waiting = false;
                if http_body::Body::is_end_stream(incoming) {
                    this.handoff.ended.store(true, Ordering::Release);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => {
                this.handoff.ended.store(true, Ordering::Release);
                Poll::Ready(None)
            }
            Poll::Pending => {
                let deadline = Instant::now() + this.idle;
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.waiting {
                    this.waiting = true;
                    stall.as_mut().reset(deadline);
                }
                if stall.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.handoff.stalled.store(true, Ordering::Release);
                this.incoming = None;
                Poll::Ready(Some(Err(BodyStalled(this.idle).into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        if let Some(incoming) = self.incoming.take() {
            *self
                .handoff
                .rest
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(incoming);
        }
    }
}

/// An answer's body, keeping its request in flight until it is sent (or dropped).
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
