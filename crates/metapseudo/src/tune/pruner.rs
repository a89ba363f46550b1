//! Pruning: stopping hopeless trials early. [`MedianPruner`] is Optuna's `MedianPruner`: after
//! its start-up trials, a trial whose reported value at a step is below the median of the other
//! finished trials' values at that step stops there, kept in the study as pruned with its last
//! value.

use super::journal::{Study, TrialState};

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
