//! The networks' convolution. Stride-1 "same" convolutions (odd `k x k` kernel, padding `k / 2`)
//! and stride-2 3x3 convolutions with padding 1 run on flex through a Burn backend extension,
//! and so do strided 1x1 convolutions (on the subsampled map); every other convolution, dtype or
//! device goes to Burn's `conv2d`. The extension's forward and backward use the direct AVX-512
//! kernels of [`direct`] (the stride-2 ones through the stride phases of [`strided`]) where the
//! CPU has AVX-512 and the channels fit their tiles, and otherwise the padded-layout matrix
//! products of [`kernels`] (stride 1) or Burn's own (stride 2). The weight gradient of 3x3
//! stride-1 convolutions over a multiple of 32 input channels comes from a channels-last copy
//! of the input ([`channels_last`]), faster than the direct kernel's at these shapes.
//!
//! On flex, Burn's generic backward computes the input gradient with a direct
//! `conv_transpose2d` loop and the weight gradient as a convolution over transposed copies of
//! the input and the output gradient; at WRN-28-2's shapes this module's kernels take a third
//! to a half of Burn's time (BENCHMARKS.md).

pub mod channels_last;
pub mod direct;
pub mod kernels;
#[cfg(test)]
mod reference;
pub mod strided;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData, s};
use kernels::Geometry;

/// Burn's options for a convolution with equal stride and padding on both axes.
fn options(stride: usize, padding: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1)
}

/// `conv2d(x, weight)` without bias, `stride` and zero `padding` on both axes: this module's
/// kernels where they apply, Burn's `conv2d` otherwise.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, stride: usize, padding: usize) -> Tensor<4> {
    let [_, _, k, kw] = weight.dims();
    let empty = x.dims().contains(&0) || weight.dims().contains(&0);
    if empty || x.device().inner() != Device::flex() || k != kw {
        return burn_conv2d(x, weight, None, options(stride, padding));
    }
    if stride == 1 && k % 2 == 1 && padding == k / 2 {
        Tensor::from_dispatch(Dispatch::conv_same(
            x.into_dispatch(),
            weight.into_dispatch(),
            padding,
        ))
    } else if stride == 2 && k == 3 && padding == 1 {
        Tensor::from_dispatch(Dispatch::conv_stride2(
            x.into_dispatch(),
            weight.into_dispatch(),
        ))
    } else if k == 1 && padding == 0 {
        // A strided 1x1 convolution reads every `stride`-th pixel: the 1x1 convolution of the
        // subsampled map.
        conv2d(
            x.slice(s![.., .., ..;stride as isize, ..;stride as isize]),
            weight,
            1,
            0,
        )
    } else {
        burn_conv2d(x, weight, None, options(stride, padding))
    }
}

/// The stride-1 "same" and the stride-2 3x3 convolutions as backend operations.
#[backend_extension(Flex, Autodiff)]
pub trait ConvBackend: Backend {
    /// `conv2d(x, weight)`, no bias, stride 1, zero `padding` (`k / 2` of an odd square kernel).
    fn conv_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options(1, padding))
    }

    /// `conv2d(x, weight)` of a 3x3 kernel, no bias, stride 2, zero padding 1.
    fn conv_stride2(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options(2, 1))
    }
}

/// Which of the two convolutions an operation computes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Stride 1, padding `k / 2`.
    Same,
    /// Stride 2, padding 1, 3x3.
    Stride2,
}

impl Kind {
    /// Burn's options for this kind with kernel size `k`.
    fn options(self, k: usize) -> ConvOptions<2> {
        match self {
            Kind::Same => options(1, k / 2),
            Kind::Stride2 => options(2, 1),
        }
    }
}

impl ConvBackend for Flex {
    fn conv_same(x: FlexTensor, weight: FlexTensor, padding: usize) -> FlexTensor {
        if !f32_only(&[&x, &weight]) {
            return Flex::conv2d(x, weight, None, options(1, padding));
        }
        let g = geometry(&x, &weight);
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let (x, w) = (f32_values(&x), f32_values(&weight));
        let y = if direct::forward_applies(&g) {
            direct::forward(x, w, &g)
        } else {
            kernels::unpack(
                &kernels::forward(&kernels::pack(x, &g, g.cin), w, &g),
                &g,
                g.cout,
            )
        };
        flex_tensor(y, [g.batch, g.cout, g.h, g.w])
    }

    fn conv_stride2(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let g = geometry(&x, &weight);
        if !f32_only(&[&x, &weight]) || !strided::forward_applies(&g) {
            return Flex::conv2d(x, weight, None, options(2, 1));
        }
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let y = strided::forward(f32_values(&x), f32_values(&weight), &g);
        flex_tensor(y, [g.batch, g.cout, g.h / 2, g.w / 2])
    }
}

impl<C: CheckpointStrategy> ConvBackend for Autodiff<Flex, C> {
    fn conv_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        padding: usize,
    ) -> FloatTensor<Self> {
        tracked::<C>(x, weight, Kind::Same, |x, w| Flex::conv_same(x, w, padding))
    }

    fn conv_stride2(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        tracked::<C>(x, weight, Kind::Stride2, Flex::conv_stride2)
    }
}

/// `forward(x, weight)` on flex, recorded for autodiff with [`backward`] of `kind`.
fn tracked<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    kind: Kind,
    forward: impl FnOnce(FlexTensor, FlexTensor) -> FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>> {
    #[derive(Debug)]
    struct ConvBackward(Kind);

    impl Backward<Flex, 2> for ConvBackward {
        type State = (NodeId, NodeId);

        fn backward(
            self,
            ops: Ops<Self::State, 2>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_x, node_weight] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let (x_state, weight_state) = ops.state;
            let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
            let weight: FlexTensor = checkpointer.retrieve_node_output(weight_state);
            let (dx, dw) = backward(
                self.0,
                x,
                weight,
                grad,
                node_x.is_some(),
                node_weight.is_some(),
            );
            if let (Some(node), Some(dw)) = (node_weight, dw) {
                grads.register::<Flex>(node.id, dw);
            }
            if let (Some(node), Some(dx)) = (node_x, dx) {
                grads.register::<Flex>(node.id, dx);
            }
        }
    }

    match ConvBackward(kind)
        .prepare::<C>([x.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            let out = forward(x.into_primitive(), weight.into_primitive());
            prep.finish((x_state, weight_state), out)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(forward(x.into_primitive(), weight.into_primitive()))
        }
    }
}

/// `(dX, dW)` of the convolution `kind`, each only when asked for (`need_x`, `need_weight`): a
/// frozen kernel or an input without gradient costs no product.
fn backward(
    kind: Kind,
    x: FlexTensor,
    weight: FlexTensor,
    grad: FlexTensor,
    need_x: bool,
    need_weight: bool,
) -> (Option<FlexTensor>, Option<FlexTensor>) {
    let g = geometry(&x, &weight);
    // Burn's gradients, for other dtypes and for shapes the kernels do not take.
    let burn_dx = |x: &FlexTensor, weight: &FlexTensor, grad: &FlexTensor| {
        Flex::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), kind.options(g.k))
    };
    let burn_dw = |x: &FlexTensor, weight: &FlexTensor, grad: &FlexTensor| {
        Flex::conv2d_weight_backward(x.clone(), weight.clone(), grad.clone(), kind.options(g.k))
    };
    if !f32_only(&[&x, &weight, &grad]) {
        let dx = need_x.then(|| burn_dx(&x, &weight, &grad));
        return (dx, need_weight.then(|| burn_dw(&x, &weight, &grad)));
    }
    let (x, weight, grad) = (
        x.to_contiguous(),
        weight.to_contiguous(),
        grad.to_contiguous(),
    );
    if kind == Kind::Stride2 {
        let (xv, w, gv) = (f32_values(&x), f32_values(&weight), f32_values(&grad));
        let dx = need_x.then(|| {
            if strided::input_grad_applies(&g) {
                flex_tensor(strided::input_grad(gv, w, &g), [g.batch, g.cin, g.h, g.w])
            } else {
                burn_dx(&x, &weight, &grad)
            }
        });
        let dw = need_weight.then(|| {
            if strided::weight_grad_applies(&g) {
                flex_tensor(strided::weight_grad(xv, gv, &g), [g.cout, g.cin, 3, 3])
            } else {
                burn_dw(&x, &weight, &grad)
            }
        });
        return (dx, dw);
    }
    let (x, w, grad) = (f32_values(&x), f32_values(&weight), f32_values(&grad));
    // The padded layout of the output gradient, built once if either fallback needs it.
    let padded = std::cell::OnceCell::new();
    let grad_packed = || padded.get_or_init(|| kernels::pack(grad, &g, g.cout));
    let dx = need_x.then(|| {
        let dx = if direct::input_grad_applies(&g) {
            direct::input_grad(grad, w, &g)
        } else {
            kernels::unpack(&kernels::input_grad(grad_packed(), w, &g), &g, g.cin)
        };
        flex_tensor(dx, [g.batch, g.cin, g.h, g.w])
    });
    let dw = need_weight.then(|| {
        let dw = if channels_last::weight_grad_applies(&g) {
            channels_last::weight_grad(x, grad, &g)
        } else if direct::weight_grad_applies(&g) {
            direct::weight_grad(x, grad, &g)
        } else {
            kernels::weight_grad(&kernels::pack(x, &g, g.cin), grad_packed(), &g)
        };
        flex_tensor(dw, [g.cout, g.cin, g.k, g.k])
    });
    (dx, dw)
}

pub(crate) fn dims4(t: &FlexTensor) -> [usize; 4] {
    t.layout().shape().dims::<4>()
}

fn geometry(x: &FlexTensor, weight: &FlexTensor) -> Geometry {
    let [batch, cin, h, w] = dims4(x);
    let [cout, _, k, _] = dims4(weight);
    Geometry {
        batch,
        cin,
        cout,
        h,
        w,
        k,
    }
}

/// Whether every tensor holds f32 (the kernels' type).
pub(crate) fn f32_only(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32)
}

/// The values of a contiguous f32 tensor (`to_contiguous` keeps the storage of one that is).
pub(crate) fn f32_values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

pub(crate) fn flex_tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A `len`-element output written in parallel, chunk by chunk, without clearing it first:
/// `write(i, out)` gets chunk `i` (`chunk` elements; the last may be shorter).
///
/// # Safety
/// `write` must write every element of every chunk it is given.
pub(crate) unsafe fn par_chunks_written(
    len: usize,
    chunk: usize,
    write: impl Fn(usize, &mut [std::mem::MaybeUninit<f32>]) + Sync + Send,
) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, o)| write(i, o));
    // SAFETY: the chunks cover the `len` elements, and the caller's `write` wrote each.
    unsafe { out.set_len(len) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Gradients of `sum(conv(x, w) * r)` (r a fixed random map) through this module and
    /// through Burn's `conv2d`.
    fn grads_both(
        shape_x: [usize; 4],
        shape_w: [usize; 4],
        stride: usize,
        padding: usize,
    ) -> [(Tensor<4>, Tensor<4>, Tensor<4>); 2] {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let x0 = Tensor::<4>::random(shape_x, normal, &device);
        let w0 = Tensor::<4>::random(shape_w, normal, &device);
        let out_dims = burn_conv2d(x0.clone(), w0.clone(), None, options(stride, padding)).dims();
        let r = Tensor::<4>::random(out_dims, normal, &device);
        let run = |own: bool| {
            let x = x0.clone().detach().require_grad();
            let w = w0.clone().detach().require_grad();
            let y = if own {
                conv2d(x.clone(), w.clone(), stride, padding)
            } else {
                burn_conv2d(x.clone(), w.clone(), None, options(stride, padding))
            };
            let grads = (y.clone() * r.clone()).sum().backward();
            (
                y.inner(),
                x.grad(&grads).expect("x grad"),
                w.grad(&grads).expect("w grad"),
            )
        };
        [run(true), run(false)]
    }

    fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn values_and_gradients_match_burns_conv2d() {
        // 3x3 same, 1x1, strided 1x1 (odd height), 5x5 same (this module: the padded-layout
        // products, and where the channels allow and the CPU has AVX-512 the direct kernels,
        // alone or mixed with the former); strided 3x3 through the stride phases (all three
        // passes, or mixed with Burn's where the channels do not fit, or Burn's alone for an
        // odd map); valid (Burn's, through the same entry point).
        for (sx, sw, stride, padding) in [
            ([3, 4, 9, 7], [5, 4, 3, 3], 1, 1),
            ([2, 8, 9, 7], [8, 8, 3, 3], 1, 1),
            ([2, 16, 5, 6], [8, 16, 1, 1], 1, 0),
            ([2, 3, 6, 6], [16, 3, 3, 3], 1, 1),
            ([2, 6, 8, 8], [4, 6, 1, 1], 1, 0),
            ([2, 6, 9, 8], [4, 6, 1, 1], 2, 0),
            ([2, 3, 7, 6], [4, 3, 5, 5], 1, 2),
            ([2, 3, 8, 8], [4, 3, 3, 3], 2, 1),
            ([2, 8, 8, 6], [8, 8, 3, 3], 2, 1),
            ([2, 16, 10, 12], [16, 16, 3, 3], 2, 1),
            ([2, 3, 8, 8], [8, 3, 3, 3], 2, 1),
            ([2, 8, 8, 8], [4, 8, 3, 3], 2, 1),
            ([2, 8, 7, 6], [8, 8, 3, 3], 2, 1),
            ([2, 3, 6, 6], [2, 3, 3, 3], 1, 0),
        ] {
            let [(y, dx, dw), (y_ref, dx_ref, dw_ref)] = grads_both(sx, sw, stride, padding);
            let (ey, ex, ew) = (
                max_abs_diff(y, y_ref),
                max_abs_diff(dx, dx_ref),
                max_abs_diff(dw, dw_ref),
            );
            assert!(
                ey < 1e-4 && ex < 1e-3 && ew < 1e-3,
                "{sx:?} {sw:?} s{stride} p{padding}: {ey} {ex} {ew}"
            );
        }
    }

    #[test]
    fn a_frozen_kernel_gets_no_gradient_and_the_input_the_same_one() {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let x0 = Tensor::<4>::random([2, 3, 5, 6], normal, &device);
        let w = Tensor::<4>::random([4, 3, 3, 3], normal, &device);
        let r = Tensor::<4>::random([2, 4, 5, 6], normal, &device);
        let input_grad = |own: bool| {
            let x = x0.clone().detach().require_grad();
            let y = if own {
                conv2d(x.clone(), w.clone(), 1, 1)
            } else {
                burn_conv2d(x.clone(), w.clone(), None, options(1, 1))
            };
            let grads = (y * r.clone()).sum().backward();
            assert!(w.grad(&grads).is_none());
            x.grad(&grads).expect("x grad")
        };
        assert!(max_abs_diff(input_grad(true), input_grad(false)) < 1e-3);
    }

    #[test]
    fn forward_without_autodiff_matches_burns_conv2d() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 7, 7], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let a = conv2d(x.clone(), w.clone(), 1, 1);
        let b = burn_conv2d(x, w, None, options(1, 1));
        assert!(max_abs_diff(a, b) < 1e-4);
    }
}
