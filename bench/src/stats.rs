//! Medians and spreads of repeated measurements.

/// The middle and the spread of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    /// The 10th percentile: a tenth of the samples are lower.
    pub p10: f64,
    /// The 90th percentile: a tenth of the samples are higher.
    pub p90: f64,
    pub n: usize,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            median: percentile(&sorted, 50.0),
            p10: percentile(&sorted, 10.0),
            p90: percentile(&sorted, 90.0),
            n: sorted.len(),
        })
    }
}

/// The `p`th percentile of sorted samples, interpolated between neighbours.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let rank = p / 100.0 * last as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - low as f64;
    sorted[low] * (1.0 - weight) + sorted[high.min(last)] * weight
}

/// Sample-by-sample ratios of two series measured in the same rounds: pairing
/// them cancels out what a noisy neighbour did to both in that round.
pub fn paired_ratios(numerators: &[f64], denominators: &[f64]) -> Vec<f64> {
    numerators
        .iter()
        .zip(denominators)
        .map(|(n, d)| n / d)
        .collect()
}

/// Sample-by-sample differences of two series measured in the same rounds.
pub fn paired_differences(minuends: &[f64], subtrahends: &[f64]) -> Vec<f64> {
    minuends
        .iter()
        .zip(subtrahends)
        .map(|(a, b)| a - b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&sorted, 50.0), 3.0);
        assert_eq!(percentile(&sorted, 0.0), 1.0);
        assert_eq!(percentile(&sorted, 100.0), 5.0);
        assert!((percentile(&sorted, 10.0) - 1.4).abs() < 1e-9);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn summaries_ignore_order_and_non_finite_samples() {
        let summary = Summary::of(&[5.0, f64::NAN, 1.0, 3.0]).expect("samples");
        assert_eq!(summary.median, 3.0);
        assert_eq!(summary.n, 3);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn pairs_are_taken_round_by_round() {
        assert_eq!(paired_ratios(&[2.0, 9.0], &[1.0, 3.0]), vec![2.0, 3.0]);
        assert_eq!(paired_differences(&[2.0, 9.0], &[1.0, 3.0]), vec![1.0, 6.0]);
    }
}
