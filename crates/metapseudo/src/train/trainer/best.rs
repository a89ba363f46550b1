//! Validation on the split's held-out samples and the best model kept by it
//! (`train.keep_best`).

use super::Session;
use crate::config::TieRule;
use crate::eval::{EvalInputs, ModelEval, Output, predict_rows_at};
use crate::models::Network;
use crate::run::BestRecord;

/// The best model by validation accuracy so far (`train.keep_best`).
#[derive(Clone, Debug)]
pub struct Best {
    /// A copy of the model (sharing nothing with the trained one).
    pub model: Network,
    /// Step, validation accuracy and the accuracy before the first step.
    pub record: BestRecord,
}

/// Accuracy and mean cross entropy on the validation samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Validation {
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Mean cross entropy of the logits against the true classes.
    pub loss: f64,
}

impl Session {
    /// The model `keep_best` and validation follow: the EMA if there is one, else the student.
    pub(super) fn followed_model(&self) -> &Network {
        match &self.ema {
            Some(e) => &e.model,
            None => &self.named_learners().0.model,
        }
    }

    /// Accuracy and cross entropy of the followed model on the split's validation samples
    /// (None without any).
    pub fn validation(&self) -> Option<Validation> {
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
        Some(Validation {
            accuracy: ModelEval::from_logits(&logits, &truth, classes).accuracy,
            loss: mean_cross_entropy(&logits, &truth),
        })
    }

    /// Validates the followed model and, with `keep_best`, keeps a copy when it beats the best
    /// so far (ties as `train.best_on_tie` says).
    pub fn check_validation(&mut self) -> Option<Validation> {
        let v = self.validation()?;
        if self.config.train.keep_best {
            let initial = self.best.as_ref().map_or(v.accuracy, |b| b.record.initial);
            let rule = self.config.train.best_on_tie;
            if replaces_best(v, self.best.as_ref().map(|b| &b.record), rule) {
                self.best = Some(Best {
                    model: self.followed_model().isolated_copy(),
                    record: BestRecord {
                        step: self.step,
                        accuracy: v.accuracy,
                        initial,
                        loss: v.loss,
                    },
                });
            }
        }
        Some(v)
    }
}

/// Mean over rows of `-log softmax(logits)[truth]`.
fn mean_cross_entropy(logits: &[Vec<f32>], truth: &[usize]) -> f64 {
    let total: f64 = logits
        .iter()
        .zip(truth)
        .map(|(row, &t)| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let sum: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
            m + sum.ln() - row[t] as f64
        })
        .sum();
    total / truth.len().max(1) as f64
}

/// Whether a model with validation `v` replaces `best` (always when there is none yet); a tie
/// in accuracy as `rule` says.
fn replaces_best(v: Validation, best: Option<&BestRecord>, rule: TieRule) -> bool {
    best.is_none_or(|b| {
        v.accuracy > b.accuracy
            || (v.accuracy == b.accuracy
                && match rule {
                    TieRule::Earlier => false,
                    TieRule::Later => true,
                    TieRule::LowerLoss => v.loss < b.loss,
                })
    })
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
            loss: 0.4,
        };
        let v = |accuracy: f64, loss: f64| Validation { accuracy, loss };
        assert!(replaces_best(v(0.7, 1.0), None, TieRule::Earlier));
        assert!(replaces_best(v(1.0, 0.9), Some(&best), TieRule::Earlier));
        assert!(!replaces_best(v(0.9, 0.1), Some(&best), TieRule::Earlier));
        assert!(replaces_best(v(0.9, 0.9), Some(&best), TieRule::Later));
        assert!(!replaces_best(v(0.8, 0.1), Some(&best), TieRule::Later));
        assert!(replaces_best(v(0.9, 0.3), Some(&best), TieRule::LowerLoss));
        assert!(!replaces_best(v(0.9, 0.5), Some(&best), TieRule::LowerLoss));
        assert!(!replaces_best(v(0.8, 0.1), Some(&best), TieRule::LowerLoss));
        assert_eq!("lower-loss".parse::<TieRule>().unwrap(), TieRule::LowerLoss);
        assert_eq!("earlier".parse::<TieRule>().unwrap(), TieRule::Earlier);
    }

    #[test]
    fn cross_entropy_of_hand_made_logits() {
        // Row 1: equal logits over 2 classes -> ln 2. Row 2: log-softmax of class 0 in
        // [ln 3, 0] is ln(3/4) -> -ln(3/4).
        let logits = vec![vec![1.0, 1.0], vec![3f32.ln(), 0.0]];
        let expected = (2f64.ln() - (0.75f64).ln()) / 2.0;
        assert!((mean_cross_entropy(&logits, &[1, 0]) - expected).abs() < 1e-6);
    }
}
