//! The clients: each commits events to both accounts, updates them (a
//! counter in the title and location, so that the latest version is
//! checkable) and cancels them, one request at a time, over HTTP. Every
//! request carries an `Idempotency-Key`; when its answer is lost (calsync
//! died, or answered 5xx) it is sent again with the same key and body until
//! an answer comes. Each client keeps, per event, what was acknowledged (a
//! 2xx answer) and what was sent.

use super::proxy::draw;
use super::service::KEY;
use crate::patience::GIVE_UP;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The most events a client keeps uncancelled at once.
const MOST_LIVE: usize = 6;

/// What the clients need to know of the service and the accounts.
#[derive(Clone)]
pub struct Target {
    /// The service's base URL.
    pub base: String,
    /// The user all clients act for.
    pub user: String,
    /// The accounts each event is committed to.
    pub accounts: Vec<String>,
    /// The run's seed.
    pub seed: u64,
}

/// How a cancel ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    /// None was accepted.
    None,
    /// Answered 2xx.
    Acknowledged,
    /// The answer was lost and the retry answered `event_not_found`: the
    /// first may have removed the event (a service that honours the key
    /// answers the retry as the first instead).
    Uncertain,
}

/// One event of a client.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// The client's name for it, written in its description.
    pub name: String,
    /// calsync's id, from the acknowledged commit.
    pub id: String,
    /// The highest version sent and not refused (0: the commit).
    pub sent: u32,
    /// The highest version acknowledged.
    pub acknowledged: u32,
    /// How its cancel went.
    pub cancel: Cancel,
}

impl Tracked {
    fn live(&self) -> bool {
        self.cancel == Cancel::None
    }
}

/// The title of version `version` of event `name`.
pub fn title(name: &str, version: u32) -> String {
    format!("{name} v{version}")
}

/// The location of version `version` of event `name`.
pub fn location(name: &str, version: u32) -> String {
    format!("room {name} v{version}")
}

/// The description that names the event `name` for the checks.
pub fn description(name: &str) -> String {
    format!("calsync crash test event {name}")
}

/// The event name a description written by [`description`] holds.
pub fn name_in(description: &str) -> Option<&str> {
    description.strip_prefix("calsync crash test event ")
}

/// The version in a title written by [`title`].
pub fn version_in(title: &str) -> Option<u32> {
    title.rsplit_once(" v")?.1.parse().ok()
}

/// What the clients sent and what came back.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Requests by action: sent (once per key), acknowledged (2xx), refused
    /// (another definitive answer), and sent again after a lost answer.
    pub commits: Outcomes,
    /// See `commits`.
    pub updates: Outcomes,
    /// See `commits`.
    pub cancels: Outcomes,
    /// Per-account results answered `failed`, with the action and reason.
    pub failed_results: Vec<String>,
    /// Definitive answers no client expects (neither 2xx nor `event_not_found`).
    pub unexpected: Vec<String>,
    /// Why answers were lost.
    pub lost: Vec<String>,
}

/// Counts of one action.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcomes {
    /// Requests (keys).
    pub sent: u64,
    /// Answered 2xx.
    pub acknowledged: u64,
    /// Answered otherwise, for good.
    pub refused: u64,
    /// Sent again with the same key after a lost answer.
    pub resent: u64,
}

impl Outcomes {
    fn add(&mut self, other: Outcomes) {
        self.sent += other.sent;
        self.acknowledged += other.acknowledged;
        self.refused += other.refused;
        self.resent += other.resent;
    }
}

impl Counts {
    /// Adds another client's counts.
    pub fn add(&mut self, other: Counts) {
        self.commits.add(other.commits);
        self.updates.add(other.updates);
        self.cancels.add(other.cancels);
        self.failed_results.extend(other.failed_results);
        self.unexpected.extend(other.unexpected);
        self.lost.extend(other.lost);
    }
}

/// A definitive answer.
enum Reply {
    /// 2xx, with its body.
    Acknowledged(Value),
    /// Any other status that is not a lost answer.
    Refused(u16, Value),
}

/// One client.
pub struct Client {
    number: usize,
    target: Target,
    http: reqwest::Client,
    events: Vec<Tracked>,
    counts: Counts,
    requests: u64,
}

impl Client {
    /// Client `number` of the run.
    pub fn new(number: usize, target: Target) -> Client {
        Client {
            number,
            target,
            http: reqwest::Client::new(),
            events: Vec::new(),
            counts: Counts::default(),
            requests: 0,
        }
    }

    /// Sends requests until `stop` is set; answers its events and counts.
    pub async fn run(mut self, stop: Arc<AtomicBool>) -> (Vec<Tracked>, Counts) {
        let mut step = 0u64;
        while !stop.load(Ordering::SeqCst) {
            step += 1;
            let live: Vec<usize> = (0..self.events.len())
                .filter(|&index| self.events[index].live())
                .collect();
            let roll = self.draw(step, 100);
            if live.is_empty() || (live.len() < MOST_LIVE && roll < 40) {
                self.commit().await;
            } else {
                let chosen = live[self.draw(u64::MAX - step, live.len() as u64) as usize];
                if roll < 80 {
                    self.update(chosen).await;
                } else {
                    self.cancel(chosen).await;
                }
            }
        }
        (self.events, self.counts)
    }

    fn draw(&self, index: u64, bound: u64) -> u64 {
        draw(self.target.seed, 1000 + self.number as u64, index, bound)
    }

    async fn commit(&mut self) {
        let name = format!("c{}-e{}", self.number, self.events.len());
        let hour = (self.number * 1000 + self.events.len()) as i64;
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
        let mut outcomes = self.counts.commits;
        let reply = self.send("commit", &body, &mut outcomes).await;
        self.counts.commits = outcomes;
        match reply {
            Reply::Acknowledged(answer) => {
                self.note_results("commit", &name, &answer);
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
            Reply::Refused(status, answer) => self
                .counts
                .unexpected
                .push(format!("commit {name}: {status} {answer}")),
        }
    }

    async fn update(&mut self, index: usize) {
        let event = &self.events[index];
        let version = event.sent + 1;
        let (name, id) = (event.name.clone(), event.id.clone());
        let body = json!({
            "user": self.target.user,
            "eventId": id,
            "changes": {"title": title(&name, version), "location": location(&name, version)},
        });
        self.events[index].sent = version;
        let mut outcomes = self.counts.updates;
        let reply = self.send("update", &body, &mut outcomes).await;
        self.counts.updates = outcomes;
        match reply {
            Reply::Acknowledged(answer) => {
                self.note_results("update", &name, &answer);
                self.events[index].acknowledged = version;
            }
            // Not in state yet (every create still pending): nothing changed.
            Reply::Refused(404, answer) if is_not_found(&answer) => {
                self.events[index].sent = version - 1;
            }
            Reply::Refused(status, answer) => self
                .counts
                .unexpected
                .push(format!("update {name} v{version}: {status} {answer}")),
        }
    }

    async fn cancel(&mut self, index: usize) {
        let (name, id) = (
            self.events[index].name.clone(),
            self.events[index].id.clone(),
        );
        let body = json!({"user": self.target.user, "eventId": id});
        let mut outcomes = self.counts.cancels;
        let resent_before = outcomes.resent;
        let reply = self.send("cancel", &body, &mut outcomes).await;
        let resent = outcomes.resent > resent_before;
        self.counts.cancels = outcomes;
        match reply {
            Reply::Acknowledged(answer) => {
                self.note_results("cancel", &name, &answer);
                self.events[index].cancel = Cancel::Acknowledged;
            }
            Reply::Refused(404, answer) if is_not_found(&answer) && resent => {
                self.events[index].cancel = Cancel::Uncertain;
            }
            // Not in state yet: nothing changed; it may be cancelled later.
            Reply::Refused(404, answer) if is_not_found(&answer) => {}
            Reply::Refused(status, answer) => self
                .counts
                .unexpected
                .push(format!("cancel {name}: {status} {answer}")),
        }
    }

    /// Records the accounts an answer says `failed` on.
    fn note_results(&mut self, action: &str, name: &str, answer: &Value) {
        let Some(results) = answer["syncedEvent"]["results"].as_object() else {
            return;
        };
        for (account, result) in results {
            if result["status"] == "failed" {
                self.counts.failed_results.push(format!(
                    "{action} {name} on {account}: {}",
                    result["reason"]
                ));
            }
        }
    }

    /// Sends `body` to `action` under a fresh key until a definitive answer
    /// comes: a lost answer (no answer, 5xx but 502, or 409
    /// `idempotency_key_in_use`) is sent again with the same key, as an app
    /// would; 502 says providers refused, for good.
    async fn send(&mut self, action: &str, body: &Value, outcomes: &mut Outcomes) -> Reply {
        self.requests += 1;
        let key = format!(
            "crash-{}-{}-{}-{}",
            self.target.seed, self.number, self.requests, action
        );
        outcomes.sent += 1;
        let deadline = tokio::time::Instant::now() + GIVE_UP;
        let mut first = true;
        loop {
            if !first {
                outcomes.resent += 1;
            }
            first = false;
            let answer = self
                .http
                .post(format!("{}/api/CalendarSync/{action}", self.target.base))
                .bearer_auth(KEY)
                .header("Idempotency-Key", &key)
                .json(body)
                .send()
                .await;
            match answer {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    // A body cut off by a crash is a lost answer too.
                    match answer.text().await {
                        Ok(text) => {
                            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                            if (200..300).contains(&status) {
                                outcomes.acknowledged += 1;
                                return Reply::Acknowledged(value);
                            }
                            // The first call under the key still runs (or ran
                            // in a process that died, until it is taken over).
                            let in_use = status == 409 && value["kind"] == "idempotency_key_in_use";
                            if (status < 500 || status == 502) && !in_use {
                                outcomes.refused += 1;
                                return Reply::Refused(status, value);
                            }
                            self.counts
                                .lost
                                .push(format!("{action} {key}: {status} {value}"));
                        }
                        Err(error) => self
                            .counts
                            .lost
                            .push(format!("{action} {key}: body {error:?}")),
                    }
                }
                Err(error) => self.counts.lost.push(format!("{action} {key}: {error:?}")),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "client {}: {action} (key {key}) got no answer within {GIVE_UP:?}",
                self.number
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn is_not_found(answer: &Value) -> bool {
    answer["kind"] == "event_not_found"
}
