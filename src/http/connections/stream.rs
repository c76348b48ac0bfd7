//! A connection's socket as hyper sees it: it tells the connection's
//! [`Progress`] when bytes come and when answers are flushed, and gives the
//! answers hyper makes on its own the service's error body.
//!
//! hyper answers a request head it cannot read itself, before any service
//! sees a request: 400 for a malformed head, 431 for one over the header
//! limit, 414 for a target over 64 KiB. Those answers have an empty body. A
//! write made while the connection awaits a request (no request was handed to
//! the service since the last answer was flushed) can only be such an answer,
//! so the stream takes its head, and sends in its place the same status and
//! header fields with the `{"error", "kind"}` body of the [`ApiError`] for
//! that status. A head that hyper reads past while the previous answer is
//! still being flushed (a client sending requests back to back without
//! waiting) is answered as hyper wrote it.

use super::phase::Progress;
use crate::http::error::ApiError;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The most of hyper's own answer held back while its head is incomplete;
/// its answers are a status line and three or four short fields.
const OWN_ANSWER_LIMIT: usize = 4096;

/// A connection's socket, watched.
#[derive(Debug)]
pub(super) struct Stream {
    inner: TcpStream,
    progress: Progress,
    header_limit: usize,
    own: OwnAnswer,
}

/// Where an answer of hyper's own stands.
#[derive(Debug)]
enum OwnAnswer {
    /// None is under way.
    None,
    /// hyper is writing one: its bytes so far.
    Taking(Vec<u8>),
    /// The bytes to send in its place, and how many of them are sent.
    Sending(Vec<u8>, usize),
}

impl Stream {
    pub(super) fn new(inner: TcpStream, progress: Progress, header_limit: usize) -> Self {
        Stream {
            inner,
            progress,
            header_limit,
            own: OwnAnswer::None,
        }
    }

    /// Whether a write is part of an answer of hyper's own.
    fn takes_own_answer(&self) -> bool {
        matches!(self.own, OwnAnswer::Taking(_)) || self.progress.awaits_request()
    }

    /// Takes bytes of hyper's own answer; once its head is whole (or too long
    /// to be one of its answers), the answer to send instead is ready.
    fn take(&mut self, bytes: &[u8]) {
        let mut taken = match std::mem::replace(&mut self.own, OwnAnswer::None) {
            OwnAnswer::Taking(taken) => taken,
            OwnAnswer::None | OwnAnswer::Sending(..) => Vec::new(),
        };
        taken.extend_from_slice(bytes);
        self.own = match taken.windows(4).position(|window| window == b"\r\n\r\n") {
            Some(end) => {
                let (head, rest) = taken.split_at(end + 4);
                let mut answer = match with_error_body(head, self.header_limit) {
                    Some(answer) => {
                        tracing::debug!("answered a request head the HTTP layer could not read");
                        answer
                    }
                    None => head.to_vec(),
                };
                answer.extend_from_slice(rest);
                OwnAnswer::Sending(answer, 0)
            }
            None if taken.len() > OWN_ANSWER_LIMIT => OwnAnswer::Sending(taken, 0),
            None => OwnAnswer::Taking(taken),
        };
    }

    /// Before a flush or shutdown, bytes taken but not yet a whole head go
    /// out as they are.
    fn release_taken(&mut self) {
        if let OwnAnswer::Taking(taken) = &mut self.own {
            self.own = OwnAnswer::Sending(std::mem::take(taken), 0);
        }
    }

    /// Sends what is to be sent in place of hyper's own answer.
    fn poll_send_own(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let OwnAnswer::Sending(bytes, sent) = &mut self.own {
            if *sent == bytes.len() {
                self.own = OwnAnswer::None;
                break;
            }
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*sent..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += written;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.progress.bytes_read();
        }
        read
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_send_own(cx))?;
        if this.takes_own_answer() {
            this.take(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_send_own(cx))?;
        if this.takes_own_answer() {
            let mut taken = 0;
            for buf in bufs {
                this.take(buf);
                taken += buf.len();
            }
            return Poll::Ready(Ok(taken));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.release_taken();
        ready!(this.poll_send_own(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.progress.flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.release_taken();
        ready!(this.poll_send_own(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// hyper's answer `head` (a status line and header fields, with an empty
/// body) with the service's error body for its status instead; `None` for a
/// status the service has no error for, or a head that is not text.
fn with_error_body(head: &[u8], header_limit: usize) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n").filter(|line| !line.is_empty());
    let status_line = lines.next()?;
    let error = match status_line.split(' ').nth(1)? {
        "400" => ApiError::BadRequest {
            kind: "malformed_request",
            message: "the request head is not valid HTTP/1.1: check the request line and \
                      that each header field is `name: value`"
                .to_owned(),
        },
        "414" => ApiError::UriTooLong,
        "431" => ApiError::HeadersTooLarge(header_limit),
        _ => return None,
    };
    let body = serde_json::to_string(&error.body()).ok()?;
    let mut answer = format!("{status_line}\r\n");
    for line in lines {
        let name = line.split(':').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("content-length")
            && !name.eq_ignore_ascii_case("content-type")
        {
            answer.push_str(line);
            answer.push_str("\r\n");
        }
    }
    answer.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(answer: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(answer.to_vec()).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        (head.to_owned(), serde_json::from_str(body).expect("JSON"))
    }

    #[test]
    fn a_too_large_head_is_answered_431_with_the_error_body() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
                      content-length: 0\r\ndate: Tue, 01 Dec 2026 14:00:00 GMT\r\n\r\n";
        let answer = with_error_body(hyper, 16384).expect("reshaped");
        let (head, body) = parts(&answer);
        let mut lines = head.split("\r\n");
        assert_eq!(
            lines.next(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        let fields: Vec<_> = lines.collect();
        assert!(fields.contains(&"connection: close"), "{head}");
        assert!(
            fields.contains(&"date: Tue, 01 Dec 2026 14:00:00 GMT"),
            "{head}"
        );
        assert!(fields.contains(&"content-type: application/json"), "{head}");
        let length = format!("content-length: {}", body.to_string().len());
        assert!(fields.contains(&length.as_str()), "{head}");
        assert!(!fields.contains(&"content-length: 0"), "{head}");
        assert_eq!(body["kind"], "headers_too_large");
        assert!(body["error"].as_str().expect("text").contains("16384"));
    }

    #[test]
    fn a_malformed_head_is_400_and_a_long_target_414() {
        let answer = with_error_body(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n", 1)
            .expect("reshaped");
        assert_eq!(parts(&answer).1["kind"], "malformed_request");
        let answer = with_error_body(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n", 1)
            .expect("reshaped");
        assert_eq!(parts(&answer).1["kind"], "uri_too_long");
    }

    #[test]
    fn other_statuses_and_other_bytes_are_left_as_they_are() {
        assert_eq!(
            with_error_body(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 1),
            None
        );
        assert_eq!(with_error_body(b"\xff\xfe\r\n\r\n", 1), None);
        assert_eq!(with_error_body(b"\r\n\r\n", 1), None);
    }
}
