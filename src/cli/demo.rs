//! `calsync demo`: the operational principle, played on the sandbox providers
//! and the store the options name (by default an embedded file in a
//! temporary directory), built through [`Setup`] as `calsync serve` is.

use super::StoreLocationParser;
use crate::model::{DraftConstraints, DraftEvent, DraftId, EventDetails, Provider, UserId};
use crate::providers::Credentials;
use crate::providers::sandbox::{Sandbox, read_seed};
use crate::schedule::ProviderEvent;
use crate::setup::{ProviderSet, Setup, StoreLocation};
use crate::store::DEFAULT_PREFIX;
use crate::{CalendarSync, Config};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// `calsync demo` options.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// Print one JSON object, keyed by action in the order played.
    #[arg(long)]
    pub json: bool,
    /// Keep the master key, and the store file unless --store says
    /// otherwise, in this directory (default: a temporary one).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The store: a SQLite file path, or a mongodb:// or mongodb+srv:// URI
    /// (feature `mongodb`); default: `calsync.db` in the data directory.
    #[arg(long, value_name = "PATH|URI", value_parser = StoreLocationParser)]
    pub store: Option<StoreLocation>,
    /// The prefix of the store's collections.
    #[arg(long, default_value = DEFAULT_PREFIX)]
    pub prefix: String,
    /// The MongoDB database (default: the one the URI names, else `calsync`).
    #[arg(long)]
    pub database: Option<String>,
    /// The user's time zone (IANA).
    #[arg(long, default_value = "America/New_York")]
    pub zone: String,
    /// Also seed the Google account with the events of this file (.ics, or
    /// JSON events), as a calendar export would bring them.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A bad option.
    #[error("--{0}: {1}")]
    Option(&'static str, String),
    /// An action failed.
    #[error("{0} failed: {1}")]
    Action(&'static str, crate::Error),
    /// Setting up failed.
    #[error("setting up: {0}")]
    Setup(String),
}

/// Plays the principle; answers what to print.
///
/// # Errors
/// A bad option, a failed set-up, or a failed action.
pub async fn run(args: &DemoArgs) -> Result<String, DemoError> {
    let zone: Tz = args
        .zone
        .parse()
        .map_err(|_| DemoError::Option("zone", format!("{:?} is not an IANA zone", args.zone)))?;
    let temporary = tempfile::tempdir().map_err(|e| DemoError::Setup(e.to_string()))?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_owned());
    std::fs::create_dir_all(&dir)
        .map_err(|e| DemoError::Setup(format!("{}: {e}", dir.display())))?;
    let setup = Setup {
        store: args
            .store
            .clone()
            .unwrap_or_else(|| StoreLocation::Sqlite(dir.join("calsync.db"))),
        prefix: args.prefix.clone(),
        database: args.database.clone(),
        data_dir: Some(dir),
        providers: ProviderSet::Sandbox,
        google: Default::default(),
        outlook: Default::default(),
        zoom: Default::default(),
        consent: Default::default(),
        // Answers wait for every provider, so that the demo shows each one's.
        config: Config {
            answer_within: std::time::Duration::from_secs(3600),
            ..Config::quick()
        },
    };
    let opened = setup
        .open()
        .await
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let sandbox = opened
        .sandbox
        .ok_or_else(|| DemoError::Setup("the demo needs the sandbox providers".to_owned()))?;
    let sync = opened.sync;
    let extra = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| DemoError::Option("seed", format!("{}: {e}", path.display())))?;
            let seeded = read_seed(&text)
                .map_err(|e| DemoError::Option("seed", format!("{}: {e}", path.display())))?;
            for problem in &seeded.problems {
                eprintln!(
                    "{}:{}: skipped: {}",
                    path.display(),
                    problem.line,
                    problem.message
                );
            }
            seeded.events
        }
        None => Vec::new(),
    };
    let trace = play(&sync, &sandbox, zone, Utc::now(), extra).await?;
    if args.json {
        serde_json::to_string_pretty(&Value::Object(trace.json))
            .map_err(|e| DemoError::Setup(e.to_string()))
    } else {
        Ok(trace.lines.join("\n"))
    }
}

struct Trace {
    json: Map<String, Value>,
    lines: Vec<String>,
}

/// The next Tuesday after `now`'s date in `zone`, at `hour`:00 there.
fn next_tuesday(zone: Tz, now: DateTime<Utc>, hour: u32) -> Result<DateTime<Utc>, DemoError> {
    let today: NaiveDate = now.with_timezone(&zone).date_naive();
    let ahead =
        (7 + Weekday::Tue.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
    let date = today + Duration::days(i64::from(if ahead == 0 { 7 } else { ahead }));
    let time =
        NaiveTime::from_hms_opt(hour, 0, 0).ok_or_else(|| DemoError::Setup("hour".into()))?;
    zone.from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| DemoError::Setup("no such local time".into()))
}

fn credentials(provider: &str) -> Credentials {
    let mut credentials = Credentials::default();
    credentials.set_str("access_token", format!("demo-{provider}-access"));
    credentials.set_str("refresh_token", format!("demo-{provider}-refresh"));
    credentials.set_str("email", format!("ada@{provider}.example"));
    credentials
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, DemoError> {
    serde_json::to_value(value).map_err(|e| DemoError::Setup(format!("writing the answer: {e}")))
}

fn local(zone: Tz, instant: DateTime<Utc>) -> String {
    instant
        .with_timezone(&zone)
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

async fn play(
    sync: &CalendarSync,
    sandbox: &Sandbox,
    zone: Tz,
    now: DateTime<Utc>,
    mut extra: Vec<ProviderEvent>,
) -> Result<Trace, DemoError> {
    let mut trace = Trace {
        json: Map::new(),
        lines: Vec::new(),
    };
    let user = UserId::from("ada");
    let two_pm = next_tuesday(zone, now, 14)?;

    let google = sync
        .connect_account(&user, Provider::Google.as_str(), &credentials("google"))
        .await
        .map_err(|e| DemoError::Action("connectAccount", e))?;
    let outlook = sync
        .connect_account(&user, Provider::Outlook.as_str(), &credentials("outlook"))
        .await
        .map_err(|e| DemoError::Action("connectAccount", e))?;
    trace.lines.push(format!(
        "connectAccount  google  -> account {} ({})",
        google.id,
        google.sync_status.as_str()
    ));
    trace.lines.push(format!(
        "connectAccount  outlook -> account {} ({})",
        outlook.id,
        outlook.sync_status.as_str()
    ));
    trace.json.insert(
        "connectAccount".into(),
        json!([to_json(&google)?, to_json(&outlook)?]),
    );

    let busy: ProviderEvent = serde_json::from_value(json!({
        "eventId": "design-review", "uid": "design-review@google.example", "title": "Design review",
        "start": two_pm.to_rfc3339(), "end": (two_pm + Duration::hours(1)).to_rfc3339(),
        "timeZone": zone.name(),
    }))
    .map_err(|e| DemoError::Setup(e.to_string()))?;
    extra.push(busy);
    sandbox.seed(&google, extra);
    trace.lines.push(format!(
        "(google already has \"Design review\" at {})",
        local(zone, two_pm)
    ));

    let mut event = EventDetails::timed("Project sync", two_pm, two_pm + Duration::hours(1));
    event.time_zone = Some(zone.name().to_owned());
    let draft = DraftEvent {
        id: DraftId::from("draft-1"),
        event_id: None,
        event: event.clone(),
        constraints: DraftConstraints::default(),
    };
    let report = sync
        .detect_conflicts(&user, &draft)
        .await
        .map_err(|e| DemoError::Action("detectConflicts", e))?;
    for conflict in &report.conflicts {
        for existing in &conflict.existing_events {
            trace.lines.push(format!(
                "detectConflicts draft at {} -> {:?} with \"{}\" on account {}",
                local(zone, two_pm),
                conflict.reason,
                existing.title,
                existing.account
            ));
        }
    }
    trace
        .json
        .insert("detectConflicts".into(), to_json(&report)?);

    let suggestions = sync
        .suggest_reschedules(&user, &draft, &Value::Null)
        .await
        .map_err(|e| DemoError::Action("suggestReschedules", e))?;
    for (rank, s) in suggestions.suggestions.iter().enumerate() {
        trace.lines.push(format!(
            "suggestReschedules #{} {} (score {:.3})",
            rank + 1,
            local(zone, s.start),
            s.score
        ));
    }
    trace
        .json
        .insert("suggestReschedules".into(), to_json(&suggestions)?);
    let chosen = suggestions
        .suggestions
        .first()
        .ok_or_else(|| DemoError::Setup("no suggestion was found".into()))?;

    event.start = chosen.start.into();
    event.end = chosen.end.into();
    let committed = sync
        .commit(&user, &event, &[google.id.clone(), outlook.id.clone()])
        .await
        .map_err(|e| DemoError::Action("commit", e))?;
    trace.lines.push(format!(
        "commit at {} -> synced event {}",
        local(zone, chosen.start),
        committed.synced_event.internal_id
    ));
    for (account, reference) in &committed.synced_event.provider_ids {
        trace.lines.push(format!(
            "    {} id {} (account {account})",
            reference.provider, reference.event_id
        ));
    }
    trace.json.insert("commit".into(), to_json(&committed)?);

    let mut changes = Map::new();
    changes.insert("location".into(), Value::String("Room 4".into()));
    let updated = sync
        .update(&user, &committed.synced_event.internal_id, &changes)
        .await
        .map_err(|e| DemoError::Action("update", e))?;
    for (account, result) in &updated.results {
        trace.lines.push(format!(
            "update location=\"Room 4\" -> account {account}: {:?}",
            result.status
        ));
    }
    trace.json.insert("update".into(), to_json(&updated)?);
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tuesday_is_strictly_after_today() {
        let zone: Tz = "America/New_York".parse().expect("zone");
        let tuesday_noon = Utc
            .with_ymd_and_hms(2026, 11, 24, 17, 0, 0)
            .single()
            .expect("instant");
        let next = next_tuesday(zone, tuesday_noon, 14).expect("next");
        assert_eq!(
            next,
            Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0)
                .single()
                .expect("instant")
        );
        let monday = Utc
            .with_ymd_and_hms(2026, 11, 23, 17, 0, 0)
            .single()
            .expect("instant");
        assert_eq!(
            next_tuesday(zone, monday, 14)
                .expect("next")
                .date_naive()
                .day(),
            24
        );
    }
}
