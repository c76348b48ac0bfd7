//! Truncated exponential backoff with full jitter, honouring Retry-After.

use rand::Rng;
use std::time::Duration;

/// How transient provider failures are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff's ceiling.
    pub base: Duration,
    /// No backoff is longer than this.
    pub cap: Duration,
    /// When `max_attempts` attempts in a row failed transiently, the
    /// operation stays pending (it is never given up for a transient
    /// failure) and is tried again this long later by a resume, then twice
    /// as long after each further round, up to `park_cap`.
    pub park: Duration,
    /// The longest wait between two rounds of attempts.
    pub park_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(32),
            park: Duration::from_secs(60),
            park_cap: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// A policy with short waits, for tests and demos.
    pub fn quick() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(40),
            park: Duration::from_secs(60),
            park_cap: Duration::from_secs(15 * 60),
        }
    }

    /// How long to wait after failed attempt number `attempt` (1-based): a
    /// random time up to `min(cap, base * 2^(attempt-1))`, or what the provider
    /// asked for with Retry-After, whichever is longer.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        let jittered = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=ceiling)
        };
        match retry_after {
            Some(asked) => asked.max(jittered),
            None => jittered,
        }
    }
}

impl RetryPolicy {
    /// Whether failed attempt number `attempt` (1-based) ends a round of
    /// `max_attempts` attempts in a row.
    pub fn round_spent(&self, attempt: u32) -> bool {
        attempt % self.max_attempts.max(1) == 0
    }

    /// How long an operation waits after its rounds of attempts ended with
    /// attempt number `attempt`: `park`, doubled per earlier round, at most
    /// `park_cap`.
    pub fn parked(&self, attempt: u32) -> Duration {
        let rounds = attempt / self.max_attempts.max(1);
        let exponent = rounds.saturating_sub(1).min(30);
        self.park
            .saturating_mul(1u32 << exponent)
            .min(self.park_cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_capped_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 1..12 {
            let ceiling = policy
                .base
                .saturating_mul(1 << (attempt - 1))
                .min(policy.cap);
            for _ in 0..50 {
                assert!(policy.backoff(attempt, None) <= ceiling);
            }
        }
    }

    #[test]
    fn retry_after_wins_over_a_shorter_backoff() {
        let policy = RetryPolicy::quick();
        let asked = Duration::from_secs(3);
        assert_eq!(policy.backoff(1, Some(asked)), asked);
    }

    #[test]
    fn parked_operations_wait_longer_each_round_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 3,
            park: Duration::from_secs(60),
            park_cap: Duration::from_secs(300),
            ..RetryPolicy::default()
        };
        assert!(!policy.round_spent(2));
        assert!(policy.round_spent(3));
        assert!(policy.round_spent(6));
        assert_eq!(policy.parked(3), Duration::from_secs(60));
        assert_eq!(policy.parked(6), Duration::from_secs(120));
        assert_eq!(policy.parked(9), Duration::from_secs(240));
        assert_eq!(policy.parked(12), Duration::from_secs(300));
        assert_eq!(policy.parked(3000), Duration::from_secs(300));
    }
}
