//! What the clients write and what they keep: the events' titles and
//! locations (a version counter in both, so that the latest version is
//! checkable), and per event what was sent and what was acknowledged.

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
    /// Whether no cancel was accepted (or may have been).
    pub fn live(&self) -> bool {
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
    /// (another definitive answer), sent again after a lost answer, and set
    /// aside while their key was in use.
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
    /// Answered 409 `idempotency_key_in_use`, and set aside.
    pub in_use: u64,
}

impl Outcomes {
    /// Adds `other`.
    pub fn add(&mut self, other: Outcomes) {
        self.sent += other.sent;
        self.acknowledged += other.acknowledged;
        self.refused += other.refused;
        self.resent += other.resent;
        self.in_use += other.in_use;
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
