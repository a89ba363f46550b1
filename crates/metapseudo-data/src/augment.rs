//! Noise views for non-image data: the "weak" and "strong" views of an unlabeled sample.
//!
//! A view adds Gaussian noise of standard deviation `noise_std` to every (normalised) feature,
//! then sets each feature to 0 (the feature's mean after standardisation) with probability
//! `feature_dropout`. The defaults make the weak view a small jitter and the strong view a
//! larger jitter with a fifth of the features masked, the tabular analogue of flip-and-crop
//! versus RandAugment-and-Cutout.

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// One noise augmentation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseView {
    /// Standard deviation of additive Gaussian noise, in normalised units.
    pub noise_std: f32,
    /// Probability of zeroing each feature.
    pub feature_dropout: f32,
}

impl NoiseView {
    /// No augmentation at all.
    pub const NONE: NoiseView = NoiseView {
        noise_std: 0.0,
        feature_dropout: 0.0,
    };

    /// Whether the view leaves samples unchanged.
    pub fn is_identity(&self) -> bool {
        self.noise_std == 0.0 && self.feature_dropout == 0.0
    }

    /// Augments `row` in place.
    pub fn apply(&self, row: &mut [f32], rng: &mut Rng) {
        if self.is_identity() {
            return;
        }
        for v in row.iter_mut() {
            if self.noise_std > 0.0 {
                *v += self.noise_std * rng.normal() as f32;
            }
            if self.feature_dropout > 0.0 && rng.bernoulli(f64::from(self.feature_dropout)) {
                *v = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_leaves_rows_and_rng_untouched() {
        let mut rng = Rng::new(1);
        let mut row = [1.0, 2.0];
        NoiseView::NONE.apply(&mut row, &mut rng);
        assert_eq!(row, [1.0, 2.0]);
        assert_eq!(rng, Rng::new(1));
    }

    #[test]
    fn noise_and_dropout_have_the_requested_strength() {
        let view = NoiseView {
            noise_std: 0.5,
            feature_dropout: 0.2,
        };
        let mut rng = Rng::new(2);
        let mut row = vec![3.0f32; 100_000];
        view.apply(&mut row, &mut rng);
        let zeros = row.iter().filter(|&&v| v == 0.0).count() as f64 / row.len() as f64;
        assert!((zeros - 0.2).abs() < 0.01, "dropout {zeros}");
        let kept: Vec<f32> = row.iter().copied().filter(|&v| v != 0.0).collect();
        let mean = kept.iter().sum::<f32>() / kept.len() as f32;
        let var = kept.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / kept.len() as f32;
        assert!((mean - 3.0).abs() < 0.01 && (var.sqrt() - 0.5).abs() < 0.01);
        let mut again = vec![3.0f32; 100_000];
        view.apply(&mut again, &mut Rng::new(2));
        assert_eq!(row, again);
    }
}
