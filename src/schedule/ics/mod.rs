//! iCalendar (RFC 5545) text to [`ProviderEvent`]s, tolerant of bad input:
//! every line that cannot be read is reported with its line number and the
//! rest of the file is still used. Content lines are read with the
//! `icalendar` crate's property parser after unfolding here, which keeps the
//! physical line numbers that the crate's whole-file parser loses.
//! `TZID`s that are not IANA or Windows names are read through the file's own
//! `VTIMEZONE` components (see [`zones`](self)).

mod problems;
mod zones;

use super::recurrence::{IcalTime, RecurrenceError, parse_recurrence_line};
use super::{EventStatus, ProviderEvent};
use crate::model::{EventId, EventTime, Transparency};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use icalendar::parser::Property;
pub use problems::IcsProblem;
use problems::LineError;
use zones::{ZoneDefinition, Zones};

/// One unfolded content line and where it started.
struct ContentLine {
    number: usize,
    text: String,
}

/// Joins folded lines (a line starting with a space or tab continues the one before).
fn unfold(text: &str) -> Vec<ContentLine> {
    let mut lines: Vec<ContentLine> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.text.push_str(rest),
            _ if raw.trim().is_empty() => {}
            _ => lines.push(ContentLine {
                number: index + 1,
                text: raw.to_owned(),
            }),
        }
    }
    lines
}

/// A parsed property with what the event builder needs of it.
struct Prop<'a> {
    line: usize,
    name: String,
    value: String,
    params: Vec<(String, String)>,
    raw: &'a str,
}

impl Prop<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_prop(line: &ContentLine) -> Result<Prop<'_>, LineError> {
    if !line.text.contains(':') {
        return Err(LineError::NotAContentLine(line.text.clone()));
    }
    // The crate's property parser refuses BEGIN and END (it reads them as
    // component delimiters), so those two are split here.
    if let Some((name, value)) = line.text.split_once(':')
        && (name.eq_ignore_ascii_case("BEGIN") || name.eq_ignore_ascii_case("END"))
    {
        return Ok(Prop {
            line: line.number,
            name: name.to_ascii_uppercase(),
            value: value.to_owned(),
            params: Vec::new(),
            raw: &line.text,
        });
    }
    let property =
        Property::try_from(line.text.as_str()).map_err(|error| LineError::Unreadable {
            line: line.text.clone(),
            reason: error
                .lines()
                .next()
                .unwrap_or("bad content line")
                .to_owned(),
        })?;
    Ok(Prop {
        line: line.number,
        name: property.name.as_str().to_ascii_uppercase(),
        value: property.val.as_str().to_owned(),
        params: property
            .params
            .iter()
            .map(|p| {
                let value = p.val.as_ref().map_or("", |v| v.as_str());
                (
                    p.key.as_str().to_ascii_uppercase(),
                    value.trim_matches('"').to_owned(),
                )
            })
            .collect(),
        raw: &line.text,
    })
}

/// Reads the events of an iCalendar text. Floating times (no `TZID`, no `Z`)
/// are read in the calendar's `X-WR-TIMEZONE`, else UTC. calsync's own id is
/// read from `X-CALSYNC-ID`. Outlook's `X-MICROSOFT-CDO-BUSYSTATUS:FREE` marks
/// an event free.
pub fn events_from_ics(text: &str) -> (Vec<ProviderEvent>, Vec<IcsProblem>) {
    events_from_ics_with(text, &IcsOptions::default())
}

/// How [`events_from_ics_with`] reads beyond what [`events_from_ics`] does.
#[derive(Clone, Copy, Debug, Default)]
pub struct IcsOptions<'a> {
    /// The calendar owner's address (`ada@example.com`): an event with an
    /// `ATTENDEE:mailto:` of it whose `PARTSTAT` is `DECLINED` is read as declined.
    pub attendee: Option<&'a str>,
}

/// [`events_from_ics`], with `options`.
pub fn events_from_ics_with(
    text: &str,
    options: &IcsOptions<'_>,
) -> (Vec<ProviderEvent>, Vec<IcsProblem>) {
    let (events, problems) = read_ics(text, options);
    (
        events.into_iter().map(|read| read.event).collect(),
        problems,
    )
}

/// An event read from iCalendar text with what scheduling does not need but
/// copying the event elsewhere does.
#[derive(Clone, Debug, PartialEq)]
pub struct IcsEvent {
    /// The event as scheduling sees it.
    pub event: ProviderEvent,
    /// `DESCRIPTION`, unescaped.
    pub description: Option<String>,
    /// `LOCATION`, unescaped.
    pub location: Option<String>,
    /// The `ATTENDEE` addresses (without `mailto:`).
    pub attendees: Vec<String>,
}

/// [`events_from_ics_with`], answering each event with its description,
/// location and attendees.
pub fn read_ics(text: &str, options: &IcsOptions<'_>) -> (Vec<IcsEvent>, Vec<IcsProblem>) {
    let lines = unfold(text);
    let mut problems = Vec::new();
    let mut default_zone = Tz::UTC;
    // Events are built once the whole file is read (a VTIMEZONE may follow
    // them); each with where its END stood among the problems, to report in order.
    let mut vevents: Vec<(Vec<Prop<'_>>, usize, usize)> = Vec::new();
    let mut defined: Vec<ZoneDefinition> = Vec::new();
    let mut depth: Vec<(String, usize)> = Vec::new();
    let mut current: Vec<Prop<'_>> = Vec::new();
    for line in &lines {
        let prop = match parse_prop(line) {
            Ok(prop) => prop,
            Err(error) => {
                problems.push(IcsProblem::new(line.number, &error));
                continue;
            }
        };
        match prop.name.as_str() {
            "BEGIN" => {
                let component = prop.value.trim().to_ascii_uppercase();
                if component == "VEVENT" {
                    current.clear();
                }
                if component == "VTIMEZONE" {
                    defined.push(ZoneDefinition::default());
                }
                depth.push((component, line.number));
            }
            "END" => {
                let component = prop.value.trim().to_ascii_uppercase();
                let Some(open) = depth.iter().rposition(|(c, _)| *c == component) else {
                    let message = format!("END:{component} closes nothing");
                    problems.push(IcsProblem {
                        line: line.number,
                        message,
                    });
                    continue;
                };
                for (unclosed, begin) in depth.drain(open + 1..) {
                    let message = format!("BEGIN:{unclosed} is never closed; it is left out");
                    problems.push(IcsProblem {
                        line: begin,
                        message,
                    });
                }
                let begin = depth.pop().map_or(line.number, |(_, begin)| begin);
                if component == "VEVENT" {
                    vevents.push((std::mem::take(&mut current), begin, problems.len()));
                }
            }
            "X-WR-TIMEZONE" if depth.len() == 1 => match zones::zone_named(&prop.value) {
                Some(zone) => default_zone = zone,
                None => problems.push(IcsProblem::new(
                    prop.line,
                    &LineError::UnknownZone(prop.value.clone()),
                )),
            },
            _ if depth.last().is_some_and(|(c, _)| c == "VEVENT") => current.push(prop),
            _ => {
                if let Some(definition) = defined.last_mut() {
                    definition.read(&depth, &prop);
                }
            }
        }
    }
    for (component, begin) in depth {
        problems.push(IcsProblem {
            line: begin,
            message: format!("BEGIN:{component} is never closed; it is left out"),
        });
    }
    let zones = Zones::new(default_zone, &defined);
    let mut events = Vec::with_capacity(vevents.len());
    let mut in_order = Vec::with_capacity(problems.len());
    let mut structural = problems.into_iter();
    let mut taken = 0;
    // Per (UID, RECURRENCE-ID): where its event stands and its SEQUENCE.
    let mut versions: std::collections::HashMap<(String, Option<EventTime>), (usize, i64)> =
        std::collections::HashMap::new();
    for (props, begin, problems_before) in &vevents {
        in_order.extend(structural.by_ref().take(problems_before - taken));
        taken = *problems_before;
        match build_event(props, &zones, options, &mut in_order) {
            // Several versions of one event (the same UID and RECURRENCE-ID):
            // the highest SEQUENCE wins, then the last, as iTIP has it.
            Some(event) if event.uid.is_some() => {
                let sequence = props
                    .iter()
                    .find(|p| p.name == "SEQUENCE")
                    .and_then(|p| p.value.trim().parse::<i64>().ok())
                    .unwrap_or(0);
                let key = (event.uid.clone().unwrap_or_default(), event.recurrence_id);
                let read = IcsEvent {
                    event,
                    description: text_of(props, "DESCRIPTION"),
                    location: text_of(props, "LOCATION"),
                    attendees: attendees_of(props),
                };
                match versions.get(&key) {
                    Some(&(_, held)) if held > sequence => {}
                    Some(&(at, _)) => {
                        events[at] = read;
                        versions.insert(key, (at, sequence));
                    }
                    None => {
                        versions.insert(key, (events.len(), sequence));
                        events.push(read);
                    }
                }
            }
            Some(event) => events.push(IcsEvent {
                event,
                description: text_of(props, "DESCRIPTION"),
                location: text_of(props, "LOCATION"),
                attendees: attendees_of(props),
            }),
            None => in_order.push(IcsProblem {
                line: *begin,
                message: "the event has no usable DTSTART and is left out".into(),
            }),
        }
    }
    in_order.extend(structural);
    (events, in_order)
}

/// A date or date-time property with its zone. A `TZID` that names no zone
/// the file or the zone database knows is read in the file's default zone,
/// with a warning in `problems`: a time an hour or so off is better than
/// busy time dropped.
fn read_time(
    prop: &Prop<'_>,
    zones: &Zones<'_>,
    problems: &mut Vec<IcsProblem>,
) -> Result<(IcalTime, Option<Tz>), LineError> {
    let is_date = prop
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    let within = |problem| LineError::In {
        property: prop.name.clone(),
        problem: Box::new(problem),
    };
    match zones.read(&prop.value, prop.param("TZID"), is_date) {
        Err(LineError::UnknownZone(name)) => {
            problems.push(IcsProblem {
                line: prop.line,
                message: format!(
                    "{}: unknown zone {name:?}, read in {} instead",
                    prop.name,
                    zones.default_zone().name()
                ),
            });
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

/// An ISO 8601 duration as RFC 5545 writes it (`PT1H30M`, `P1D`, `P2W`).
fn parse_duration(text: &str) -> Option<Duration> {
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

fn end_from(
    start: EventTime,
    props: &[Prop<'_>],
    zones: &Zones<'_>,
    problems: &mut Vec<IcsProblem>,
) -> EventTime {
    let default_end = match start {
        EventTime::Date(date) => EventTime::Date(date.succ_opt().unwrap_or(date)),
        EventTime::Instant(at) => EventTime::Instant(at),
    };
    if let Some(prop) = props.iter().find(|p| p.name == "DTEND") {
        match read_time(prop, zones, problems).map(|(time, _)| to_event_time(time)) {
            // An all-day event ending on (or before) its start day is that
            // one day, as calendars show it.
            Ok(Some(EventTime::Date(end))) if matches!(start, EventTime::Date(day) if end <= day) =>
            {
                return default_end;
            }
            Ok(Some(end)) => return end,
            Ok(None) => problems.push(IcsProblem {
                line: prop.line,
                message: "DTEND does not exist in its zone".into(),
            }),
            Err(error) => problems.push(IcsProblem::new(prop.line, &error)),
        }
    } else if let Some(prop) = props.iter().find(|p| p.name == "DURATION") {
        let end = parse_duration(&prop.value).map(|length| match start {
            EventTime::Instant(at) => at.checked_add_signed(length).map(EventTime::Instant),
            EventTime::Date(date) => Duration::try_days(length.num_days().max(1))
                .and_then(|days| date.checked_add_signed(days))
                .map(EventTime::Date),
        });
        match end {
            Some(Some(end)) => return end,
            Some(None) => problems.push(IcsProblem {
                line: prop.line,
                message: format!("DURATION {:?} ends beyond any date", prop.value),
            }),
            None => problems.push(IcsProblem {
                line: prop.line,
                message: format!("DURATION {:?} is not a duration like PT1H", prop.value),
            }),
        }
    }
    default_end
}

/// A recurrence line in the form [`parse_recurrence_line`] reads, with a
/// prefixed `TZID` replaced by its IANA name.
fn recurrence_line(
    prop: &Prop<'_>,
    zone: Tz,
    zones: &Zones<'_>,
) -> Result<String, RecurrenceError> {
    let line = match prop.param("TZID").and_then(|name| zones.named(name)) {
        Some(tz) => {
            let other: Vec<String> = prop
                .params
                .iter()
                .filter(|(k, _)| k != "TZID")
                .map(|(k, v)| format!(";{k}={v}"))
                .collect();
            format!(
                "{};TZID={}{}:{}",
                prop.name,
                tz.name(),
                other.concat(),
                prop.value
            )
        }
        None => prop.raw.to_owned(),
    };
    parse_recurrence_line(&line, zone).map(|_| line)
}

fn build_event(
    props: &[Prop<'_>],
    zones: &Zones<'_>,
    options: &IcsOptions<'_>,
    problems: &mut Vec<IcsProblem>,
) -> Option<ProviderEvent> {
    let default_zone = zones.default_zone();
    let find = |name: &str| props.iter().find(|p| p.name == name);
    let start_prop = find("DTSTART")?;
    let (start_time, zone) = match read_time(start_prop, zones, problems) {
        Ok(read) => read,
        Err(error) => {
            problems.push(IcsProblem::new(start_prop.line, &error));
            return None;
        }
    };
    let start = to_event_time(start_time)?;
    let end = end_from(start, props, zones, problems);
    let series_zone = zone.unwrap_or(default_zone);
    let mut recurrence = Vec::new();
    for prop in props
        .iter()
        .filter(|p| matches!(p.name.as_str(), "RRULE" | "EXRULE" | "RDATE" | "EXDATE"))
    {
        match recurrence_line(prop, series_zone, zones) {
            Ok(line) => recurrence.push(line),
            Err(error) => problems.push(IcsProblem::new(prop.line, &error)),
        }
    }
    let series = zones.with_default(series_zone);
    let recurrence_id =
        find("RECURRENCE-ID").and_then(|prop| match read_time(prop, &series, problems) {
            Ok((time, _)) => to_event_time(time),
            Err(error) => {
                problems.push(IcsProblem::new(prop.line, &error));
                None
            }
        });
    let value = |name: &str| find(name).map(|p| p.value.trim().to_ascii_uppercase());
    let status = match value("STATUS").as_deref() {
        Some("CANCELLED") => EventStatus::Cancelled,
        Some("TENTATIVE") => EventStatus::Tentative,
        _ => EventStatus::Confirmed,
    };
    let free = value("TRANSP").as_deref() == Some("TRANSPARENT")
        || value("X-MICROSOFT-CDO-BUSYSTATUS").as_deref() == Some("FREE");
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
        time_zone: zone
            .or((default_zone != Tz::UTC).then_some(default_zone))
            .map(|z| z.name().to_owned()),
        transparency: if free {
            Transparency::Free
        } else {
            Transparency::Busy
        },
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

/// Whether `address` is an attendee of the event who declined it.
fn attendees_of(props: &[Prop<'_>]) -> Vec<String> {
    props
        .iter()
        .filter(|p| p.name == "ATTENDEE")
        .map(|p| mail_address(&p.value).to_owned())
        .filter(|address| !address.is_empty())
        .collect()
}

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
fn text_of(props: &[Prop<'_>], name: &str) -> Option<String> {
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

/// The instant of a UTC RFC 3339 text, for callers that print occurrences.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
