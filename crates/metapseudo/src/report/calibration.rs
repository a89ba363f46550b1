//! Calibration: expected calibration error (ECE) and the reliability diagram's bins.

use serde::{Deserialize, Serialize};

/// One confidence bin of a reliability diagram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower confidence bound (exclusive, except for the first bin).
    pub lower: f64,
    /// Upper confidence bound (inclusive).
    pub upper: f64,
    /// Predictions whose confidence falls in the bin.
    pub count: usize,
    /// Mean confidence of those predictions (0 when empty).
    pub confidence: f64,
    /// Fraction of them that are correct (0 when empty).
    pub accuracy: f64,
}

/// How well predicted confidences match observed accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Expected calibration error: `sum_b n_b / N * |accuracy_b - confidence_b|`.
    pub ece: f64,
    /// Equal-width confidence bins over `[0, 1]`.
    pub bins: Vec<ReliabilityBin>,
}

/// Calibration of class-probability rows against true classes, with `bins` equal-width bins.
/// A prediction's confidence is its largest probability; it is correct when that class is the
/// true one.
pub fn calibration(probs: &[Vec<f32>], truth: &[usize], bins: usize) -> Calibration {
    let bins = bins.max(1);
    let mut count = vec![0usize; bins];
    let mut conf_sum = vec![0.0f64; bins];
    let mut correct = vec![0usize; bins];
    for (row, &t) in probs.iter().zip(truth) {
        let (pred, conf) = row
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
                if p > best.1 { (i, p) } else { best }
            });
        let conf = f64::from(conf).clamp(0.0, 1.0);
        // Bin b holds (b/B, (b+1)/B]; a confidence of exactly 0 goes to the first bin. The
        // tolerance keeps an f32 0.6 (0.6000000238 as f64) in the bin that ends at 0.6.
        let b = ((conf * bins as f64 - 1e-6).ceil() as usize).clamp(1, bins) - 1;
        count[b] += 1;
        conf_sum[b] += conf;
        correct[b] += usize::from(pred == t);
    }
    let n = probs.len().max(1) as f64;
    let bins: Vec<ReliabilityBin> = (0..bins)
        .map(|b| {
            let c = count[b];
            let mean = |s: f64| if c == 0 { 0.0 } else { s / c as f64 };
            ReliabilityBin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: c,
                confidence: mean(conf_sum[b]),
                accuracy: mean(correct[b] as f64),
            }
        })
        .collect();
    let ece = bins
        .iter()
        .map(|b| b.count as f64 / n * (b.accuracy - b.confidence).abs())
        .sum();
    Calibration { ece, bins }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::softmax_rows;

    #[test]
    fn ece_of_hand_made_predictions() {
        // Bin (0.5, 0.6]: confidences 0.6 and 0.6, one correct -> |0.5 - 0.6| = 0.1.
        // Bin (0.9, 1.0]: confidences 0.95 and 1.0, both correct -> |1 - 0.975| = 0.025.
        let probs = vec![
            vec![0.6, 0.4],
            vec![0.4, 0.6],
            vec![0.95, 0.05],
            vec![0.0, 1.0],
        ];
        let truth = [0, 0, 0, 1];
        let c = calibration(&probs, &truth, 10);
        let expected = 0.5 * 0.1 + 0.5 * 0.025;
        assert!((c.ece - expected).abs() < 1e-6, "{}", c.ece);
        assert_eq!(c.bins.len(), 10);
        assert_eq!(c.bins[5].count, 2);
        assert!((c.bins[5].accuracy - 0.5).abs() < 1e-12);
        assert!((c.bins[5].confidence - 0.6).abs() < 1e-6);
        assert_eq!(c.bins[9].count, 2);
        assert_eq!(c.bins.iter().map(|b| b.count).sum::<usize>(), 4);
    }

    #[test]
    fn perfectly_calibrated_and_softmax() {
        let c = calibration(&[vec![1.0, 0.0], vec![0.0, 1.0]], &[0, 1], 5);
        assert_eq!(c.ece, 0.0);
        let p = softmax_rows(&[vec![0.0, 0.0], vec![1000.0, 0.0]]);
        assert_eq!(p[0], vec![0.5, 0.5]);
        assert_eq!(p[1], vec![1.0, 0.0]);
    }
}
