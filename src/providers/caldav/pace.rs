//! How many writes the adapter keeps in flight to one calendar collection.
//!
//! A server applies the writes to one collection one after another (each
//! moves the collection's ctag and sync token), so sending many at once only
//! pays while the round trip, not the server, is what a write waits on: a few
//! writes at once hide the network's latency to iCloud, while a server next
//! door (Radicale, Xandikos) works in one thread and only queues them. Two in
//! flight is the baseline: one being stored and one waiting, so that the
//! server never sits idle while the client reads the answer and sends the
//! next write; a server that stores one write at a time loses nothing by it.
//! Rather than guess which kind a server is, each collection's gate measures:
//! now and then it tries one more (or one fewer) write in flight for a few
//! writes. With `n` writes in flight each taking `t`, the server completes
//! `n / t` a second (Little's law), so the few writes' round trips tell
//! whether the change pays: a server that is its own bottleneck answers two
//! writes at once in twice the time, a far one in about the same. A step away
//! from the baseline is kept only when it raises the throughput by a tenth
//! (a far server climbs; a server that slows down when it gets two writes at
//! once, such as one sharing its cores with the client, drops to one); a step
//! back toward it, when it keeps nearly all of it. Little's law holds only
//! while the gate is full, so only writes that started with `n` in flight are
//! measured: the first write of a step up meets a shorter queue and would
//! flatter it. A trial is compared with the last few writes before it, not
//! with an average over the whole run (a collection gets slower as it grows).
//! Trials that fail come more and more rarely, and a trial that finds too few
//! writes waiting to fill the gate is dropped. A write that the server
//! answers with "too busy" (423, 429, 503) or that times out halves the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use url::Url;

/// The most writes in flight to one collection.
pub const MAX_IN_FLIGHT: usize = 8;
/// Writes measured before a trial is judged, and before the first one.
const SAMPLES: u32 = 5;
/// Writes of a trial that may go unmeasured (the gate was not full) before
/// the trial is dropped.
const UNMEASURED: u32 = 2 * SAMPLES;
/// Where a gate starts: one write being stored and one waiting, so that a
/// server never sits idle while the client turns around.
const BASELINE: usize = 2;
/// A step away from the baseline is kept when it raises the throughput by
/// this factor.
const GAIN: f64 = 1.1;
/// A step toward the baseline is kept when it keeps at least this share of
/// the throughput.
const KEEP: f64 = 0.95;
/// Writes between trials after the first failed one; doubles on each failure.
const FIRST_SPACING: u32 = 32;
/// The most writes between trials.
const MAX_SPACING: u32 = 512;

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
        let turn = loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            // Registered before looking, so a turn freed in between wakes it.
            notified.as_mut().enable();
            if let Some(turn) = lock(&self.climb).try_start() {
                break turn;
            }
            notified.await;
        };
        Permit {
            gate: self,
            started: Instant::now(),
            turn,
            overloaded: false,
        }
    }
}

/// A turn to write; ends when dropped.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Gate>,
    started: Instant,
    turn: Turn,
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
        let took = self.started.elapsed();
        lock(&self.gate.climb).finish(self.turn, took, self.overloaded);
        self.gate.wake.notify_waiters();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A write's place in its gate: the limit it started under, and whether the
/// gate was full then (only such writes are measured).
#[derive(Clone, Copy, Debug)]
pub(super) struct Turn {
    epoch: u64,
    full: bool,
}

/// The limit of one collection and the measurements that move it.
#[derive(Debug)]
pub(super) struct Climb {
    limit: usize,
    in_flight: usize,
    /// Goes up whenever the limit changes; a write is measured only against
    /// the limit it started under.
    epoch: u64,
    /// Round trips (seconds) of the last measured writes at the settled limit.
    recent: VecDeque<f64>,
    trial: Option<Trial>,
    /// Measured writes until the next trial, and the wait after a failed one.
    until_trial: u32,
    spacing: u32,
    next_up: bool,
}

/// A limit being tried.
#[derive(Debug)]
struct Trial {
    from: usize,
    total: f64,
    count: u32,
    unmeasured: u32,
}

impl Default for Climb {
    fn default() -> Self {
        Climb {
            limit: BASELINE,
            in_flight: 0,
            epoch: 0,
            recent: VecDeque::new(),
            trial: None,
            // The first writes meet a cold connection and a cold server.
            until_trial: 2 * SAMPLES,
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
    pub(super) fn try_start(&mut self) -> Option<Turn> {
        if self.in_flight < self.limit {
            self.in_flight += 1;
            Some(Turn {
                epoch: self.epoch,
                full: self.in_flight == self.limit,
            })
        } else {
            None
        }
    }

    /// Ends `turn`, which took `took`.
    pub(super) fn finish(&mut self, turn: Turn, took: Duration, overloaded: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if overloaded {
            self.limit = (self.limit / 2).max(1);
            self.settle_at(self.limit);
            self.until_trial = self.spacing;
            return;
        }
        if turn.epoch != self.epoch {
            return;
        }
        let seconds = took.as_secs_f64().max(1e-6);
        if let Some(mut trial) = self.trial.take() {
            if turn.full {
                trial.total += seconds;
                trial.count += 1;
            } else {
                trial.unmeasured += 1;
            }
            if trial.count >= SAMPLES {
                self.judge(&trial);
            } else if trial.unmeasured >= UNMEASURED {
                // Too few writes waiting to tell: back to where it was.
                let from = trial.from;
                self.settle_at(from);
                self.until_trial = self.spacing;
                self.spacing = (self.spacing * 2).min(MAX_SPACING);
            } else {
                self.trial = Some(trial);
            }
            return;
        }
        if !turn.full {
            return;
        }
        if self.recent.len() == SAMPLES as usize {
            self.recent.pop_front();
        }
        self.recent.push_back(seconds);
        self.until_trial = self.until_trial.saturating_sub(1);
        if self.until_trial == 0 && self.recent.len() == SAMPLES as usize {
            self.start_trial();
        }
    }

    /// Settles at `limit` with nothing measured there yet.
    fn settle_at(&mut self, limit: usize) {
        self.limit = limit;
        self.epoch += 1;
        self.recent.clear();
        self.trial = None;
    }

    fn start_trial(&mut self) {
        let up = self.limit < MAX_IN_FLIGHT;
        let down = self.limit > 1;
        let step_up = if self.next_up { up } else { !down && up };
        let to = if step_up {
            self.limit + 1
        } else if down {
            self.limit - 1
        } else {
            return;
        };
        self.trial = Some(Trial {
            from: self.limit,
            total: 0.0,
            count: 0,
            unmeasured: 0,
        });
        self.limit = to;
        self.epoch += 1;
    }

    fn judge(&mut self, trial: &Trial) {
        let mean = trial.total / f64::from(trial.count);
        let recent = self.recent.iter().sum::<f64>() / self.recent.len().max(1) as f64;
        // Writes a second before and during the trial (Little's law).
        let before = trial.from as f64 / recent.max(1e-6);
        let during = self.limit as f64 / mean;
        let went_up = self.limit > trial.from;
        let away = self.limit.abs_diff(BASELINE) > trial.from.abs_diff(BASELINE);
        let kept = if away {
            during > before * GAIN
        } else {
            during >= before * KEEP
        };
        if kept {
            // Keep going the same way soon.
            let limit = self.limit;
            self.settle_at(limit);
            self.until_trial = SAMPLES;
            self.spacing = FIRST_SPACING;
            self.next_up = went_up;
        } else {
            self.settle_at(trial.from);
            self.until_trial = self.spacing;
            self.spacing = (self.spacing * 2).min(MAX_SPACING);
            self.next_up = !went_up;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `writes` writes through a gate: `start(in_flight, now)` answers
    /// when a write started now finishes, or `None` when no writer is ready;
    /// answers the limit after each write.
    fn simulate(writes: usize, mut start: impl FnMut(usize, f64) -> Option<f64>) -> Vec<usize> {
        let mut climb = Climb::default();
        let mut now = 0.0;
        // (finishes at, started at, turn)
        let mut in_flight: Vec<(f64, f64, Turn)> = Vec::new();
        let mut limits = Vec::new();
        for _ in 0..writes {
            while climb.in_flight < climb.limit
                && let Some(finishes) = start(in_flight.len(), now)
                && let Some(turn) = climb.try_start()
            {
                in_flight.push((finishes, now, turn));
            }
            in_flight.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (finishes, started, turn) = in_flight.remove(0);
            now = finishes;
            climb.finish(turn, Duration::from_secs_f64(finishes - started), false);
            limits.push(climb.limit());
        }
        limits
    }

    /// Runs `writes` writes against a server that completes `rate(n)` writes
    /// a second with `n` in flight, keeping the gate full.
    fn drive(writes: usize, rate: impl Fn(usize) -> f64) -> Vec<usize> {
        simulate(writes, |before, now| {
            let n = before + 1;
            Some(now + n as f64 / rate(n))
        })
    }

    /// Runs `writes` writes against a server that stores one write at a time,
    /// first come first served, each taking `service` seconds of its time,
    /// `latency` seconds away (there and back), with `writers` writes ready
    /// to go at any time.
    fn drive_queue(writes: usize, writers: usize, service: f64, latency: f64) -> Vec<usize> {
        let mut server_free = 0.0_f64;
        simulate(writes, move |before, now| {
            (before < writers).then(|| {
                server_free = server_free.max(now + latency / 2.0) + service;
                server_free + latency / 2.0
            })
        })
    }

    #[test]
    fn a_server_next_door_that_queues_writes_keeps_one_waiting() {
        // 7 ms of the server's time per write, 0.1 ms away: a third write in
        // flight only waits behind the other two. Its first round trip meets
        // a shorter queue, which must not pass for a gain.
        for writers in [8, 64] {
            let limits = drive_queue(2_000, writers, 0.007, 0.0001);
            let at_two = limits.iter().filter(|&&limit| limit == 2).count();
            assert!(at_two > 1_950, "{at_two} of 2000 writes at two in flight");
            assert!(limits.iter().all(|&limit| limit <= 3), "{limits:?}");
        }
    }

    #[test]
    fn a_far_queueing_server_gets_enough_writes_to_hide_the_round_trip() {
        // 7 ms per write, 40 ms away: about seven in flight keep it busy.
        let limits = drive_queue(2_000, 64, 0.007, 0.040);
        let late = &limits[1_000..];
        assert!(late.iter().all(|&limit| limit >= 5), "{late:?}");
    }

    #[test]
    fn writes_that_come_one_by_one_start_no_trial() {
        // One writer never fills a gate of two, so nothing is measured.
        let limits = drive_queue(2_000, 1, 0.007, 0.0001);
        assert!(limits.iter().all(|&limit| limit == BASELINE), "{limits:?}");
    }

    #[test]
    fn a_trial_without_enough_writers_to_fill_it_is_dropped() {
        // Two writers fill a gate of two but never one of three.
        let limits = drive_queue(2_000, 2, 0.007, 0.040);
        let at_three = limits.iter().filter(|&&limit| limit == 3).count();
        assert!(
            at_three < 100,
            "{at_three} of 2000 writes under a limit of three"
        );
        assert_eq!(limits.last(), Some(&2));
    }

    #[test]
    fn a_server_that_slows_down_with_two_writes_gets_one_at_a_time() {
        // Two at once costs the server a fifth of its speed.
        let limits = drive(2_000, |n| if n <= 1 { 100.0 } else { 80.0 });
        let at_one = limits.iter().filter(|&&limit| limit == 1).count();
        assert!(at_one > 1_900, "{at_one} of 2000 writes at one in flight");
        assert_eq!(limits.last(), Some(&1));
    }

    #[test]
    fn a_far_server_gets_more_writes_at_once_up_to_what_pays() {
        // Round trips dominate until four at once saturate the server.
        let limits = drive(800, |n| 10.0 * n.min(4) as f64);
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
        let limits = drive(2_000, |n| 10.0 * 2f64.powi(n as i32));
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
        let turn = climb.try_start().expect("a free turn");
        climb.finish(turn, Duration::from_millis(5), true);
        assert_eq!(climb.limit(), 4);
        for _ in 0..4 {
            let turn = climb.try_start().expect("a free turn");
            climb.finish(turn, Duration::from_millis(5), true);
        }
        assert_eq!(climb.limit(), 1, "never below one");
    }

    #[tokio::test]
    async fn writes_past_the_limit_wait_for_a_turn() {
        let pacer = Arc::new(Pacer::default());
        let href = Url::parse("http://127.0.0.1:1/cal/a.ics").expect("a URL");
        let first = pacer.write_turn(&href).await;
        let _second = pacer.write_turn(&href).await;
        let other = Url::parse("http://127.0.0.1:1/cal/b.ics").expect("a URL");
        // Polled by hand, so that what it finds does not depend on when a
        // task would have run.
        let waiting = pacer.write_turn(&other);
        tokio::pin!(waiting);
        assert!(
            futures::poll!(waiting.as_mut()).is_pending(),
            "two writes at a time to start with"
        );
        let elsewhere = Url::parse("http://127.0.0.1:1/other/c.ics").expect("a URL");
        let _free = pacer.write_turn(&elsewhere).await;
        drop(first);
        assert!(
            futures::poll!(waiting.as_mut()).is_ready(),
            "the freed turn went to the waiter"
        );
    }
}
