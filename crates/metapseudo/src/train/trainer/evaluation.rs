//! Evaluation of a session's networks on the test split and the run's summary.

use super::Session;
use crate::eval::{EvalInputs, ModelEval, TestLogits, evaluations, test_logits};
use crate::models::Network;
use crate::run::Summary;
use std::collections::BTreeMap;

impl Session {
    /// The networks to evaluate, by name (the ensemble is not one network: see
    /// [`Session::test_logits`]).
    pub fn models(&self) -> Vec<(&'static str, &Network)> {
        let (student, teacher) = self.named_learners();
        crate::run::evaluated_models(&self.config)
            .into_iter()
            .filter_map(|name| {
                let network = match name {
                    "student" => Some(&student.model),
                    "ema" => self.ema.as_ref().map(|e| &e.model),
                    "teacher" => teacher.map(|t| &t.model),
                    "best" => self.best.as_ref().map(|b| &b.model),
                    _ => None,
                };
                network.map(|n| (name, n))
            })
            .collect()
    }

    /// Every model's logits on the test split, by model name; with a teacher, also the
    /// `ensemble` (the mean of the student's and the teacher's logits).
    pub fn test_logits(&self) -> TestLogits {
        let inputs = EvalInputs {
            examples: &self.data.dataset.test,
            normalizer: &self.data.normalizer,
        };
        test_logits(&self.models(), inputs, &self.device)
    }

    /// Accuracy, per-class accuracy and confusion matrix of each model from its test logits.
    pub fn evaluations(&self, logits: &TestLogits) -> BTreeMap<String, ModelEval> {
        let ds = &self.data.dataset;
        evaluations(logits, &ds.test, ds.num_classes())
    }

    /// Evaluates every model on the test split.
    pub fn evaluate_all(&self) -> BTreeMap<String, ModelEval> {
        self.evaluations(&self.test_logits())
    }

    /// The summary of the run at its current step.
    pub fn summary(&self, wall_seconds: f64) -> Summary {
        self.summary_from(&self.test_logits(), wall_seconds)
    }

    /// The summary of the run at its current step, from test logits already computed.
    pub fn summary_from(&self, logits: &TestLogits, wall_seconds: f64) -> Summary {
        Summary::of(
            &self.config,
            &self.data,
            self.evaluations(logits),
            (self.step, wall_seconds),
            self.best.as_ref().map(|b| b.record),
        )
    }
}
