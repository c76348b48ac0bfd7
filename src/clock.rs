//! Where "now" comes from: the system clock in production, a clock the test
//! moves by hand in tests (leases, token expiry, how long an answer waits).

use chrono::{DateTime, Duration, Utc};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::watch;

/// A future that ends when a clock reaches an instant.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Ends once this clock reads `at` or later. By default it sleeps on
    /// tokio's timer for the time left now.
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_> {
        let left = (at - self.now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(left))
    }
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to; what sleeps on it wakes when it is
/// moved past the instant it waits for.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: watch::Sender::new(now),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_> {
        let mut moves = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock, which outlives this borrow.
            let _ = moves.wait_for(|now| *now >= at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn a_sleep_on_the_manual_clock_ends_when_the_clock_passes_it() {
        let start = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("instant");
        let clock = ManualClock::new(start);
        let mut sleep = clock.sleep_until(start + Duration::minutes(1));
        assert!(futures::poll!(&mut sleep).is_pending());
        clock.advance(Duration::seconds(59));
        assert!(futures::poll!(&mut sleep).is_pending());
        clock.advance(Duration::seconds(1));
        assert!(futures::poll!(&mut sleep).is_ready());
        assert!(futures::poll!(clock.sleep_until(start)).is_ready());
    }
}
