//! Unsupervised Data Augmentation as a method of its own (one model).

use super::align::Alignment;
use super::common::{UdaTerms, forward_three};
use super::{Inputs, Method, MethodName, MethodSpec, Needs, Scalar, Scalars, StatePart};
use super::{TensorBatch, TrainContext};
use crate::config::Config;

/// UDA's registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: MethodName::Uda,
    about: "Consistency between weak and strong views of unlabeled images on one network; a step costs about 1 + 2 mu labeled steps; a strong, simple choice.",
    needs: Needs {
        unlabeled: true,
        consistency: true,
        ..Needs::ONE_NETWORK
    },
    build: |config, inputs| Ok(Box::new(Uda::new(config, inputs))),
};

/// `CE_ls(f(x_l), y) + w(t) * L_uda` on one model.
pub struct Uda {
    config: Config,
    align: Alignment,
}

impl Uda {
    /// The method with the run's options.
    pub fn new(config: &Config, inputs: Inputs) -> Self {
        Self {
            config: config.clone(),
            align: Alignment::new(config, inputs.labeled_prior),
        }
    }
}

impl Method for Uda {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let v = forward_three(&ctx.student.model, b);
        let targets = self.align.targets(&v.weak);
        let terms = UdaTerms::new(&v, &targets, b, &self.config, step);
        let total = terms.total();
        let lr = ctx.student.update(&total, step);
        let mut out = Scalars::new();
        terms.log(&mut out, "loss/sup", "loss/uda");
        out.push(("loss/total", Scalar::tensor(total)));
        out.push(("lr/student", Scalar::Value(lr)));
        self.align.log(&mut out);
        out
    }

    fn state_parts(&mut self) -> Vec<&mut dyn StatePart> {
        vec![&mut self.align]
    }
}
