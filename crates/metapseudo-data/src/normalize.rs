//! Per-feature standardisation fitted on the training pool.

use crate::dataset::Samples;
use serde::{Deserialize, Serialize};

/// Per-feature affine normalisation `(x - mean) / std`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Mean of each feature.
    pub mean: Vec<f32>,
    /// Standard deviation of each feature (1 where a feature is constant).
    pub std: Vec<f32>,
}

impl Normalizer {
    /// The identity normalisation for `dim` features.
    pub fn identity(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            std: vec![1.0; dim],
        }
    }

    /// Fits means and standard deviations on `samples`.
    pub fn fit(samples: &Samples) -> Self {
        let d = samples.dim;
        let n = samples.len().max(1) as f64;
        let mut mean = vec![0.0f64; d];
        let mut sq = vec![0.0f64; d];
        for i in 0..samples.len() {
            for (j, &v) in samples.row(i).iter().enumerate() {
                mean[j] += f64::from(v);
                sq[j] += f64::from(v) * f64::from(v);
            }
        }
        let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let var = (s / n - m * m).max(0.0);
                if var < 1e-12 { 1.0 } else { var.sqrt() as f32 }
            })
            .collect();
        Self {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    /// Normalises one row in place.
    pub fn apply_row(&self, row: &mut [f32]) {
        for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
    }

    /// Normalises every sample in place.
    pub fn apply(&self, samples: &mut Samples) {
        let d = samples.dim;
        for row in samples.features.chunks_mut(d) {
            self.apply_row(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_to_zero_mean_unit_variance_and_keeps_constants() {
        let mut s = Samples::new(2);
        for (a, b) in [(1.0, 5.0), (3.0, 5.0), (5.0, 5.0)] {
            s.push(&[a, b], None);
        }
        let n = Normalizer::fit(&s);
        assert!((n.mean[0] - 3.0).abs() < 1e-6);
        assert!((n.std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(n.std[1], 1.0);
        n.apply(&mut s);
        assert!(s.row(0)[0] < 0.0 && s.row(2)[0] > 0.0);
        assert_eq!(s.row(1), &[0.0, 0.0]);
    }
}
