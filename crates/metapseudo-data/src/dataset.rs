//! In-memory data sets: flat `f32` features with optional class labels.

use crate::error::{DataError, Result};

/// A list of samples, each a row of `dim` features and an optional class index.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    /// Row-major features, `len() * dim` values.
    pub features: Vec<f32>,
    /// Number of features per sample.
    pub dim: usize,
    /// Class index per sample; `None` for samples that come without a label.
    pub labels: Vec<Option<usize>>,
}

impl Samples {
    /// An empty set of `dim`-feature samples.
    pub fn new(dim: usize) -> Self {
        Self {
            features: Vec::new(),
            dim,
            labels: Vec::new(),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.dim..(i + 1) * self.dim]
    }

    /// Appends one sample.
    pub fn push(&mut self, row: &[f32], label: Option<usize>) {
        debug_assert_eq!(row.len(), self.dim);
        self.features.extend_from_slice(row);
        self.labels.push(label);
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Samples {
        let mut out = Samples::new(self.dim);
        for &i in indices {
            out.push(self.row(i), self.labels[i]);
        }
        out
    }

    /// The class index of every sample; an error if one has no label.
    pub fn labels_all(&self) -> Result<Vec<usize>> {
        self.labels
            .iter()
            .enumerate()
            .map(|(i, l)| l.ok_or_else(|| DataError::Invalid(format!("sample {i} has no label"))))
            .collect()
    }

    /// Number of samples of each of `num_classes` classes (unlabeled samples are not counted).
    pub fn class_counts(&self, num_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; num_classes];
        for c in self.labels.iter().flatten() {
            counts[*c] += 1;
        }
        counts
    }
}

/// A data set ready for training: a training pool, a fixed labeled test split and class names.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Short name, e.g. `moons` or the CSV file name.
    pub name: String,
    /// The training pool; samples may lack labels.
    pub train: Samples,
    /// The test split; every sample is labeled. It never depends on the run's seed.
    pub test: Samples,
    /// Class names, indexed by class.
    pub classes: Vec<String>,
    /// Shape of one sample's features (`[dim]` for tabular data).
    pub sample_shape: Vec<usize>,
    /// Attribution to show wherever the data is used.
    pub credit: Option<String>,
}

impl Dataset {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Number of features per sample.
    pub fn dim(&self) -> usize {
        self.train.dim
    }

    /// Checks the invariants every loader must meet.
    pub fn validate(&self) -> Result<()> {
        let c = self.num_classes();
        if c < 2 {
            return Err(DataError::Invalid(format!(
                "data set '{}' has {c} class(es); classification needs at least 2",
                self.name
            )));
        }
        if self.test.is_empty() {
            return Err(DataError::Invalid(format!(
                "data set '{}' has an empty test split",
                self.name
            )));
        }
        for (split, s) in [("train", &self.train), ("test", &self.test)] {
            if s.features.len() != s.len() * s.dim || s.dim != self.dim() {
                return Err(DataError::Invalid(format!(
                    "data set '{}': {split} features do not match its sample count",
                    self.name
                )));
            }
            if let Some(bad) = s.labels.iter().flatten().find(|&&l| l >= c) {
                return Err(DataError::Invalid(format!(
                    "data set '{}': {split} label {bad} out of range for {c} classes",
                    self.name
                )));
            }
        }
        if self.test.labels.iter().any(Option::is_none) {
            return Err(DataError::Invalid(format!(
                "data set '{}': every test sample needs a label",
                self.name
            )));
        }
        Ok(())
    }
}
