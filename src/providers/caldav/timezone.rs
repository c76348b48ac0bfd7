//! `VTIMEZONE` components from the IANA database (chrono-tz).
//!
//! chrono-tz does not expose its rules, so a zone's transitions in the
//! event's year are found by probing its offsets; each becomes a STANDARD or
//! DAYLIGHT rule recurring yearly on the same weekday of the month (how
//! every DST rule in use is stated).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, Tz};
use icalendar::CalendarComponent;
use icalendar::parser::{Component as RawComponent, Property as RawProperty};

/// One change of a zone's offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Transition {
    /// When it happens.
    at: DateTime<Utc>,
    /// Offset before, in seconds east of UTC.
    from: i32,
    /// Offset after.
    to: i32,
    /// Whether the offset after is daylight-saving time.
    daylight: bool,
}

fn offset_at(zone: Tz, at: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The zone's transitions during `year`.
fn transitions(zone: Tz, year: i32) -> Vec<Transition> {
    let Some(start) = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single() else {
        return Vec::new();
    };
    let Some(end) = Utc.with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0).single() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut probe = start;
    let mut before = offset_at(zone, probe);
    while probe < end {
        let next = probe + Duration::hours(1);
        let after = offset_at(zone, next);
        if after != before {
            // Narrow down to the minute: offsets change on minute boundaries.
            let (mut low, mut high) = (probe, next);
            while high - low > Duration::minutes(1) {
                let middle = low + (high - low) / 2;
                if offset_at(zone, middle) == before {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            let daylight = zone
                .offset_from_utc_datetime(&high.naive_utc())
                .dst_offset()
                .num_seconds()
                != 0;
            found.push(Transition {
                at: high,
                from: before,
                to: after,
                daylight,
            });
        }
        before = after;
        probe = next;
    }
    found
}

/// `+HHMM` (or `+HHMMSS`) for an offset in seconds.
fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let total = seconds.unsigned_abs();
    let (hours, minutes, rest) = (total / 3600, total / 60 % 60, total % 60);
    if rest == 0 {
        format!("{sign}{hours:02}{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}{rest:02}")
    }
}

fn property(name: &str, value: String) -> RawProperty<'static> {
    RawProperty {
        name: name.to_owned().into(),
        val: value.into(),
        params: Vec::new(),
    }
}

fn local_stamp(local: NaiveDateTime) -> String {
    local.format("%Y%m%dT%H%M%S").to_string()
}

/// `BYDAY` for the weekday of `date` within its month: `2SU`, or `-1SU` for the last.
fn weekday_in_month(date: NaiveDate) -> String {
    let weekday = match date.weekday() {
        chrono::Weekday::Mon => "MO",
        chrono::Weekday::Tue => "TU",
        chrono::Weekday::Wed => "WE",
        chrono::Weekday::Thu => "TH",
        chrono::Weekday::Fri => "FR",
        chrono::Weekday::Sat => "SA",
        chrono::Weekday::Sun => "SU",
    };
    let next_week = date + Duration::days(7);
    if next_week.month() != date.month() {
        format!("-1{weekday}")
    } else {
        format!("{}{weekday}", (date.day() - 1) / 7 + 1)
    }
}

/// A `VTIMEZONE` for `zone`, with the rules in force during `year`.
pub fn vtimezone(zone: Tz, year: i32) -> CalendarComponent {
    let changes = transitions(zone, year);
    let mut rules = Vec::new();
    if changes.is_empty() {
        let offset = Utc
            .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
            .single()
            .map_or(0, |at| offset_at(zone, at));
        rules.push(RawComponent {
            name: "STANDARD".into(),
            properties: vec![
                property("DTSTART", "19700101T000000".into()),
                property("TZOFFSETFROM", format_offset(offset)),
                property("TZOFFSETTO", format_offset(offset)),
            ],
            components: Vec::new(),
        });
    }
    for change in changes {
        let local = change.at.naive_utc() + Duration::seconds(i64::from(change.from));
        let rule = format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={}",
            local.month(),
            weekday_in_month(local.date())
        );
        rules.push(RawComponent {
            name: if change.daylight {
                "DAYLIGHT"
            } else {
                "STANDARD"
            }
            .into(),
            properties: vec![
                property("DTSTART", local_stamp(local)),
                property("TZOFFSETFROM", format_offset(change.from)),
                property("TZOFFSETTO", format_offset(change.to)),
                property("RRULE", rule),
            ],
            components: Vec::new(),
        });
    }
    CalendarComponent::from(RawComponent {
        name: "VTIMEZONE".into(),
        properties: vec![property("TZID", zone.name().to_owned())],
        components: rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use icalendar::Component;

    /// One rule: kind, DTSTART, TZOFFSETFROM, TZOFFSETTO, RRULE.
    type Rule = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    /// The STANDARD and DAYLIGHT rules of a VTIMEZONE.
    fn rules(zone: &CalendarComponent) -> Vec<Rule> {
        let CalendarComponent::Other(zone) = zone else {
            panic!("a VTIMEZONE is not an event or a todo");
        };
        zone.components()
            .iter()
            .map(|rule| {
                let value = |name: &str| rule.property_value(name).map(str::to_owned);
                (
                    rule.component_kind(),
                    value("DTSTART"),
                    value("TZOFFSETFROM"),
                    value("TZOFFSETTO"),
                    value("RRULE"),
                )
            })
            .collect()
    }

    #[test]
    fn berlin_has_its_two_yearly_rules() {
        let rules = rules(&vtimezone(chrono_tz::Europe::Berlin, 2025));
        let text = |value: &str| Some(value.to_owned());
        assert_eq!(
            rules,
            vec![
                (
                    "DAYLIGHT".to_owned(),
                    text("20250330T020000"),
                    text("+0100"),
                    text("+0200"),
                    text("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU")
                ),
                (
                    "STANDARD".to_owned(),
                    text("20251026T030000"),
                    text("+0200"),
                    text("+0100"),
                    text("FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")
                ),
            ]
        );
    }

    #[test]
    fn new_york_starts_dst_on_the_second_sunday_of_march() {
        let rules = rules(&vtimezone(chrono_tz::America::New_York, 2025));
        assert_eq!(
            rules[0].4.as_deref(),
            Some("FREQ=YEARLY;BYMONTH=3;BYDAY=2SU")
        );
        assert_eq!(
            rules[1].4.as_deref(),
            Some("FREQ=YEARLY;BYMONTH=11;BYDAY=1SU")
        );
    }

    /// The property names written inside `kind` blocks, nested ones excluded.
    fn names_in(text: &str, kind: &str) -> Vec<String> {
        let mut depth_inside: Option<usize> = None;
        let mut names = Vec::new();
        for line in text.lines() {
            match (line.strip_prefix("BEGIN:"), line.strip_prefix("END:")) {
                (Some(opened), _) if opened == kind => depth_inside = Some(0),
                (Some(_), _) => depth_inside = depth_inside.map(|depth| depth + 1),
                (_, Some(closed)) if closed == kind => depth_inside = None,
                (_, Some(_)) => depth_inside = depth_inside.map(|depth| depth.saturating_sub(1)),
                _ if depth_inside == Some(0) => {
                    let end = line.find([':', ';']).unwrap_or(line.len());
                    names.push(line[..end].to_owned());
                }
                _ => {}
            }
        }
        names
    }

    #[test]
    fn written_zones_hold_only_what_rfc_5545_allows() {
        for zone in [chrono_tz::Europe::Berlin, chrono_tz::Asia::Kolkata] {
            let mut calendar = icalendar::Calendar::empty();
            calendar.push(vtimezone(zone, 2025));
            let text = super::super::serialize::calendar_text(&calendar).expect("writes");
            assert_eq!(names_in(&text, "VTIMEZONE"), ["TZID"], "{text}");
            let allowed = ["DTSTART", "TZOFFSETFROM", "TZOFFSETTO", "RRULE"];
            for rule in ["STANDARD", "DAYLIGHT"] {
                for name in names_in(&text, rule) {
                    assert!(allowed.contains(&name.as_str()), "{name} in {rule}: {text}");
                }
            }
            assert!(!names_in(&text, "STANDARD").is_empty(), "{text}");
        }
    }

    #[test]
    fn zones_without_dst_have_one_standard_rule() {
        let rules = rules(&vtimezone(chrono_tz::Asia::Kolkata, 2025));
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].3.as_deref(), Some("+0530"));
    }
}
