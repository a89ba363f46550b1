//! 2-D embeddings of feature vectors for plots: PCA, and exact t-SNE for small sets.
//!
//! The t-SNE is the exact O(n^2) form, written here so that a report is a function of the run's
//! seed alone, whatever the number of threads. Measured against the `bhtsne` crate (0.7.13,
//! Barnes-Hut, theta 0.5, 500 epochs, a seeded initial embedding; 800 points of 16 features,
//! AMD EPYC with AVX2, 2 cores): it took 0.52-0.55 s against this file's 1.35 s, but two runs
//! with the same inputs and threads gave different embeddings, so a report would change from
//! one rebuild to the next. This one is kept; it is most of a small run's report time (1.35 s
//! of the 1.4 s `metapseudo report` takes on the default moons run).

use metapseudo_data::Rng;
use rayon::prelude::*;

/// Rows of `dim` values each, as one contiguous buffer.
#[derive(Clone, Debug)]
pub struct Rows {
    /// Values, row after row.
    pub values: Vec<f64>,
    /// Values per row.
    pub dim: usize,
}

impl Rows {
    /// Rows from vectors of equal length.
    pub fn from_vecs(rows: &[Vec<f32>]) -> Self {
        let dim = rows.first().map_or(0, Vec::len);
        Self {
            values: rows.iter().flatten().map(|&v| f64::from(v)).collect(),
            dim,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

fn normalize(v: &mut [f64]) {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// The first two principal components' coordinates of each row (power iteration with
/// deflation on the centred data; deterministic).
pub fn pca_2d(rows: &Rows) -> Vec<[f64; 2]> {
    let (n, d) = (rows.len(), rows.dim);
    if n == 0 || d == 0 {
        return vec![[0.0, 0.0]; n];
    }
    let mut mean = vec![0.0; d];
    for i in 0..n {
        mean.iter_mut().zip(rows.row(i)).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<f64> = (0..n)
        .flat_map(|i| rows.row(i).iter().zip(&mean).map(|(v, m)| v - m))
        .collect();
    let project = |v: &[f64]| -> Vec<f64> {
        (0..n)
            .map(|i| {
                centred[i * d..(i + 1) * d]
                    .iter()
                    .zip(v)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    };
    let mut components: Vec<Vec<f64>> = Vec::new();
    let mut rng = Rng::stream(0, "pca");
    for _ in 0..2 {
        let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        normalize(&mut v);
        for _ in 0..300 {
            let xv = project(&v);
            let mut next = vec![0.0; d];
            for (i, &s) in xv.iter().enumerate() {
                next.iter_mut()
                    .zip(&centred[i * d..(i + 1) * d])
                    .for_each(|(a, &x)| *a += s * x);
            }
            for c in &components {
                let dot: f64 = next.iter().zip(c).map(|(a, b)| a * b).sum();
                next.iter_mut().zip(c).for_each(|(a, b)| *a -= dot * b);
            }
            normalize(&mut next);
            let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = next;
            if change < 1e-10 {
                break;
            }
        }
        components.push(v);
    }
    let (a, b) = (project(&components[0]), project(&components[1]));
    a.into_iter().zip(b).map(|(x, y)| [x, y]).collect()
}

/// Settings of [`tsne_2d`].
#[derive(Clone, Copy, Debug)]
pub struct TsneOptions {
    /// Effective number of neighbours.
    pub perplexity: f64,
    /// Gradient-descent iterations.
    pub iterations: usize,
    /// Seed of the initial layout.
    pub seed: u64,
}

impl Default for TsneOptions {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 500,
            seed: 0,
        }
    }
}

/// Squared Euclidean distances between all rows.
fn squared_distances(rows: &Rows) -> Vec<f64> {
    let n = rows.len();
    let mut dist = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let d: f64 = rows
                .row(i)
                .iter()
                .zip(rows.row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            dist[i * n + j] = d;
            dist[j * n + i] = d;
        }
    }
    dist
}

/// Symmetric joint probabilities `p_ij` whose conditionals have the given perplexity (a
/// bisection on each row's precision).
fn joint_probabilities(dist: &[f64], n: usize, perplexity: f64) -> Vec<f64> {
    let target = perplexity.min((n - 1) as f64 / 3.0).max(1.0).ln();
    let mut p = vec![0.0; n * n];
    // Each row's bisection on its own thread; rows are independent, so the result does not
    // depend on the number of threads.
    p.par_chunks_mut(n).enumerate().for_each(|(i, out)| {
        let row = &dist[i * n..(i + 1) * n];
        let (mut beta, mut lo, mut hi) = (1.0f64, 0.0f64, f64::INFINITY);
        for _ in 0..60 {
            let mut sum = 0.0;
            let mut weighted = 0.0;
            for (j, &d) in row.iter().enumerate() {
                if j != i {
                    let e = (-beta * d).exp();
                    sum += e;
                    weighted += d * e;
                }
            }
            let sum = sum.max(1e-300);
            // Entropy of the conditional distribution, in nats.
            let entropy = sum.ln() + beta * weighted / sum;
            if (entropy - target).abs() < 1e-5 {
                break;
            }
            if entropy > target {
                lo = beta;
                beta = if hi.is_finite() {
                    (beta + hi) / 2.0
                } else {
                    beta * 2.0
                };
            } else {
                hi = beta;
                beta = (beta + lo) / 2.0;
            }
        }
        let mut sum = 0.0;
        for j in 0..n {
            if j != i {
                let e = (-beta * row[j]).exp();
                out[j] = e;
                sum += e;
            }
        }
        let sum = sum.max(1e-300);
        out.iter_mut().for_each(|v| *v /= sum);
    });
    let mut joint = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            joint[i * n + j] = ((p[i * n + j] + p[j * n + i]) / (2.0 * n as f64)).max(1e-12);
        }
    }
    joint
}

/// Exact t-SNE (van der Maaten and Hinton, 2008) to two dimensions: O(n²) per iteration, meant
/// for a few thousand points at most. Early exaggeration 12 for the first 100 iterations,
/// momentum 0.5 then 0.8, adaptive gains, learning rate max(n / 12, 50).
pub fn tsne_2d(rows: &Rows, opts: TsneOptions) -> Vec<[f64; 2]> {
    let n = rows.len();
    if n < 4 {
        return pca_2d(rows);
    }
    let p = joint_probabilities(&squared_distances(rows), n, opts.perplexity);
    let mut rng = Rng::stream(opts.seed, "tsne");
    let (mut yx, mut yy): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|_| (1e-4 * rng.normal(), 1e-4 * rng.normal()))
        .unzip();
    let mut velocity = vec![[0.0f64; 2]; n];
    let mut gains = vec![[1.0f64; 2]; n];
    let rate = (n as f64 / 12.0).max(50.0);
    // The O(n²) work runs in f32 (eight lanes of AVX2), the positions and steps in f64.
    let p: Vec<f32> = p.iter().map(|&v| v as f32).collect();
    let mut num = vec![0.0f32; n * n];
    let mut grads = vec![[0.0f64; 2]; n];
    for iter in 0..opts.iterations {
        let exaggeration = if iter < 100 { 12.0f32 } else { 1.0 };
        let momentum = if iter < 250 { 0.5 } else { 0.8 };
        let xs: Vec<f32> = yx.iter().map(|&v| v as f32).collect();
        let ys: Vec<f32> = yy.iter().map(|&v| v as f32).collect();
        // Rows of the Student-t kernel, each row by one thread; sums in a fixed order, so the
        // result does not depend on the number of threads.
        let row_sums: Vec<f64> = num
            .par_chunks_mut(n)
            .enumerate()
            .map(|(i, row)| {
                kernel_row((xs[i], ys[i]), &xs, &ys, row);
                row[i] = 0.0;
                lane_sum(row)
            })
            .collect();
        let inverse_total = (1.0 / row_sums.iter().sum::<f64>().max(1e-300)) as f32;
        grads.par_iter_mut().enumerate().for_each(|(i, g)| {
            let rows = (&num[i * n..(i + 1) * n], &p[i * n..(i + 1) * n]);
            let scale = (exaggeration, inverse_total);
            let [gx, gy] = gradient_row((xs[i], ys[i]), rows, (&xs, &ys), scale);
            *g = [4.0 * gx, 4.0 * gy];
        });
        for i in 0..n {
            for k in 0..2 {
                let grad = grads[i][k];
                let same_sign = (grad > 0.0) == (velocity[i][k] > 0.0);
                gains[i][k] = if same_sign {
                    (gains[i][k] * 0.8).max(0.01)
                } else {
                    gains[i][k] + 0.2
                };
                velocity[i][k] = momentum * velocity[i][k] - rate * gains[i][k] * grad;
            }
        }
        let mut mean = [0.0f64; 2];
        for i in 0..n {
            yx[i] += velocity[i][0];
            yy[i] += velocity[i][1];
            mean[0] += yx[i] / n as f64;
            mean[1] += yy[i] / n as f64;
        }
        for i in 0..n {
            yx[i] -= mean[0];
            yy[i] -= mean[1];
        }
    }
    yx.into_iter().zip(yy).map(|(x, y)| [x, y]).collect()
}

/// Lanes of the t-SNE kernels: eight f32 values, an AVX2 register.
const LANES: usize = 8;

/// Row `i` of the Student-t kernel: `q_j = 1 / (1 + |y_i - y_j|²)` for every `j`.
fn kernel_row((xi, yi): (f32, f32), xs: &[f32], ys: &[f32], row: &mut [f32]) {
    for ((q, &xj), &yj) in row.iter_mut().zip(xs).zip(ys) {
        let (dx, dy) = (xi - xj, yi - yj);
        *q = 1.0 / (1.0 + dx * dx + dy * dy);
    }
}

/// The sum of `v` in eight interleaved lanes: a fixed order (the same on any number of
/// threads) that vectorises.
fn lane_sum(v: &[f32]) -> f64 {
    let mut acc = [0.0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&x| f64::from(x)).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().map(|&x| f64::from(x)).sum::<f64>() + tail
}

/// Row `i` of the t-SNE gradient (without its factor 4): the sum over `j` of
/// `(exaggeration p_ij - q_ij / Z) q_ij (y_i - y_j)`, in eight lanes as [`lane_sum`].
fn gradient_row(
    (xi, yi): (f32, f32),
    (q, p): (&[f32], &[f32]),
    (xs, ys): (&[f32], &[f32]),
    (exaggeration, inverse_total): (f32, f32),
) -> [f64; 2] {
    let n = q.len();
    let (p, xs, ys) = (&p[..n], &xs[..n], &ys[..n]);
    let (mut ax, mut ay) = ([0.0f32; LANES], [0.0f32; LANES]);
    let whole = n / LANES * LANES;
    for j in (0..whole).step_by(LANES) {
        let (q, p, xs, ys) = (
            &q[j..j + LANES],
            &p[j..j + LANES],
            &xs[j..j + LANES],
            &ys[j..j + LANES],
        );
        for l in 0..LANES {
            let c = (exaggeration * p[l] - q[l] * inverse_total) * q[l];
            ax[l] += c * (xi - xs[l]);
            ay[l] += c * (yi - ys[l]);
        }
    }
    let mut out = [ax, ay].map(|a| a.iter().map(|&v| f64::from(v)).sum::<f64>());
    for j in whole..n {
        let c = (exaggeration * p[j] - q[j] * inverse_total) * q[j];
        out[0] += f64::from(c * (xi - xs[j]));
        out[1] += f64::from(c * (yi - ys[j]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tight clusters in 5-D, far apart along one axis.
    fn two_clusters(n: usize) -> (Rows, Vec<usize>) {
        let mut rng = Rng::new(3);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let c = i % 2;
            for k in 0..5 {
                let centre = if k == 2 { 10.0 * c as f64 } else { 0.0 };
                values.push(centre + 0.1 * rng.normal());
            }
            labels.push(c);
        }
        (Rows { values, dim: 5 }, labels)
    }

    /// Whether every point's nearest neighbour in the embedding has its class.
    fn neighbours_agree(points: &[[f64; 2]], labels: &[usize]) -> bool {
        (0..points.len()).all(|i| {
            let nearest = (0..points.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    let d = |j: usize| {
                        (points[i][0] - points[j][0]).powi(2)
                            + (points[i][1] - points[j][1]).powi(2)
                    };
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            labels[nearest] == labels[i]
        })
    }

    #[test]
    fn pca_finds_the_axis_of_largest_variance() {
        let (rows, labels) = two_clusters(40);
        let pts = pca_2d(&rows);
        // The first component separates the clusters by about 10, with the sign free.
        let gap: f64 = (0..40)
            .map(|i| pts[i][0] * if labels[i] == 0 { -1.0 } else { 1.0 })
            .sum::<f64>()
            / 40.0;
        assert!((gap.abs() - 5.0).abs() < 0.5, "{gap}");
        assert!(neighbours_agree(&pts, &labels));
    }

    #[test]
    fn tsne_keeps_clusters_apart() {
        let (rows, labels) = two_clusters(60);
        let pts = tsne_2d(
            &rows,
            TsneOptions {
                perplexity: 10.0,
                iterations: 300,
                seed: 1,
            },
        );
        assert_eq!(pts.len(), 60);
        assert!(pts.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
        assert!(neighbours_agree(&pts, &labels));
    }
}
