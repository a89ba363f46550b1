//! Pruning: stopping hopeless trials early, kept in the study as pruned with their last value.
//! [`MedianPruner`] is Optuna's `MedianPruner`: after its start-up trials, a trial whose value at
//! a step is below the median of the other finished trials' values at that step stops there.
//! [`SuccessiveHalving`] is Optuna's `SuccessiveHalvingPruner` (asynchronous successive halving):
//! at rungs of `min_steps * rate^k` steps a trial goes on only if its value is among the best
//! `1 / rate` of the values every trial reported at that rung.

use super::journal::{Study, TrialState};

/// A pruner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pruner {
    /// Optuna's median pruner.
    Median(MedianPruner),
    /// Optuna's successive halving pruner.
    SuccessiveHalving(SuccessiveHalving),
}

impl Pruner {
    /// Whether trial `id`, reporting `value` at `step`, should stop.
    pub fn prune(&self, study: &Study, id: usize, step: u64, value: f64) -> bool {
        match self {
            Pruner::Median(p) => p.prune(study, id, step, value),
            Pruner::SuccessiveHalving(p) => p.prune(study, id, step, value),
        }
    }
}

/// Asynchronous successive halving.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SuccessiveHalving {
    /// Steps of the first rung (a multiple of `train.eval_every`, where trials report).
    pub min_steps: u64,
    /// Reduction factor: the best `1 / rate` go on at each rung.
    pub rate: u64,
}

impl SuccessiveHalving {
    /// The rung `step` closes, if it is one: `min_steps * rate^k`.
    fn rung(&self, step: u64) -> Option<u32> {
        let mut at = self.min_steps.max(1);
        for k in 0..64 {
            if at == step {
                return Some(k);
            }
            if at > step {
                return None;
            }
            at = at.saturating_mul(self.rate.max(2));
        }
        None
    }

    /// Whether trial `id`, reporting `value` at `step`, should stop.
    pub fn prune(&self, study: &Study, id: usize, step: u64, value: f64) -> bool {
        if self.rung(step).is_none() {
            return false;
        }
        let mut values: Vec<f64> = study
            .trials
            .iter()
            .filter(|t| t.id != id)
            .filter_map(|t| t.intermediate.get(&step).copied())
            .filter(|v| v.is_finite())
            .collect();
        values.push(value);
        values.sort_by(|a, b| b.total_cmp(a));
        let promoted = (values.len() / self.rate.max(2) as usize).max(1);
        value < values[promoted - 1]
    }
}

/// Optuna's median pruner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MedianPruner {
    /// Finished trials needed before any pruning.
    pub startup_trials: usize,
    /// Steps before which no trial is pruned.
    pub warmup_steps: u64,
}

impl Default for MedianPruner {
    fn default() -> Self {
        Self {
            startup_trials: 5,
            warmup_steps: 0,
        }
    }
}

impl MedianPruner {
    /// Whether trial `id`, reporting `value` at `step`, should stop.
    pub fn prune(&self, study: &Study, id: usize, step: u64, value: f64) -> bool {
        if step < self.warmup_steps {
            return false;
        }
        let mut others: Vec<f64> = study
            .trials
            .iter()
            .filter(|t| t.id != id)
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .filter_map(|t| t.intermediate.get(&step).copied())
            .filter(|v| v.is_finite())
            .collect();
        let finished = study
            .trials
            .iter()
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .count();
        if finished < self.startup_trials || others.is_empty() {
            return false;
        }
        others.sort_by(f64::total_cmp);
        let n = others.len();
        let median = if n % 2 == 1 {
            others[n / 2]
        } else {
            (others[n / 2 - 1] + others[n / 2]) / 2.0
        };
        value < median
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::journal::Trial;
    use std::collections::BTreeMap;

    fn trial(id: usize, state: TrialState, at_10: f64) -> Trial {
        Trial {
            id,
            state,
            params: BTreeMap::new(),
            value: Some(at_10),
            intermediate: BTreeMap::from([(10, at_10)]),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
        }
    }

    #[test]
    fn successive_halving_keeps_the_best_quarter_at_each_rung() {
        let mut study = Study::default();
        for (i, v) in [0.5, 0.6, 0.7, 0.8, 0.9, 0.4, 0.3].iter().enumerate() {
            study.trials.push(trial(i, TrialState::Complete, *v));
        }
        let p = SuccessiveHalving {
            min_steps: 10,
            rate: 4,
        };
        // Eight values at step 10 (seven others and this one): the best two go on.
        assert!(!p.prune(&study, 7, 10, 0.85));
        assert!(p.prune(&study, 7, 10, 0.75));
        assert!(!p.prune(&study, 7, 20, 0.1), "20 is not a rung");
        assert_eq!(
            (p.rung(40), p.rung(160), p.rung(30)),
            (Some(1), Some(2), None)
        );
        // Alone at a rung, a trial goes on.
        assert!(!p.prune(&Study::default(), 0, 10, 0.1));
    }

    #[test]
    fn below_the_median_of_finished_trials_is_pruned_after_the_startup() {
        let mut study = Study {
            created: true,
            ..Default::default()
        };
        for (i, v) in [0.5, 0.6, 0.7].iter().enumerate() {
            study.trials.push(trial(i, TrialState::Complete, *v));
        }
        let p = MedianPruner {
            startup_trials: 3,
            warmup_steps: 5,
        };
        assert!(p.prune(&study, 3, 10, 0.55));
        assert!(!p.prune(&study, 3, 10, 0.65));
        assert!(!p.prune(&study, 3, 4, 0.1), "within the warm-up");
        assert!(!p.prune(&study, 3, 20, 0.1), "no other value at that step");
        study.trials.pop();
        assert!(
            !p.prune(&study, 3, 10, 0.1),
            "before the start-up trials finished"
        );
    }
}
