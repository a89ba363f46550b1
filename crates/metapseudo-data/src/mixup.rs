//! Mixup on a batch (Zhang et al., 2018): each example is blended with a partner from the same
//! batch, `x_i <- lambda_i * x_i + (1 - lambda_i) * x_partner(i)`, with a per-example
//! `lambda_i ~ Beta(alpha, alpha)`; the loss blends the two labels with the same weights.

use crate::rng::Rng;

/// How a batch was mixed.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    /// Row of each example's partner in the batch.
    pub partner: Vec<usize>,
    /// Weight of each example's own row (and label).
    pub lambda: Vec<f32>,
}

/// Mixes the `dim`-feature rows of `features` in place.
pub fn mixup(features: &mut [f32], dim: usize, alpha: f64, rng: &mut Rng) -> Mix {
    let n = features.len() / dim.max(1);
    let mut partner: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut partner);
    let lambda: Vec<f32> = (0..n).map(|_| rng.beta(alpha, alpha) as f32).collect();
    let original = features.to_vec();
    for (i, row) in features.chunks_exact_mut(dim).enumerate() {
        let other = &original[partner[i] * dim..(partner[i] + 1) * dim];
        let l = lambda[i];
        for (v, o) in row.iter_mut().zip(other) {
            *v = l * *v + (1.0 - l) * o;
        }
    }
    Mix { partner, lambda }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_convex_blends_of_two_rows() {
        let mut x: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let mix = mixup(&mut x, 2, 0.75, &mut Rng::new(2));
        for i in 0..4 {
            let (l, p) = (mix.lambda[i], mix.partner[i]);
            assert!((0.0..=1.0).contains(&l));
            let expect = l * (2 * i) as f32 + (1.0 - l) * (2 * p) as f32;
            assert!((x[2 * i] - expect).abs() < 1e-5);
        }
        let mut sorted = mix.partner.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2, 3]);
    }
}
