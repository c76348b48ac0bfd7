//! iCalendar text from the `icalendar` crate's model that holds exactly the
//! properties each component has.
//!
//! The crate's own `to_string` gives every component lacking them a fresh
//! `DTSTAMP` and a random `UID`: a VTIMEZONE and its STANDARD/DAYLIGHT
//! rules, a VALARM, any component a server sent. RFC 5545 allows neither
//! there (§3.6.5, §3.6.6), and strict servers such as iCloud reject or
//! mangle such objects. The crate still writes every property (escaping,
//! parameter quoting, line folding); only the BEGIN/END framing is here, and
//! the quotes the crate leaves off a parameter value holding a comma.

use icalendar::{Calendar, CalendarComponent, Component, Parameter, Property};

/// Why a calendar cannot be written as text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// A component of a kind the `icalendar` crate added after this was written.
    #[error("the calendar holds a component of an unknown kind")]
    UnknownComponent,
    /// A property the crate cannot write as a content line.
    #[error("the {0} property could not be written")]
    Property(String),
}

/// `calendar` as iCalendar text, each component with only its own properties.
///
/// # Errors
/// [`WriteError`]: a component or property that cannot be written.
pub fn calendar_text(calendar: &Calendar) -> Result<String, WriteError> {
    let mut out = String::from("BEGIN:VCALENDAR\r\n");
    for property in &calendar.properties {
        write_property(&mut out, property)?;
    }
    for component in &calendar.components {
        match component {
            CalendarComponent::Event(event) => write_component(&mut out, event)?,
            CalendarComponent::Todo(todo) => write_component(&mut out, todo)?,
            CalendarComponent::Venue(venue) => write_component(&mut out, venue)?,
            CalendarComponent::Other(other) => write_component(&mut out, other)?,
            _ => return Err(WriteError::UnknownComponent),
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    Ok(out)
}

fn write_component(out: &mut String, component: &impl Component) -> Result<(), WriteError> {
    let kind = component.component_kind();
    out.push_str(&format!("BEGIN:{kind}\r\n"));
    let multi = component.multi_properties().values().flatten();
    for property in component.properties().values().chain(multi) {
        write_property(out, property)?;
    }
    for child in component.components() {
        write_component(out, child)?;
    }
    out.push_str(&format!("END:{kind}\r\n"));
    Ok(())
}

fn write_property(out: &mut String, property: &Property) -> Result<(), WriteError> {
    let line: String = quote_commas(property)
        .try_into()
        .map_err(|_| WriteError::Property(property.key().to_owned()))?;
    out.push_str(&line);
    Ok(())
}

/// `property` with quotes around each parameter value holding a comma
/// (`CN="Doe, John"`; unquoted it reads as two values, RFC 5545 §3.2). The
/// crate's parser drops the quotes and its writer puts them back only for a
/// colon or semicolon, so those values are left to it.
fn quote_commas(property: &Property) -> Property {
    let mut quoted = property.clone();
    for parameter in property.params().values() {
        let value = parameter.value();
        if value.contains(',') && !value.contains([':', ';', '"']) {
            quoted.append_parameter(Parameter::new(parameter.key(), &format!("\"{value}\"")));
        }
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's copy with components calsync does not own and text that
    /// needs escaping and quoting.
    const SERVER_COPY: &str = "BEGIN:VCALENDAR\r\n\
        PRODID:-//Other//Client//EN\r\n\
        VERSION:2.0\r\n\
        BEGIN:VTIMEZONE\r\n\
        TZID:Europe/Berlin\r\n\
        BEGIN:DAYLIGHT\r\n\
        DTSTART:19700329T020000\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
        TZNAME:CEST\r\n\
        TZOFFSETFROM:+0100\r\n\
        TZOFFSETTO:+0200\r\n\
        END:DAYLIGHT\r\n\
        END:VTIMEZONE\r\n\
        BEGIN:VEVENT\r\n\
        ATTENDEE;CN=\"Doe, John\";PARTSTAT=ACCEPTED:mailto:john@example.com\r\n\
        DTSTAMP:20250301T080000Z\r\n\
        DTSTART;TZID=Europe/Berlin:20250304T100000\r\n\
        SUMMARY:Lunch\\, then a walk\\; bring shoes\\nand water\r\n\
        UID:uid-7\r\n\
        BEGIN:VALARM\r\n\
        ACTION:DISPLAY\r\n\
        DESCRIPTION:Soon\\, really\r\n\
        TRIGGER:-PT5M\r\n\
        END:VALARM\r\n\
        END:VEVENT\r\n\
        END:VCALENDAR\r\n";

    fn lines_starting(text: &str, prefix: &str) -> usize {
        text.lines().filter(|line| line.starts_with(prefix)).count()
    }

    #[test]
    fn components_without_uid_or_dtstamp_are_written_without_them() {
        let calendar: Calendar = SERVER_COPY.parse().expect("parses");
        let text = calendar_text(&calendar).expect("writes");
        assert_eq!(lines_starting(&text, "UID"), 1, "{text}");
        assert_eq!(lines_starting(&text, "DTSTAMP"), 1, "{text}");
        assert!(text.contains("DTSTAMP:20250301T080000Z\r\n"), "{text}");
        assert!(text.contains("UID:uid-7\r\n"), "{text}");
    }

    #[test]
    fn text_values_and_parameters_are_written_back_as_they_came() {
        let calendar: Calendar = SERVER_COPY.parse().expect("parses");
        let text = calendar_text(&calendar).expect("writes");
        // Sorted: the crate keeps properties by name, not in their order.
        let mut written: Vec<&str> = text.lines().collect();
        let mut read: Vec<&str> = SERVER_COPY.lines().collect();
        written.sort_unstable();
        read.sort_unstable();
        assert_eq!(written, read);
    }
}
