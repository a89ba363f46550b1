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

    /// Validates the followed model and, with `keep_best`, keeps a copy when it is at least
    /// as good as the best so far (ties keep the later: with few validation samples, the
    /// model moves on unless validation gets worse). Returns the validation accuracy.
    pub fn check_validation(&mut self) -> Option<f64> {
        let accuracy = self.validation_accuracy()?;
        if self.config.train.keep_best {
            let initial = self.best.as_ref().map_or(accuracy, |b| b.record.initial);
            if self
                .best
                .as_ref()
                .is_none_or(|b| accuracy >= b.record.accuracy)
            {
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
