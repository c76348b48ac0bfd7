//! The IANA zone a `VTIMEZONE` stands for when its name says nothing the
//! zone database knows: the one whose offsets agree with the `VTIMEZONE`'s
//! own changes over a few years around the time read. Read as that zone, a
//! series repeats at its wall-clock time across daylight-saving changes, as
//! the file means.

use super::observances::Transitions;
use chrono::{Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{TZ_VARIANTS, Tz};
use windows_timezones::WindowsTimezone;

/// How many years the offsets are compared over: a year before the time
/// read and the years after it, so yearly rules show every change twice.
const YEARS_COMPARED: i64 = 4;

/// Offsets are first compared at this many instants, spread over the
/// years, to set aside most zones cheaply.
const FIRST_LOOK: i64 = 24;

/// The IANA zone whose offsets agree with `zone` over [`YEARS_COMPARED`]
/// years from the year before `near` (or from the zone's first change, if
/// later): at each of the zone's changes, to the second, and once a week
/// (no zone changes offset for less than a week and back). Among several, the one `tzid` names (as a Windows display name
/// or by its city), then a zone CLDR maps a Windows zone to, then the one
/// that has kept these offsets longest.
pub(super) fn matching_zone(tzid: &str, zone: &Transitions, near: NaiveDateTime) -> Option<Tz> {
    let first = zone.changes().first()?.utc;
    let year_before =
        NaiveDate::from_ymd_opt(chrono::Datelike::year(&near) - 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
    let start = year_before.max(first);
    let end = start.checked_add_signed(Duration::days(365 * YEARS_COMPARED + 1))?;
    let agrees = |candidate: Tz, at: NaiveDateTime| offset_of(candidate, at) == zone.offset_at(at);
    let glance = (0..FIRST_LOOK).filter_map(|step| {
        start.checked_add_signed(Duration::days(step * 365 * YEARS_COMPARED / FIRST_LOOK))
    });
    let glance: Vec<NaiveDateTime> = glance.collect();
    let named = windows_zone_named(tzid);
    let words = words_of(tzid);
    let mut best: Option<(Rank, Tz)> = None;
    for candidate in TZ_VARIANTS {
        if !glance.iter().all(|at| agrees(candidate, *at)) {
            continue;
        }
        let changes_agree = zone
            .changes()
            .iter()
            .filter(|change| change.utc >= start && change.utc < end)
            .all(|change| {
                let before = change.utc.checked_sub_signed(Duration::seconds(1));
                agrees(candidate, change.utc)
                    && before.is_some_and(|before| agrees(candidate, before))
            });
        let weeks_agree = (0..=YEARS_COMPARED * 53)
            .filter_map(|week| start.checked_add_signed(Duration::weeks(week)))
            .all(|at| agrees(candidate, at));
        if !(changes_agree && weeks_agree) {
            continue;
        }
        let rank = Rank {
            not_named: named != Some(candidate) && !names_city(&words, candidate),
            not_primary: !is_primary(candidate),
            not_a_place: !is_a_place(candidate),
            years_kept: -kept_since(candidate, start),
            name: candidate.name(),
        };
        if best.as_ref().is_none_or(|(held, _)| rank < *held) {
            best = Some((rank, candidate));
        }
    }
    best.map(|(_, zone)| zone)
}

/// How a matching zone is preferred: lower first, field by field.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    not_named: bool,
    not_primary: bool,
    not_a_place: bool,
    years_kept: i64,
    name: &'static str,
}

fn offset_of(zone: Tz, utc: NaiveDateTime) -> Option<i32> {
    Some(zone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// The primary zone of the Windows zone whose name or display name (as
/// Outlook writes it, `(UTC+01:00) Amsterdam, Berlin, ...`) is `tzid`.
fn windows_zone_named(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim();
    TZ_VARIANTS.into_iter().find_map(|zone| {
        let windows = WindowsTimezone::try_from(zone).ok()?;
        (windows.description() == tzid || windows.name() == tzid).then(|| Tz::from(windows))
    })
}

/// Whether `zone` is the one CLDR maps a Windows zone to.
fn is_primary(zone: Tz) -> bool {
    WindowsTimezone::try_from(zone).is_ok_and(|windows| Tz::from(windows) == zone)
}

/// Whether `zone` is named for a place (`Europe/Berlin`), not an offset or
/// an old alias (`Etc/GMT-1`, `CET`, `US/Eastern`).
fn is_a_place(zone: Tz) -> bool {
    const AREAS: [&str; 9] = [
        "Africa/",
        "America/",
        "Antarctica/",
        "Asia/",
        "Atlantic/",
        "Australia/",
        "Europe/",
        "Indian/",
        "Pacific/",
    ];
    AREAS.iter().any(|area| zone.name().starts_with(area))
}

/// The lower-cased words of a name.
fn words_of(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether the words of a `TZID` hold the city of `zone`, a zone named for
/// a place (`Custom/Berlin`, `New York time` for `America/New_York`; not
/// `Eastern` for `US/Eastern`).
fn names_city(words: &[String], zone: Tz) -> bool {
    if !is_a_place(zone) {
        return false;
    }
    let city = zone.name().rsplit('/').next().unwrap_or_default();
    let city = words_of(city);
    !city.is_empty() && words.windows(city.len()).any(|run| run == city.as_slice())
}

/// For how many years before `start` the offsets of `zone` in mid-January
/// and mid-July stayed those of the year of `start` (at most a century).
fn kept_since(zone: Tz, start: NaiveDateTime) -> i64 {
    let year = chrono::Datelike::year(&start);
    let seasons = |year: i32| {
        [1, 7].map(|month| {
            NaiveDate::from_ymd_opt(year, month, 15)
                .and_then(|day| day.and_hms_opt(12, 0, 0))
                .and_then(|at| offset_of(zone, at))
        })
    };
    let now = seasons(year);
    (1..=100)
        .take_while(|back| seasons(year - back) == now)
        .last()
        .map_or(0, i64::from)
}

#[cfg(test)]
mod tests {
    use super::super::observances::Observance;
    use super::super::problems::ProblemList;
    use super::*;

    #[test]
    fn a_city_in_the_name_is_found_among_the_words() {
        let words = words_of("Custom/New York time");
        assert!(names_city(&words, Tz::America__New_York));
        assert!(!names_city(&words, Tz::Europe__Berlin));
        assert!(!names_city(&words_of("Yorkshire"), Tz::America__New_York));
        assert!(!names_city(&words_of("Eastern"), Tz::US__Eastern));
    }

    #[test]
    fn windows_display_names_name_their_primary_zone() {
        assert_eq!(
            windows_zone_named("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"),
            Some(Tz::Europe__Berlin)
        );
        assert_eq!(windows_zone_named("Somewhere"), None);
    }

    #[test]
    fn primary_zones_and_places_are_told_apart() {
        assert!(is_primary(Tz::America__New_York));
        assert!(!is_primary(Tz::America__Toronto));
        assert!(is_a_place(Tz::Europe__Paris));
        assert!(!is_a_place(Tz::Etc__GMTMinus1));
    }
    fn time(year: i32, month: u32, day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|date| date.and_hms_opt(hour, 0, 0))
            .expect("a valid time")
    }

    /// A zone changing to `daylight` on a rule's days and back to `standard`.
    fn zone(
        standard: i32,
        daylight: i32,
        spring: (NaiveDateTime, &str),
        fall: (NaiveDateTime, &str),
    ) -> Transitions {
        let observance = |kind, (start, rule): (NaiveDateTime, &str), from, to| {
            let mut observance = Observance::new(1, kind);
            observance.start = Some(start);
            observance.offset_from = Some(from);
            observance.offset_to = Some(to);
            observance.rules.push((1, rule.to_owned()));
            observance
        };
        let mut problems = ProblemList::default();
        Transitions::expand(
            &[
                observance("DAYLIGHT", spring, standard, daylight),
                observance("STANDARD", fall, daylight, standard),
            ],
            &mut problems,
        )
    }

    fn european() -> Transitions {
        zone(
            3600,
            7200,
            (time(1601, 3, 25, 2), "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
            (time(1601, 10, 28, 3), "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"),
        )
    }

    #[test]
    fn rules_of_a_zone_find_it_and_the_name_decides_among_equals() {
        let eastern = zone(
            -18000,
            -14400,
            (time(2007, 3, 11, 2), "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"),
            (time(2007, 11, 4, 2), "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"),
        );
        let june = time(2025, 6, 1, 0);
        assert_eq!(
            matching_zone("Eastern", &eastern, june),
            Some(Tz::America__New_York),
            "the zone CLDR names for the Windows zone"
        );
        let outlook = "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna";
        assert_eq!(
            matching_zone(outlook, &european(), june),
            Some(Tz::Europe__Berlin)
        );
        assert_eq!(
            matching_zone("Custom/Rome", &european(), june),
            Some(Tz::Europe__Rome)
        );
    }

    #[test]
    fn rules_no_zone_kept_in_those_years_match_none() {
        // In 1990 Europe's daylight time ended in September, not October.
        assert_eq!(
            matching_zone("Westeuropa", &european(), time(1990, 6, 1, 0)),
            None
        );
        let lunar = zone(
            3600,
            7200,
            (time(2000, 4, 9, 2), "FREQ=YEARLY;BYMONTH=4;BYDAY=2SU"),
            (time(2000, 10, 1, 3), "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU"),
        );
        assert_eq!(
            matching_zone("Lunar Base", &lunar, time(2025, 6, 1, 0)),
            None
        );
    }
}
