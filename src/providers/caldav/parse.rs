//! iCalendar in: a calendar object resource read from a server, turned into
//! [`CalendarEvent`]s tolerantly. A component that cannot be used is reported
//! as a problem and skipped; the others still count.

use super::ical::SYNCED_ID;
use super::timezone;
use crate::model::{EventId, EventTime, Transparency};
use crate::schedule::{CalendarEvent, EventStatus};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use icalendar::{Calendar, CalendarComponent, Component, Event, Property};

/// The UID of the first VEVENT of `text`, when it parses.
pub fn uid_of(text: &str) -> Option<String> {
    let calendar: Calendar = text.parse().ok()?;
    calendar
        .components
        .iter()
        .find_map(CalendarComponent::as_event)
        .and_then(|event| event.get_uid().map(str::to_owned))
}

/// The events of one resource at `href`; `user` (an email) is whose
/// declines count. Problems come back as messages.
pub fn events(href: &str, text: &str, user: Option<&str>) -> (Vec<CalendarEvent>, Vec<String>) {
    let calendar: Calendar = match text.parse() {
        Ok(calendar) => calendar,
        Err(error) => return (Vec::new(), vec![format!("{href}: not iCalendar: {error}")]),
    };
    let zones = Zones::of(&calendar);
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for vevent in calendar
        .components
        .iter()
        .filter_map(CalendarComponent::as_event)
    {
        match event(href, vevent, &zones, user) {
            Ok(event) => found.push(event),
            Err(problem) => problems.push(format!("{href}: {problem}")),
        }
    }
    (found, problems)
}

fn event(
    href: &str,
    vevent: &Event,
    zones: &Zones,
    user: Option<&str>,
) -> Result<CalendarEvent, String> {
    let start_property = property(vevent, "DTSTART").ok_or("a VEVENT without DTSTART")?;
    let (start, time_zone) = zones.time(start_property)?;
    let end = match property(vevent, "DTEND") {
        Some(end) => zones.time(end)?.0,
        None => match vevent.property_value("DURATION") {
            Some(text) => add(start, parse_duration(text)?),
            None => match start {
                EventTime::Date(date) => EventTime::Date(date + Duration::days(1)),
                EventTime::Instant(_) => start,
            },
        },
    };
    let recurrence_id = property(vevent, "RECURRENCE-ID")
        .map(|id| zones.time(id).map(|(time, _)| time))
        .transpose()?;
    let event_id = match recurrence_id {
        Some(id) => format!("{href}#{id}"),
        None => href.to_owned(),
    };
    let upper = |name: &str| vevent.property_value(name).map(str::to_ascii_uppercase);
    Ok(CalendarEvent {
        event_id,
        uid: vevent.get_uid().map(str::to_owned),
        title: vevent.get_summary().unwrap_or_default().to_owned(),
        start,
        end,
        time_zone,
        transparency: match upper("TRANSP").as_deref() {
            Some("TRANSPARENT") => Transparency::Free,
            _ => Transparency::Busy,
        },
        status: match upper("STATUS").as_deref() {
            Some("CANCELLED") => EventStatus::Cancelled,
            Some("TENTATIVE") => EventStatus::Tentative,
            _ => EventStatus::Confirmed,
        },
        declined: user.is_some_and(|user| declined_by(vevent, user)),
        recurrence: recurrence_lines(vevent),
        recurrence_id,
        synced_id: vevent
            .property_value(SYNCED_ID)
            .map(|id| EventId::from(id.trim())),
    })
}

fn property<'a>(vevent: &'a Event, name: &str) -> Option<&'a Property> {
    vevent.properties().get(name)
}

fn declined_by(vevent: &Event, user: &str) -> bool {
    let address = format!("mailto:{user}");
    vevent
        .multi_properties()
        .get("ATTENDEE")
        .into_iter()
        .flatten()
        .any(|attendee| {
            attendee.value().trim().eq_ignore_ascii_case(&address)
                && attendee
                    .params()
                    .get("PARTSTAT")
                    .is_some_and(|status| status.value().eq_ignore_ascii_case("DECLINED"))
        })
}

fn recurrence_lines(vevent: &Event) -> Vec<String> {
    let single = ["RRULE"]
        .into_iter()
        .filter_map(|name| property(vevent, name));
    let multi = ["RDATE", "EXDATE"]
        .into_iter()
        .filter_map(|name| vevent.multi_properties().get(name))
        .flatten();
    single
        .chain(multi)
        .filter_map(|property| {
            let folded: String = property.clone().try_into().ok()?;
            Some(icalendar::parser::unfold(&folded).trim_end().to_owned())
        })
        .collect()
}

/// The zones a resource defines, for TZIDs that are not IANA names.
struct Zones {
    /// TZID → a fixed offset (seconds east), from the VTIMEZONE's rules.
    offsets: Vec<(String, i32)>,
    /// TZID → the IANA zone its `X-LIC-LOCATION` names.
    aliases: Vec<(String, chrono_tz::Tz)>,
}

impl Zones {
    fn of(calendar: &Calendar) -> Zones {
        let mut zones = Zones {
            offsets: Vec::new(),
            aliases: Vec::new(),
        };
        for component in &calendar.components {
            let CalendarComponent::Other(other) = component else {
                continue;
            };
            if other.component_kind() != "VTIMEZONE" {
                continue;
            }
            let Some(tzid) = other.property_value("TZID") else {
                continue;
            };
            if let Some(zone) = other
                .property_value("X-LIC-LOCATION")
                .and_then(timezone::resolve)
            {
                zones.aliases.push((tzid.to_owned(), zone));
            }
            let standard = other
                .components()
                .iter()
                .find(|rule| rule.component_kind() == "STANDARD")
                .or_else(|| other.components().first());
            if let Some(offset) = standard
                .and_then(|rule| rule.property_value("TZOFFSETTO"))
                .and_then(timezone::parse_offset)
            {
                zones.offsets.push((tzid.to_owned(), offset));
            }
        }
        zones
    }

    /// A DTSTART-like property as an [`EventTime`], and the IANA zone it lives in.
    fn time(&self, property: &Property) -> Result<(EventTime, Option<String>), String> {
        let value = property.value().trim();
        let is_date = property
            .params()
            .get("VALUE")
            .is_some_and(|kind| kind.value().eq_ignore_ascii_case("DATE"))
            || value.len() == 8;
        if is_date {
            let date = NaiveDate::parse_from_str(value, "%Y%m%d")
                .map_err(|_| format!("{}: {value:?} is not a date", property.key()))?;
            return Ok((EventTime::Date(date), None));
        }
        let bad = || format!("{}: {value:?} is not a date-time", property.key());
        if let Some(utc) = value.strip_suffix('Z') {
            let local = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
            return Ok((EventTime::Instant(local.and_utc()), None));
        }
        let local = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        let Some(tzid) = property
            .params()
            .get("TZID")
            .map(|tzid| tzid.value().to_owned())
        else {
            // A floating time: no zone is known, so read it as UTC.
            return Ok((EventTime::Instant(local.and_utc()), None));
        };
        let zone = timezone::resolve(&tzid).or_else(|| {
            self.aliases
                .iter()
                .find(|(name, _)| *name == tzid)
                .map(|(_, zone)| *zone)
        });
        if let Some(zone) = zone {
            let instant = zone
                .from_local_datetime(&local)
                .earliest()
                // A local time skipped by a DST change: an hour later exists.
                .or_else(|| {
                    zone.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })
                .ok_or_else(bad)?;
            return Ok((
                EventTime::Instant(instant.with_timezone(&Utc)),
                Some(zone.name().to_owned()),
            ));
        }
        let offset = self
            .offsets
            .iter()
            .find(|(name, _)| *name == tzid)
            .map(|(_, offset)| *offset)
            .ok_or_else(|| format!("{}: unknown time zone {tzid:?}", property.key()))?;
        let instant: DateTime<Utc> = (local - Duration::seconds(i64::from(offset))).and_utc();
        Ok((EventTime::Instant(instant), None))
    }
}

fn add(start: EventTime, duration: Duration) -> EventTime {
    match start {
        EventTime::Instant(instant) => EventTime::Instant(instant + duration),
        EventTime::Date(date) => EventTime::Date(date + Duration::days(duration.num_days().max(1))),
    }
}

/// An RFC 5545 DURATION (`PT1H30M`, `P1D`, `P2W`, `-PT5M`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("DURATION: {text:?} is not a duration");
    let trimmed = text.trim();
    let (negative, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let rest = rest.strip_prefix('P').ok_or_else(bad)?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    for character in rest.chars() {
        match character {
            'T' => in_time = true,
            digit if digit.is_ascii_digit() => number.push(digit),
            unit => {
                let amount: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                total += match (unit, in_time) {
                    ('W', false) => Duration::weeks(amount),
                    ('D', false) => Duration::days(amount),
                    ('H', true) => Duration::hours(amount),
                    ('M', true) => Duration::minutes(amount),
                    ('S', true) => Duration::seconds(amount),
                    _ => return Err(bad()),
                };
            }
        }
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests;
