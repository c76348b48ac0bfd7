//! calsync's integration tests, one binary. Modules:
//! - `concept`: the CalendarSync actions on the embedded store and the
//!   sandbox providers: the operational principle, then each action's
//!   requires and effects, recovery after a crash, and credentials at rest.

mod concept;
