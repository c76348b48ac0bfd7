//! Finishing an operation on MongoDB: the synced event's change, then the
//! operation, as two single-document writes in that order.
//!
//! MongoDB-wire servers do not all offer multi-document transactions, so the
//! two writes are not one atomic step. The order makes a crash between them
//! harmless: the event already shows the provider event while the operation
//! is still pending, so a later resume repeats the provider call (idempotent
//! by the operation's key: the provider answers the same event) and the
//! event change (setting the same reference, or detaching an account that
//! is already gone, changes nothing), then marks the operation done. The
//! other order could mark an operation done whose event never recorded it.

use super::documents::{escape_key, set_reference};
use super::{MongoStore, map_error};
use crate::model::ProviderEventRef;
use crate::operations::Operation;
use crate::store::{EventChange, Store, StoreResult};
use bson::doc;
use chrono::{DateTime, Utc};

impl MongoStore {
    pub(super) async fn complete(
        &self,
        operation: &Operation,
        change: &EventChange,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let account = &operation.account;
        match change {
            EventChange::None => {}
            EventChange::Attach { base, reference } => {
                if !self.cancelled_meanwhile(operation).await? {
                    self.attach_provider_event(base, account, reference, at)
                        .await?;
                }
            }
            EventChange::Refresh(reference) => self.refresh(operation, reference, at).await?,
            EventChange::Detach => {
                self.detach_provider_event(&operation.event, account, at)
                    .await?;
            }
        }
        self.update_operation(operation).await
    }

    /// Whether the operation's synced event is missing while a delete on its
    /// account waits: a cancel removed it while the operation ran (see
    /// [`crate::store::is_waiting_delete`], which this filter mirrors).
    ///
    /// The look and the attach after it are two commands: a cancel made and
    /// carried out entirely between them would see its event attached again,
    /// until the delete waiting for this operation detaches it.
    async fn cancelled_meanwhile(&self, operation: &Operation) -> StoreResult<bool> {
        // A waiting delete is rare, so it is looked for first: most attaches
        // then need one round trip, not two.
        let event = operation.event.as_str();
        let waiting = doc! {
            "_id": { "$ne": operation.id.as_str() },
            "event": event,
            "account": operation.account.as_str(),
            "kind": "delete",
            "status": "pending",
        };
        let found = self
            .operations
            .find_one(waiting)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(|e| map_error(e, &format!("look for a delete of {event}")))?;
        if found.is_none() {
            return Ok(false);
        }
        let stored = self
            .synced_events
            .find_one(doc! { "_id": event })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(|e| map_error(e, &format!("read synced event {event}")))?;
        Ok(stored.is_none())
    }

    /// Sets the account's provider event on the synced event, only while it
    /// exists (no upsert: a synced event removed meanwhile stays removed).
    async fn refresh(
        &self,
        operation: &Operation,
        reference: &ProviderEventRef,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let account = &operation.account;
        let update = set_reference(account, reference, at)?;
        let held = format!("providerIds.{}.version", escape_key(account));
        let version = i64::try_from(reference.version).unwrap_or(i64::MAX);
        // Not over a newer version.
        let filter = doc! {
            "_id": operation.event.as_str(),
            "$or": [
                { held.as_str(): { "$exists": false } },
                { held.as_str(): { "$lte": version } },
            ],
        };
        self.synced_events
            .update_one(filter, update)
            .await
            .map(drop)
            .map_err(|e| map_error(e, &format!("refresh {account} on {}", operation.event)))
    }
}
