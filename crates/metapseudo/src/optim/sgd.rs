//! SGD with momentum (PyTorch semantics, dampening 0), optional Nesterov, decoupled-from-bias
//! weight decay and global-norm gradient clipping. Its state is plain tensors by index, so a
//! checkpoint restores it exactly.

use crate::config::OptimConfig;
use crate::params::{HostTensor, map_tensors};
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// Stochastic gradient descent over one module.
#[derive(Clone, Debug)]
pub struct Sgd {
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    clip_norm: f64,
    /// Momentum buffer of each float tensor, in traversal order (`None` until first used).
    buffers: Vec<Option<Tensor<1>>>,
}

/// Gradient norms of one update.
#[derive(Clone, Debug)]
pub struct UpdateInfo {
    /// Global L2 norm of the gradients before clipping (computed only when clipping is on).
    pub grad_norm: Option<Tensor<1>>,
}

impl Sgd {
    /// An optimiser with the settings of `c` and empty state.
    pub fn new(c: &OptimConfig) -> Self {
        Self {
            momentum: c.momentum,
            nesterov: c.nesterov,
            weight_decay: c.weight_decay,
            clip_norm: c.clip_norm,
            buffers: Vec::new(),
        }
    }

    /// Applies one update with learning rate `lr`. Parameters without a gradient are left
    /// alone. Weight decay applies to tensors of rank 2 and more (weights), never to biases or
    /// normalisation parameters.
    pub fn step<M: Module>(
        &mut self,
        module: M,
        grads: &GradientsParams,
        lr: f64,
    ) -> (M, UpdateInfo) {
        let mut scale = None;
        let mut grad_norm = None;
        let params = param_ranks(&module);
        if self.clip_norm > 0.0 {
            // No gradient at all means nothing to update, so nothing to scale.
            if let Some(norm) = global_norm(&params, grads) {
                let factor = (norm.clone() + 1e-6)
                    .recip()
                    .mul_scalar(self.clip_norm)
                    .clamp_max(1.0);
                scale = Some(factor);
                grad_norm = Some(norm);
            }
        }
        let ranks: Vec<usize> = params.iter().map(|&(_, rank)| rank).collect();
        let (m, nesterov, wd) = (self.momentum, self.nesterov, self.weight_decay);
        let buffers = &mut self.buffers;
        let module = map_tensors(module, |i, id, p| {
            let mut g: Tensor<1> = flat_grad(grads, id, ranks[i])?;
            if let Some(s) = &scale {
                g = g * s.clone();
            }
            if wd > 0.0 && ranks[i] >= 2 {
                g = g + p.clone().mul_scalar(wd);
            }
            if m > 0.0 {
                if buffers.len() <= i {
                    buffers.resize(i + 1, None);
                }
                let buf = match buffers[i].take() {
                    Some(b) => b.mul_scalar(m) + g.clone(),
                    None => g.clone(),
                };
                g = if nesterov {
                    g + buf.clone().mul_scalar(m)
                } else {
                    buf.clone()
                };
                buffers[i] = Some(buf);
            }
            Some(p - g.mul_scalar(lr))
        });
        (module, UpdateInfo { grad_norm })
    }

    /// The momentum buffers for a checkpoint, by traversal index.
    pub fn state(&self) -> Vec<(usize, HostTensor)> {
        self.buffers
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.as_ref().map(|b| (i, HostTensor::from_tensor(b))))
            .collect()
    }

    /// Restores momentum buffers saved by [`Sgd::state`].
    pub fn load_state(&mut self, state: &[(usize, HostTensor)], device: &Device) {
        self.buffers.clear();
        for (i, h) in state {
            if self.buffers.len() <= *i {
                self.buffers.resize(i + 1, None);
            }
            self.buffers[*i] = Some(h.to_tensor(device));
        }
    }
}

/// Id and rank of each float tensor of `module`, in traversal order.
fn param_ranks<M: Module>(module: &M) -> Vec<(ParamId, usize)> {
    struct Ranks(Vec<(ParamId, usize)>);
    impl ModuleVisitor for Ranks {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.push((p.id, D));
        }
    }
    let mut r = Ranks(Vec::new());
    module.visit(&mut r);
    r.0
}

/// The gradient of parameter `id` (of rank `rank`), flattened.
fn flat_grad(grads: &GradientsParams, id: ParamId, rank: usize) -> Option<Tensor<1>> {
    fn flat<const D: usize>(g: Option<Tensor<D>>) -> Option<Tensor<1>> {
        g.map(|g| {
            let n = g.shape().num_elements();
            g.reshape([n])
        })
    }
    match rank {
        1 => grads.get::<1>(id),
        2 => flat(grads.get::<2>(id)),
        3 => flat(grads.get::<3>(id)),
        4 => flat(grads.get::<4>(id)),
        5 => flat(grads.get::<5>(id)),
        _ => None,
    }
}

/// Global L2 norm of the gradients of `params` (ids and ranks); `None` when none has a
/// gradient.
fn global_norm(params: &[(ParamId, usize)], grads: &GradientsParams) -> Option<Tensor<1>> {
    let squares: Vec<Tensor<1>> = params
        .iter()
        .filter_map(|&(id, rank)| flat_grad(grads, id, rank))
        .map(|g| g.powi_scalar(2).sum())
        .collect();
    (!squares.is_empty()).then(|| Tensor::cat(squares, 0).sum().sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::tensor::TensorData;

    #[derive(Module, Debug)]
    struct Two {
        w: Param<Tensor<2>>,
        b: Param<Tensor<1>>,
    }

    fn setup(device: &Device) -> Two {
        Two {
            w: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, -2.0], [1, 2]),
                device,
            )),
            b: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.5f32], [1]),
                device,
            )),
        }
    }

    /// Loss = sum(w * x) + 3 b, so grad w = x and grad b = 3.
    fn grads(m: &Two, device: &Device) -> GradientsParams {
        let x = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 1.0], [1, 2]), device);
        let loss = (m.w.val() * x).sum() + m.b.val().mul_scalar(3.0).sum();
        GradientsParams::from_grads(loss.backward(), m)
    }

    fn values(m: &Two) -> (Vec<f32>, f32) {
        (
            m.w.val().into_data().try_into_vec().unwrap(),
            m.b.val().into_scalar::<f32>(),
        )
    }

    #[test]
    fn momentum_nesterov_and_decay_match_pytorch() {
        let device = Device::flex().autodiff();
        let cfg = OptimConfig {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
            clip_norm: 0.0,
            ..Default::default()
        };
        let mut opt = Sgd::new(&cfg);
        let mut m = setup(&device);
        // Step 1: g_w = x + wd w = [2.01, 0.98]; buf = g; update = g + 0.9 buf = 1.9 g.
        let g = grads(&m, &device);
        m = opt.step(m, &g, 0.1).0;
        let (w, b) = values(&m);
        assert!((w[0] - (1.0 - 0.1 * 1.9 * 2.01)).abs() < 1e-6, "{w:?}");
        assert!((w[1] - (-2.0 - 0.1 * 1.9 * 0.98)).abs() < 1e-6, "{w:?}");
        // The bias gets no weight decay: g_b = 3.
        assert!((b - (0.5 - 0.1 * 1.9 * 3.0)).abs() < 1e-6, "{b}");
        // Step 2 on the bias: buf = 0.9*3 + 3 = 5.7; update = 3 + 0.9*5.7 = 8.13.
        let b1 = b;
        let g = grads(&m, &device);
        m = opt.step(m, &g, 0.1).0;
        assert!((values(&m).1 - (b1 - 0.1 * 8.13)).abs() < 1e-5);
        // The state round-trips.
        let mut copy = Sgd::new(&cfg);
        copy.load_state(&opt.state(), &device.clone().inner());
        assert_eq!(copy.state(), opt.state());
        assert!(m.w.val().is_require_grad());
    }

    #[test]
    fn clipping_scales_to_the_global_norm() {
        let device = Device::flex().autodiff();
        let cfg = OptimConfig {
            lr: 1.0,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            clip_norm: 1.0,
            ..Default::default()
        };
        let mut opt = Sgd::new(&cfg);
        let m = setup(&device);
        let g = grads(&m, &device);
        let (m, info) = opt.step(m, &g, 1.0);
        // Gradients (2, 1, 3): norm sqrt(14).
        let norm = info.grad_norm.unwrap().into_scalar::<f32>();
        assert!((norm - 14f32.sqrt()).abs() < 1e-5);
        let (w, _) = values(&m);
        assert!((w[0] - (1.0 - 2.0 / 14f32.sqrt())).abs() < 1e-5, "{w:?}");
    }
}
