//! Stride-2 3x3 convolutions with padding 1 on maps of even size (the first convolution of each
//! WRN and ResNet stage after the first) on the direct AVX-512 kernels, through the four stride
//! phases of the input.
//!
//! Output pixel `(y, x)` reads input rows `2y - 1, 2y, 2y + 1` and the same columns. Split the
//! input into its phases `P_ab[y][x] = X[2y + a][2x + b]` (`a, b` in {0, 1}), each half the size:
//! kernel row 0 reads phase row 1 one line up, row 1 reads phase row 0 in place, row 2 reads phase
//! row 1 in place, and the same for columns. So every tap is a shifted read, by 0 or -1, of one
//! half-size phase map, which is what the direct kernels compute:
//!
//! - forward: the phases stacked as `4 x cin` channels, each tap reading its phase's block;
//! - weight gradient: the same taps over the output gradient;
//! - input gradient: per phase, the transposed kernel of its taps at the opposite shifts, the
//!   four results interleaved back into the full-size map.

use super::direct::{self, GradShape, Tap, TapMasks};
use super::kernels::Geometry;
use super::par_chunks_written;

/// Whether `g` (the input's geometry, kernel 3) is a stride-2 3x3 convolution these kernels
/// take forward (even map, output channels a multiple of 8).
pub fn forward_applies(g: &Geometry) -> bool {
    even_3x3(g) && direct::forward_applies(g)
}

/// Whether the input gradient of `g` runs here (input channels a multiple of 8).
pub fn input_grad_applies(g: &Geometry) -> bool {
    even_3x3(g) && direct::input_grad_applies(g)
}

/// Whether the weight gradient of `g` runs here (output channels a multiple of 4).
pub fn weight_grad_applies(g: &Geometry) -> bool {
    even_3x3(g) && direct::weight_grad_applies(g)
}

fn even_3x3(g: &Geometry) -> bool {
    g.k == 3 && g.h.is_multiple_of(2) && g.w.is_multiple_of(2) && g.h > 0 && g.w > 0
}

/// The phase (`2a + b`) and shift of kernel row or column `i`: 0 reads phase 1 one step back,
/// 1 phase 0 in place, 2 phase 1 in place.
fn phase_and_shift(i: usize) -> (usize, isize) {
    match i {
        0 => (1, -1),
        1 => (0, 0),
        _ => (1, 0),
    }
}

/// The phase (`2a + b`) that kernel tap `t` (row-major in 3x3) reads, and its shift there.
fn phase_of(t: usize) -> (usize, isize, isize) {
    let ((a, dy), (b, dx)) = (phase_and_shift(t / 3), phase_and_shift(t % 3));
    (2 * a + b, dy, dx)
}

/// The nine taps as reads of the stacked phases (`g.cin` channels each) of `g`'s half-size
/// maps: the plan of the forward pass and the weight gradient.
fn stacked_plan(g: &Geometry) -> TapMasks {
    let taps: Vec<Tap> = (0..9)
        .map(|t| {
            let (phase, dy, dx) = phase_of(t);
            Tap {
                dy,
                dx,
                base: phase * g.cin,
            }
        })
        .collect();
    TapMasks::of_taps(g.h / 2, g.w / 2, &taps)
}

/// `[batch, 4 * c, h / 2, w / 2]`: the four phases of `[batch, c, h, w]`, phase `2a + b` in
/// channels `(2a + b) * c ..`. One task per image.
fn phases(x: &[f32], batch: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let (hh, wh) = (h / 2, w / 2);
    let write = |n: usize, image_out: &mut [std::mem::MaybeUninit<f32>]| {
        let image = &x[n * c * h * w..][..c * h * w];
        for (p, phase) in image_out.chunks_mut(c * hh * wh).enumerate() {
            let (a, b) = (p / 2, p % 2);
            for (dst, src) in phase.chunks_mut(hh * wh).zip(image.chunks(h * w)) {
                for (y, drow) in dst.chunks_mut(wh).enumerate() {
                    let row = &src[(2 * y + a) * w..][..w];
                    for (xo, d) in drow.iter_mut().enumerate() {
                        d.write(row[2 * xo + b]);
                    }
                }
            }
        }
    };
    // SAFETY: `write` fills every element of its image (each phase of each channel).
    unsafe { par_chunks_written(batch * c * h * w, 4 * c * hh * wh, write) }
}

/// `[batch, c, h, w]` from the four phase maps `[batch, c, h / 2, w / 2]` (phase `2a + b` at
/// index `2a + b`): the inverse of [`phases`]. One task per image channel.
fn interleave(parts: &[Vec<f32>; 4], batch: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let (hh, wh) = (h / 2, w / 2);
    let write = |nc: usize, dst: &mut [std::mem::MaybeUninit<f32>]| {
        for (p, part) in parts.iter().enumerate() {
            let (a, b) = (p / 2, p % 2);
            let src = &part[nc * hh * wh..][..hh * wh];
            for (y, srow) in src.chunks(wh).enumerate() {
                let row = &mut dst[(2 * y + a) * w..][..w];
                for (xo, &v) in srow.iter().enumerate() {
                    row[2 * xo + b].write(v);
                }
            }
        }
    };
    // SAFETY: the four phases together write every pixel of the image channel.
    unsafe { par_chunks_written(batch * c * h * w, h * w, write) }
}

/// Forward: `[batch, cout, h / 2, w / 2]` from the input `[batch, cin, h, w]` and the kernel
/// `[cout, cin, 3, 3]`. Requires [`forward_applies`].
pub fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    assert!(forward_applies(g), "the stride-2 forward does not apply");
    g.check_map(x, g.cin, g.h, g.w, "input");
    g.kernel_taps(weight);
    let plan = stacked_plan(g);
    let tiled = direct::tile_with(g.cout, g.cin, 9, |o, c, t| weight[(o * g.cin + c) * 9 + t]);
    let stacked = phases(x, g.batch, g.cin, g.h, g.w);
    direct::products(&stacked, 4 * g.cin, &tiled, g.batch, g.cin, g.cout, &plan)
}

/// Input gradient `[batch, cin, h, w]` from the output gradient `[batch, cout, h / 2, w / 2]` and
/// the kernel. Requires [`input_grad_applies`].
pub fn input_grad(grad: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    assert!(
        input_grad_applies(g),
        "the stride-2 input gradient does not apply"
    );
    g.check_map(grad, g.cout, g.h / 2, g.w / 2, "gradient");
    g.kernel_taps(weight);
    let parts: [Vec<f32>; 4] = std::array::from_fn(|p| {
        // The taps that read phase `p`, each now read from the output gradient at the opposite
        // shift, with the transposed kernel.
        let of_phase: Vec<usize> = (0..9).filter(|&t| phase_of(t).0 == p).collect();
        let taps: Vec<Tap> = of_phase
            .iter()
            .map(|&t| {
                let (_, dy, dx) = phase_of(t);
                Tap {
                    dy: -dy,
                    dx: -dx,
                    base: 0,
                }
            })
            .collect();
        let plan = TapMasks::of_taps(g.h / 2, g.w / 2, &taps);
        let tiled = direct::tile_with(g.cin, g.cout, taps.len(), |i, o, j| {
            weight[(o * g.cin + i) * 9 + of_phase[j]]
        });
        direct::products(grad, g.cout, &tiled, g.batch, g.cout, g.cin, &plan)
    });
    interleave(&parts, g.batch, g.cin, g.h, g.w)
}

/// Weight gradient `[cout, cin, 3, 3]` from the input `[batch, cin, h, w]` and the output
/// gradient `[batch, cout, h / 2, w / 2]`. Requires [`weight_grad_applies`].
pub fn weight_grad(x: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
    assert!(
        weight_grad_applies(g),
        "the stride-2 weight gradient does not apply"
    );
    g.check_map(x, g.cin, g.h, g.w, "input");
    g.check_map(grad, g.cout, g.h / 2, g.w / 2, "gradient");
    let plan = stacked_plan(g);
    let shape = GradShape {
        batch: g.batch,
        cin: g.cin,
        cout: g.cout,
        x_channels: 4 * g.cin,
    };
    direct::weight_grad_of(&phases(x, g.batch, g.cin, g.h, g.w), grad, &shape, &plan)
}

#[cfg(test)]
mod tests {
    use super::super::reference::{max_diff, values};
    use super::*;

    /// The stride-2, padding-1 3x3 convolution by its definition.
    fn definition(x: &[f32], w: &[f32], g: &Geometry) -> Vec<f32> {
        let (ho, wo) = (g.h / 2, g.w / 2);
        let mut y = vec![0.0f32; g.batch * g.cout * ho * wo];
        for n in 0..g.batch {
            for o in 0..g.cout {
                for yo in 0..ho {
                    for xo in 0..wo {
                        let mut sum = 0.0f32;
                        for c in 0..g.cin {
                            for t in 0..9 {
                                let yi = (2 * yo + t / 3) as isize - 1;
                                let xi = (2 * xo + t % 3) as isize - 1;
                                if (0..g.h as isize).contains(&yi)
                                    && (0..g.w as isize).contains(&xi)
                                {
                                    let (yi, xi) = (yi as usize, xi as usize);
                                    sum += w[(o * g.cin + c) * 9 + t]
                                        * x[((n * g.cin + c) * g.h + yi) * g.w + xi];
                                }
                            }
                        }
                        y[((n * g.cout + o) * ho + yo) * wo + xo] = sum;
                    }
                }
            }
        }
        y
    }

    fn geometry(batch: usize, cin: usize, cout: usize, h: usize, w: usize) -> Geometry {
        Geometry {
            batch,
            cin,
            cout,
            h,
            w,
            k: 3,
        }
    }

    #[test]
    fn phases_and_interleave_are_inverse() {
        let x = values(2 * 3 * 6 * 4, 1);
        let stacked = phases(&x, 2, 3, 6, 4);
        let parts: [Vec<f32>; 4] = std::array::from_fn(|p| {
            (0..2)
                .flat_map(|n| stacked[(n * 4 + p) * 3 * 6..][..3 * 6].to_vec())
                .collect()
        });
        assert_eq!(interleave(&parts, 2, 3, 6, 4), x);
    }

    #[test]
    fn forward_and_gradients_match_the_definition() {
        if !direct::available() {
            return;
        }
        // Maps whose halves fill a vector partly, exactly, and over several vectors.
        for g in [
            geometry(2, 8, 8, 4, 6),
            geometry(3, 8, 16, 10, 14),
            geometry(1, 16, 8, 32, 32),
        ] {
            let x = values(g.batch * g.cin * g.h * g.w, 2);
            let w = values(g.cout * g.cin * 9, 3);
            let r = values(g.batch * g.cout * g.h * g.w / 4, 4);
            let y = forward(&x, &w, &g);
            assert!(max_diff(&y, &definition(&x, &w, &g)) < 1e-4, "{g:?}");
            // Adjoints: <conv(x, w), r> = <x, dX(r)> = <w, dW(x, r)>.
            let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| (p * q) as f64).sum();
            let (dx, dw) = (input_grad(&r, &w, &g), weight_grad(&x, &r, &g));
            let close = |a: f64, b: f64, what: String| {
                assert!(
                    (a - b).abs() < 1e-3 * a.abs().max(1.0),
                    "{g:?} {what}: {a} {b}"
                );
            };
            let yr: f64 = dot(&y, &r);
            close(yr, dot(&x, &dx), "<x, dX>".into());
            close(yr, dot(&w, &dw), "<w, dW>".into());
            // And a few gradient entries against the definition: entry i of dX (dW) is
            // <conv(e_i, w), r> (<conv(x, e_i), r>).
            let unit = |n: usize, i: usize| {
                let mut e = vec![0.0f32; n];
                e[i] = 1.0;
                e
            };
            for i in [0, x.len() / 3, x.len() - 1] {
                let want = dot(&definition(&unit(x.len(), i), &w, &g), &r);
                close(want, dx[i] as f64, format!("dx[{i}]"));
            }
            for i in [0, w.len() / 2, w.len() - 1] {
                let want = dot(&definition(&x, &unit(w.len(), i), &g), &r);
                close(want, dw[i] as f64, format!("dw[{i}]"));
            }
        }
    }

    #[test]
    fn odd_maps_and_other_kernels_are_refused() {
        assert!(!forward_applies(&geometry(1, 8, 8, 5, 4)));
        assert!(!forward_applies(&Geometry {
            k: 5,
            ..geometry(1, 8, 8, 4, 4)
        }));
    }
}
