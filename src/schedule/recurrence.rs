//! Recurrence expansion: RRULE, EXRULE, RDATE and EXDATE lines read against an
//! event's start and expanded in the event's own zone with the `rrule` crate, so
//! a weekly 9:00 stays at 9:00 local time on both sides of a DST change.

use super::simple_rule::{self, Steps};
use super::work::{OutOfWork, Work};
use crate::model::EventTime;
use crate::model::recurrence::refused;
pub use crate::model::recurrence::{
    IcalTime, RDate, RecurrenceError, RecurrenceLine, local_to_utc, parse_ical_duration,
    parse_ical_time, parse_recurrence_line, validate_recurrence_line,
};
use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;
use rrule::{Frequency, NWeekday, RRule, RRuleSet, Unvalidated, Validated};
use std::collections::HashSet;

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

/// One occurrence of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Where it starts: a date for all-day series, else an instant.
    pub start: EventTime,
    /// How long it lasts: the series' length, or an `RDATE` period's own.
    pub length: Duration,
}

/// Why a series could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// A line that cannot be read, or a rule the `rrule` crate refuses.
    #[error(transparent)]
    Line(#[from] RecurrenceError),
    /// The request's work budget ran out, or its caller stopped waiting.
    #[error(transparent)]
    Work(#[from] OutOfWork),
}

/// The occurrences of a series that begin before `until` and end after
/// `from`, in order, each occurrence produced costing one unit of `work`.
/// Rules without `COUNT` start at a whole period shortly before `from`, so the
/// cost follows the window, not the distance from the series' start.
///
/// # Errors
/// A line that cannot be read or a rule the `rrule` crate rejects; or the
/// work budget spent.
pub fn expand(
    series: &Series<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    work: &mut Work,
) -> Result<Vec<Instance>, ExpandError> {
    expand_with(series, from, until, true, work)
}

/// The instants a series' lines add and remove, in the window.
#[derive(Default)]
struct Collected {
    /// Seconds since the epoch, and a period's own length.
    added: Vec<(i64, Option<Duration>)>,
    removed: HashSet<i64>,
}

/// [`expand`], with the direct expansion of plain rules on or off.
pub(crate) fn expand_with(
    series: &Series<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    direct: bool,
    work: &mut Work,
) -> Result<Vec<Instance>, ExpandError> {
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
    let all_day = matches!(series.start, EventTime::Date(_));
    // Occurrences starting after this may still end after `from`.
    let reach = from - series.length;
    let mut collected = Collected::default();
    // DTSTART is always the first instance (RFC 5545 §3.8.5), also when no
    // rule produces it: with RDATE or EXDATE alone, or off the rule's BYDAY.
    // An EXDATE can still remove it.
    collected.added.push((dt_start.timestamp(), None));
    for line in series.lines {
        match parse_recurrence_line(line, zone)? {
            RecurrenceLine::Rule(rule) => {
                let step = simple_rule::step_days(&rule).filter(|_| direct);
                for instant in rule_instants(rule, step, true, dt_start, zone, reach)? {
                    work.spend(1)?;
                    if instant >= until {
                        break;
                    }
                    collected.added.push((instant.timestamp(), None));
                }
            }
            RecurrenceLine::ExRule(rule) => {
                for instant in rule_instants(rule, None, false, dt_start, zone, reach)? {
                    work.spend(1)?;
                    if instant >= until {
                        break;
                    }
                    collected.removed.insert(instant.timestamp());
                }
            }
            RecurrenceLine::RDate(dates) => {
                for date in dates {
                    work.spend(1)?;
                    if let Some(at) = to_series_time(date.at, dt_start) {
                        collected.added.push((at.timestamp(), date.length));
                    }
                }
            }
            RecurrenceLine::ExDate(times) => {
                for time in times {
                    work.spend(1)?;
                    if let Some(at) = to_series_time(time, dt_start) {
                        collected.removed.insert(at.timestamp());
                    }
                }
            }
        }
    }
    // An instance produced twice (an RDATE on a rule's occurrence, DTSTART
    // on the rule) is one instance, with the longer of its lengths.
    collected
        .added
        .sort_unstable_by_key(|&(at, length)| (at, std::cmp::Reverse(length)));
    collected.added.dedup_by_key(|&mut (at, _)| at);
    let mut instances = Vec::new();
    for (at, length) in collected.added {
        if collected.removed.contains(&at) {
            continue;
        }
        let Some(start) = DateTime::from_timestamp(at, 0) else {
            continue;
        };
        let length = match length {
            None => series.length,
            // A period on an all-day series covers the days it touches.
            Some(length) if all_day => Duration::days(length.num_days().max(1)),
            Some(length) => length,
        };
        if start >= until || start + length <= from {
            continue;
        }
        instances.push(Instance {
            start: if all_day {
                EventTime::Date(start.date_naive())
            } else {
                EventTime::Instant(start)
            },
            length,
        });
    }
    Ok(instances)
}

/// The instants of one rule from `dt_start` on, in order: plain daily and
/// weekly rules stepped directly (`step` days apart), other rules by the
/// `rrule` iterator, restarted near `reach` when no `COUNT` needs the
/// occurrences before it. An `RRULE`'s count includes DTSTART
/// (`counts_dtstart`); an `EXRULE`'s is its own.
fn rule_instants(
    rule: RRule<Unvalidated>,
    step: Option<i64>,
    counts_dtstart: bool,
    dt_start: DateTime<rrule::Tz>,
    zone: Tz,
    reach: DateTime<Utc>,
) -> Result<Box<dyn Iterator<Item = DateTime<Utc>>>, ExpandError> {
    let validate = |rule: RRule<Unvalidated>| {
        if counts_dtstart {
            counting_dtstart(rule, dt_start)
        } else {
            rule.validate(dt_start).map_err(refused)
        }
    };
    // Validated against the series' start whatever happens next, so that a
    // rule is refused the same way wherever the window lies.
    let validated = validate(rule.clone())?;
    if let Some(step) = step {
        let rule = validated;
        let start = dt_start.with_timezone(&Utc);
        return Ok(Box::new(Steps::new(
            &rule,
            step,
            start,
            zone,
            Vec::new(),
            reach,
        )));
    }
    let (rule, start) = match restart(&rule, dt_start, reach)? {
        Restart::Keep => (validated, dt_start),
        Restart::At(rule, start) => (rule, start),
        Restart::Ended => return Ok(Box::new(std::iter::empty())),
    };
    let set = RRuleSet::new(start).limit().rrule(rule);
    Ok(Box::new(set.into_iter().map(|at| at.with_timezone(&Utc))))
}

/// Where a rule's expansion may start.
enum Restart {
    /// At the series' start (the rule has a `COUNT`, or the start is near).
    Keep,
    /// At a later start: the first instant of a whole period of the rule.
    At(RRule<Validated>, DateTime<rrule::Tz>),
    /// Nowhere: the rule ended before the window.
    Ended,
}

/// The rule restarted at the beginning of the last whole period (of its
/// `FREQ` and `INTERVAL`, counted as the `rrule` crate counts them, in local
/// wall-clock fields) that begins two periods or more before `reach`. Its
/// `BY*` parts that default from the start are written out from the old start
/// first, so from the new start on it makes exactly the occurrences the old
/// rule makes there. A rule with `COUNT` is kept: its count runs from the
/// series' start.
fn restart(
    rule: &RRule<Unvalidated>,
    dt_start: DateTime<rrule::Tz>,
    reach: DateTime<Utc>,
) -> Result<Restart, ExpandError> {
    if rule.get_count().is_some() {
        return Ok(Restart::Keep);
    }
    if rule.get_until().is_some_and(|until| *until < reach) {
        return Ok(Restart::Ended);
    }
    let zone = dt_start.timezone();
    let local = dt_start.naive_local();
    let target = reach.with_timezone(&zone).naive_local();
    let interval = i64::from(rule.get_interval().max(1));
    // Periods back from the first guess when its start is skipped by a
    // clock change: enough to leave any gap (a few hours) behind.
    let mut periods_back = 0;
    for _ in 0..4 {
        let Some(start) = period_start(rule, local, target, interval, periods_back) else {
            return Ok(Restart::Keep);
        };
        if start <= local {
            return Ok(Restart::Keep);
        }
        match zone.from_local_datetime(&start).earliest() {
            Some(new_start) => {
                let rule = explicit(rule.clone(), dt_start)
                    .validate(new_start)
                    .map_err(refused)?;
                return Ok(Restart::At(rule, new_start));
            }
            None => periods_back += gap_periods(rule.get_freq(), interval),
        }
    }
    Ok(Restart::Keep)
}

/// Periods that span a clock change's gap, at the rule's frequency.
fn gap_periods(freq: Frequency, interval: i64) -> i64 {
    let seconds = match freq {
        Frequency::Hourly => 3600,
        Frequency::Minutely => 60,
        Frequency::Secondly => 1,
        _ => return 1,
    } * interval;
    (4 * 3600 / seconds).max(1)
}

/// The local start of the last whole period of `rule` beginning two periods
/// or more before `target`, `periods_back` more periods earlier.
fn period_start(
    rule: &RRule<Unvalidated>,
    local: NaiveDateTime,
    target: NaiveDateTime,
    interval: i64,
    periods_back: i64,
) -> Option<NaiveDateTime> {
    let whole = |distance: i64| (distance / interval - 2 - periods_back).max(0) * interval;
    let midnight = |date: NaiveDate| date.and_time(NaiveTime::MIN);
    Some(match rule.get_freq() {
        Frequency::Yearly => {
            let years = whole(i64::from(target.year() - local.year()));
            midnight(NaiveDate::from_ymd_opt(
                local.year().checked_add(i32::try_from(years).ok()?)?,
                1,
                1,
            )?)
        }
        Frequency::Monthly => {
            let month = |at: NaiveDateTime| i64::from(at.year()) * 12 + i64::from(at.month0());
            let months = whole(month(target) - month(local));
            let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1)?;
            midnight(first.checked_add_months(Months::new(u32::try_from(months).ok()?))?)
        }
        Frequency::Weekly => {
            // Weeks begin on WKST; the first period is the start's week.
            let wkst = rule.get_week_start().num_days_from_monday();
            let into_week = (7 + local.weekday().num_days_from_monday() - wkst) % 7;
            let week = local.date() - Duration::days(i64::from(into_week));
            let weeks = whole((target.date() - week).num_days() / 7);
            midnight(week + Duration::try_weeks(weeks)?)
        }
        Frequency::Daily => {
            let days = whole((target.date() - local.date()).num_days());
            midnight(local.date() + Duration::try_days(days)?)
        }
        Frequency::Hourly => local + Duration::try_hours(whole((target - local).num_hours()))?,
        Frequency::Minutely => {
            local + Duration::try_minutes(whole((target - local).num_minutes()))?
        }
        Frequency::Secondly => {
            local + Duration::try_seconds(whole((target - local).num_seconds()))?
        }
    })
}

/// `rule` with the `BY*` parts it takes from its start written out, as the
/// `rrule` crate fills them in on validation (RFC 5545 §3.3.10), so that the
/// rule means the same from another start.
fn explicit(rule: RRule<Unvalidated>, dt_start: DateTime<rrule::Tz>) -> RRule<Unvalidated> {
    let freq = rule.get_freq();
    let day_parts_given = !rule.get_by_week_no().is_empty()
        || !rule.get_by_year_day().is_empty()
        || !rule.get_by_month_day().is_empty()
        || !rule.get_by_weekday().is_empty();
    let day = i8::try_from(dt_start.day()).unwrap_or(1);
    let mut rule = match freq {
        Frequency::Yearly if !day_parts_given => {
            let rule = if rule.get_by_month().is_empty() {
                let month = u8::try_from(dt_start.month())
                    .ok()
                    .and_then(|month| chrono::Month::try_from(month).ok());
                rule.by_month(&month.into_iter().collect::<Vec<_>>())
            } else {
                rule
            };
            rule.by_month_day(vec![day])
        }
        Frequency::Monthly if !day_parts_given => rule.by_month_day(vec![day]),
        Frequency::Weekly if !day_parts_given => {
            rule.by_weekday(vec![NWeekday::Every(dt_start.weekday())])
        }
        _ => rule,
    };
    let field = |value: u32| u8::try_from(value).unwrap_or(0);
    if rule.get_by_hour().is_empty() && freq < Frequency::Hourly {
        rule = rule.by_hour(vec![field(dt_start.hour())]);
    }
    if rule.get_by_minute().is_empty() && freq < Frequency::Minutely {
        rule = rule.by_minute(vec![field(dt_start.minute())]);
    }
    if rule.get_by_second().is_empty() && freq < Frequency::Secondly {
        rule = rule.by_second(vec![field(dt_start.second())]);
    }
    rule
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
        .limit()
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
