//! detectConflicts and suggestReschedules: read every connected account, hand
//! the events to the scheduling engine, record and answer what it finds.

use super::CalendarSync;
use crate::engine::{ProviderCall, is_connected};
use crate::error::{Error, Result};
use crate::model::{
    Conflict, ConflictId, ConflictReport, DraftEvent, Suggestion, UnknownAccount, UserId,
    from_json_field,
};
use crate::schedule::{
    self, AccountCalendar, BusyIndex, IndexOutOfWork, OutOfWork, StopSwitch, SuggestConstraints,
    SuggestError, Work,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::watch;

/// The answer of suggestReschedules: ranked alternatives, and the accounts
/// whose busy time could not be read (so the alternatives may clash there).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestions {
    /// Best first.
    pub suggestions: Vec<Suggestion>,
    /// Accounts that could not be read.
    pub unknown_accounts: Vec<UnknownAccount>,
}

impl CalendarSync {
    /// Detects the draft's conflicts across all the user's connected accounts.
    ///
    /// # Requires
    /// - the draft exists: it has an id and is a valid event.
    ///
    /// # Effects
    /// Queries every connected account for events around the draft's time
    /// range (widened by its buffers and travel time), classifies each
    /// conflicting occurrence as `double_booking`, `time_overlap` or
    /// `buffer_violation`, records the conflicts for the draft (replacing
    /// those of an earlier check), and answers them. An account that cannot
    /// be read is answered as unknown, never as free.
    ///
    /// # Errors
    /// - [`Error::Invalid`]: the draft is not valid (names the field).
    pub async fn detect_conflicts(
        &self,
        user: &UserId,
        draft: &DraftEvent,
    ) -> Result<ConflictReport> {
        user.check()?;
        draft.validate().map_err(|error| error.under("draft"))?;
        let (start, end) = schedule::detection_window(draft);
        let (calendars, unknown_accounts) = self.read_calendars(user, start, end).await?;
        let job = {
            let draft = draft.clone();
            move |work: &mut Work| {
                let zone = schedule::draft_zone(&draft);
                let (index, problems) = BusyIndex::build(&calendars, start, end, zone, work)
                    .map_err(|spent| too_much(spent, "draft", "the draft's time"))?;
                Ok((schedule::find_conflicts(&index, &draft), problems))
            }
        };
        let (found, problems) = self
            .scheduling
            .run(self.engine.config().work_limit, job)
            .await?;
        for problem in problems {
            tracing::warn!(account = %problem.account, event = %problem.event_id, message = %problem.message, "event skipped");
        }
        let now = self.engine.now();
        let conflicts: Vec<Conflict> = found
            .into_iter()
            .map(|found| Conflict {
                id: ConflictId::fresh(),
                user: user.clone(),
                draft: draft.id.clone(),
                draft_start: draft.event.start,
                draft_end: draft.event.end,
                reason: found.reason,
                buffer: found.buffer,
                existing_events: found.existing,
                detected_at: now,
            })
            .collect();
        self.engine
            .store()
            .replace_conflicts(user, &draft.id, &conflicts)
            .await?;
        Ok(ConflictReport {
            conflicts,
            unknown_accounts,
        })
    }

    /// Proposes alternative times for a draft that avoid every conflict.
    ///
    /// # Requires
    /// - the draft exists (valid, with an id);
    /// - conflicts were detected: detectConflicts found conflicts for this
    ///   draft at this same time;
    /// - `constraints` is an object of known constraints with valid values.
    ///
    /// # Effects
    /// Reads every connected account over the search horizon and answers a
    /// ranked list of distinct timespans of the draft's length that avoid all
    /// busy time (buffers and travel time included) and attendees' busy
    /// times, each with its score and the score's parts. Nothing is stored.
    ///
    /// # Errors
    /// - [`Error::Invalid`]: the draft or a constraint is not valid;
    /// - [`Error::ConflictsNotDetected`]: no conflicts recorded for this draft and time.
    pub async fn suggest_reschedules(
        &self,
        user: &UserId,
        draft: &DraftEvent,
        constraints: &Value,
    ) -> Result<Suggestions> {
        user.check()?;
        draft.validate().map_err(|error| error.under("draft"))?;
        let constraints: SuggestConstraints = match constraints {
            Value::Null => SuggestConstraints::default(),
            Value::Object(_) => from_json_field(constraints.clone(), "constraints")?,
            other => {
                return Err(Error::invalid(
                    "constraints",
                    format!("invalid type: {}, expected an object", json_kind(other)),
                ));
            }
        };
        constraints.check()?;
        let recorded = self
            .engine
            .store()
            .conflicts_of_draft(user, &draft.id)
            .await?;
        let same_time = |conflict: &Conflict| {
            conflict.draft_start == draft.event.start && conflict.draft_end == draft.event.end
        };
        if recorded.is_empty() || !recorded.iter().all(same_time) {
            return Err(Error::ConflictsNotDetected(draft.id.clone()));
        }
        let (start, end) = schedule::suggestion_window(draft, &constraints);
        let (calendars, unknown_accounts) = self.read_calendars(user, start, end).await?;
        let now = self.engine.now();
        let job = {
            let draft = draft.clone();
            move |work: &mut Work| {
                let zone = schedule::draft_zone(&draft);
                let (index, _) = BusyIndex::build(&calendars, start, end, zone, work)
                    .map_err(|spent| too_much(spent, "constraints.maxDays", "the days searched"))?;
                schedule::suggest(&index, &draft, &constraints, now, work).map_err(|error| {
                    match error {
                        SuggestError::Invalid(invalid) => Error::Invalid(invalid),
                        SuggestError::Work(why) => too_much(
                            IndexOutOfWork { why, event: None },
                            "constraints.attendees",
                            "the attendees' availability over the days searched",
                        ),
                    }
                })
            }
        };
        let suggestions = self
            .scheduling
            .run(self.engine.config().work_limit, job)
            .await?;
        Ok(Suggestions {
            suggestions,
            unknown_accounts,
        })
    }

    /// Reads the events of every connected account of `user`, concurrently.
    async fn read_calendars(
        &self,
        user: &UserId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(Vec<AccountCalendar>, Vec<UnknownAccount>)> {
        let records: Vec<_> = self
            .engine
            .store()
            .accounts_of_user(user)
            .await?
            .into_iter()
            .filter(is_connected)
            // A meeting service keeps no busy time.
            .filter(|record| {
                self.engine
                    .provider(record.account.provider)
                    .is_none_or(|adapter| adapter.calendar().is_some())
            })
            .collect();
        let reads = records.iter().map(|record| async move {
            let adapter = self.engine.calendar_adapter(record.account.provider)?;
            self.engine
                .call_account(record, ProviderCall::List, |session| {
                    let adapter = adapter.clone();
                    async move { adapter.list_events(&session, start, end).await }
                })
                .await
        });
        let answers = futures::future::join_all(reads).await;
        let mut calendars = Vec::new();
        let mut unknown = Vec::new();
        for (record, answer) in records.iter().zip(answers) {
            let account = record.account.id.clone();
            match answer {
                Ok(Ok(events)) => calendars.push(AccountCalendar { account, events }),
                Ok(Err(error)) => unknown.push(UnknownAccount {
                    account,
                    reason: error.message,
                }),
                Err(error) => unknown.push(UnknownAccount {
                    account,
                    reason: error.to_string(),
                }),
            }
        }
        Ok((calendars, unknown))
    }
}

/// The error for scheduling work that ran out: the field whose value asked
/// for it, and what needed the work.
fn too_much(spent: IndexOutOfWork, field: &str, what: &str) -> Error {
    match spent.why {
        OutOfWork::Stopped => Error::Stopped,
        OutOfWork::Exhausted { limit } => Error::TooMuchWork {
            field: field.to_owned(),
            message: match spent.event {
                Some((account, event)) => format!(
                    "the busy time of {what} needs more than {limit} units of work (they ran \
                     out at event {event:?} of account {account}, whose occurrences count one \
                     each); ask for less time"
                ),
                None => format!(
                    "{what} need more than {limit} units of work; ask for less time or fewer attendees"
                ),
            },
        },
    }
}

/// What the scheduling work running now has done, for whoever watches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulingWork {
    /// Jobs running now.
    pub running: usize,
    /// Jobs that ended with their answer.
    pub finished: u64,
    /// Jobs stopped because nobody waited for their answer any more.
    pub stopped: u64,
    /// The units the last stopped job had spent.
    pub last_stopped_spent: u64,
    /// The units the last job that ended with its answer spent.
    pub last_finished_spent: u64,
}

/// Runs scheduling work (busy indexes, conflicts, suggestions) on the
/// blocking thread pool, so that a heavy request never holds the threads that
/// serve the others, each job with its own work budget and a stop switch
/// that is set when its caller stops waiting.
#[derive(Debug)]
pub(crate) struct Scheduling {
    seen: watch::Sender<SchedulingWork>,
}

impl Default for Scheduling {
    fn default() -> Self {
        Scheduling {
            seen: watch::Sender::new(SchedulingWork::default()),
        }
    }
}

/// Sets a job's stop switch when the future waiting for it is dropped.
struct StopOnDrop(StopSwitch);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Scheduling {
    /// Runs `job` with a budget of `limit` units off the async workers.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        limit: u64,
        job: impl FnOnce(&mut Work) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let switch = StopSwitch::new();
        let stop_on_drop = StopOnDrop(switch.clone());
        self.seen.send_modify(|seen| seen.running += 1);
        let this = Arc::clone(self);
        let handle = tokio::task::spawn_blocking(move || {
            let mut work = Work::stopped_by(limit, switch);
            let answer = job(&mut work);
            let spent = work.used();
            this.seen.send_modify(|seen| {
                seen.running -= 1;
                if matches!(answer, Err(Error::Stopped)) {
                    seen.stopped += 1;
                    seen.last_stopped_spent = spent;
                } else {
                    seen.finished += 1;
                    seen.last_finished_spent = spent;
                }
            });
            metrics::counter!("calsync_scheduling_work_units_total").increment(spent);
            answer
        });
        let answer = match handle.await {
            Ok(answer) => answer,
            // A panic in the job is the caller's, as if it had run here.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(Error::Stopped),
        };
        drop(stop_on_drop);
        answer
    }

    /// Watches the scheduling work.
    pub(crate) fn watch(&self) -> watch::Receiver<SchedulingWork> {
        self.seen.subscribe()
    }
}

/// What kind of JSON value `value` is, as serde names it in its messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "map",
    }
}
