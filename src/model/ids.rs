//! String-backed identifiers. Each is serialized as a plain string; fresh ids
//! are UUIDv7, so they are unique and sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn fresh() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_id!(
    /// The app's user (the spec's `User` parameter).
    UserId
);

/// The rule for an id an app gives: 1 to [`super::MAX_ID`] characters, not all
/// spaces, with no control or text-direction characters (which would let
/// two ids look alike).
///
/// # Errors
/// The rule broken, naming `field`.
pub fn check_id(field: &str, id: &str) -> Result<(), super::ValidationError> {
    let broken = if id.trim().is_empty() {
        Some("must not be empty".to_owned())
    } else if id.chars().count() > super::MAX_ID {
        Some(format!("must be at most {} characters", super::MAX_ID))
    } else if id
        .chars()
        .any(|c| c.is_control() || super::event::is_bidi_control(c))
    {
        Some("must not hold control or text-direction characters".to_owned())
    } else {
        None
    };
    broken.map_or(Ok(()), |rule| Err(super::ValidationError::new(field, rule)))
}

impl UserId {
    /// Checks the id against [`check_id`]'s rule.
    ///
    /// # Errors
    /// The rule broken, naming `user`.
    pub fn check(&self) -> Result<(), super::ValidationError> {
        check_id("user", &self.0)
    }
}
string_id!(
    /// A connected calendar account (the spec's `Account` parameter).
    AccountId
);
string_id!(
    /// A synced event's internal id (the spec's `internalId`).
    EventId
);
string_id!(
    /// The app's id for a draft event.
    DraftId
);
string_id!(
    /// A detected conflict.
    ConflictId
);
string_id!(
    /// A durable provider operation (one create, update or delete on one account).
    OperationId
);
