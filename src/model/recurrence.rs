//! The wire format's recurrence lines (RFC 5545 `RRULE`, `EXRULE`, `RDATE`,
//! `EXDATE`) and the iCalendar date and date-time values in them: reading
//! and checking them, with an error that names each failure. Expanding a
//! series into occurrences is the scheduling engine's
//! (`crate::schedule::recurrence`).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, Unvalidated};

/// Why a recurrence line, or a date or date-time value in it, cannot be
/// used. Each message names what is wrong in the words a user can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    /// A value that is neither an iCalendar date nor a date-time.
    #[error("{0:?} is not an iCalendar date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS[Z])")]
    NotATime(String),
    /// A line without the `:` between the property name and its value.
    #[error("{0:?} has no ':' between the property name and its value")]
    NoValue(String),
    /// A parameter without `=`.
    #[error("parameter {0:?} has no '='")]
    ParameterWithoutValue(String),
    /// A line that is not `RRULE:`, `EXRULE:`, `RDATE` or `EXDATE`.
    #[error("{0:?} is not a recurrence line (RRULE:, EXRULE:, RDATE or EXDATE)")]
    NotARecurrenceLine(String),
    /// A part of a line (`RRULE`, `RDATE`, `UNTIL`...) that cannot be read.
    #[error("{part}: {problem}")]
    In {
        /// The property or rule part.
        part: String,
        /// What is wrong with it.
        problem: Box<RecurrenceError>,
    },
    /// An `RDATE` or `EXDATE` whose `TZID` names no known zone.
    #[error("{property}: unknown time zone {zone:?}")]
    UnknownZone {
        /// `RDATE` or `EXDATE`.
        property: String,
        /// The `TZID` given.
        zone: String,
    },
    /// An `RDATE` or `EXDATE` without a value.
    #[error("{0} lists no dates")]
    NoDates(String),
    /// An `UNTIL` that names a local time skipped in the rule's zone.
    #[error("UNTIL {value:?} does not exist in {zone}")]
    UntilSkipped {
        /// The `UNTIL` value.
        value: String,
        /// The rule's zone.
        zone: String,
    },
    /// A rule the `rrule` crate refuses, in its words.
    #[error("{0}")]
    Rule(String),
    /// An `RDATE` period whose end is neither a date-time nor a duration, or
    /// not after its start.
    #[error("{0:?} is not a period (start/end or start/duration, ending after its start)")]
    NotAPeriod(String),
}

impl RecurrenceError {
    /// This error, as met in `part` of a line.
    fn in_part(self, part: &str) -> Self {
        RecurrenceError::In {
            part: part.to_owned(),
            problem: Box::new(self),
        }
    }
}

/// A date or date-time value as iCalendar writes it (`20250107`,
/// `20250107T140000`, `20250107T140000Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcalTime {
    /// A date (`VALUE=DATE`).
    Date(NaiveDate),
    /// A local date-time with its zone (from `TZID`, else the default zone).
    Zoned(NaiveDateTime, Tz),
    /// A UTC instant (`Z` suffix).
    Utc(DateTime<Utc>),
}

impl IcalTime {
    /// The instant, reading a local time in its zone (the earlier instant in
    /// a fall-back fold, the instant after the gap in a spring-forward gap).
    pub fn instant(self) -> Option<DateTime<Utc>> {
        match self {
            IcalTime::Utc(instant) => Some(instant),
            IcalTime::Zoned(local, zone) => local_to_utc(local, zone),
            IcalTime::Date(_) => None,
        }
    }
}

/// The instant a local wall-clock time names in `zone`: the earlier one when
/// the clock falls back, and for a time skipped by a spring-forward gap the
/// same wall time shifted past the gap (as RFC 5545 section 3.3.5 says).
pub fn local_to_utc(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    if let Some(instant) = zone.from_local_datetime(&local).earliest() {
        return Some(instant.with_timezone(&Utc));
    }
    // A wall-clock time skipped by a forward jump is read with the offset in
    // force before the jump (RFC 5545 §3.3.5): 02:15 on New York's
    // spring-forward night is 02:15 EST, that is 03:15 EDT.
    (1..=4).find_map(|hours| {
        zone.from_local_datetime(&(local - Duration::hours(hours)))
            .latest()
            .map(|before| before.with_timezone(&Utc) + Duration::hours(hours))
    })
}

#[cfg(test)]
mod gap_tests {
    use super::*;

    #[test]
    fn a_time_in_a_spring_forward_gap_takes_the_offset_before_the_gap() {
        let zone: Tz = "America/New_York".parse().expect("zone");
        let local = NaiveDate::from_ymd_opt(2026, 3, 8)
            .and_then(|d| d.and_hms_opt(2, 15, 0))
            .expect("local time");
        let instant = local_to_utc(local, zone).expect("an instant");
        let expected = NaiveDate::from_ymd_opt(2026, 3, 8)
            .and_then(|d| d.and_hms_opt(7, 15, 0))
            .expect("utc")
            .and_utc();
        assert_eq!(instant, expected);
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let local = NaiveDate::from_ymd_opt(2026, 3, 29)
            .and_then(|d| d.and_hms_opt(2, 30, 0))
            .expect("local time");
        let expected = NaiveDate::from_ymd_opt(2026, 3, 29)
            .and_then(|d| d.and_hms_opt(1, 30, 0))
            .expect("utc")
            .and_utc();
        assert_eq!(local_to_utc(local, berlin), Some(expected));
    }
}

/// Parses one iCalendar date or date-time value. `value_is_date` is whether
/// the property said `VALUE=DATE`; a bare 8-digit value is a date either way.
///
/// # Errors
/// [`RecurrenceError::NotATime`]: the value is neither.
pub fn parse_ical_time(
    value: &str,
    zone: Tz,
    value_is_date: bool,
) -> Result<IcalTime, RecurrenceError> {
    let value = value.trim();
    let bad = || RecurrenceError::NotATime(value.to_owned());
    if value.len() == 8 || value_is_date {
        return NaiveDate::parse_from_str(value.get(..8).ok_or_else(bad)?, "%Y%m%d")
            .map(IcalTime::Date)
            .map_err(|_| bad());
    }
    let (text, utc) = match value.strip_suffix(['Z', 'z']) {
        Some(text) => (text, true),
        None => (value, false),
    };
    let local = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
    Ok(if utc {
        IcalTime::Utc(local.and_utc())
    } else {
        IcalTime::Zoned(local, zone)
    })
}

/// One parsed recurrence line.
#[derive(Clone, Debug)]
pub enum RecurrenceLine {
    /// `RRULE:` — occurrences to add.
    Rule(RRule<Unvalidated>),
    /// `EXRULE:` — occurrences to remove.
    ExRule(RRule<Unvalidated>),
    /// `RDATE` — extra occurrences, each a time or a period.
    RDate(Vec<RDate>),
    /// `EXDATE` — removed occurrences.
    ExDate(Vec<IcalTime>),
}

/// One `RDATE` value: a date or date-time, or a period (`VALUE=PERIOD`)
/// whose occurrence has its own length rather than the event's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RDate {
    /// Where the occurrence starts.
    pub at: IcalTime,
    /// For a period, how long the occurrence lasts.
    pub length: Option<Duration>,
}

/// A content line's parameters, names upper-cased.
type Params = Vec<(String, String)>;

/// Splits `NAME;PARAM=X:VALUE` into the upper-cased name, the parameters and the value.
fn split_line(line: &str) -> Result<(String, Params, &str), RecurrenceError> {
    let (head, value) = line
        .split_once(':')
        .ok_or_else(|| RecurrenceError::NoValue(line.to_owned()))?;
    let mut parts = head.split(';');
    let name = parts.next().unwrap_or_default().trim().to_ascii_uppercase();
    let mut params = Vec::new();
    for part in parts {
        let (key, val) = part
            .split_once('=')
            .ok_or_else(|| RecurrenceError::ParameterWithoutValue(part.to_owned()))?;
        params.push((
            key.trim().to_ascii_uppercase(),
            val.trim_matches('"').to_owned(),
        ));
    }
    Ok((name, params, value))
}

/// Parses a recurrence line; date-times without `TZID` or `Z` are read in `zone`.
///
/// # Errors
/// What is wrong with the line.
pub fn parse_recurrence_line(line: &str, zone: Tz) -> Result<RecurrenceLine, RecurrenceError> {
    let (name, params, value) = split_line(line.trim())?;
    match name.as_str() {
        "RRULE" | "EXRULE" => {
            let rule = normalize_until(value, zone)?
                .parse::<RRule<Unvalidated>>()
                .map_err(|error| RecurrenceError::Rule(error.to_string()).in_part(&name))?;
            Ok(if name == "RRULE" {
                RecurrenceLine::Rule(rule)
            } else {
                RecurrenceLine::ExRule(rule)
            })
        }
        "RDATE" | "EXDATE" => {
            let mut value_zone = zone;
            let mut is_date = false;
            for (key, val) in &params {
                match key.as_str() {
                    "TZID" => {
                        value_zone = super::zones::resolve_zone(val).ok_or_else(|| {
                            RecurrenceError::UnknownZone {
                                property: name.clone(),
                                zone: val.clone(),
                            }
                        })?;
                    }
                    "VALUE" => is_date = val.eq_ignore_ascii_case("DATE"),
                    _ => {}
                }
            }
            let mut times = Vec::new();
            for item in value.split(',').filter(|item| !item.trim().is_empty()) {
                let (start, end) = match item.split_once('/') {
                    Some((start, end)) => (start, Some(end)),
                    None => (item, None),
                };
                let at = parse_ical_time(start, value_zone, is_date)
                    .map_err(|error| error.in_part(&name))?;
                let length = match end {
                    // A period (RFC 5545 §3.3.9): its end or its length.
                    Some(end) => Some(
                        period_length(at, end, value_zone)
                            .ok_or_else(|| RecurrenceError::NotAPeriod(item.to_owned()))
                            .map_err(|error| error.in_part(&name))?,
                    ),
                    None => None,
                };
                times.push(RDate { at, length });
            }
            if times.is_empty() {
                return Err(RecurrenceError::NoDates(name));
            }
            Ok(if name == "RDATE" {
                RecurrenceLine::RDate(times)
            } else {
                // An EXDATE names the occurrences it removes by their start.
                RecurrenceLine::ExDate(times.into_iter().map(|time| time.at).collect())
            })
        }
        _ => Err(RecurrenceError::NotARecurrenceLine(line.to_owned())),
    }
}

/// The length of a period starting at `start` whose second half is `end`:
/// a date-time after the start, or a positive duration.
fn period_length(start: IcalTime, end: &str, zone: Tz) -> Option<Duration> {
    let length = match parse_ical_duration(end) {
        Some(length) => length,
        None => parse_ical_time(end, zone, false).ok()?.instant()? - start.instant()?,
    };
    (length > Duration::zero()).then_some(length)
}

/// An iCalendar duration (RFC 5545 §3.3.6: `PT1H30M`, `P1D`, `-P2W`); `None`
/// for text that is not one, or one longer than a time can hold.
pub fn parse_ical_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut rest = text.strip_prefix('P')?;
    let mut total = Duration::zero();
    let mut in_time = false;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('T') {
            in_time = true;
            rest = after;
            continue;
        }
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: i64 = rest.get(..digits)?.parse().ok()?;
        let unit = rest.get(digits..digits + 1)?;
        // Checked: a duration beyond what a time can hold is no duration.
        let part = match (unit, in_time) {
            ("W", false) => Duration::try_weeks(number),
            ("D", false) => Duration::try_days(number),
            ("H", true) => Duration::try_hours(number),
            ("M", true) => Duration::try_minutes(number),
            ("S", true) => Duration::try_seconds(number),
            _ => return None,
        }?;
        total = total.checked_add(&part)?;
        rest = rest.get(digits + 1..)?;
    }
    Some(if negative { -total } else { total })
}

/// Rewrites a date or floating `UNTIL` as the UTC instant it names in `zone`:
/// the `rrule` crate wants UTC there and would read a floating value in the
/// machine's own zone.
fn normalize_until(rule: &str, zone: Tz) -> Result<String, RecurrenceError> {
    let mut parts = Vec::new();
    for part in rule.trim().split(';').filter(|part| !part.is_empty()) {
        match part.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("UNTIL") => {
                let until = match parse_ical_time(value, zone, false)
                    .map_err(|error| error.in_part("UNTIL"))?
                {
                    IcalTime::Date(date) => {
                        local_to_utc(date.and_time(NaiveTime::MIN) + Duration::days(1), zone)
                            .map(|end| end - Duration::seconds(1))
                    }
                    other => other.instant(),
                }
                .ok_or_else(|| RecurrenceError::UntilSkipped {
                    value: value.to_owned(),
                    zone: zone.name().to_owned(),
                })?;
                parts.push(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
            }
            _ => parts.push(part.to_owned()),
        }
    }
    Ok(parts.join(";"))
}

/// Checks one recurrence line (`RRULE:`, `EXRULE:`, `RDATE`, `EXDATE`) on its
/// own, as far as it can be checked without the event's start. A rule that
/// repeats more often than hourly (`FREQ=MINUTELY`, `FREQ=SECONDLY`) is
/// refused: no calendar schedules meetings so, and such a series would cost
/// every later conflict check a walk through millions of occurrences.
///
/// # Errors
/// What is wrong with the line.
pub fn validate_recurrence_line(line: &str) -> Result<(), RecurrenceError> {
    match parse_recurrence_line(line, Tz::UTC)? {
        RecurrenceLine::Rule(rule) | RecurrenceLine::ExRule(rule)
            if matches!(
                rule.get_freq(),
                rrule::Frequency::Minutely | rrule::Frequency::Secondly
            ) =>
        {
            Err(RecurrenceError::Rule(
                "FREQ must be HOURLY or less often (MINUTELY and SECONDLY are not accepted)"
                    .to_owned(),
            ))
        }
        RecurrenceLine::Rule(rule) | RecurrenceLine::ExRule(rule) => {
            // Range checks need a start; the far past keeps UNTIL after it.
            let start = rrule::Tz::UTC
                .with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
                .single();
            match start {
                Some(start) => rule.validate(start).map(|_| ()).map_err(refused),
                None => Ok(()),
            }
        }
        RecurrenceLine::RDate(_) | RecurrenceLine::ExDate(_) => Ok(()),
    }
}

/// A rule the `rrule` crate refused, in its words.
pub(crate) fn refused(error: rrule::RRuleError) -> RecurrenceError {
    RecurrenceError::Rule(error.to_string())
}
