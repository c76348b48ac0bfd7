//! What is wrong with a line of iCalendar input: reported to the user, and
//! the rest of the file still read.

use super::super::recurrence::RecurrenceError;
use super::limits::MAX_PROBLEMS;
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
    /// A wall-clock time too far from the year 0 to place in its zone.
    #[error("{0:?} is out of range in its zone")]
    OutOfRange(String),
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

/// The problems of one file, in the order found: at most [`MAX_PROBLEMS`]
/// kept, the rest counted.
#[derive(Debug, Default)]
pub(super) struct ProblemList {
    kept: Vec<IcsProblem>,
    /// How many were not kept, and the line of the first of them.
    dropped: Option<(usize, usize)>,
}

impl ProblemList {
    /// Adds a problem (counted only, once [`MAX_PROBLEMS`] are kept).
    pub(super) fn push(&mut self, problem: IcsProblem) {
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(problem);
        } else {
            let (count, _) = self.dropped.get_or_insert((0, problem.line));
            *count += 1;
        }
    }

    /// Adds the problem `error` on `line`.
    pub(super) fn at(&mut self, line: usize, error: &dyn std::error::Error) {
        self.push(IcsProblem::new(line, error));
    }

    /// Adds the problem `message` on `line`.
    pub(super) fn say(&mut self, line: usize, message: String) {
        self.push(IcsProblem { line, message });
    }

    /// How many problems are kept.
    pub(super) fn len(&self) -> usize {
        self.kept.len()
    }

    /// Moves the next `count` problems of `other` into this list.
    pub(super) fn take_from(&mut self, other: &mut std::vec::IntoIter<IcsProblem>, count: usize) {
        for problem in other.by_ref().take(count) {
            self.push(problem);
        }
    }

    /// Splits the list into its kept problems and the count of the others.
    pub(super) fn into_parts(self) -> (Vec<IcsProblem>, Option<(usize, usize)>) {
        (self.kept, self.dropped)
    }

    /// Counts `dropped` more problems that were not kept.
    pub(super) fn count_dropped(&mut self, dropped: Option<(usize, usize)>) {
        if let Some((count, line)) = dropped {
            let (held, first) = self.dropped.get_or_insert((0, line));
            *held += count;
            *first = line.min(*first);
        }
    }

    /// The problems, with one last saying how many more there were.
    pub(super) fn finish(mut self) -> Vec<IcsProblem> {
        if let Some((count, line)) = self.dropped {
            self.kept.push(IcsProblem {
                line,
                message: format!(
                    "{count} more problems are not listed, the first of them on this line \
                     (at most {MAX_PROBLEMS} are, MAX_PROBLEMS)"
                ),
            });
        }
        self.kept
    }
}
