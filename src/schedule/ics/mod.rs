//! iCalendar (RFC 5545) text to [`ProviderEvent`]s, tolerant of bad input:
//! every line that cannot be read is reported with its line number and the
//! rest of the file is still used; a `VEVENT` with a value that cannot be
//! used is reported and the other events are read all the same. Content
//! lines are read with the `icalendar` crate's property parser after
//! unfolding here, which keeps the physical line numbers that the crate's
//! whole-file parser loses. The work one file can cause is bounded by the
//! limits exported here ([`MAX_LINES`], [`MAX_COMPONENTS`], [`MAX_DEPTH`]
//! and the others), each exceeded one a problem naming it.
//!
//! | file | what it does |
//! |---|---|
//! | `lines` | unfolding content lines and reading their properties |
//! | `walk` | components, line by line, within the limits |
//! | `limits` | the limits and [`IcsWork`], what reading took |
//! | `event` | one `VEVENT` to a [`ProviderEvent`] |
//! | `zones` | `TZID`s: IANA and Windows names, and the file's own `VTIMEZONE`s |
//! | `observances` | a `VTIMEZONE`'s `STANDARD` and `DAYLIGHT` rules: the offset at a time |
//! | `zone_rule` | the yearly `RRULE`s of those rules, expanded with bounded work |
//! | `iana_match` | the IANA zone whose offsets agree with a `VTIMEZONE`'s rules |
//! | `problems` | [`IcsProblem`]: what could not be used, and where |

mod event;
mod iana_match;
mod limits;
mod lines;
mod observances;
mod problems;
mod walk;
mod zone_rule;
mod zones;

use super::ProviderEvent;
use crate::model::EventTime;
use chrono::{DateTime, Utc};
use event::{attendees_of, build_event, sequence_of, text_of};
pub use limits::{
    IcsWork, MAX_COMPONENTS, MAX_DEPTH, MAX_LINES, MAX_PROBLEMS, MAX_PROPERTIES, MAX_ZONE_CHANGES,
    MAX_ZONE_RULE_YEARS, MAX_ZONES, ZONE_RULES_UNTIL_YEAR,
};
pub use problems::IcsProblem;
use problems::ProblemList;
use std::collections::HashMap;
use zones::Zones;

/// Reads the events of an iCalendar text. Floating times (no `TZID`, no `Z`)
/// are read in the calendar's `X-WR-TIMEZONE`, else UTC. calsync's own id is
/// read from `X-CALSYNC-ID`. Outlook's `X-MICROSOFT-CDO-BUSYSTATUS:FREE` marks
/// an event free.
pub fn events_from_ics(text: &str) -> (Vec<ProviderEvent>, Vec<IcsProblem>) {
    events_from_ics_with(text, &IcsOptions::default())
}

/// How [`events_from_ics_with`] reads beyond what [`events_from_ics`] does.
#[derive(Clone, Copy, Debug, Default)]
pub struct IcsOptions<'a> {
    /// The calendar owner's address (`ada@example.com`): an event with an
    /// `ATTENDEE:mailto:` of it whose `PARTSTAT` is `DECLINED` is read as declined.
    pub attendee: Option<&'a str>,
}

/// [`events_from_ics`], with `options`.
pub fn events_from_ics_with(
    text: &str,
    options: &IcsOptions<'_>,
) -> (Vec<ProviderEvent>, Vec<IcsProblem>) {
    let (events, problems) = read_ics(text, options);
    (
        events.into_iter().map(|read| read.event).collect(),
        problems,
    )
}

/// An event read from iCalendar text with what scheduling does not need but
/// copying the event elsewhere does.
#[derive(Clone, Debug, PartialEq)]
pub struct IcsEvent {
    /// The event as scheduling sees it.
    pub event: ProviderEvent,
    /// `DESCRIPTION`, unescaped.
    pub description: Option<String>,
    /// `LOCATION`, unescaped.
    pub location: Option<String>,
    /// The `ATTENDEE` addresses (without `mailto:`).
    pub attendees: Vec<String>,
}

/// [`events_from_ics_with`], answering each event with its description,
/// location and attendees.
pub fn read_ics(text: &str, options: &IcsOptions<'_>) -> (Vec<IcsEvent>, Vec<IcsProblem>) {
    let read = read_ics_counted(text, options);
    (read.events, read.problems)
}

/// What [`read_ics_counted`] answers.
#[derive(Clone, Debug, PartialEq)]
pub struct IcsRead {
    /// The events, in the order of the file (a later version of an event
    /// in the place of the first).
    pub events: Vec<IcsEvent>,
    /// What could not be used, in the order found.
    pub problems: Vec<IcsProblem>,
    /// What reading took, each count within its limit.
    pub work: IcsWork,
}

/// [`read_ics`], answering also what reading took.
///
/// # Example
/// ```
/// use calsync::schedule::ics::{IcsOptions, MAX_DEPTH, read_ics_counted};
///
/// let nested = "BEGIN:X\n".repeat(1_000);
/// let read = read_ics_counted(&nested, &IcsOptions::default());
/// assert_eq!(read.work.deepest, MAX_DEPTH);
/// assert!(read.problems.iter().any(|p| p.message.contains("MAX_DEPTH")));
/// ```
pub fn read_ics_counted(text: &str, options: &IcsOptions<'_>) -> IcsRead {
    // Events are built once the whole file is walked (a VTIMEZONE may
    // follow them); each event's problems are listed after those the walk
    // found before its END.
    let walked = walk::walk(text);
    let zones = Zones::new(walked.default_zone, &walked.zones);
    let (structural, dropped) = walked.problems.into_parts();
    let mut structural = structural.into_iter();
    let mut in_order = ProblemList::default();
    let mut taken = 0;
    let mut events = Vec::with_capacity(walked.events.len());
    // Per (UID, RECURRENCE-ID): where its event stands and its SEQUENCE.
    let mut versions: HashMap<(String, Option<EventTime>), (usize, i64)> = HashMap::new();
    for raw in &walked.events {
        in_order.take_from(&mut structural, raw.problems_before - taken);
        taken = raw.problems_before;
        let Some(event) = build_event(&raw.props, &zones, options, &mut in_order) else {
            let message = "the event has no usable DTSTART and is left out".to_owned();
            in_order.say(raw.begin, message);
            continue;
        };
        let sequence = sequence_of(&raw.props, &mut in_order);
        let read = IcsEvent {
            description: text_of(&raw.props, "DESCRIPTION"),
            location: text_of(&raw.props, "LOCATION"),
            attendees: attendees_of(&raw.props),
            event,
        };
        let Some(uid) = read.event.uid.clone() else {
            events.push(read);
            continue;
        };
        // Several versions of one event (the same UID and RECURRENCE-ID):
        // the highest SEQUENCE wins, then the last, as iTIP has it.
        let key = (uid, read.event.recurrence_id);
        match versions.get(&key) {
            Some(&(_, held)) if held > sequence => {}
            Some(&(at, _)) => {
                events[at] = read;
                versions.insert(key, (at, sequence));
            }
            None => {
                versions.insert(key, (events.len(), sequence));
                events.push(read);
            }
        }
    }
    in_order.take_from(&mut structural, usize::MAX);
    in_order.count_dropped(dropped);
    IcsRead {
        events,
        problems: in_order.finish(),
        work: walked.work,
    }
}

/// The instant of a UTC RFC 3339 text, for callers that print occurrences.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
