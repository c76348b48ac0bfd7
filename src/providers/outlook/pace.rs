//! Pacing of requests per mailbox, as Graph limits them (PROVIDERS.md §2.5):
//! at most 4 requests in flight to one mailbox (`MailboxConcurrency`), and
//! a token bucket below 10,000 requests per 10 minutes. Each account has its
//! own semaphore and bucket, so a busy or throttled mailbox never slows
//! another.
//!
//! Requests past the burst wait their turn in order (a reservation may take
//! the bucket below zero: the wait is how long it takes to refill to it).
//! Time is tokio's, so a test with paused time sees exact waits.

use crate::model::AccountId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Requests in flight to one mailbox: Graph's limit.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The default pace: 15 requests a second per mailbox (9,000 per 10
/// minutes, with the burst under Graph's 10,000).
pub const DEFAULT_RATE: f64 = 15.0;
/// The default burst.
pub const DEFAULT_BURST: u32 = 30;

struct Mailbox {
    in_flight: Arc<Semaphore>,
    tokens: f64,
    updated: Instant,
}

/// A semaphore and a token bucket by account.
pub(super) struct Pacer {
    concurrency: usize,
    rate: f64,
    burst: f64,
    mailboxes: Mutex<HashMap<AccountId, Mailbox>>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("concurrency", &self.concurrency)
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// Leave to send one request to a mailbox; its slot is freed when dropped.
pub(super) struct Turn {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Pacer {
    /// `concurrency` requests at once per account (at least 1), `rate`
    /// requests a second in bursts of `burst`; a rate of 0 turns the bucket off.
    pub(super) fn new(concurrency: usize, rate: f64, burst: u32) -> Self {
        Pacer {
            concurrency: concurrency.max(1),
            rate,
            burst: f64::from(burst.max(1)),
            mailboxes: Mutex::default(),
        }
    }

    /// Waits until `account` may send its next request: a free slot, then
    /// its turn in the bucket.
    pub(super) async fn turn(&self, account: &AccountId) -> Turn {
        let in_flight = {
            let mut mailboxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
            mailboxes
                .entry(account.clone())
                .or_insert_with(|| Mailbox {
                    in_flight: Arc::new(Semaphore::new(self.concurrency)),
                    tokens: self.burst,
                    updated: Instant::now(),
                })
                .in_flight
                .clone()
        };
        // The semaphore is never closed; were it, the request would go unpaced.
        let permit = in_flight.acquire_owned().await.ok();
        if let Some(wait) = self.reserve(account) {
            tokio::time::sleep(wait).await;
        }
        Turn { _permit: permit }
    }

    fn reserve(&self, account: &AccountId) -> Option<Duration> {
        if self.rate <= 0.0 || !self.rate.is_finite() {
            return None;
        }
        let mut mailboxes = self.mailboxes.lock().unwrap_or_else(|p| p.into_inner());
        let mailbox = mailboxes.get_mut(account)?;
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(mailbox.updated).as_secs_f64();
        mailbox.tokens = (mailbox.tokens + elapsed * self.rate).min(self.burst);
        mailbox.updated = now;
        mailbox.tokens -= 1.0;
        (mailbox.tokens < 0.0).then(|| Duration::from_secs_f64(-mailbox.tokens / self.rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_most_four_requests_are_in_flight_per_mailbox_and_others_go_on() {
        let pacer = Pacer::new(4, 0.0, 1);
        let ada = AccountId::from("ada");
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(pacer.turn(&ada).await);
        }
        let fifth = tokio::time::timeout(Duration::from_secs(60), pacer.turn(&ada)).await;
        assert!(fifth.is_err(), "a fifth request waits for a free slot");
        let other = tokio::time::timeout(Duration::ZERO, pacer.turn(&AccountId::from("bob"))).await;
        assert!(other.is_ok(), "another mailbox is not slowed");
        held.pop();
        let fifth = tokio::time::timeout(Duration::ZERO, pacer.turn(&ada)).await;
        assert!(fifth.is_ok(), "a freed slot lets the next one go");
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_burst_requests_wait_their_turn_per_mailbox() {
        let pacer = Pacer::new(4, 5.0, 5);
        let ada = AccountId::from("ada");
        let start = Instant::now();
        for _ in 0..10 {
            drop(pacer.turn(&ada).await);
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "five more at five a second"
        );
        drop(pacer.turn(&AccountId::from("bob")).await);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(1),
            "bob has his own bucket"
        );
    }
}
