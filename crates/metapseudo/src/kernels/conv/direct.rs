//! Stride-1 "same" convolutions computed directly on `[batch, channels, h, w]` maps with AVX-512,
//! without a padded copy: the faster path of this module wherever the CPU has AVX-512.
//!
//! A 16-float vector holds 16 consecutive positions of one image channel. For kernel tap `t` the
//! input that the vector's outputs read starts `offset(t)` floats further on in the same
//! channel; lanes whose pixel falls outside the image (the zero padding, a neighbouring line, or
//! past the image's end) are switched off by a per-(vector, tap) mask, and a masked load reads
//! them as zero. So
//!
//! - forward: a tile of 8 output channels x 3 vectors (24 accumulators) adds, for every input
//!   channel and tap, one broadcast weight times one masked input vector;
//! - input gradient: the same product over the output gradient with the flipped, transposed
//!   kernel (tap `t` of the flipped kernel reads at `-offset(t)`, which is `offset` of the
//!   mirrored tap, with the same masks);
//! - weight gradient: a tile of 4 output channels x up to 6 input channels for one tap
//!   accumulates the lane-wise products of the output gradient and the masked input over the
//!   whole batch, then adds the 16 lanes. Each weight is one tile's sum over every position in a
//!   fixed order, so the result does not depend on the number of threads.
//!
//! Work is split over rayon's threads by tiles that compute disjoint outputs.
//!
//! The taps need not form a square grid: each names its shift and the block of input channels
//! it reads, which is how [`super::strided`] runs stride-2 convolutions on these kernels.

use super::kernels::{Geometry, SharedMut};

/// Floats in one AVX-512 vector.
const LANES: usize = 16;
/// Output channels of a forward tile; the output channels must be a multiple of it.
const TILE_CHANNELS: usize = 8;
/// Position vectors of a forward tile (at most).
const TILE_VECTORS: usize = 3;
/// Output channels of a weight-gradient tile; the output channels must be a multiple of it.
const GRAD_OUT: usize = 4;
/// Input channels of a weight-gradient tile (at most).
const GRAD_IN: usize = 6;
/// Whether this CPU runs the direct kernels (x86-64 with AVX-512F, checked at run time).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether [`forward`] takes this geometry.
pub fn forward_applies(g: &Geometry) -> bool {
    available() && g.cout.is_multiple_of(TILE_CHANNELS)
}

/// Whether [`input_grad`] takes this geometry.
pub fn input_grad_applies(g: &Geometry) -> bool {
    available() && g.cin.is_multiple_of(TILE_CHANNELS)
}

/// Whether [`weight_grad`] takes this geometry.
pub fn weight_grad_applies(g: &Geometry) -> bool {
    available() && g.cout.is_multiple_of(GRAD_OUT)
}

/// One kernel tap: the pixel it reads, `(dy, dx)` from the output position, and the first
/// channel of its input block (0 but for the stride phases of [`super::strided`], whose taps read
/// different phase maps stacked as channels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Tap {
    pub(super) dy: isize,
    pub(super) dx: isize,
    pub(super) base: usize,
}

/// The taps of an odd `k x k` kernel with padding `k / 2`, row by row.
fn grid(k: usize) -> Vec<Tap> {
    let pad = (k / 2) as isize;
    (0..k * k)
        .map(|t| Tap {
            dy: (t / k) as isize - pad,
            dx: (t % k) as isize - pad,
            base: 0,
        })
        .collect()
}

/// Where each tap reads and which lanes it may read, for one map size and list of taps.
pub(super) struct TapMasks {
    /// Floats per image channel, `h * w`.
    hw: usize,
    /// Vectors per image channel (the last one may be partial).
    vectors: usize,
    /// Number of taps.
    taps: usize,
    /// Offset of tap `t`'s pixel from the output position.
    offsets: Vec<isize>,
    /// First input channel of tap `t`.
    bases: Vec<usize>,
    /// Lanes that tap `t` may read in vector `v`, at `v * taps + t`.
    masks: Vec<u16>,
    /// Lanes of the last vector that lie inside the image.
    tail: u16,
}

impl TapMasks {
    /// The masks of a stride-1 "same" convolution of `g`.
    fn new(g: &Geometry) -> Self {
        Self::of_taps(g.h, g.w, &grid(g.k))
    }

    /// The masks of `taps` on an `h x w` map.
    pub(super) fn of_taps(h: usize, w: usize, taps: &[Tap]) -> Self {
        let hw = h * w;
        let vectors = hw.div_ceil(LANES);
        let (hi, wi) = (h as isize, w as isize);
        let offsets = taps.iter().map(|t| t.dy * wi + t.dx).collect();
        let mut masks = vec![0u16; vectors * taps.len()];
        for v in 0..vectors {
            for (i, tap) in taps.iter().enumerate() {
                for lane in (0..LANES).filter(|l| v * LANES + l < hw) {
                    let q = (v * LANES + lane) as isize;
                    let (y, x) = (q / wi + tap.dy, q % wi + tap.dx);
                    if (0..hi).contains(&y) && (0..wi).contains(&x) {
                        masks[v * taps.len() + i] |= 1 << lane;
                    }
                }
            }
        }
        let last = hw - (vectors - 1) * LANES;
        let tail = if last == LANES {
            u16::MAX
        } else {
            (1u16 << last) - 1
        };
        TapMasks {
            hw,
            vectors,
            taps: taps.len(),
            offsets,
            bases: taps.iter().map(|t| t.base).collect(),
            masks,
            tail,
        }
    }

    /// The lanes of vector `v` that lie inside the image.
    fn inside(&self, v: usize) -> u16 {
        if v + 1 == self.vectors {
            self.tail
        } else {
            u16::MAX
        }
    }
}

/// The kernel `[cout, cin, k, k]` as the forward tiles read it, `[cout / 8][taps][cin][8]`; with
/// `flip`, the flipped transposed kernel `[cin, cout, k, k]` (`W'[i][o][t] = W[o][i][taps-1-t]`)
/// in the same arrangement.
fn tile_kernel(weight: &[f32], g: &Geometry, flip: bool) -> Vec<f32> {
    let taps = g.kernel_taps(weight);
    if flip {
        tile_with(g.cin, g.cout, taps, |i, o, t| {
            weight[(o * g.cin + i) * taps + taps - 1 - t]
        })
    } else {
        tile_with(g.cout, g.cin, taps, |o, c, t| {
            weight[(o * g.cin + c) * taps + t]
        })
    }
}

/// `[outs / 8][taps][ins][8]` of the weights `at(out, in, tap)`: the forward tiles' kernel.
pub(super) fn tile_with(
    outs: usize,
    ins: usize,
    taps: usize,
    at: impl Fn(usize, usize, usize) -> f32,
) -> Vec<f32> {
    let mut tiled = Vec::with_capacity(outs * ins * taps);
    for block in (0..outs).step_by(TILE_CHANNELS) {
        for t in 0..taps {
            for c in 0..ins {
                tiled.extend((block..block + TILE_CHANNELS).map(|o| at(o, c, t)));
            }
        }
    }
    tiled
}

/// Forward: `[batch, cout, h, w]` from the input `[batch, cin, h, w]` and the kernel
/// `[cout, cin, k, k]`. Requires [`forward_applies`].
pub fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    assert!(forward_applies(g), "the direct forward does not apply");
    g.check_map(x, g.cin, g.h, g.w, "input");
    let plan = TapMasks::new(g);
    let tiled = tile_kernel(weight, g, false);
    products(x, g.cin, &tiled, g.batch, g.cin, g.cout, &plan)
}

/// Input gradient: `[batch, cin, h, w]` from the output gradient `[batch, cout, h, w]` and the
/// kernel `[cout, cin, k, k]`. Requires [`input_grad_applies`].
pub fn input_grad(grad: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    assert!(
        input_grad_applies(g),
        "the direct input gradient does not apply"
    );
    g.check_map(grad, g.cout, g.h, g.w, "gradient");
    let plan = TapMasks::new(g);
    let tiled = tile_kernel(weight, g, true);
    products(grad, g.cout, &tiled, g.batch, g.cout, g.cin, &plan)
}

/// `[batch, outs, h, w] = sum over ins and taps` of the tiled kernel (see [`tile_with`]) times
/// the masked, shifted `src` (`[batch, src_channels, h, w]`; tap `t` reads its channels
/// `base(t) .. base(t) + ins`): one task per image and group of at most 3 vectors. `outs` must
/// be a multiple of 8.
pub(super) fn products(
    src: &[f32],
    src_channels: usize,
    tiled: &[f32],
    batch: usize,
    ins: usize,
    outs: usize,
    plan: &TapMasks,
) -> Vec<f32> {
    assert!(
        outs.is_multiple_of(TILE_CHANNELS) && available(),
        "the direct products do not apply"
    );
    assert_eq!(
        src.len(),
        batch * src_channels * plan.hw,
        "source of another shape"
    );
    assert_eq!(
        tiled.len(),
        outs * ins * plan.taps,
        "kernel of another shape"
    );
    assert!(
        plan.bases.iter().all(|&b| b + ins <= src_channels),
        "a tap reads past the source's channels"
    );
    // Every element is written by exactly one tile (no clearing needed): the tasks cover all
    // images and vectors, the blocks all output channels, the last vector's mask its lanes.
    let len = batch * outs * plan.hw;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let dst = SharedMut(out.spare_capacity_mut().as_mut_ptr().cast::<f32>());
    let groups = plan.vectors.div_ceil(TILE_VECTORS);
    let bounds: Vec<usize> = (0..=groups).map(|i| i * plan.vectors / groups).collect();
    use rayon::prelude::*;
    (0..batch * groups).into_par_iter().for_each(|task| {
        let (n, group) = (task / groups, task % groups);
        let vectors = bounds[group]..bounds[group + 1];
        for block in 0..outs / TILE_CHANNELS {
            let tile = ForwardTile {
                src: &src[n * src_channels * plan.hw..(n + 1) * src_channels * plan.hw],
                kernel: &tiled[block * TILE_CHANNELS * plan.taps * ins..]
                    [..TILE_CHANNELS * plan.taps * ins],
                ins,
                plan,
                first: vectors.start,
                // SAFETY: image `n`'s channels `block * 8 ..` lie inside `out`.
                dst: unsafe { dst.add((n * outs + block * TILE_CHANNELS) * plan.hw) },
            };
            // SAFETY: the kernels run only where `available()` (asserted by the callers), and
            // this task alone writes these vectors of these channels.
            unsafe { tile.run(vectors.len()) };
        }
    });
    // SAFETY: the tiles above wrote all `len` elements.
    unsafe { out.set_len(len) };
    out
}

/// One forward tile: 8 output channels of one image at up to 3 consecutive vectors.
struct ForwardTile<'a> {
    /// The image's source channels (`[src_channels, h, w]`).
    src: &'a [f32],
    /// The tile's kernel, `[taps][ins][8]`.
    kernel: &'a [f32],
    ins: usize,
    plan: &'a TapMasks,
    /// The first vector.
    first: usize,
    /// The tile's first output channel of this image.
    dst: *mut f32,
}

impl ForwardTile<'_> {
    /// # Safety
    /// AVX-512F is available, and `dst` may be written at the tile's 8 channels (`h * w` floats
    /// apart) at its vectors.
    unsafe fn run(&self, vectors: usize) {
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match vectors {
                3 => avx512::forward_tile::<3>(self),
                2 => avx512::forward_tile::<2>(self),
                _ => avx512::forward_tile::<1>(self),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("direct kernels run only on x86-64 ({vectors} vectors)")
    }
}

/// Weight gradient `[cout, cin, k, k]` from the input `[batch, cin, h, w]` and the output
/// gradient `[batch, cout, h, w]`. Requires [`weight_grad_applies`].
///
/// One task per tap and block of 4 output channels; each weight is one tile's sum over every
/// position of the batch in a fixed order, so the result does not depend on the threads.
pub fn weight_grad(x: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
    assert!(
        weight_grad_applies(g),
        "the direct weight gradient does not apply"
    );
    let plan = TapMasks::new(g);
    let shape = GradShape {
        batch: g.batch,
        cin: g.cin,
        cout: g.cout,
        x_channels: g.cin,
    };
    weight_grad_of(x, grad, &shape, &plan)
}

/// The channels a weight gradient sums over.
#[derive(Clone, Copy, Debug)]
pub(super) struct GradShape {
    pub(super) batch: usize,
    /// Input channels per tap.
    pub(super) cin: usize,
    pub(super) cout: usize,
    /// Channels per image of the input that the taps read (`cin` but for stacked phases).
    pub(super) x_channels: usize,
}

/// `[cout, cin, taps]` (taps in `plan`'s order) from the input `[batch, x_channels, h, w]` and
/// the output gradient `[batch, cout, h, w]`: one task per tap and block of 4 output channels,
/// each weight one tile's sum over every position of the batch in a fixed order, so the result
/// does not depend on the threads. `cout` must be a multiple of 4.
pub(super) fn weight_grad_of(
    x: &[f32],
    grad: &[f32],
    shape: &GradShape,
    plan: &TapMasks,
) -> Vec<f32> {
    let s = shape;
    assert!(
        s.cout.is_multiple_of(GRAD_OUT) && available(),
        "the direct weight gradient does not apply"
    );
    assert_eq!(
        x.len(),
        s.batch * s.x_channels * plan.hw,
        "input of another shape"
    );
    assert_eq!(
        grad.len(),
        s.batch * s.cout * plan.hw,
        "gradient of another shape"
    );
    assert!(
        plan.bases.iter().all(|&b| b + s.cin <= s.x_channels),
        "a tap reads past the input's channels"
    );
    // Task `i` computes tap `i % taps` of output channels `i / taps * 4 ..`.
    let tile_of = |task: usize| (task % plan.taps, task / plan.taps * GRAD_OUT);
    use rayon::prelude::*;
    let sums: Vec<Vec<f32>> = (0..plan.taps * (s.cout / GRAD_OUT))
        .into_par_iter()
        .map(|task| {
            let (tap, first_out) = tile_of(task);
            let mut sums = vec![0.0f32; GRAD_OUT * s.cin];
            for first_in in (0..s.cin).step_by(GRAD_IN) {
                let tile = GradTile {
                    x,
                    grad,
                    shape: s,
                    plan,
                    tap,
                    first_out,
                    first_in,
                };
                // SAFETY: the kernels run only where `available()` (asserted above).
                unsafe { tile.run(GRAD_IN.min(s.cin - first_in), &mut sums) };
            }
            sums
        })
        .collect();
    let mut dw = vec![0.0f32; s.cout * s.cin * plan.taps];
    for (task, sums) in sums.iter().enumerate() {
        let (tap, first_out) = tile_of(task);
        for (i, &sum) in sums.iter().enumerate() {
            let (o, c) = (first_out + i / s.cin, i % s.cin);
            dw[(o * s.cin + c) * plan.taps + tap] = sum;
        }
    }
    dw
}

/// One weight-gradient tile: 4 output channels x up to 6 input channels at one tap, over every
/// position of the batch.
struct GradTile<'a> {
    x: &'a [f32],
    grad: &'a [f32],
    shape: &'a GradShape,
    plan: &'a TapMasks,
    tap: usize,
    first_out: usize,
    first_in: usize,
}

impl GradTile<'_> {
    /// Writes the tile's sums into `sums` (`[4, cin]`: the task's output channels).
    ///
    /// # Safety
    /// AVX-512F is available.
    unsafe fn run(&self, ins: usize, sums: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match ins {
                6 => avx512::grad_tile::<6>(self, sums),
                5 => avx512::grad_tile::<5>(self, sums),
                4 => avx512::grad_tile::<4>(self, sums),
                3 => avx512::grad_tile::<3>(self, sums),
                2 => avx512::grad_tile::<2>(self, sums),
                _ => avx512::grad_tile::<1>(self, sums),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!(
            "direct kernels run only on x86-64 ({ins} channels, {} sums)",
            sums.len()
        )
    }
}

/// The AVX-512 tiles. Their loops index fixed-size arrays of accumulators with constant
/// bounds, which the compiler unrolls into registers; iterator forms would hide that.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)]
mod avx512 {
    use super::{ForwardTile, GRAD_OUT, GradTile, LANES, TILE_CHANNELS};
    use std::arch::x86_64::*;

    /// The forward tile with `V` vectors.
    ///
    /// # Safety
    /// As [`ForwardTile::run`]. Masked-off lanes are never read, so a tap's start may lie
    /// outside `src` (the pointer is formed with wrapping arithmetic and only enabled lanes,
    /// which lie inside the image, are loaded).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward_tile<const V: usize>(tile: &ForwardTile) {
        let plan = tile.plan;
        let mut acc = [[_mm512_setzero_ps(); V]; TILE_CHANNELS];
        for t in 0..plan.taps {
            let mut masks = [0u16; V];
            let mut starts = [tile.src.as_ptr(); V];
            for v in 0..V {
                let vector = tile.first + v;
                masks[v] = plan.masks[vector * plan.taps + t];
                starts[v] = tile.src.as_ptr().wrapping_offset(
                    ((plan.bases[t] * plan.hw + vector * LANES) as isize) + plan.offsets[t],
                );
            }
            let kernel = &tile.kernel[t * tile.ins * TILE_CHANNELS..][..tile.ins * TILE_CHANNELS];
            for (c, weights) in kernel.chunks_exact(TILE_CHANNELS).enumerate() {
                let weights: &[f32; TILE_CHANNELS] = weights.try_into().expect("whole chunks");
                let mut inputs = [_mm512_setzero_ps(); V];
                for v in 0..V {
                    // SAFETY: the enabled lanes are pixels of channel `c` of this image.
                    inputs[v] = unsafe {
                        _mm512_maskz_loadu_ps(masks[v], starts[v].wrapping_add(c * plan.hw))
                    };
                }
                for r in 0..TILE_CHANNELS {
                    let w = _mm512_set1_ps(weights[r]);
                    for v in 0..V {
                        acc[r][v] = _mm512_fmadd_ps(w, inputs[v], acc[r][v]);
                    }
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, &sum) in row.iter().enumerate() {
                let vector = tile.first + v;
                // SAFETY: the caller's contract; the mask keeps the partial last vector inside
                // the image.
                unsafe {
                    _mm512_mask_storeu_ps(
                        tile.dst.add(r * plan.hw + vector * LANES),
                        plan.inside(vector),
                        sum,
                    )
                };
            }
        }
    }

    /// The weight-gradient tile with `I` input channels.
    ///
    /// # Safety
    /// As [`GradTile::run`]; reads as in [`forward_tile`].
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn grad_tile<const I: usize>(tile: &GradTile, sums: &mut [f32]) {
        let (s, plan) = (tile.shape, tile.plan);
        let (t, hw) = (tile.tap, plan.hw);
        let mut acc = [[_mm512_setzero_ps(); I]; GRAD_OUT];
        for n in 0..s.batch {
            let grad = tile.grad[(n * s.cout + tile.first_out) * hw..].as_ptr();
            let x = tile.x[(n * s.x_channels + plan.bases[t] + tile.first_in) * hw..]
                .as_ptr()
                .wrapping_offset(plan.offsets[t]);
            for v in 0..plan.vectors {
                let (inside, mask) = (plan.inside(v), plan.masks[v * plan.taps + t]);
                let mut outs = [_mm512_setzero_ps(); GRAD_OUT];
                for (r, out) in outs.iter_mut().enumerate() {
                    // SAFETY: enabled lanes are positions of output channel `first_out + r`.
                    *out = unsafe { _mm512_maskz_loadu_ps(inside, grad.add(r * hw + v * LANES)) };
                }
                for c in 0..I {
                    // SAFETY: enabled lanes are pixels of input channel `first_in + c`.
                    let input =
                        unsafe { _mm512_maskz_loadu_ps(mask, x.wrapping_add(c * hw + v * LANES)) };
                    for r in 0..GRAD_OUT {
                        acc[r][c] = _mm512_fmadd_ps(outs[r], input, acc[r][c]);
                    }
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (c, &sum) in row.iter().enumerate() {
                sums[r * s.cin + tile.first_in + c] = _mm512_reduce_add_ps(sum);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{convolution, gradients, max_diff, values, with_threads};
    use super::*;

    fn geometry(batch: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize) -> Geometry {
        Geometry {
            batch,
            cin,
            cout,
            h,
            w,
            k,
        }
    }

    /// Whether the tests can run here; says so when they cannot.
    fn runs_here() -> bool {
        let ok = available();
        if !ok {
            eprintln!("skipped: this CPU has no AVX-512F");
        }
        ok
    }

    #[test]
    fn forward_is_the_convolution() {
        if !runs_here() {
            return;
        }
        // Partial last vectors (6x7, 17x19), a map smaller than a vector, 1x1 and 5x5 kernels,
        // several forward tiles per image and several output-channel blocks.
        for g in [
            geometry(3, 4, 8, 6, 7, 3),
            geometry(1, 2, 8, 1, 1, 3),
            geometry(2, 3, 16, 4, 5, 1),
            geometry(2, 2, 8, 6, 5, 5),
            geometry(2, 8, 8, 8, 8, 3),
            geometry(1, 5, 16, 17, 19, 3),
        ] {
            let x = values(g.batch * g.cin * g.h * g.w, 1);
            let w = values(g.cout * g.cin * g.k * g.k, 2);
            let y = forward(&x, &w, &g);
            assert!(max_diff(&y, &convolution(&x, &w, &g)) < 1e-4, "{g:?}");
        }
    }

    #[test]
    fn gradients_are_the_adjoints_of_the_forward() {
        if !runs_here() {
            return;
        }
        // 12 output channels: three weight-gradient blocks; 14 input channels: tiles of 6, 6
        // and 2; a 5x5 kernel larger than the 3x3 map.
        for g in [
            geometry(2, 8, 4, 6, 7, 3),
            geometry(1, 8, 8, 3, 3, 5),
            geometry(2, 16, 8, 5, 4, 1),
            geometry(2, 8, 12, 7, 7, 3),
            geometry(1, 14, 4, 4, 6, 3),
        ] {
            let x = values(g.batch * g.cin * g.h * g.w, 3);
            let w = values(g.cout * g.cin * g.k * g.k, 4);
            let r = values(g.batch * g.cout * g.h * g.w, 5);
            let (dx_ref, dw_ref) = gradients(&x, &w, &r, &g);
            if input_grad_applies(&g) {
                assert!(
                    max_diff(&input_grad(&r, &w, &g), &dx_ref) < 1e-4,
                    "dx {g:?}"
                );
            }
            assert!(
                max_diff(&weight_grad(&x, &r, &g), &dw_ref) < 1e-3,
                "dw {g:?}"
            );
        }
    }

    #[test]
    fn results_do_not_depend_on_the_threads() {
        if !runs_here() {
            return;
        }
        let g = geometry(4, 8, 16, 12, 12, 3);
        let x = values(g.batch * g.cin * g.h * g.w, 6);
        let w = values(g.cout * g.cin * 9, 7);
        let r = values(g.batch * g.cout * g.h * g.w, 8);
        let run = |threads: usize| {
            with_threads(threads, || {
                (
                    forward(&x, &w, &g),
                    input_grad(&r, &w, &g),
                    weight_grad(&x, &r, &g),
                )
            })
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn shapes_outside_the_tiles_are_refused() {
        if !runs_here() {
            return;
        }
        let g = geometry(1, 3, 5, 4, 4, 3);
        assert!(!forward_applies(&g) && !input_grad_applies(&g) && !weight_grad_applies(&g));
        assert!(forward_applies(&geometry(1, 3, 8, 4, 4, 3)));
    }
}
