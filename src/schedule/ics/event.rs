//! One `VEVENT`'s properties to a [`ProviderEvent`]: every value that cannot
//! be used is a problem of that event, and what can be used still is.

use super::lines::Prop;
use super::problems::{LineError, ProblemList};
use super::zones::{Resolved, TimeRead, Zones, fixed_zone};
use super::{IcsOptions, ProviderEvent};
use crate::model::{EventId, EventTime, Transparency};
use crate::schedule::EventStatus;
use crate::schedule::recurrence::{
    IcalTime, parse_ical_duration, parse_ical_time, parse_recurrence_line,
};
use chrono::Duration;
use chrono_tz::Tz;

/// A date or date-time property with its zone. A `TZID` that names no zone
/// the file or the zone database knows is read in the file's default zone,
/// with a warning in `problems`: a time an hour or so off is better than
/// busy time dropped.
fn read_time(
    prop: &Prop<'_>,
    zones: &Zones<'_>,
    problems: &mut ProblemList,
) -> Result<TimeRead, LineError> {
    let is_date = prop
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    let within = |problem| LineError::In {
        property: prop.name.clone(),
        problem: Box::new(problem),
    };
    match zones.read(&prop.value, prop.param("TZID"), is_date) {
        Err(LineError::UnknownZone(name)) => {
            problems.say(
                prop.line,
                format!(
                    "{}: unknown zone {name:?}, read in {} instead",
                    prop.name,
                    zones.default_zone().name()
                ),
            );
            zones.read(&prop.value, None, is_date).map_err(within)
        }
        other => other.map_err(within),
    }
}

fn to_event_time(time: IcalTime) -> Option<EventTime> {
    match time {
        IcalTime::Date(date) => Some(EventTime::Date(date)),
        other => other.instant().map(EventTime::Instant),
    }
}

/// The end `DTEND` or else `DURATION` gives, with the property that gave
/// it; none (with a problem when one was given) when neither can be used.
fn written_end<'p>(
    start: EventTime,
    props: &'p [Prop<'p>],
    zones: &Zones<'_>,
    problems: &mut ProblemList,
) -> Option<(&'p Prop<'p>, EventTime)> {
    if let Some(prop) = props.iter().find(|p| p.name == "DTEND") {
        return match read_time(prop, zones, problems).map(|read| to_event_time(read.time)) {
            Ok(Some(end)) => Some((prop, end)),
            Ok(None) => {
                problems.say(prop.line, "DTEND does not exist in its zone".into());
                None
            }
            Err(error) => {
                problems.at(prop.line, &error);
                None
            }
        };
    }
    let prop = props.iter().find(|p| p.name == "DURATION")?;
    let end = parse_ical_duration(&prop.value).map(|length| match start {
        EventTime::Instant(at) => at.checked_add_signed(length).map(EventTime::Instant),
        EventTime::Date(date) => Duration::try_days(length.num_days().max(1))
            .and_then(|days| date.checked_add_signed(days))
            .map(EventTime::Date),
    });
    let message = match end {
        Some(Some(end)) => return Some((prop, end)),
        Some(None) => format!("DURATION {:?} ends beyond any date", prop.value),
        None => format!("DURATION {:?} is not a duration like PT1H", prop.value),
    };
    problems.say(prop.line, message);
    None
}

/// The end from `DTEND`, else `DURATION`, else RFC 5545's default (the start
/// for a date-time, the next day for a date). An end that cannot be used is
/// a problem, and the default stands.
fn end_from(
    start: EventTime,
    props: &[Prop<'_>],
    zones: &Zones<'_>,
    problems: &mut ProblemList,
) -> EventTime {
    let default_end = match start {
        EventTime::Date(date) => EventTime::Date(date.succ_opt().unwrap_or(date)),
        EventTime::Instant(at) => EventTime::Instant(at),
    };
    let Some((prop, end)) = written_end(start, props, zones, problems) else {
        return default_end;
    };
    let problem = match (start, end) {
        // An all-day event ending on (or before) its start day is that one
        // day, as calendars show it.
        (EventTime::Date(first), EventTime::Date(last)) if last <= first => return default_end,
        (EventTime::Instant(first), EventTime::Instant(last)) if last < first => {
            "ends before DTSTART; the event is read without length"
        }
        (EventTime::Date(_), EventTime::Instant(_))
        | (EventTime::Instant(_), EventTime::Date(_)) => {
            "is a date where DTSTART is a date-time, or the other way round; it is left out"
        }
        _ => return end,
    };
    problems.say(prop.line, format!("{} {problem}", prop.name));
    default_end
}

/// A recurrence line in the form [`parse_recurrence_line`] reads: a `TZID`
/// the zone database does not know is replaced by the IANA zone it stands
/// for, or, for a zone only the file's rules define, its date-times are
/// written in UTC.
fn recurrence_line(prop: &Prop<'_>, zone: Tz, zones: &Zones<'_>) -> Result<String, LineError> {
    let Some(tzid) = prop.param("TZID") else {
        // A rule is read as the calendar holds it, however often it
        // repeats: its busy time is real, and expanding it costs the window
        // asked about, within the request's work budget.
        parse_recurrence_line(&prop.raw, zone)?;
        return Ok(prop.raw.clone().into_owned());
    };
    let first = prop.value.split([',', '/']).next().unwrap_or_default();
    let near = match parse_ical_time(first, Tz::UTC, false) {
        Ok(IcalTime::Zoned(local, _)) => Some(local),
        _ => None,
    };
    let other_params = |skip: &str| -> String {
        prop.params
            .iter()
            .filter(|(key, _)| key != skip)
            .map(|(key, value)| format!(";{key}={value}"))
            .collect()
    };
    let line = match zones.resolve(tzid, near) {
        Resolved::Iana(tz) => format!(
            "{};TZID={}{}:{}",
            prop.name,
            tz.name(),
            other_params("TZID"),
            prop.value
        ),
        Resolved::Own(definition) => {
            let in_utc = |item: &str| match parse_ical_time(item, Tz::UTC, false) {
                Ok(IcalTime::Zoned(local, _)) => definition
                    .to_utc(local)
                    .map(|utc| utc.format("%Y%m%dT%H%M%SZ").to_string()),
                _ => None,
            };
            let is_date = prop
                .param("VALUE")
                .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
            let values: Vec<String> = prop
                .value
                .split(',')
                .map(|item| match item.split_once('/') {
                    _ if is_date => item.to_owned(),
                    Some((start, end)) => {
                        let start = in_utc(start).unwrap_or_else(|| start.to_owned());
                        format!("{start}/{}", in_utc(end).unwrap_or_else(|| end.to_owned()))
                    }
                    None => in_utc(item).unwrap_or_else(|| item.to_owned()),
                })
                .collect();
            format!("{}{}:{}", prop.name, other_params("TZID"), values.join(","))
        }
        Resolved::Unknown => prop.raw.clone().into_owned(),
    };
    parse_recurrence_line(&line, zone)?;
    Ok(line)
}

/// The zone a series repeats in, and the zone the event lives in. A start in
/// a zone only the file's rules define gives no IANA zone: the series then
/// repeats at the fixed offset of its start, which is reported.
fn zones_of(
    start: &TimeRead,
    start_prop: &Prop<'_>,
    is_series: bool,
    default_zone: Tz,
    problems: &mut ProblemList,
) -> (Tz, Option<Tz>) {
    let lives_in = |zone: Option<Tz>| zone.or((default_zone != Tz::UTC).then_some(default_zone));
    match (start.zone, &start.own) {
        (Some(zone), _) => (zone, Some(zone)),
        (None, Some((tzid, offset))) if is_series => {
            let fixed = fixed_zone(*offset).unwrap_or(default_zone);
            problems.say(
                start_prop.line,
                format!(
                    "zone {tzid:?}: its VTIMEZONE matches no IANA zone, so the series \
                     repeats in {} (the offset of its start) and its occurrences after a \
                     daylight-saving change are off by that change",
                    fixed.name()
                ),
            );
            (fixed, Some(fixed))
        }
        _ => (default_zone, lives_in(None)),
    }
}

/// An enumerated value RFC 5545 allows only some words for: the word, or
/// none with a problem when it is another (the caller's default stands).
fn one_of(
    props: &[Prop<'_>],
    name: &str,
    allowed: &[&str],
    problems: &mut ProblemList,
) -> Option<String> {
    let prop = props.iter().find(|p| p.name == name)?;
    let value = prop.value.trim().to_ascii_uppercase();
    if allowed.contains(&value.as_str()) {
        return Some(value);
    }
    problems.say(
        prop.line,
        format!(
            "{name} {:?} is not one of {}; read as {}",
            prop.value,
            allowed.join(", "),
            allowed.first().copied().unwrap_or_default()
        ),
    );
    None
}

/// `STATUS`, and whether the event is free (`TRANSP:TRANSPARENT`, or
/// Outlook's `X-MICROSOFT-CDO-BUSYSTATUS:FREE`).
fn availability(props: &[Prop<'_>], problems: &mut ProblemList) -> (EventStatus, Transparency) {
    let statuses = ["CONFIRMED", "TENTATIVE", "CANCELLED"];
    let status = match one_of(props, "STATUS", &statuses, problems).as_deref() {
        Some("CANCELLED") => EventStatus::Cancelled,
        Some("TENTATIVE") => EventStatus::Tentative,
        _ => EventStatus::Confirmed,
    };
    let transparent = one_of(props, "TRANSP", &["OPAQUE", "TRANSPARENT"], problems);
    let free = transparent.as_deref() == Some("TRANSPARENT")
        || props
            .iter()
            .find(|p| p.name == "X-MICROSOFT-CDO-BUSYSTATUS")
            .is_some_and(|p| p.value.trim().eq_ignore_ascii_case("FREE"));
    let transparency = if free {
        Transparency::Free
    } else {
        Transparency::Busy
    };
    (status, transparency)
}

pub(super) fn build_event(
    props: &[Prop<'_>],
    zones: &Zones<'_>,
    options: &IcsOptions<'_>,
    problems: &mut ProblemList,
) -> Option<ProviderEvent> {
    let find = |name: &str| props.iter().find(|p| p.name == name);
    let start_prop = find("DTSTART")?;
    let start_read = match read_time(start_prop, zones, problems) {
        Ok(read) => read,
        Err(error) => {
            problems.at(start_prop.line, &error);
            return None;
        }
    };
    let start = to_event_time(start_read.time)?;
    let end = end_from(start, props, zones, problems);
    let is_series = props
        .iter()
        .any(|p| matches!(p.name.as_str(), "RRULE" | "EXRULE" | "RDATE"));
    let (series_zone, time_zone) = zones_of(
        &start_read,
        start_prop,
        is_series,
        zones.default_zone(),
        problems,
    );
    let mut recurrence = Vec::new();
    for prop in props
        .iter()
        .filter(|p| matches!(p.name.as_str(), "RRULE" | "EXRULE" | "RDATE" | "EXDATE"))
    {
        match recurrence_line(prop, series_zone, zones) {
            Ok(line) => recurrence.push(line),
            Err(error) => problems.at(prop.line, &error),
        }
    }
    let series = zones.with_default(series_zone);
    let recurrence_id =
        find("RECURRENCE-ID").and_then(|prop| match read_time(prop, &series, problems) {
            Ok(read) => to_event_time(read.time),
            Err(error) => {
                problems.at(prop.line, &error);
                None
            }
        });
    let (status, transparency) = availability(props, problems);
    let uid = find("UID")
        .map(|p| p.value.trim().to_owned())
        .filter(|u| !u.is_empty());
    let event_id = match (&uid, recurrence_id) {
        (Some(uid), Some(id)) => format!("{uid}/{id}"),
        (Some(uid), None) => uid.clone(),
        (None, _) => format!("line-{}", start_prop.line),
    };
    Some(ProviderEvent {
        event_id,
        uid,
        title: find("SUMMARY")
            .map(|p| unescape(&p.value))
            .unwrap_or_default(),
        start,
        end,
        time_zone: time_zone.map(|zone| zone.name().to_owned()),
        transparency,
        status,
        declined: options
            .attendee
            .is_some_and(|address| declined_by(props, address)),
        recurrence,
        recurrence_id,
        this_and_future: find("RECURRENCE-ID")
            .and_then(|p| p.param("RANGE"))
            .is_some_and(|range| range.eq_ignore_ascii_case("THISANDFUTURE")),
        synced_id: find("X-CALSYNC-ID").map(|p| EventId(p.value.trim().to_owned())),
    })
}

/// The event's `SEQUENCE` (0 when absent; a value that is no number is a
/// problem and reads as 0).
pub(super) fn sequence_of(props: &[Prop<'_>], problems: &mut ProblemList) -> i64 {
    let Some(prop) = props.iter().find(|p| p.name == "SEQUENCE") else {
        return 0;
    };
    prop.value.trim().parse::<i64>().unwrap_or_else(|_| {
        let message = format!("SEQUENCE {:?} is not a number; read as 0", prop.value);
        problems.say(prop.line, message);
        0
    })
}

/// The `ATTENDEE` addresses (without `mailto:`).
pub(super) fn attendees_of(props: &[Prop<'_>]) -> Vec<String> {
    props
        .iter()
        .filter(|p| p.name == "ATTENDEE")
        .map(|p| mail_address(&p.value).to_owned())
        .filter(|address| !address.is_empty())
        .collect()
}

/// Whether `address` is an attendee of the event who declined it.
fn declined_by(props: &[Prop<'_>], address: &str) -> bool {
    let address = address.trim();
    props.iter().filter(|p| p.name == "ATTENDEE").any(|p| {
        mail_address(&p.value).eq_ignore_ascii_case(address)
            && p.param("PARTSTAT")
                .is_some_and(|status| status.eq_ignore_ascii_case("DECLINED"))
    })
}

/// An `ATTENDEE` value without its `mailto:`.
fn mail_address(value: &str) -> &str {
    let value = value.trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => value.get(7..).unwrap_or(""),
        _ => value,
    }
}

/// A TEXT property, unescaped; none when absent or blank.
pub(super) fn text_of(props: &[Prop<'_>], name: &str) -> Option<String> {
    props
        .iter()
        .find(|p| p.name == name)
        .map(|p| unescape(&p.value))
        .filter(|text| !text.trim().is_empty())
}

/// Undoes RFC 5545 TEXT escaping (`\,` `\;` `\n` `\\`).
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
