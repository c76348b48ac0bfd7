//! A fault-injecting HTTP/1.1 proxy between calsync and one CalDAV server.
//!
//! Every request calsync sends is counted (one count shared by the proxies
//! of one run). Whether a request meets a fault, which one, and whether it is
//! a kill point are functions of the seed and the request's number only, so
//! a seed replays the same faults and kills at the same counts.
//!
//! The faults, a share `rate` of the requests once armed:
//! - 503 with `Retry-After: 1`, 503 without it, 429: the request does not
//!   reach the server;
//! - a slow answer: the request reaches the server at once, and its answer
//!   is held past calsync's call timeout;
//! - a late delivery: the request is held past calsync's call timeout, then
//!   reaches the server (calsync has given up on it and may have sent it
//!   again, or cancelled the event since); it is held less than twice the
//!   call timeout, the longest calsync expects a network to hold a request;
//! - a reset: the connection is dropped before the request is sent on;
//! - a lost reply: the request reaches the server, then the connection is
//!   dropped (a write that landed, whose answer never came).
//!
//! At a kill point the request is held, sent on or not (by the seed), and the
//! harness is asked to kill calsync; once it has, the connection is dropped.
//!
//! The proxy speaks just enough HTTP/1.1 for calsync's client: requests with
//! a `Content-Length` body on keep-alive connections. It forwards the
//! `Host` calsync used, so that any URL the server builds names the proxy.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// What the proxy does to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// 503 with `Retry-After: 1`; not sent on.
    BusyRetryAfter,
    /// 503 without `Retry-After`; not sent on.
    Busy,
    /// 429 without `Retry-After`; not sent on.
    TooMany,
    /// Sent on at once; the answer is held past the call timeout.
    SlowAnswer,
    /// Held past the call timeout, then sent on.
    LateDelivery,
    /// The connection is dropped; not sent on.
    Reset,
    /// Sent on, then the connection is dropped.
    ReplyLost,
}

impl Fault {
    const ALL: [Fault; 7] = [
        Fault::BusyRetryAfter,
        Fault::Busy,
        Fault::TooMany,
        Fault::SlowAnswer,
        Fault::LateDelivery,
        Fault::Reset,
        Fault::ReplyLost,
    ];

    /// A short name for the counts.
    pub fn name(self) -> &'static str {
        match self {
            Fault::BusyRetryAfter => "503+Retry-After",
            Fault::Busy => "503",
            Fault::TooMany => "429",
            Fault::SlowAnswer => "slow answer",
            Fault::LateDelivery => "late delivery",
            Fault::Reset => "reset",
            Fault::ReplyLost => "reply-lost",
        }
    }
}

/// SplitMix64: the seed's stream, the same on every platform and version.
pub fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// A number of `0..bound` drawn from `seed`, `stream` and `index`.
pub fn draw(seed: u64, stream: u64, index: u64, bound: u64) -> u64 {
    mix(mix(seed ^ mix(stream)) ^ index) % bound.max(1)
}

/// The stream of fault decisions.
const FAULT_STREAM: u64 = 1;
/// The stream of kill points.
const KILL_STREAM: u64 = 2;

/// A kill point reached: the harness kills calsync, then answers.
pub struct KillRequest {
    /// Answered once calsync is dead.
    pub killed: oneshot::Sender<()>,
}

/// Counts per fault, and requests.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Requests proxied while armed.
    pub requests: u64,
    /// Faults injected, by kind.
    pub faults: std::collections::BTreeMap<Fault, u64>,
    /// Requests sent on before a kill.
    pub kills_after_forward: u64,
    /// The servers' answers other than 2xx, by status (Xandikos answers 423
    /// to concurrent writes to one calendar; a write sent again after its
    /// reply was lost meets 412).
    pub server_statuses: std::collections::BTreeMap<u16, u64>,
}

/// What the proxies of one run share: the count, the plan, the tallies.
pub struct Plan {
    seed: u64,
    /// Faults per million requests.
    rate_ppm: u64,
    /// How long a slow answer or a late delivery is held.
    slow: Duration,
    armed: AtomicBool,
    faults_on: AtomicBool,
    count: AtomicU64,
    kill_points: Mutex<BTreeSet<u64>>,
    kills: mpsc::UnboundedSender<KillRequest>,
    tally: Mutex<Tally>,
}

impl Plan {
    /// A plan for `seed`: faults at `rate` (0..=1), answers or requests held
    /// `slow` for a slow answer or a late delivery, and `kills` kill points whose gaps are drawn from
    /// `gaps`. Answers the plan, the kill points in order and the receiver
    /// of kill requests.
    pub fn new(
        seed: u64,
        rate: f64,
        slow: Duration,
        kills: usize,
        gaps: std::ops::RangeInclusive<u64>,
    ) -> (Arc<Plan>, Vec<u64>, mpsc::UnboundedReceiver<KillRequest>) {
        let mut points = Vec::with_capacity(kills);
        let mut at = 0;
        let span = gaps.end() - gaps.start() + 1;
        for index in 0..kills as u64 {
            at += gaps.start() + draw(seed, KILL_STREAM, index, span);
            points.push(at);
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        let plan = Plan {
            seed,
            rate_ppm: (rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u64,
            slow,
            armed: AtomicBool::new(false),
            faults_on: AtomicBool::new(false),
            count: AtomicU64::new(0),
            kill_points: Mutex::new(points.iter().copied().collect()),
            kills: sender,
            tally: Mutex::new(Tally::default()),
        };
        (Arc::new(plan), points, receiver)
    }

    /// From now on requests are counted, meet faults and reach kill points.
    pub fn arm(&self) {
        self.faults_on.store(true, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// From now on no request meets a fault (requests are still counted).
    pub fn faults_off(&self) {
        self.faults_on.store(false, Ordering::SeqCst);
    }

    /// The requests and faults so far.
    pub fn tally(&self) -> Tally {
        lock(&self.tally).clone()
    }

    /// What happens to the next request.
    fn decide(&self) -> Decision {
        if !self.armed.load(Ordering::SeqCst) {
            return Decision::Pass;
        }
        let count = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.tally).requests += 1;
        if lock(&self.kill_points).remove(&count) {
            let forwarded = draw(self.seed, KILL_STREAM, u64::MAX - count, 2) == 1;
            return Decision::Kill { forwarded };
        }
        if !self.faults_on.load(Ordering::SeqCst)
            || draw(self.seed, FAULT_STREAM, count, 1_000_000) >= self.rate_ppm
        {
            return Decision::Pass;
        }
        let which = draw(
            self.seed,
            FAULT_STREAM,
            u64::MAX - count,
            Fault::ALL.len() as u64,
        );
        let fault = Fault::ALL[which as usize];
        *lock(&self.tally).faults.entry(fault).or_default() += 1;
        Decision::Fault(fault)
    }
}

enum Decision {
    Pass,
    Fault(Fault),
    Kill { forwarded: bool },
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One proxy, in front of one server; stops when dropped.
pub struct Proxy {
    /// The URL calsync is given instead of the server's.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// A proxy on a free loopback port in front of `upstream` (a base URL).
    pub async fn start(upstream: &str, plan: Arc<Plan>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let upstream = upstream.trim_end_matches('/').to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let connection = Connection {
                    plan: plan.clone(),
                    client: client.clone(),
                    upstream: upstream.clone(),
                };
                tokio::spawn(connection.serve(stream));
            }
        });
        Proxy { url, task }
    }
}

/// One request as read from calsync.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// One answer from the server, or made up.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn made_up(status: u16, retry_after: Option<&str>) -> Response {
        let mut headers = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
        if let Some(wait) = retry_after {
            headers.push(("Retry-After".to_owned(), wait.to_owned()));
        }
        Response {
            status,
            headers,
            body: format!("injected {status}").into_bytes(),
        }
    }
}

struct Connection {
    plan: Arc<Plan>,
    client: reqwest::Client,
    upstream: String,
}

impl Connection {
    async fn serve(self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let mut stream = BufReader::new(stream);
        while let Some(request) = read_request(&mut stream).await {
            let response = match self.plan.decide() {
                Decision::Pass => self.forward(&request).await,
                Decision::Fault(fault) => match fault {
                    Fault::BusyRetryAfter => Response::made_up(503, Some("1")),
                    Fault::Busy => Response::made_up(503, None),
                    Fault::TooMany => Response::made_up(429, None),
                    Fault::SlowAnswer => {
                        let response = self.forward(&request).await;
                        tokio::time::sleep(self.plan.slow).await;
                        response
                    }
                    Fault::LateDelivery => {
                        tokio::time::sleep(self.plan.slow).await;
                        self.forward(&request).await
                    }
                    Fault::Reset => return reset(stream.into_inner()),
                    Fault::ReplyLost => {
                        self.forward(&request).await;
                        return reset(stream.into_inner());
                    }
                },
                Decision::Kill { forwarded } => {
                    if forwarded {
                        self.forward(&request).await;
                        lock(&self.plan.tally).kills_after_forward += 1;
                    }
                    let (killed, dead) = oneshot::channel();
                    let asked = self.plan.kills.send(KillRequest { killed });
                    if asked.is_ok() {
                        let _ = dead.await;
                    }
                    return reset(stream.into_inner());
                }
            };
            if write_response(stream.get_mut(), &response).await.is_err() {
                return;
            }
        }
    }

    /// Sends `request` on to the server; a server that cannot be reached is
    /// answered 502 (it never happens while the test servers run).
    async fn forward(&self, request: &Request) -> Response {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("a method");
        let mut builder = self
            .client
            .request(method, format!("{}{}", self.upstream, request.target))
            .body(request.body.clone());
        for (name, value) in &request.headers {
            if !is_hop_by_hop(name) {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        let answer = match builder.send().await {
            Ok(answer) => answer,
            Err(error) => {
                eprintln!(
                    "crash proxy: {} {}: {error}",
                    request.method, request.target
                );
                return Response::made_up(502, None);
            }
        };
        let status = answer.status().as_u16();
        if !(200..300).contains(&status) && self.plan.armed.load(Ordering::SeqCst) {
            *lock(&self.plan.tally)
                .server_statuses
                .entry(status)
                .or_default() += 1;
        }
        let headers = answer
            .headers()
            .iter()
            .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let body = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        Response {
            status,
            headers,
            body,
        }
    }
}

fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "te",
        "upgrade",
        "proxy-connection",
    ]
    .iter()
    .any(|hop| name.eq_ignore_ascii_case(hop))
}

/// Drops the connection with a TCP reset.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Reads one request; `None` at the end of the connection or on anything
/// this proxy does not speak.
async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header).await.ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            eprintln!("crash proxy: a chunked request body is not supported");
            return None;
        }
        headers.push((name, value));
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

async fn write_response(stream: &mut TcpStream, response: &Response) -> std::io::Result<()> {
    let reason = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Status");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", response.body.len()));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.flush().await
}
