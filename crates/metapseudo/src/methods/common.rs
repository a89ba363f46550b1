//! Pieces several methods share: split forwards and the UDA teacher loss.

use super::TensorBatch;
use super::{Scalar, Scalars};
use crate::config::{Config, UdaConfig};
use crate::losses::{Consistency, MaskedLoss, ramp_weight, uda_loss};
use crate::models::Network;
use burn::tensor::Tensor;

/// Logits of one forward over `concat(x_l, x_uw, x_us)` (shared batch statistics), split back.
pub struct ThreeViews {
    /// Labeled rows.
    pub labeled: Tensor<2>,
    /// Unlabeled rows, weak view.
    pub weak: Tensor<2>,
    /// Unlabeled rows, strong view.
    pub strong: Tensor<2>,
}

/// One forward of `model` over the labeled, weak and strong inputs.
pub fn forward_three(model: &Network, b: &TensorBatch) -> ThreeViews {
    let (nl, nu) = (b.num_labeled(), b.num_unlabeled());
    let logits = model.forward(Tensor::cat(
        vec![b.x_l.clone(), b.x_uw.clone(), b.x_us.clone()],
        0,
    ));
    ThreeViews {
        labeled: logits.clone().narrow(0, 0, nl),
        weak: logits.clone().narrow(0, nl, nu),
        strong: logits.narrow(0, nl + nu, nu),
    }
}

/// The supervised + weighted UDA loss of docs/methods.md ("UDA").
pub struct UdaTerms {
    /// `CE_ls(labeled, y)`.
    pub sup: Tensor<1>,
    /// The masked consistency loss and mask ratio.
    pub uda: MaskedLoss,
    /// `w(t)`.
    pub weight: f64,
}

impl UdaTerms {
    /// Computes the terms from logits of the three views; the targets come from `weak_targets`
    /// (the weak-view logits, after any distribution alignment).
    pub fn new(
        v: &ThreeViews,
        weak_targets: &Tensor<2>,
        b: &TensorBatch,
        config: &Config,
        step: u64,
    ) -> Self {
        let UdaConfig {
            temperature,
            threshold,
            weight,
            ramp_steps,
            unlabeled_loss,
        } = config.uda;
        let kind = Consistency::of_uda(unlabeled_loss);
        Self {
            sup: b.supervised_loss(v.labeled.clone(), config.train.label_smoothing),
            uda: uda_loss(
                weak_targets.clone(),
                v.strong.clone(),
                temperature,
                threshold,
                kind,
            ),
            weight: ramp_weight(weight, step, ramp_steps),
        }
    }

    /// `sup + w * uda`, skipping the UDA term entirely when its weight is 0.
    pub fn total(&self) -> Tensor<1> {
        if self.weight == 0.0 {
            self.sup.clone()
        } else {
            self.sup.clone() + self.uda.loss.clone().mul_scalar(self.weight)
        }
    }

    /// Logs the terms under `prefix` names.
    pub fn log(&self, out: &mut Scalars, sup: &'static str, uda: &'static str) {
        out.push((sup, Scalar::tensor(self.sup.clone())));
        out.push((uda, Scalar::tensor(self.uda.loss.clone())));
        out.push((
            "uda/mask_ratio",
            Scalar::tensor(self.uda.mask_ratio.clone()),
        ));
        out.push(("uda/weight", Scalar::Value(self.weight)));
    }
}

/// One checkpoint state from the states of a method's parts (an object's fields side by side;
/// `null`s add nothing). Each part reads its own fields back from the whole.
pub fn merge_states(parts: impl IntoIterator<Item = serde_json::Value>) -> serde_json::Value {
    let mut merged = serde_json::Map::new();
    for part in parts {
        if let serde_json::Value::Object(fields) = part {
            merged.extend(fields);
        }
    }
    if merged.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::Object(merged)
    }
}
