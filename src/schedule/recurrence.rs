//! Recurrence expansion: RRULE, EXRULE, RDATE and EXDATE lines read against an
//! event's start and expanded in the event's own zone with the `rrule` crate, so
//! a weekly 9:00 stays at 9:00 local time on both sides of a DST change.

use super::simple_rule::{self, Steps};
use crate::model::EventTime;
use crate::model::recurrence::refused;
pub use crate::model::recurrence::{
    IcalTime, MAX_OCCURRENCES, RecurrenceError, RecurrenceLine, local_to_utc, parse_ical_time,
    parse_recurrence_line, validate_recurrence_line,
};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Validated};

/// A series to expand: the first occurrence and the recurrence lines.
pub struct Series<'a> {
    /// The first occurrence's start.
    pub start: EventTime,
    /// Its length: exact for timed events, whole days for all-day ones.
    pub length: Duration,
    /// The zone the rule expands in.
    pub zone: Tz,
    /// The recurrence lines.
    pub lines: &'a [String],
}

/// The starts of a series' occurrences that begin before `until` and end
/// after `from`, in order. All-day series give dates; timed ones instants.
///
/// # Errors
/// A line that cannot be read, or a rule the `rrule` crate rejects.
pub fn expand(
    series: &Series<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<EventTime>, RecurrenceError> {
    expand_with(series, from, until, true)
}

/// A plain daily or weekly rule with only exclusions beside it, as the
/// direct expansion takes it.
struct Plain {
    rule: RRule<Validated>,
    step: i64,
}

/// [`expand`], with the direct expansion of plain rules on or off.
pub(crate) fn expand_with(
    series: &Series<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    direct: bool,
) -> Result<Vec<EventTime>, RecurrenceError> {
    let (zone, dt_start) = match series.start {
        EventTime::Instant(start) => {
            let zone = rrule::Tz::Tz(series.zone);
            (series.zone, start.with_timezone(&zone))
        }
        // Dates expand as UTC midnights; the index places the days in the
        // user's zone afterwards.
        EventTime::Date(date) => (
            Tz::UTC,
            date.and_time(NaiveTime::MIN)
                .and_utc()
                .with_timezone(&rrule::Tz::UTC),
        ),
    };
    // DTSTART is always the first instance (RFC 5545 §3.8.5), also when no
    // rule produces it: with RDATE or EXDATE alone, or off the rule's BYDAY.
    // An EXDATE can still remove it.
    let mut set = RRuleSet::new(dt_start).limit().rdate(dt_start);
    // The one plain rule, while nothing but exclusions stands beside it.
    let mut plain: Option<Option<Plain>> = None;
    let mut excluded = Vec::new();
    for line in series.lines {
        set = match parse_recurrence_line(line, zone)? {
            RecurrenceLine::Rule(rule) => {
                let step = simple_rule::step_days(&rule);
                let rule = counting_dtstart(rule, dt_start)?;
                plain = match (plain, step) {
                    (None, Some(step)) => Some(Some(Plain {
                        rule: rule.clone(),
                        step,
                    })),
                    _ => Some(None),
                };
                set.rrule(rule)
            }
            RecurrenceLine::ExRule(rule) => {
                plain = Some(None);
                set.exrule(rule.validate(dt_start).map_err(refused)?)
            }
            RecurrenceLine::RDate(times) => {
                plain = Some(None);
                times
                    .into_iter()
                    .filter_map(|time| to_series_time(time, dt_start))
                    .fold(set, RRuleSet::rdate)
            }
            RecurrenceLine::ExDate(times) => times
                .into_iter()
                .filter_map(|time| to_series_time(time, dt_start))
                .inspect(|time| excluded.push(time.timestamp()))
                .fold(set, RRuleSet::exdate),
        };
    }
    let from = from - series.length;
    let instants: Box<dyn Iterator<Item = DateTime<Utc>>> = match plain {
        Some(Some(Plain { rule, step })) if direct => {
            let start = dt_start.with_timezone(&Utc);
            Box::new(Steps::new(&rule, step, start, zone, excluded, from))
        }
        _ => Box::new(set.into_iter().map(|at| at.with_timezone(&Utc))),
    };
    let mut starts = Vec::new();
    let mut last = None;
    for instant in instants {
        if instant >= until {
            break;
        }
        // An instance produced twice (an RDATE on a rule's occurrence,
        // DTSTART on the rule) is one instance.
        if last.replace(instant) == Some(instant) {
            continue;
        }
        if instant > from {
            if starts.len() == MAX_OCCURRENCES {
                return Err(RecurrenceError::TooManyOccurrences);
            }
            starts.push(match series.start {
                EventTime::Instant(_) => EventTime::Instant(instant),
                EventTime::Date(_) => EventTime::Date(instant.date_naive()),
            });
        }
    }
    Ok(starts)
}

/// `rule` validated against `dt_start`, with a `COUNT` that counts DTSTART
/// as the first occurrence (RFC 5545 §3.3.10) when the rule does not produce
/// it itself (DTSTART off the rule's BYDAY, say): the rule then makes one
/// occurrence fewer.
fn counting_dtstart(
    rule: RRule<rrule::Unvalidated>,
    dt_start: DateTime<rrule::Tz>,
) -> Result<RRule<Validated>, RecurrenceError> {
    let Some(count) = rule.get_count() else {
        return rule.validate(dt_start).map_err(refused);
    };
    let validated = rule.clone().validate(dt_start).map_err(refused)?;
    let first = RRuleSet::new(dt_start)
        .rrule(validated.clone())
        .into_iter()
        .next();
    if count == 0 || first == Some(dt_start) {
        return Ok(validated);
    }
    rule.count(count - 1).validate(dt_start).map_err(refused)
}

/// An RDATE/EXDATE value as a date-time of the series: a date takes the
/// series' time of day (so `EXDATE;VALUE=DATE` removes that day's occurrence).
fn to_series_time(time: IcalTime, dt_start: DateTime<rrule::Tz>) -> Option<DateTime<rrule::Tz>> {
    let zone = dt_start.timezone();
    let instant = match time {
        IcalTime::Date(date) => {
            let local = date.and_time(dt_start.naive_local().time());
            return zone.from_local_datetime(&local).earliest();
        }
        other => other.instant()?,
    };
    Some(instant.with_timezone(&zone))
}
