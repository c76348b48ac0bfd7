//! The state's types and the wire format (serde, camelCase).

mod account;
mod conflict;
mod event;
mod ids;
mod provider;
mod synced_event;

pub use account::{Account, AccountError, AccountRecord};
pub use conflict::{
    BufferKind, Conflict, ConflictReason, ConflictReport, ExistingEvent, ScoreParts, Suggestion,
    UnknownAccount,
};
pub use event::{
    Attendee, DraftConstraints, DraftEvent, EVENT_FIELDS, EventDetails, EventTime, NotAnEventTime,
    Transparency, ValidationError, from_json_field,
};
pub use ids::{AccountId, ConflictId, DraftId, EventId, OperationId, UserId};
pub use provider::{Provider, SyncStatus};
pub use synced_event::{ProviderEventRef, SyncOutcome, SyncResult, SyncResultStatus, SyncedEvent};
