//! Validation on the split's held-out samples and the best model kept by it
//! (`train.keep_best`).

use super::Session;
use crate::eval::{EvalInputs, ModelEval, Output, predict_rows_at};
use crate::models::Network;
use serde::{Deserialize, Serialize};

/// The best model by validation accuracy so far (`train.keep_best`).
#[derive(Clone, Debug)]
pub struct Best {
    /// A copy of the model (sharing nothing with the trained one).
    pub model: Network,
    /// Step, validation accuracy and the accuracy before the first step.
    pub record: BestRecord,
}

/// When the best model was seen and how good it was on validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    /// Step of the best model.
    pub step: u64,
    /// Its validation accuracy.
    pub accuracy: f64,
    /// Validation accuracy of the model before the first step.
    pub initial: f64,
}

impl Session {
    /// The model `keep_best` and validation follow: the EMA if there is one, else the student.
    pub(super) fn followed_model(&self) -> &Network {
        match &self.ema {
            Some(e) => &e.model,
            None => &self.named_learners().0.model,
        }
    }

    /// Accuracy of the followed model on the split's validation samples (None without any).
    pub fn validation_accuracy(&self) -> Option<f64> {
        let idx = &self.data.split.validation_indices;
        if idx.is_empty() {
            return None;
        }
        let inputs = EvalInputs {
            examples: &self.data.dataset.train,
            normalizer: &self.data.normalizer,
        };
        let logits = predict_rows_at(
            self.followed_model(),
            inputs,
            idx,
            Output::Logits,
            &self.device,
        );
        let labels = self.data.dataset.train.labels();
        let truth: Vec<usize> = idx.iter().map(|&i| labels[i].unwrap_or_default()).collect();
        let classes = self.data.dataset.num_classes();
        Some(ModelEval::from_logits(&logits, &truth, classes).accuracy)
    }

    /// Validates the followed model and, with `keep_best`, keeps a copy when it beats the best
    /// so far (ties as `train.best_on_tie` says). Returns the validation accuracy.
    pub fn check_validation(&mut self) -> Option<f64> {
        let accuracy = self.validation_accuracy()?;
        if self.config.train.keep_best {
            let initial = self.best.as_ref().map_or(accuracy, |b| b.record.initial);
            let ties_later = self.config.train.best_on_tie == "later";
            if replaces_best(accuracy, self.best.as_ref().map(|b| &b.record), ties_later) {
                self.best = Some(Best {
                    model: self.followed_model().isolated_copy(),
                    record: BestRecord {
                        step: self.step,
                        accuracy,
                        initial,
                    },
                });
            }
        }
        Some(accuracy)
    }
}

/// Whether a model at validation `accuracy` replaces `best` (always when there is none yet);
/// on a tie only with `ties_later`.
fn replaces_best(accuracy: f64, best: Option<&BestRecord>, ties_later: bool) -> bool {
    best.is_none_or(|b| accuracy > b.accuracy || (ties_later && accuracy == b.accuracy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_the_earlier_model_unless_told_otherwise() {
        let best = BestRecord {
            step: 50,
            accuracy: 0.9,
            initial: 0.8,
        };
        assert!(replaces_best(0.7, None, false));
        assert!(replaces_best(1.0, Some(&best), false));
        assert!(!replaces_best(0.9, Some(&best), false));
        assert!(replaces_best(0.9, Some(&best), true));
        assert!(!replaces_best(0.8, Some(&best), true));
    }
}
