//! Endless shuffled streams of sample indices whose position is part of a checkpoint.

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// The saved position of an [`EpochSampler`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    /// Generator state at the start of the current epoch (the epoch's order is redrawn from it).
    pub epoch_rng: [u64; 4],
    /// Index of the next sample within the current epoch's order.
    pub pos: usize,
    /// Completed epochs.
    pub epoch: u64,
}

/// Cycles through a pool of indices in a fresh random order each epoch.
#[derive(Clone, Debug)]
pub struct EpochSampler {
    pool: Vec<usize>,
    order: Vec<usize>,
    rng: Rng,
    epoch_rng: Rng,
    pos: usize,
    epoch: u64,
}

impl EpochSampler {
    /// A sampler over `pool` (must not be empty) seeded by `rng`.
    pub fn new(pool: Vec<usize>, rng: Rng) -> Self {
        assert!(!pool.is_empty(), "a sampler needs a non-empty pool");
        let mut s = Self {
            order: Vec::new(),
            epoch_rng: rng.clone(),
            rng,
            pool,
            pos: 0,
            epoch: 0,
        };
        s.reshuffle();
        s
    }

    fn reshuffle(&mut self) {
        self.epoch_rng = self.rng.clone();
        self.order = self.pool.clone();
        self.rng.shuffle(&mut self.order);
        self.pos = 0;
    }

    /// The next `n` indices; crossing an epoch boundary starts a new order.
    pub fn next_batch(&mut self, n: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.pos == self.order.len() {
                self.epoch += 1;
                self.reshuffle();
            }
            out.push(self.order[self.pos]);
            self.pos += 1;
        }
        out
    }

    /// Size of the pool (one epoch).
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// The position to save in a checkpoint.
    pub fn state(&self) -> SamplerState {
        SamplerState {
            epoch_rng: self.epoch_rng.state(),
            pos: self.pos,
            epoch: self.epoch,
        }
    }

    /// Restores a saved position over the same pool.
    pub fn restore(&mut self, state: &SamplerState) {
        self.rng = Rng::from_state(state.epoch_rng);
        self.reshuffle();
        self.pos = state.pos.min(self.order.len());
        self.epoch = state.epoch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_is_a_permutation_and_restore_continues_exactly() {
        let mut s = EpochSampler::new((0..10).collect(), Rng::new(4));
        let mut first = s.next_batch(10);
        first.sort_unstable();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        s.next_batch(3);
        let saved = s.state();
        let expected: Vec<usize> = s.next_batch(25);
        let mut t = EpochSampler::new((0..10).collect(), Rng::new(99));
        t.restore(&saved);
        assert_eq!(t.next_batch(25), expected);
        assert_eq!(t.state(), s.state());
    }
}
