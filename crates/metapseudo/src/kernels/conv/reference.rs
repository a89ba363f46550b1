//! The definitions the convolution kernels are tested against (test builds only).

use super::kernels::Geometry;

/// Direct convolution, the definition.
pub fn convolution(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    let p = (g.k / 2) as isize;
    let mut y = vec![0.0f32; g.batch * g.cout * g.h * g.w];
    for n in 0..g.batch {
        for o in 0..g.cout {
            for oy in 0..g.h {
                for ox in 0..g.w {
                    let mut s = 0.0;
                    for c in 0..g.cin {
                        for ky in 0..g.k {
                            for kx in 0..g.k {
                                let iy = oy as isize + ky as isize - p;
                                let ix = ox as isize + kx as isize - p;
                                if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                    continue;
                                }
                                s += weight[((o * g.cin + c) * g.k + ky) * g.k + kx]
                                    * x[((n * g.cin + c) * g.h + iy as usize) * g.w + ix as usize];
                            }
                        }
                    }
                    y[((n * g.cout + o) * g.h + oy) * g.w + ox] = s;
                }
            }
        }
    }
    y
}

/// `n` standard normal values from `seed`.
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = metapseudo_data::Rng::new(seed);
    (0..n).map(|_| rng.normal() as f32).collect()
}

/// The largest absolute difference of two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The gradients of the loss `sum(conv(x, w) * r)` with respect to `x` and `w`, from the
/// definition. The loss is linear in each, so they are exact: entry `i` of `dx` is the loss at
/// `x = e_i`, of `dw` the loss at `w = e_i`.
pub fn gradients(x: &[f32], w: &[f32], r: &[f32], g: &Geometry) -> (Vec<f32>, Vec<f32>) {
    let loss = |x: &[f32], w: &[f32]| -> f32 {
        convolution(x, w, g).iter().zip(r).map(|(a, b)| a * b).sum()
    };
    let unit = |n: usize, i: usize| {
        let mut e = vec![0.0f32; n];
        e[i] = 1.0;
        e
    };
    let dx = (0..x.len()).map(|i| loss(&unit(x.len(), i), w)).collect();
    let dw = (0..w.len()).map(|i| loss(x, &unit(w.len(), i))).collect();
    (dx, dw)
}

/// `f()` run on a pool of `threads` rayon threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}
