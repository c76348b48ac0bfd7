//! The busy index: every busy occurrence of a calendar snapshot over a window,
//! recurrences expanded, sorted by start, with a max-end tree over the sorted
//! array so that "what overlaps this span" costs O((k + 1) log n) for k hits.

use super::recurrence::{self, ExpandError, Instance, Series};
use super::work::{OutOfWork, Work};
use super::{AccountCalendar, EventStatus, Problem, ProviderEvent};
use crate::model::zones::resolve_zone;
use crate::model::{AccountId, EventId, EventTime, ExistingEvent, Transparency};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::Arc;

/// Occurrences per tree leaf: a short linear scan is cheaper than deeper
/// tree levels and keeps the tree small.
const BLOCK: usize = 16;

/// The event an occurrence came from, kept once per event.
#[derive(Clone, Debug)]
struct Source {
    account: u32,
    event_id: Arc<str>,
    uid: Option<Arc<str>>,
    title: Arc<str>,
    all_day: bool,
    synced_id: Option<EventId>,
}

/// One busy occurrence: seconds since the epoch, end exclusive.
#[derive(Clone, Copy, Debug)]
struct Occurrence {
    start: i64,
    end: i64,
    source: u32,
}

/// Busy time of a user's accounts over a window, ready for queries.
#[derive(Clone, Debug)]
pub struct BusyIndex {
    accounts: Vec<AccountId>,
    sources: Vec<Source>,
    /// Sorted by start.
    occurrences: Vec<Occurrence>,
    /// `tree[node]` is the latest end among the occurrences under `node`
    /// (node 1 covers all; node `i` has children `2i` and `2i + 1`); a leaf
    /// is a block of [`BLOCK`] occurrences, scanned directly.
    tree: Vec<i64>,
    leaves: usize,
    user_zone: Tz,
}

impl Default for BusyIndex {
    fn default() -> Self {
        BusyIndex {
            accounts: Vec::new(),
            sources: Vec::new(),
            occurrences: Vec::new(),
            tree: Vec::new(),
            leaves: 0,
            user_zone: Tz::UTC,
        }
    }
}

/// A busy occurrence as the index holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusyOccurrence {
    /// Where it starts, in UTC (for all-day events: midnight in the user's zone).
    pub start: DateTime<Utc>,
    /// Where it ends (exclusive).
    pub end: DateTime<Utc>,
    /// The occurrence as a conflict names it.
    pub existing: ExistingEvent,
    /// calsync's id for the event, when calsync wrote it.
    pub synced_id: Option<EventId>,
}

fn is_busy(event: &ProviderEvent) -> bool {
    event.status != EventStatus::Cancelled
        && !event.declined
        && event.transparency != Transparency::Free
}

/// An all-day span in the user's zone: midnight of the first day to midnight
/// after the last.
pub(crate) fn day_span(start: NaiveDate, end: NaiveDate, zone: Tz) -> Option<(i64, i64)> {
    let midnight = |date: NaiveDate| recurrence::local_to_utc(date.and_time(NaiveTime::MIN), zone);
    Some((midnight(start)?.timestamp(), midnight(end)?.timestamp()))
}

/// Whether an override's recurrence id names the master occurrence starting at `start`.
fn names_occurrence(recurrence_id: &EventTime, start: &EventTime, zone: Tz) -> bool {
    match (recurrence_id, start) {
        // An all-day series named by a date-time (as Exchange writes it):
        // the day it is midnight of, in the series' zone, else in the zone
        // nearest UTC where it is (midnight somewhere within half a day).
        (EventTime::Instant(id), EventTime::Date(day)) => {
            let local = id.with_timezone(&zone);
            if local.time() == NaiveTime::MIN {
                local.date_naive() == *day
            } else {
                (*id + Duration::hours(12)).date_naive() == *day
            }
        }
        (EventTime::Date(id), EventTime::Instant(at)) => {
            at.with_timezone(&zone).date_naive() == *id
        }
        _ => recurrence_id == start,
    }
}

/// An override of a series' instance, as the series' expansion sees it.
struct Override {
    /// The original start of the instance it replaces.
    id: EventTime,
    /// For `RANGE=THISANDFUTURE`: how later instances move, and how long they last.
    onward: Option<(Duration, Duration)>,
}

/// The shift from an instance's original start to the override's start, and
/// the override's length: what `RANGE=THISANDFUTURE` applies to every later
/// instance. `None` when the two starts are not of one kind.
fn onward(id: EventTime, event: &ProviderEvent) -> Option<(Duration, Duration)> {
    match (id, event.start, event.end) {
        (EventTime::Instant(id), EventTime::Instant(start), EventTime::Instant(end)) => {
            Some((start - id, end - start))
        }
        (EventTime::Date(id), EventTime::Date(start), EventTime::Date(end)) => {
            Some((start - id, end - start))
        }
        _ => None,
    }
}

/// Whether `start` comes at or after an override's instance `id`.
fn at_or_after(start: &EventTime, id: &EventTime) -> bool {
    match (start, id) {
        (EventTime::Instant(start), EventTime::Instant(id)) => start >= id,
        (EventTime::Date(start), EventTime::Date(id)) => start >= id,
        _ => false,
    }
}

/// `instance` moved as the latest `THISANDFUTURE` override at or before it says.
fn moved_onward(instance: Instance, overrides: &[Override]) -> Instance {
    let latest = overrides
        .iter()
        .filter(|o| o.onward.is_some() && at_or_after(&instance.start, &o.id))
        .max_by(|a, b| match (a.id, b.id) {
            (EventTime::Instant(a), EventTime::Instant(b)) => a.cmp(&b),
            (EventTime::Date(a), EventTime::Date(b)) => a.cmp(&b),
            _ => std::cmp::Ordering::Equal,
        });
    let Some((shift, length)) = latest.and_then(|o| o.onward) else {
        return instance;
    };
    let start = match instance.start {
        EventTime::Instant(at) => at.checked_add_signed(shift).map(EventTime::Instant),
        EventTime::Date(day) => day.checked_add_signed(shift).map(EventTime::Date),
    };
    Instance {
        start: start.unwrap_or(instance.start),
        length,
    }
}

struct Builder<'a> {
    index: BusyIndex,
    problems: Vec<Problem>,
    window: (DateTime<Utc>, DateTime<Utc>),
    calendars: &'a [AccountCalendar],
    work: &'a mut Work,
}

/// Why a busy index was not built: the work it needed, and the event being
/// read when the budget ran out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{why}{}", .event.as_ref().map(|(account, event)| format!(" (reading event {event:?} of account {account})")).unwrap_or_default())]
pub struct IndexOutOfWork {
    /// Why the work ended.
    pub why: OutOfWork,
    /// The account and event being read, when the budget ran out there.
    pub event: Option<(AccountId, String)>,
}

impl Builder<'_> {
    fn problem(&mut self, account: usize, event: &ProviderEvent, message: String) {
        self.problems.push(Problem {
            account: self.calendars[account].account.clone(),
            event_id: event.event_id.clone(),
            message,
        });
    }

    fn add_account(&mut self, account: usize) -> Result<(), IndexOutOfWork> {
        let calendar = &self.calendars[account];
        let mut overrides: HashMap<&str, Vec<Override>> = HashMap::new();
        for event in &calendar.events {
            if let (Some(uid), Some(id)) = (&event.uid, event.recurrence_id) {
                overrides.entry(uid.as_str()).or_default().push(Override {
                    id,
                    onward: event.this_and_future.then(|| onward(id, event)).flatten(),
                });
            }
        }
        for event in &calendar.events {
            let moved = match (&event.uid, event.recurrence_id) {
                (Some(uid), None) => overrides.get(uid.as_str()).map(Vec::as_slice),
                _ => None,
            };
            self.add_event(account, event, moved.unwrap_or(&[]))
                .map_err(|why| IndexOutOfWork {
                    why,
                    event: Some((calendar.account.clone(), event.event_id.clone())),
                })?;
        }
        Ok(())
    }

    fn add_event(
        &mut self,
        account: usize,
        event: &ProviderEvent,
        moved: &[Override],
    ) -> Result<(), OutOfWork> {
        self.work.spend(1)?;
        if !is_busy(event) {
            return Ok(());
        }
        let zone = match event
            .time_zone
            .as_deref()
            .map(|name| (name, resolve_zone(name)))
        {
            None => Tz::UTC,
            Some((_, Some(zone))) => zone,
            Some((name, None)) => {
                self.problem(
                    account,
                    event,
                    format!("unknown time zone {name:?}; read as UTC"),
                );
                Tz::UTC
            }
        };
        let length = match (event.start, event.end) {
            (EventTime::Instant(s), EventTime::Instant(e)) if e >= s => e - s,
            (EventTime::Date(s), EventTime::Date(e)) if e > s => Duration::days((e - s).num_days()),
            _ => {
                let message =
                    "start and end must both be date-times or both dates, end after start";
                self.problem(account, event, message.to_owned());
                return Ok(());
            }
        };
        let source = u32::try_from(self.index.sources.len()).unwrap_or(u32::MAX);
        let mut instances = vec![Instance {
            start: event.start,
            length,
        }];
        if !event.recurrence.is_empty() && event.recurrence_id.is_none() {
            let series = Series {
                start: event.start,
                length,
                zone,
                lines: &event.recurrence,
            };
            // Instances moved from outside the window by a THISANDFUTURE
            // override land in it: the window widens by the largest shift.
            let reach = moved
                .iter()
                .filter_map(|o| o.onward.map(|(shift, _)| shift.abs()))
                .max()
                .unwrap_or_default();
            let (from, until) = (
                self.window.0 - Duration::days(2) - reach,
                self.window.1 + Duration::days(2) + reach,
            );
            match recurrence::expand(&series, from, until, self.work) {
                Ok(expanded) => instances = expanded,
                Err(ExpandError::Work(why)) => return Err(why),
                Err(ExpandError::Line(message)) => self.problem(
                    account,
                    event,
                    format!("recurrence: {message}; only the first occurrence is used"),
                ),
            }
        }
        let before = self.index.occurrences.len();
        for instance in instances {
            if moved
                .iter()
                .any(|o| names_occurrence(&o.id, &instance.start, zone))
            {
                continue;
            }
            let instance = moved_onward(instance, moved);
            self.push(instance.start, instance.length, source);
        }
        if self.index.occurrences.len() > before {
            self.index.sources.push(Source {
                account: u32::try_from(account).unwrap_or(u32::MAX),
                event_id: event.event_id.as_str().into(),
                uid: event.uid.as_deref().map(Into::into),
                title: event.title.as_str().into(),
                all_day: matches!(event.start, EventTime::Date(_)),
                synced_id: event.synced_id.clone(),
            });
        }
        Ok(())
    }

    fn push(&mut self, start: EventTime, length: Duration, source: u32) {
        let span = match start {
            EventTime::Instant(at) => Some((at.timestamp(), (at + length).timestamp())),
            EventTime::Date(day) => day_span(day, day + length, self.index.user_zone),
        };
        let Some((start, end)) = span else { return };
        if end > self.window.0.timestamp() && start < self.window.1.timestamp() {
            self.index
                .occurrences
                .push(Occurrence { start, end, source });
        }
    }
}

impl BusyIndex {
    /// Builds the index of busy occurrences between `window_start` and
    /// `window_end`; all-day events become busy days in `user_zone`. Free,
    /// cancelled and declined events are left out; an overridden or cancelled
    /// instance (an event sharing the series' UID with a `recurrence_id`)
    /// replaces the series' occurrence it names. Events that cannot be read are
    /// reported and the rest is still used. Each event and each occurrence a
    /// rule produces costs a unit of `work`.
    ///
    /// # Errors
    /// The work budget ran out (naming the event being read), or the work
    /// was stopped.
    pub fn build(
        calendars: &[AccountCalendar],
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
        user_zone: Tz,
        work: &mut Work,
    ) -> Result<(BusyIndex, Vec<Problem>), IndexOutOfWork> {
        let mut builder = Builder {
            index: BusyIndex {
                accounts: calendars.iter().map(|c| c.account.clone()).collect(),
                user_zone,
                ..BusyIndex::default()
            },
            problems: Vec::new(),
            window: (window_start, window_end),
            calendars,
            work,
        };
        let events: usize = calendars.iter().map(|c| c.events.len()).sum();
        builder.index.occurrences.reserve(events);
        builder.index.sources.reserve(events);
        for account in 0..calendars.len() {
            builder.add_account(account)?;
        }
        let mut index = builder.index;
        index
            .occurrences
            .sort_unstable_by_key(|o| (o.start, o.end, o.source));
        index.build_tree();
        Ok((index, builder.problems))
    }

    fn build_tree(&mut self) {
        self.leaves = self.occurrences.len().div_ceil(BLOCK).next_power_of_two();
        self.tree = vec![i64::MIN; 2 * self.leaves];
        for (i, occurrence) in self.occurrences.iter().enumerate() {
            let leaf = &mut self.tree[self.leaves + i / BLOCK];
            *leaf = (*leaf).max(occurrence.end);
        }
        for node in (1..self.leaves).rev() {
            self.tree[node] = self.tree[2 * node].max(self.tree[2 * node + 1]);
        }
    }

    /// How many busy occurrences the index holds.
    pub fn len(&self) -> usize {
        self.occurrences.len()
    }

    /// Whether the index holds no busy time.
    pub fn is_empty(&self) -> bool {
        self.occurrences.is_empty()
    }

    /// The zone all-day events were placed in.
    pub fn user_zone(&self) -> Tz {
        self.user_zone
    }

    /// Bytes the index holds on the heap (its arrays and the texts it keeps).
    pub fn heap_bytes(&self) -> usize {
        let texts: usize = self
            .sources
            .iter()
            .map(|s| {
                s.event_id.len()
                    + s.title.len()
                    + s.uid.as_ref().map_or(0, |u| u.len())
                    + s.synced_id.as_ref().map_or(0, |id| id.0.capacity())
            })
            .sum();
        self.sources.capacity() * std::mem::size_of::<Source>()
            + self.occurrences.capacity() * std::mem::size_of::<Occurrence>()
            + self.tree.capacity() * std::mem::size_of::<i64>()
            + self
                .accounts
                .iter()
                .map(|a| a.0.capacity() + std::mem::size_of::<AccountId>())
                .sum::<usize>()
            + texts
    }

    /// Calls `visit` with the position of every occurrence overlapping
    /// `[start, end)` (zero-length occurrences inside it count, also one at
    /// `start` itself), in start order, until it returns `false`.
    pub(crate) fn visit_overlaps(
        &self,
        start: i64,
        end: i64,
        visit: &mut impl FnMut(usize) -> bool,
    ) {
        let limit = self.occurrences.partition_point(|o| o.start < end);
        if limit > 0 {
            self.descend(
                1,
                0,
                self.leaves,
                (limit.div_ceil(BLOCK), limit),
                start,
                visit,
            );
        }
    }

    fn descend(
        &self,
        node: usize,
        low: usize,
        high: usize,
        (blocks, limit): (usize, usize),
        start: i64,
        visit: &mut impl FnMut(usize) -> bool,
    ) -> bool {
        // `tree` holds each subtree's latest end: below `start`, nothing
        // there reaches the span (an end at `start` may be a zero-length
        // occurrence there).
        if low >= blocks || self.tree[node] < start {
            return true;
        }
        if high - low == 1 {
            let block = low * BLOCK..((low + 1) * BLOCK).min(limit);
            return self.occurrences[block.clone()]
                .iter()
                .zip(block)
                .filter(|(o, _)| o.end > start || o.start == start)
                .all(|(_, position)| visit(position));
        }
        let middle = (low + high) / 2;
        self.descend(2 * node, low, middle, (blocks, limit), start, visit)
            && self.descend(2 * node + 1, middle, high, (blocks, limit), start, visit)
    }

    pub(crate) fn is_excluded(&self, position: usize, exclude: Option<&EventId>) -> bool {
        exclude.is_some() && self.source(position).synced_id.as_ref() == exclude
    }

    fn source(&self, position: usize) -> &Source {
        &self.sources[self.occurrences[position].source as usize]
    }

    /// The span of the occurrence at `position`, in seconds.
    pub(crate) fn span(&self, position: usize) -> (i64, i64) {
        let occurrence = self.occurrences[position];
        (occurrence.start, occurrence.end)
    }

    /// The occurrence at `position` (in start order).
    pub(crate) fn occurrence(&self, position: usize) -> BusyOccurrence {
        let (start, end, existing) = self.existing(position);
        BusyOccurrence {
            start,
            end,
            existing,
            synced_id: self.source(position).synced_id.clone(),
        }
    }

    /// The occurrence at `position` as a conflict names it, with its UTC span.
    pub(crate) fn existing(
        &self,
        position: usize,
    ) -> (DateTime<Utc>, DateTime<Utc>, ExistingEvent) {
        let occurrence = self.occurrences[position];
        let source = self.source(position);
        let start = DateTime::from_timestamp(occurrence.start, 0).unwrap_or_default();
        let end = DateTime::from_timestamp(occurrence.end, 0).unwrap_or_default();
        let (own_start, own_end) = if source.all_day {
            let date =
                |at: DateTime<Utc>| EventTime::Date(at.with_timezone(&self.user_zone).date_naive());
            (date(start), date(end))
        } else {
            (EventTime::Instant(start), EventTime::Instant(end))
        };
        let existing = ExistingEvent {
            account: self.accounts[source.account as usize].clone(),
            event_id: Arc::clone(&source.event_id),
            uid: source.uid.clone(),
            title: Arc::clone(&source.title),
            start: own_start,
            end: own_end,
            all_day: source.all_day,
        };
        (start, end, existing)
    }

    /// Every busy occurrence, in start order.
    pub fn occurrences(&self) -> impl Iterator<Item = BusyOccurrence> + '_ {
        (0..self.occurrences.len()).map(|position| self.occurrence(position))
    }

    /// The busy occurrences overlapping `[start, end)`, in start order.
    pub fn overlapping(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<BusyOccurrence> {
        let mut found = Vec::new();
        self.visit_overlaps(start.timestamp(), end.timestamp(), &mut |position| {
            found.push(self.occurrence(position));
            true
        });
        found
    }
}
