//! Recurrence between RFC 5545 and Graph's `patternedRecurrence`
//! (PROVIDERS.md §2.2), both ways, for the rules both can express: one
//! `RRULE` of frequency daily, weekly, monthly (by day of the month, or by
//! the first to fourth or last weekday) or yearly (the same two ways), with
//! an interval, and a count, an end date or no end. Anything else (`RDATE`,
//! `EXDATE`, `EXRULE`, several rules, hourly rules, `BYHOUR`, several days
//! of the month...) is refused with the reason, never written half.

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Why a recurrence cannot be written to Outlook (or read from it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("recurrence: {0}")]
pub struct Unexpressible(pub String);

fn refuse(reason: impl Into<String>) -> Unexpressible {
    Unexpressible(reason.into())
}

const DAYS: [(&str, &str, Weekday); 7] = [
    ("MO", "monday", Weekday::Mon),
    ("TU", "tuesday", Weekday::Tue),
    ("WE", "wednesday", Weekday::Wed),
    ("TH", "thursday", Weekday::Thu),
    ("FR", "friday", Weekday::Fri),
    ("SA", "saturday", Weekday::Sat),
    ("SU", "sunday", Weekday::Sun),
];

const INDEXES: [(i32, &str); 5] = [
    (1, "first"),
    (2, "second"),
    (3, "third"),
    (4, "fourth"),
    (-1, "last"),
];

fn graph_day(code: &str) -> Result<&'static str, Unexpressible> {
    DAYS.iter()
        .find(|(short, _, _)| *short == code)
        .map(|(_, long, _)| *long)
        .ok_or_else(|| refuse(format!("{code:?} is not a day of the week (MO..SU)")))
}

fn ical_day(name: &str) -> Result<&'static str, Unexpressible> {
    DAYS.iter()
        .find(|(_, long, _)| long.eq_ignore_ascii_case(name))
        .map(|(short, _, _)| *short)
        .ok_or_else(|| refuse(format!("Graph's day {name:?} is not a day of the week")))
}

fn weekday_name(day: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, _, weekday)| *weekday == day)
        .map_or("monday", |(_, long, _)| *long)
}

/// `BYDAY` entries: an optional ordinal and a day.
fn by_day(text: &str) -> Result<Vec<(Option<i32>, &'static str)>, Unexpressible> {
    text.split(',')
        .map(|entry| {
            let split = entry.len().saturating_sub(2);
            let (ordinal, day) = entry.split_at(split);
            let ordinal = if ordinal.is_empty() {
                None
            } else {
                Some(
                    ordinal
                        .trim_start_matches('+')
                        .parse::<i32>()
                        .map_err(|_| {
                            refuse(format!("BYDAY {entry:?} is not an ordinal and a day"))
                        })?,
                )
            };
            Ok((ordinal, graph_day(day)?))
        })
        .collect()
}

fn index_name(ordinal: i32) -> Result<&'static str, Unexpressible> {
    INDEXES
        .iter()
        .find(|(n, _)| *n == ordinal)
        .map(|(_, name)| *name)
        .ok_or_else(|| {
            refuse(format!(
                "Outlook repeats on the first to fourth or the last weekday of a month, not the {ordinal}th"
            ))
        })
}

fn single_number(
    parts: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<u32>, Unexpressible> {
    let Some(text) = parts.get(name) else {
        return Ok(None);
    };
    if text.contains(',') {
        return Err(refuse(format!(
            "{name}={text}: Outlook repeats on one {name} value, not several"
        )));
    }
    text.parse::<u32>().map(Some).map_err(|_| {
        refuse(format!(
            "{name}={text}: Outlook takes a positive number here"
        ))
    })
}

/// The `UNTIL` value's date in `zone`.
fn until_date(text: &str, zone: Tz) -> Result<NaiveDate, Unexpressible> {
    let bad = || {
        refuse(format!(
            "UNTIL={text} is not an iCalendar date or date-time"
        ))
    };
    if text.len() == 8 {
        return NaiveDate::parse_from_str(text, "%Y%m%d").map_err(|_| bad());
    }
    let utc = text.ends_with('Z');
    let naive = chrono::NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y%m%dT%H%M%S")
        .map_err(|_| bad())?;
    Ok(if utc {
        naive.and_utc().with_timezone(&zone).date_naive()
    } else {
        naive.date()
    })
}

/// Graph's `patternedRecurrence` for `lines` (RFC 5545, without DTSTART),
/// for a series starting on `start` (a date in the event's zone) in `zone`,
/// whose Windows name is `windows_zone`; `None` for no recurrence.
///
/// # Errors
/// A rule Graph cannot express, naming the part and why.
pub fn to_graph(
    lines: &[String],
    start: NaiveDate,
    zone: Tz,
    windows_zone: &str,
) -> Result<Option<Value>, Unexpressible> {
    let mut rules = Vec::new();
    for line in lines
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
    {
        let upper = line.to_ascii_uppercase();
        match upper.strip_prefix("RRULE:") {
            Some(rule) => rules.push(rule.to_owned()),
            None => {
                let name = upper.split([':', ';']).next().unwrap_or_default();
                return Err(refuse(format!(
                    "Outlook cannot take {name} lines in a new series (only one RRULE); {line:?}"
                )));
            }
        }
    }
    let rule = match rules.as_slice() {
        [] => return Ok(None),
        [rule] => rule,
        _ => return Err(refuse("Outlook takes one RRULE per series, not several")),
    };
    let mut parts = BTreeMap::new();
    for part in rule.split(';').filter(|part| !part.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| refuse(format!("RRULE part {part:?} has no '='")))?;
        parts.insert(name.to_owned(), value.to_owned());
    }
    if let Some(other) = parts.keys().find(|name| {
        !matches!(
            name.as_str(),
            "FREQ"
                | "INTERVAL"
                | "COUNT"
                | "UNTIL"
                | "BYDAY"
                | "BYMONTHDAY"
                | "BYMONTH"
                | "BYSETPOS"
                | "WKST"
        )
    }) {
        return Err(refuse(format!(
            "Outlook has no equivalent of the RRULE part {other}"
        )));
    }
    let interval = single_number(&parts, "INTERVAL")?.unwrap_or(1).max(1);
    let mut pattern = json!({ "interval": interval });
    let days = parts.get("BYDAY").map(|text| by_day(text)).transpose()?;
    let set_position = parts
        .get("BYSETPOS")
        .map(|text| {
            text.parse::<i32>()
                .map_err(|_| refuse(format!("BYSETPOS={text}: Outlook takes one position here")))
        })
        .transpose()?;
    let day_of_month = single_number(&parts, "BYMONTHDAY")?;
    let month = single_number(&parts, "BYMONTH")?;
    let frequency = parts.get("FREQ").map(String::as_str).unwrap_or_default();
    // A relative pattern: one ordinal weekday, or weekdays with BYSETPOS.
    let relative = |days: &[(Option<i32>, &'static str)]| -> Result<(Vec<&'static str>, &'static str), Unexpressible> {
        match (days, set_position) {
            ([(Some(ordinal), day)], None) => Ok((vec![*day], index_name(*ordinal)?)),
            (days, Some(position)) if days.iter().all(|(ordinal, _)| ordinal.is_none()) => Ok((
                days.iter().map(|(_, day)| *day).collect(),
                index_name(position)?,
            )),
            _ => Err(refuse(
                "Outlook repeats on one weekday of the month by its place (BYDAY=2TU, or BYDAY with BYSETPOS)",
            )),
        }
    };
    match frequency {
        "DAILY" if days.is_none() && day_of_month.is_none() && month.is_none() => {
            pattern["type"] = json!("daily");
        }
        // Every weekday: Outlook's weekly pattern on those days.
        "DAILY" | "WEEKLY"
            if day_of_month.is_none() && month.is_none() && set_position.is_none() =>
        {
            let days = days.unwrap_or_else(|| vec![(None, weekday_name(start.weekday()))]);
            if days.iter().any(|(ordinal, _)| ordinal.is_some()) {
                return Err(refuse("a weekly rule's BYDAY takes days without ordinals"));
            }
            if frequency == "DAILY" && interval != 1 {
                return Err(refuse(
                    "a daily rule on some weekdays repeats every day only (INTERVAL=1)",
                ));
            }
            pattern["type"] = json!("weekly");
            pattern["daysOfWeek"] = json!(days.iter().map(|(_, day)| *day).collect::<Vec<_>>());
            let first = parts.get("WKST").map(String::as_str).unwrap_or("MO");
            pattern["firstDayOfWeek"] = json!(graph_day(first)?);
        }
        "MONTHLY" if month.is_none() => match &days {
            None => {
                pattern["type"] = json!("absoluteMonthly");
                pattern["dayOfMonth"] = json!(day_of_month.unwrap_or_else(|| start.day()));
            }
            Some(days) if day_of_month.is_none() => {
                let (days, index) = relative(days)?;
                pattern["type"] = json!("relativeMonthly");
                pattern["daysOfWeek"] = json!(days);
                pattern["index"] = json!(index);
            }
            Some(_) => return Err(refuse("Outlook cannot combine BYDAY and BYMONTHDAY")),
        },
        "YEARLY" => {
            pattern["month"] = json!(month.unwrap_or_else(|| start.month()));
            match &days {
                None => {
                    pattern["type"] = json!("absoluteYearly");
                    pattern["dayOfMonth"] = json!(day_of_month.unwrap_or_else(|| start.day()));
                }
                Some(days) if day_of_month.is_none() => {
                    let (days, index) = relative(days)?;
                    pattern["type"] = json!("relativeYearly");
                    pattern["daysOfWeek"] = json!(days);
                    pattern["index"] = json!(index);
                }
                Some(_) => return Err(refuse("Outlook cannot combine BYDAY and BYMONTHDAY")),
            }
        }
        "" => return Err(refuse("the RRULE has no FREQ")),
        other => {
            return Err(refuse(format!(
                "Outlook cannot repeat FREQ={other} with these parts; it repeats daily, weekly, \
                 monthly or yearly on one pattern"
            )));
        }
    }
    let mut range = json!({
        "startDate": start.format("%Y-%m-%d").to_string(),
        "recurrenceTimeZone": windows_zone,
    });
    match (parts.get("COUNT"), parts.get("UNTIL")) {
        (Some(_), Some(_)) => return Err(refuse("an RRULE has COUNT or UNTIL, not both")),
        (Some(count), None) => {
            let count: u32 = count
                .parse()
                .map_err(|_| refuse(format!("COUNT={count} is not a positive number")))?;
            range["type"] = json!("numbered");
            range["numberOfOccurrences"] = json!(count);
        }
        (None, Some(until)) => {
            range["type"] = json!("endDate");
            range["endDate"] = json!(until_date(until, zone)?.format("%Y-%m-%d").to_string());
        }
        (None, None) => range["type"] = json!("noEnd"),
    }
    Ok(Some(json!({ "pattern": pattern, "range": range })))
}

/// The RFC 5545 lines of Graph's `patternedRecurrence` `value`, for a series
/// in `zone` (an all-day one ends its `UNTIL` on a date).
///
/// # Errors
/// A pattern or range this reading does not know, naming it.
pub fn from_graph(value: &Value, zone: Tz, all_day: bool) -> Result<Vec<String>, Unexpressible> {
    let pattern = &value["pattern"];
    let range = &value["range"];
    let number = |field: &str| pattern[field].as_u64();
    let days = || -> Result<String, Unexpressible> {
        let days = pattern["daysOfWeek"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let codes = days
            .iter()
            .map(|day| ical_day(day.as_str().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(codes.join(","))
    };
    let index = || -> Result<i32, Unexpressible> {
        let name = pattern["index"].as_str().unwrap_or("first");
        INDEXES
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(n, _)| *n)
            .ok_or_else(|| {
                refuse(format!(
                    "Graph's index {name:?} is not first..fourth or last"
                ))
            })
    };
    let mut rule = match pattern["type"].as_str().unwrap_or_default() {
        "daily" => "FREQ=DAILY".to_owned(),
        "weekly" => format!("FREQ=WEEKLY;BYDAY={}", days()?),
        "absoluteMonthly" => format!(
            "FREQ=MONTHLY;BYMONTHDAY={}",
            number("dayOfMonth").unwrap_or(1)
        ),
        "relativeMonthly" => format!("FREQ=MONTHLY;BYDAY={};BYSETPOS={}", days()?, index()?),
        "absoluteYearly" => format!(
            "FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}",
            number("month").unwrap_or(1),
            number("dayOfMonth").unwrap_or(1)
        ),
        "relativeYearly" => format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={};BYSETPOS={}",
            number("month").unwrap_or(1),
            days()?,
            index()?
        ),
        other => {
            return Err(refuse(format!(
                "Graph's pattern type {other:?} is not known"
            )));
        }
    };
    let interval = number("interval").unwrap_or(1);
    if interval > 1 {
        rule.push_str(&format!(";INTERVAL={interval}"));
    }
    if pattern["type"] == "weekly"
        && let Some(first) = pattern["firstDayOfWeek"].as_str()
    {
        rule.push_str(&format!(";WKST={}", ical_day(first)?));
    }
    match range["type"].as_str().unwrap_or("noEnd") {
        "numbered" => {
            let count = range["numberOfOccurrences"].as_u64().unwrap_or(1);
            rule.push_str(&format!(";COUNT={count}"));
        }
        "endDate" => {
            let text = range["endDate"].as_str().unwrap_or_default();
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| refuse(format!("Graph's endDate {text:?} is not a date")))?;
            if all_day {
                rule.push_str(&format!(";UNTIL={}", date.format("%Y%m%d")));
            } else {
                // The whole end date counts, in the series' zone.
                let last = date.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
                let until = zone
                    .from_local_datetime(&last)
                    .earliest()
                    .map_or_else(|| last.and_utc(), |local| local.with_timezone(&chrono::Utc));
                rule.push_str(&format!(";UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
            }
        }
        _ => {}
    }
    Ok(vec![format!("RRULE:{rule}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn graph(rule: &str) -> Result<Option<Value>, Unexpressible> {
        to_graph(
            &[rule.to_owned()],
            date("2030-03-04"),
            Tz::Europe__Berlin,
            "W. Europe Standard Time",
        )
    }

    #[test]
    fn rules_both_can_express_map_to_patterns() {
        let weekly = graph("RRULE:FREQ=WEEKLY;COUNT=4").unwrap().unwrap();
        assert_eq!(
            weekly,
            json!({"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"],
                "firstDayOfWeek": "monday"},
                "range": {"type": "numbered", "numberOfOccurrences": 4, "startDate": "2030-03-04",
                    "recurrenceTimeZone": "W. Europe Standard Time"}})
        );
        let monthly = graph("RRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20301231T230000Z")
            .unwrap()
            .unwrap();
        assert_eq!(monthly["pattern"]["type"], "relativeMonthly");
        assert_eq!(monthly["pattern"]["index"], "last");
        assert_eq!(
            monthly["range"]["endDate"], "2031-01-01",
            "UNTIL read in Berlin"
        );
        let yearly = graph("RRULE:FREQ=YEARLY;INTERVAL=2").unwrap().unwrap();
        assert_eq!(yearly["pattern"]["type"], "absoluteYearly");
        assert_eq!(yearly["pattern"]["month"], 3);
        assert_eq!(yearly["pattern"]["dayOfMonth"], 4);
        assert_eq!(yearly["range"]["type"], "noEnd");
        let weekdays = graph("RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR")
            .unwrap()
            .unwrap();
        assert_eq!(
            weekdays["pattern"]["daysOfWeek"].as_array().unwrap().len(),
            5
        );
        assert_eq!(to_graph(&[], date("2030-03-04"), Tz::UTC, "UTC"), Ok(None));
    }

    #[test]
    fn what_outlook_cannot_express_is_refused_naming_why() {
        for (rule, named) in [
            ("RRULE:FREQ=HOURLY", "HOURLY"),
            ("RRULE:FREQ=WEEKLY;BYHOUR=9", "BYHOUR"),
            ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY"),
            ("RRULE:FREQ=MONTHLY;BYDAY=5MO", "5th"),
            ("EXDATE:20300311T090000Z", "EXDATE"),
        ] {
            let error = graph(rule).expect_err(rule);
            assert!(error.to_string().starts_with("recurrence: "), "{error}");
            assert!(error.to_string().contains(named), "{rule}: {error}");
        }
        let two = to_graph(
            &["RRULE:FREQ=DAILY".into(), "RRULE:FREQ=WEEKLY".into()],
            date("2030-03-04"),
            Tz::UTC,
            "UTC",
        );
        assert!(two.is_err());
    }

    #[test]
    fn patterns_read_back_as_the_rules_they_came_from() {
        for rule in [
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;INTERVAL=2;COUNT=6",
            "RRULE:FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2",
            "RRULE:FREQ=DAILY;INTERVAL=3",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=4",
        ] {
            let pattern = graph(rule).unwrap().unwrap();
            let back = from_graph(&pattern, Tz::Europe__Berlin, false).unwrap();
            let again = to_graph(
                &back,
                date("2030-03-04"),
                Tz::Europe__Berlin,
                "W. Europe Standard Time",
            )
            .unwrap()
            .unwrap();
            assert_eq!(again, pattern, "{rule} -> {back:?}");
        }
        let until = graph("RRULE:FREQ=DAILY;UNTIL=20300310T225959Z")
            .unwrap()
            .unwrap();
        assert_eq!(
            from_graph(&until, Tz::Europe__Berlin, false).unwrap(),
            ["RRULE:FREQ=DAILY;UNTIL=20300310T225959Z"]
        );
    }
}
