//! The supervised baseline: the student on labeled batches only.

use super::{Method, MethodName, MethodSpec, Needs, Scalar, Scalars};
use super::{TensorBatch, TrainContext};
use crate::config::Config;

/// The supervised baseline's registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: MethodName::Supervised,
    about: "Labeled data only: the baseline every gain is read against; the cheapest step (one forward and backward over B images).",
    needs: Needs::ONE_NETWORK,
    build: |config, _| Ok(Box::new(Supervised::new(config))),
};

/// Cross entropy (with the run's label smoothing) on the labeled batch.
pub struct Supervised {
    label_smoothing: f64,
}

impl Supervised {
    /// The baseline with the run's options.
    pub fn new(config: &Config) -> Self {
        Self {
            label_smoothing: config.train.label_smoothing,
        }
    }
}

impl Method for Supervised {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let logits = ctx.student.model.forward(b.x_l.clone());
        let loss = b.supervised_loss(logits, self.label_smoothing);
        let lr = ctx.student.update(&loss, step);
        vec![
            ("loss/sup", Scalar::tensor(loss)),
            ("lr/student", Scalar::Value(lr)),
        ]
    }
}
