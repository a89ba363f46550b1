//! The networks' convolution as a Burn backend extension: Burn's forward, and on the flex
//! backend a backward pass of two matrix products over one im2col matrix.
//!
//! Burn's generic backward computes the input gradient with a direct `conv_transpose2d` loop
//! and the weight gradient as a convolution over `swap_dims(0, 1)` copies of the input and the
//! output gradient (BENCHMARKS.md, "Training step on image models"). Here, with
//! `K = in * k * k` and `N = batch * H' * W'`, the output gradient is laid out once as
//! `G [out, N]`, the input as `X [K, N]` (im2col), and
//! `dW = G X^T`, `dX = col2im(W^T G)`: the same arithmetic as PyTorch's CPU path.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Shape, Tensor, TensorData};
use rayon::prelude::*;

/// Options of a convolution with equal stride and zero padding on both axes.
fn options(stride: usize, padding: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1)
}

/// The convolution operation the networks call.
#[backend_extension(Flex, Autodiff)]
pub trait ConvGemmBackend: Backend {
    /// `conv2d(x, weight)`, no bias, `stride` and zero `padding` on both axes.
    fn conv_gemm(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options(stride, padding))
    }
}

impl ConvGemmBackend for Flex {}

impl<C: CheckpointStrategy> ConvGemmBackend for Autodiff<Flex, C> {
    fn conv_gemm(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvGemmBackward;

        impl Backward<Flex, 2> for ConvGemmBackward {
            type State = (NodeId, NodeId, usize, usize);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_weight] = ops.parents;
                let grad = grads.consume::<Flex>(&ops.node);
                let (x_state, weight_state, stride, padding) = ops.state;
                let x: FlexTensor = checkpointer.retrieve_node_output(x_state);
                let weight: FlexTensor = checkpointer.retrieve_node_output(weight_state);
                let geometry = Geometry::new(&x, &weight, &grad, stride, padding);
                let (dx, dw) = if own_kernels(&x, &weight, &grad) {
                    gemm_backward(&x, &weight, &grad, geometry, node_x.is_some())
                } else {
                    let options = options(stride, padding);
                    let dx = node_x.is_some().then(|| {
                        Flex::conv2d_x_backward(
                            x.clone(),
                            weight.clone(),
                            grad.clone(),
                            options.clone(),
                        )
                    });
                    (dx, Flex::conv2d_weight_backward(x, weight, grad, options))
                };
                if let Some(node) = node_weight {
                    grads.register::<Flex>(node.id, dw);
                }
                if let (Some(node), Some(dx)) = (node_x, dx) {
                    grads.register::<Flex>(node.id, dx);
                }
            }
        }

        match ConvGemmBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let out =
                    Flex::conv_gemm(x.into_primitive(), weight.into_primitive(), stride, padding);
                prep.finish((x_state, weight_state, stride, padding), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv_gemm(
                x.into_primitive(),
                weight.into_primitive(),
                stride,
                padding,
            )),
        }
    }
}

/// `conv2d(x, weight)` without bias, `stride` and zero `padding` on both axes, with the
/// backward pass of this module on flex.
pub fn conv2d_gemm(x: Tensor<4>, weight: Tensor<4>, stride: usize, padding: usize) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::conv_gemm(
        x.into_dispatch(),
        weight.into_dispatch(),
        stride,
        padding,
    ))
}

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    kh: usize,
    kw: usize,
    ho: usize,
    wo: usize,
    stride: usize,
    padding: usize,
}

impl Geometry {
    fn new(
        x: &FlexTensor,
        weight: &FlexTensor,
        grad: &FlexTensor,
        stride: usize,
        padding: usize,
    ) -> Self {
        let [batch, cin, h, w] = dims4(x);
        let [cout, _, kh, kw] = dims4(weight);
        let [_, _, ho, wo] = dims4(grad);
        Self {
            batch,
            cin,
            h,
            w,
            cout,
            kh,
            kw,
            ho,
            wo,
            stride,
            padding,
        }
    }

    /// Rows of the im2col matrix: `in * kh * kw`.
    fn k(&self) -> usize {
        self.cin * self.kh * self.kw
    }

    /// Columns of the im2col matrix: `batch * H' * W'`.
    fn n(&self) -> usize {
        self.batch * self.ho * self.wo
    }

    /// The output columns `ow` whose input column `ow * stride + kj - padding` lies inside the
    /// image, as a range, for stride 1 (the contiguous fast path).
    fn valid_cols(&self, kj: usize) -> (usize, usize) {
        let lo = self.padding.saturating_sub(kj);
        let hi = (self.w + self.padding).saturating_sub(kj).min(self.wo);
        (lo, hi.max(lo))
    }

    /// The input row/column for output index `o` and kernel offset `k`, if inside `size`.
    fn source(&self, o: usize, k: usize, size: usize) -> Option<usize> {
        (o * self.stride + k)
            .checked_sub(self.padding)
            .filter(|&i| i < size)
    }
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let dims = t.layout().shape().dims::<4>();
    [dims[0], dims[1], dims[2], dims[3]]
}

/// Whether this module's f32 kernels apply (Burn's generic backward otherwise).
fn own_kernels(x: &FlexTensor, weight: &FlexTensor, grad: &FlexTensor) -> bool {
    [x, weight, grad].iter().all(|t| t.dtype() == DType::F32)
}

/// Images per tile: enough for about 4096 im2col columns, so the tile's matrices stay small
/// (no large zeroed buffers) while the products stay large enough for the GEMM kernels.
fn images_per_tile(g: &Geometry) -> usize {
    (4096 / (g.ho * g.wo).max(1)).clamp(1, g.batch.max(1))
}

/// `(dX, dW)` tile by tile over the batch: with `G` the tile's output gradient laid out as
/// `[out, images * H' * W']` and `X` its im2col matrix, `dW += G X^T` and
/// `dX = col2im(W^T G)` (only when `need_x`).
fn gemm_backward(
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    g: Geometry,
    need_x: bool,
) -> (Option<FlexTensor>, FlexTensor) {
    let x = x.to_contiguous();
    let xs = x.as_slice::<f32>().expect("a contiguous f32 tensor");
    let grad = grad.reshape(Shape::new([g.batch, g.cout, g.ho * g.wo]));
    let w_t = weight.reshape(Shape::new([g.cout, g.k()])).transpose(0, 1);
    let image_len = g.cin * g.h * g.w;
    let mut dx = vec![0.0f32; if need_x { g.batch * image_len } else { 0 }];
    let mut dw: Option<FlexTensor> = None;
    let per_tile = images_per_tile(&g);
    for start in (0..g.batch).step_by(per_tile) {
        let tile = Geometry {
            batch: per_tile.min(g.batch - start),
            ..g
        };
        let rows = grad
            .narrow(0, start, tile.batch)
            .permute(&[1, 0, 2])
            .to_contiguous()
            .reshape(Shape::new([g.cout, tile.n()]));
        let images = &xs[start * image_len..][..tile.batch * image_len];
        let cols = f32_tensor(im2col(images, &tile), [g.k(), tile.n()]);
        let part = Flex::float_matmul(rows.clone(), cols.transpose(0, 1));
        dw = Some(match dw {
            Some(sum) => Flex::float_add(sum, part),
            None => part,
        });
        if need_x {
            let dcols = Flex::float_matmul(w_t.clone(), rows).to_contiguous();
            let dcols = dcols.as_slice::<f32>().expect("a contiguous f32 tensor");
            col2im(
                dcols,
                &tile,
                &mut dx[start * image_len..][..tile.batch * image_len],
            );
        }
    }
    let dw = dw.expect("a batch of at least one image");
    (
        need_x.then(|| FlexTensor::from_data(TensorData::new(dx, [g.batch, g.cin, g.h, g.w]))),
        dw.reshape(Shape::new([g.cout, g.cin, g.kh, g.kw])),
    )
}

fn f32_tensor(values: Vec<f32>, shape: [usize; 2]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// The im2col matrix `[in * kh * kw, batch * H' * W']` of the images `src` (`[batch, in, H, W]`),
/// zero where the kernel reads padding.
fn im2col(src: &[f32], g: &Geometry) -> Vec<f32> {
    let n = g.n();
    let plane = g.h * g.w;
    let mut cols = vec![0.0f32; g.k() * n];
    cols.par_chunks_mut(n).enumerate().for_each(|(row, out)| {
        let (ci, ki, kj) = (row / (g.kh * g.kw), (row / g.kw) % g.kh, row % g.kw);
        for b in 0..g.batch {
            let image = &src[(b * g.cin + ci) * plane..][..plane];
            for oh in 0..g.ho {
                let Some(ih) = g.source(oh, ki, g.h) else {
                    continue;
                };
                let line = &image[ih * g.w..][..g.w];
                let dst = &mut out[(b * g.ho + oh) * g.wo..][..g.wo];
                if g.stride == 1 {
                    let (lo, hi) = g.valid_cols(kj);
                    let start = lo + kj - g.padding;
                    dst[lo..hi].copy_from_slice(&line[start..start + (hi - lo)]);
                } else {
                    for (ow, d) in dst.iter_mut().enumerate() {
                        if let Some(iw) = g.source(ow, kj, g.w) {
                            *d = line[iw];
                        }
                    }
                }
            }
        }
    });
    cols
}

/// Sums the columns of `dcols [in * kh * kw, batch * H' * W']` into `dx` (`[batch, in, H, W]`,
/// zeroed) at the input pixels they were read from: the adjoint of [`im2col`].
fn col2im(dcols: &[f32], g: &Geometry, dx: &mut [f32]) {
    let n = g.n();
    let plane = g.h * g.w;
    dx.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(bc, image)| {
            let (b, ci) = (bc / g.cin, bc % g.cin);
            for ki in 0..g.kh {
                for kj in 0..g.kw {
                    let row = (ci * g.kh + ki) * g.kw + kj;
                    let src = &dcols[row * n + b * g.ho * g.wo..][..g.ho * g.wo];
                    for oh in 0..g.ho {
                        let Some(ih) = g.source(oh, ki, g.h) else {
                            continue;
                        };
                        let line = &mut image[ih * g.w..][..g.w];
                        let from = &src[oh * g.wo..][..g.wo];
                        if g.stride == 1 {
                            let (lo, hi) = g.valid_cols(kj);
                            let start = lo + kj - g.padding;
                            for (d, s) in
                                line[start..start + (hi - lo)].iter_mut().zip(&from[lo..hi])
                            {
                                *d += s;
                            }
                        } else {
                            for (ow, s) in from.iter().enumerate() {
                                if let Some(iw) = g.source(ow, kj, g.w) {
                                    line[iw] += s;
                                }
                            }
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::{Device, Distribution};

    /// Gradients of `sum(conv(x, w) * r)` (r a fixed random map) through this module and
    /// through Burn's `conv2d`.
    fn grads_both(
        shape_x: [usize; 4],
        shape_w: [usize; 4],
        stride: usize,
        padding: usize,
    ) -> [(Tensor<4>, Tensor<4>); 2] {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let x0 = Tensor::<4>::random(shape_x, normal, &device);
        let w0 = Tensor::<4>::random(shape_w, normal, &device);
        let out_dims = conv2d(x0.clone(), w0.clone(), None, options(stride, padding)).dims();
        let r = Tensor::<4>::random(out_dims, normal, &device);
        let run = |own: bool| {
            let x = x0.clone().detach().require_grad();
            let w = w0.clone().detach().require_grad();
            let y = if own {
                conv2d_gemm(x.clone(), w.clone(), stride, padding)
            } else {
                conv2d(x.clone(), w.clone(), None, options(stride, padding))
            };
            let grads = (y * r.clone()).sum().backward();
            (
                x.grad(&grads).expect("x grad"),
                w.grad(&grads).expect("w grad"),
            )
        };
        [run(true), run(false)]
    }

    fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn gradients_match_burns_conv2d() {
        // 3x3 pad 1, strided 3x3 pad 1, 1x1 strided (WRN shortcut), 3x3 valid (ConvLarge).
        for (sx, sw, stride, padding) in [
            ([3, 4, 9, 7], [5, 4, 3, 3], 1, 1),
            ([2, 3, 8, 8], [4, 3, 3, 3], 2, 1),
            ([2, 6, 8, 8], [4, 6, 1, 1], 2, 0),
            ([2, 3, 6, 6], [2, 3, 3, 3], 1, 0),
        ] {
            let [(dx, dw), (dx_ref, dw_ref)] = grads_both(sx, sw, stride, padding);
            assert_eq!(dx.dims(), dx_ref.dims());
            assert_eq!(dw.dims(), dw_ref.dims());
            let ex = max_abs_diff(dx, dx_ref);
            let ew = max_abs_diff(dw, dw_ref);
            assert!(
                ex < 1e-3 && ew < 1e-3,
                "{sx:?} {sw:?} s{stride} p{padding}: {ex} {ew}"
            );
        }
    }

    #[test]
    fn forward_matches_burns_conv2d_without_autodiff() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 7, 7], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random([4, 3, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let a = conv2d_gemm(x.clone(), w.clone(), 2, 1);
        let b = conv2d(x, w, None, options(2, 1));
        assert!(max_abs_diff(a, b) < 1e-5);
    }
}
