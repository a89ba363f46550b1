//! Unsupervised Data Augmentation as a method of its own (one model).

use super::common::{UdaTerms, forward_three};
use super::{Method, Scalar, Scalars};
use crate::config::Config;
use crate::train::{TensorBatch, TrainContext};

/// `CE_ls(f(x_l), y) + w(t) * L_uda` on one model.
pub struct Uda {
    config: Config,
}

impl Uda {
    /// The method with the run's options.
    pub fn new(config: &Config) -> Self {
        Self {
            config: config.clone(),
        }
    }
}

impl Method for Uda {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let v = forward_three(&ctx.student.model, b);
        let targets = ctx.align.targets(&v.weak);
        let terms = UdaTerms::new(&v, &targets, b, &self.config, step);
        let total = terms.total();
        let lr = ctx.student.update(&total, step);
        let mut out = Scalars::new();
        terms.log(&mut out, "loss/sup", "loss/uda");
        out.push(("loss/total", Scalar::tensor(total)));
        out.push(("lr/student", Scalar::Value(lr)));
        out
    }
}
