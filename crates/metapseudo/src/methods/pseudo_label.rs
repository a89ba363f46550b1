//! Threshold pseudo-labelling (FixMatch when the strong view differs from the weak one).

use super::common::forward_three;
use super::{Method, Scalar, Scalars};
use crate::config::Config;
use crate::losses::{pseudo_label_loss, ramp_weight};
use crate::train::{TensorBatch, TrainContext};

/// `CE(f(x_l), y) + w(t) * mean(mask * CE(f(x_us), argmax f(x_uw)))`.
pub struct PseudoLabel {
    config: Config,
}

impl PseudoLabel {
    /// The method with the run's options.
    pub fn new(config: &Config) -> Self {
        Self {
            config: config.clone(),
        }
    }
}

impl Method for PseudoLabel {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let c = &self.config;
        let v = forward_three(&ctx.student.model, b);
        let sup = b.supervised_loss(v.labeled, c.train.label_smoothing);
        let targets = ctx.align.targets(&v.weak);
        let pl = pseudo_label_loss(targets, v.strong, c.pseudo_label.threshold, 0.0);
        let w = ramp_weight(c.uda.weight, step, c.uda.ramp_steps);
        let total = sup.clone() + pl.loss.clone().mul_scalar(w);
        let lr = ctx.student.update(&total, step);
        vec![
            ("loss/sup", Scalar::tensor(sup)),
            ("loss/pseudo_label", Scalar::tensor(pl.loss)),
            ("loss/total", Scalar::tensor(total)),
            ("pseudo_label/mask_ratio", Scalar::tensor(pl.mask_ratio)),
            ("pseudo_label/weight", Scalar::Value(w)),
            ("lr/student", Scalar::Value(lr)),
        ]
    }
}
