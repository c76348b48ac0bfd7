//! The state's types and the wire format (serde, camelCase), with the rules
//! of its values: recurrence lines ([`recurrence`]) and zone names
//! ([`zones`]) are read and checked here, so that validating an event needs
//! nothing from a higher layer.

mod account;
mod conflict;
mod event;
mod ids;
mod provider;
pub mod recurrence;
mod synced_event;
pub mod zones;

pub use account::{Account, AccountError, AccountRecord};
pub use conflict::{
    BufferKind, Conflict, ConflictReason, ConflictReport, ExistingEvent, ScoreParts, Suggestion,
    UnknownAccount,
};
pub(crate) use event::named_field;
pub use event::{
    Attendee, DraftConstraints, DraftEvent, EARLIEST_DATE, EVENT_FIELDS, EventDetails, EventTime,
    LATEST_DATE, MAX_ATTENDEES, MAX_DESCRIPTION, MAX_ID, MAX_LOCATION, MAX_RECURRENCE_LINE,
    MAX_RECURRENCE_LINES, MAX_TITLE, NotAnEventTime, Transparency, ValidationError,
    from_json_field,
};
pub use ids::{AccountId, ConflictId, DraftId, EventId, OperationId, UserId, check_id};
pub use provider::{Provider, SyncStatus};
pub use synced_event::{
    FIRST_VERSION, PendingWork, ProviderEventRef, SyncOutcome, SyncResult, SyncResultStatus,
    SyncedEvent,
};
