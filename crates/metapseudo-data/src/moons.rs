//! The two-moons toy set of the MPL paper's figure 1: two interleaving half circles.

use crate::dataset::{Dataset, Samples};
use crate::rng::Rng;

/// How to generate the two-moons set.
#[derive(Clone, Debug, PartialEq)]
pub struct MoonsOptions {
    /// Training points (half per class).
    pub train_size: usize,
    /// Test points (half per class).
    pub test_size: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate.
    pub noise: f64,
    /// Seed of the generator; the set depends on it alone, never on the run's seed.
    pub seed: u64,
}

impl Default for MoonsOptions {
    fn default() -> Self {
        Self {
            train_size: 2000,
            test_size: 1000,
            noise: 0.1,
            seed: 0,
        }
    }
}

/// Draws `n` points: class 0 on the upper half circle, class 1 on the lower, shifted one.
fn draw(n: usize, noise: f64, rng: &mut Rng) -> Samples {
    let mut s = Samples::new(2);
    for i in 0..n {
        let class = i % 2;
        let t = rng.uniform() * std::f64::consts::PI;
        let (x, y) = if class == 0 {
            (t.cos(), t.sin())
        } else {
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        let x = x + noise * rng.normal();
        let y = y + noise * rng.normal();
        s.push(&[x as f32, y as f32], Some(class));
    }
    s
}

/// Generates the two-moons data set.
pub fn moons(opts: &MoonsOptions) -> Dataset {
    let train = draw(
        opts.train_size,
        opts.noise,
        &mut Rng::stream(opts.seed, "moons/train"),
    );
    let test = draw(
        opts.test_size,
        opts.noise,
        &mut Rng::stream(opts.seed, "moons/test"),
    );
    Dataset::new(
        "moons",
        train,
        test,
        vec!["upper".into(), "lower".into()],
        vec![2],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moons_are_balanced_deterministic_and_on_their_arcs() {
        let d = moons(&MoonsOptions::default());
        d.validate().unwrap();
        assert_eq!(d.train.len(), 2000);
        assert_eq!(d.test.len(), 1000);
        assert_eq!(d.train.class_counts(2), vec![1000, 1000]);
        assert_eq!(d, moons(&MoonsOptions::default()));
        let clean = moons(&MoonsOptions {
            noise: 0.0,
            ..Default::default()
        });
        for i in 0..clean.train.len() {
            let p = clean.train.table().unwrap().row(i);
            let (cx, cy) = if clean.train.labels()[i] == Some(0) {
                (0.0, 0.0)
            } else {
                (1.0, 0.5)
            };
            let r = ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt();
            assert!((r - 1.0).abs() < 1e-5);
        }
        let other = moons(&MoonsOptions {
            seed: 1,
            ..Default::default()
        });
        assert_ne!(
            other.train.table().unwrap().features,
            d.train.table().unwrap().features
        );
    }
}
