//! The training context every method steps over: the networks with their optimisers and
//! schedules, and the batch on the device. The loop owns it; a method's own state (a
//! self-teacher's optimiser, distribution alignment, role swapping) lives in the method.

use crate::config::OptimConfig;
use crate::losses::{cross_entropy, smoothed_one_hot, soft_cross_entropy};
use crate::models::Network;
use crate::optim::{Schedule, Sgd};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use metapseudo_data::pipeline::Batch;

/// An optimiser with its learning-rate schedule.
#[derive(Clone, Debug)]
pub struct Stepper {
    /// The optimiser and its state.
    pub optim: Sgd,
    /// The learning rate by step.
    pub schedule: Schedule,
}

impl Stepper {
    /// The optimiser and schedule of `config` over a run of `steps` steps.
    pub fn new(config: &OptimConfig, steps: u64) -> Self {
        Self {
            optim: Sgd::new(config),
            schedule: Schedule::from_config(config, steps),
        }
    }

    /// Back-propagates `loss` into `model`'s parameters and applies one update at the
    /// learning rate of `step`. Returns the updated model and the learning rate used.
    pub fn apply<M: Module>(&mut self, model: M, loss: &Tensor<1>, step: u64) -> (M, f64) {
        let lr = self.schedule.at(step);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (model, _) = self.optim.step(model, &grads, lr);
        (model, lr)
    }
}

/// A network trained by its own optimiser.
#[derive(Clone, Debug)]
pub struct Learner {
    /// The network (autodiff enabled, train mode).
    pub model: Network,
    /// Its optimiser and schedule.
    pub stepper: Stepper,
}

impl Learner {
    /// `model` trained by the optimiser and schedule of `config` over `steps` steps.
    pub fn new(config: &OptimConfig, model: Network, steps: u64) -> Self {
        Self {
            model,
            stepper: Stepper::new(config, steps),
        }
    }

    /// One gradient step on `loss`; returns the learning rate used.
    pub fn update(&mut self, loss: &Tensor<1>, step: u64) -> f64 {
        let (model, lr) = self.stepper.apply(self.model.clone(), loss, step);
        self.model = model;
        lr
    }
}

/// Everything a method's step may read or change.
#[derive(Clone, Debug)]
pub struct TrainContext {
    /// The student (the only network of one-model methods).
    pub student: Learner,
    /// The teacher, for methods with two networks.
    pub teacher: Option<Learner>,
    /// Number of classes.
    pub num_classes: usize,
}

/// One batch on the device.
#[derive(Clone, Debug)]
pub struct TensorBatch {
    /// Labeled inputs `[B, features]`.
    pub x_l: Tensor<2>,
    /// Their classes `[B]`.
    pub y_l: Tensor<1, Int>,
    /// Unlabeled inputs, weak view `[mu B, features]`.
    pub x_uw: Tensor<2>,
    /// The same inputs, strong view.
    pub x_us: Tensor<2>,
    /// With mixup: each labeled row's partner class `[B]` and own weight `lambda` `[B]`.
    pub mix: Option<(Tensor<1, Int>, Tensor<1>)>,
    /// Training-pool index of each labeled row (on the host).
    pub labeled_index: Vec<usize>,
    /// Training-pool index of each unlabeled row (on the host).
    pub unlabeled_index: Vec<usize>,
}

impl TensorBatch {
    /// Copies a batch made on the host (by the pipeline) to `device`.
    pub fn from_host(b: &Batch, device: &Device) -> Self {
        let rows = |v: &Vec<f32>| {
            Tensor::<2>::from_data(TensorData::new(v.clone(), [v.len() / b.dim, b.dim]), device)
        };
        let classes = |c: &[usize]| {
            let v: Vec<i64> = c.iter().map(|&c| c as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(v, [c.len()]), device)
        };
        let mix = b.mix.as_ref().map(|m| {
            let partner: Vec<usize> = m.partner.iter().map(|&p| b.labels[p]).collect();
            let lambda =
                Tensor::<1>::from_data(TensorData::new(m.lambda.clone(), [m.lambda.len()]), device);
            (classes(&partner), lambda)
        });
        TensorBatch {
            x_l: rows(&b.labeled),
            y_l: classes(&b.labels),
            x_uw: rows(&b.unlabeled_weak),
            x_us: rows(&b.unlabeled_strong),
            mix,
            labeled_index: b.labeled_index.clone(),
            unlabeled_index: b.unlabeled_index.clone(),
        }
    }

    /// Cross entropy (label smoothing `ls`) of the labeled rows' logits against their classes,
    /// or against the blended targets `lambda * y + (1 - lambda) * y_partner` under mixup.
    pub fn supervised_loss(&self, logits: Tensor<2>, ls: f64) -> Tensor<1> {
        let Some((partner, lambda)) = &self.mix else {
            return cross_entropy(logits, self.y_l.clone(), ls);
        };
        let classes = logits.dims()[1];
        let own = smoothed_one_hot(self.y_l.clone(), classes, ls);
        let other = smoothed_one_hot(partner.clone(), classes, ls);
        let l: Tensor<2> = lambda.clone().unsqueeze_dim(1);
        let targets = own * l.clone() + other * l.neg().add_scalar(1.0);
        soft_cross_entropy(logits, targets)
    }

    /// Number of labeled rows.
    pub fn num_labeled(&self) -> usize {
        self.x_l.dims()[0]
    }

    /// Number of unlabeled rows.
    pub fn num_unlabeled(&self) -> usize {
        self.x_uw.dims()[0]
    }
}
