//! The work one request may cost the scheduling engine, counted in units
//! rather than time: one unit per event read into the busy index, per
//! occurrence a rule produces (before the window too) and per candidate slot
//! checked against one attendee. A request that would need more is refused
//! with a clear error instead of pinning a core; a request whose caller has
//! gone (its timeout fired, its client left) stops at its next unit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The units one detectConflicts or suggestReschedules may spend by default.
/// A year of a half-hourly series is 17,520 occurrences; a week of calendars
/// with thousands of events and a few dozen attendees stays far below.
pub const DEFAULT_WORK_LIMIT: u64 = 2_000_000;

/// Why work ended before its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutOfWork {
    /// The request's budget is spent.
    #[error("needs more than {limit} units of work")]
    Exhausted {
        /// The budget.
        limit: u64,
    },
    /// The caller stopped waiting for the answer.
    #[error("stopped: nobody waits for the answer any more")]
    Stopped,
}

/// A shared switch that stops work from another thread: set when the
/// request's future is dropped, read by the work at each unit.
#[derive(Clone, Debug, Default)]
pub struct StopSwitch(Arc<StopState>);

#[derive(Debug, Default)]
struct StopState {
    stopped: AtomicBool,
    /// Units spent by the work watching this switch, for whoever started it.
    spent: AtomicU64,
}

impl StopSwitch {
    /// A switch that is not set.
    pub fn new() -> StopSwitch {
        StopSwitch::default()
    }

    /// Stops the work watching this switch at its next unit.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::Relaxed);
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::Relaxed)
    }

    /// The units spent so far by the work watching this switch (published
    /// every few thousand units and when the work ends).
    pub fn spent(&self) -> u64 {
        self.0.spent.load(Ordering::Relaxed)
    }
}

/// How often the stop switch is read and the count published, in units.
const CHECK_EVERY: u64 = 1024;

/// The work budget of one request.
#[derive(Debug)]
pub struct Work {
    used: u64,
    limit: u64,
    switch: StopSwitch,
}

impl Default for Work {
    fn default() -> Self {
        Work::new(DEFAULT_WORK_LIMIT)
    }
}

impl Work {
    /// A budget of `limit` units.
    pub fn new(limit: u64) -> Work {
        Work {
            used: 0,
            limit,
            switch: StopSwitch::new(),
        }
    }

    /// A budget of `limit` units that stops when `switch` is set.
    pub fn stopped_by(limit: u64, switch: StopSwitch) -> Work {
        Work {
            used: 0,
            limit,
            switch,
        }
    }

    /// Spends `units`.
    ///
    /// # Errors
    /// [`OutOfWork::Exhausted`] when the budget is spent, [`OutOfWork::Stopped`]
    /// when the stop switch is set.
    pub fn spend(&mut self, units: u64) -> Result<(), OutOfWork> {
        let before = self.used;
        self.used = self.used.saturating_add(units);
        if self.used > self.limit {
            self.publish();
            return Err(OutOfWork::Exhausted { limit: self.limit });
        }
        if before / CHECK_EVERY != self.used / CHECK_EVERY {
            self.publish();
            if self.switch.is_stopped() {
                return Err(OutOfWork::Stopped);
            }
        }
        Ok(())
    }

    /// The units spent.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The budget.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn publish(&self) {
        self.switch.0.spent.store(self.used, Ordering::Relaxed);
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_the_unit_past_its_limit() {
        let mut work = Work::new(10);
        assert_eq!(work.spend(10), Ok(()));
        assert_eq!(work.spend(1), Err(OutOfWork::Exhausted { limit: 10 }));
    }

    #[test]
    fn a_stopped_switch_ends_work_within_one_check() {
        let switch = StopSwitch::new();
        let mut work = Work::stopped_by(u64::MAX, switch.clone());
        switch.stop();
        let done = (0..=CHECK_EVERY)
            .take_while(|_| work.spend(1).is_ok())
            .count();
        assert!(done < usize::try_from(CHECK_EVERY).unwrap_or(usize::MAX));
        assert_eq!(work.spend(CHECK_EVERY), Err(OutOfWork::Stopped));
        drop(work);
        assert!(switch.spent() >= CHECK_EVERY);
    }
}
