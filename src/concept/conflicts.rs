//! detectConflicts and suggestReschedules: read every connected account, hand
//! the events to the scheduling engine, record and answer what it finds.

use super::CalendarSync;
use crate::engine::{ProviderCall, is_connected};
use crate::error::{Error, Result};
use crate::model::{
    Conflict, ConflictId, ConflictReport, DraftEvent, Suggestion, UnknownAccount, UserId,
    from_json_field,
};
use crate::schedule::{self, AccountCalendar, BusyIndex, SuggestConstraints};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
        draft.validate().map_err(|error| error.under("draft"))?;
        let (start, end) = schedule::detection_window(draft);
        let (calendars, unknown_accounts) = self.read_calendars(user, start, end).await?;
        let (index, problems) =
            BusyIndex::build(&calendars, start, end, schedule::draft_zone(draft));
        for problem in problems {
            tracing::warn!(account = %problem.account, event = %problem.event_id, message = %problem.message, "event skipped");
        }
        let now = self.engine.now();
        let conflicts: Vec<Conflict> = schedule::find_conflicts(&index, draft)
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
        draft.validate().map_err(|error| error.under("draft"))?;
        let constraints: SuggestConstraints = match constraints {
            Value::Null => SuggestConstraints::default(),
            other => from_json_field(other.clone(), "constraints")?,
        };
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
        let (index, _) = BusyIndex::build(&calendars, start, end, schedule::draft_zone(draft));
        let suggestions = schedule::suggest(&index, draft, &constraints, self.engine.now())
            .map_err(|error| error.under("constraints"))?;
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
            .collect();
        let reads = records.iter().map(|record| async move {
            let adapter = self.engine.adapter(record.account.provider)?;
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
