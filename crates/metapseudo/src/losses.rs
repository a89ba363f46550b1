//! Loss functions of the family, each a mean over its batch unless said otherwise.

use crate::config::{MetasemiConsistency, UnlabeledLoss};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

/// Smoothed one-hot targets: `(1 - ls)` on the class plus `ls / C` everywhere.
pub fn smoothed_one_hot(labels: Tensor<1, Int>, classes: usize, ls: f64) -> Tensor<2> {
    let one_hot: Tensor<2> = labels.one_hot::<2>(classes).float();
    if ls == 0.0 {
        one_hot
    } else {
        one_hot.mul_scalar(1.0 - ls).add_scalar(ls / classes as f64)
    }
}

/// Cross entropy against soft targets: `mean_i sum_c -target_ic log softmax(logits)_ic`.
pub fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (targets * log_softmax(logits, 1)).sum_dim(1).neg().mean()
}

/// Cross entropy with label smoothing `ls` (`CE_ls`); `ls = 0` is plain cross entropy.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>, ls: f64) -> Tensor<1> {
    let classes = logits.dims()[1];
    soft_cross_entropy(logits, smoothed_one_hot(labels, classes, ls))
}

/// The class with the largest logit of each row.
pub fn argmax(logits: Tensor<2>) -> Tensor<1, Int> {
    logits.argmax(1).squeeze_dim(1)
}

/// A confidence-masked consistency loss and its mask ratio.
pub struct MaskedLoss {
    /// `mean_i mask_i * sum_c -q_ic log softmax(logits)_ic` over every unlabeled row.
    pub loss: Tensor<1>,
    /// Fraction of rows whose target passed the threshold.
    pub mask_ratio: Tensor<1>,
}

/// How a consistency loss compares a target distribution with a prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// `sum_c -q_c log softmax(logits)_c` (the reference).
    CrossEntropy,
    /// `-cos(q, softmax(logits))`: negative cosine similarity of the probability vectors.
    Cosine,
    /// `sum_c (softmax(logits)_c - q_c)^2`: squared distance of the probability vectors
    /// (MetaSemi's).
    SquaredDistance,
}

impl Consistency {
    /// UDA's consistency (`uda.unlabeled_loss`).
    pub fn of_uda(loss: UnlabeledLoss) -> Self {
        match loss {
            UnlabeledLoss::Ce => Consistency::CrossEntropy,
            UnlabeledLoss::Cosine => Consistency::Cosine,
        }
    }

    /// MetaSemi's consistency (`metasemi.consistency`).
    pub fn of_metasemi(loss: MetasemiConsistency) -> Self {
        match loss {
            MetasemiConsistency::Mse => Consistency::SquaredDistance,
            MetasemiConsistency::Ce => Consistency::CrossEntropy,
        }
    }

    /// The loss of each row `[rows, 1]`; gradients flow into `logits` only.
    pub fn per_row(self, targets: Tensor<2>, logits: Tensor<2>) -> Tensor<2> {
        match self {
            Consistency::CrossEntropy => (targets * log_softmax(logits, 1)).sum_dim(1).neg(),
            Consistency::Cosine => {
                let p = softmax(logits, 1);
                let dot = (targets.clone() * p.clone()).sum_dim(1);
                let norms = (targets.powi_scalar(2).sum_dim(1) * p.powi_scalar(2).sum_dim(1))
                    .sqrt()
                    .clamp_min(1e-12);
                (dot / norms).neg()
            }
            Consistency::SquaredDistance => (softmax(logits, 1) - targets).square().sum_dim(1),
        }
    }
}

/// UDA's loss: targets `q = softmax(sg(weak) / temperature)`, rows kept where `max q >=
/// threshold`, the consistency loss of the strong-view logits against `q`.
pub fn uda_loss(
    weak: Tensor<2>,
    strong: Tensor<2>,
    temperature: f64,
    threshold: f64,
    kind: Consistency,
) -> MaskedLoss {
    let q = softmax(weak.detach().div_scalar(temperature), 1);
    let mask = q.clone().max_dim(1).greater_equal_elem(threshold).float();
    let per_row = kind.per_row(q, strong);
    MaskedLoss {
        loss: (per_row * mask.clone()).mean(),
        mask_ratio: mask.mean(),
    }
}

/// Threshold pseudo-labelling (FixMatch form): hard targets `argmax sg(weak)` kept where
/// `max softmax(weak) >= threshold`, cross entropy of the strong-view logits against them,
/// label-smoothed by `ls`.
pub fn pseudo_label_loss(
    weak: Tensor<2>,
    strong: Tensor<2>,
    threshold: f64,
    ls: f64,
) -> MaskedLoss {
    let p = softmax(weak.detach(), 1);
    let classes = p.dims()[1];
    let mask = p.clone().max_dim(1).greater_equal_elem(threshold).float();
    let targets = smoothed_one_hot(argmax(p), classes, ls);
    let per_row = (targets * log_softmax(strong, 1)).sum_dim(1).neg();
    MaskedLoss {
        loss: (per_row * mask.clone()).mean(),
        mask_ratio: mask.mean(),
    }
}

/// The ramped unlabeled weight `w(t) = lambda * min(1, (t + 1) / ramp)`.
pub fn ramp_weight(lambda: f64, step: u64, ramp: u64) -> f64 {
    if ramp == 0 {
        lambda
    } else {
        lambda * ((step + 1) as f64 / ramp as f64).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn logits(values: &[f32], rows: usize, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [rows, values.len() / rows]),
            device,
        )
    }

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    #[test]
    fn cross_entropy_with_and_without_smoothing() {
        let d = Device::flex();
        let x = logits(&[2.0, 0.0, 0.0, 0.0, 1.0, 3.0], 2, &d);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &d);
        // Row 1: logsumexp(2,0,0) = ln(e^2 + 2); row 2: logsumexp(0,1,3) = ln(1 + e + e^3).
        let l1 = (2f64.exp() + 2.0).ln();
        let l2 = (1.0 + 1f64.exp() + 3f64.exp()).ln();
        let plain = ((l1 - 2.0) + (l2 - 3.0)) / 2.0;
        assert!((scalar(cross_entropy(x.clone(), y.clone(), 0.0)) - plain).abs() < 1e-5);
        // Smoothing 0.3 over 3 classes: targets 0.8 on the class, 0.1 elsewhere.
        let row1 = 0.8 * (l1 - 2.0) + 0.1 * l1 + 0.1 * l1;
        let row2 = 0.1 * l2 + 0.1 * (l2 - 1.0) + 0.8 * (l2 - 3.0);
        let smooth = (row1 + row2) / 2.0;
        assert!((scalar(cross_entropy(x, y, 0.3)) - smooth).abs() < 1e-5);
    }

    #[test]
    fn uda_masks_on_the_sharpened_target() {
        let d = Device::flex();
        // Weak row 1 is confident after sharpening, row 2 (uniform) is not.
        let weak = logits(&[3.0, 0.0, 0.0, 0.0], 2, &d);
        let strong = logits(&[1.0, 0.0, 0.0, 1.0], 2, &d);
        let out = uda_loss(weak, strong, 0.5, 0.6, Consistency::CrossEntropy);
        assert!((scalar(out.mask_ratio) - 0.5).abs() < 1e-6);
        // q1 = softmax([6, 0]); CE of strong row 1 = -(q0 log s0 + q1 log s1).
        let q0 = 6f64.exp() / (6f64.exp() + 1.0);
        let ls0 = 1.0 - (1f64.exp() + 1.0).ln();
        let ls1 = -(1f64.exp() + 1.0).ln();
        let ce = -(q0 * ls0 + (1.0 - q0) * ls1);
        assert!((scalar(out.loss) - ce / 2.0).abs() < 1e-5);
    }

    #[test]
    fn cosine_consistency_has_the_finite_difference_gradient() {
        let d = Device::flex().autodiff();
        let target = logits(&[0.7, 0.2, 0.1, 0.1, 0.1, 0.8], 2, &d);
        let x = [0.3f32, -0.2, 0.5, 1.0, 0.0, -1.0];
        let loss_at = |values: &[f32]| {
            let z = logits(values, 2, &d).require_grad();
            let l = Consistency::Cosine
                .per_row(target.clone(), z.clone())
                .mean();
            (z, l)
        };
        let (z, l) = loss_at(&x);
        // Value of row 1 by hand: -cos(q, softmax(z)).
        let e: Vec<f64> = x[..3].iter().map(|&v| f64::from(v).exp()).collect();
        let p: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
        let q = [0.7, 0.2, 0.1];
        let dot: f64 = p.iter().zip(q).map(|(a, b)| a * b).sum();
        let norm = p.iter().map(|v| v * v).sum::<f64>().sqrt()
            * q.iter().map(|v| v * v).sum::<f64>().sqrt();
        let rows = Consistency::Cosine.per_row(target.clone(), logits(&x, 2, &d));
        let rows: Vec<f32> = rows.into_data().try_into_vec().unwrap();
        assert!((f64::from(rows[0]) + dot / norm).abs() < 1e-5);
        let grads = l.backward();
        let g: Vec<f32> = z.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
        assert!(
            g.iter().any(|v| v.abs() > 1e-3),
            "the cosine loss has a gradient: {g:?}"
        );
        let h = 1e-2f32;
        for k in 0..x.len() {
            let mut up = x;
            up[k] += h;
            let mut down = x;
            down[k] -= h;
            let fd = (scalar(loss_at(&up).1.inner()) - scalar(loss_at(&down).1.inner()))
                / (2.0 * f64::from(h));
            assert!(
                (fd - f64::from(g[k])).abs() < 1e-3,
                "component {k}: {fd} vs {}",
                g[k]
            );
        }
    }

    #[test]
    fn consistency_is_the_squared_distance_or_the_cross_entropy() {
        let d = Device::flex();
        // softmax(ln 3, 0) = (0.75, 0.25) against the target (0.5, 0.5).
        let row = |kind: &str| {
            let target = logits(&[0.5, 0.5], 1, &d);
            let logit = logits(&[3f32.ln(), 0.0], 1, &d);
            scalar(
                Consistency::of_metasemi(kind.into())
                    .per_row(target, logit)
                    .mean(),
            )
        };
        assert!((row("mse") - 0.125).abs() < 1e-6);
        assert!((row("ce") + 0.5 * (0.75f64.ln() + 0.25f64.ln())).abs() < 1e-6);
    }

    #[test]
    fn pseudo_labels_are_hard_and_thresholded() {
        let d = Device::flex();
        let weak = logits(&[4.0, 0.0, 0.0, 0.1], 2, &d);
        let strong = logits(&[0.0, 0.0, 0.0, 0.0], 2, &d);
        let out = pseudo_label_loss(weak, strong, 0.9, 0.0);
        assert!((scalar(out.mask_ratio) - 0.5).abs() < 1e-6);
        assert!((scalar(out.loss) - 2f64.ln() / 2.0).abs() < 1e-5);
        // Smoothed by 0.2: the kept row's target is (0.9, 0.1) against softmax(2, 0).
        let weak = logits(&[4.0, 0.0, 0.0, 0.1], 2, &d);
        let strong = logits(&[2.0, 0.0, 0.0, 0.0], 2, &d);
        let smoothed = scalar(pseudo_label_loss(weak, strong, 0.9, 0.2).loss);
        let lse = (1.0 + (-2f64).exp()).ln();
        assert!((smoothed - (0.9 * lse + 0.1 * (2.0 + lse)) / 2.0).abs() < 1e-5);
        assert_eq!(ramp_weight(8.0, 0, 4), 2.0);
        assert_eq!(ramp_weight(8.0, 10, 4), 8.0);
        assert_eq!(ramp_weight(8.0, 10, 0), 8.0);
    }
}
