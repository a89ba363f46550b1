//! Building blocks shared by the image networks: seeded initialisers, a bias-free convolution,
//! batch norm with a chosen momentum, a dense layer, pooling and the leaky ReLU.

use crate::kernels::norm_act;
use burn::module::{Flag, Module, Param, RunningState};
use burn::nn::Linear;
use burn::tensor::module::{adaptive_avg_pool2d, max_pool2d};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use metapseudo_data::Rng;

/// A tensor of `shape` with values from `draw`.
fn tensor_from<const D: usize>(
    shape: [usize; D],
    device: &Device,
    mut draw: impl FnMut() -> f64,
) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| draw() as f32).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Values from U(-bound, bound).
pub fn uniform_tensor<const D: usize>(
    shape: [usize; D],
    bound: f64,
    rng: &mut Rng,
    device: &Device,
) -> Tensor<D> {
    tensor_from(shape, device, || rng.uniform_range(-bound, bound))
}

/// Values from N(0, std^2).
pub fn normal_tensor<const D: usize>(
    shape: [usize; D],
    std: f64,
    rng: &mut Rng,
    device: &Device,
) -> Tensor<D> {
    tensor_from(shape, device, || rng.normal() * std)
}

/// A 2-D convolution without bias (every conv of these networks is followed by batch norm).
#[derive(Module, Debug)]
pub struct Conv {
    /// Kernel `[out, in, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// Stride in both directions.
    #[module(skip)]
    pub stride: usize,
    /// Zero padding on every side.
    #[module(skip)]
    pub padding: usize,
}

impl Conv {
    /// A `k x k` convolution `channels[0] -> channels[1]`, He-normal initialised over the
    /// fan-out (`std = sqrt(2 / (k * k * out))`, PyTorch's `kaiming_normal_(mode="fan_out")`
    /// as in the WRN and ResNet reference code).
    pub fn new(
        channels: [usize; 2],
        k: usize,
        stride: usize,
        padding: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let [cin, cout] = channels;
        let std = (2.0 / (k * k * cout) as f64).sqrt();
        Self {
            weight: Param::from_tensor(normal_tensor([cout, cin, k, k], std, rng, device)),
            stride,
            padding,
        }
    }

    /// `[B, in, H, W] -> [B, out, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        crate::kernels::conv::conv2d(x, self.weight.val(), self.stride, self.padding)
    }
}

/// Batch normalisation over the channels of `[B, C, H, W]` maps, PyTorch semantics: batch
/// statistics in training (running variance updated with the unbiased estimate), running
/// statistics in validation. The running statistics are state, not trainable parameters.
///
/// Burn's `BatchNorm` gives the same values. On flex this one runs as one fused operation with
/// the activation after it ([`BatchNorm::forward_then`], [`crate::kernels::norm_act`]); elsewhere it
/// computes the batch moments in one reduction over a `[B, C, H*W]` view and applies them as
/// one scale and shift (BENCHMARKS.md has both against Burn's).
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale.
    pub gamma: Param<Tensor<1>>,
    /// Shift.
    pub beta: Param<Tensor<1>>,
    /// Training behaviour (batch statistics) when on an autodiff device.
    pub training: Param<Flag>,
    /// Running mean.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (unbiased) variance.
    pub running_var: RunningState<Tensor<1>>,
    /// `running <- (1 - momentum) running + momentum batch`.
    #[module(skip)]
    pub momentum: f64,
}

/// What follows a batch norm; on flex it is fused with the normalisation
/// ([`crate::kernels::norm_act`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// Nothing: the normalised map itself.
    Identity,
    /// max(0, z).
    Relu,
    /// The papers' leaky ReLU, slope [`LEAKY_SLOPE`].
    Leaky,
}

impl Act {
    /// The factor for negative inputs.
    fn slope(self) -> f32 {
        match self {
            Act::Identity => 1.0,
            Act::Relu => 0.0,
            Act::Leaky => LEAKY_SLOPE as f32,
        }
    }

    /// The activation through Burn's tensor operations.
    fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Act::Identity => x,
            Act::Relu => burn::tensor::activation::relu(x),
            Act::Leaky => leaky(x),
        }
    }
}

impl BatchNorm {
    /// Normalises `x` `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_then(x, Act::Identity)
    }

    /// `act(batch_norm(x))`: one fused operation on flex, Burn's operations elsewhere.
    pub fn forward_then(&self, x: Tensor<4>, act: Act) -> Tensor<4> {
        if !norm_act::applies(&x, &self.gamma.val()) {
            return act.apply(self.composed(x));
        }
        let batch_stats = x.is_autodiff() && self.training.is_enabled();
        let stats = if batch_stats {
            let (mean, var) = norm_act::moments(&x);
            let [b, _, h, w] = x.dims();
            self.record(mean.clone(), var.clone(), (b * h * w) as f64);
            [mean, var]
        } else {
            self.running_stats(&x.device())
        };
        let (gamma, beta) = (self.gamma.val(), self.beta.val());
        norm_act::normalize(x, gamma, beta, stats, batch_stats, act.slope())
    }

    /// The running mean and variance on `device`.
    fn running_stats(&self, device: &Device) -> [Tensor<1>; 2] {
        [&self.running_mean, &self.running_var].map(|s| s.value().to_device(device))
    }

    /// Folds a batch's mean and biased variance over `n` values per channel into the running
    /// statistics.
    fn record(&self, mean: Tensor<1>, var: Tensor<1>, n: f64) {
        let m = self.momentum;
        let unbiased = n / (n - 1.0).max(1.0);
        let running_mean =
            self.running_mean.value_sync().mul_scalar(1.0 - m) + mean.detach().mul_scalar(m);
        let running_var = self.running_var.value_sync().mul_scalar(1.0 - m)
            + var.detach().mul_scalar(m * unbiased);
        self.running_mean.update(running_mean.detach());
        self.running_var.update(running_var.detach());
    }

    /// `gamma / sqrt(var + eps)` and `beta - mean * scale`, shaped `[1, C, 1]`.
    fn scale_shift(&self, mean: Tensor<3>, var: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let c = mean.dims()[1];
        let scale =
            self.gamma.val().reshape([1, c, 1]) * var.add_scalar(norm_act::EPSILON).sqrt().recip();
        let shift = self.beta.val().reshape([1, c, 1]) - mean * scale.clone();
        (scale, shift)
    }

    /// The normalisation through Burn's tensor operations (devices other than flex).
    fn composed(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let x3 = x.reshape([b, c, h * w]);
        let (scale, shift) = if x3.is_autodiff() && self.training.is_enabled() {
            let n = (b * h * w) as f64;
            let mean = x3.clone().sum_dim(2).sum_dim(0).div_scalar(n);
            let mean_sq = x3.clone().square().sum_dim(2).sum_dim(0).div_scalar(n);
            let var = (mean_sq - mean.clone().square()).clamp_min(0.0);
            let flat = |t: Tensor<3>| t.reshape([c]);
            self.record(flat(mean.clone()), flat(var.clone()), n);
            self.scale_shift(mean, var)
        } else {
            let [mean, var] = self
                .running_stats(&x3.device())
                .map(|s| s.reshape([1, c, 1]));
            self.scale_shift(mean, var)
        };
        (x3 * scale + shift).reshape([b, c, h, w])
    }
}

/// Batch norm over `channels` with PyTorch's momentum convention (`running <- (1 - m) running
/// + m batch`), scale 1 and shift 0.
pub fn batch_norm(channels: usize, momentum: f64, device: &Device) -> BatchNorm {
    BatchNorm {
        gamma: Param::from_tensor(Tensor::ones([channels], device)),
        beta: Param::from_tensor(Tensor::zeros([channels], device)),
        training: Param::from_bool(true),
        running_mean: RunningState::new(Tensor::zeros([channels], device)),
        running_var: RunningState::new(Tensor::ones([channels], device)),
        momentum,
    }
}

/// A dense layer `input -> output` with Xavier-normal weights and zero bias (the WRN reference's
/// classifier initialisation).
pub fn xavier_linear(input: usize, output: usize, rng: &mut Rng, device: &Device) -> Linear {
    let std = (2.0 / (input + output) as f64).sqrt();
    Linear {
        weight: Param::from_tensor(normal_tensor([input, output], std, rng, device)),
        bias: Some(Param::from_tensor(Tensor::zeros([output], device))),
    }
}

/// A dense layer with PyTorch's default initialisation, U(-1/sqrt(in), 1/sqrt(in)) for weights
/// and bias.
pub fn default_linear(input: usize, output: usize, rng: &mut Rng, device: &Device) -> Linear {
    let bound = 1.0 / (input as f64).sqrt();
    Linear {
        weight: Param::from_tensor(uniform_tensor([input, output], bound, rng, device)),
        bias: Some(Param::from_tensor(uniform_tensor(
            [output],
            bound,
            rng,
            device,
        ))),
    }
}

/// The papers' leaky ReLU slope.
pub const LEAKY_SLOPE: f64 = 0.1;

/// Leaky ReLU with the papers' slope 0.1, as `x * s` with the slope `s` (1 or 0.1) computed
/// outside the graph: its backward is one multiplication. Burn's `leaky_relu` goes through
/// `mask_where` forward and backward, which made it 7x slower on flex (see BENCHMARKS.md).
pub fn leaky(x: Tensor<4>) -> Tensor<4> {
    let plain = x.clone().inner();
    let slope = plain
        .greater_elem(0.0)
        .float()
        .mul_scalar(1.0 - LEAKY_SLOPE)
        .add_scalar(LEAKY_SLOPE);
    let slope = if x.is_autodiff() {
        Tensor::from_inner(slope)
    } else {
        slope
    };
    x * slope
}

/// 2x2 max pooling with stride 2.
pub fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2]))
}

/// Global average pooling: `[B, C, H, W] -> [B, C]`.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    adaptive_avg_pool2d(x, [1, 1]).reshape([b, c])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    /// Burn's composition (the path of devices other than flex) and the fused operation give
    /// the same values, input gradients and running statistics, in training and validation.
    #[test]
    fn the_composed_path_matches_the_fused_one() {
        let device = Device::flex().autodiff();
        let x0: Tensor<4> = Tensor::random([4, 3, 5, 5], Distribution::Normal(2.0, 3.0), &device);
        let r: Tensor<4> = Tensor::random([4, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        let tol = Tolerance::rel_abs(1e-4, 1e-4);
        for training in [true, false] {
            let (fused, composed) = (batch_norm(3, 0.1, &device), batch_norm(3, 0.1, &device));
            for bn in [&fused, &composed] {
                bn.running_mean
                    .update(Tensor::from_floats([0.5, -1.0, 2.0], &device));
                bn.running_var
                    .update(Tensor::from_floats([1.5, 0.5, 4.0], &device));
            }
            let run = |bn: &BatchNorm, fused: bool| {
                let bn = BatchNorm {
                    training: Param::from_bool(training),
                    ..bn.clone()
                };
                let x = x0.clone().detach().require_grad();
                let y = if fused {
                    bn.forward_then(x.clone(), Act::Leaky)
                } else {
                    Act::Leaky.apply(bn.composed(x.clone()))
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                let stats = [&bn.running_mean, &bn.running_var].map(|s| s.value().into_data());
                (
                    y.into_data(),
                    x.grad(&grads).expect("x grad").into_data(),
                    stats,
                )
            };
            let (a, b) = (run(&fused, true), run(&composed, false));
            a.0.assert_approx_eq::<f32>(&b.0, tol);
            a.1.assert_approx_eq::<f32>(&b.1, tol);
            for (sa, sb) in a.2.iter().zip(&b.2) {
                sa.assert_approx_eq::<f32>(sb, tol);
            }
        }
    }
}
