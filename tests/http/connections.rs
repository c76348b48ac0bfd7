//! The connection layer over raw TCP: the header-read and idle timeouts, the
//! connection cap, the 413 for a declared body over the limit, the error
//! shape of the answers the HTTP layer gives on its own (431, 400) and of
//! 404 and 405, and shutdown.
//!
//! The timeout tests run on real time. tokio's paused clock jumps to the next
//! timer whenever the runtime has nothing to do, including while a client's
//! bytes are still on their way through the loopback interface, so it could
//! pass a deadline those bytes were about to meet. Instead, the timeout under
//! test is 1 s, every other one an hour, and the test reads until the
//! connection closes: only that timeout can close it while the test runs,
//! however slow the machine, and a server without it never closes it (the
//! test then fails after `GIVE_UP`).

use super::support::*;
use crate::patience::{GIVE_UP, NEVER};
use calsync::http::Connections;
use calsync::model::Provider;
use serde_json::Value;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The timeout under test in the timeout tests.
const TIMEOUT: Duration = Duration::from_secs(1);

/// A client speaking HTTP/1.1 by hand on one connection.
struct Client {
    reading: OwnedReadHalf,
    /// The sending half, unless a task took it to send on its own.
    writing: Option<OwnedWriteHalf>,
    /// Bytes read and not yet taken as an answer.
    read: Vec<u8>,
}

/// An answer: its status, head and JSON body (a string when not JSON).
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

impl Answer {
    /// A header field's value.
    fn field(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

impl Client {
    async fn open(server: &Server) -> Client {
        let stream = TcpStream::connect(server.address()).await.expect("connect");
        let (reading, writing) = stream.into_split();
        Client {
            reading,
            writing: Some(writing),
            read: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &str) {
        self.writing
            .as_mut()
            .expect("the sending half")
            .write_all(bytes.as_bytes())
            .await
            .expect("send");
    }

    /// Sends `bytes` from a task of its own, `pace` apart (all at once
    /// without), until done or the server closes the connection.
    fn send_apart(&mut self, bytes: String, chunk: usize, pace: Option<Duration>) {
        let mut writing = self.writing.take().expect("the sending half");
        tokio::spawn(async move {
            for part in bytes.as_bytes().chunks(chunk) {
                if writing.write_all(part).await.is_err() {
                    return;
                }
                if let Some(pace) = pace {
                    tokio::time::sleep(pace).await;
                }
            }
        });
    }

    /// The next answer; fails the test if none comes.
    async fn answer(&mut self) -> Answer {
        tokio::time::timeout(GIVE_UP, self.next_answer())
            .await
            .expect("an answer in time")
    }

    /// Reads until one answer is whole: its head, then the body its
    /// `content-length` declares. Bytes already read are kept if the future
    /// is dropped.
    async fn next_answer(&mut self) -> Answer {
        loop {
            if let Some(end) = self.read.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.read[..end]).into_owned();
                let mut answer = Answer {
                    status: head
                        .split(' ')
                        .nth(1)
                        .and_then(|code| code.parse().ok())
                        .expect("a status line"),
                    head,
                    body: Value::Null,
                };
                let length: usize = answer
                    .field("content-length")
                    .and_then(|length| length.parse().ok())
                    .expect("every answer declares its length");
                if self.read.len() >= end + 4 + length {
                    let rest = self.read.split_off(end + 4 + length);
                    let body = self.read.split_off(end + 4);
                    self.read = rest;
                    let text = String::from_utf8_lossy(&body).into_owned();
                    answer.body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    return answer;
                }
            }
            let mut chunk = [0; 8192];
            let count = self.reading.read(&mut chunk).await.expect("read");
            assert!(count > 0, "closed before a whole answer");
            self.read.extend_from_slice(&chunk[..count]);
        }
    }

    /// Reads until the server closes the connection; answers what came
    /// meanwhile. Fails the test if it stays open.
    async fn until_closed(&mut self) -> Vec<u8> {
        let reading = async {
            let mut chunk = [0; 8192];
            loop {
                match self.reading.read(&mut chunk).await {
                    Ok(0) => return,
                    Ok(count) => self.read.extend_from_slice(&chunk[..count]),
                    Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return,
                    Err(error) => panic!("read: {error}"),
                }
            }
        };
        tokio::time::timeout(GIVE_UP, reading)
            .await
            .expect("the server closes the connection");
        std::mem::take(&mut self.read)
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: calsync\r\n\r\n")
}

fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: calsync\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn timeouts(header_read: Duration, idle: Duration) -> Connections {
    Connections {
        header_read_timeout: header_read,
        idle_timeout: idle,
        ..patient_connections()
    }
}

#[tokio::test]
async fn a_head_not_sent_whole_in_time_closes_the_connection_unanswered() {
    let server = Server::start_connections(timeouts(TIMEOUT, NEVER)).await;
    let started = Instant::now();
    let mut partial = Client::open(&server).await;
    partial
        .send("POST /api/CalendarSync/getAccountStatus HTTP/1.1\r\nHost: calsync\r\nAuthor")
        .await;
    let mut silent = Client::open(&server).await;
    assert_eq!(
        partial.until_closed().await,
        b"",
        "closed without an answer"
    );
    assert_eq!(silent.until_closed().await, b"", "closed without an answer");
    assert!(started.elapsed() >= TIMEOUT, "{:?}", started.elapsed());
    server.stop().await;
}

/// The attack this timeout is for: a head sent a byte at a time (here one
/// every 100 ms, 10,000 bytes long), each byte well within any read timeout.
#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_at_the_header_read_timeout() {
    let server = Server::start_connections(timeouts(TIMEOUT, NEVER)).await;
    let started = Instant::now();
    let mut client = Client::open(&server).await;
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: calsync\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    // The pace does not decide the outcome: whatever it is, the head is not
    // whole before the test gives up, and only the timeout closes it.
    client.send_apart(head, 1, Some(Duration::from_millis(100)));
    assert_eq!(client.until_closed().await, b"", "closed without an answer");
    assert!(started.elapsed() >= TIMEOUT, "{:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test]
async fn a_connection_idle_after_its_answer_is_closed_after_the_idle_timeout() {
    let server = Server::start_connections(timeouts(NEVER, TIMEOUT)).await;
    let started = Instant::now();
    let mut client = Client::open(&server).await;
    client.send(&get("/healthz")).await;
    let answer = client.answer().await;
    assert_eq!((answer.status, answer.body), (200, Value::from("ok")));
    assert_eq!(client.until_closed().await, b"", "closed without an answer");
    assert!(started.elapsed() >= TIMEOUT, "{:?}", started.elapsed());
    server.stop().await;
}

/// A kept-alive connection answers requests one after another and sent back
/// to back, each whole, errors included.
#[tokio::test]
async fn a_kept_alive_connection_serves_request_after_request() {
    let server = Server::start().await;
    let mut client = Client::open(&server).await;
    client.send(&get("/healthz")).await;
    assert_eq!(client.answer().await.body, Value::from("ok"));
    client
        .send(&post(
            "/api/CalendarSync/getAccountStatus",
            r#"{"user": "ada"}"#,
        ))
        .await;
    let answer = client.answer().await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["accounts"], Value::Array(vec![]));
    client.send(&get("/nowhere")).await;
    let answer = client.answer().await;
    assert_error(answer.status, &answer.body, 404, "no_such_route");

    let back_to_back = [
        get("/healthz"),
        post("/api/CalendarSync/getAccountStatus", r#"{"user": 5}"#),
        get("/readyz"),
    ]
    .concat();
    client.send(&back_to_back).await;
    assert_eq!(client.answer().await.body, Value::from("ok"));
    let answer = client.answer().await;
    assert_error(answer.status, &answer.body, 400, "invalid_input");
    assert_eq!(client.answer().await.body, Value::from("ready"));
    server.stop().await;
}

/// With a cap of 16, a 17th connection is not served while 16 are open, and
/// is served as soon as one of them closes.
#[tokio::test]
async fn at_the_cap_a_new_connection_waits_until_a_served_one_closes() {
    let connections = Connections {
        max_connections: NonZeroU32::new(16).expect("not zero"),
        ..patient_connections()
    };
    let server = Server::start_connections(connections).await;
    let mut held = Vec::new();
    for _ in 0..16 {
        let mut client = Client::open(&server).await;
        client.send(&get("/healthz")).await;
        assert_eq!(client.answer().await.status, 200);
        held.push(client);
    }
    // The system completes the 17th connection and queues it for the server.
    let mut waiting = Client::open(&server).await;
    waiting.send(&get("/healthz")).await;
    // The server is answering, and the 17th connection was queued before
    // this request was sent.
    held[1].send(&get("/healthz")).await;
    assert_eq!(held[1].answer().await.status, 200);
    // A server without the cap answers the 17th in this time; one with it
    // never does before a slot frees, however long the wait.
    let early = tokio::time::timeout(Duration::from_millis(200), waiting.next_answer()).await;
    assert!(
        early.is_err(),
        "a 17th connection was served beyond the cap"
    );

    drop(held.remove(0));
    let answer = waiting.answer().await;
    assert_eq!((answer.status, answer.body), (200, Value::from("ok")));
    for client in &mut held {
        client.send(&get("/healthz")).await;
        assert_eq!(client.answer().await.status, 200, "still served");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_any_of_it_is_sent() {
    let server = Server::start().await;
    for authorization in [format!("Authorization: Bearer {KEY}\r\n"), String::new()] {
        let mut client = Client::open(&server).await;
        client
            .send(&format!(
                "POST /api/CalendarSync/getAccountStatus HTTP/1.1\r\nHost: calsync\r\n\
                 {authorization}Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
            ))
            .await;
        let answer = client.answer().await;
        assert_error(answer.status, &answer.body, 413, "body_too_large");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_head_over_the_header_limit_is_431_in_the_error_shape() {
    let server = Server::start().await;
    let limit = Connections::default().header_limit;
    let padded = format!(
        "GET /healthz HTTP/1.1\r\nHost: calsync\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(limit + 1000)
    );
    let many_fields = format!(
        "GET /healthz HTTP/1.1\r\nHost: calsync\r\n{}\r\n",
        (0..calsync::http::error::MAX_HEADER_FIELDS)
            .map(|n| format!("X-Field-{n}: {n}\r\n"))
            .collect::<String>()
    );
    for head in [&padded, &many_fields] {
        let mut client = Client::open(&server).await;
        client.send(head).await;
        let answer = client.answer().await;
        assert_error(answer.status, &answer.body, 431, "headers_too_large");
        let message = answer.body["error"].as_str().unwrap_or_default();
        assert!(message.contains(&limit.to_string()), "{message}");
    }

    // On a connection that was served before, too.
    let mut client = Client::open(&server).await;
    client.send(&get("/healthz")).await;
    assert_eq!(client.answer().await.status, 200);
    client.send(&padded).await;
    let answer = client.answer().await;
    assert_error(answer.status, &answer.body, 431, "headers_too_large");

    // And for a head far over any buffer, sent while the answer comes.
    let mut client = Client::open(&server).await;
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: calsync\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    client.send_apart(huge, 64 * 1024, None);
    let answer = client.answer().await;
    assert_error(answer.status, &answer.body, 431, "headers_too_large");
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_head_is_400_in_the_error_shape() {
    let server = Server::start().await;
    for head in [
        "GET /healthz HTTP/1.1\r\nHost calsync\r\n\r\n",
        "HELLO\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: calsync\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    ] {
        let mut client = Client::open(&server).await;
        client.send(head).await;
        let answer = client.answer().await;
        assert_error(answer.status, &answer.body, 400, "malformed_request");
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_404_and_405_in_the_error_shape() {
    let server = Server::start().await;
    let mut client = Client::open(&server).await;
    client.send(&get("/api/nowhere")).await;
    let answer = client.answer().await;
    assert_error(answer.status, &answer.body, 404, "no_such_route");
    for (request, allowed) in [
        (get("/api/CalendarSync/commit"), "POST"),
        (post("/healthz", "{}"), "GET,HEAD"),
    ] {
        client.send(&request).await;
        let answer = client.answer().await;
        assert_error(answer.status, &answer.body, 405, "method_not_allowed");
        assert_eq!(answer.field("allow"), Some(allowed), "{}", answer.head);
        let message = answer.body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains("Allow"),
            "points to the Allow header: {message}"
        );
    }
    server.stop().await;
}

/// At shutdown, an idle connection is closed at once, a request in flight
/// is answered, and the server stops once it is.
#[tokio::test]
async fn shutdown_closes_idle_connections_and_answers_requests_in_flight() {
    let mut server = Server::start().await;
    server.provider(Provider::Google).hold();
    let mut in_flight = Client::open(&server).await;
    in_flight
        .send(&post(
            "/api/CalendarSync/connectAccount",
            r#"{"user": "ada", "provider": "google", "credentials": {"access_token": "t"}}"#,
        ))
        .await;
    server.provider(Provider::Google).until_waiting(1).await;
    let mut idle = Client::open(&server).await;
    idle.send(&get("/healthz")).await;
    assert_eq!(idle.answer().await.status, 200);

    server.begin_stop();
    assert_eq!(idle.until_closed().await, b"", "closed without an answer");
    assert!(server.is_serving(), "a request is still in flight");
    // The listener was closed before the connections were told to close.
    assert!(TcpStream::connect(server.address()).await.is_err());
    server.provider(Provider::Google).release();
    let answer = in_flight.answer().await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.field("connection"), Some("close"));
    server.stop().await;
}
