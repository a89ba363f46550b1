//! Threshold pseudo-labelling (FixMatch when the strong view differs from the weak one).

use super::align::Alignment;
use super::common::forward_three;
use super::{Method, Scalar, Scalars};
use crate::config::Config;
use crate::losses::{pseudo_label_loss, ramp_weight};
use crate::train::{TensorBatch, TrainContext};
use anyhow::Result;

/// `CE(f(x_l), y) + w(t) * mean(mask * CE(f(x_us), argmax f(x_uw)))`.
pub struct PseudoLabel {
    config: Config,
    align: Alignment,
}

impl PseudoLabel {
    /// The method with the run's options.
    pub fn new(config: &Config) -> Self {
        Self {
            config: config.clone(),
            align: Alignment::new(config),
        }
    }
}

impl Method for PseudoLabel {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let c = &self.config;
        let v = forward_three(&ctx.student.model, b);
        let sup = b.supervised_loss(v.labeled, c.train.label_smoothing);
        let targets = self.align.targets(&v.weak, &ctx.class_prior);
        let pl = pseudo_label_loss(targets, v.strong, c.pseudo_label.threshold);
        let w = ramp_weight(c.uda.weight, step, c.uda.ramp_steps);
        let total = sup.clone() + pl.loss.clone().mul_scalar(w);
        let lr = ctx.student.update(&total, step);
        let mut out = vec![
            ("loss/sup", Scalar::tensor(sup)),
            ("loss/pseudo_label", Scalar::tensor(pl.loss)),
            ("loss/total", Scalar::tensor(total)),
            ("pseudo_label/mask_ratio", Scalar::tensor(pl.mask_ratio)),
            ("pseudo_label/weight", Scalar::Value(w)),
            ("lr/student", Scalar::Value(lr)),
        ];
        self.align.log(&ctx.class_prior, &mut out);
        out
    }

    fn save_state(&self) -> serde_json::Value {
        self.align.save_state()
    }

    fn load_state(
        &mut self,
        state: &serde_json::Value,
        _device: &burn::tensor::Device,
    ) -> Result<()> {
        self.align.load_state(state)
    }
}
