//! The supervised baseline: the student on labeled batches only.

use super::{Method, Scalar, Scalars};
use crate::config::Config;
use crate::train::{TensorBatch, TrainContext};

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
