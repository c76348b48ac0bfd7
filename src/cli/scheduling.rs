//! `calsync conflicts` and `calsync suggest`: the scheduling engine on
//! calendar exports. Each .ics file stands for one account (named after the
//! file); unreadable lines are reported as `file:line: message` and the rest
//! of the file is still used; a file that cannot be read at all makes its
//! account "unknown" rather than free.

use crate::model::{
    AccountId, DraftConstraints, DraftEvent, DraftId, EventDetails, EventId, UnknownAccount,
};
use crate::schedule::ics::{events_from_ics, rfc3339};
use crate::schedule::{
    AccountCalendar, AttendeeAvailability, BusyIndex, BusySpan, DayHours, SuggestConstraints,
    SuggestError, Work, WorkingHours, detection_window, find_conflicts, resolve_zone, suggest,
    suggestion_window,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A command-line failure, said in words a person can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

/// The draft to check, as flags.
#[derive(Clone, Debug, clap::Args)]
pub struct DraftArgs {
    /// Start: RFC 3339 (2025-01-07T14:00:00-05:00) or local time in --zone (2025-01-07T14:00).
    #[arg(long)]
    pub start: String,
    /// End (exclusive), in the same forms as --start.
    #[arg(long)]
    pub end: String,
    /// The draft's zone (IANA or Windows name); all-day days and working hours are read in it.
    #[arg(long, default_value = "UTC")]
    pub zone: String,
    /// Free minutes wanted before the draft.
    #[arg(long, default_value_t = 0)]
    pub buffer_before: u32,
    /// Free minutes wanted after the draft.
    #[arg(long, default_value_t = 0)]
    pub buffer_after: u32,
    /// Minutes of travel to and from the draft.
    #[arg(long, default_value_t = 0)]
    pub travel_time: u32,
    /// The X-CALSYNC-ID of the event being rescheduled (it never conflicts with itself).
    #[arg(long)]
    pub event_id: Option<String>,
}

/// `calsync conflicts`: which existing occurrences a draft conflicts with.
#[derive(Clone, Debug, clap::Args)]
pub struct ConflictsArgs {
    /// .ics files, one per account.
    #[arg(required = true)]
    pub calendars: Vec<PathBuf>,
    /// The draft.
    #[command(flatten)]
    pub draft: DraftArgs,
    /// Print JSON instead of lines of text.
    #[arg(long)]
    pub json: bool,
}

/// `calsync suggest`: ranked alternative times for a draft.
#[derive(Clone, Debug, clap::Args)]
pub struct SuggestArgs {
    /// .ics files, one per account.
    #[arg(required = true)]
    pub calendars: Vec<PathBuf>,
    /// The draft.
    #[command(flatten)]
    pub draft: DraftArgs,
    /// Working hours Monday to Friday, HH:MM-HH:MM.
    #[arg(long, default_value = "09:00-17:00")]
    pub working_hours: String,
    /// How many days after the draft's day to look.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Only the draft's own day.
    #[arg(long)]
    pub same_day_only: bool,
    /// Saturdays and Sundays too (with the same hours).
    #[arg(long)]
    pub weekends: bool,
    /// Minutes between candidate starts.
    #[arg(long, default_value_t = 15)]
    pub granularity: u32,
    /// How many suggestions.
    #[arg(long, default_value_t = 5)]
    pub limit: u32,
    /// A required attendee's calendar (.ics); repeatable.
    #[arg(long = "attendee")]
    pub attendees: Vec<PathBuf>,
    /// An optional attendee's calendar (.ics); repeatable.
    #[arg(long = "optional-attendee")]
    pub optional_attendees: Vec<PathBuf>,
    /// Propose nothing before this instant (RFC 3339; default: the current time).
    #[arg(long)]
    pub now: Option<String>,
    /// Print JSON instead of lines of text.
    #[arg(long)]
    pub json: bool,
}

/// What reading the calendar files gave.
struct Loaded {
    calendars: Vec<AccountCalendar>,
    problems: Vec<Value>,
    unknown: Vec<UnknownAccount>,
}

fn account_name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn load(paths: &[PathBuf], err: &mut impl Write) -> Loaded {
    let mut loaded = Loaded {
        calendars: Vec::new(),
        problems: Vec::new(),
        unknown: Vec::new(),
    };
    for path in paths {
        let account = AccountId(account_name(path));
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let (events, problems) = events_from_ics(&text);
                for problem in problems {
                    let _ = writeln!(
                        err,
                        "{}:{}: {}",
                        path.display(),
                        problem.line,
                        problem.message
                    );
                    loaded.problems.push(json!({"file": path.display().to_string(), "line": problem.line, "message": problem.message}));
                }
                loaded.calendars.push(AccountCalendar { account, events });
            }
            Err(error) => {
                let _ = writeln!(
                    err,
                    "{}: cannot be read ({error}); its busy time is unknown",
                    path.display()
                );
                loaded.unknown.push(UnknownAccount {
                    account,
                    reason: error.to_string(),
                });
            }
        }
    }
    loaded
}

fn parse_time(text: &str, zone: Tz, flag: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|local| crate::schedule::recurrence::local_to_utc(local, zone))
        .ok_or_else(|| {
            CliError(format!(
                "--{flag}: {text:?} is neither RFC 3339 nor a local time YYYY-MM-DDTHH:MM"
            ))
        })
}

fn build_draft(args: &DraftArgs) -> Result<(DraftEvent, Tz), CliError> {
    let zone = resolve_zone(&args.zone).ok_or_else(|| {
        CliError(format!(
            "--zone: {:?} is not an IANA or Windows time zone name",
            args.zone
        ))
    })?;
    let start = parse_time(&args.start, zone, "start")?;
    let end = parse_time(&args.end, zone, "end")?;
    let mut event = EventDetails::timed("draft", start, end);
    event.time_zone = Some(zone.name().to_owned());
    let draft = DraftEvent {
        id: DraftId::from("cli"),
        event_id: args.event_id.clone().map(EventId),
        event,
        constraints: DraftConstraints {
            buffer_before: args.buffer_before,
            buffer_after: args.buffer_after,
            travel_time: args.travel_time,
        },
    };
    draft
        .validate()
        .map_err(|error| CliError(format!("draft: {error}")))?;
    Ok((draft, zone))
}

fn index_for(
    loaded: &Loaded,
    window: (DateTime<Utc>, DateTime<Utc>),
    zone: Tz,
    work: &mut Work,
    err: &mut impl Write,
) -> Result<(BusyIndex, Vec<Value>), CliError> {
    let (index, problems) = BusyIndex::build(&loaded.calendars, window.0, window.1, zone, work)
        .map_err(|spent| CliError(format!("reading the calendars: {spent}")))?;
    let problems = problems
        .into_iter()
        .map(|p| {
            let _ = writeln!(err, "{}: event {}: {}", p.account, p.event_id, p.message);
            json!({"account": p.account, "eventId": p.event_id, "message": p.message})
        })
        .collect();
    Ok((index, problems))
}

fn write_json(out: &mut impl Write, value: &Value) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| CliError(e.to_string()))?;
    writeln!(out).map_err(|e| CliError(e.to_string()))
}

/// Runs `calsync conflicts`: prints each conflicting occurrence (by UID, with
/// its own start and end in UTC), then problems and unknown accounts.
///
/// # Errors
/// A bad flag, or output that cannot be written.
pub fn run_conflicts(
    args: &ConflictsArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), CliError> {
    let (draft, zone) = build_draft(&args.draft)?;
    let loaded = load(&args.calendars, err);
    let (index, mut problems) = index_for(
        &loaded,
        detection_window(&draft),
        zone,
        &mut Work::default(),
        err,
    )?;
    problems.extend(loaded.problems.iter().cloned());
    let window = detection_window(&draft);
    let found = index.overlapping(window.0, window.1);
    let conflicts: Vec<Value> = find_conflicts(&index, &draft)
        .into_iter()
        .flat_map(|c| {
            let found = &found;
            c.existing.into_iter().map(move |e| {
                let span = found.iter().find(|o| o.existing == e).map(|o| (rfc3339(o.start), rfc3339(o.end)));
                let (start, end) = span.unwrap_or_else(|| (e.start.to_string(), e.end.to_string()));
                json!({"reason": c.reason, "buffer": c.buffer, "uid": e.uid, "eventId": e.event_id,
                       "account": e.account, "title": e.title, "allDay": e.all_day, "start": start, "end": end})
            })
        })
        .collect();
    if args.json {
        return write_json(
            out,
            &json!({"conflicts": conflicts, "problems": problems, "unknownAccounts": loaded.unknown}),
        );
    }
    let write = |out: &mut dyn Write, line: String| {
        writeln!(out, "{line}").map_err(|e| CliError(e.to_string()))
    };
    if conflicts.is_empty() {
        // With an account unread, "no conflicts" would read as "free".
        let line = if loaded.unknown.is_empty() {
            "no conflicts"
        } else {
            "no conflicts on the calendars that could be read"
        };
        write(out, line.into())?;
    }
    for c in &conflicts {
        let reason = c["buffer"].as_str().map_or_else(
            || c["reason"].as_str().unwrap_or_default().to_owned(),
            |b| format!("{} ({b})", c["reason"].as_str().unwrap_or_default()),
        );
        write(
            out,
            format!(
                "{reason}: {} {} - {} [{}] {}",
                c["uid"].as_str().unwrap_or("-"),
                c["start"].as_str().unwrap_or_default(),
                c["end"].as_str().unwrap_or_default(),
                c["account"].as_str().unwrap_or_default(),
                c["title"].as_str().unwrap_or_default()
            ),
        )?;
    }
    for u in &loaded.unknown {
        write(
            out,
            format!("unknown: account {} could not be read", u.account),
        )?;
    }
    Ok(())
}

fn working_hours(text: &str) -> Result<WorkingHours, CliError> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| CliError(format!("--working-hours: {text:?} is not HH:MM-HH:MM")))?;
    let day = Some(DayHours {
        start: start.trim().to_owned(),
        end: end.trim().to_owned(),
    });
    Ok(WorkingHours {
        mon: day.clone(),
        tue: day.clone(),
        wed: day.clone(),
        thu: day.clone(),
        fri: day.clone(),
        sat: day.clone(),
        sun: day,
    })
}

fn attendee(
    path: &Path,
    optional: bool,
    window: (DateTime<Utc>, DateTime<Utc>),
    zone: Tz,
    err: &mut impl Write,
) -> Result<AttendeeAvailability, CliError> {
    let loaded = load(std::slice::from_ref(&path.to_path_buf()), err);
    let (index, _) = index_for(&loaded, window, zone, &mut Work::default(), err)?;
    Ok(AttendeeAvailability {
        email: account_name(path),
        optional,
        busy: index
            .occurrences()
            .filter(|o| o.end > o.start)
            .map(|o| BusySpan {
                start: o.start,
                end: o.end,
            })
            .collect(),
    })
}

/// The flag a constraint field came from, so the error names what was typed.
fn flag_for(field: &str) -> &'static str {
    let name = field.strip_prefix("constraints.").unwrap_or(field);
    match name.split(['.', '[']).next().unwrap_or(name) {
        "workingHours" => "--working-hours",
        "granularity" => "--granularity",
        "limit" => "--limit",
        "maxDays" => "--days",
        "attendees" => "--attendee",
        _ => "constraint",
    }
}

/// Runs `calsync suggest`: prints ranked alternatives with their scores.
///
/// # Errors
/// A bad flag or constraint, or output that cannot be written.
pub fn run_suggest(
    args: &SuggestArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), CliError> {
    let (draft, zone) = build_draft(&args.draft)?;
    let now = match &args.now {
        Some(text) => parse_time(text, zone, "now")?,
        None => Utc::now(),
    };
    let mut constraints = SuggestConstraints {
        working_hours: Some(working_hours(&args.working_hours)?),
        max_days: Some(args.days),
        same_day_only: Some(args.same_day_only),
        allow_weekends: Some(args.weekends),
        granularity: Some(args.granularity),
        limit: Some(args.limit),
        ..SuggestConstraints::default()
    };
    let window = suggestion_window(&draft, &constraints);
    for (paths, optional) in [(&args.attendees, false), (&args.optional_attendees, true)] {
        for path in paths {
            constraints
                .attendees
                .push(attendee(path, optional, window, zone, err)?);
        }
    }
    let loaded = load(&args.calendars, err);
    let mut work = Work::default();
    let (index, mut problems) = index_for(&loaded, window, zone, &mut work, err)?;
    problems.extend(loaded.problems.iter().cloned());
    let suggestions =
        suggest(&index, &draft, &constraints, now, &mut work).map_err(|e| match e {
            SuggestError::Invalid(e) => {
                CliError(format!("{}: {} ({})", flag_for(&e.field), e.rule, e.field))
            }
            SuggestError::Work(why) => CliError(format!("weighing the attendees: {why}")),
        })?;
    if args.json {
        let list: Vec<Value> = suggestions
            .iter()
            .map(|s| json!({"start": rfc3339(s.start), "end": rfc3339(s.end), "score": s.score, "scoreParts": s.score_parts}))
            .collect();
        return write_json(
            out,
            &json!({"suggestions": list, "problems": problems, "unknownAccounts": loaded.unknown}),
        );
    }
    for (rank, s) in suggestions.iter().enumerate() {
        let p = s.score_parts;
        writeln!(out, "{}. {} - {} ({}) score {:.3} [proximity {:.2}, time of day {:.2}, attendees {:.2}, preferences {:.2}]",
            rank + 1, rfc3339(s.start), rfc3339(s.end), s.start.with_timezone(&zone).format("%a %H:%M %Z"),
            s.score, p.proximity, p.time_of_day, p.attendees, p.preferences)
            .map_err(|e| CliError(e.to_string()))?;
    }
    for u in &loaded.unknown {
        writeln!(
            out,
            "unknown: account {} could not be read; its busy time was not checked",
            u.account
        )
        .map_err(|e| CliError(e.to_string()))?;
    }
    Ok(())
}
