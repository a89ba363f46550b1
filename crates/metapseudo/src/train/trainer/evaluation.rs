//! Evaluation of a session's networks on the test split and the run's summary.

use super::Session;
use crate::eval::{EvalInputs, ModelEval, predict_logits, true_classes};
use crate::methods::{self, TeacherKind};
use crate::models::Network;
use crate::train::run::Summary;
use std::collections::BTreeMap;

/// Each model's logits on the test split, by model name.
pub type TestLogits = Vec<(String, Vec<Vec<f32>>)>;

impl Session {
    /// The networks to evaluate, by name (the ensemble is not one network: see
    /// [`Session::test_logits`]).
    pub fn models(&self) -> Vec<(&'static str, &Network)> {
        let (student, teacher) = self.named_learners();
        let mut m = vec![("student", &student.model)];
        if let Some(e) = &self.ema {
            m.push(("ema", &e.model));
        }
        if let Some(t) = teacher
            .filter(|_| methods::needs(&self.config).teacher == TeacherKind::SameArchitecture)
        {
            m.push(("teacher", &t.model));
        }
        if let Some(b) = &self.best {
            m.push(("best", &b.model));
        }
        m
    }

    /// Every model's logits on the test split, by model name; with a teacher, also the
    /// `ensemble` (the mean of the student's and the teacher's logits).
    pub fn test_logits(&self) -> TestLogits {
        let inputs = EvalInputs {
            examples: &self.data.dataset.test,
            normalizer: &self.data.normalizer,
        };
        let mut out: TestLogits = self
            .models()
            .into_iter()
            .map(|(name, m)| (name.to_string(), predict_logits(m, inputs, &self.device)))
            .collect();
        let find = |name: &str| out.iter().find(|(n, _)| n == name).map(|(_, r)| r);
        if let (Some(s), Some(t)) = (find("student"), find("teacher")) {
            let mean = crate::eval::mean_logits(&[s, t]);
            out.push(("ensemble".to_string(), mean));
        }
        out
    }

    /// Accuracy, per-class accuracy and confusion matrix of each model from its test logits.
    pub fn evaluations(&self, logits: &TestLogits) -> BTreeMap<String, ModelEval> {
        let truth = true_classes(&self.data.dataset.test);
        let classes = self.data.dataset.num_classes();
        logits
            .iter()
            .map(|(name, rows)| (name.clone(), ModelEval::from_logits(rows, &truth, classes)))
            .collect()
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
        let models = self.evaluations(logits);
        let reported = self.config.train.report.to_string();
        Summary {
            accuracy: models[&reported].accuracy,
            reported_model: reported,
            models,
            method: self.config.method,
            variant: self.variant(),
            data: self.config.data.label(),
            eval_split: self.config.data.eval_split().into(),
            labels: self.data.split.labeled_indices.len(),
            steps: self.step,
            seed: self.config.seed,
            wall_seconds,
            classes: self.data.dataset.classes.clone(),
            test_size: self.data.dataset.test.len(),
            best: self.best.as_ref().map(|b| b.record),
            finetune: None,
        }
    }

    /// The run's departures from its method's reference form that comparisons should keep
    /// apart: see [`methods::variant`].
    fn variant(&self) -> String {
        methods::variant(&self.config, self.swap_every())
    }
}
