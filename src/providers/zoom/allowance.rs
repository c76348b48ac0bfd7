//! Zoom's per-user daily cap on meeting writes, counted before Zoom is
//! called.
//!
//! Zoom allows [`super::DAILY_MEETING_WRITES`] meeting creates and updates
//! per user per UTC day. calsync counts its own in the shared record
//! `zoom.writes.{user}.{yyyy-mm-dd}` (every process on the store counts in
//! the same record, each write a version: the store compares versions, so
//! none is lost), and at the cap holds the work until 00:00 UTC without a
//! call. The record also lists the idempotency keys of the day's creates,
//! so that a create tried again (its answer lost, or its process stopped
//! mid-call) looks for the meeting its first attempt may have made before
//! it makes one.

use super::api::next_midnight;
use crate::clock::Clock;
use crate::providers::{ProviderError, ProviderErrorKind, ProviderResult};
use crate::store::{SharedRecord, Store};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

/// How many times a count is tried again when other writers move it.
const CONTENDED: usize = 32;

/// The daily counts of meeting writes per Zoom user.
pub struct Allowance {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    limit: u32,
}

impl std::fmt::Debug for Allowance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allowance")
            .field("limit", &self.limit)
            .finish()
    }
}

/// The record of `user`'s writes on `day`.
pub fn record_name(user: &str, day: NaiveDate) -> String {
    format!("zoom.writes.{user}.{}", day.format("%Y-%m-%d"))
}

fn store_error(error: crate::store::StoreError) -> ProviderError {
    ProviderError::new(
        ProviderErrorKind::Unavailable,
        format!("cannot count the day's Zoom meeting writes in the store: {error}"),
    )
}

fn creates(value: &Value) -> impl Iterator<Item = &str> {
    value
        .get("creates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

impl Allowance {
    /// Counts in `store`, by `clock`'s days, up to `limit` writes a day.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, limit: u32) -> Self {
        Allowance {
            store,
            clock,
            limit,
        }
    }

    /// Whether a create with `key` for `user` was attempted today or
    /// yesterday (UTC).
    pub async fn was_attempted(&self, user: &str, key: &str) -> ProviderResult<bool> {
        let today = self.clock.now().date_naive();
        for day in [Some(today), today.pred_opt()].into_iter().flatten() {
            let record = self
                .store
                .get_shared(&record_name(user, day))
                .await
                .map_err(store_error)?;
            if record.is_some_and(|record| creates(&record.value).any(|seen| seen == key)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Counts one meeting write for `user` today (a create names its key).
    ///
    /// # Errors
    /// `LimitReached` until 00:00 UTC when the day's writes are spent;
    /// `Unavailable` when the store fails or the count keeps moving.
    pub async fn spend(&self, user: &str, create: Option<&str>) -> ProviderResult<()> {
        for _ in 0..CONTENDED {
            let now = self.clock.now();
            let name = record_name(user, now.date_naive());
            let record = self.store.get_shared(&name).await.map_err(store_error)?;
            let (version, value) = match record {
                Some(record) => (record.version, record.value),
                None => (0, json!({"count": 0, "creates": []})),
            };
            let count = value.get("count").and_then(Value::as_u64).unwrap_or(0);
            if count >= u64::from(self.limit) {
                return Err(spent(user, self.limit, now));
            }
            let mut keys: Vec<Value> = creates(&value).map(Value::from).collect();
            if let Some(key) = create {
                if !keys.iter().any(|seen| seen == key) {
                    keys.push(Value::from(key));
                }
            }
            let next = SharedRecord {
                name,
                version: version + 1,
                value: json!({"count": count + 1, "creates": keys}),
                updated_at: now,
            };
            if self.store.put_shared(&next).await.map_err(store_error)? {
                return Ok(());
            }
        }
        Err(ProviderError::new(
            ProviderErrorKind::Unavailable,
            format!(
                "the count of today's Zoom meeting writes of {user} kept changing; trying again later"
            ),
        ))
    }
}

/// The error for a user whose writes of the day are spent.
fn spent(user: &str, limit: u32, now: DateTime<Utc>) -> ProviderError {
    let reset = next_midnight(now);
    ProviderError::new(
        ProviderErrorKind::LimitReached,
        format!(
            "Zoom allows {limit} meeting creates and updates per user per day; {user} has made them today, \
             so the rest waits until {}",
            reset.to_rfc3339()
        ),
    )
    .with_retry_after(super::api::until(now, reset))
}
