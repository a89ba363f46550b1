//! Standardisation fitted on the training pool: per feature for tabular data, per channel for
//! images.

use crate::dataset::{Examples, Samples};
use crate::image::ImageSet;
use serde::{Deserialize, Serialize};

/// Affine normalisation `(x - mean) / std` with one `(mean, std)` pair per run of `plane`
/// consecutive features: `plane = 1` for tabular data, `height * width` for channel-planar
/// images (one pair per channel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Mean of each feature (or channel).
    pub mean: Vec<f32>,
    /// Standard deviation of each feature or channel (1 where it is constant).
    pub std: Vec<f32>,
    /// Consecutive features sharing one pair.
    pub plane: usize,
}

/// Means and standard deviations from sums and sums of squares over `n` values each.
fn moments(sum: &[f64], sq: &[f64], n: f64) -> (Vec<f32>, Vec<f32>) {
    let n = n.max(1.0);
    sum.iter()
        .zip(sq)
        .map(|(s, q)| {
            let m = s / n;
            let var = (q / n - m * m).max(0.0);
            (m as f32, if var < 1e-12 { 1.0 } else { var.sqrt() as f32 })
        })
        .unzip()
}

impl Normalizer {
    /// The identity normalisation for examples of `feature_len` features.
    pub fn identity(feature_len: usize) -> Self {
        Self {
            mean: vec![0.0],
            std: vec![1.0],
            plane: feature_len.max(1),
        }
    }

    /// Fits on `examples`: per feature for rows, per channel (of the `[0, 1]`-scaled pixels)
    /// for images.
    pub fn fit(examples: &Examples) -> Self {
        match examples {
            Examples::Table(s) => Self::fit_rows(s),
            Examples::Images(s) => Self::fit_channels(s),
        }
    }

    fn fit_rows(samples: &Samples) -> Self {
        let d = samples.dim;
        let mut sum = vec![0.0f64; d];
        let mut sq = vec![0.0f64; d];
        for i in 0..samples.len() {
            for (j, &v) in samples.row(i).iter().enumerate() {
                sum[j] += f64::from(v);
                sq[j] += f64::from(v) * f64::from(v);
            }
        }
        let (mean, std) = moments(&sum, &sq, samples.len() as f64);
        Self {
            mean,
            std,
            plane: 1,
        }
    }

    fn fit_channels(set: &ImageSet) -> Self {
        let c = set.channels;
        let mut sum = vec![0u64; c];
        let mut sq = vec![0u64; c];
        for px in set.pixels.chunks_exact(c) {
            for ch in 0..c {
                let v = u64::from(px[ch]);
                sum[ch] += v;
                sq[ch] += v * v;
            }
        }
        let scale = |v: &[u64], k: f64| v.iter().map(|&x| x as f64 / k).collect::<Vec<_>>();
        let n = (set.pixels.len() / c.max(1)) as f64;
        let (mean, std) = moments(&scale(&sum, 255.0), &scale(&sq, 255.0 * 255.0), n);
        Self {
            mean,
            std,
            plane: set.height * set.width,
        }
    }

    /// Normalises one example's features in place.
    pub fn apply_row(&self, row: &mut [f32]) {
        for ((chunk, m), s) in row.chunks_mut(self.plane).zip(&self.mean).zip(&self.std) {
            for v in chunk {
                *v = (*v - m) / s;
            }
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
        let n = Normalizer::fit(&s.clone().into());
        assert!((n.mean[0] - 3.0).abs() < 1e-6);
        assert!((n.std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(n.std[1], 1.0);
        let mut rows: Vec<Vec<f32>> = (0..3).map(|i| s.row(i).to_vec()).collect();
        for r in &mut rows {
            n.apply_row(r);
        }
        assert!(rows[0][0] < 0.0 && rows[2][0] > 0.0);
        assert_eq!(rows[1], vec![0.0, 0.0]);
    }

    #[test]
    fn images_get_one_pair_per_channel() {
        // Two 1x2 RGB images; red is 0 or 255, green constant 51, blue 0.
        let set = ImageSet {
            pixels: vec![0, 51, 0, 255, 51, 0, 0, 51, 0, 255, 51, 0],
            height: 1,
            width: 2,
            channels: 3,
            labels: vec![None, None],
        };
        let n = Normalizer::fit(&set.clone().into());
        assert_eq!(n.plane, 2);
        assert!((n.mean[0] - 0.5).abs() < 1e-6 && (n.std[0] - 0.5).abs() < 1e-6);
        assert!((n.mean[1] - 0.2).abs() < 1e-6 && n.std[1] == 1.0);
        let mut row = vec![0.0; 6];
        set.write_chw(set.image(0), &mut row);
        n.apply_row(&mut row);
        assert_eq!(row, vec![-1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        let id = Normalizer::identity(6);
        let mut same = vec![0.25; 6];
        id.apply_row(&mut same);
        assert_eq!(same, vec![0.25; 6]);
    }
}
