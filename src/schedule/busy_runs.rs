//! Which candidate slots busy spans block, without a query per candidate:
//! each span blocks the contiguous run of sorted candidate starts it
//! overlaps, found by two lookups, and a running sum over the runs' ends
//! marks every blocked candidate in one pass.

/// Sorted candidate starts (seconds) with a table of where each grid step
/// begins among them, so finding a time's place is a table read and a look
/// at the few starts inside one step rather than a binary search.
pub(crate) struct Starts {
    starts: Vec<i64>,
    step: i64,
    /// `table[b]`: how many starts lie before `first + b * step`.
    table: Vec<usize>,
}

impl Starts {
    /// `starts` must be sorted; `step` is the grid's spacing in seconds.
    pub(crate) fn new(starts: Vec<i64>, step: i64) -> Starts {
        let step = step.max(1);
        let mut table = Vec::new();
        if let (Some(&first), Some(&last)) = (starts.first(), starts.last()) {
            let steps = usize::try_from((last - first) / step + 2).unwrap_or(0);
            table.reserve(steps);
            let mut below = 0;
            for b in 0..steps as i64 {
                let bound = first + b * step;
                while below < starts.len() && starts[below] < bound {
                    below += 1;
                }
                table.push(below);
            }
        }
        Starts {
            starts,
            step,
            table,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// The first and last start.
    pub(crate) fn range(&self) -> Option<(i64, i64)> {
        Some((*self.starts.first()?, *self.starts.last()?))
    }

    /// How many starts lie before `at`.
    fn below(&self, at: i64) -> usize {
        let Some(&first) = self.starts.first() else {
            return 0;
        };
        if at <= first {
            return 0;
        }
        let b = usize::try_from((at - first) / self.step).unwrap_or(usize::MAX);
        match (self.table.get(b), self.table.get(b + 1)) {
            (Some(&low), Some(&high)) => low + self.starts[low..high].partition_point(|&t| t < at),
            _ => self.starts.len(),
        }
    }
}

/// Which of the candidates a set of busy spans blocks. Every candidate covers
/// `[start - before, start + after)`; a span blocks the candidates it overlaps
/// (a zero-length span strictly inside one counts).
pub(crate) struct Blocked<'a> {
    starts: &'a Starts,
    /// Seconds before and after each candidate start.
    reach: (i64, i64),
    /// `+1` where a span's run begins, `-1` after it ends.
    changes: Vec<i32>,
}

impl<'a> Blocked<'a> {
    pub(crate) fn new(starts: &'a Starts, (before, after): (i64, i64)) -> Self {
        Blocked {
            starts,
            reach: (before, after),
            changes: vec![0; starts.len() + 1],
        }
    }

    /// Adds a busy span `[start, end)`.
    pub(crate) fn add(&mut self, (start, end): (i64, i64)) {
        // Blocked: `t + after > start` and `t - before < end`.
        let first = self.starts.below(start - self.reach.1 + 1);
        let last = self.starts.below(end + self.reach.0);
        if first < last {
            self.changes[first] += 1;
            self.changes[last] -= 1;
        }
    }

    /// Whether each candidate is blocked, in order.
    pub(crate) fn flags(&self) -> impl Iterator<Item = bool> + '_ {
        self.changes[..self.starts.len()]
            .iter()
            .scan(0, |depth, change| {
                *depth += change;
                Some(*depth > 0)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::{Blocked, Starts};
    use proptest::prelude::*;

    proptest! {
        /// The runs found by lookup are exactly the candidates a span overlaps.
        #[test]
        fn blocked_runs_match_a_check_of_every_candidate(
            mut starts in prop::collection::vec(0..2_000i64, 0..60),
            step in 1..200i64,
            spans in prop::collection::vec((-100..2_200i64, 0..120i64), 0..40),
            before in 0..50i64,
            length in 0..90i64,
            after in 0..50i64,
        ) {
            starts.sort_unstable();
            starts.dedup();
            let spans: Vec<(i64, i64)> = spans.into_iter().map(|(s, l)| (s, s + l)).collect();
            let grid = Starts::new(starts.clone(), step);
            let mut blocked = Blocked::new(&grid, (before, length + after));
            for &span in &spans {
                blocked.add(span);
            }
            let found: Vec<bool> = blocked.flags().collect();
            let expected: Vec<bool> = starts
                .iter()
                .map(|&t| {
                    let (from, until) = (t - before, t + length + after);
                    spans.iter().any(|&(s, e)| e > from && s < until)
                })
                .collect();
            prop_assert_eq!(found, expected);
        }
    }
}
