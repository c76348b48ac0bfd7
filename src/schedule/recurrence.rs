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

/// The longest an `RDATE` period's occurrence is taken to last.
const LONGEST_PERIOD: Duration = Duration::days(366_000);

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
        // A period longer than any window is as busy as one that ends
        // there; held to a thousand years, its end stays a date.
        let length = match length.map(|length| length.min(LONGEST_PERIOD)) {
            None => series.length,
            // A period on an all-day series covers the days it touches.
            Some(length) if all_day => Duration::days(length.num_days().max(1)),
            Some(length) => length,
        };
        if start >= until
            || start
                .checked_add_signed(length)
                .is_some_and(|end| end <= from)
        {
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
        Restart::At(rule, start) => (*rule, start),
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
    At(Box<RRule<Validated>>, DateTime<rrule::Tz>),
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
    if rule.get_count().is_some() || !on_its_lattice(rule) {
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
                return Ok(Restart::At(Box::new(rule), new_start));
            }
            None => periods_back += gap_periods(rule.get_freq(), interval),
        }
    }
    Ok(Restart::Keep)
}

/// Whether the `rrule` crate steps `rule` on a fixed lattice (its start plus
/// whole intervals, in wall-clock fields), which a restart must land on. It
/// does not for a rule more frequent than daily whose own `BYHOUR` (or
/// `BYMINUTE`, `BYSECOND`, below its frequency) it steps through: such a rule
/// is walked from its start, within the request's work budget.
fn on_its_lattice(rule: &RRule<Unvalidated>) -> bool {
    match rule.get_freq() {
        Frequency::Hourly => rule.get_by_hour().is_empty(),
        Frequency::Minutely => rule.get_by_hour().is_empty() && rule.get_by_minute().is_empty(),
        Frequency::Secondly => {
            rule.get_by_hour().is_empty()
                && rule.get_by_minute().is_empty()
                && rule.get_by_second().is_empty()
        }
        _ => true,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZONES: [Tz; 4] = [
        Tz::Europe__Berlin,
        Tz::America__New_York,
        Tz::Australia__Lord_Howe,
        Tz::UTC,
    ];

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s)
            .single()
            .expect("valid")
    }

    fn series<'a>(start: DateTime<Utc>, zone: Tz, lines: &'a [String]) -> Series<'a> {
        Series {
            start: EventTime::Instant(start),
            length: Duration::minutes(1),
            zone,
            lines,
        }
    }

    fn starts(instances: &[Instance]) -> Vec<DateTime<Utc>> {
        instances
            .iter()
            .filter_map(|instance| match instance.start {
                EventTime::Instant(at) => Some(at),
                EventTime::Date(_) => None,
            })
            .collect()
    }

    /// The rule's starts in `[from, until)` as the `rrule` crate gives them
    /// walking from the series' start: what a restart must give too.
    fn walked(
        line: &str,
        start: DateTime<Utc>,
        zone: Tz,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let RecurrenceLine::Rule(rule) = parse_recurrence_line(line, zone).expect("a rule") else {
            panic!("{line} is not a rule");
        };
        let dt_start = start.with_timezone(&rrule::Tz::Tz(zone));
        let rule = rule.validate(dt_start).expect("valid");
        RRuleSet::new(dt_start)
            .limit()
            .rrule(rule)
            .into_iter()
            .map(|at| at.with_timezone(&Utc))
            .skip_while(|at| *at + Duration::minutes(1) <= from)
            .take_while(|at| *at < until)
            .collect()
    }

    fn rule_text() -> impl Strategy<Value = String> {
        let freq = prop::sample::select(vec![
            "YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY",
        ]);
        let one_of = |name: &'static str, values: Vec<&'static str>| {
            prop::option::weighted(0.3, prop::sample::select(values))
                .prop_map(move |value| value.map(|value| format!("{name}={value}")))
        };
        let parts = (
            one_of("BYDAY", vec!["MO,WE,FR", "-1FR", "2TU", "SA,SU"]),
            one_of("BYMONTHDAY", vec!["1,15,-1", "31", "-2"]),
            one_of("BYMONTH", vec!["2,6,11", "1"]),
            one_of("BYHOUR", vec!["0,9,23", "2"]),
            one_of("BYMINUTE", vec!["0,30", "15"]),
            one_of("BYSETPOS", vec!["1,-1", "2"]),
            one_of("WKST", vec!["SU", "WE"]),
            one_of("BYWEEKNO", vec!["1,20", "-1"]),
            one_of("BYYEARDAY", vec!["1,-1,100", "60"]),
        );
        (freq, 1..4u16, parts).prop_map(|(freq, interval, parts)| {
            let (a, b, c, d, e, f, g, h, i) = parts;
            let mut rule = format!("RRULE:FREQ={freq};INTERVAL={interval}");
            for part in [a, b, c, d, e, f, g, h, i].into_iter().flatten() {
                rule.push(';');
                rule.push_str(&part);
            }
            rule
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A rule restarted near the window makes exactly the occurrences
        /// the rule makes there when walked from its start.
        #[test]
        fn a_restarted_rule_makes_the_occurrences_of_the_walked_one(
            rule in rule_text(),
            zone in 0..ZONES.len(),
            days_before in 3..900i64,
            second in 0..86_400i64,
            window_days in 1..40i64,
        ) {
            let zone = ZONES[zone];
            let from = utc(2026, 1, 1, 0, 0, 0);
            // Sub-daily rules walk every period: keep the walk short.
            let days_before = if rule.contains("MINUTELY") { days_before.min(20) } else { days_before };
            let start = from - Duration::days(days_before) + Duration::seconds(second);
            let until = from + Duration::days(window_days);
            let lines = [rule.clone()];
            let Ok(expanded) = expand(&series(start, zone, &lines), from, until, &mut Work::default()) else {
                // A rule the crate refuses is refused either way.
                let RecurrenceLine::Rule(parsed) = parse_recurrence_line(&rule, zone).expect("parses") else {
                    panic!("a rule");
                };
                prop_assert!(parsed.validate(start.with_timezone(&rrule::Tz::Tz(zone))).is_err());
                return Ok(());
            };
            let expected = walked(&rule, start, zone, from, until);
            prop_assert_eq!(starts(&expanded), expected, "{} from {}", rule, start);
        }
    }

    /// The cost of a window of each kind of rule, against the occurrences
    /// in it, for a series that began 26 years earlier.
    #[test]
    fn expansion_costs_the_window_not_the_distance_from_the_start() {
        let start = utc(2000, 1, 3, 9, 0, 0);
        let (from, until) = (utc(2026, 3, 2, 0, 0, 0), utc(2026, 3, 9, 0, 0, 0));
        for rule in [
            "RRULE:FREQ=SECONDLY",
            "RRULE:FREQ=MINUTELY;INTERVAL=5",
            "RRULE:FREQ=HOURLY;BYMINUTE=0,30",
            "RRULE:FREQ=DAILY;BYHOUR=9,14",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TH",
            "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=2,5",
        ] {
            let lines = [rule.to_owned()];
            let mut work = Work::new(5_000_000);
            let expanded = expand(
                &series(start, Tz::Europe__Berlin, &lines),
                from,
                until,
                &mut work,
            )
            .expect(rule);
            // At most the window's occurrences and three periods' more (the
            // restart lands two whole periods before the window).
            let periods = match rule {
                r if r.contains("SECONDLY") => 3,
                r if r.contains("MINUTELY") => 3,
                r if r.contains("HOURLY") => 6,
                r if r.contains("DAILY") => 6,
                r if r.contains("WEEKLY") => 6,
                r if r.contains("MONTHLY") => 3,
                _ => 6,
            };
            let bound = u64::try_from(expanded.len()).expect("fits") + periods + 12;
            assert!(
                work.used() <= bound,
                "{rule}: {} units for {} occurrences",
                work.used(),
                expanded.len()
            );
            assert!(!expanded.is_empty() || rule.contains("MONTHLY"), "{rule}");
        }
    }

    /// RFC 5545 §3.8.5.2: an RDATE period keeps its own length, given as an
    /// end or as a duration; a plain RDATE takes the event's.
    #[test]
    fn rdate_periods_keep_their_own_length() {
        let start = utc(2025, 1, 6, 9, 0, 0);
        let lines = [
            "RDATE;VALUE=PERIOD:20250107T090000Z/20250107T190000Z,20250108T090000Z/PT2H30M"
                .to_owned(),
            "RDATE:20250109T090000Z".to_owned(),
        ];
        let series = Series {
            length: Duration::hours(1),
            ..series(start, Tz::UTC, &lines)
        };
        let expanded = expand(
            &series,
            utc(2025, 1, 1, 0, 0, 0),
            utc(2025, 2, 1, 0, 0, 0),
            &mut Work::default(),
        )
        .expect("valid");
        let lengths: Vec<i64> = expanded.iter().map(|i| i.length.num_minutes()).collect();
        assert_eq!(lengths, [60, 600, 150, 60]);
        // A period beyond any date is busy from its start on, no panic.
        let endless = ["RDATE;VALUE=PERIOD:20250107T090000Z/P100000000D".to_owned()];
        let expanded = expand(
            &series_with(start, &endless),
            utc(2025, 1, 1, 0, 0, 0),
            utc(2025, 2, 1, 0, 0, 0),
            &mut Work::default(),
        )
        .expect("valid");
        assert_eq!(expanded.last().map(|i| i.length), Some(LONGEST_PERIOD));
        let bad = ["RDATE;VALUE=PERIOD:20250107T090000Z/20250107T080000Z".to_owned()];
        assert!(matches!(
            expand(
                &series_with(start, &bad),
                utc(2025, 1, 1, 0, 0, 0),
                utc(2025, 2, 1, 0, 0, 0),
                &mut Work::default(),
            ),
            Err(ExpandError::Line(RecurrenceError::In { .. }))
        ));
    }

    fn series_with(start: DateTime<Utc>, lines: &[String]) -> Series<'_> {
        series(start, Tz::UTC, lines)
    }

    #[test]
    fn a_rule_over_the_budget_is_out_of_work() {
        let lines = ["RRULE:FREQ=SECONDLY;COUNT=4000000000".to_owned()];
        let start = utc(1990, 1, 1, 0, 0, 0);
        let mut work = Work::new(10_000);
        assert_eq!(
            expand(
                &series(start, Tz::UTC, &lines),
                utc(2026, 1, 1, 0, 0, 0),
                utc(2026, 1, 2, 0, 0, 0),
                &mut work
            ),
            Err(ExpandError::Work(OutOfWork::Exhausted { limit: 10_000 }))
        );
    }
}
