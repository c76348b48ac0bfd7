//! Zones of an iCalendar file: `TZID`s named by IANA or Windows names (or a
//! prefixed IANA name such as `/mozilla.org/20050126_1/America/New_York`),
//! and those only the file's own `VTIMEZONE` defines. Such a zone is read as
//! the IANA zone its `X-LIC-LOCATION` names, else as the fixed offset of its
//! standard rule (other clients' custom zones; daylight saving is lost).

use super::Prop;
use super::problems::LineError;
use crate::model::zones::resolve_zone;
use crate::schedule::recurrence::{IcalTime, parse_ical_time};
use chrono::Duration;
use chrono_tz::Tz;

/// A zone named by a `TZID`: IANA or Windows names, or a prefixed IANA name.
pub(super) fn zone_named(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"');
    resolve_zone(name).or_else(|| {
        name.match_indices('/')
            .find_map(|(at, _)| name.get(at + 1..).and_then(resolve_zone))
    })
}

/// What one `VTIMEZONE` component says.
#[derive(Debug, Default)]
pub(super) struct ZoneDefinition {
    tzid: Option<String>,
    location: Option<Tz>,
    standard_offset: Option<i32>,
    first_offset: Option<i32>,
}

impl ZoneDefinition {
    /// Takes in one property met inside the component (`depth` is the open
    /// components, innermost last).
    pub(super) fn read(&mut self, depth: &[(String, usize)], prop: &Prop<'_>) {
        let innermost = depth.last().map(|(name, _)| name.as_str());
        match (innermost, prop.name.as_str()) {
            (Some("VTIMEZONE"), "TZID") => self.tzid = Some(prop.value.trim().to_owned()),
            (Some("VTIMEZONE"), "X-LIC-LOCATION") => self.location = zone_named(&prop.value),
            (Some(rule @ ("STANDARD" | "DAYLIGHT")), "TZOFFSETTO") => {
                let offset = parse_offset(&prop.value);
                if rule == "STANDARD" && self.standard_offset.is_none() {
                    self.standard_offset = offset;
                }
                if self.first_offset.is_none() {
                    self.first_offset = offset;
                }
            }
            _ => {}
        }
    }
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

    fn definition(&self, tzid: &str) -> Option<&ZoneDefinition> {
        let tzid = tzid.trim().trim_matches('"');
        self.defined
            .iter()
            .find(|definition| definition.tzid.as_deref() == Some(tzid))
    }

    /// The IANA zone a `TZID` stands for, by its name or its `VTIMEZONE`'s location.
    pub(super) fn named(&self, tzid: &str) -> Option<Tz> {
        zone_named(tzid).or_else(|| self.definition(tzid).and_then(|d| d.location))
    }

    /// A date or date-time value, in `tzid` when given, and the IANA zone it lives in.
    pub(super) fn read(
        &self,
        value: &str,
        tzid: Option<&str>,
        is_date: bool,
    ) -> Result<(IcalTime, Option<Tz>), LineError> {
        let Some(name) = tzid else {
            return Ok((parse_ical_time(value, self.default, is_date)?, None));
        };
        if let Some(zone) = self.named(name) {
            return Ok((parse_ical_time(value, zone, is_date)?, Some(zone)));
        }
        let offset = self
            .definition(name)
            .and_then(|d| d.standard_offset.or(d.first_offset))
            .ok_or_else(|| LineError::UnknownZone(name.to_owned()))?;
        let time = match parse_ical_time(value, Tz::UTC, is_date)? {
            IcalTime::Zoned(local, _) => {
                IcalTime::Utc((local - Duration::seconds(i64::from(offset))).and_utc())
            }
            other => other,
        };
        Ok((time, None))
    }
}

/// `+HHMM[SS]` in seconds east of UTC.
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
    let seconds = number(0)? * 3600 + number(2)? * 60 + number(4).unwrap_or(0);
    Some(sign * seconds)
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
}
