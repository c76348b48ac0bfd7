//! What is wrong with a line of iCalendar input: reported to the user, and
//! the rest of the file still read.

use super::super::recurrence::RecurrenceError;
use serde::Serialize;

/// A line of iCalendar input that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IcsProblem {
    /// The 1-based line number in the text (of the first physical line of a folded line).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Why one content line, or a value in it, cannot be used; shown to the
/// user as an [`IcsProblem`]'s message.
#[derive(Debug, thiserror::Error)]
pub(super) enum LineError {
    /// A line without `:`.
    #[error("{0:?} is not a content line (NAME:VALUE)")]
    NotAContentLine(String),
    /// A line the `icalendar` crate's property parser refuses.
    #[error("cannot read {line:?}: {reason}")]
    Unreadable {
        /// The line.
        line: String,
        /// The parser's first line of explanation.
        reason: String,
    },
    /// A `TZID` that no zone name and no `VTIMEZONE` of the file defines.
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    /// A value of property `property` that cannot be read.
    #[error("{property}: {problem}")]
    In {
        /// The property's name.
        property: String,
        /// What is wrong with its value.
        problem: Box<LineError>,
    },
    /// A date, date-time or recurrence line that cannot be read.
    #[error(transparent)]
    Recurrence(#[from] RecurrenceError),
}

impl IcsProblem {
    pub(super) fn new(line: usize, error: &dyn std::error::Error) -> Self {
        IcsProblem {
            line,
            message: error.to_string(),
        }
    }
}
