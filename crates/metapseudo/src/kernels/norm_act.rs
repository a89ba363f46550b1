//! Batch normalisation fused with the activation after it, as one Burn backend operation on
//! flex: `act(x * scale + shift)` per channel, with `scale = gamma / sqrt(var + eps)` and
//! `shift = beta - mean * scale`, where `act(z)` is `z` for positive `z` and `slope * z`
//! otherwise (slope 1: none, 0: ReLU, 0.1: the papers' leaky ReLU).
//!
//! Composed from Burn's tensor operations, a training-mode batch norm and its activation take
//! about a dozen passes over the map forward and backward, each allocating a map-sized tensor
//! and recording an autodiff node. Here the forward is one reduction pass for the batch moments
//! and one pass that writes the output; the backward is one reduction pass (the sums of the
//! activation's gradient and of its product with the centred input) and one pass that writes
//! the input gradient. Only the input map is kept for the backward: the activation's gradient
//! is recomputed from it.
//!
//! With batch statistics the backward includes their dependence on the input (the usual batch
//! norm gradient); with running statistics (validation mode) the normalisation is an affine map
//! per channel.

use super::conv::{dims4, f32_only, f32_values, flex_tensor, par_chunks_written};
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

/// The batch-norm epsilon (PyTorch's default).
pub const EPSILON: f64 = 1e-5;

/// Whether [`normalize`] runs this module's fused operation for `x` and the scale `gamma`
/// (both f32 on flex); elsewhere the caller composes Burn's operations.
pub fn applies(x: &Tensor<4>, gamma: &Tensor<1>) -> bool {
    let f32 = burn::tensor::DType::F32;
    x.device().inner() == Device::flex() && x.dtype() == f32 && gamma.dtype() == f32
}

/// The per-channel mean and biased variance of `x` `[B, C, H, W]` over the batch and the map,
/// as two `[C]` tensors that autodiff treats as constants. `x` must be on flex ([`applies`]).
pub fn moments(x: &Tensor<4>) -> (Tensor<1>, Tensor<1>) {
    let c = x.dims()[1];
    let both: Tensor<2> =
        Tensor::from_dispatch(Dispatch::channel_moments(x.clone().inner().into_dispatch()));
    let row = |i: usize| {
        let r = both.clone().slice([i..i + 1, 0..c]).reshape([c]);
        if x.is_autodiff() {
            Tensor::from_inner(r)
        } else {
            r
        }
    };
    (row(0), row(1))
}

/// `act(gamma * (x - mean) / sqrt(var + eps) + beta)` with the activation's negative `slope`,
/// per channel of `x` `[B, C, H, W]`. `mean` and `var` are constants to autodiff; with
/// `batch_stats` they are taken to be `x`'s own batch moments ([`moments`]) and the gradient
/// flows through them too. `x` must be on flex ([`applies`]).
pub fn normalize(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    [mean, var]: [Tensor<1>; 2],
    batch_stats: bool,
    slope: f32,
) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::norm_act(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        var.into_dispatch(),
        batch_stats,
        slope,
    ))
}

/// Batch moments and the fused normalisation with activation as backend operations.
#[backend_extension(Flex, Autodiff)]
pub trait NormActBackend: Backend {
    /// `[2, C]`: the per-channel mean and biased variance of `x` `[B, C, H, W]`.
    fn channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `act(gamma * (x - mean) / sqrt(var + eps) + beta)`, see [`normalize`].
    fn norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        batch_stats: bool,
        slope: f32,
    ) -> FloatTensor<Self>;
}

/// A contiguous f32 copy (or the tensor itself) of a flex tensor's values.
fn values(t: FlexTensor) -> FlexTensor {
    assert!(f32_only(&[&t]), "batch norm's fused kernels take f32");
    t.to_contiguous()
}

impl NormActBackend for Flex {
    fn channel_moments(x: FlexTensor) -> FlexTensor {
        let x = values(x);
        let [b, c, h, w] = dims4(&x);
        let (mean, var) = kernels::moments(f32_values(&x), b, c, h * w);
        flex_tensor([mean, var].concat(), [2, c])
    }

    fn norm_act(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        var: FlexTensor,
        _batch_stats: bool,
        slope: f32,
    ) -> FlexTensor {
        Affine::new(gamma, beta, mean, var).apply(x, slope)
    }
}

/// The per-channel affine map of a batch norm and the statistics it came from.
#[derive(Clone, Debug)]
struct Affine {
    mean: Vec<f32>,
    /// `1 / sqrt(var + eps)`.
    rstd: Vec<f32>,
    /// `gamma * rstd`.
    scale: Vec<f32>,
    /// `beta - mean * scale`.
    shift: Vec<f32>,
}

impl Affine {
    fn new(gamma: FlexTensor, beta: FlexTensor, mean: FlexTensor, var: FlexTensor) -> Self {
        let [gamma, beta, mean, var] = [gamma, beta, mean, var].map(values);
        let read = |t: &FlexTensor| f32_values(t).to_vec();
        let (gamma, beta, mean, var) = (read(&gamma), read(&beta), read(&mean), read(&var));
        let rstd: Vec<f32> = var
            .iter()
            .map(|&v| (1.0 / (v as f64 + EPSILON).sqrt()) as f32)
            .collect();
        let scale: Vec<f32> = gamma.iter().zip(&rstd).map(|(g, r)| g * r).collect();
        let shift = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Self {
            mean,
            rstd,
            scale,
            shift,
        }
    }

    /// `act(x * scale + shift)` of `x` `[B, C, H, W]`.
    fn apply(&self, x: FlexTensor, slope: f32) -> FlexTensor {
        let x = values(x);
        let [b, c, h, w] = dims4(&x);
        let y = kernels::forward(f32_values(&x), &self.scale, &self.shift, slope, h * w);
        flex_tensor(y, [b, c, h, w])
    }
}

impl<C: CheckpointStrategy> NormActBackend for Autodiff<Flex, C> {
    fn channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(Flex::channel_moments(x.into_primitive()))
    }

    fn norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        batch_stats: bool,
        slope: f32,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct NormActBackward {
            batch_stats: bool,
            slope: f32,
        }

        impl Backward<Flex, 3> for NormActBackward {
            type State = (NodeId, Affine);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = values(grads.consume::<Flex>(&ops.node));
                let (x_state, affine) = ops.state;
                let x = values(checkpointer.retrieve_node_output(x_state));
                let [b, c, h, w] = dims4(&x);
                let (xv, gv) = (f32_values(&x), f32_values(&grad));
                let sums = kernels::grad_sums(xv, gv, &affine, self.slope, h * w);
                if let Some(node) = node_gamma {
                    let dgamma = sums.centred.iter().zip(&affine.rstd);
                    let dgamma = dgamma.map(|(s, r)| (s * *r as f64) as f32).collect();
                    grads.register::<Flex>(node.id, flex_tensor(dgamma, [c]));
                }
                if let Some(node) = node_beta {
                    let dbeta = sums.plain.iter().map(|&s| s as f32).collect();
                    grads.register::<Flex>(node.id, flex_tensor(dbeta, [c]));
                }
                if let Some(node) = node_x {
                    let stats = self.batch_stats.then_some(&sums);
                    let dx = kernels::input_grad(xv, gv, &affine, self.slope, stats, h * w);
                    grads.register::<Flex>(node.id, flex_tensor(dx, [b, c, h, w]));
                }
            }
        }

        let (mean, var) = (mean.into_primitive(), var.into_primitive());
        let op = NormActBackward { batch_stats, slope };
        match op
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let affine = Affine::new(gamma.into_primitive(), beta.into_primitive(), mean, var);
                let y = affine.apply(x.into_primitive(), slope);
                prep.finish((x_state, affine), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::norm_act(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                mean,
                var,
                batch_stats,
                slope,
            )),
        }
    }
}

/// The fused kernels on `[B, C, N]` maps (N = H * W), parallel over channels or planes.
mod kernels {
    use super::*;
    use std::mem::MaybeUninit;

    /// The two sums of `f(x[i], y[i])` over a plane, in 16 f32 lanes each, added up in f64.
    #[inline]
    fn lane_sums(x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> (f32, f32)) -> (f64, f64) {
        const L: usize = 16;
        let (mut first, mut second) = ([0f32; L], [0f32; L]);
        let (xs, ys) = (x.chunks_exact(L), y.chunks_exact(L));
        let (x_tail, y_tail) = (xs.remainder(), ys.remainder());
        for (xc, yc) in xs.zip(ys) {
            for l in 0..L {
                let (u, v) = f(xc[l], yc[l]);
                first[l] += u;
                second[l] += v;
            }
        }
        let total = |lanes: [f32; L]| lanes.iter().map(|&v| v as f64).sum::<f64>();
        let (mut s, mut t) = (total(first), total(second));
        for (&xi, &yi) in x_tail.iter().zip(y_tail) {
            let (u, v) = f(xi, yi);
            s += u as f64;
            t += v as f64;
        }
        (s, t)
    }

    /// The two sums of `f(x, y)` over every plane of channel `c` of `[batch, channels, n]` maps.
    fn channel_sums(
        x: &[f32],
        y: &[f32],
        [channels, n]: [usize; 2],
        c: usize,
        f: impl Fn(f32, f32) -> (f32, f32) + Copy,
    ) -> (f64, f64) {
        let batch = x.len().checked_div(channels * n).unwrap_or(0);
        (0..batch).fold((0.0, 0.0), |(s, t), b| {
            let at = (b * channels + c) * n;
            let (u, v) = lane_sums(&x[at..at + n], &y[at..at + n], f);
            (s + u, t + v)
        })
    }

    /// Per-channel mean and biased variance of `x` `[batch, channels, n]`.
    pub fn moments(x: &[f32], batch: usize, channels: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
        let count = ((batch * n) as f64).max(1.0);
        let per_channel: Vec<(f32, f32)> = (0..channels)
            .into_par_iter()
            .map(|c| {
                // Shifted by the channel's first value, so a large mean does not swamp the
                // variance.
                let pivot = x.get(c * n).copied().unwrap_or(0.0);
                let (sum, squares) = channel_sums(x, x, [channels, n], c, |v, _| {
                    let d = v - pivot;
                    (d, d * d)
                });
                let shifted_mean = sum / count;
                let var = (squares / count - shifted_mean * shifted_mean).max(0.0);
                ((shifted_mean + pivot as f64) as f32, var as f32)
            })
            .collect();
        per_channel.into_iter().unzip()
    }

    /// The activation's factor at pre-activation `z`.
    #[inline]
    fn slope_at(z: f32, slope: f32) -> f32 {
        if z > 0.0 { 1.0 } else { slope }
    }

    /// `act(x * scale[c] + shift[c])` for every element of `x` `[B, C, n]`.
    pub fn forward(x: &[f32], scale: &[f32], shift: &[f32], slope: f32, n: usize) -> Vec<f32> {
        let channels = scale.len();
        let write = |p: usize, o: &mut [MaybeUninit<f32>]| {
            let (a, b) = (scale[p % channels], shift[p % channels]);
            for (o, &xi) in o.iter_mut().zip(plane(x, p, n)) {
                let z = xi * a + b;
                o.write(z * slope_at(z, slope));
            }
        };
        // SAFETY: each plane of the output is written from the same plane of `x`.
        unsafe { par_chunks_written(x.len(), n, write) }
    }

    /// Plane `p` (`n` values, fewer for a short last one) of a `[planes, n]` map.
    fn plane(x: &[f32], p: usize, n: usize) -> &[f32] {
        let n = n.max(1);
        &x[p * n..x.len().min((p + 1) * n)]
    }

    /// Per-channel sums of the activation's input gradient `g'`, plain and times the centred
    /// input `x - mean`.
    pub struct GradSums {
        pub plain: Vec<f64>,
        pub centred: Vec<f64>,
    }

    /// [`GradSums`] of the output gradient `g` at input `x` `[batch, channels, n]`.
    pub fn grad_sums(x: &[f32], g: &[f32], affine: &Affine, slope: f32, n: usize) -> GradSums {
        let channels = affine.scale.len();
        let (plain, centred) = (0..channels)
            .into_par_iter()
            .map(|c| {
                let (a, b, m) = (affine.scale[c], affine.shift[c], affine.mean[c]);
                channel_sums(x, g, [channels, n], c, |xi, gi| {
                    let gp = gi * slope_at(xi * a + b, slope);
                    (gp, gp * (xi - m))
                })
            })
            .unzip();
        GradSums { plain, centred }
    }

    /// The input gradient: `scale * g'`, minus, with batch statistics (`stats`), the parts that
    /// flow through the mean and the variance:
    /// `scale * (g' - sum(g') / m - (x - mean) * rstd^2 * sum(g' (x - mean)) / m)` with `m`
    /// the elements per channel.
    pub fn input_grad(
        x: &[f32],
        g: &[f32],
        affine: &Affine,
        slope: f32,
        stats: Option<&GradSums>,
        n: usize,
    ) -> Vec<f32> {
        let channels = affine.scale.len();
        let count = (x.len() / channels.max(1)).max(1) as f64;
        // Per channel: dx = k * g' + u * (x - mean) + v.
        let coefficients: Vec<[f32; 3]> = (0..channels)
            .map(|c| {
                let k = affine.scale[c];
                match stats {
                    Some(s) => {
                        let r2 = affine.rstd[c] as f64 * affine.rstd[c] as f64;
                        let u = -(k as f64) * r2 * s.centred[c] / count;
                        let v = -(k as f64) * s.plain[c] / count;
                        [k, u as f32, v as f32]
                    }
                    None => [k, 0.0, 0.0],
                }
            })
            .collect();
        let write = |p: usize, o: &mut [MaybeUninit<f32>]| {
            let c = p % channels;
            let [k, u, v] = coefficients[c];
            let (a, b, m) = (affine.scale[c], affine.shift[c], affine.mean[c]);
            for ((o, &xi), &gi) in o.iter_mut().zip(plane(x, p, n)).zip(plane(g, p, n)) {
                let gp = gi * slope_at(xi * a + b, slope);
                o.write(k * gp + u * (xi - m) + v);
            }
        };
        // SAFETY: each plane of the output is written from the same planes of `x` and `g`.
        unsafe { par_chunks_written(x.len(), n, write) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Burn's composition of the same function: batch norm from `mean` and `var`, which are
    /// `x`'s own moments (with gradient) when `batch_stats`, then the activation.
    fn composed(
        x: Tensor<4>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        running: [Tensor<1>; 2],
        batch_stats: bool,
        slope: f32,
    ) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let x3 = x.reshape([b, c, h * w]);
        let (mean, var) = if batch_stats {
            let n = (b * h * w) as f64;
            let mean = x3.clone().sum_dim(2).sum_dim(0).div_scalar(n);
            let var = (x3.clone() - mean.clone())
                .square()
                .sum_dim(2)
                .sum_dim(0)
                .div_scalar(n);
            (mean, var)
        } else {
            let [m, v] = running;
            (m.reshape([1, c, 1]), v.reshape([1, c, 1]))
        };
        let z = (x3 - mean) / var.add_scalar(EPSILON).sqrt() * gamma.reshape([1, c, 1])
            + beta.reshape([1, c, 1]);
        let z = z.reshape([b, c, h, w]);
        let factor = z
            .clone()
            .inner()
            .greater_elem(0.0)
            .float()
            .mul_scalar(1.0 - slope)
            .add_scalar(slope);
        z * Tensor::from_inner(factor)
    }

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn values_and_gradients_match_burns_composition() {
        let device = Device::flex().autodiff();
        let normal = |shape: [usize; 4], mean: f64, std: f64| {
            Tensor::<4>::random(shape, Distribution::Normal(mean, std), &device)
        };
        for (shape, batch_stats, slope) in [
            ([4, 3, 5, 5], true, 0.1),
            ([4, 3, 5, 5], false, 0.1),
            ([2, 5, 4, 7], true, 0.0),
            ([3, 2, 6, 6], true, 1.0),
            ([2, 4, 3, 3], false, 1.0),
            ([5, 2, 1, 1], true, 0.1),
        ] {
            let c = shape[1];
            let x0 = normal(shape, 2.0, 3.0);
            let r = normal(shape, 0.0, 1.0);
            let gamma0 = Tensor::<1>::random([c], Distribution::Normal(1.0, 0.5), &device);
            let beta0 = Tensor::<1>::random([c], Distribution::Normal(0.0, 0.5), &device);
            let running = [
                Tensor::<1>::random([c], Distribution::Normal(1.0, 1.0), &device),
                Tensor::<1>::random([c], Distribution::Uniform(0.5, 4.0), &device),
            ];
            let run = |fused: bool| {
                let x = x0.clone().detach().require_grad();
                let gamma = gamma0.clone().detach().require_grad();
                let beta = beta0.clone().detach().require_grad();
                let y = if fused {
                    let stats = if batch_stats {
                        let (m, v) = moments(&x);
                        [m, v]
                    } else {
                        running.clone()
                    };
                    normalize(
                        x.clone(),
                        gamma.clone(),
                        beta.clone(),
                        stats,
                        batch_stats,
                        slope,
                    )
                } else {
                    let stats = running.clone();
                    composed(
                        x.clone(),
                        gamma.clone(),
                        beta.clone(),
                        stats,
                        batch_stats,
                        slope,
                    )
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                (
                    y.inner(),
                    x.grad(&grads).expect("x grad"),
                    gamma.grad(&grads).expect("gamma grad"),
                    beta.grad(&grads).expect("beta grad"),
                )
            };
            let ((y, dx, dg, db), (y_ref, dx_ref, dg_ref, db_ref)) = (run(true), run(false));
            let case = format!("{shape:?} batch_stats {batch_stats} slope {slope}");
            assert!(max_diff(y, y_ref) < 1e-4, "{case}: values");
            assert!(max_diff(dx, dx_ref) < 1e-4, "{case}: input gradient");
            assert!(max_diff(dg, dg_ref) < 1e-3, "{case}: gamma gradient");
            assert!(max_diff(db, db_ref) < 1e-3, "{case}: beta gradient");
        }
    }

    #[test]
    fn moments_are_exact_for_a_large_mean() {
        // 1000 + {0, 1, 2, 3} per channel: mean 1001.5, variance 1.25; E[x^2] - mean^2 in f32
        // alone would lose the variance to rounding.
        let device = Device::flex();
        let values: Vec<f32> = (0..16).map(|i| 1000.0 + (i % 4) as f32).collect();
        let x =
            Tensor::<4>::from_data(burn::tensor::TensorData::new(values, [2, 2, 2, 2]), &device);
        let (mean, var) = moments(&x);
        for (m, v) in mean
            .to_data()
            .iter::<f32>()
            .zip(var.to_data().iter::<f32>())
        {
            assert!(
                (m - 1001.5).abs() < 1e-4 && (v - 1.25).abs() < 1e-4,
                "{m} {v}"
            );
        }
    }

    #[test]
    fn a_frozen_scale_and_shift_get_no_gradient() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 3, 4, 4], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let gamma = Tensor::<1>::ones([3], &device);
        let beta = Tensor::<1>::zeros([3], &device);
        let (m, v) = moments(&x);
        let y = normalize(x.clone(), gamma.clone(), beta.clone(), [m, v], true, 0.1);
        let grads = y.sum().backward();
        assert!(gamma.grad(&grads).is_none() && beta.grad(&grads).is_none());
        assert!(x.grad(&grads).is_some());
    }
}
