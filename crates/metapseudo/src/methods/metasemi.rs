//! MetaSemi (Zhang et al., AISTATS 2021): consistency training towards targets meta-learned by
//! one finite-difference step (docs/methods.md, "MetaSemi"); no second derivatives.

use super::align::Alignment;
use super::{Inputs, Method, MethodName, MethodSpec, Needs, Scalar, Scalars, StatePart};
use super::{TensorBatch, TrainContext};
use crate::config::{Config, ViewName};
use crate::losses::{Consistency, cross_entropy, ramp_weight};
use crate::models::Network;
use burn::module::{Flag, Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

/// `module` with every training flag (batch norm's batch statistics, dropout) set to `on`;
/// parameters and their gradient settings are unchanged.
pub fn with_training<M: Module>(module: M, on: bool) -> M {
    struct Flags(bool);
    impl ModuleMapper for Flags {
        fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
            flag.with_value(self.0)
        }
    }
    module.map(&mut Flags(on))
}

/// Global L2 norm of the gradients `grads` holds for `module`'s parameters.
fn gradient_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    struct Norm<'a>(&'a GradientsParams, f64);
    impl ModuleVisitor for Norm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.0.get::<D>(param.id) {
                self.1 += f64::from(g.square().sum().into_scalar::<f32>());
            }
        }
    }
    let mut n = Norm(grads, 0.0);
    module.visit(&mut n);
    n.1.sqrt()
}

/// A copy of `frozen` (a module without autodiff) whose parameters are moved by `scale * g`.
fn moved<M: Module>(frozen: &M, grads: &GradientsParams, scale: f64) -> M {
    struct Move<'a>(&'a GradientsParams, f64);
    impl ModuleMapper for Move<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let id = param.id;
            match self.0.get::<D>(id) {
                Some(g) => {
                    let scale = self.1;
                    param.map(move |t| t + g.mul_scalar(scale))
                }
                None => param,
            }
        }
    }
    frozen.clone().map(&mut Move(grads, scale))
}

/// The meta step's result.
pub struct MetaTargets {
    /// `normalise(relu(y_u - lr * d))`, detached, on the training device.
    pub targets: Tensor<2>,
    /// `||g||`, the labeled-loss gradient's norm.
    pub grad_norm: f64,
    /// Mean absolute change from the predictions `softmax(f(x_u))` (after any alignment) to the
    /// targets.
    pub shift: Tensor<1>,
}

/// The meta step, in evaluation mode: the labeled loss's gradient `g`, predictions of the
/// model moved by `±(epsilon / ||g||) g` on `x_u`, and targets moved against their finite
/// difference. The perturbed models are copies: `model` itself is never changed, so nothing
/// has to be restored and nothing drifts. `align` maps the unperturbed logits to the logits
/// the targets start from (distribution alignment, or the identity).
pub fn meta_targets(
    model: &Network,
    b: &TensorBatch,
    x_u: &Tensor<2>,
    epsilon: f64,
    lr: f64,
    align: impl FnOnce(Tensor<2>) -> Tensor<2>,
) -> MetaTargets {
    let eval = with_training(model.clone(), false);
    let labeled = cross_entropy(eval.forward(b.x_l.clone()), b.y_l.clone(), 0.0);
    let grads = GradientsParams::from_grads(labeled.backward(), &eval);
    let grad_norm = gradient_norm(&eval, &grads);
    let device = x_u.device();
    let inner_x = x_u.clone().inner();
    let frozen = eval.valid();
    let base = softmax(align(frozen.forward(inner_x.clone())), 1);
    if grad_norm == 0.0 || !grad_norm.is_finite() {
        return MetaTargets {
            targets: Tensor::from_inner(base.clone()),
            grad_norm,
            shift: Tensor::<1>::zeros([1], &device),
        };
    }
    let eps = epsilon / grad_norm;
    let plus = softmax(moved(&frozen, &grads, eps).forward(inner_x.clone()), 1);
    let minus = softmax(moved(&frozen, &grads, -eps).forward(inner_x), 1);
    let d = (plus - minus).div_scalar(eps);
    let raw = (base.clone() - d.mul_scalar(lr)).clamp_min(0.0);
    let sums = raw.clone().sum_dim(1);
    // A row that the step pushed to all zeros keeps its prediction.
    let empty = sums.clone().lower_equal_elem(1e-12).float();
    let normalised = raw / sums.clamp_min(1e-12);
    let targets = normalised * empty.clone().neg().add_scalar(1.0) + base.clone() * empty;
    let shift = (targets.clone() - base).abs().mean();
    MetaTargets {
        targets: Tensor::from_inner(targets),
        grad_norm,
        shift: Tensor::from_inner(shift),
    }
}

/// MetaSemi's registry entry.
pub const SPEC: MethodSpec = MethodSpec {
    name: MethodName::Metasemi,
    about: "Meta-learned soft targets for confident unlabeled images (one extra forward pair per step for the finite difference); one network, cheaper than MPL.",
    needs: Needs {
        unlabeled: true,
        ..Needs::ONE_NETWORK
    },
    build: |config, inputs| Ok(Box::new(MetaSemi::new(config, inputs))),
};

/// `L_sup + w(t) * mean_i consistency(f(x_u)_i, y_u,i)` with meta-learned targets `y_u`; the
/// consistency is the [`Consistency`] `metasemi.consistency` names (the paper: squared distance).
pub struct MetaSemi {
    config: Config,
    align: Alignment,
}

impl MetaSemi {
    /// The method with the run's options.
    pub fn new(config: &Config, inputs: Inputs) -> Self {
        Self {
            config: config.clone(),
            align: Alignment::new(config, inputs.labeled_prior),
        }
    }
}

impl Method for MetaSemi {
    fn step(&mut self, ctx: &mut TrainContext, b: &TensorBatch, step: u64) -> Scalars {
        let c = &self.config.metasemi;
        let lr = if c.target_lr > 0.0 {
            c.target_lr
        } else {
            ctx.student.stepper.schedule.at(step)
        };
        let align = &mut self.align;
        let meta = meta_targets(&ctx.student.model, b, &b.x_uw, c.epsilon, lr, |logits| {
            align.targets(&logits)
        });
        let x_u = match c.view {
            ViewName::Strong => &b.x_us,
            ViewName::Weak => &b.x_uw,
        };
        let nl = b.num_labeled();
        let logits = ctx
            .student
            .model
            .forward(Tensor::cat(vec![b.x_l.clone(), x_u.clone()], 0));
        let sup = b.supervised_loss(
            logits.clone().narrow(0, 0, nl),
            self.config.train.label_smoothing,
        );
        let unlabeled = logits.narrow(0, nl, x_u.dims()[0]);
        let consistency = Consistency::of_metasemi(c.consistency)
            .per_row(meta.targets, unlabeled)
            .mean();
        let weight = ramp_weight(c.weight, step, c.ramp_steps);
        let total = sup.clone() + consistency.clone().mul_scalar(weight);
        let lr_used = ctx.student.update(&total, step);
        let mut out = vec![
            ("loss/sup", Scalar::tensor(sup)),
            ("loss/consistency", Scalar::tensor(consistency)),
            ("loss/total", Scalar::tensor(total)),
            ("metasemi/weight", Scalar::Value(weight)),
            ("metasemi/grad_norm", Scalar::Value(meta.grad_norm)),
            ("metasemi/target_shift", Scalar::tensor(meta.shift)),
            ("metasemi/target_lr", Scalar::Value(lr)),
            ("lr/student", Scalar::Value(lr_used)),
        ];
        self.align.log(&mut out);
        out
    }

    fn state_parts(&mut self) -> Vec<&mut dyn StatePart> {
        vec![&mut self.align]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::models::{ModelShape, build};
    use crate::params::export_tensors;
    use burn::tensor::{Device, Int, TensorData};
    use metapseudo_data::Rng;

    fn batch(device: &Device) -> TensorBatch {
        let mut rng = Rng::new(5);
        let mut rows = |n: usize| {
            let v: Vec<f32> = (0..n * 64).map(|_| rng.normal() as f32).collect();
            Tensor::<2>::from_data(TensorData::new(v, [n, 64]), device)
        };
        let (x_l, x_uw, x_us) = (rows(6), rows(10), rows(10));
        TensorBatch {
            x_l,
            y_l: Tensor::<1, Int>::from_data(
                TensorData::new(vec![0i64, 1, 2, 0, 1, 2], [6]),
                device,
            ),
            x_uw,
            x_us,
            mix: None,
            labeled_index: (0..6).collect(),
            unlabeled_index: (0..10).collect(),
        }
    }

    #[test]
    fn the_meta_step_leaves_the_parameters_bit_identical_and_moves_the_targets() {
        let device = Device::flex().autodiff();
        let config = ModelConfig {
            name: "cnn-small".into(),
            width: 2,
            ..ModelConfig::default()
        };
        // A grey 8x8 image network: batch norm and convolutions in the meta step.
        let shape = ModelShape::image([1, 8, 8], 3);
        let model = build(&config, &shape, &mut Rng::new(3), &device).unwrap();
        let b = batch(&device);
        // A training forward first, so the batch norms hold pending running statistics.
        let _ = model.forward(b.x_l.clone());
        let before = export_tensors(&model);
        let meta = meta_targets(&model, &b, &b.x_uw, 0.01, 0.1, |l| l);
        assert_eq!(
            export_tensors(&model),
            before,
            "parameters and running stats unchanged"
        );
        assert!(meta.grad_norm > 0.0);
        let t: Vec<f32> = meta.targets.clone().into_data().try_into_vec().unwrap();
        for row in t.chunks(3) {
            assert!(row.iter().all(|&v| v >= 0.0));
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
        }
        let shift = f64::from(meta.shift.into_scalar::<f32>());
        assert!(
            shift > 1e-6,
            "the finite difference moves the targets: {shift}"
        );
        // Training flags are back on in the model itself (the meta step used a copy).
        let again = meta_targets(&model, &b, &b.x_uw, 0.01, 0.1, |l| l);
        let t2: Vec<f32> = again.targets.into_data().try_into_vec().unwrap();
        assert_eq!(t, t2, "the meta step is deterministic");
    }
}
