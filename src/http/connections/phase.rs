//! Where a connection stands (waiting for a request, reading its head,
//! answering it), the deadline that follows from it (the header-read and
//! idle timeouts), and the service that tells the connection when a request
//! is being answered.

use axum::Router;
use axum::body::{Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the next request, nothing of it read yet, since the instant.
    Idle(Instant),
    /// Reading a request head begun at the instant. A new connection's first
    /// head counts as begun when the connection was accepted: a client that
    /// connects and sends nothing is a slow head, not an idle connection.
    ReadingHead(Instant),
    /// Answering a request. `body_done` once the answer's body is handed over
    /// whole; the answer is sent at the next flush.
    Answering {
        /// Whether the answer's body is handed over whole.
        body_done: bool,
    },
}

/// Why a connection was closed by its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expired {
    /// The request head did not come whole within the header-read timeout.
    HeaderRead,
    /// No request came within the idle timeout.
    Idle,
}

/// A connection's phase, shared by its stream (which sees bytes come and
/// answers go), its service (which sees requests) and its watchdog.
#[derive(Clone, Debug)]
pub(super) struct Progress(Arc<watch::Sender<Phase>>);

impl Progress {
    /// A connection accepted now: its first head is being read.
    pub(super) fn accepted() -> Self {
        Progress(Arc::new(watch::Sender::new(Phase::ReadingHead(
            Instant::now(),
        ))))
    }

    /// The phase, followed as it changes.
    pub(super) fn subscribe(&self) -> watch::Receiver<Phase> {
        self.0.subscribe()
    }

    /// Bytes came: an idle connection starts reading a head.
    pub(super) fn bytes_read(&self) {
        self.0.send_if_modified(|phase| match phase {
            Phase::Idle(_) => {
                *phase = Phase::ReadingHead(Instant::now());
                true
            }
            Phase::ReadingHead(_) | Phase::Answering { .. } => false,
        });
    }

    /// A request head was read whole and handed to the service.
    pub(super) fn answering(&self) {
        self.0.send_replace(Phase::Answering { body_done: false });
    }

    /// The answer's body is handed over whole (no deadline changes, so the
    /// watchdog is not woken).
    pub(super) fn body_done(&self) {
        self.0.send_if_modified(|phase| {
            if let Phase::Answering { body_done } = phase {
                *body_done = true;
            }
            false
        });
    }

    /// All that was written is flushed: an answer whose body was done is
    /// sent, and the connection waits for the next request.
    pub(super) fn flushed(&self) {
        self.0.send_if_modified(|phase| match phase {
            Phase::Answering { body_done: true } => {
                *phase = Phase::Idle(Instant::now());
                true
            }
            Phase::Answering { body_done: false } | Phase::Idle(_) | Phase::ReadingHead(_) => false,
        });
    }

    /// Whether the connection waits for a request: no request was handed to
    /// the service since the last answer went out, so anything written now
    /// is hyper answering a head it could not read.
    pub(super) fn awaits_request(&self) -> bool {
        !matches!(*self.0.borrow(), Phase::Answering { .. })
    }
}

/// Resolves when the connection has been idle for `idle`, or has been
/// reading a head for `header_read`; never while a request is answered.
pub(super) async fn expiry(
    mut phase: watch::Receiver<Phase>,
    header_read: Duration,
    idle: Duration,
) -> Expired {
    loop {
        let deadline = match *phase.borrow_and_update() {
            Phase::Idle(since) => since.checked_add(idle).map(|at| (at, Expired::Idle)),
            Phase::ReadingHead(since) => since
                .checked_add(header_read)
                .map(|at| (at, Expired::HeaderRead)),
            Phase::Answering { .. } => None,
        };
        let changed = match deadline {
            Some((at, expired)) => tokio::select! {
                () = tokio::time::sleep_until(at) => return expired,
                changed = phase.changed() => changed,
            },
            None => phase.changed().await,
        };
        if changed.is_err() {
            // The connection is gone, and its task ends with it.
            std::future::pending::<()>().await;
        }
    }
}

/// The router as hyper's service: marks each request as being answered, and
/// its answer's body as done when hyper lets go of it.
#[derive(Clone, Debug)]
pub(super) struct Answers {
    router: Router,
    progress: Progress,
}

impl Answers {
    pub(super) fn new(router: Router, progress: Progress) -> Self {
        Answers { router, progress }
    }
}

impl hyper::service::Service<Request<Incoming>> for Answers {
    type Response = Response<AnswerBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.progress.answering();
        let done = BodyDone(self.progress.clone());
        let answer = self
            .router
            .clone()
            .oneshot(request.map(axum::body::Body::new));
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| AnswerBody { body, _done: done }))
        })
    }
}

/// An answer's body, marking the answer's body done when dropped (hyper
/// drops it once it has taken its last frame, or when the connection ends).
#[derive(Debug)]
pub(super) struct AnswerBody {
    body: axum::body::Body,
    _done: BodyDone,
}

#[derive(Debug)]
struct BodyDone(Progress);

impl Drop for BodyDone {
    fn drop(&mut self) {
        self.0.body_done();
    }
}

impl HttpBody for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(75);

    #[tokio::test(start_paused = true)]
    async fn a_head_not_read_whole_expires_after_the_header_read_timeout() {
        let progress = Progress::accepted();
        let started = Instant::now();
        let expired = expiry(progress.subscribe(), HEAD, IDLE).await;
        assert_eq!(expired, Expired::HeaderRead);
        assert_eq!(started.elapsed(), HEAD);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_idle_after_its_answer_expires_after_the_idle_timeout() {
        let progress = Progress::accepted();
        progress.answering();
        progress.body_done();
        let answered = Instant::now();
        progress.flushed();
        let expired = expiry(progress.subscribe(), HEAD, IDLE).await;
        assert_eq!(expired, Expired::Idle);
        assert_eq!(answered.elapsed(), IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn the_head_timeout_counts_from_the_first_byte_after_idling() {
        let progress = Progress::accepted();
        progress.answering();
        progress.body_done();
        progress.flushed();
        let watchdog = tokio::spawn(expiry(progress.subscribe(), HEAD, IDLE));
        tokio::time::sleep(Duration::from_secs(60)).await;
        progress.bytes_read();
        let first_byte = Instant::now();
        // More bytes do not move the deadline: a head sent a byte at a time
        // still has to be whole within the timeout.
        tokio::time::sleep(Duration::from_secs(5)).await;
        progress.bytes_read();
        let expired = watchdog.await.expect("watchdog");
        assert_eq!(expired, Expired::HeaderRead);
        assert_eq!(first_byte.elapsed(), HEAD);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_expires_while_a_request_is_answered() {
        let progress = Progress::accepted();
        progress.answering();
        let watchdog = tokio::spawn(expiry(progress.subscribe(), HEAD, IDLE));
        tokio::time::sleep(IDLE * 10).await;
        assert!(!watchdog.is_finished());
        // A flush before the body is done does not end the answer.
        progress.flushed();
        tokio::time::sleep(IDLE * 10).await;
        assert!(!watchdog.is_finished());
        progress.body_done();
        progress.flushed();
        let idle = Instant::now();
        assert_eq!(watchdog.await.expect("watchdog"), Expired::Idle);
        assert_eq!(idle.elapsed(), IDLE);
    }

    #[test]
    fn only_a_connection_between_requests_awaits_one() {
        let progress = Progress::accepted();
        assert!(progress.awaits_request());
        progress.answering();
        assert!(!progress.awaits_request());
        progress.body_done();
        assert!(!progress.awaits_request(), "not sent until flushed");
        progress.flushed();
        assert!(progress.awaits_request());
        progress.bytes_read();
        assert!(progress.awaits_request());
    }
}
