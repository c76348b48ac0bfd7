//! Time-zone names as calendars send them: IANA names, and the Windows names
//! Outlook uses, mapped to IANA through CLDR's table.

use chrono_tz::Tz;
use windows_timezones::WindowsTimezone;

/// The zone called `name`: an IANA name (`Europe/Berlin`), or a Windows name
/// (`W. Europe Standard Time`) mapped through CLDR's windowsZones table.
pub fn resolve_zone(name: &str) -> Option<Tz> {
    let name = name.trim();
    if let Ok(zone) = name.parse::<Tz>() {
        return Some(zone);
    }
    name.parse::<WindowsTimezone>().ok().map(Tz::from)
}

/// The IANA zone `name` names, as every zone an app gives is read (an
/// event's `timeZone`, a suggestion's `constraints.timeZone`): the zone
/// providers store with events, so one rule for every such field.
///
/// # Errors
/// `field` does not name an IANA zone.
pub fn iana_zone(field: &str, name: &str) -> Result<Tz, crate::model::ValidationError> {
    name.parse::<Tz>().map_err(|_| {
        crate::model::ValidationError::new(
            field,
            format!("{name:?} is not an IANA time zone name (like Europe/Berlin)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_resolve_to_themselves() {
        assert_eq!(resolve_zone("Europe/Berlin"), Some(Tz::Europe__Berlin));
        assert_eq!(resolve_zone(" UTC "), Some(Tz::UTC));
    }

    #[test]
    fn windows_names_map_through_cldr() {
        assert_eq!(
            resolve_zone("W. Europe Standard Time"),
            Some(Tz::Europe__Berlin)
        );
        assert_eq!(
            resolve_zone("Eastern Standard Time"),
            Some(Tz::America__New_York)
        );
        assert_eq!(resolve_zone("Tokyo Standard Time"), Some(Tz::Asia__Tokyo));
    }

    #[test]
    fn unknown_names_are_none() {
        assert_eq!(resolve_zone("Mars/Olympus_Mons"), None);
        assert_eq!(resolve_zone(""), None);
    }
}
