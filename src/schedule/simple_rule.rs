//! Direct expansion of the commonest rules: `FREQ=DAILY` or `FREQ=WEEKLY`
//! with nothing but `INTERVAL`, `COUNT`, `UNTIL` or `WKST`. The general
//! `rrule` iterator rebuilds a year's day sets as it goes and spends most of
//! an index build on these; here each occurrence is one date step and one zone
//! lookup. The instants are the ones `rrule` gives (the tests compare the two
//! on DST gaps and folds): the start's wall-clock time on each stepped date,
//! read in the zone as `rrule` reads it.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rrule::{Frequency, RRule, Unvalidated, Validated};

/// Days between occurrences when `rule` can be expanded here, `None` when
/// it needs the general iterator. Read before validation, which fills the
/// `BY*` parts in from the start.
pub(crate) fn step_days(rule: &RRule<Unvalidated>) -> Option<i64> {
    let days = match rule.get_freq() {
        Frequency::Daily => 1,
        Frequency::Weekly => 7,
        _ => return None,
    };
    let plain = rule.get_by_set_pos().is_empty()
        && rule.get_by_month().is_empty()
        && rule.get_by_month_day().is_empty()
        && rule.get_by_year_day().is_empty()
        && rule.get_by_week_no().is_empty()
        && rule.get_by_weekday().is_empty()
        && rule.get_by_hour().is_empty()
        && rule.get_by_minute().is_empty()
        && rule.get_by_second().is_empty();
    plain.then(|| days * i64::from(rule.get_interval().max(1)))
}

/// The occurrences of a plain daily or weekly rule, excluded dates removed.
pub(crate) struct Steps {
    zone: Tz,
    time: NaiveTime,
    next: Option<NaiveDate>,
    step: i64,
    remaining: Option<u32>,
    until: Option<DateTime<Utc>>,
    first: DateTime<Utc>,
    /// Excluded instants, seconds since the epoch, sorted.
    excluded: Vec<i64>,
}

impl Steps {
    /// The steps of `rule` (validated against `start`, which is in `zone`)
    /// every `step` days, skipping `excluded` instants; steps that cannot end
    /// after `from` are skipped without being made when no `COUNT` needs them.
    pub(crate) fn new(
        rule: &RRule<Validated>,
        step: i64,
        start: DateTime<Utc>,
        zone: Tz,
        mut excluded: Vec<i64>,
        from: DateTime<Utc>,
    ) -> Steps {
        let local = start.with_timezone(&zone).naive_local();
        let mut date = local.date();
        if rule.get_count().is_none() {
            // An occurrence lies within a day and a half of its local date's
            // UTC midnight, so dates three days before `from` end before it.
            let behind = (from.date_naive() - Duration::days(3) - date).num_days();
            if behind > step {
                date = date
                    .checked_add_signed(Duration::days(behind / step * step))
                    .unwrap_or(date);
            }
        }
        excluded.sort_unstable();
        Steps {
            zone,
            time: local.time().with_nanosecond(0).unwrap_or(local.time()),
            next: Some(date),
            step,
            remaining: rule.get_count(),
            until: rule.get_until().map(|until| until.with_timezone(&Utc)),
            first: start,
            excluded,
        }
    }

    /// The instant of the start's wall time on `date`, as `rrule` reads it: the
    /// local time when it names one instant, else that long after local
    /// midnight (past a spring-forward gap, the earlier side of a fold); no
    /// occurrence when midnight itself is skipped or doubled.
    fn instant(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        if let Some(at) = self
            .zone
            .from_local_datetime(&date.and_time(self.time))
            .single()
        {
            return Some(at.with_timezone(&Utc));
        }
        let midnight = self
            .zone
            .from_local_datetime(&date.and_time(NaiveTime::MIN))
            .single()?;
        let since = self.time.signed_duration_since(NaiveTime::MIN);
        midnight
            .checked_add_signed(since)
            .map(|at| at.with_timezone(&Utc))
    }
}

impl Iterator for Steps {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        loop {
            if self.remaining == Some(0) {
                return None;
            }
            let date = self.next?;
            self.next = date.checked_add_signed(Duration::days(self.step));
            let Some(at) = self.instant(date) else {
                continue;
            };
            if self.until.is_some_and(|until| at > until) {
                self.next = None;
                return None;
            }
            if at < self.first {
                continue;
            }
            // COUNT counts excluded occurrences too (RFC 5545 section 3.8.5.1).
            if let Some(remaining) = &mut self.remaining {
                *remaining -= 1;
            }
            if self.excluded.binary_search(&at.timestamp()).is_err() {
                return Some(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::recurrence::{ExpandError, Instance, Series};
    use super::super::work::Work;
    use crate::model::EventTime;
    use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
    use chrono_tz::Tz;
    use proptest::prelude::*;

    /// Zones with one-hour, half-hour and midnight DST changes, and none.
    const ZONES: [Tz; 6] = [
        Tz::America__New_York,
        Tz::Europe__London,
        Tz::Australia__Lord_Howe,
        Tz::America__Santiago,
        Tz::Asia__Beirut,
        Tz::UTC,
    ];

    fn lines(weekly: bool, interval: u16, count: Option<u8>, until: Option<i64>) -> Vec<String> {
        let mut rule = format!(
            "RRULE:FREQ={};INTERVAL={interval}",
            if weekly { "WEEKLY" } else { "DAILY" }
        );
        if let Some(count) = count {
            rule.push_str(&format!(";COUNT={count}"));
        }
        if let Some(days) = until {
            let at = Utc
                .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                .single()
                .expect("valid")
                + Duration::days(days);
            rule.push_str(&format!(";UNTIL={}", at.format("%Y%m%dT%H%M%SZ")));
        }
        vec![rule]
    }

    fn expand_with(
        series: &Series<'_>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        direct: bool,
    ) -> Result<Vec<Instance>, ExpandError> {
        super::super::recurrence::expand_with(series, from, until, direct, &mut Work::default())
    }

    proptest! {
        #[test]
        fn direct_expansion_matches_rrule(
            zone in 0..ZONES.len(),
            day in 0..365i64,
            minute in prop::sample::select(vec![0u32, 30, 45, 59]),
            hour in prop::sample::select(vec![0u32, 1, 2, 3, 9, 23]),
            second in 0..2u32,
            weekly in any::<bool>(),
            interval in 1..4u16,
            count in prop::option::of(1..40u8),
            until in prop::option::of(0..500i64),
            exclude in prop::collection::vec(0..30usize, 0..3),
            window in (0..400i64, 1..400i64),
            all_day in any::<bool>(),
        ) {
            let zone = ZONES[zone];
            let date = NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid") + Duration::days(day);
            let local = date.and_hms_opt(hour, minute, second).expect("valid time");
            let Some(start) = zone.from_local_datetime(&local).latest() else {
                return Ok(());
            };
            let start = if all_day {
                EventTime::Date(date)
            } else {
                EventTime::Instant(start.with_timezone(&Utc))
            };
            let rule = lines(weekly, interval, count, until);
            let mut recurrence = rule.clone();
            let base = Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).single().expect("valid");
            let (from, to) = (base + Duration::days(window.0), base + Duration::days(window.0 + window.1));
            let plain = Series { start, length: Duration::minutes(30), zone, lines: &rule };
            let Ok(all) = expand_with(&plain, base, base + Duration::days(900), false) else {
                // A rule rrule rejects (UNTIL before the start) is rejected the same way.
                prop_assert_eq!(
                    expand_with(&plain, from, to, true),
                    expand_with(&plain, from, to, false)
                );
                return Ok(());
            };
            for pick in &exclude {
                if let Some(EventTime::Instant(at)) = all.get(*pick).map(|i| i.start) {
                    let local = at.with_timezone(&zone).format("%Y%m%dT%H%M%S");
                    recurrence.push(format!("EXDATE;TZID={}:{local}", zone.name()));
                } else if let Some(EventTime::Date(day)) = all.get(*pick).map(|i| i.start) {
                    recurrence.push(format!("EXDATE;VALUE=DATE:{}", day.format("%Y%m%d")));
                }
            }
            let series = Series { lines: &recurrence, ..plain };
            let general = expand_with(&series, from, to, false);
            let direct = expand_with(&series, from, to, true);
            prop_assert_eq!(direct, general);
        }
    }

    #[test]
    fn a_time_skipped_by_spring_forward_moves_past_the_gap_like_rrule() {
        let zone = Tz::America__New_York;
        let start = zone
            .with_ymd_and_hms(2025, 3, 2, 2, 30, 0)
            .single()
            .expect("exists");
        let recurrence = vec!["RRULE:FREQ=WEEKLY;COUNT=3".to_owned()];
        let series = Series {
            start: EventTime::Instant(start.with_timezone(&Utc)),
            length: Duration::hours(1),
            zone,
            lines: &recurrence,
        };
        let window = (
            start.with_timezone(&Utc) - Duration::days(1),
            start.with_timezone(&Utc) + Duration::days(30),
        );
        let direct = expand_with(&series, window.0, window.1, true).expect("valid");
        let local: Vec<String> = direct
            .iter()
            .map(|t| match t.start {
                EventTime::Instant(at) => at.with_timezone(&zone).format("%m-%d %H:%M").to_string(),
                EventTime::Date(day) => day.to_string(),
            })
            .collect();
        assert_eq!(local, ["03-02 02:30", "03-09 03:30", "03-16 02:30"]);
        assert_eq!(Ok(direct), expand_with(&series, window.0, window.1, false));
        let _: DateTime<Utc> = window.0;
    }
}
