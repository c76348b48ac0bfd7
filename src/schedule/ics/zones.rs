//! Zones of an iCalendar file: `TZID`s named by IANA or Windows names (or a
//! prefixed IANA name such as `/mozilla.org/20050126_1/America/New_York`),
//! and those only the file's own `VTIMEZONE` defines. Such a zone is read as
//! the IANA zone its `X-LIC-LOCATION` names; else as the IANA zone whose
//! offsets agree with its `STANDARD` and `DAYLIGHT` rules (see
//! `iana_match`); else by those rules themselves (see `observances`), which
//! place every date-time right but give no IANA zone for a series to repeat
//! in.

use super::iana_match::matching_zone;
use super::lines::Prop;
use super::observances::{Observance, Transitions, local_time};
use super::problems::{LineError, ProblemList};
use crate::model::zones::resolve_zone;
use crate::schedule::recurrence::{IcalTime, parse_ical_time};
use chrono::{NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use std::cell::OnceCell;

/// A zone named by a `TZID`: IANA or Windows names, or a prefixed IANA name.
pub(super) fn zone_named(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"');
    resolve_zone(name).or_else(|| {
        name.match_indices('/')
            .find_map(|(at, _)| name.get(at + 1..).and_then(resolve_zone))
    })
}

/// A `TZID` as compared: without quotes, surrounding blanks and TEXT escapes
/// (a `VTIMEZONE` may escape the commas its `DTSTART;TZID=` quotes).
fn tzid_key(name: &str) -> String {
    name.trim().trim_matches('"').replace('\\', "")
}

/// The IANA zone of a fixed offset (`Etc/GMT-2` for +02:00), for whole hours.
pub(super) fn fixed_zone(offset: i32) -> Option<Tz> {
    if offset % 3600 != 0 {
        return None;
    }
    match offset / 3600 {
        0 => Some(Tz::Etc__GMT),
        // The POSIX names count hours west of UTC.
        hours => format!("Etc/GMT{:+}", -hours).parse().ok(),
    }
}

/// What one `VTIMEZONE` component says.
#[derive(Debug)]
pub(super) struct ZoneDefinition {
    tzid: Option<String>,
    location: Option<Tz>,
    observances: Vec<Observance>,
    transitions: Transitions,
    closed: bool,
    /// The IANA zone its rules match, found when a time is first read in it.
    matched: OnceCell<Option<Tz>>,
}

impl ZoneDefinition {
    /// A `VTIMEZONE` just begun.
    pub(super) fn new() -> Self {
        ZoneDefinition {
            tzid: None,
            location: None,
            observances: Vec::new(),
            transitions: Transitions::default(),
            closed: false,
            matched: OnceCell::new(),
        }
    }

    /// A `STANDARD` or `DAYLIGHT` sub-component begins at `line`.
    pub(super) fn begin_observance(&mut self, kind: &'static str, line: usize) {
        self.observances.push(Observance::new(line, kind));
    }

    /// Takes in a property of the `VTIMEZONE` itself.
    pub(super) fn read(&mut self, prop: &Prop<'_>) {
        match prop.name.as_str() {
            "TZID" => self.tzid = Some(tzid_key(&prop.value)),
            "X-LIC-LOCATION" => self.location = zone_named(&prop.value),
            _ => {}
        }
    }

    /// Takes in a property of its latest `STANDARD` or `DAYLIGHT`.
    pub(super) fn read_observance(&mut self, prop: &Prop<'_>, problems: &mut ProblemList) {
        let Some(observance) = self.observances.last_mut() else {
            return;
        };
        let unreadable = |what: &str| {
            format!(
                "{} of {}: {:?} is not {what}",
                prop.name, observance.kind, prop.value
            )
        };
        match prop.name.as_str() {
            "DTSTART" => match local_time(&prop.value) {
                Some(start) => observance.start = Some(start),
                None => problems.say(prop.line, unreadable("a date-time")),
            },
            name @ ("TZOFFSETFROM" | "TZOFFSETTO") => match parse_offset(&prop.value) {
                Some(offset) if name == "TZOFFSETTO" => observance.offset_to = Some(offset),
                Some(offset) => observance.offset_from = Some(offset),
                None => problems.say(prop.line, unreadable("an offset like +0100")),
            },
            "RRULE" => observance.rules.push((prop.line, prop.value.clone())),
            "RDATE" => {
                for item in prop.value.split(',').filter(|item| !item.trim().is_empty()) {
                    let start = item.split('/').next().unwrap_or(item);
                    match local_time(start) {
                        Some(date) => observance.dates.push(date),
                        None => problems.say(prop.line, unreadable("a list of date-times")),
                    }
                }
            }
            _ => {}
        }
    }

    /// Ends the component: a zone its name or location does not give is
    /// read by its own rules, expanded here. Answers how many changes of
    /// offset were expanded.
    pub(super) fn close(&mut self, problems: &mut ProblemList) -> usize {
        self.closed = true;
        let named = self.tzid.as_deref().and_then(zone_named);
        if named.is_some() || self.location.is_some() || self.observances.is_empty() {
            return 0;
        }
        self.transitions = Transitions::expand(&self.observances, problems);
        self.transitions.len()
    }

    /// The IANA zone whose offsets agree with this zone's rules around
    /// `near`, looked for once: the first time read decides for the file.
    fn matched(&self, near: Option<NaiveDateTime>) -> Option<Tz> {
        match near {
            Some(near) => *self
                .matched
                .get_or_init(|| matching_zone(self.tzid.as_deref()?, &self.transitions, near)),
            None => self.matched.get().copied().flatten(),
        }
    }

    /// The UTC date-time of a wall-clock time in this zone.
    pub(super) fn to_utc(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        self.transitions.to_utc(local)
    }
}

/// What a `TZID` stands for.
pub(super) enum Resolved<'a> {
    /// An IANA zone: by its name, its `VTIMEZONE`'s location, or its rules.
    Iana(Tz),
    /// A zone only its `VTIMEZONE`'s rules define.
    Own(&'a ZoneDefinition),
    /// Nothing the file or the zone database knows.
    Unknown,
}

/// A date or date-time value as read.
pub(super) struct TimeRead {
    /// The value (a UTC instant when read in a zone of the file's own rules).
    pub(super) time: IcalTime,
    /// The IANA zone it was read in, when one was named or matched.
    pub(super) zone: Option<Tz>,
    /// When read by a `VTIMEZONE`'s own rules: the `TZID` and the offset
    /// in force at the value.
    pub(super) own: Option<(String, i32)>,
}

/// How a file's times are placed: its default zone for floating times, and
/// the zones its `VTIMEZONE`s define.
#[derive(Clone, Copy, Debug)]
pub(super) struct Zones<'a> {
    default: Tz,
    defined: &'a [ZoneDefinition],
}

impl<'a> Zones<'a> {
    pub(super) fn new(default: Tz, defined: &'a [ZoneDefinition]) -> Self {
        Zones { default, defined }
    }

    /// The same zones with another default (a series' own zone).
    pub(super) fn with_default(self, default: Tz) -> Self {
        Zones { default, ..self }
    }

    pub(super) fn default_zone(&self) -> Tz {
        self.default
    }

    fn definition(&self, tzid: &str) -> Option<&'a ZoneDefinition> {
        let tzid = tzid_key(tzid);
        self.defined
            .iter()
            .find(|definition| definition.closed && definition.tzid.as_deref() == Some(&tzid))
    }

    /// What `tzid` stands for; `near` is the wall-clock time being read, so
    /// a zone of the file's own is compared with IANA zones around it.
    pub(super) fn resolve(&self, tzid: &str, near: Option<NaiveDateTime>) -> Resolved<'a> {
        if let Some(zone) = zone_named(tzid) {
            return Resolved::Iana(zone);
        }
        let Some(definition) = self.definition(tzid) else {
            return Resolved::Unknown;
        };
        if let Some(zone) = definition.location {
            return Resolved::Iana(zone);
        }
        if definition.transitions.is_empty() {
            return Resolved::Unknown;
        }
        definition
            .matched(near)
            .map_or(Resolved::Own(definition), Resolved::Iana)
    }

    /// A date or date-time value, in `tzid` when given.
    pub(super) fn read(
        &self,
        value: &str,
        tzid: Option<&str>,
        is_date: bool,
    ) -> Result<TimeRead, LineError> {
        let Some(name) = tzid else {
            return Ok(TimeRead {
                time: parse_ical_time(value, self.default, is_date)?,
                zone: None,
                own: None,
            });
        };
        let written = parse_ical_time(value, Tz::UTC, is_date)?;
        let near = match written {
            IcalTime::Zoned(local, _) => local,
            IcalTime::Utc(instant) => instant.naive_utc(),
            IcalTime::Date(date) => date.and_time(NaiveTime::MIN),
        };
        match self.resolve(name, Some(near)) {
            Resolved::Iana(zone) => Ok(TimeRead {
                time: parse_ical_time(value, zone, is_date)?,
                zone: Some(zone),
                own: None,
            }),
            Resolved::Own(definition) => {
                let time = match written {
                    IcalTime::Zoned(local, _) => definition
                        .to_utc(local)
                        .map(|utc| IcalTime::Utc(utc.and_utc()))
                        .ok_or_else(|| LineError::OutOfRange(value.trim().to_owned()))?,
                    other => other,
                };
                let offset = time
                    .instant()
                    .and_then(|at| definition.transitions.offset_at(at.naive_utc()));
                Ok(TimeRead {
                    time,
                    zone: None,
                    own: offset.map(|offset| (tzid_key(name), offset)),
                })
            }
            Resolved::Unknown => Err(LineError::UnknownZone(name.to_owned())),
        }
    }
}

/// `+HHMM[SS]` in seconds east of UTC (hours below 24, RFC 5545 §3.3.14).
fn parse_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    let (sign, digits) = match text.get(..1)? {
        "+" => (1, text.get(1..)?),
        "-" => (-1, text.get(1..)?),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |from: usize| {
        digits
            .get(from..from + 2)
            .and_then(|d| d.parse::<i32>().ok())
    };
    let (hours, minutes, seconds) = (number(0)?, number(2)?, number(4).unwrap_or(0));
    (hours < 24 && minutes < 60 && seconds < 60)
        .then_some(sign * (hours * 3600 + minutes * 60 + seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_with_sign_and_optional_seconds() {
        assert_eq!(parse_offset("+0530"), Some(19800));
        assert_eq!(parse_offset("-0800"), Some(-28800));
        assert_eq!(parse_offset("+013045"), Some(5445));
        assert_eq!(parse_offset("0800"), None);
        assert_eq!(parse_offset("+08"), None);
        assert_eq!(parse_offset("+9999"), None);
    }

    #[test]
    fn prefixed_names_resolve_to_their_iana_tail() {
        assert_eq!(
            zone_named("/mozilla.org/20050126_1/America/New_York"),
            Some(Tz::America__New_York)
        );
        assert_eq!(zone_named("\"Europe/Berlin\""), Some(Tz::Europe__Berlin));
        assert_eq!(zone_named("Not a zone"), None);
    }

    #[test]
    fn whole_hour_offsets_have_a_fixed_iana_zone() {
        assert_eq!(fixed_zone(7200), Some(Tz::Etc__GMTMinus2));
        assert_eq!(fixed_zone(-18000), Some(Tz::Etc__GMTPlus5));
        assert_eq!(fixed_zone(0), Some(Tz::Etc__GMT));
        assert_eq!(fixed_zone(19800), None);
    }
}
