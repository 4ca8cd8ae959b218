//! Timing calls in this process, side by side.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// How much measuring a figure gets.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Samples per contender.
    pub rounds: usize,
    /// About how long one sample runs: calls are batched up to it, so that
    /// the timer's own cost and resolution vanish from fast calls.
    pub sample: Duration,
}

/// Times each call `plan.rounds` times and returns, per call, the seconds one
/// call took in each round.
///
/// The contenders take turns within every round (in a rotating order), so
/// that a neighbour's burst of load on this shared machine slows them alike,
/// and a ratio of two of them can be taken round by round.
pub fn side_by_side(plan: Plan, calls: &mut [&mut dyn FnMut()]) -> Vec<Vec<f64>> {
    let batches: Vec<usize> = calls
        .iter_mut()
        .map(|call| batch_size(&mut **call, plan.sample))
        .collect();
    let mut samples = vec![Vec::with_capacity(plan.rounds); calls.len()];
    for round in 0..plan.rounds {
        for turn in 0..calls.len() {
            let i = (round + turn) % calls.len();
            samples[i].push(time_batch(&mut *calls[i], batches[i]));
        }
    }
    samples
}

/// Warms the call up, and finds how many calls fill one sample.
fn batch_size(call: &mut dyn FnMut(), sample: Duration) -> usize {
    let start = Instant::now();
    let mut calls = 0_u32;
    while calls < 2 || start.elapsed() < sample / 2 {
        call();
        calls += 1;
    }
    let per_call = start.elapsed() / calls;
    let batch = sample.as_nanos() / per_call.as_nanos().max(1);
    usize::try_from(batch).unwrap_or(usize::MAX).max(1)
}

fn time_batch(call: &mut dyn FnMut(), batch: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        call();
    }
    black_box(start.elapsed().as_secs_f64() / batch as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contender_gets_every_round() {
        let plan = Plan {
            rounds: 3,
            sample: Duration::from_micros(200),
        };
        let (mut a, mut b) = (0_u64, 0_u64);
        let samples = side_by_side(plan, &mut [&mut || a += 1, &mut || b += 1]);
        assert_eq!(samples.len(), 2);
        assert!(
            samples
                .iter()
                .all(|s| s.len() == 3 && s.iter().all(|t| *t >= 0.0))
        );
        assert!(a >= 5 && b >= 5);
    }
}
