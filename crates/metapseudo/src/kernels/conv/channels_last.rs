//! The weight gradient of 3x3 stride-1 "same" convolutions from a zero-padded, channels-last
//! copy of the input, with AVX-512.
//!
//! `dW[o][i][dy][dx] = sum over images and positions p of G[o][p] * X[i][p + (dy - 1, dx - 1)]`.
//! With the input laid out as `[batch, h + 2, w + 2, cin]` (a zero border for the padding), the
//! 16 input channels a vector holds at any pixel are one contiguous load, whatever the tap, and
//! no position needs a mask. (Aligning the copy to 64 bytes, so that no load straddles two cache
//! lines, made no difference that could be measured on this host.) A tile of 4 output channels
//! x 3 horizontal taps x 32 input channels (24 accumulators) walks an image's positions for one kernel row `dy`: at each position it
//! broadcasts the 4 output-gradient values and multiplies them with the input at the three
//! horizontal taps, which slide along the line (each position loads only the 32 channels of
//! one new pixel).
//!
//! Images are taken in a fixed number of chunks; each chunk sums its images in order into its
//! own partial gradient and the chunks are added in order, so the result does not depend on
//! the number of threads.

use super::direct;
use super::kernels::Geometry;

/// Floats in one AVX-512 vector.
const LANES: usize = 16;
/// Output channels of a tile.
const OUTS: usize = 4;
/// Input channels of a tile (two vectors).
const INS: usize = 2 * LANES;
/// Image chunks the batch is split into (at most).
const CHUNKS: usize = 8;

/// Whether [`weight_grad`] takes this geometry: a 3x3 kernel, input channels a multiple of 32
/// and output channels a multiple of 4, on a CPU with AVX-512.
pub fn weight_grad_applies(g: &Geometry) -> bool {
    direct::available() && g.k == 3 && g.cin.is_multiple_of(INS) && g.cout.is_multiple_of(OUTS)
}

/// `[batch, h + 2, w + 2, c]`: `x` `[batch, c, h, w]` channels-last with a zero border.
fn padded_channels_last(x: &[f32], g: &Geometry) -> Vec<f32> {
    let (c, h, w) = (g.cin, g.h, g.w);
    let (ph, pw) = (h + 2, w + 2);
    let mut out = vec![0.0f32; g.batch * ph * pw * c];
    use rayon::prelude::*;
    out.par_chunks_mut(ph * pw * c)
        .zip(x.par_chunks(c * h * w))
        .for_each(|(dst, src)| {
            for y in 0..h {
                for xo in 0..w {
                    let pixel = &mut dst[((y + 1) * pw + xo + 1) * c..][..c];
                    for (ch, d) in pixel.iter_mut().enumerate() {
                        *d = src[(ch * h + y) * w + xo];
                    }
                }
            }
        });
    out
}

/// `dW` `[cout, cin, 3, 3]` of the convolution with input `x` `[batch, cin, h, w]` and output
/// gradient `grad` `[batch, cout, h, w]`.
pub fn weight_grad(x: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
    assert!(
        weight_grad_applies(g),
        "the channels-last weight gradient does not apply"
    );
    g.check_map(x, g.cin, g.h, g.w, "input");
    g.check_map(grad, g.cout, g.h, g.w, "gradient");
    let xt = padded_channels_last(x, g);
    let per_chunk = g.batch.div_ceil(CHUNKS).max(1);
    let chunks = g.batch.div_ceil(per_chunk);
    // Partial gradients `[chunk][cout][9][cin]`, one tile's outputs contiguous. One task per
    // chunk: an image's input and output gradient stay in cache through all its tiles.
    let block = OUTS * 9 * g.cin;
    let mut partial = vec![0.0f32; chunks * g.cout * 9 * g.cin];
    use rayon::prelude::*;
    partial
        .par_chunks_mut(g.cout * 9 * g.cin)
        .enumerate()
        .for_each(|(chunk, sums)| {
            for n in chunk * per_chunk..((chunk + 1) * per_chunk).min(g.batch) {
                for (o_block, sums) in sums.chunks_mut(block).enumerate() {
                    for dy in 0..3 {
                        for i0 in (0..g.cin).step_by(INS) {
                            let tile = Tile {
                                xt: &xt,
                                grad,
                                g,
                                n,
                                o0: o_block * OUTS,
                                dy,
                                i0,
                            };
                            // SAFETY: `weight_grad_applies` checked AVX-512F.
                            unsafe { avx512::tile(&tile, sums) };
                        }
                    }
                }
            }
        });
    // dW[o][i][t] = sum over chunks, in order, of partial[chunk][o][t][i].
    let mut dw = vec![0.0f32; g.cout * g.cin * 9];
    dw.par_chunks_mut(g.cin * 9)
        .enumerate()
        .for_each(|(o, dw_o)| {
            for t in 0..9 {
                for i in 0..g.cin {
                    let mut s = 0.0f32;
                    for chunk in 0..chunks {
                        s += partial[((chunk * g.cout + o) * 9 + t) * g.cin + i];
                    }
                    dw_o[i * 9 + t] = s;
                }
            }
        });
    dw
}

/// One tile: output channels `o0 .. o0 + 4`, input channels `i0 .. i0 + 32`, kernel row `dy`,
/// image `n`.
struct Tile<'a> {
    xt: &'a [f32],
    grad: &'a [f32],
    g: &'a Geometry,
    n: usize,
    o0: usize,
    dy: usize,
    i0: usize,
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{INS, LANES, OUTS, Tile};
    use std::arch::x86_64::*;

    /// The 32 floats at `at`.
    ///
    /// # Safety
    /// AVX-512F is available and `at` starts 32 readable floats.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(at: *const f32) -> [__m512; 2] {
        // SAFETY: the caller's contract.
        unsafe { [_mm512_loadu_ps(at), _mm512_loadu_ps(at.add(LANES))] }
    }

    /// Adds the tile's sums over image `n` to `sums` (`[4][9][cin]`, the tile's output
    /// channels).
    ///
    /// # Safety
    /// AVX-512F is available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile(t: &Tile, sums: &mut [f32]) {
        let g = t.g;
        let (c, h, w, pw) = (g.cin, g.h, g.w, g.w + 2);
        let image = &t.xt[t.n * (h + 2) * pw * c..][..(h + 2) * pw * c];
        let grad = &t.grad[(t.n * g.cout + t.o0) * h * w..][..OUTS * h * w];
        // Raw pointers inside the loops, so no call (and no register spill) interrupts them.
        // SAFETY (for every read below): a padded pixel `p <= (h + 2) * pw - 1` has its 32
        // channels at `p * c + i0 .. + 32 <= image.len()` since `i0 + 32 <= c`; the gradient of
        // output channel `o0 + o` at position `y * w + x` is inside `grad`.
        debug_assert!(t.i0 + INS <= c);
        let (image, grad) = (image.as_ptr().wrapping_add(t.i0), grad.as_ptr());
        let mut acc = [[[_mm512_setzero_ps(); 2]; 3]; OUTS];
        for y in 0..h {
            let row = image.wrapping_add((y + t.dy) * pw * c);
            let grads = grad.wrapping_add(y * w);
            let mut window = unsafe { [load(row), load(row.add(c)), load(row.add(c))] };
            for x in 0..w {
                window[2] = unsafe { load(row.add((x + 2) * c)) };
                for (o, lane_sums) in acc.iter_mut().enumerate() {
                    let gv = _mm512_set1_ps(unsafe { *grads.add(o * h * w + x) });
                    for (dx, taps) in lane_sums.iter_mut().enumerate() {
                        for v in 0..2 {
                            taps[v] = _mm512_fmadd_ps(gv, window[dx][v], taps[v]);
                        }
                    }
                }
                window[0] = window[1];
                window[1] = window[2];
            }
        }
        for (o, lane_sums) in acc.iter().enumerate() {
            for (dx, taps) in lane_sums.iter().enumerate() {
                for (v, &sum) in taps.iter().enumerate() {
                    let at = &mut sums[(o * 9 + t.dy * 3 + dx) * c + t.i0 + v * LANES..][..LANES];
                    // SAFETY: `at` holds the 16 floats read and written.
                    unsafe {
                        let old = _mm512_loadu_ps(at.as_ptr());
                        _mm512_storeu_ps(at.as_mut_ptr(), _mm512_add_ps(old, sum));
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    use super::Tile;

    /// Never called: [`super::weight_grad_applies`] is false off x86-64.
    pub(super) unsafe fn tile(_: &Tile, _: &mut [f32]) {
        unreachable!("the channels-last weight gradient needs x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{max_diff, values, with_threads};
    use super::*;

    #[test]
    fn matches_the_direct_weight_gradient() {
        if !direct::available() {
            return;
        }
        for (batch, cin, cout, h, w) in [(3, 32, 4, 5, 7), (2, 64, 8, 8, 8), (9, 32, 12, 3, 4)] {
            let g = Geometry {
                batch,
                cin,
                cout,
                h,
                w,
                k: 3,
            };
            let x = values(batch * cin * h * w, 1);
            let r = values(batch * cout * h * w, 2);
            let want = direct::weight_grad(&x, &r, &g);
            let got = weight_grad(&x, &r, &g);
            assert!(max_diff(&got, &want) < 1e-3, "{g:?}");
        }
    }

    #[test]
    fn results_do_not_depend_on_the_threads() {
        if !direct::available() {
            return;
        }
        let g = Geometry {
            batch: 11,
            cin: 32,
            cout: 8,
            h: 6,
            w: 5,
            k: 3,
        };
        let x = values(g.batch * g.cin * g.h * g.w, 3);
        let r = values(g.batch * g.cout * g.h * g.w, 4);
        let run = |threads: usize| with_threads(threads, || weight_grad(&x, &r, &g));
        assert_eq!(run(1), run(3));
    }
}
