//! The one integration-test binary. Modules:
//! - `schedule`: the scheduling engine (recurrence, zones, index, conflicts,
//!   suggestions, iCalendar reading, the command line).

mod schedule;
