//! A `VTIMEZONE`'s own rules (RFC 5545 §3.6.5): its `STANDARD` and
//! `DAYLIGHT` observances, each a change of offset at its `DTSTART` (a wall
//! clock time in the offset before the change), repeated by its `RRULE` and
//! `RDATE`s. The offset in force at a time is the one the latest change at or
//! before it brought in.

use super::limits::{MAX_ZONE_CHANGES, MAX_ZONE_RULE_YEARS};
use super::problems::ProblemList;
use super::zone_rule::YearlyRule;
use crate::schedule::recurrence::{IcalTime, parse_ical_time};
use chrono::{Duration, NaiveDateTime, NaiveTime};

/// One `STANDARD` or `DAYLIGHT` sub-component as read.
#[derive(Debug)]
pub(super) struct Observance {
    /// Where its `BEGIN` stands.
    pub(super) begin: usize,
    /// `STANDARD` or `DAYLIGHT`.
    pub(super) kind: &'static str,
    /// `DTSTART`: the first change, in the offset before it.
    pub(super) start: Option<NaiveDateTime>,
    /// `TZOFFSETFROM`, in seconds east of UTC.
    pub(super) offset_from: Option<i32>,
    /// `TZOFFSETTO`, in seconds east of UTC.
    pub(super) offset_to: Option<i32>,
    /// `RRULE` values with their lines.
    pub(super) rules: Vec<(usize, String)>,
    /// `RDATE` values: more changes.
    pub(super) dates: Vec<NaiveDateTime>,
}

impl Observance {
    pub(super) fn new(begin: usize, kind: &'static str) -> Self {
        Observance {
            begin,
            kind,
            start: None,
            offset_from: None,
            offset_to: None,
            rules: Vec::new(),
            dates: Vec::new(),
        }
    }
}

/// A wall-clock time of a `VTIMEZONE` property (`DTSTART`, `RDATE`): local
/// as RFC 5545 asks, a `Z` time taken as written, a date as its midnight.
pub(super) fn local_time(value: &str) -> Option<NaiveDateTime> {
    match parse_ical_time(value, chrono_tz::Tz::UTC, false).ok()? {
        IcalTime::Zoned(local, _) => Some(local),
        IcalTime::Utc(instant) => Some(instant.naive_utc()),
        IcalTime::Date(date) => Some(date.and_time(NaiveTime::MIN)),
    }
}

/// One change of offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Change {
    /// Its wall-clock time, in the offset before it.
    pub(super) local: NaiveDateTime,
    /// Its instant, as a UTC date-time.
    pub(super) utc: NaiveDateTime,
    /// The offset before it, in seconds east of UTC.
    pub(super) from: i32,
    /// The offset it brings in.
    pub(super) to: i32,
}

/// A zone's changes of offset, in time order.
#[derive(Debug, Default)]
pub(super) struct Transitions {
    changes: Vec<Change>,
}

/// The changes of one zone as they are expanded, within its limits.
struct Expansion<'a> {
    changes: Vec<Change>,
    years_left: usize,
    /// Where [`MAX_ZONE_CHANGES`] and [`MAX_ZONE_RULE_YEARS`] were first met.
    cut: Option<usize>,
    out_of_years: Option<usize>,
    problems: &'a mut ProblemList,
}

impl Expansion<'_> {
    /// Adds a change; false once [`MAX_ZONE_CHANGES`] are held.
    fn add(
        &mut self,
        observance: &Observance,
        local: NaiveDateTime,
        (from, to): (i32, i32),
    ) -> bool {
        if self.changes.len() >= MAX_ZONE_CHANGES {
            self.cut.get_or_insert(observance.begin);
            return false;
        }
        if let Some(utc) = local.checked_sub_signed(Duration::seconds(i64::from(from))) {
            self.changes.push(Change {
                local,
                utc,
                from,
                to,
            });
        }
        true
    }

    fn observance(&mut self, observance: &Observance) {
        let Some(to) = observance.offset_to else {
            let message = format!("{} has no TZOFFSETTO; it is left out", observance.kind);
            return self.problems.say(observance.begin, message);
        };
        // Without a DTSTART its offset is taken as in force from the start
        // (some writers leave it out of a zone without changes).
        let Some(start) = observance.start else {
            let message = format!(
                "{} has no DTSTART; its offset is taken as in force from the start \
                 and its rules are left out",
                observance.kind
            );
            self.problems.say(observance.begin, message);
            self.add(observance, NaiveDateTime::MIN, (to, to));
            return;
        };
        let offsets = (observance.offset_from.unwrap_or(to), to);
        self.add(observance, start, offsets);
        for date in &observance.dates {
            self.add(observance, *date, offsets);
        }
        for (line, rule) in &observance.rules {
            let rule = match YearlyRule::parse(rule, offsets.0) {
                Ok(rule) => rule,
                Err(reason) => {
                    let message = format!(
                        "RRULE of {}: {reason}; the rule is left out",
                        observance.kind
                    );
                    self.problems.say(*line, message);
                    continue;
                }
            };
            if self.years_left == 0 {
                self.out_of_years.get_or_insert(*line);
                continue;
            }
            let (starts, walked) = rule.starts(start, self.years_left);
            self.years_left -= walked;
            // The rule makes DTSTART again when DTSTART is on it.
            for local in starts.into_iter().filter(|local| *local != start) {
                if !self.add(observance, local, offsets) {
                    break;
                }
            }
        }
    }
}

impl Transitions {
    /// The changes `observances` make, at most [`MAX_ZONE_CHANGES`] (their
    /// rules followed as `zone_rule` says); what cannot be used is reported.
    pub(super) fn expand(observances: &[Observance], problems: &mut ProblemList) -> Self {
        let mut expansion = Expansion {
            changes: Vec::new(),
            years_left: MAX_ZONE_RULE_YEARS,
            cut: None,
            out_of_years: None,
            problems,
        };
        for observance in observances {
            expansion.observance(observance);
        }
        if let Some(line) = expansion.out_of_years {
            let message = format!(
                "the zone's rules take more than {MAX_ZONE_RULE_YEARS} years to follow \
                 (MAX_ZONE_RULE_YEARS); this rule and later ones are left out"
            );
            expansion.problems.say(line, message);
        }
        if let Some(line) = expansion.cut {
            let message = format!(
                "the zone's rules make more than {MAX_ZONE_CHANGES} changes of offset \
                 (MAX_ZONE_CHANGES); later ones are left out"
            );
            expansion.problems.say(line, message);
        }
        let mut changes = expansion.changes;
        changes.sort_by_key(|change| change.utc);
        changes.dedup_by_key(|change| change.utc);
        Transitions { changes }
    }

    /// Whether no change is known (the zone has no usable rule).
    pub(super) fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many changes are known.
    pub(super) fn len(&self) -> usize {
        self.changes.len()
    }

    /// The changes, in time order.
    pub(super) fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The offset in force at the UTC date-time `utc`; before the first
    /// change, the offset that change leaves.
    pub(super) fn offset_at(&self, utc: NaiveDateTime) -> Option<i32> {
        let after = self.changes.partition_point(|change| change.utc <= utc);
        match after.checked_sub(1).and_then(|at| self.changes.get(at)) {
            Some(change) => Some(change.to),
            None => self.changes.first().map(|change| change.from),
        }
    }

    /// The UTC date-time of the wall-clock time `local`: in a change that
    /// repeats an hour, the earlier one; in a change that skips an hour, read
    /// with the offset before it (RFC 5545 §3.3.5), as for IANA zones.
    pub(super) fn to_utc(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let after = self.changes.partition_point(|change| change.local <= local);
        let offset = match after.checked_sub(1).and_then(|at| self.changes.get(at)) {
            Some(change) => {
                let skipped = Duration::seconds(i64::from(change.to - change.from));
                let in_gap = change.to > change.from
                    && change
                        .local
                        .checked_add_signed(skipped)
                        .is_some_and(|gap_end| local < gap_end);
                if in_gap { change.from } else { change.to }
            }
            None => self.changes.first()?.from,
        };
        local.checked_sub_signed(Duration::seconds(i64::from(offset)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn time(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|day| day.and_hms_opt(h, mi, 0))
            .expect("a valid time")
    }

    fn observance(
        kind: &'static str,
        start: NaiveDateTime,
        (from, to): (i32, i32),
        rule: &str,
    ) -> Observance {
        Observance {
            start: Some(start),
            offset_from: Some(from),
            offset_to: Some(to),
            rules: vec![(1, rule.to_owned())],
            ..Observance::new(1, kind)
        }
    }

    /// Europe/Berlin's rules since 1996.
    fn berlin() -> (Transitions, ProblemList) {
        let mut problems = ProblemList::default();
        let observances = [
            observance(
                "DAYLIGHT",
                time(1981, 3, 29, 2, 0),
                (3600, 7200),
                "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            ),
            observance(
                "STANDARD",
                time(1996, 10, 27, 3, 0),
                (7200, 3600),
                "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
            ),
        ];
        (Transitions::expand(&observances, &mut problems), problems)
    }

    #[test]
    fn the_offset_is_the_one_the_latest_change_brought_in() {
        let (zone, problems) = berlin();
        assert_eq!(problems.len(), 0);
        assert_eq!(zone.offset_at(time(2025, 7, 1, 0, 0)), Some(7200));
        assert_eq!(zone.offset_at(time(2025, 1, 1, 0, 0)), Some(3600));
        // 2025-03-30 01:00 UTC is the change.
        assert_eq!(zone.offset_at(time(2025, 3, 30, 0, 59)), Some(3600));
        assert_eq!(zone.offset_at(time(2025, 3, 30, 1, 0)), Some(7200));
    }

    #[test]
    fn wall_clock_times_read_like_an_iana_zone_in_gaps_and_folds() {
        let (zone, _) = berlin();
        assert_eq!(
            zone.to_utc(time(2025, 7, 15, 10, 0)),
            Some(time(2025, 7, 15, 8, 0))
        );
        assert_eq!(
            zone.to_utc(time(2025, 1, 15, 10, 0)),
            Some(time(2025, 1, 15, 9, 0))
        );
        // Skipped: 02:30 on 2025-03-30 is read at +01:00.
        assert_eq!(
            zone.to_utc(time(2025, 3, 30, 2, 30)),
            Some(time(2025, 3, 30, 1, 30))
        );
        assert_eq!(
            zone.to_utc(time(2025, 3, 30, 3, 0)),
            Some(time(2025, 3, 30, 1, 0))
        );
        // Repeated: 02:30 on 2025-10-26 is the earlier one (+02:00).
        assert_eq!(
            zone.to_utc(time(2025, 10, 26, 2, 30)),
            Some(time(2025, 10, 26, 0, 30))
        );
        assert_eq!(
            zone.to_utc(time(2025, 10, 26, 3, 0)),
            Some(time(2025, 10, 26, 2, 0))
        );
    }

    #[test]
    fn an_until_in_utc_ends_the_changes_at_that_instant() {
        let mut problems = ProblemList::default();
        // Sydney-like: +11:00 daylight ends at 03:00 local (16:00 UTC the
        // day before); an UNTIL at that instant keeps that last change.
        let observances = [observance(
            "STANDARD",
            time(2008, 4, 6, 3, 0),
            (39600, 36000),
            "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20100403T160000Z",
        )];
        let zone = Transitions::expand(&observances, &mut problems);
        let years: Vec<i32> = zone
            .changes()
            .iter()
            .map(|c| chrono::Datelike::year(&c.local))
            .collect();
        assert_eq!(years, vec![2008, 2009, 2010]);
    }

    #[test]
    fn rules_that_change_too_often_are_cut_and_reported() {
        let mut problems = ProblemList::default();
        let observances = [observance(
            "DAYLIGHT",
            time(1601, 1, 1, 0, 0),
            (0, 3600),
            "FREQ=YEARLY;BYDAY=SU",
        )];
        let zone = Transitions::expand(&observances, &mut problems);
        assert_eq!(zone.len(), MAX_ZONE_CHANGES);
        let listed = problems.finish();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].message.contains("MAX_ZONE_CHANGES"), "{listed:?}");
    }

    #[test]
    fn an_unreadable_rule_or_a_missing_dtstart_is_reported() {
        let mut problems = ProblemList::default();
        let mut missing = Observance::new(7, "STANDARD");
        missing.offset_to = Some(0);
        let observances = [
            observance("DAYLIGHT", time(2000, 3, 26, 2, 0), (0, 3600), "FREQ=NEVER"),
            missing,
        ];
        let zone = Transitions::expand(&observances, &mut problems);
        assert_eq!(zone.len(), 2, "the DTSTART still counts");
        assert_eq!(zone.offset_at(time(1999, 1, 1, 0, 0)), Some(0));
        assert_eq!(zone.offset_at(time(2001, 1, 1, 0, 0)), Some(3600));
        let listed = problems.finish();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed[0].message.contains("RRULE of DAYLIGHT"));
        assert!(listed[0].message.contains("FREQ"), "{listed:?}");
        assert_eq!(listed[1].line, 7);
    }

    #[test]
    fn rules_past_the_zone_s_years_are_left_out_and_reported() {
        let mut problems = ProblemList::default();
        let never = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30";
        let observances: Vec<Observance> = (0..20)
            .map(|_| observance("STANDARD", time(1601, 1, 1, 0, 0), (0, 0), never))
            .collect();
        let zone = Transitions::expand(&observances, &mut problems);
        assert_eq!(zone.len(), 1, "the DTSTARTs, all one instant");
        let listed = problems.finish();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert!(
            listed[0].message.contains("MAX_ZONE_RULE_YEARS"),
            "{listed:?}"
        );
    }
}
