//! A video meeting's link follows into its event.
//!
//! A meeting service (Zoom) makes the meeting a synced event asks for
//! (`virtualMeeting`); its join link goes into the calendar copies, as the
//! event's location when it has none and at the end of its description.
//! Whenever a meeting is made (during its commit, or later: after a retry,
//! once a daily limit resets, once its account is authorized again), the
//! link becomes part of the event's details as a new version, and every
//! calendar copy converges to it by itself:
//!
//! - a copy already written (at an older version) gets an update;
//! - a create of a copy that is running (here, or held by another instance)
//!   gets an update that waits for it, in the account's order;
//! - a create that has not started yet writes the latest details when it
//!   starts ([`adopt_latest`]), so a commit whose meeting is made in time
//!   writes each calendar copy once, with the link.

use super::{Engine, Intent, lock};
use crate::error::Result;
use crate::model::{EventDetails, ProviderEventRef, SyncStatus};
use crate::operations::{Operation, OperationKind, OperationStatus};
use crate::store::EventChange;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The line the description ends with.
fn link_line(link: &str) -> String {
    format!("Join the video meeting: {link}")
}

/// Whether `details` already carry the meeting's `link`.
pub(crate) fn holds_link(details: &EventDetails, link: &str) -> bool {
    details
        .description
        .as_deref()
        .is_some_and(|text| text.contains(&link_line(link)))
}

/// The event with a video meeting's join link: as its location when it has
/// none, and at the end of its description.
pub(crate) fn with_meeting_link(details: &EventDetails, link: &str) -> EventDetails {
    let mut linked = details.clone();
    if linked.location.is_none() {
        linked.location = Some(link.to_owned());
    }
    let line = link_line(link);
    linked.description = Some(match linked.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{line}"),
        _ => line,
    });
    linked
}

/// The event fields that differ between `before` and `after`.
fn changed_fields(before: &EventDetails, after: &EventDetails) -> Vec<String> {
    let mut changed = Vec::new();
    if before.location != after.location {
        changed.push("location".to_owned());
    }
    if before.description != after.description {
        changed.push("description".to_owned());
    }
    changed
}

/// Before a create of a copy of an event with a meeting writes: when the
/// event's details moved on since the create was recorded (its meeting's
/// link came), the create writes them instead.
pub(crate) async fn adopt_latest(engine: &Arc<Engine>, op: &mut Operation) -> Result<()> {
    if op.kind != OperationKind::Create || !op.details.virtual_meeting {
        return Ok(());
    }
    if let Some(synced) = engine.store.get_synced_event(&op.event).await?
        && synced.version > op.version
    {
        op.details = synced.event;
        op.version = synced.version;
    }
    Ok(())
}

/// After the meeting of `op` (a create on a meeting service) was made with
/// `reference`: its link becomes part of the event, and each calendar copy
/// is brought to it.
pub(crate) async fn link_meeting(
    engine: &Arc<Engine>,
    op: &Operation,
    reference: &ProviderEventRef,
) -> Result<()> {
    let Some(link) = reference.join_url.as_deref() else {
        return Ok(());
    };
    let Some(synced) = engine.store.get_synced_event(&op.event).await? else {
        // Cancelled meanwhile: the cancel deletes the meeting.
        return Ok(());
    };
    // Only an event that asked for a video meeting carries its link.
    if !synced.event.virtual_meeting || holds_link(&synced.event, link) {
        return Ok(());
    }
    let linked = with_meeting_link(&synced.event, link);
    let changed = changed_fields(&synced.event, &linked);
    let now = engine.clock.now();
    let Some(version) = engine
        .store
        .set_event_details(&op.event, &linked, now)
        .await?
    else {
        return Ok(());
    };
    tracing::info!(event = %op.event, account = %op.account, version, "the meeting's link goes into the event");
    // The meeting holds these details: the link is its own.
    let mut meeting = op.clone();
    if let Some(result) = &mut meeting.result {
        result.version = version;
        let change = EventChange::Refresh(result.clone());
        engine
            .store
            .complete_operation(&meeting, &change, now)
            .await?;
    }
    // The calendar copies written or being written: an update each.
    let mut targets: BTreeMap<_, Option<ProviderEventRef>> = synced
        .provider_ids
        .iter()
        .filter(|(account, held)| **account != op.account && held.version < version)
        .map(|(account, held)| (account.clone(), Some(held.clone())))
        .collect();
    let instance = engine.instance.clone();
    for other in engine.store.operations_of_event(&op.event).await? {
        let in_flight = lock(&engine.running).contains_key(&other.id)
            || other
                .lease_owner
                .as_ref()
                .is_some_and(|owner| *owner != instance)
                && other.lease_until.is_some_and(|until| until > now);
        if other.kind == OperationKind::Create
            && other.status == OperationStatus::Pending
            && other.account != op.account
            && in_flight
        {
            targets.entry(other.account.clone()).or_insert(None);
        }
    }
    let mut updates = Vec::new();
    for (account, target) in targets {
        let connected = engine
            .store
            .get_account(&account)
            .await?
            .is_some_and(|record| record.account.sync_status != SyncStatus::Disconnected);
        if !connected {
            continue;
        }
        let provider = target
            .as_ref()
            .map(|held| held.provider)
            .or_else(|| synced.provider_ids.get(&account).map(|held| held.provider));
        let provider = match provider {
            Some(provider) => provider,
            None => match engine.store.get_account(&account).await? {
                Some(record) => record.account.provider,
                None => continue,
            },
        };
        let mut update = engine.new_operation(Intent {
            user: &synced.user,
            event: &op.event,
            account: &account,
            provider,
            kind: OperationKind::Update,
            details: &linked,
            target,
        });
        update.version = version;
        update.changed_fields = changed.clone();
        updates.push(update);
    }
    if updates.is_empty() {
        return Ok(());
    }
    engine.store.insert_operations(&updates).await?;
    // They run in the background; their outcomes are in the store.
    super::run::start(engine, updates);
    Ok(())
}
