//! Samplers: where the next trial looks. [`Random`] draws uniformly (in each parameter's search
//! scale); [`Tpe`] is the Tree-structured Parzen Estimator (Bergstra et al., 2011) as Optuna's
//! default `TPESampler` runs it, independent per parameter: after the start-up trials, the
//! finished trials are split into the best `gamma(n)` and the rest, a Parzen estimator is fit to
//! each, and of 24 candidates drawn from the good one the one with the highest ratio of good to
//! bad density is chosen. Both are seeded: one study seed gives one sequence of suggestions.

use super::space::{Distribution, ParamValue, Params, SearchSpace};
use metapseudo_data::Rng;
use toml::Value;

/// A finished trial as a sampler sees it: its parameters and its objective (higher is better).
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Parameter values by key.
    pub params: Params,
    /// The objective's value.
    pub value: f64,
}

/// Chooses the parameters of the next trial.
pub trait Sampler {
    /// The parameters of a new trial, from the finished ones and a seeded `rng`.
    fn suggest(&self, space: &SearchSpace, finished: &[Observation], rng: &mut Rng) -> Params;
}

/// Uniform draws in each parameter's search scale.
#[derive(Clone, Copy, Debug, Default)]
pub struct Random;

impl Sampler for Random {
    fn suggest(&self, space: &SearchSpace, _: &[Observation], rng: &mut Rng) -> Params {
        space
            .params
            .iter()
            .map(|(k, d)| (k.clone(), uniform(d, rng)))
            .collect()
    }
}

/// Optuna's TPE: independent per parameter (its default), or multivariate (one joint estimator
/// over all parameters, Optuna's `multivariate=True`).
#[derive(Clone, Copy, Debug)]
pub struct Tpe {
    /// Trials drawn at random before TPE takes over.
    pub startup_trials: usize,
    /// Candidates drawn from the good estimator.
    pub candidates: usize,
    /// One joint estimator over all parameters instead of one per parameter.
    pub multivariate: bool,
}

impl Default for Tpe {
    fn default() -> Self {
        Self {
            startup_trials: 10,
            candidates: 24,
            multivariate: false,
        }
    }
}

/// Optuna's default split: the best `min(ceil(0.1 n), 25)` trials are the good ones.
pub fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

impl Sampler for Tpe {
    fn suggest(&self, space: &SearchSpace, finished: &[Observation], rng: &mut Rng) -> Params {
        if finished.len() < self.startup_trials.max(2) {
            return Random.suggest(space, finished, rng);
        }
        let mut order: Vec<&Observation> = finished.iter().collect();
        order.sort_by(|a, b| b.value.total_cmp(&a.value));
        let good_count = gamma(order.len()).max(1);
        let (good, bad) = order.split_at(good_count);
        if self.multivariate {
            return Joint::suggest(space, good, bad, self.candidates, rng);
        }
        space
            .params
            .iter()
            .map(|(key, d)| {
                let values = |set: &[&Observation]| -> Vec<f64> {
                    set.iter()
                        .filter_map(|o| o.params.get(key))
                        .map(|v| d.to_internal(v))
                        .filter(|x| x.is_finite())
                        .collect()
                };
                let v = suggest_one(d, &values(good), &values(bad), self.candidates, rng);
                (key.clone(), v)
            })
            .collect()
    }
}

/// A parameter's search scale: `(low, high)` of its (log-)transformed internal values.
fn scale(d: &Distribution) -> (f64, f64) {
    match *d {
        Distribution::Float { low, high, log } => {
            if log {
                (low.ln(), high.ln())
            } else {
                (low, high)
            }
        }
        Distribution::Int {
            low,
            high,
            step,
            log,
        } => {
            let half = step as f64 / 2.0;
            if log {
                ((low as f64 - 0.5).ln(), (high as f64 + 0.5).ln())
            } else {
                (low as f64 - half, high as f64 + half)
            }
        }
        Distribution::Categorical { .. } => (0.0, 1.0),
    }
}

/// The value of a point `x` of the search scale.
fn from_scale(d: &Distribution, x: f64) -> ParamValue {
    let v = if d.is_log() { x.exp() } else { x };
    match *d {
        Distribution::Float { low, high, .. } => Value::Float(v.clamp(low, high)),
        Distribution::Int {
            low, high, step, ..
        } => {
            let k = ((v - low as f64) / step as f64).round() as i64;
            Value::Integer((low + k * step).clamp(low, high))
        }
        Distribution::Categorical { .. } => unreachable!("categorical values have no scale"),
    }
}

/// A uniform draw of `d`.
fn uniform(d: &Distribution, rng: &mut Rng) -> ParamValue {
    match d {
        Distribution::Categorical { choices } => choices[rng.below(choices.len())].clone(),
        _ => {
            let (lo, hi) = scale(d);
            from_scale(d, rng.uniform_range(lo, hi))
        }
    }
}

/// The TPE choice for one parameter from the internal values of the good and bad trials.
fn suggest_one(
    d: &Distribution,
    good: &[f64],
    bad: &[f64],
    candidates: usize,
    rng: &mut Rng,
) -> ParamValue {
    if let Distribution::Categorical { choices } = d {
        let k = choices.len();
        let weights = |set: &[f64]| -> Vec<f64> {
            let mut w = vec![1.0 / k as f64; k];
            for &x in set {
                if let Some(c) = w.get_mut(x.round().max(0.0) as usize) {
                    *c += 1.0;
                }
            }
            let total: f64 = w.iter().sum();
            w.iter().map(|v| v / total).collect()
        };
        let (l, g) = (weights(good), weights(bad));
        let best = (0..candidates.max(1))
            .map(|_| pick(&l, rng))
            .max_by(|&a, &b| (l[a] / g[a]).total_cmp(&(l[b] / g[b])).then(b.cmp(&a)))
            .unwrap_or(0);
        return choices[best].clone();
    }
    let (lo, hi) = scale(d);
    let to_scale = |x: f64| if d.is_log() { x.ln() } else { x };
    let l = Parzen::fit(
        &good.iter().map(|&x| to_scale(x)).collect::<Vec<_>>(),
        lo,
        hi,
    );
    let g = Parzen::fit(
        &bad.iter().map(|&x| to_scale(x)).collect::<Vec<_>>(),
        lo,
        hi,
    );
    let best = (0..candidates.max(1))
        .map(|_| l.sample(rng))
        .max_by(|&a, &b| (l.log_pdf(a) - g.log_pdf(a)).total_cmp(&(l.log_pdf(b) - g.log_pdf(b))))
        .unwrap_or((lo + hi) / 2.0);
    from_scale(d, best)
}

/// An index drawn with probabilities `p`.
fn pick(p: &[f64], rng: &mut Rng) -> usize {
    let mut u = rng.uniform();
    for (i, &w) in p.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    p.len() - 1
}

/// A mixture of Gaussians truncated to `[lo, hi]`: one per observation and a prior over the
/// whole range, equally weighted, with Optuna's neighbour bandwidths.
struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    lo: f64,
    hi: f64,
}

impl Parzen {
    fn fit(xs: &[f64], lo: f64, hi: f64) -> Self {
        let mut mus: Vec<f64> = xs.to_vec();
        mus.push((lo + hi) / 2.0);
        mus.sort_by(f64::total_cmp);
        let range = hi - lo;
        let n = mus.len();
        let min_sigma = range / (100.0f64).min(1.0 + n as f64);
        let sigmas = (0..n)
            .map(|i| {
                let left = if i == 0 {
                    mus[i] - lo
                } else {
                    mus[i] - mus[i - 1]
                };
                let right = if i + 1 == n {
                    hi - mus[i]
                } else {
                    mus[i + 1] - mus[i]
                };
                left.max(right).clamp(min_sigma, range)
            })
            .collect::<Vec<_>>();
        // The prior's component spans the whole range.
        let prior = mus.iter().position(|&m| m == (lo + hi) / 2.0).unwrap_or(0);
        let mut sigmas = sigmas;
        sigmas[prior] = range;
        Self {
            mus,
            sigmas,
            lo,
            hi,
        }
    }

    fn sample(&self, rng: &mut Rng) -> f64 {
        let i = rng.below(self.mus.len());
        for _ in 0..100 {
            let x = self.mus[i] + self.sigmas[i] * rng.normal();
            if (self.lo..=self.hi).contains(&x) {
                return x;
            }
        }
        self.mus[i].clamp(self.lo, self.hi)
    }

    fn log_pdf(&self, x: f64) -> f64 {
        let n = self.mus.len() as f64;
        let p: f64 = self
            .mus
            .iter()
            .zip(&self.sigmas)
            .map(|(&m, &s)| {
                let z = (x - m) / s;
                let mass = normal_cdf((self.hi - m) / s) - normal_cdf((self.lo - m) / s);
                (-0.5 * z * z).exp() / (s * (2.0 * std::f64::consts::PI).sqrt() * mass.max(1e-12))
            })
            .sum::<f64>()
            / n;
        p.max(1e-300).ln()
    }
}

/// Multivariate TPE: one kernel per observation over all parameters (Gaussian in each
/// parameter's search scale with Optuna's multivariate bandwidth `0.2 n^(-1/(d+4))` of the
/// range; for a choice, half its weight on the observed choice), plus a prior component.
struct Joint<'a> {
    space: &'a SearchSpace,
    /// Each observation's point: search-scale value or choice index, per parameter.
    points: Vec<Vec<f64>>,
    bandwidth: f64,
}

impl<'a> Joint<'a> {
    fn fit(space: &'a SearchSpace, set: &[&Observation]) -> Self {
        let points: Vec<Vec<f64>> = set
            .iter()
            .filter_map(|o| {
                space
                    .params
                    .iter()
                    .map(|(k, d)| {
                        let x = d.to_internal(o.params.get(k)?);
                        Some(if d.is_log() { x.ln() } else { x })
                    })
                    .collect()
            })
            .collect();
        let dims = space.params.len() as f64;
        let bandwidth = 0.2 * (points.len().max(1) as f64).powf(-1.0 / (dims + 4.0));
        Self {
            space,
            points,
            bandwidth,
        }
    }

    /// Draws a point from component `j` (`points.len()`: the prior).
    fn sample(&self, rng: &mut Rng) -> Vec<f64> {
        let j = rng.below(self.points.len() + 1);
        self.space
            .params
            .values()
            .enumerate()
            .map(|(i, d)| {
                let own = self.points.get(j).map(|p| p[i]);
                match d {
                    Distribution::Categorical { choices } => match own {
                        Some(c) if rng.bernoulli(0.5) => c,
                        _ => rng.below(choices.len()) as f64,
                    },
                    _ => {
                        let (lo, hi) = scale(d);
                        let Some(mu) = own else {
                            return rng.uniform_range(lo, hi);
                        };
                        let sigma = self.bandwidth * (hi - lo);
                        for _ in 0..100 {
                            let x = mu + sigma * rng.normal();
                            if (lo..=hi).contains(&x) {
                                return x;
                            }
                        }
                        mu.clamp(lo, hi)
                    }
                }
            })
            .collect()
    }

    fn log_pdf(&self, x: &[f64]) -> f64 {
        let dists: Vec<&Distribution> = self.space.params.values().collect();
        let component = |p: Option<&Vec<f64>>| -> f64 {
            dists
                .iter()
                .enumerate()
                .map(|(i, d)| match (d, p) {
                    (Distribution::Categorical { choices }, Some(p)) => {
                        let k = choices.len() as f64;
                        let hit = if (p[i] - x[i]).abs() < 0.5 { 0.5 } else { 0.0 };
                        (hit + 0.5 / k).ln()
                    }
                    (Distribution::Categorical { choices }, None) => -(choices.len() as f64).ln(),
                    (_, None) => {
                        let (lo, hi) = scale(d);
                        -(hi - lo).ln()
                    }
                    (_, Some(p)) => {
                        let (lo, hi) = scale(d);
                        let s = self.bandwidth * (hi - lo);
                        let z = (x[i] - p[i]) / s;
                        let mass = normal_cdf((hi - p[i]) / s) - normal_cdf((lo - p[i]) / s);
                        -0.5 * z * z
                            - (s * (2.0 * std::f64::consts::PI).sqrt() * mass.max(1e-12)).ln()
                    }
                })
                .sum()
        };
        let logs: Vec<f64> = self
            .points
            .iter()
            .map(Some)
            .chain([None])
            .map(component)
            .collect();
        let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max + (logs.iter().map(|l| (l - max).exp()).sum::<f64>() / logs.len() as f64).ln()
    }

    /// The TPE choice over all parameters jointly.
    fn suggest(
        space: &SearchSpace,
        good: &[&Observation],
        bad: &[&Observation],
        candidates: usize,
        rng: &mut Rng,
    ) -> Params {
        let (l, g) = (Joint::fit(space, good), Joint::fit(space, bad));
        let best = (0..candidates.max(1))
            .map(|_| l.sample(rng))
            .map(|x| (l.log_pdf(&x) - g.log_pdf(&x), x))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, x)| x)
            .unwrap_or_default();
        space
            .params
            .iter()
            .zip(best)
            .map(|((k, d), x)| {
                let v = match d {
                    Distribution::Categorical { choices } => {
                        choices[(x.round().max(0.0) as usize).min(choices.len() - 1)].clone()
                    }
                    _ => from_scale(d, x),
                };
                (k.clone(), v)
            })
            .collect()
    }
}

/// The standard normal distribution function, through an erf approximation (Abramowitz and
/// Stegun 7.1.26, absolute error below 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + erf.copysign(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> SearchSpace {
        SearchSpace::parse(
            "[params.x]\ntype = \"float\"\nlow = -5.0\nhigh = 5.0\n[params.c]\ntype = \"categorical\"\nchoices = [\"a\", \"b\", \"c\"]\n[params.n]\ntype = \"int\"\nlow = 1\nhigh = 64\nlog = true\n",
        )
        .unwrap()
    }

    /// Best at x = 2, c = "b", n = 8.
    fn objective(p: &Params) -> f64 {
        let x = p["x"].as_float().unwrap();
        let c = if p["c"].as_str() == Some("b") {
            0.0
        } else {
            1.0
        };
        let n = (p["n"].as_integer().unwrap() as f64 / 8.0).ln().abs();
        -(x - 2.0).powi(2) - c - n
    }

    fn study(sampler: &dyn Sampler, trials: usize, seed: u64) -> Vec<Observation> {
        let s = space();
        let mut done = Vec::new();
        for k in 0..trials {
            let params = sampler.suggest(&s, &done, &mut Rng::stream(seed, &format!("trial {k}")));
            let value = objective(&params);
            done.push(Observation { params, value });
        }
        done
    }

    #[test]
    fn the_normal_cdf_is_accurate() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }

    #[test]
    fn suggestions_stay_in_range_and_repeat_with_the_seed() {
        let a = study(&Tpe::default(), 30, 7);
        assert_eq!(a, study(&Tpe::default(), 30, 7));
        for o in &a {
            let x = o.params["x"].as_float().unwrap();
            let n = o.params["n"].as_integer().unwrap();
            assert!((-5.0..=5.0).contains(&x) && (1..=64).contains(&n));
        }
        assert_eq!(gamma(9), 1);
        assert_eq!(gamma(40), 4);
        assert_eq!(gamma(1000), 25);
    }

    #[test]
    fn tpe_finds_better_values_than_random_search() {
        let best = |o: &[Observation]| o.iter().map(|o| o.value).fold(f64::MIN, f64::max);
        let (mut tpe, mut random) = (0.0, 0.0);
        for seed in 1..=5 {
            tpe += best(&study(&Tpe::default(), 40, seed));
            random += best(&study(&Random, 40, seed));
        }
        eprintln!("best of 40 trials, summed over 5 seeds: TPE {tpe:.3}, random {random:.3}");
        assert!(
            tpe > random,
            "TPE {tpe:.3} vs random {random:.3} over 5 seeds"
        );
        let joint = Tpe {
            multivariate: true,
            ..Tpe::default()
        };
        let mut multivariate = 0.0;
        for seed in 1..=5 {
            multivariate += best(&study(&joint, 40, seed));
        }
        eprintln!("multivariate TPE {multivariate:.3}");
        assert!(
            multivariate > random,
            "multivariate TPE {multivariate:.3} vs random {random:.3}"
        );
    }
}
