//! The components of an iCalendar file, walked line by line within the
//! limits of `limits`: the `VEVENT`s' properties kept for later, the
//! `VTIMEZONE`s read, and every line or component that cannot be used
//! reported where it stands.

use super::limits::{IcsWork, MAX_COMPONENTS, MAX_DEPTH, MAX_LINES, MAX_PROPERTIES, MAX_ZONES};
use super::lines::{ContentLine, Prop, Unfold, parse_prop};
use super::problems::{LineError, ProblemList};
use super::zones::{ZoneDefinition, zone_named};
use chrono_tz::Tz;

/// One `VEVENT`'s properties, where it began, and how many problems were
/// found before its `END` (to list its own problems after those).
pub(super) struct RawEvent<'a> {
    pub(super) props: Vec<Prop<'a>>,
    pub(super) begin: usize,
    pub(super) problems_before: usize,
}

/// What the walk found.
pub(super) struct Walked<'a> {
    pub(super) events: Vec<RawEvent<'a>>,
    pub(super) zones: Vec<ZoneDefinition>,
    /// `X-WR-TIMEZONE`, else UTC.
    pub(super) default_zone: Tz,
    pub(super) problems: ProblemList,
    pub(super) work: IcsWork,
}

/// A component begun and not yet ended.
struct Open<'a> {
    name: String,
    begin: usize,
    /// A `VEVENT`'s properties.
    props: Vec<Prop<'a>>,
    /// The `VTIMEZONE` it is or belongs to, by its place in `zones`.
    zone: Option<usize>,
    /// Whether [`MAX_PROPERTIES`] was reported for it.
    full: bool,
}

struct Walker<'a> {
    walked: Walked<'a>,
    open: Vec<Open<'a>>,
    /// How deep inside a component that is left out the walk is (0: none).
    skipping: usize,
    /// Whether [`MAX_COMPONENTS`] was reported.
    components_reported: bool,
}

/// Walks `text`'s components.
pub(super) fn walk(text: &str) -> Walked<'_> {
    let mut walker = Walker {
        walked: Walked {
            events: Vec::new(),
            zones: Vec::new(),
            default_zone: Tz::UTC,
            problems: ProblemList::default(),
            work: IcsWork::default(),
        },
        open: Vec::new(),
        skipping: 0,
        components_reported: false,
    };
    for line in Unfold::new(text) {
        if walker.walked.work.lines == MAX_LINES {
            let message = format!(
                "the file has more than {MAX_LINES} content lines (MAX_LINES); \
                 the rest of it is left out"
            );
            walker.walked.problems.say(line.number, message);
            break;
        }
        walker.walked.work.lines += 1;
        walker.line(line);
    }
    walker.finish()
}

impl<'a> Walker<'a> {
    fn line(&mut self, line: ContentLine<'a>) {
        if self.skipping > 0 {
            match line.delimiter() {
                Some("BEGIN") => self.skipping = self.skipping.saturating_add(1),
                Some(_) => self.skipping -= 1,
                None => {}
            }
            return;
        }
        let number = line.number;
        let prop = match parse_prop(line) {
            Ok(prop) => prop,
            Err(error) => return self.walked.problems.at(number, &error),
        };
        match prop.name.as_str() {
            "BEGIN" => self.begin(&prop),
            "END" => self.end(&prop),
            "X-WR-TIMEZONE" if self.open.len() == 1 => match zone_named(&prop.value) {
                Some(zone) => self.walked.default_zone = zone,
                None => self
                    .walked
                    .problems
                    .at(prop.line, &LineError::UnknownZone(prop.value.clone())),
            },
            _ => self.property(prop),
        }
    }

    /// Leaves out the component begun on `line` and all it holds.
    fn leave_out(&mut self, line: usize, message: String) {
        self.walked.problems.say(line, message);
        self.skipping = 1;
    }

    /// Whether a component named `name` begun on `line` is beyond
    /// [`MAX_DEPTH`] or [`MAX_COMPONENTS`]: then it is left out.
    fn beyond_limits(&mut self, name: &str, line: usize) -> bool {
        if self.open.len() >= MAX_DEPTH {
            let message = format!(
                "BEGIN:{name} is nested more than {MAX_DEPTH} deep (MAX_DEPTH); \
                 it is left out with all it holds"
            );
            self.leave_out(line, message);
            return true;
        }
        if self.walked.work.components < MAX_COMPONENTS {
            return false;
        }
        if self.components_reported {
            self.skipping = 1;
        } else {
            self.components_reported = true;
            let message = format!(
                "the file has more than {MAX_COMPONENTS} components (MAX_COMPONENTS); \
                 this one and all later ones are left out"
            );
            self.leave_out(line, message);
        }
        true
    }

    fn begin(&mut self, prop: &Prop<'a>) {
        let name = prop.value.trim().to_ascii_uppercase();
        if self.beyond_limits(&name, prop.line) {
            return;
        }
        // A VEVENT holds no VEVENT (RFC 5545 §3.6.1): one begun inside
        // another means the other was never closed.
        if name == "VEVENT"
            && let Some(outer) = self.open.iter().rposition(|open| open.name == "VEVENT")
        {
            for unclosed in self.open.drain(outer..) {
                let message = format!(
                    "BEGIN:{} is not closed before the BEGIN:VEVENT at line {}; \
                     it is left out",
                    unclosed.name, prop.line
                );
                self.walked.problems.say(unclosed.begin, message);
            }
        }
        let parent_zone = self
            .open
            .last()
            .filter(|parent| parent.name == "VTIMEZONE")
            .and_then(|parent| parent.zone);
        let zone = match name.as_str() {
            "VTIMEZONE" if self.walked.zones.len() >= MAX_ZONES => {
                let message = format!(
                    "the file has more than {MAX_ZONES} VTIMEZONE components (MAX_ZONES); \
                     this one is left out"
                );
                return self.leave_out(prop.line, message);
            }
            "VTIMEZONE" => {
                self.walked.zones.push(ZoneDefinition::new());
                Some(self.walked.zones.len() - 1)
            }
            "STANDARD" | "DAYLIGHT" => parent_zone.inspect(|&at| {
                let kind = if name == "STANDARD" {
                    "STANDARD"
                } else {
                    "DAYLIGHT"
                };
                if let Some(zone) = self.walked.zones.get_mut(at) {
                    zone.begin_observance(kind, prop.line);
                }
            }),
            _ => None,
        };
        self.walked.work.components += 1;
        self.open.push(Open {
            name,
            begin: prop.line,
            props: Vec::new(),
            zone,
            full: false,
        });
        self.walked.work.deepest = self.walked.work.deepest.max(self.open.len());
    }

    fn end(&mut self, prop: &Prop<'a>) {
        let name = prop.value.trim().to_ascii_uppercase();
        let Some(at) = self.open.iter().rposition(|open| open.name == name) else {
            let message = format!("END:{name} closes nothing");
            return self.walked.problems.say(prop.line, message);
        };
        for unclosed in self.open.drain(at + 1..) {
            let message = format!("BEGIN:{} is never closed; it is left out", unclosed.name);
            self.walked.problems.say(unclosed.begin, message);
        }
        let Some(closed) = self.open.pop() else {
            return;
        };
        match (closed.name.as_str(), closed.zone) {
            ("VEVENT", _) => self.walked.events.push(RawEvent {
                props: closed.props,
                begin: closed.begin,
                problems_before: self.walked.problems.len(),
            }),
            ("VTIMEZONE", Some(zone)) => {
                if let Some(zone) = self.walked.zones.get_mut(zone) {
                    self.walked.work.zone_changes += zone.close(&mut self.walked.problems);
                }
            }
            _ => {}
        }
    }

    fn property(&mut self, prop: Prop<'a>) {
        let Some(open) = self.open.last_mut() else {
            return;
        };
        let zone = open.zone.and_then(|at| self.walked.zones.get_mut(at));
        match (open.name.as_str(), zone) {
            ("VEVENT", _) if open.props.len() < MAX_PROPERTIES => open.props.push(prop),
            ("VEVENT", _) if !open.full => {
                open.full = true;
                let message = format!(
                    "the VEVENT begun at line {} has more than {MAX_PROPERTIES} properties \
                     (MAX_PROPERTIES); the rest of them are left out",
                    open.begin
                );
                self.walked.problems.say(prop.line, message);
            }
            ("VTIMEZONE", Some(zone)) => zone.read(&prop),
            ("STANDARD" | "DAYLIGHT", Some(zone)) => {
                zone.read_observance(&prop, &mut self.walked.problems);
            }
            _ => {}
        }
    }

    fn finish(mut self) -> Walked<'a> {
        for unclosed in self.open {
            let message = format!("BEGIN:{} is never closed; it is left out", unclosed.name);
            self.walked.problems.say(unclosed.begin, message);
        }
        self.walked
    }
}
