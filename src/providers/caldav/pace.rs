//! How many writes the adapter keeps in flight to one calendar collection.
//!
//! A server applies the writes to one collection one after another (each
//! moves the collection's ctag and sync token), so sending several at once
//! only pays while the round trip, not the server, is what a write waits on:
//! a few writes at once hide the network's latency to iCloud, while a server
//! on the same machine (Radicale, Xandikos) works in one thread and spends
//! part of its time switching between the requests instead of storing them.
//! Rather than guess which kind a server is, each collection's gate measures:
//! it starts with one write in flight, now and then tries one more (or one
//! fewer) for a short window of writes, and keeps the change only when the
//! throughput says so. A write that the server answers with "too busy" (429,
//! 503) or that times out halves the limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use url::Url;

/// The most writes in flight to one collection.
pub const MAX_IN_FLIGHT: usize = 8;
/// Writes per measured window.
const WINDOW: usize = 8;
/// A step up is kept when the window's throughput beats the settled one by this factor.
const GAIN: f64 = 1.25;
/// A step down is kept when the window keeps at least this share of the throughput.
const KEEP: f64 = 0.9;
/// Windows between trials after the first failed one; doubles on each failure.
const FIRST_SPACING: u32 = 4;
/// The longest wait between trials, in windows.
const MAX_SPACING: u32 = 64;

/// One gate per calendar collection, shared by every clone of the adapter.
#[derive(Debug, Default)]
pub struct Pacer {
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

impl Pacer {
    /// Waits for a turn to write to the collection holding `href`.
    pub async fn write_turn(&self, href: &Url) -> Permit {
        let collection = href
            .join("./")
            .map_or_else(|_| href.to_string(), String::from);
        let gate = lock(&self.gates).entry(collection).or_default().clone();
        gate.acquire().await
    }
}

/// The turns of one collection.
#[derive(Debug, Default)]
struct Gate {
    climb: Mutex<Climb>,
    wake: Notify,
}

impl Gate {
    async fn acquire(self: Arc<Self>) -> Permit {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            // Registered before looking, so a turn freed in between wakes it.
            notified.as_mut().enable();
            if lock(&self.climb).try_start() {
                break;
            }
            notified.await;
        }
        Permit {
            gate: self,
            overloaded: false,
        }
    }
}

/// A turn to write; ends when dropped.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    overloaded: bool,
}

impl Permit {
    /// Says the server answered "too busy" (or not in time).
    pub fn overloaded(&mut self) {
        self.overloaded = true;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        lock(&self.gate.climb).finish(Instant::now(), self.overloaded);
        self.gate.wake.notify_waiters();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The limit of one collection and the measurements that move it.
#[derive(Debug)]
pub(super) struct Climb {
    limit: usize,
    in_flight: usize,
    window_start: Option<Instant>,
    done: usize,
    /// Writes per second at `limit`, smoothed over the windows.
    settled: Option<f64>,
    /// The limit a running trial came from.
    trial_from: Option<usize>,
    /// Windows until the next trial, and the wait after a failed one.
    until_trial: u32,
    spacing: u32,
    next_up: bool,
}

impl Default for Climb {
    fn default() -> Self {
        Climb {
            limit: 1,
            in_flight: 0,
            window_start: None,
            done: 0,
            settled: None,
            trial_from: None,
            until_trial: 0,
            spacing: FIRST_SPACING,
            next_up: true,
        }
    }
}

impl Climb {
    /// The current limit.
    #[cfg(test)]
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// Takes a turn when one is free.
    pub(super) fn try_start(&mut self) -> bool {
        if self.in_flight < self.limit {
            self.in_flight += 1;
            true
        } else {
            false
        }
    }

    /// Ends a turn at `now`.
    pub(super) fn finish(&mut self, now: Instant, overloaded: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if overloaded {
            self.limit = (self.limit / 2).max(1);
            self.restart_measuring();
            return;
        }
        let Some(start) = self.window_start else {
            // The first write ends the idle time before it; measuring starts here.
            self.window_start = Some(now);
            return;
        };
        self.done += 1;
        if self.done < WINDOW {
            return;
        }
        let elapsed = now
            .saturating_duration_since(start)
            .max(Duration::from_micros(1));
        let rate = self.done as f64 / elapsed.as_secs_f64();
        self.window_start = Some(now);
        self.done = 0;
        match self.trial_from.take() {
            Some(from) => self.judge_trial(from, rate),
            None => self.settle(rate),
        }
    }

    fn restart_measuring(&mut self) {
        self.window_start = None;
        self.done = 0;
        self.settled = None;
        self.trial_from = None;
        self.until_trial = self.spacing;
    }

    fn settle(&mut self, rate: f64) {
        self.settled = Some(self.settled.map_or(rate, |old| (old + rate) / 2.0));
        if self.until_trial > 0 {
            self.until_trial -= 1;
            return;
        }
        let up = self.limit < MAX_IN_FLIGHT;
        let down = self.limit > 1;
        let step_up = if self.next_up { up } else { !down && up };
        if step_up {
            self.trial_from = Some(self.limit);
            self.limit += 1;
        } else if down {
            self.trial_from = Some(self.limit);
            self.limit -= 1;
        }
    }

    fn judge_trial(&mut self, from: usize, rate: f64) {
        let settled = self.settled.unwrap_or(rate);
        let went_up = self.limit > from;
        let kept = if went_up {
            rate > settled * GAIN
        } else {
            rate >= settled * KEEP
        };
        if kept {
            // Keep going the same way at once.
            self.settled = Some(rate);
            self.spacing = FIRST_SPACING;
            self.until_trial = 0;
            self.next_up = went_up;
        } else {
            self.limit = from;
            self.until_trial = self.spacing;
            self.spacing = (self.spacing * 2).min(MAX_SPACING);
            self.next_up = !went_up;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `writes` writes against a server that completes `rate(limit)`
    /// writes a second, keeping the gate full; answers the limits it used.
    fn drive(writes: usize, rate: impl Fn(usize) -> f64) -> Vec<usize> {
        let mut climb = Climb::default();
        let mut now = Instant::now();
        let mut limits = Vec::new();
        for _ in 0..writes {
            while climb.try_start() {}
            now += Duration::from_secs_f64(1.0 / rate(climb.limit()));
            climb.finish(now, false);
            limits.push(climb.limit());
        }
        limits
    }

    #[test]
    fn a_server_that_is_its_own_bottleneck_gets_one_write_at_a_time() {
        // Two at once costs the server a fifth of its speed.
        let limits = drive(2_000, |limit| if limit == 1 { 100.0 } else { 80.0 });
        let at_one = limits.iter().filter(|&&limit| limit == 1).count();
        assert!(at_one > 1_900, "{at_one} of 2000 writes at one in flight");
        assert_eq!(limits.last(), Some(&1));
    }

    #[test]
    fn a_far_server_gets_more_writes_at_once_up_to_what_pays() {
        // Round trips dominate until four at once saturate the server.
        let limits = drive(800, |limit| 10.0 * limit.min(4) as f64);
        let late = &limits[400..];
        let at_four = late.iter().filter(|&&limit| limit == 4).count();
        assert!(at_four * 10 > late.len() * 8, "{limits:?}");
        assert!(
            late.iter().all(|&limit| (3..=5).contains(&limit)),
            "{limits:?}"
        );
    }

    #[test]
    fn the_limit_never_leaves_its_bounds() {
        // Each write more at once doubles the throughput.
        let limits = drive(2_000, |limit| 10.0 * 2f64.powi(limit as i32));
        assert!(
            limits
                .iter()
                .all(|&limit| (1..=MAX_IN_FLIGHT).contains(&limit))
        );
        assert_eq!(limits.last(), Some(&MAX_IN_FLIGHT));
    }

    #[test]
    fn a_busy_answer_halves_the_limit() {
        let mut climb = Climb {
            limit: 8,
            ..Climb::default()
        };
        let now = Instant::now();
        assert!(climb.try_start());
        climb.finish(now, true);
        assert_eq!(climb.limit(), 4);
        for _ in 0..4 {
            assert!(climb.try_start());
            climb.finish(now, true);
        }
        assert_eq!(climb.limit(), 1, "never below one");
    }

    #[tokio::test]
    async fn writes_past_the_limit_wait_for_a_turn() {
        let pacer = Arc::new(Pacer::default());
        let href = Url::parse("http://127.0.0.1:1/cal/a.ics").expect("a URL");
        let first = pacer.write_turn(&href).await;
        let other = Url::parse("http://127.0.0.1:1/cal/b.ics").expect("a URL");
        let waiting = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.write_turn(&other).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "one write at a time to start with");
        let elsewhere = Url::parse("http://127.0.0.1:1/other/c.ics").expect("a URL");
        let _free = pacer.write_turn(&elsewhere).await;
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(
            matches!(second, Ok(Ok(_))),
            "the freed turn went to the waiter"
        );
    }
}
