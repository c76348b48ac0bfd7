//! Settling and the checks: what calsync holds (read from its store), what
//! each server holds (listed directly, not through the proxy), and what the
//! clients were told.

use super::workload::{Cancel, Tracked, name_in, version_in};
use crate::caldav::support::Server;
use crate::patience::GIVE_UP;
use calsync::model::{EventId, SyncedEvent, UserId};
use calsync::operations::{Operation, OperationStatus};
use calsync::store::{SqliteStore, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// One account's calendar, as the checks reach it.
pub struct Calendar {
    /// calsync's account id.
    pub account: String,
    /// The server, reached directly.
    pub server: Server,
    /// The calendar's URL on the server.
    pub url: String,
}

/// One calendar object on a server.
#[derive(Debug)]
pub struct Object {
    /// Its path.
    pub path: String,
    /// `X-CALSYNC-ID`, when it has one.
    pub synced_id: Option<String>,
    /// `SUMMARY`.
    pub summary: Option<String>,
    /// `LOCATION`.
    pub location: Option<String>,
}

impl Calendar {
    /// Every object in the calendar.
    pub async fn objects(&self) -> Vec<Object> {
        let mut found = Vec::new();
        for href in self.server.members(&self.url).await {
            let path = path_of(&href);
            let url = format!("{}{path}", self.server.url.trim_end_matches('/'));
            let (status, _, body) = self.server.raw("GET", &url, &[], None).await;
            assert_eq!(status, 200, "GET {url}: {body}");
            let properties = properties(&body);
            found.push(Object {
                path,
                synced_id: properties.get("X-CALSYNC-ID").cloned(),
                summary: properties.get("SUMMARY").cloned(),
                location: properties.get("LOCATION").cloned(),
            });
        }
        found
    }
}

/// The path of an href or URL.
fn path_of(href: &str) -> String {
    match url::Url::parse(href) {
        Ok(url) => url.path().to_owned(),
        Err(_) => href.to_owned(),
    }
}

/// The properties of the first `VEVENT` of an iCalendar text, unfolded
/// and unescaped (only what calsync's titles and locations can hold).
fn properties(text: &str) -> BTreeMap<String, String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.split('\n').map(|line| line.trim_end_matches('\r')) {
        match (line.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => lines.push(line.to_owned()),
        }
    }
    let mut found = BTreeMap::new();
    let mut in_event = false;
    for line in lines {
        match line.as_str() {
            "BEGIN:VEVENT" => in_event = true,
            "END:VEVENT" => break,
            _ if in_event => {
                if let Some((name, value)) = line.split_once(':') {
                    let name = name.split(';').next().unwrap_or(name).to_ascii_uppercase();
                    let value = value
                        .replace("\\,", ",")
                        .replace("\\;", ";")
                        .replace("\\n", "\n")
                        .replace("\\\\", "\\");
                    found.entry(name).or_insert(value);
                }
            }
            _ => {}
        }
    }
    found
}

/// What calsync's store holds for the user.
pub struct Held {
    /// The synced events.
    pub events: Vec<SyncedEvent>,
    /// The operations of those events and of every event the clients know.
    pub operations: Vec<Operation>,
}

impl Held {
    /// The operations still pending, described.
    pub fn pending(&self) -> Vec<String> {
        self.operations
            .iter()
            .filter(|op| op.status == OperationStatus::Pending)
            .map(describe)
            .collect()
    }
}

fn describe(op: &Operation) -> String {
    format!(
        "{:?} of event {} on account {} ({} attempts, due {}, lease {:?} by {:?}, last error {:?})",
        op.kind,
        op.event,
        op.account,
        op.attempts,
        op.next_attempt_at,
        op.lease_until,
        op.lease_owner,
        op.last_error
    )
}

/// Reads what the store holds for `user`, with the operations of its events
/// and of `known` events.
pub async fn read(store: &SqliteStore, user: &str, known: &[String]) -> Held {
    let events = store
        .synced_events_of_user(&UserId::from(user))
        .await
        .expect("read the synced events");
    let ids: BTreeSet<String> = events
        .iter()
        .map(|event| event.internal_id.to_string())
        .chain(known.iter().cloned())
        .collect();
    let mut operations = Vec::new();
    for id in ids {
        operations.extend(
            store
                .operations_of_event(&EventId::from(id))
                .await
                .expect("read the operations"),
        );
    }
    Held { events, operations }
}

/// Waits until no operation of the user's events or of `known` events is
/// pending, polling often; the bound ([`GIVE_UP`]) is reached only when
/// something stays pending. Answers how long it took, or what stayed pending.
pub async fn settle(store_file: &Path, user: &str, known: &[String]) -> Result<Duration, String> {
    let store = SqliteStore::open(store_file, "CalendarSync.")
        .await
        .expect("open calsync's store to read it");
    let began = tokio::time::Instant::now();
    loop {
        let pending = read(&store, user, known).await.pending();
        if pending.is_empty() {
            return Ok(began.elapsed());
        }
        if began.elapsed() > GIVE_UP {
            return Err(format!(
                "still pending {GIVE_UP:?} after the last kill, faults off:\n  {}",
                pending.join("\n  ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every pending operation of the store, whichever event it belongs to
/// (read with nobody running: it takes them all).
pub async fn all_pending(store: &SqliteStore) -> Vec<String> {
    let far = chrono::DateTime::parse_from_rfc3339("2999-01-01T00:00:00Z")
        .expect("an instant")
        .to_utc();
    let past = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
        .expect("an instant")
        .to_utc();
    store
        .claim_due_operations(far, "crash-test-check", past, 100_000)
        .await
        .expect("read the pending operations")
        .iter()
        .map(describe)
        .collect()
}

/// What the client was told about an event calsync holds, checked against it.
fn against_client(label: &str, event: &SyncedEvent, client: &Tracked) -> Vec<String> {
    let mut failures = Vec::new();
    if client.cancel == Cancel::Acknowledged {
        failures.push(format!(
            "{label}: its cancel was acknowledged, yet calsync holds it"
        ));
    }
    match version_in(&event.event.title) {
        Some(version) if version < client.acknowledged => failures.push(format!(
            "{label}: calsync holds version {version}, but version {} was acknowledged",
            client.acknowledged
        )),
        Some(version) if version > client.sent => failures.push(format!(
            "{label}: calsync holds version {version}, but only {} was sent",
            client.sent
        )),
        Some(_) => {}
        None => failures.push(format!("{label}: its title is not one a client wrote")),
    }
    failures
}

/// The checks, once everything settled: answers every failure found.
pub fn verify(
    held: &Held,
    calendars: &[(&Calendar, Vec<Object>)],
    tracked: &[Tracked],
) -> Vec<String> {
    let mut failures = Vec::new();
    let by_id: BTreeMap<&str, &Tracked> = tracked.iter().map(|t| (t.id.as_str(), t)).collect();
    let held_ids: BTreeMap<String, &SyncedEvent> = held
        .events
        .iter()
        .map(|event| (event.internal_id.to_string(), event))
        .collect();

    for op in &held.operations {
        if op.status == OperationStatus::Failed {
            failures.push(format!("an operation failed for good: {}", describe(op)));
        }
    }
    for pending in held.pending() {
        failures.push(format!("still pending: {pending}"));
    }

    // Every event calsync holds: one the clients committed and did not
    // cancel, on every account exactly once, with its latest version.
    for (id, event) in &held_ids {
        let label = format!("event {id} ({:?})", event.event.title);
        match by_id.get(id.as_str()) {
            Some(client) => failures.extend(against_client(&label, event, client)),
            None => {
                let name = event.event.description.as_deref().and_then(name_in);
                failures.push(format!(
                    "calsync holds {label} of client event {name:?}, which no acknowledged \
                     commit answered (a commit sent again made a second event?)"
                ));
            }
        }
        let expected_location = event.event.location.clone();
        for (calendar, objects) in calendars {
            let Some(reference) = event
                .provider_ids
                .get(&calsync::model::AccountId::from(calendar.account.as_str()))
            else {
                failures.push(format!(
                    "{label}: not on account {} ({}); it is on {:?}",
                    calendar.account, calendar.server.name, event.accounts
                ));
                continue;
            };
            if reference.version != event.version {
                failures.push(format!(
                    "{label}: the copy on {} records version {}, the event is at version {}",
                    calendar.server.name, reference.version, event.version
                ));
            }
            let copies: Vec<&Object> = objects
                .iter()
                .filter(|object| object.synced_id.as_deref() == Some(id.as_str()))
                .collect();
            if copies.len() != 1 {
                failures.push(format!(
                    "{label}: {} copies on {} ({:?}), not one",
                    copies.len(),
                    calendar.server.name,
                    copies.iter().map(|c| &c.path).collect::<Vec<_>>()
                ));
            }
            let recorded = path_of(&reference.event_id);
            let Some(copy) = copies.iter().find(|copy| copy.path == recorded) else {
                failures.push(format!(
                    "{label}: no copy on {} at its recorded {recorded}",
                    calendar.server.name
                ));
                continue;
            };
            if copy.summary.as_deref() != Some(event.event.title.as_str())
                || copy.location != expected_location
            {
                failures.push(format!(
                    "{label}: {} holds {:?} at {:?}, calsync holds {:?} at {:?}",
                    calendar.server.name,
                    copy.summary,
                    copy.location,
                    event.event.title,
                    expected_location
                ));
            }
        }
    }

    // Every acknowledged commit not cancelled is held.
    for client in tracked {
        if client.cancel == Cancel::None && !held_ids.contains_key(&client.id) {
            failures.push(format!(
                "event {} ({}): its commit was acknowledged and no cancel was, yet calsync \
                 does not hold it",
                client.id, client.name
            ));
        }
    }

    // Nothing on a server that calsync does not hold there.
    for (calendar, objects) in calendars {
        for object in objects {
            let held_here = object.synced_id.as_deref().and_then(|id| {
                let event = held_ids.get(id)?;
                let reference = event
                    .provider_ids
                    .get(&calsync::model::AccountId::from(calendar.account.as_str()))?;
                (path_of(&reference.event_id) == object.path).then_some(())
            });
            if held_here.is_none() {
                let cancelled = object
                    .synced_id
                    .as_deref()
                    .and_then(|id| by_id.get(id))
                    .map(|client| client.cancel);
                failures.push(format!(
                    "{} holds {} ({:?}, calsync id {:?}, cancel {cancelled:?}) that calsync \
                     does not hold there",
                    calendar.server.name, object.path, object.summary, object.synced_id
                ));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    //! The checks on made-up observations: a converged run passes, and each
    //! way of not converging is named.
    use super::*;
    use serde_json::json;

    fn calendar() -> Calendar {
        Calendar {
            account: "account-r".into(),
            server: Server {
                name: "radicale",
                url: "http://127.0.0.1:1".into(),
                user: "u".into(),
                password: "p".into(),
                checks_passwords: true,
            },
            url: "http://127.0.0.1:1/u/cal/".into(),
        }
    }

    fn held(version: u32) -> Held {
        let event = serde_json::from_value(json!({
            "internalId": "e1", "user": "u", "accounts": ["account-r"],
            "providerIds": {"account-r": {"provider": "apple",
                "eventId": "http://127.0.0.1:2/u/cal/a.ics", "version": version + 1}},
            "syncedAt": "2030-01-01T00:00:00Z", "version": version + 1,
            "event": {"title": format!("c0-e0 v{version}"), "location": format!("room c0-e0 v{version}"),
                "description": "calsync crash test event c0-e0",
                "start": "2031-01-06T08:00:00Z", "end": "2031-01-06T09:00:00Z"},
        }))
        .expect("a synced event");
        Held {
            events: vec![event],
            operations: Vec::new(),
        }
    }

    fn object(path: &str, id: &str, version: u32) -> Object {
        Object {
            path: path.into(),
            synced_id: Some(id.into()),
            summary: Some(format!("c0-e0 v{version}")),
            location: Some(format!("room c0-e0 v{version}")),
        }
    }

    fn tracked(sent: u32, acknowledged: u32, cancel: Cancel) -> Vec<Tracked> {
        vec![Tracked {
            name: "c0-e0".into(),
            id: "e1".into(),
            sent,
            acknowledged,
            cancel,
        }]
    }

    fn failures(held: &Held, objects: Vec<Object>, tracked: &[Tracked]) -> Vec<String> {
        let calendar = calendar();
        verify(held, &[(&calendar, objects)], tracked)
    }

    fn one_failure(found: Vec<String>, naming: &str) {
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains(naming), "{found:#?}");
    }

    #[test]
    fn a_converged_run_passes() {
        let copy = || vec![object("/u/cal/a.ics", "e1", 2)];
        let found = failures(&held(2), copy(), &tracked(2, 2, Cancel::None));
        assert!(found.is_empty(), "{found:#?}");
        // A version sent, not acknowledged, may or may not have landed.
        assert!(failures(&held(2), copy(), &tracked(3, 2, Cancel::None)).is_empty());
        assert!(failures(&held(2), copy(), &tracked(2, 1, Cancel::None)).is_empty());
        let gone = Held {
            events: Vec::new(),
            operations: Vec::new(),
        };
        assert!(failures(&gone, Vec::new(), &tracked(2, 2, Cancel::Acknowledged)).is_empty());
        assert!(failures(&gone, Vec::new(), &tracked(2, 2, Cancel::Uncertain)).is_empty());
    }

    #[test]
    fn each_way_of_not_converging_is_named() {
        let live = tracked(2, 2, Cancel::None);
        let stale = vec![object("/u/cal/a.ics", "e1", 1)];
        one_failure(
            failures(&held(2), stale, &live),
            "calsync holds \"c0-e0 v2\"",
        );
        let twice = vec![
            object("/u/cal/a.ics", "e1", 2),
            object("/u/cal/b.ics", "e1", 2),
        ];
        let found = failures(&held(2), twice, &live);
        assert!(found.iter().any(|f| f.contains("2 copies")), "{found:#?}");
        assert!(
            found.iter().any(|f| f.contains("/u/cal/b.ics")),
            "{found:#?}"
        );
        let stray = vec![
            object("/u/cal/a.ics", "e1", 2),
            object("/u/cal/z.ics", "e9", 0),
        ];
        one_failure(failures(&held(2), stray, &live), "does not hold there");
        let copy = || vec![object("/u/cal/a.ics", "e1", 2)];
        one_failure(
            failures(&held(2), copy(), &tracked(3, 3, Cancel::None)),
            "version 3 was acknowledged",
        );
        one_failure(
            failures(&held(2), copy(), &tracked(1, 1, Cancel::None)),
            "only 1 was sent",
        );
        one_failure(
            failures(&held(2), copy(), &tracked(2, 2, Cancel::Acknowledged)),
            "cancel was acknowledged",
        );
        let gone = Held {
            events: Vec::new(),
            operations: Vec::new(),
        };
        one_failure(failures(&gone, Vec::new(), &live), "does not hold it");
        one_failure(
            failures(&held(2), copy(), &[]),
            "no acknowledged commit answered",
        );
        let mut behind = held(2);
        for reference in behind.events[0].provider_ids.values_mut() {
            reference.version -= 1;
        }
        one_failure(failures(&behind, copy(), &live), "records version 2");
    }
}
