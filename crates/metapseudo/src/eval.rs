//! Evaluation: accuracy, per-class accuracy and the confusion matrix of a network on a split.

use crate::models::Network;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use metapseudo_data::Examples;
use metapseudo_data::normalize::Normalizer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one model did on one split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEval {
    /// Fraction of samples classified correctly.
    pub accuracy: f64,
    /// Accuracy within each true class (NaN-free: 0 for classes without samples).
    pub per_class_accuracy: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

impl ModelEval {
    /// Metrics from each example's logits (the prediction is the largest) and true class.
    pub fn from_logits(logits: &[Vec<f32>], truth: &[usize], classes: usize) -> Self {
        let pred: Vec<usize> = logits.iter().map(|r| argmax_row(r)).collect();
        Self::from_predictions(&pred, truth, classes)
    }

    /// Metrics from predicted and true classes.
    pub fn from_predictions(pred: &[usize], truth: &[usize], classes: usize) -> Self {
        let mut confusion = vec![vec![0u64; classes]; classes];
        for (&p, &t) in pred.iter().zip(truth) {
            confusion[t][p] += 1;
        }
        let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
        let per_class_accuracy = confusion
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let n: u64 = row.iter().sum();
                if n == 0 {
                    0.0
                } else {
                    row[c] as f64 / n as f64
                }
            })
            .collect();
        Self {
            accuracy: correct as f64 / truth.len().max(1) as f64,
            per_class_accuracy,
            confusion,
        }
    }

    /// The class predicted least often relative to how often it occurs, with that ratio
    /// (predictions of the class over its samples); classes without samples are skipped.
    /// Self-training drains the class it is least sure of, and this shows it.
    pub fn least_predicted(&self) -> Option<(usize, f64)> {
        (0..self.confusion.len())
            .filter_map(|c| {
                let occurs: u64 = self.confusion[c].iter().sum();
                let predicted: u64 = self.confusion.iter().map(|row| row[c]).sum();
                (occurs > 0).then(|| (c, predicted as f64 / occurs as f64))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// Examples with the normalisation the model was trained with.
#[derive(Clone, Copy)]
pub struct EvalInputs<'a> {
    /// The examples (raw).
    pub examples: &'a Examples,
    /// Their normalisation.
    pub normalizer: &'a Normalizer,
}

impl EvalInputs<'_> {
    /// The normalised features of the examples at `indices`, in that order, as one batch
    /// `[indices.len(), features]` on `device`.
    pub fn batch(&self, indices: &[usize], device: &Device) -> Tensor<2> {
        let dim = self.examples.feature_len();
        let mut features = vec![0.0; indices.len() * dim];
        for (&i, row) in indices.iter().zip(features.chunks_exact_mut(dim)) {
            self.examples.write_features(i, row);
            self.normalizer.apply_row(row);
        }
        Tensor::<2>::from_data(TensorData::new(features, [indices.len(), dim]), device)
    }
}

/// What [`predict_rows`] returns for each example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The class logits.
    Logits,
    /// The penultimate-layer features.
    Features,
}

/// Logits or penultimate features of `model` (in validation mode, no autodiff) for every
/// example, in batches.
pub fn predict_rows(
    model: &Network,
    inputs: EvalInputs<'_>,
    output: Output,
    device: &Device,
) -> Vec<Vec<f32>> {
    let all: Vec<usize> = (0..inputs.examples.len()).collect();
    predict_rows_at(model, inputs, &all, output, device)
}

/// As [`predict_rows`], for the examples at `indices` only, in that order.
pub fn predict_rows_at(
    model: &Network,
    inputs: EvalInputs<'_>,
    indices: &[usize],
    output: Output,
    device: &Device,
) -> Vec<Vec<f32>> {
    let model = model.valid();
    let device = device.clone().inner();
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(1024) {
        let x = inputs.batch(chunk, &device);
        let y = match output {
            Output::Logits => model.forward(x),
            Output::Features => model.features(x),
        };
        let c = y.dims()[1];
        let values: Vec<f32> = y.into_data().try_into_vec().expect("float outputs");
        out.extend(values.chunks(c).map(<[f32]>::to_vec));
    }
    out
}

/// Logits of `model` (in validation mode, no autodiff) for every example, in batches.
pub fn predict_logits(model: &Network, inputs: EvalInputs<'_>, device: &Device) -> Vec<Vec<f32>> {
    predict_rows(model, inputs, Output::Logits, device)
}

/// The element-wise mean of several models' logits over the same examples (an ensemble).
pub fn mean_logits(models: &[&Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let n = models.len() as f32;
    (0..models.first().map_or(0, |m| m.len()))
        .map(|i| {
            let mut row = models[0][i].clone();
            for m in &models[1..] {
                row.iter_mut().zip(&m[i]).for_each(|(a, b)| *a += b);
            }
            row.iter_mut().for_each(|a| *a /= n);
            row
        })
        .collect()
}

/// Softmax of each row of logits.
pub fn softmax_rows(logits: &[Vec<f32>]) -> Vec<Vec<f32>> {
    logits
        .iter()
        .map(|row| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = row.iter().map(|&v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.into_iter().map(|v| v / s).collect()
        })
        .collect()
}

/// Each model's logits over the same examples, by model name.
pub type TestLogits = Vec<(String, Vec<Vec<f32>>)>;

/// The logits of `models` (by name) over `inputs`; where both a `student` and a `teacher` are
/// among them, also the `ensemble`, the mean of their logits.
pub fn test_logits(
    models: &[(&str, &Network)],
    inputs: EvalInputs<'_>,
    device: &Device,
) -> TestLogits {
    let mut out: TestLogits = models
        .iter()
        .map(|(name, m)| (name.to_string(), predict_logits(m, inputs, device)))
        .collect();
    let find = |name: &str| out.iter().find(|(n, _)| n == name).map(|(_, r)| r);
    if let (Some(s), Some(t)) = (find("student"), find("teacher")) {
        let mean = mean_logits(&[s, t]);
        out.push(("ensemble".to_string(), mean));
    }
    out
}

/// Accuracy, per-class accuracy and confusion matrix of each model from its logits over
/// `examples`, which has `classes` classes.
pub fn evaluations(
    logits: &TestLogits,
    examples: &Examples,
    classes: usize,
) -> BTreeMap<String, ModelEval> {
    let truth = true_classes(examples);
    logits
        .iter()
        .map(|(name, rows)| (name.clone(), ModelEval::from_logits(rows, &truth, classes)))
        .collect()
}

/// Index of the largest value.
pub fn argmax_row(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

/// The class of every example (0 for the unlabeled, which test splits do not have).
pub fn true_classes(examples: &Examples) -> Vec<usize> {
    examples.labels().iter().map(|l| l.unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_and_accuracies() {
        let e = ModelEval::from_predictions(&[0, 1, 1, 2, 0], &[0, 1, 0, 2, 0], 4);
        assert_eq!(e.accuracy, 0.8);
        assert_eq!(e.confusion[0], vec![2, 1, 0, 0]);
        assert_eq!(e.per_class_accuracy, vec![2.0 / 3.0, 1.0, 1.0, 0.0]);
        assert_eq!(argmax_row(&[0.1, 3.0, -1.0]), 1);
        // Class 0 occurs 3 times and is predicted twice; class 3 never occurs.
        assert_eq!(e.least_predicted(), Some((0, 2.0 / 3.0)));
    }
}
