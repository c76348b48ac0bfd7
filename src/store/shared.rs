//! The records of `{prefix}shared`: deployment-wide state that every calsync
//! process on one store shares, such as a provider's token for the whole
//! deployment or a count of calls per day. Each write names the version it
//! read, so that of two processes writing at once one wins and the other
//! reads again (compare and swap); what a record means belongs to whoever
//! writes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One shared record. `name` is unique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedRecord {
    /// Its name, e.g. `zoom.s2s-token`.
    pub name: String,
    /// Bumped by every write: the first write is version 1.
    pub version: u64,
    /// What it holds.
    pub value: serde_json::Value,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

impl SharedRecord {
    /// The first version of `name`, holding `value`.
    pub fn first(name: &str, value: serde_json::Value, now: DateTime<Utc>) -> Self {
        SharedRecord {
            name: name.to_owned(),
            version: 1,
            value,
            updated_at: now,
        }
    }

    /// The version after this one, holding `value`.
    pub fn next(&self, value: serde_json::Value, now: DateTime<Utc>) -> Self {
        SharedRecord {
            name: self.name.clone(),
            version: self.version + 1,
            value,
            updated_at: now,
        }
    }
}
