//! Threshold pseudo-labelling (FixMatch when the strong view differs from the weak one).

use super::align::Alignment;
use super::common::forward_three;
use super::{Inputs, Method, MethodName, MethodSpec, Needs, Scalar, Scalars, StatePart};
use super::{TensorBatch, TrainContext};
use crate::config::Config;
use crate::losses::{pseudo_label_loss, ramp_weight};

/// Threshold pseudo-labelling's registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: MethodName::PseudoLabel,
    about: "The network's own confident predictions (above a threshold) as labels for the strong view (FixMatch); costs as UDA; a strong baseline.",
    needs: Needs {
        unlabeled: true,
        ..Needs::ONE_NETWORK
    },
    build: |config, inputs| Ok(Box::new(PseudoLabel::new(config, inputs))),
};

/// `CE(f(x_l), y) + w(t) * mean(mask * CE(f(x_us), argmax f(x_uw)))`.
pub struct PseudoLabel {
    config: Config,
    align: Alignment,
}

impl PseudoLabel {
    /// The method with the run's options.
    pub fn new(config: &Config, inputs: Inputs) -> Self {
        Self {
            config: config.clone(),
            align: Alignment::new(config, inputs.labeled_prior),
        }
    }
}

impl Method for PseudoLabel {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let c = &self.config;
        let v = forward_three(&ctx.student.model, b);
        let sup = b.supervised_loss(v.labeled, c.train.label_smoothing);
        let targets = self.align.targets(&v.weak);
        let pl = pseudo_label_loss(targets, v.strong, c.pseudo_label.threshold, 0.0);
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
        self.align.log(&mut out);
        out
    }

    fn state_parts(&mut self) -> Vec<&mut dyn StatePart> {
        vec![&mut self.align]
    }
}
