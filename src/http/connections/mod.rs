//! The connection layer: [`serve`] runs the service's router on a listener
//! over HTTP/1.1 with the [`Connections`] settings, so that slow and idle
//! clients cannot hold the service.
//!
//! - **Header-read timeout**: a client must send a request head whole within
//!   it, counted from the connection's acceptance for its first request and
//!   from the first byte of each later one. A client sending a head a byte at
//!   a time is cut off as surely as one that sends nothing. The connection is
//!   closed without an answer.
//! - **Idle timeout**: a connection with no request in flight is closed
//!   after it, without an answer, as every HTTP/1.1 client expects of a
//!   kept-alive connection.
//! - **Connection cap**: at most `max_connections` are served at once. At
//!   the cap calsync stops accepting: new connections wait in the listener's
//!   queue (its backlog: 1024 with tokio's `TcpListener::bind`, or the
//!   system's `net.core.somaxconn` if lower) and are served, in order, as
//!   served ones end. None is refused or closed unanswered while the queue
//!   has room.
//! - **Header limit**: a request head (request line and header fields) over
//!   `header_limit` bytes, or with more than
//!   [`MAX_HEADER_FIELDS`](super::error::MAX_HEADER_FIELDS) fields, is
//!   answered 431 and the connection closed.
//!
//! `phase` keeps where each connection stands and the deadline that
//! follows; `stream` watches its socket, and gives the answers hyper makes
//! on its own (400, 414, 431) the service's `{"error", "kind"}` body.
//!
//! hyper has a header-read timeout of its own, but it also runs while a
//! connection waits between requests, so that it would be the idle timeout
//! too; calsync keeps both deadlines itself instead.

mod phase;
mod stream;

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use phase::{Answers, Progress};
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// The default header-read timeout: 10 seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default idle timeout: 75 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// The default connection cap: 512.
pub const DEFAULT_MAX_CONNECTIONS: NonZeroU32 = NonZeroU32::new(512).expect("512 is not zero");
/// The default header limit: 16 KiB.
pub const DEFAULT_HEADER_LIMIT: usize = 16 * 1024;

/// hyper's own read buffer limit (8 KiB and 100 header fields of 4 KiB),
/// kept unless the header limit is larger.
const HYPER_READ_BUFFER: usize = 8192 + 4096 * 100;

/// How connections are served: how long a client may take to send a request
/// head, how long an idle connection stays open, how many connections are
/// served at once, and how large a request head may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connections {
    /// How long a client may take to send a request head whole: from the
    /// connection's acceptance for its first request, from the first byte of
    /// the request for each later one.
    pub header_read_timeout: Duration,
    /// How long a connection with no request in flight stays open.
    pub idle_timeout: Duration,
    /// The most connections served at once; at the cap, new connections wait
    /// in the listener's queue until a served one ends.
    pub max_connections: NonZeroU32,
    /// The largest request head (request line and header fields), in bytes.
    pub header_limit: usize,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_limit: DEFAULT_HEADER_LIMIT,
        }
    }
}

/// Serves `app` on `listener` with the `connections` settings until
/// `shutdown` resolves; then stops accepting (new connections are refused),
/// closes idle connections, lets requests in flight finish, and returns once
/// every connection is closed.
///
/// A failed accept (as when the process is out of file descriptors) is
/// logged and tried again a second later.
///
/// # Example
/// ```no_run
/// # async fn run(state: calsync::http::AppState) -> std::io::Result<()> {
/// use calsync::http::{self, Connections};
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let connections = Connections {
///     max_connections: std::num::NonZeroU32::new(64).expect("not zero"),
///     ..Connections::default()
/// };
/// // Stops when `stop` is sent on, or dropped.
/// let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// http::serve(listener, http::app(state), connections, async {
///     let _ = stopped.await;
/// })
/// .await;
/// # Ok(())
/// # }
/// ```
pub async fn serve(
    mut listener: TcpListener,
    app: Router,
    connections: Connections,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let cap = connections.max_connections.get();
    let slots = Arc::new(Semaphore::new(cap as usize));
    let (closing, closing_seen) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first, then a connection: at the cap nothing is accepted,
        // and new connections wait in the listener's queue.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else {
            break;
        };
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = Listener::accept(&mut listener) => accepted,
        };
        tokio::spawn(connection(
            stream,
            app.clone(),
            connections,
            closing_seen.clone(),
            slot,
        ));
    }
    drop(listener);
    closing.send_replace(true);
    // Each connection holds its slot until it is closed.
    let _all_closed = slots.acquire_many(cap).await;
}

/// Serves one connection until the client closes it, a deadline passes, or
/// the service shuts down (after the request in flight, if any).
async fn connection(
    stream: TcpStream,
    app: Router,
    connections: Connections,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let progress = Progress::accepted();
    let expiry = phase::expiry(
        progress.subscribe(),
        connections.header_read_timeout,
        connections.idle_timeout,
    );
    let io = TokioIo::new(stream::Stream::new(
        stream,
        progress.clone(),
        connections.header_limit,
    ));
    let mut builder = http1::Builder::new();
    builder
        .header_read_timeout(None)
        .max_header_size(connections.header_limit)
        .max_buf_size(connections.header_limit.max(HYPER_READ_BUFFER));
    let served = builder.serve_connection(io, Answers::new(app, progress));
    let mut served = std::pin::pin!(served);
    let mut expiry = std::pin::pin!(expiry);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            expired = &mut expiry => {
                tracing::debug!(?expired, "connection closed by its deadline");
                return;
            }
            _ = closing.wait_for(|closing| *closing), if !shutting_down => {
                shutting_down = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}
