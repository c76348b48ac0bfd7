//! One client of the workload: it commits events to both accounts, updates
//! them and cancels them over HTTP, one request per event at a time. Every
//! request carries an `Idempotency-Key`. When its answer is lost (calsync
//! died, or answered 5xx) it is sent again at once with the same key and
//! body, until calsync is back. When calsync says the first call under the
//! key is still running (409 `idempotency_key_in_use`: a call of a killed
//! instance, until it is taken over), the request is set aside, sent again
//! in a task of its own after a doubling wait, and the client goes on with
//! its other events meanwhile, as an app would. Once told to stop, the
//! client waits until each request set aside has its answer.

use super::proxy::draw;
use super::service::KEY;
use super::workload::{Cancel, Counts, Outcomes, Target, Tracked, description, location, title};
use crate::patience::GIVE_UP;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The most events a client keeps uncancelled at once, besides those
/// waiting for a request set aside.
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

/// A request set aside, once it has a definitive answer.
struct Resolved {
    request: Request,
    sent: Sent,
    /// Why answers were lost meanwhile.
    lost: Vec<String>,
    /// How many times it was sent again after a lost answer.
    resent: u64,
    /// How many times it was answered 409 `idempotency_key_in_use` (and sent
    /// again but for the first).
    in_use: u64,
}

/// One client.
pub struct Client {
    number: usize,
    target: Target,
    http: reqwest::Client,
    events: Vec<Tracked>,
    /// The events with a request set aside.
    busy: BTreeSet<usize>,
    /// Requests set aside, each sent again in a task of its own until it has
    /// a definitive answer.
    aside: JoinSet<Resolved>,
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
            busy: BTreeSet::new(),
            aside: JoinSet::new(),
            counts: Counts::default(),
            requests: 0,
            commits: 0,
        }
    }

    /// Sends requests until `stop` is set, then waits for those set aside;
    /// answers its events and counts.
    pub async fn run(mut self, stop: Arc<AtomicBool>) -> (Vec<Tracked>, Counts) {
        let mut step = 0u64;
        while !stop.load(Ordering::SeqCst) {
            step += 1;
            while let Some(resolved) = self.aside.try_join_next() {
                self.resolved(resolved.expect("a request set aside panicked"));
            }
            match self.next_request(step) {
                Some(request) => {
                    let (sent, lost, resent) =
                        deliver(&self.http, &self.target.base, &request).await;
                    self.record(request, sent, lost, resent, 0);
                }
                // Every event waits for a request set aside.
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        while let Some(resolved) = self.aside.join_next().await {
            self.resolved(resolved.expect("a request set aside panicked"));
        }
        (self.events, self.counts)
    }

    fn resolved(&mut self, resolved: Resolved) {
        let Resolved {
            request,
            sent,
            lost,
            resent,
            in_use,
        } = resolved;
        if let Intent::Update { index, .. } | Intent::Cancel { index } = request.intent {
            self.busy.remove(&index);
        }
        self.record(request, sent, lost, resent, in_use);
    }

    /// Records how `request` went: its answer, or, while its key is in use,
    /// sets it aside.
    fn record(
        &mut self,
        mut request: Request,
        sent: Sent,
        lost: Vec<String>,
        resent: u64,
        in_use: u64,
    ) {
        self.counts.lost.extend(lost);
        let outcomes = self.outcomes(request.action);
        outcomes.resent += resent;
        outcomes.in_use += in_use;
        request.resent |= resent > 0 || in_use > 0;
        match sent {
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
                if let Intent::Update { index, .. } | Intent::Cancel { index } = request.intent {
                    self.busy.insert(index);
                }
                let (http, base) = (self.http.clone(), self.target.base.clone());
                self.aside.spawn(set_aside(http, base, request));
            }
        }
    }

    fn draw(&self, index: u64, bound: u64) -> u64 {
        draw(self.target.seed, 1000 + self.number as u64, index, bound)
    }

    /// The next request, drawn from the seed: a commit, or an update or
    /// cancel of a live event that has no request set aside.
    fn next_request(&mut self, step: u64) -> Option<Request> {
        let free: Vec<usize> = (0..self.events.len())
            .filter(|index| self.events[*index].live() && !self.busy.contains(index))
            .collect();
        let roll = self.draw(step, 100);
        if free.len() < MOST_LIVE && (free.is_empty() || roll < 40) {
            return Some(self.commit_request());
        }
        let chosen = free[self.draw(u64::MAX - step, free.len() as u64) as usize];
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
}

/// Sends `request` again, after a doubling wait, until it has a definitive
/// answer.
async fn set_aside(http: reqwest::Client, base: String, request: Request) -> Resolved {
    let deadline = Instant::now() + GIVE_UP;
    let mut wait = SET_ASIDE;
    let (mut lost, mut resent, mut in_use) = (Vec::new(), 0, 0);
    loop {
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(SET_ASIDE_CAP);
        let (sent, more_lost, more_resent) = deliver(&http, &base, &request).await;
        lost.extend(more_lost);
        resent += more_resent;
        match sent {
            Sent::InUse => {
                in_use += 1;
                assert!(
                    Instant::now() < deadline,
                    "{} (key {}) still in use after {GIVE_UP:?}",
                    request.action,
                    request.key
                );
            }
            sent => {
                return Resolved {
                    request,
                    sent,
                    lost,
                    resent,
                    in_use,
                };
            }
        }
    }
}

/// Sends `request` until an answer comes: a lost answer (no answer, or 5xx
/// but 502) is sent again with the same key at once, as calsync is being
/// started again; 502 says providers refused, for good. Answers how it
/// ended, why answers were lost, and how many times it was sent again.
async fn deliver(
    http: &reqwest::Client,
    base: &str,
    request: &Request,
) -> (Sent, Vec<String>, u64) {
    let deadline = Instant::now() + GIVE_UP;
    let mut lost = Vec::new();
    loop {
        let answer = http
            .post(format!("{base}/api/CalendarSync/{}", request.action))
            .bearer_auth(KEY)
            .header("Idempotency-Key", &request.key)
            .json(&request.body)
            .send()
            .await;
        let why = match answer {
            Ok(answer) => {
                let status = answer.status().as_u16();
                // A body cut off by a crash is a lost answer too.
                match answer.text().await {
                    Ok(text) => {
                        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                        let resent = lost.len() as u64;
                        if (200..300).contains(&status) {
                            return (Sent::Acknowledged(value), lost, resent);
                        }
                        if status == 409 && value["kind"] == "idempotency_key_in_use" {
                            return (Sent::InUse, lost, resent);
                        }
                        if status < 500 || status == 502 {
                            return (Sent::Refused(status, value), lost, resent);
                        }
                        format!("{status} {value}")
                    }
                    Err(error) => format!("body: {error:?}"),
                }
            }
            Err(error) => format!("{error:?}"),
        };
        lost.push(format!("{} {}: {why}", request.action, request.key));
        assert!(
            Instant::now() < deadline,
            "{} (key {}) got no answer within {GIVE_UP:?}",
            request.action,
            request.key
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
