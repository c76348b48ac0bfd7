//! What an import commits: the events of .ics files turned into the events
//! calsync commits, each with the key that makes committing it repeatable.
//!
//! A recurring series whose instances were moved or cancelled (`RECURRENCE-ID`
//! overrides) becomes the series with those instances excluded (`EXDATE`)
//! plus each moved instance as an event of its own; cancelled events are not
//! imported.

use crate::model::{Attendee, EventDetails, EventTime};
use crate::schedule::EventStatus;
use crate::schedule::ics::{IcsEvent, IcsOptions, read_ics};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One event to import.
#[derive(Clone, Debug)]
pub struct Item {
    /// Where it came from, for messages (`file.ics UID`).
    pub label: String,
    /// The repeatable-commit key: the same event imports under the same key.
    pub key: String,
    /// What is committed.
    pub details: EventDetails,
}

/// What reading the files gave.
#[derive(Debug, Default)]
pub struct Plan {
    /// The events to commit.
    pub items: Vec<Item>,
    /// Lines or events that could not be read (`file:line: message`).
    pub problems: Vec<String>,
    /// Events left out on purpose (cancelled), with why.
    pub left_out: usize,
}

/// The .ics files at `path`: the file itself, or a folder's `.ics` files
/// (not recursing), in name order.
///
/// # Errors
/// `path` cannot be read, or a folder holds no .ics file.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| format!("{shown}: {e}"))? {
        let entry = entry.map_err(|e| format!("{shown}: {e}"))?;
        let file = entry.path();
        let is_ics = file
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("ics"));
        if is_ics && file.is_file() {
            found.push(file);
        }
    }
    if found.is_empty() {
        return Err(format!("{shown}: the folder holds no .ics file"));
    }
    found.sort();
    Ok(found)
}

/// Reads every file into one plan.
///
/// # Errors
/// A file cannot be read (it is named).
pub fn read(files: &[PathBuf]) -> Result<Plan, String> {
    let mut plan = Plan::default();
    for file in files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| format!("{shown}: {e}"))?;
        let (events, problems) = read_ics(&text, &IcsOptions::default());
        plan.problems.extend(
            problems
                .into_iter()
                .map(|problem| format!("{shown}:{}: {}", problem.line, problem.message)),
        );
        add_file(&mut plan, &shown, events);
    }
    Ok(plan)
}

fn add_file(plan: &mut Plan, file: &str, events: Vec<IcsEvent>) {
    let (overrides, mut masters): (Vec<IcsEvent>, Vec<IcsEvent>) = events
        .into_iter()
        .partition(|read| read.event.recurrence_id.is_some());
    for moved in &overrides {
        let series = masters
            .iter_mut()
            .find(|master| master.event.uid.is_some() && master.event.uid == moved.event.uid);
        if let (Some(series), Some(instance)) = (series, moved.event.recurrence_id) {
            series.event.recurrence.push(exdate(instance));
        }
    }
    for read in masters.into_iter().chain(overrides) {
        if read.event.status == EventStatus::Cancelled {
            plan.left_out += 1;
            continue;
        }
        let key = key_of(&read);
        let label = format!(
            "{file} {}",
            read.event.uid.as_deref().unwrap_or(&read.event.event_id)
        );
        plan.items.push(Item {
            label,
            key,
            details: details(read),
        });
    }
}

/// `EXDATE` for one instance of a series.
fn exdate(instance: EventTime) -> String {
    match instance {
        EventTime::Date(date) => format!("EXDATE;VALUE=DATE:{}", date.format("%Y%m%d")),
        EventTime::Instant(at) => format!("EXDATE:{}", at.format("%Y%m%dT%H%M%SZ")),
    }
}

/// `import:UID` (`import:UID/instance` for a moved instance); an event
/// without UID is keyed by its contents.
fn key_of(read: &IcsEvent) -> String {
    let event = &read.event;
    let base = match &event.uid {
        Some(uid) => uid.clone(),
        None => {
            let text = format!("{}\0{}\0{}", event.title, event.start, event.end);
            let digest = Sha256::digest(text.as_bytes());
            let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
            format!("no-uid-{hex}")
        }
    };
    match event.recurrence_id {
        Some(instance) => format!("import:{base}/{instance}"),
        None => format!("import:{base}"),
    }
}

fn details(read: IcsEvent) -> EventDetails {
    let IcsEvent {
        event,
        description,
        location,
        attendees,
    } = read;
    let all_day = matches!(event.start, EventTime::Date(_));
    // A series needs a zone to expand in; a UTC series is expanded in UTC.
    let time_zone = match event.time_zone {
        Some(zone) if !all_day => Some(zone),
        _ if !all_day && !event.recurrence.is_empty() => Some("UTC".to_owned()),
        _ => None,
    };
    EventDetails {
        title: if event.title.trim().is_empty() {
            "(no title)".to_owned()
        } else {
            event.title
        },
        start: event.start,
        end: event.end,
        time_zone,
        all_day,
        location,
        description,
        attendees: attendees
            .into_iter()
            .filter(|address| address.contains('@'))
            .map(|email| Attendee {
                email,
                optional: false,
            })
            .collect(),
        recurrence: event.recurrence,
        transparency: event.transparency,
        virtual_meeting: false,
    }
}
