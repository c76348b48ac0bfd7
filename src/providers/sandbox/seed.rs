//! Existing events for a sandbox calendar, from iCalendar or JSON text.

use crate::model::ValidationError;
use crate::schedule::ProviderEvent;
use crate::schedule::ics::{IcsProblem, events_from_ics};
use serde_json::Value;

/// Events read from seed text, and the lines that could not be used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeedEvents {
    /// The events.
    pub events: Vec<ProviderEvent>,
    /// iCalendar lines that were skipped, and why.
    pub problems: Vec<IcsProblem>,
}

/// Reads seed text: a JSON array of events (the `ProviderEvent` wire format),
/// a JSON object with an `events` array, or iCalendar (`BEGIN:VCALENDAR`).
/// Bad iCalendar lines are reported and skipped; bad JSON is refused whole.
///
/// # Errors
/// JSON that is not events (naming the first bad field), or text that is
/// neither JSON nor iCalendar.
pub fn read_seed(text: &str) -> Result<SeedEvents, ValidationError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let value: Value = serde_json::from_str(trimmed)
            .map_err(|error| ValidationError::new("events", format!("not valid JSON: {error}")))?;
        let list = match value {
            Value::Object(mut object) => object.remove("events").ok_or_else(|| {
                ValidationError::new("events", "a JSON object must hold an \"events\" array")
            })?,
            list => list,
        };
        let events = serde_json::from_value(list)
            .map_err(|error| ValidationError::new("events", error.to_string()))?;
        return Ok(SeedEvents {
            events,
            problems: Vec::new(),
        });
    }
    if !trimmed.to_ascii_uppercase().starts_with("BEGIN:VCALENDAR") {
        return Err(ValidationError::new(
            "events",
            "expected iCalendar (BEGIN:VCALENDAR) or JSON events",
        ));
    }
    let (events, problems) = events_from_ics(trimmed);
    Ok(SeedEvents { events, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arrays_objects_and_icalendar_are_read() {
        let json =
            r#"[{"eventId": "a", "start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}]"#;
        assert_eq!(read_seed(json).expect("array").events.len(), 1);
        let object = format!(r#"{{"events": {json}}}"#);
        assert_eq!(read_seed(&object).expect("object").events.len(), 1);
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x@y\r\nDTSTART:20261201T140000Z\r\nDTEND:20261201T150000Z\r\nSUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let seeded = read_seed(ics).expect("ics");
        assert_eq!(seeded.events.len(), 1);
        assert_eq!(seeded.events[0].title, "Busy");
    }

    #[test]
    fn bad_seed_text_names_the_rule() {
        let error = read_seed(r#"[{"eventId": 3}]"#).expect_err("bad json");
        assert_eq!(error.field, "events");
        let error = read_seed("hello").expect_err("neither");
        assert!(error.rule.contains("iCalendar"));
        let error = read_seed(r#"{"items": []}"#).expect_err("no events");
        assert!(error.rule.contains("events"));
    }
}
