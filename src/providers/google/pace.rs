//! Pacing of requests per Google user: a token bucket per account, so that a
//! burst of commits to one account stays under Google's per-user quota (600
//! requests a minute per user and project, PROVIDERS.md §1.6) instead of
//! tripping `userRateLimitExceeded` and backing off.
//!
//! Requests past the burst wait their turn in order (a reservation may take
//! the bucket below zero: the wait is how long it takes to refill to it).
//! Time is tokio's, so a test with paused time sees exact waits.

use crate::model::AccountId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The default pace: 5 requests a second per account, bursts of 10.
pub const DEFAULT_RATE: f64 = 5.0;
/// The default burst.
pub const DEFAULT_BURST: u32 = 10;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets by account.
pub(super) struct Pacer {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<AccountId, Bucket>>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// `rate` requests a second per account, bursts of `burst`; a rate of 0
    /// turns pacing off.
    pub(super) fn new(rate: f64, burst: u32) -> Self {
        Pacer {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Waits until `account` may send its next request.
    pub(super) async fn turn(&self, account: &AccountId) {
        if self.rate <= 0.0 || !self.rate.is_finite() {
            return;
        }
        let wait = {
            let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let bucket = buckets.entry(account.clone()).or_insert(Bucket {
                tokens: self.burst,
                updated: now,
            });
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
            bucket.updated = now;
            bucket.tokens -= 1.0;
            (bucket.tokens < 0.0).then(|| Duration::from_secs_f64(-bucket.tokens / self.rate))
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_then_requests_wait_their_turn_per_account() {
        let pacer = Pacer::new(5.0, 5);
        let ada = AccountId::from("ada");
        let bob = AccountId::from("bob");
        let start = Instant::now();
        for _ in 0..5 {
            pacer.turn(&ada).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        pacer.turn(&bob).await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "another account has its own bucket"
        );
        for _ in 0..5 {
            pacer.turn(&ada).await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "five more at five a second"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_of_zero_turns_pacing_off() {
        let pacer = Pacer::new(0.0, 1);
        let start = Instant::now();
        for _ in 0..100 {
            pacer.turn(&AccountId::from("ada")).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
