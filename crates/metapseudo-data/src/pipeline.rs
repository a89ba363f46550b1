//! Batches for semi-supervised training: labeled `(x, y)` plus unlabeled (weak, strong) pairs.

use crate::augment::NoiseView;
use crate::dataset::Samples;
use crate::rng::Rng;
use crate::sampler::{EpochSampler, SamplerState};
use serde::{Deserialize, Serialize};

/// One training batch; features are row-major with `dim` values per sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Features per sample.
    pub dim: usize,
    /// Labeled inputs (weak view), `labels.len()` rows.
    pub labeled: Vec<f32>,
    /// Class of each labeled row.
    pub labels: Vec<usize>,
    /// Unlabeled inputs, weak view.
    pub unlabeled_weak: Vec<f32>,
    /// The same unlabeled inputs, strong view.
    pub unlabeled_strong: Vec<f32>,
}

impl Batch {
    /// Number of labeled rows.
    pub fn num_labeled(&self) -> usize {
        self.labels.len()
    }

    /// Number of unlabeled rows.
    pub fn num_unlabeled(&self) -> usize {
        self.unlabeled_weak.len() / self.dim.max(1)
    }
}

/// Batch sizes and views.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineOptions {
    /// Labeled samples per batch.
    pub batch_size: usize,
    /// Unlabeled samples per labeled sample (0: no unlabeled data).
    pub mu: usize,
    /// The weak view (also applied to labeled samples).
    pub weak: NoiseView,
    /// The strong view.
    pub strong: NoiseView,
}

/// The saved position of a [`TabularPipeline`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineState {
    /// Labeled stream position.
    pub labeled: SamplerState,
    /// Unlabeled stream position.
    pub unlabeled: SamplerState,
    /// Augmentation generator.
    pub augment_rng: [u64; 4],
}

/// Endless batches from in-memory samples.
#[derive(Clone, Debug)]
pub struct TabularPipeline {
    samples: Samples,
    opts: PipelineOptions,
    labeled: EpochSampler,
    unlabeled: EpochSampler,
    rng: Rng,
}

impl TabularPipeline {
    /// A pipeline drawing labeled batches from `labeled_idx` and unlabeled ones from
    /// `unlabeled_idx`, all indices into `samples` (already normalised). `seed` fixes batch order
    /// and augmentation.
    pub fn new(
        samples: Samples,
        labeled_idx: Vec<usize>,
        unlabeled_idx: Vec<usize>,
        opts: PipelineOptions,
        seed: u64,
    ) -> Self {
        let unlabeled_pool = if unlabeled_idx.is_empty() {
            labeled_idx.clone()
        } else {
            unlabeled_idx
        };
        Self {
            labeled: EpochSampler::new(labeled_idx, Rng::stream(seed, "batches/labeled")),
            unlabeled: EpochSampler::new(unlabeled_pool, Rng::stream(seed, "batches/unlabeled")),
            rng: Rng::stream(seed, "augment"),
            samples,
            opts,
        }
    }

    /// Unlabeled samples in one epoch of the unlabeled stream.
    pub fn unlabeled_epoch_len(&self) -> usize {
        self.unlabeled.pool_len()
    }

    fn gather(&mut self, idx: &[usize], view: NoiseView) -> Vec<f32> {
        let d = self.samples.dim;
        let mut out = Vec::with_capacity(idx.len() * d);
        for &i in idx {
            let start = out.len();
            out.extend_from_slice(self.samples.row(i));
            view.apply(&mut out[start..], &mut self.rng);
        }
        out
    }

    /// The next batch.
    pub fn next_batch(&mut self) -> Batch {
        let li = self.labeled.next_batch(self.opts.batch_size);
        let labels = li
            .iter()
            .map(|&i| self.samples.labels[i].expect("labeled pool holds labeled samples"))
            .collect();
        let labeled = self.gather(&li, self.opts.weak);
        let ui = self
            .unlabeled
            .next_batch(self.opts.batch_size * self.opts.mu);
        let unlabeled_weak = self.gather(&ui, self.opts.weak);
        let unlabeled_strong = self.gather(&ui, self.opts.strong);
        Batch {
            dim: self.samples.dim,
            labeled,
            labels,
            unlabeled_weak,
            unlabeled_strong,
        }
    }

    /// The position to save in a checkpoint.
    pub fn state(&self) -> PipelineState {
        PipelineState {
            labeled: self.labeled.state(),
            unlabeled: self.unlabeled.state(),
            augment_rng: self.rng.state(),
        }
    }

    /// Continues from a saved position.
    pub fn restore(&mut self, state: &PipelineState) {
        self.labeled.restore(&state.labeled);
        self.unlabeled.restore(&state.unlabeled);
        self.rng = Rng::from_state(state.augment_rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(seed: u64) -> TabularPipeline {
        let mut s = Samples::new(2);
        for i in 0..20 {
            s.push(&[i as f32, -(i as f32)], Some(i % 2));
        }
        let opts = PipelineOptions {
            batch_size: 4,
            mu: 3,
            weak: NoiseView::NONE,
            strong: NoiseView {
                noise_std: 0.1,
                feature_dropout: 0.0,
            },
        };
        TabularPipeline::new(s, vec![0, 1, 2, 3, 4, 5], (0..20).collect(), opts, seed)
    }

    #[test]
    fn batch_composition() {
        let mut p = pipeline(1);
        let b = p.next_batch();
        assert_eq!(b.num_labeled(), 4);
        assert_eq!(b.num_unlabeled(), 12);
        assert_eq!(b.labeled.len(), 8);
        for (k, &y) in b.labels.iter().enumerate() {
            let x = b.labeled[2 * k] as usize;
            assert!(x < 6 && x % 2 == y);
        }
        for k in 0..12 {
            let w = &b.unlabeled_weak[2 * k..2 * k + 2];
            let s = &b.unlabeled_strong[2 * k..2 * k + 2];
            assert_eq!(w[0], -w[1]);
            assert!((w[0] - s[0]).abs() < 0.6 && w != s);
        }
    }

    #[test]
    fn resume_reproduces_the_stream() {
        let mut p = pipeline(3);
        for _ in 0..5 {
            p.next_batch();
        }
        let state = p.state();
        let expected: Vec<Batch> = (0..4).map(|_| p.next_batch()).collect();
        let mut q = pipeline(3);
        q.restore(&state);
        let got: Vec<Batch> = (0..4).map(|_| q.next_batch()).collect();
        assert_eq!(got, expected);
        assert_ne!(pipeline(4).next_batch(), pipeline(3).next_batch());
    }
}
