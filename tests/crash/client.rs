//! One client of the workload: it commits events to both accounts, updates
//! them and cancels them over HTTP, one request per event at a time. Every
//! request carries an `Idempotency-Key`. When its answer is lost (calsync
//! died, or answered 5xx) it is sent again at once with the same key and
//! body, until calsync is back. When calsync says the first call under the
//! key is still running (409 `idempotency_key_in_use`: a call of a killed
//! instance, until it is taken over), the request is set aside and sent
//! again later, and the client goes on with its other events meanwhile, as
//! an app would. Once told to stop, the client sends what it set aside until
//! each has its answer.

use super::proxy::draw;
use super::service::KEY;
use super::workload::{Cancel, Counts, Outcomes, Target, Tracked, description, location, title};
use crate::patience::GIVE_UP;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The most events a client keeps uncancelled at once.
const MOST_LIVE: usize = 6;

/// How long a request set aside waits before it is sent again the first
/// time; each time it is still in use, twice as long, up to [`SET_ASIDE_CAP`].
/// (Each sending waits for the first call up to calsync's answer deadline.)
const SET_ASIDE: Duration = Duration::from_secs(2);

/// The longest wait of a request set aside.
const SET_ASIDE_CAP: Duration = Duration::from_secs(16);

/// What a request is for, and what its answer changes.
#[derive(Clone, Debug)]
enum Intent {
    /// A new event of this name.
    Commit { name: String },
    /// Version `version` of event `index`.
    Update { index: usize, version: u32 },
    /// The cancel of event `index`.
    Cancel { index: usize },
}

/// One request, sent until it has a definitive answer.
struct Request {
    intent: Intent,
    action: &'static str,
    key: String,
    body: Value,
    /// Whether it was sent more than once.
    resent: bool,
    /// When it is to be sent again, when set aside.
    again_at: Instant,
    /// How many times it was set aside.
    set_aside: u32,
}

/// How one sending ended.
enum Sent {
    /// 2xx, with its body.
    Acknowledged(Value),
    /// Another definitive status, with its body.
    Refused(u16, Value),
    /// The first call under the key still runs.
    InUse,
}

/// One client.
pub struct Client {
    number: usize,
    target: Target,
    http: reqwest::Client,
    events: Vec<Tracked>,
    /// Requests set aside, to be sent again.
    aside: Vec<Request>,
    counts: Counts,
    requests: u64,
    commits: usize,
}

impl Client {
    /// Client `number` of the run.
    pub fn new(number: usize, target: Target) -> Client {
        Client {
            number,
            target,
            http: reqwest::Client::new(),
            events: Vec::new(),
            aside: Vec::new(),
            counts: Counts::default(),
            requests: 0,
            commits: 0,
        }
    }

    /// Sends requests until `stop` is set, then finishes those set aside;
    /// answers its events and counts.
    pub async fn run(mut self, stop: Arc<AtomicBool>) -> (Vec<Tracked>, Counts) {
        let mut step = 0u64;
        while !stop.load(Ordering::SeqCst) {
            step += 1;
            if let Some(due) = self.aside.iter().position(|r| r.again_at <= Instant::now()) {
                let request = self.aside.swap_remove(due);
                self.send(request).await;
                continue;
            }
            match self.next_request(step) {
                Some(request) => self.send(request).await,
                // Every event waits for a request set aside.
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let deadline = Instant::now() + GIVE_UP;
        while let Some(request) = self.aside.pop() {
            assert!(
                Instant::now() < deadline,
                "client {}: {} (key {}) still in use {GIVE_UP:?} after the last kill",
                self.number,
                request.action,
                request.key
            );
            tokio::time::sleep_until(request.again_at).await;
            self.send(request).await;
        }
        (self.events, self.counts)
    }

    fn draw(&self, index: u64, bound: u64) -> u64 {
        draw(self.target.seed, 1000 + self.number as u64, index, bound)
    }

    /// The next request, drawn from the seed: a commit, or an update or
    /// cancel of a live event that has no request set aside.
    fn next_request(&mut self, step: u64) -> Option<Request> {
        let busy = |index: usize| {
            self.aside.iter().any(|r| match r.intent {
                Intent::Update { index: i, .. } | Intent::Cancel { index: i } => i == index,
                Intent::Commit { .. } => false,
            })
        };
        let live = self.events.iter().filter(|e| e.live()).count();
        let free: Vec<usize> = (0..self.events.len())
            .filter(|&index| self.events[index].live() && !busy(index))
            .collect();
        let roll = self.draw(step, 100);
        if live < MOST_LIVE && (free.is_empty() || roll < 40) {
            return Some(self.commit_request());
        }
        let chosen = *free.get(self.draw(u64::MAX - step, free.len().max(1) as u64) as usize)?;
        Some(if roll < 80 {
            self.update_request(chosen)
        } else {
            self.cancel_request(chosen)
        })
    }

    fn request(&mut self, intent: Intent, action: &'static str, body: Value) -> Request {
        self.requests += 1;
        self.outcomes(action).sent += 1;
        Request {
            key: format!(
                "crash-{}-{}-{}-{action}",
                self.target.seed, self.number, self.requests
            ),
            intent,
            action,
            body,
            resent: false,
            again_at: Instant::now(),
            set_aside: 0,
        }
    }

    fn commit_request(&mut self) -> Request {
        let name = format!("c{}-e{}", self.number, self.commits);
        let hour = (self.number * 1000 + self.commits) as i64;
        self.commits += 1;
        let start = chrono::DateTime::parse_from_rfc3339("2031-01-06T08:00:00Z")
            .expect("an instant")
            + chrono::Duration::hours(hour);
        let body = json!({
            "user": self.target.user,
            "accounts": self.target.accounts,
            "event": {
                "title": title(&name, 0),
                "location": location(&name, 0),
                "description": description(&name),
                "start": start.to_rfc3339(),
                "end": (start + chrono::Duration::minutes(45)).to_rfc3339(),
                "timeZone": "Europe/Berlin",
            },
        });
        self.request(Intent::Commit { name }, "commit", body)
    }

    fn update_request(&mut self, index: usize) -> Request {
        let event = &mut self.events[index];
        event.sent += 1;
        let version = event.sent;
        let body = json!({
            "user": self.target.user,
            "eventId": event.id,
            "changes": {
                "title": title(&event.name, version),
                "location": location(&event.name, version),
            },
        });
        self.request(Intent::Update { index, version }, "update", body)
    }

    fn cancel_request(&mut self, index: usize) -> Request {
        let body = json!({"user": self.target.user, "eventId": self.events[index].id});
        self.request(Intent::Cancel { index }, "cancel", body)
    }

    fn outcomes(&mut self, action: &str) -> &mut Outcomes {
        match action {
            "commit" => &mut self.counts.commits,
            "update" => &mut self.counts.updates,
            _ => &mut self.counts.cancels,
        }
    }

    /// Sends `request` until it has a definitive answer and records it, or
    /// sets it aside while its key is in use.
    async fn send(&mut self, mut request: Request) {
        match self.send_once(&mut request).await {
            Sent::Acknowledged(answer) => {
                self.outcomes(request.action).acknowledged += 1;
                self.note_results(&request, &answer);
                self.acknowledged(request, &answer);
            }
            Sent::Refused(status, answer) => {
                self.outcomes(request.action).refused += 1;
                self.refused(request, status, answer);
            }
            Sent::InUse => {
                self.outcomes(request.action).in_use += 1;
                request.resent = true;
                let wait = SET_ASIDE
                    .saturating_mul(1 << request.set_aside.min(8))
                    .min(SET_ASIDE_CAP);
                request.set_aside += 1;
                request.again_at = Instant::now() + wait;
                self.aside.push(request);
            }
        }
    }

    fn acknowledged(&mut self, request: Request, answer: &Value) {
        match request.intent {
            Intent::Commit { name } => {
                let id = answer["syncedEvent"]["internalId"]
                    .as_str()
                    .expect("a commit answer names the event")
                    .to_owned();
                self.events.push(Tracked {
                    name,
                    id,
                    sent: 0,
                    acknowledged: 0,
                    cancel: Cancel::None,
                });
            }
            Intent::Update { index, version } => {
                let event = &mut self.events[index];
                event.acknowledged = event.acknowledged.max(version);
            }
            Intent::Cancel { index } => self.events[index].cancel = Cancel::Acknowledged,
        }
    }

    fn refused(&mut self, request: Request, status: u16, answer: Value) {
        let not_found = status == 404 && answer["kind"] == "event_not_found";
        match request.intent {
            // Not in state yet (every create still pending): nothing changed.
            Intent::Update { index, version } if not_found => {
                let event = &mut self.events[index];
                if event.sent == version {
                    event.sent = version - 1;
                }
            }
            // The first may have removed it (a service that honours the key
            // answers the retry as it answered the first instead).
            Intent::Cancel { index } if not_found && request.resent => {
                self.events[index].cancel = Cancel::Uncertain;
            }
            // Not in state yet: nothing changed; it may be cancelled later.
            Intent::Cancel { .. } if not_found => {}
            intent => self.counts.unexpected.push(format!(
                "{} {intent:?} (key {}): {status} {answer}",
                request.action, request.key
            )),
        }
    }

    /// Records the accounts an answer says `failed` on.
    fn note_results(&mut self, request: &Request, answer: &Value) {
        let Some(results) = answer["syncedEvent"]["results"].as_object() else {
            return;
        };
        for (account, result) in results {
            if result["status"] == "failed" {
                self.counts.failed_results.push(format!(
                    "{} {:?} on {account}: {}",
                    request.action, request.intent, result["reason"]
                ));
            }
        }
    }

    /// Sends `request` until an answer comes: a lost answer (no answer, or
    /// 5xx but 502) is sent again with the same key at once, as calsync is
    /// being started again; 502 says providers refused, for good.
    async fn send_once(&mut self, request: &mut Request) -> Sent {
        let deadline = Instant::now() + GIVE_UP;
        loop {
            let answer = self
                .http
                .post(format!(
                    "{}/api/CalendarSync/{}",
                    self.target.base, request.action
                ))
                .bearer_auth(KEY)
                .header("Idempotency-Key", &request.key)
                .json(&request.body)
                .send()
                .await;
            let lost = match answer {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    // A body cut off by a crash is a lost answer too.
                    match answer.text().await {
                        Ok(text) => {
                            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                            if (200..300).contains(&status) {
                                return Sent::Acknowledged(value);
                            }
                            if status == 409 && value["kind"] == "idempotency_key_in_use" {
                                return Sent::InUse;
                            }
                            if status < 500 || status == 502 {
                                return Sent::Refused(status, value);
                            }
                            format!("{status} {value}")
                        }
                        Err(error) => format!("body: {error:?}"),
                    }
                }
                Err(error) => format!("{error:?}"),
            };
            self.counts
                .lost
                .push(format!("{} {}: {lost}", request.action, request.key));
            self.outcomes(request.action).resent += 1;
            request.resent = true;
            assert!(
                Instant::now() < deadline,
                "client {}: {} (key {}) got no answer within {GIVE_UP:?}",
                self.number,
                request.action,
                request.key
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
