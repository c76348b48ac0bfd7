//! The `RRULE` of a `VTIMEZONE` observance: the yearly rules zones change
//! by ("the last Sunday of March", "the first Sunday on or after April 1"),
//! expanded year by year here so the work is known in advance: a rule is
//! walked from [`FIRST_YEAR_FOLLOWED`] at the earliest to
//! [`ZONE_RULES_UNTIL_YEAR`], and over no more years than the zone has left
//! of [`MAX_ZONE_RULE_YEARS`](super::limits::MAX_ZONE_RULE_YEARS). Rules that are not yearly,
//! or use parts zones never need (`BYYEARDAY`, `BYWEEKNO`, `BYSETPOS`,
//! `BYHOUR`...), are refused with a reason.

use super::limits::ZONE_RULES_UNTIL_YEAR;

/// Changes of offset a rule without `COUNT` makes before this year are not
/// followed: no calendar places a time there, and Outlook's rules start in
/// 1601.
pub(super) const FIRST_YEAR_FOLLOWED: i32 = 1600;
use crate::schedule::recurrence::{IcalTime, parse_ical_time};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

/// A yearly rule, as read.
#[derive(Debug, Default, PartialEq)]
pub(super) struct YearlyRule {
    interval: i32,
    count: Option<u32>,
    /// The last wall-clock start allowed.
    until: Option<NaiveDateTime>,
    months: Vec<u32>,
    month_days: Vec<i32>,
    /// Weekdays with their optional ordinal (`-1SU`: the last Sunday).
    weekdays: Vec<(Option<i32>, Weekday)>,
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// A comma list of numbers in `range` (a zero is none of them), sorted and
/// without repeats.
fn numbers(value: &str, range: std::ops::RangeInclusive<i32>) -> Option<Vec<i32>> {
    let mut list = value
        .split(',')
        .map(|item| item.trim().parse::<i32>().ok())
        .collect::<Option<Vec<i32>>>()?;
    if list.iter().any(|n| *n == 0 || !range.contains(n)) {
        return None;
    }
    list.sort_unstable();
    list.dedup();
    Some(list)
}

impl YearlyRule {
    /// Reads `rule`; an `UNTIL` in UTC is moved to the wall clock of the
    /// offset before the change (`from`, seconds east of UTC).
    ///
    /// # Errors
    /// Why the rule is not followed.
    pub(super) fn parse(rule: &str, from: i32) -> Result<Self, String> {
        let mut read = YearlyRule {
            interval: 1,
            ..YearlyRule::default()
        };
        let mut yearly = false;
        for part in rule
            .trim()
            .split(';')
            .filter(|part| !part.trim().is_empty())
        {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not NAME=VALUE"))?;
            let (key, value) = (key.trim().to_ascii_uppercase(), value.trim());
            let bad = || format!("{key}={value} cannot be read");
            match key.as_str() {
                "FREQ" => yearly = value.eq_ignore_ascii_case("YEARLY"),
                "INTERVAL" => {
                    read.interval = value.parse().ok().filter(|n| *n >= 1).ok_or_else(bad)?;
                }
                "COUNT" => read.count = Some(value.parse().map_err(|_| bad())?),
                "UNTIL" => read.until = Some(until(value, from).ok_or_else(bad)?),
                "BYMONTH" => {
                    let months = numbers(value, 1..=12).ok_or_else(bad)?;
                    read.months = months
                        .into_iter()
                        .filter_map(|m| m.try_into().ok())
                        .collect();
                }
                "BYMONTHDAY" => read.month_days = numbers(value, -31..=31).ok_or_else(bad)?,
                "BYDAY" => read.weekdays = weekdays(value).ok_or_else(bad)?,
                "WKST" => {}
                _ => return Err(format!("{key} is not followed in a VTIMEZONE")),
            }
        }
        if !yearly {
            return Err("only FREQ=YEARLY rules are followed in a VTIMEZONE".to_owned());
        }
        Ok(read)
    }

    /// The wall-clock starts from `start` in time order, from
    /// [`FIRST_YEAR_FOLLOWED`] (for a rule without `COUNT`) up to
    /// [`ZONE_RULES_UNTIL_YEAR`], walking at most `years` years. Answers the
    /// starts and the years walked.
    pub(super) fn starts(&self, start: NaiveDateTime, years: usize) -> (Vec<NaiveDateTime>, usize) {
        let mut year = start.year();
        if self.count.is_none() && year < FIRST_YEAR_FOLLOWED {
            // Skipped years keep the rule's rhythm (INTERVAL).
            let (behind, interval) = (
                i64::from(FIRST_YEAR_FOLLOWED) - i64::from(year),
                i64::from(self.interval),
            );
            let skipped = (behind + interval - 1) / interval * interval;
            year = i32::try_from(i64::from(year) + skipped).unwrap_or(i32::MAX);
        }
        let mut starts = Vec::new();
        let mut counted = 0;
        let mut walked = 0;
        while year <= ZONE_RULES_UNTIL_YEAR && walked < years {
            walked += 1;
            for day in self.days_of(year, start.date()) {
                let at = day.and_time(start.time());
                if at < start {
                    continue;
                }
                if self.until.is_some_and(|until| at > until)
                    || self.count.is_some_and(|count| counted >= count)
                {
                    return (starts, walked);
                }
                counted += 1;
                starts.push(at);
            }
            year = match year.checked_add(self.interval) {
                Some(next) => next,
                None => break,
            };
        }
        (starts, walked)
    }

    /// The days of `year` the rule names, in order.
    fn days_of(&self, year: i32, start: NaiveDate) -> Vec<NaiveDate> {
        let mut days: Vec<NaiveDate> = if !self.months.is_empty() {
            self.months
                .iter()
                .flat_map(|&month| self.days_in_month(year, month, start))
                .collect()
        } else if !self.month_days.is_empty() {
            (1..=12)
                .flat_map(|month| self.days_in_month(year, month, start))
                .collect()
        } else if !self.weekdays.is_empty() {
            match (
                NaiveDate::from_ymd_opt(year, 1, 1),
                NaiveDate::from_ymd_opt(year, 12, 31),
            ) {
                (Some(first), Some(last)) => self.weekdays_between(first, last),
                _ => Vec::new(),
            }
        } else {
            NaiveDate::from_ymd_opt(year, start.month(), start.day())
                .into_iter()
                .collect()
        };
        days.sort_unstable();
        days.dedup();
        days
    }

    fn days_in_month(&self, year: i32, month: u32, start: NaiveDate) -> Vec<NaiveDate> {
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return Vec::new();
        };
        let next = NaiveDate::from_ymd_opt(year + i32::from(month == 12), month % 12 + 1, 1);
        let Some(last) = next.and_then(|next| next.pred_opt()) else {
            return Vec::new();
        };
        let length = i32::try_from(last.day()).unwrap_or(31);
        if self.month_days.is_empty() && self.weekdays.is_empty() {
            return first.with_day(start.day()).into_iter().collect();
        }
        if self.month_days.is_empty() {
            return self.weekdays_between(first, last);
        }
        self.month_days
            .iter()
            .map(|&day| if day > 0 { day } else { length + 1 + day })
            .filter_map(|day| u32::try_from(day).ok().and_then(|day| first.with_day(day)))
            .filter(|date| {
                self.weekdays.is_empty()
                    || self
                        .weekdays
                        .iter()
                        .any(|(_, weekday)| date.weekday() == *weekday)
            })
            .collect()
    }

    /// The days from `first` to `last` that `BYDAY` names, an ordinal
    /// counting within them.
    fn weekdays_between(&self, first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        for &(ordinal, weekday) in &self.weekdays {
            let ahead =
                (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
            let first_one = first.checked_add_signed(Duration::days(i64::from(ahead)));
            let all =
                std::iter::successors(first_one, |day| day.checked_add_signed(Duration::weeks(1)))
                    .take_while(|day| *day <= last);
            match ordinal {
                None => days.extend(all),
                Some(n) if n > 0 => {
                    days.extend(all.skip(usize::try_from(n - 1).unwrap_or(0)).take(1));
                }
                Some(n) => {
                    let all: Vec<NaiveDate> = all.collect();
                    let back = usize::try_from(-n).unwrap_or(usize::MAX);
                    days.extend(all.len().checked_sub(back).and_then(|at| all.get(at)));
                }
            }
        }
        days
    }
}

/// `BYDAY`: `SU`, `2SU`, `-1SU`, ... (ordinals within a year reach 53).
fn weekdays(value: &str) -> Option<Vec<(Option<i32>, Weekday)>> {
    let mut list = Vec::new();
    for item in value.split(',') {
        let item = item.trim().to_ascii_uppercase();
        let split = item.len().checked_sub(2)?;
        let day = weekday(item.get(split..)?)?;
        let ordinal = match item.get(..split)? {
            "" => None,
            number => Some(
                number
                    .parse::<i32>()
                    .ok()
                    .filter(|n| *n != 0 && n.abs() <= 53)?,
            ),
        };
        if !list.contains(&(ordinal, day)) {
            list.push((ordinal, day));
        }
    }
    Some(list)
}

/// An `UNTIL` as a wall-clock time in the offset `from`.
fn until(value: &str, from: i32) -> Option<NaiveDateTime> {
    match parse_ical_time(value, chrono_tz::Tz::UTC, false).ok()? {
        IcalTime::Utc(instant) => instant
            .naive_utc()
            .checked_add_signed(Duration::seconds(i64::from(from))),
        IcalTime::Zoned(local, _) => Some(local),
        IcalTime::Date(date) => date.and_hms_opt(23, 59, 59),
    }
}

#[cfg(test)]
mod tests {
    use super::super::limits::MAX_ZONE_RULE_YEARS;
    use super::*;

    fn time(y: i32, mo: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|day| day.and_hms_opt(h, 0, 0))
            .expect("a valid time")
    }

    fn starts(rule: &str, start: NaiveDateTime) -> Vec<NaiveDateTime> {
        let rule = YearlyRule::parse(rule, 0).expect("a rule zones use");
        rule.starts(start, MAX_ZONE_RULE_YEARS).0
    }

    #[test]
    fn the_last_and_the_second_sunday_of_a_month() {
        let last = starts(
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU;COUNT=3",
            time(2024, 3, 31, 2),
        );
        assert_eq!(
            last,
            vec![
                time(2024, 3, 31, 2),
                time(2025, 3, 30, 2),
                time(2026, 3, 29, 2)
            ]
        );
        let second = starts(
            "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3;COUNT=2",
            time(2007, 3, 11, 2),
        );
        assert_eq!(second, vec![time(2007, 3, 11, 2), time(2008, 3, 9, 2)]);
    }

    #[test]
    fn the_first_sunday_on_or_after_a_day() {
        let rule = "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=1,2,3,4,5,6,7;BYDAY=SU;COUNT=2";
        assert_eq!(
            starts(rule, time(2025, 4, 6, 3)),
            vec![time(2025, 4, 6, 3), time(2026, 4, 5, 3)]
        );
    }

    #[test]
    fn until_in_utc_is_compared_on_the_wall_clock_before_the_change() {
        // 2010-04-04 03:00 at +11:00 is 2010-04-03 16:00 UTC.
        let rule = YearlyRule::parse(
            "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20100403T160000Z",
            11 * 3600,
        )
        .expect("a rule");
        let (starts, _) = rule.starts(time(2008, 4, 6, 3), MAX_ZONE_RULE_YEARS);
        assert_eq!(starts.len(), 3, "{starts:?}");
    }

    #[test]
    fn a_rule_is_followed_from_1600_to_the_last_year() {
        let rule = YearlyRule::parse("FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", 0).expect("a rule");
        let (starts, walked) = rule.starts(time(1601, 10, 28, 3), MAX_ZONE_RULE_YEARS);
        assert_eq!(starts.len(), walked);
        assert_eq!(starts.first().map(Datelike::year), Some(1601));
        assert_eq!(
            starts.last().map(Datelike::year),
            Some(ZONE_RULES_UNTIL_YEAR)
        );
        let (ancient, _) = rule.starts(time(-90000, 10, 28, 3), MAX_ZONE_RULE_YEARS);
        assert_eq!(
            ancient.first().map(Datelike::year),
            Some(FIRST_YEAR_FOLLOWED)
        );
        assert_eq!(
            ancient.last().map(Datelike::year),
            Some(ZONE_RULES_UNTIL_YEAR)
        );
    }

    #[test]
    fn a_huge_interval_from_the_year_1_walks_nothing() {
        let rule = YearlyRule::parse("FREQ=YEARLY;INTERVAL=2147483647", 0).expect("a rule");
        assert_eq!(
            rule.starts(time(1, 1, 1, 0), MAX_ZONE_RULE_YEARS),
            (Vec::new(), 0)
        );
    }

    #[test]
    fn a_rule_that_names_no_day_walks_no_more_than_it_may() {
        let rule = YearlyRule::parse("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", 0).expect("a rule");
        let (starts, walked) = rule.starts(time(2000, 1, 1, 0), 50);
        assert!(starts.is_empty());
        assert_eq!(walked, 50);
    }

    #[test]
    fn rules_zones_never_use_are_refused_with_a_reason() {
        for (rule, reason) in [
            ("FREQ=DAILY", "FREQ=YEARLY"),
            ("FREQ=YEARLY;BYSETPOS=-1", "BYSETPOS"),
            ("FREQ=YEARLY;BYDAY=0SU", "BYDAY"),
            ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
            ("FREQ=YEARLY;INTERVAL=0", "INTERVAL"),
        ] {
            let refused = YearlyRule::parse(rule, 0).expect_err(rule);
            assert!(refused.contains(reason), "{rule}: {refused}");
        }
    }
}
